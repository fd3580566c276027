/* json_scan.h - one pass over raw JSON bytes for what cJSON lets through or would choke on.
 *
 * Runs before cJSON in the codec: finds NUL and control bytes, \u0000 escapes (cJSON decodes them to a NUL
 * that silently truncates the string), numbers outside the JSON grammar (cJSON takes 01 and 1.) and nesting
 * deeper than a bound (cJSON recurses), numbers that are not integers (cJSON reads 1e-400 as 0). Not a
 * validator: cJSON checks the grammar afterwards. */
#ifndef STOCKD_JSON_SCAN_H
#define STOCKD_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

enum json_scan_problem {
    JSON_SCAN_OK = 0,
    JSON_SCAN_NUL_BYTE,     /* a raw 0x00 byte, anywhere */
    JSON_SCAN_CONTROL_BYTE, /* a raw byte below 0x20 in a string, or outside one and not JSON whitespace */
    JSON_SCAN_NUL_ESCAPE,   /* \u0000 inside a string */
    JSON_SCAN_BAD_NUMBER,   /* a number outside the JSON grammar: 01, 1., .5 after a minus, 1e, - */
    JSON_SCAN_TOO_DEEP,     /* an object or array opened when depth_max of them are already open */
    JSON_SCAN_NOT_INTEGER,  /* a number with a fractional part (1.5, 1e-400): every number stockd reads is an
                             * integer (the JSON Schemas have no other); a schema that adds a non-integer
                             * number must move this check to its fields */
};

struct json_scan_result {
    enum json_scan_problem problem;
    size_t offset;  /* byte offset of the problem in the input */
    bool in_key;    /* the problem is inside an object key: path names the object that holds the key */
    bool cut_short; /* no problem, but the input ends inside a string or with objects or arrays open */
    /* Dotted path of the value the problem is in ("data.name", "data.ids[2]"), "" at the top level. Key
     * bytes other than printable ASCII are shown as '?'; a path longer than the buffer is cut. */
    char path[STOCKD_JSON_PATH_BYTES_MAX + 1];
};

/* Scans length bytes (no NUL terminator needed) and reports the first problem by offset. depth_max is
 * 1..STOCKD_JSON_DEPTH_MAX (asserted). Returns 0 with out->problem JSON_SCAN_OK when there is none, or -1
 * with *out describing it. Never reads past bytes[length - 1]; never allocates. */
int json_scan(const char *bytes, size_t length, int depth_max, struct json_scan_result *out);

#endif
