/* json_out.h - a small JSON writer for responses: exact integers, escaped strings, bounded size.
 *
 * cJSON's printer writes numbers through %1.15g and loses digits, so responses are written here. Commas
 * are placed automatically. Running out of memory or past the bound sets failed; the caller then answers
 * 500 and never sends the partial text. */
#ifndef STOCKD_API_JSON_OUT_H
#define STOCKD_API_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A response body is at most this large: a history page of 100 events of at most 2 KiB each, plus keys. */
#define JSON_OUT_BYTES_MAX (1024 * 1024)

struct json_out {
    char *data; /* NUL-terminated when not failed */
    size_t length;
    size_t capacity;
    bool failed;     /* out of memory or past JSON_OUT_BYTES_MAX */
    bool need_comma; /* a value was written at this level */
};

void json_out_init(struct json_out *out);
void json_out_free(struct json_out *out);

void json_object_begin(struct json_out *out);
void json_object_end(struct json_out *out);
void json_array_begin(struct json_out *out);
void json_array_end(struct json_out *out);
void json_key(struct json_out *out, const char *key);
void json_string(struct json_out *out, const char *text); /* NULL writes null */
void json_string_bytes(struct json_out *out, const char *text, size_t text_bytes);
void json_int(struct json_out *out, int64_t value);
void json_bool(struct json_out *out, bool value);
void json_null(struct json_out *out);
void json_raw(struct json_out *out, const char *json); /* a complete JSON value, written as is */

/* key + value shorthands */
void json_kv_string(struct json_out *out, const char *key, const char *text);
void json_kv_int(struct json_out *out, const char *key, int64_t value);
void json_kv_bool(struct json_out *out, const char *key, bool value);

#endif
