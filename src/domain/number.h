/* number.h - the one integer parser of stockd: decimal text and JSON number tokens.
 *
 * Text integers (flags, environment, headers, query parameters, stockctl arguments, Content-Length) are
 * written one way only: -?(0|[1-9][0-9]*), no '+', no spaces, no leading zeros. A JSON number is an integer
 * when the JSON Schemas call it one: its exact decimal value has no fractional part (1.0 and 1E2 are
 * integers, 1.5 is not, and 1e-400 is not the integer 0), decided on the digits, never on a double. */
#ifndef STOCKD_NUMBER_H
#define STOCKD_NUMBER_H

#include <stddef.h>
#include <stdint.h>

enum number_result {
    NUMBER_OK = 0,
    NUMBER_SYNTAX,      /* not an integer's text (or, for JSON, not a JSON number at all) */
    NUMBER_NOT_INTEGER, /* JSON only: a number with a fractional part */
    NUMBER_RANGE,       /* an integer outside [min, max] (JSON: outside int64) */
};

/* Parses text[0 .. length) as -?(0|[1-9][0-9]*). Returns NUMBER_OK with *out set when the value is in
 * [min, max] (min <= max, asserted); NUMBER_SYNTAX or NUMBER_RANGE otherwise, *out untouched. */
enum number_result number_integer_parse(const char *text, size_t length, int64_t min, int64_t max,
                                        int64_t *out);

/* number_integer_parse of a NUL-terminated string. */
enum number_result number_integer_parse_string(const char *text, int64_t min, int64_t max, int64_t *out);

/* Classifies the JSON number token[0 .. length). Returns NUMBER_OK with *out (may be NULL) set when its
 * exact value is an integer in int64; NUMBER_NOT_INTEGER when it has a fractional part; NUMBER_RANGE when it
 * is an integer outside int64; NUMBER_SYNTAX when it is not -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
 * Never reads past token[length - 1]; runs in time linear in length. */
enum number_result number_json_integer(const char *token, size_t length, int64_t *out);

#endif
