/* json_writer.h - writes the small JSON objects stockctl sends (request bodies) into a fixed buffer.
 *
 * Integers are written with PRId64, never through a double: no digit is ever lost (cJSON's printer uses
 * %1.15g/%1.17g). Strings are escaped (quote, backslash, control characters); other bytes pass as they are
 * and the server validates them. Only what stockctl needs: objects, string and integer members. */
#ifndef STOCKCTL_JSON_WRITER_H
#define STOCKCTL_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_WRITER_DEPTH_MAX 8

struct json_writer {
    char *buffer;    /* caller's; always NUL-terminated while not failed */
    size_t length;   /* bytes written, without the NUL */
    size_t capacity; /* size of buffer, NUL included */
    bool overflowed; /* a write did not fit: the text is unusable */
    int depth;       /* open objects */
    bool has_members[JSON_WRITER_DEPTH_MAX];
};

/* Starts writing into buffer (capacity >= 1 byte). */
void json_writer_init(struct json_writer *writer, char *buffer, size_t capacity);

/* Opens an object, as a member named key of the enclosing object, or at the top when key is NULL. */
void json_writer_object_begin(struct json_writer *writer, const char *key);
void json_writer_object_end(struct json_writer *writer);

/* Adds a member to the innermost open object. */
void json_writer_string(struct json_writer *writer, const char *key, const char *value);
void json_writer_int64(struct json_writer *writer, const char *key, int64_t value);

/* Returns 0 when the text is complete (every object closed) and fitted, -1 when it overflowed. */
int json_writer_finish(const struct json_writer *writer);

#endif
