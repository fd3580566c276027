/* codec.h - JSON encoding and strict validation of command and event envelopes (cJSON).
 *
 * The wire format is described by schema/command.schema.json and schema/event.schema.json. Decoding is
 * strict: unknown, duplicate or case-variant keys, NUL in strings, non-integral or out-of-range numbers,
 * over-long identifiers, deep nesting and trailing garbage are refused with a message naming the field.
 * No I/O: the caller brings the bytes. */
#ifndef STOCKD_CODEC_H
#define STOCKD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"

struct codec_error {
    char field[64];    /* dotted path of the offending field ("data.quantity"), "" for the whole input */
    char message[256]; /* full message for people: `data.quantity: must be an integer, got 1.5` */
};

/* Decodes a command envelope. Returns 0 and fills *out, or -1 and fills *error (out is then undefined).
 * Internal command types (ExpireReservations) are refused: they never come from outside. */
int codec_command_decode(const char *json, size_t json_bytes, struct command *out, struct codec_error *error);

/* Decodes a command envelope as POST /v1/commands takes it: like codec_command_decode, but command_id may
 * be absent (out->command_id is then ""). */
int codec_command_request_decode(const char *json, size_t json_bytes, struct command *out,
                                 struct codec_error *error);

/* Where a route body's SKU comes from. */
enum codec_body_sku {
    CODEC_BODY_SKU_NONE,     /* from the path: a "sku" key is unknown */
    CODEC_BODY_SKU_REQUIRED, /* "sku" is a member of the body */
    CODEC_BODY_SKU_OPTIONAL, /* "sku" may be a member of the body (out->sku "" when absent) */
};

/* Decodes the body of a command route (POST /v1/skus/{sku}/receipts ...): an object holding exactly the
 * data fields of type (field paths without "data."), plus "sku" by sku_rule, minus "reservation_id" when
 * it comes from the path. Fills the fields of *out it found and out->type; the caller sets command_id
 * and what comes from the path. Returns 0, or -1 with *error filled. */
int codec_command_body_decode(enum command_type type, const char *json, size_t json_bytes,
                              enum codec_body_sku sku_rule, bool reservation_id_from_path,
                              struct command *out, struct codec_error *error);

/* Encodes a command as compact JSON. Returns a malloc'd NUL-terminated string the caller frees, or NULL
 * when out of memory. The command must be valid (asserted for the type). */
char *codec_command_encode(const struct command *command);

/* Decodes an event envelope; same contract as codec_command_decode. Tries codec_event_decode_compact
 * first: what the encoder wrote is read without cJSON. */
int codec_event_decode(const char *json, size_t json_bytes, struct event *out, struct codec_error *error);

/* The fast path of codec_event_decode: decodes an event only when it is in the compact form
 * codec_event_encode writes (no whitespace, keys in table order, strings without escapes, integers as
 * plain digits) and every field passes the strict checks. Returns 0 with *out filled exactly as
 * codec_event_decode fills it, and then the input is byte for byte what codec_event_encode(out) writes;
 * or 1 for any other input, an event in an older version of its type included (*out is then undefined): only
 * the strict path refuses, and words why. Never reads past json[json_bytes - 1]; never allocates. */
int codec_event_decode_compact(const char *json, size_t json_bytes, struct event *out);

/* The version of an event type's data that codec_event_encode writes (1 for a type never changed). The
 * envelope's "version" says which version an event is in (absent: 1); the decoders read every version
 * from 1 to this one into the same struct event, fields an older version lacks left 0, and refuse a
 * newer one. docs/events.md says how a type gets a new version. */
uint32_t codec_event_version_current(enum event_type type);

/* Encodes an event as compact JSON, in the current version of its type; same contract as
 * codec_command_encode. */
char *codec_event_encode(const struct event *event);

/* The strict document checks of every decoder above, for other codecs of the domain (order_codec.c): size
 * bound, byte order mark, NUL and control bytes, \u0000, number grammar, depth, trailing characters; the
 * root must be an object. Returns the parsed root, which the caller deletes with cJSON_Delete, or NULL with
 * *error filled. */
struct cJSON;
struct cJSON *codec_document_parse(const char *json, size_t json_bytes, struct codec_error *error);

/* Identifier syntax shared by SKUs, locations, command and reservation ids: 1..max_bytes of
 * [A-Za-z0-9._:-], starting with a letter or digit. Returns true when valid. */
bool codec_identifier_valid(const char *text, size_t max_bytes);

/* Decodes the UTF-8 sequence at text[0 .. length) (length > 0). Returns its length in bytes and sets
 * *code_point, or returns 0 when it is not well-formed (overlong, surrogate, above U+10FFFF, cut short,
 * stray byte). */
size_t codec_utf8_sequence_decode(const unsigned char *text, size_t length, uint32_t *code_point);

#endif
