/* json_writer.c - writes request bodies with exact integers and escaped strings into a fixed buffer.
 *
 * Overflow is sticky: once a write does not fit, every later write is ignored and finish says so. */
#include "json_writer.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void json_writer_init(struct json_writer *writer, char *buffer, size_t capacity)
{
    assert(writer != NULL && buffer != NULL && capacity >= 1);
    memset(writer, 0, sizeof(*writer));
    writer->buffer = buffer;
    writer->capacity = capacity;
    buffer[0] = '\0';
}

static void writer_raw(struct json_writer *writer, const char *bytes, size_t length)
{
    if (writer->overflowed) return;
    if (length >= writer->capacity - writer->length) {
        writer->overflowed = true;
        return;
    }
    memcpy(writer->buffer + writer->length, bytes, length);
    writer->length += length;
    writer->buffer[writer->length] = '\0';
}

static void writer_quoted(struct json_writer *writer, const char *text)
{
    writer_raw(writer, "\"", 1);
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor != '\0'; cursor++) {
        const char *escape = NULL;
        switch (*cursor) {
        case '"':
            escape = "\\\"";
            break;
        case '\\':
            escape = "\\\\";
            break;
        case '\b':
            escape = "\\b";
            break;
        case '\f':
            escape = "\\f";
            break;
        case '\n':
            escape = "\\n";
            break;
        case '\r':
            escape = "\\r";
            break;
        case '\t':
            escape = "\\t";
            break;
        default:
            break;
        }
        if (escape != NULL) {
            writer_raw(writer, escape, strlen(escape));
        } else if (*cursor < 0x20) {
            char unicode[8];
            snprintf(unicode, sizeof(unicode), "\\u%04x", (unsigned)*cursor);
            writer_raw(writer, unicode, 6);
        } else {
            writer_raw(writer, (const char *)cursor, 1);
        }
    }
    writer_raw(writer, "\"", 1);
}

/* Writes the separator and the key of a member (key NULL: a top-level value). */
static void writer_member(struct json_writer *writer, const char *key)
{
    if (writer->depth == 0) {
        assert(key == NULL && writer->length == 0); /* one top-level value */
        return;
    }
    assert(key != NULL);
    if (writer->has_members[writer->depth - 1]) writer_raw(writer, ",", 1);
    writer->has_members[writer->depth - 1] = true;
    writer_quoted(writer, key);
    writer_raw(writer, ":", 1);
}

void json_writer_object_begin(struct json_writer *writer, const char *key)
{
    assert(writer->depth < JSON_WRITER_DEPTH_MAX);
    writer_member(writer, key);
    writer_raw(writer, "{", 1);
    writer->has_members[writer->depth++] = false;
}

void json_writer_object_end(struct json_writer *writer)
{
    assert(writer->depth > 0);
    writer->depth--;
    writer_raw(writer, "}", 1);
}

void json_writer_string(struct json_writer *writer, const char *key, const char *value)
{
    assert(value != NULL);
    writer_member(writer, key);
    writer_quoted(writer, value);
}

void json_writer_int64(struct json_writer *writer, const char *key, int64_t value)
{
    char digits[32];
    int length = snprintf(digits, sizeof(digits), "%" PRId64, value);
    assert(length > 0 && (size_t)length < sizeof(digits));
    writer_member(writer, key);
    writer_raw(writer, digits, (size_t)length);
}

int json_writer_finish(const struct json_writer *writer)
{
    assert(writer->overflowed || writer->depth == 0);
    return writer->overflowed ? -1 : 0;
}
