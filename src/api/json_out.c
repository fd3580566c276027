/* json_out.c - a small JSON writer for responses (see json_out.h). */
#include "api/json_out.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_out_init(struct json_out *out)
{
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
}

void json_out_free(struct json_out *out)
{
    if (out == NULL) return;
    free(out->data);
    memset(out, 0, sizeof(*out));
}

/* Appends bytes, growing the buffer; sets failed past the bound or out of memory. */
static void append(struct json_out *out, const char *bytes, size_t count)
{
    if (out->failed) return;
    if (out->length + count + 1 > JSON_OUT_BYTES_MAX) {
        out->failed = true;
        return;
    }
    if (out->length + count + 1 > out->capacity) {
        size_t capacity = out->capacity == 0 ? 1024 : out->capacity;
        while (capacity < out->length + count + 1)
            capacity *= 2;
        if (capacity > JSON_OUT_BYTES_MAX) capacity = JSON_OUT_BYTES_MAX;
        char *grown = realloc(out->data, capacity);
        if (grown == NULL) {
            out->failed = true;
            return;
        }
        out->data = grown;
        out->capacity = capacity;
    }
    memcpy(out->data + out->length, bytes, count);
    out->length += count;
    out->data[out->length] = '\0';
}

/* Writes the comma before a value when one came before at this level. */
static void value_start(struct json_out *out)
{
    if (out->need_comma) append(out, ",", 1);
    out->need_comma = true;
}

void json_object_begin(struct json_out *out)
{
    value_start(out);
    append(out, "{", 1);
    out->need_comma = false;
}

void json_object_end(struct json_out *out)
{
    append(out, "}", 1);
    out->need_comma = true;
}

void json_array_begin(struct json_out *out)
{
    value_start(out);
    append(out, "[", 1);
    out->need_comma = false;
}

void json_array_end(struct json_out *out)
{
    append(out, "]", 1);
    out->need_comma = true;
}

/* The length of the well-formed UTF-8 sequence at text[0] (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_sequence_length(const unsigned char *text, size_t available)
{
    unsigned char lead = text[0];
    size_t length;
    unsigned char low = 0x80, high = 0xbf; /* the range of the second byte */
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        if (lead == 0xe0) low = 0xa0;  /* overlong */
        if (lead == 0xed) high = 0x9f; /* surrogates */
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        if (lead == 0xf0) low = 0x90;  /* overlong */
        if (lead == 0xf4) high = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (available < length || text[1] < low || text[1] > high) return 0;
    for (size_t i = 2; i < length; i++) {
        if (text[i] < 0x80 || text[i] > 0xbf) return 0;
    }
    return length;
}

/* Writes text as a quoted JSON string (no comma handling). Control characters are escaped; a byte that does
 * not start a well-formed UTF-8 sequence (a value cut to a length in the middle of a character, say) becomes
 * U+FFFD, so that a body is always UTF-8 whatever the caller echoes. */
static void quoted(struct json_out *out, const char *text, size_t text_bytes)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = (const unsigned char *)text;
    append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < text_bytes;) {
        unsigned char byte = bytes[i];
        if (byte >= 0x80) {
            size_t length = utf8_sequence_length(bytes + i, text_bytes - i);
            if (length > 0) {
                i += length;
                continue;
            }
            append(out, text + run, i - run);
            append(out, "\\ufffd", 6);
            run = ++i;
            continue;
        }
        if (byte >= 0x20 && byte != '"' && byte != '\\' && byte != 0x7f) {
            i++;
            continue;
        }
        append(out, text + run, i - run);
        run = ++i;
        if (byte == '"' || byte == '\\') {
            char escaped[2] = {'\\', (char)byte};
            append(out, escaped, 2);
        } else {
            char escaped[6] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 15]};
            append(out, escaped, 6);
        }
    }
    append(out, text + run, text_bytes - run);
    append(out, "\"", 1);
}

void json_key(struct json_out *out, const char *key)
{
    assert(key != NULL);
    if (out->need_comma) append(out, ",", 1);
    quoted(out, key, strlen(key));
    append(out, ":", 1);
    out->need_comma = false;
}

void json_string(struct json_out *out, const char *text)
{
    if (text == NULL) {
        json_null(out);
        return;
    }
    json_string_bytes(out, text, strlen(text));
}

void json_string_bytes(struct json_out *out, const char *text, size_t text_bytes)
{
    value_start(out);
    quoted(out, text, text_bytes);
}

void json_int(struct json_out *out, int64_t value)
{
    char digits[24];
    int length = snprintf(digits, sizeof(digits), "%" PRId64, value);
    value_start(out);
    append(out, digits, (size_t)length);
}

void json_bool(struct json_out *out, bool value)
{
    value_start(out);
    append(out, value ? "true" : "false", value ? 4 : 5);
}

void json_null(struct json_out *out)
{
    value_start(out);
    append(out, "null", 4);
}

void json_raw(struct json_out *out, const char *json)
{
    assert(json != NULL);
    value_start(out);
    append(out, json, strlen(json));
}

void json_kv_string(struct json_out *out, const char *key, const char *text)
{
    json_key(out, key);
    json_string(out, text);
}

void json_kv_int(struct json_out *out, const char *key, int64_t value)
{
    json_key(out, key);
    json_int(out, value);
}

void json_kv_bool(struct json_out *out, const char *key, bool value)
{
    json_key(out, key);
    json_bool(out, value);
}
