/* test_codec.c - the JSON codecs and the raw-byte pre-scanner: round trips of every command and event type,
 * exact encoded bytes, and every hostile input by name (duplicate and case-variant keys, NUL escapes, raw
 * NUL, invalid UTF-8, bad integers, over-long identifiers, deep nesting, trailing garbage, ...), each
 * checking the field and the message of the error. Inputs are copied to heap buffers of their exact
 * length, without a NUL, so that ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/codec.h"
#include "domain/json_scan.h"
#include "domain/order.h"

/* A command envelope around a data object, as a string literal. */
#define COMMAND(type, data)                                                                                  \
    "{\"command_id\":\"c-1\",\"type\":\"" type "\",\"sku\":\"SKU-1\",\"data\":" data "}"
/* An event envelope around a data object, as a string literal. */
#define EVENT(type, data)                                                                                    \
    "{\"type\":\"" type                                                                                      \
    "\",\"sku\":\"SKU-1\",\"sequence\":1,\"command_id\":\"c-1\",\"time_ms\":0,\"data\":" data "}"

#define QUANTITY_RANGE "must be an integer in [1, 1000000000], got "

static char scratch[2 * STOCKD_MESSAGE_BYTES_MAX];

/* ---- helpers ----------------------------------------------------------------------------------------- */

/* Decodes from a heap copy of exactly length bytes, no NUL after them. */
static int command_decode_exact(const char *json, size_t length, struct command *out,
                                struct codec_error *error)
{
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, json, length);
    int result = codec_command_decode(copy, length, out, error);
    free(copy);
    return result;
}

/* Decodes from a heap copy of exactly length bytes, no NUL after them. */
static int event_decode_exact(const char *json, size_t length, struct event *out, struct codec_error *error)
{
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, json, length);
    int result = codec_event_decode(copy, length, out, error);
    free(copy);
    return result;
}

/* Decoding must fail with exactly this field and message. */
static void command_refused(const char *json, size_t length, const char *field, const char *message)
{
    struct command command;
    struct codec_error error;
    assert_int_equal(command_decode_exact(json, length, &command, &error), -1);
    assert_string_equal(error.field, field);
    assert_string_equal(error.message, message);
}

/* Decoding must succeed; the failure message shows the error and the input. */
static void command_accepted(const char *json, size_t length, struct command *out)
{
    struct codec_error error = {{0}, {0}};
    int result = command_decode_exact(json, length, out, &error);
    if (result != 0)
        fail_msg("refused: %s\n  input: %.*s", error.message, (int)(length < 300 ? length : 300), json);
}

/* Decoding must fail with exactly this field and message. */
static void event_refused(const char *json, size_t length, const char *field, const char *message)
{
    struct event event;
    struct codec_error error;
    assert_int_equal(event_decode_exact(json, length, &event, &error), -1);
    assert_string_equal(error.field, field);
    assert_string_equal(error.message, message);
}

/* Decoding must succeed; the failure message shows the error and the input. */
static void event_accepted(const char *json, size_t length, struct event *out)
{
    struct codec_error error = {{0}, {0}};
    int result = event_decode_exact(json, length, out, &error);
    if (result != 0)
        fail_msg("refused: %s\n  input: %.*s", error.message, (int)(length < 300 ? length : 300), json);
}

#define COMMAND_REFUSED(literal, field, message) command_refused(literal, sizeof(literal) - 1, field, message)
#define COMMAND_ACCEPTED(literal, out)           command_accepted(literal, sizeof(literal) - 1, out)
#define EVENT_REFUSED(literal, field, message)   event_refused(literal, sizeof(literal) - 1, field, message)
#define EVENT_ACCEPTED(literal, out)             event_accepted(literal, sizeof(literal) - 1, out)

/* command_refused() for a NUL-terminated input. */
static void text_refused_as_command(const char *json, const char *field, const char *message)
{
    command_refused(json, strlen(json), field, message);
}

/* command_accepted() for a NUL-terminated input. */
static void text_accepted_as_command(const char *json, struct command *out)
{
    command_accepted(json, strlen(json), out);
}

/* A string of length copies of c. */
static const char *repeat(char *out, char c, size_t length)
{
    memset(out, c, length);
    out[length] = '\0';
    return out;
}

/* Every field of the two commands is equal. */
static void command_equal(const struct command *a, const struct command *b)
{
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->command_id, b->command_id);
    assert_string_equal(a->sku, b->sku);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->reorder_point, b->reorder_point);
    assert_int_equal(a->lead_time_days, b->lead_time_days);
    assert_string_equal(a->location, b->location);
    assert_string_equal(a->to_location, b->to_location);
    assert_int_equal(a->quantity, b->quantity);
    assert_int_equal(a->counted_set, b->counted_set);
    assert_int_equal(a->delta, b->delta);
    assert_int_equal(a->counted, b->counted);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->reservation_id, b->reservation_id);
    assert_int_equal(a->ttl_s, b->ttl_s);
    assert_int_equal(a->expire_count, b->expire_count);
}

/* Every field of the two events is equal. */
static void event_equal(const struct event *a, const struct event *b)
{
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->sku, b->sku);
    assert_int_equal(a->sequence, b->sequence);
    assert_string_equal(a->command_id, b->command_id);
    assert_int_equal(a->time_ms, b->time_ms);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->reorder_point, b->reorder_point);
    assert_int_equal(a->lead_time_days, b->lead_time_days);
    assert_string_equal(a->location, b->location);
    assert_string_equal(a->to_location, b->to_location);
    assert_int_equal(a->quantity, b->quantity);
    assert_int_equal(a->delta, b->delta);
    assert_int_equal(a->counted_set, b->counted_set);
    assert_int_equal(a->counted, b->counted);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->reservation_id, b->reservation_id);
    assert_int_equal(a->expires_at_ms, b->expires_at_ms);
    assert_int_equal(a->rejected_type, b->rejected_type);
    assert_int_equal(a->reject_reason, b->reject_reason);
    assert_string_equal(a->detail, b->detail);
}

/* Encodes, decodes, compares field by field, and checks that encoding is deterministic. */
static void command_round_trip(const struct command *command)
{
    char *encoded = codec_command_encode(command);
    assert_non_null(encoded);
    struct command decoded;
    command_accepted(encoded, strlen(encoded), &decoded);
    command_equal(&decoded, command);
    char *again = codec_command_encode(&decoded);
    assert_string_equal(again, encoded);
    free(again);
    free(encoded);
}

/* Encodes, decodes, compares field by field, and checks that encoding is deterministic. */
static void event_round_trip(const struct event *event)
{
    char *encoded = codec_event_encode(event);
    assert_non_null(encoded);
    struct event decoded;
    event_accepted(encoded, strlen(encoded), &decoded);
    event_equal(&decoded, event);
    char *again = codec_event_encode(&decoded);
    assert_string_equal(again, encoded);
    free(again);
    free(encoded);
}

/* A zeroed command of the type with id c-1 for SKU-1. */
static struct command command_make(enum command_type type)
{
    struct command command;
    memset(&command, 0, sizeof(command));
    command.type = type;
    strcpy(command.command_id, "c-1");
    strcpy(command.sku, "SKU-1");
    return command;
}

/* A zeroed event of the type: SKU-1, sequence 7, c-1, a fixed time. */
static struct event event_make(enum event_type type)
{
    struct event event;
    memset(&event, 0, sizeof(event));
    event.type = type;
    strcpy(event.sku, "SKU-1");
    event.sequence = 7;
    strcpy(event.command_id, "c-1");
    event.time_ms = INT64_C(1764000000000);
    return event;
}

/* Encoding gives exactly these bytes. */
static void command_encoded_as(const struct command *command, const char *expected)
{
    char *encoded = codec_command_encode(command);
    assert_non_null(encoded);
    assert_string_equal(encoded, expected);
    free(encoded);
}

/* Encoding gives exactly these bytes. */
static void event_encoded_as(const struct event *event, const char *expected)
{
    char *encoded = codec_event_encode(event);
    assert_non_null(encoded);
    assert_string_equal(encoded, expected);
    free(encoded);
}

/* json_scan finds this problem (or none) at this offset and path. */
static void scan_expect(const char *json, size_t length, enum json_scan_problem problem, size_t offset,
                        const char *path, bool in_key)
{
    struct json_scan_result result;
    assert_int_equal(json_scan(json, length, STOCKD_JSON_DEPTH_MAX, &result),
                     problem == JSON_SCAN_OK ? 0 : -1);
    assert_int_equal(result.problem, problem);
    if (problem == JSON_SCAN_OK) return;
    assert_int_equal(result.offset, offset);
    assert_string_equal(result.path, path);
    assert_int_equal(result.in_key, in_key);
}

#define SCAN_EXPECT(literal, problem, offset, path, in_key)                                                  \
    scan_expect(literal, sizeof(literal) - 1, problem, offset, path, in_key)

/* ---- json_scan --------------------------------------------------------------------------------------- */

static void test_json_scan_clean_document_has_no_problem(void **state)
{
    (void)state;
    SCAN_EXPECT(COMMAND("ReceiveStock", "{\"location\":\"W\",\"quantity\":-0.5e+3}"), JSON_SCAN_OK, 0, "",
                false);
    SCAN_EXPECT("{\"a\":[1,2,{\"b\":\"x\\\"y\\\\\"}],\"c\":true,\"d\":null}", JSON_SCAN_OK, 0, "", false);
    SCAN_EXPECT("", JSON_SCAN_OK, 0, "", false);
}

static void test_json_scan_raw_nul_byte_reported_with_offset(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"a\":\"x\0y\"}", JSON_SCAN_NUL_BYTE, 7, "a", false);
    SCAN_EXPECT("{\"a\":1}\0", JSON_SCAN_NUL_BYTE, 7, "", false);
    SCAN_EXPECT("\0", JSON_SCAN_NUL_BYTE, 0, "", false);
    SCAN_EXPECT("{\"a\":\"\\\0\"}", JSON_SCAN_NUL_BYTE, 7, "a", false); /* a backslash does not hide it */
}

static void test_json_scan_nul_escape_reported_with_dotted_path(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"data\":{\"name\":\"ab\\u0000\"}}", JSON_SCAN_NUL_ESCAPE, 19, "data.name", false);
    SCAN_EXPECT("{\"data\":{\"ids\":[\"a\",\"b\\u0000\"]}}", JSON_SCAN_NUL_ESCAPE, 22, "data.ids[1]", false);
    SCAN_EXPECT("{\"data\":{\"na\\u0000me\":1}}", JSON_SCAN_NUL_ESCAPE, 12, "data", true);
    SCAN_EXPECT("{\"a\":{\"b\":1},\"c\":\"\\u0000\"}", JSON_SCAN_NUL_ESCAPE, 18, "c", false);
    SCAN_EXPECT("\"\\u0000\"", JSON_SCAN_NUL_ESCAPE, 1, "", false);
}

static void test_json_scan_escaped_backslash_before_u0000_is_not_nul(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"a\":\"\\\\u0000\"}", JSON_SCAN_OK, 0, "", false);
    SCAN_EXPECT("{\"a\":\"\\u0001\\u00000\"}", JSON_SCAN_NUL_ESCAPE, 12, "a", false);
    SCAN_EXPECT("{\"a\":\"\\u000", JSON_SCAN_OK, 0, "", false); /* cut short: cJSON reports it */
    struct json_scan_result result;
    assert_int_equal(json_scan("{\"a\":\"\\u000", 11, STOCKD_JSON_DEPTH_MAX, &result), 0);
    assert_true(result.cut_short);
}

static void test_json_scan_depth_at_limit_passes_one_more_refused(void **state)
{
    (void)state;
    SCAN_EXPECT("[[[[[[[[]]]]]]]]", JSON_SCAN_OK, 0, "", false);
    SCAN_EXPECT("[[[[[[[[[]]]]]]]]]", JSON_SCAN_TOO_DEEP, 8, "[0][0][0][0][0][0][0][0]", false);
    SCAN_EXPECT("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}", JSON_SCAN_TOO_DEEP, 40,
                "a.b.c.d.e.f.g.h", false);
    /* Closing brackets free the levels again. */
    SCAN_EXPECT("[[[[[[[[]]]]]]]],[[[[[[[[]]]]]]]]", JSON_SCAN_OK, 0, "", false);
}

static void test_json_scan_brackets_inside_strings_do_not_count(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"a\":\"[[[[[[[[[[[[{{{{{{{{{{\"}", JSON_SCAN_OK, 0, "", false);
    SCAN_EXPECT("{\"a\":\"\\\"[[[[[[[[[[\"}", JSON_SCAN_OK, 0, "", false);
}

static void test_json_scan_control_bytes_inside_and_outside_strings(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"a\":\"x\ny\"}", JSON_SCAN_CONTROL_BYTE, 7, "a", false);
    SCAN_EXPECT("{\x01\"a\":1}", JSON_SCAN_CONTROL_BYTE, 1, "", false);
    SCAN_EXPECT("{\"a\x1f\":1}", JSON_SCAN_CONTROL_BYTE, 3, "", true);
    SCAN_EXPECT("{\"a\" :\t1,\r\n\"b\": 2 }", JSON_SCAN_OK, 0, "", false);
}

static void test_json_scan_malformed_numbers_refused(void **state)
{
    (void)state;
    SCAN_EXPECT("{\"a\":01}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":1.}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":-}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":1e}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":-01}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":1.5.5}", JSON_SCAN_BAD_NUMBER, 5, "a", false);
    SCAN_EXPECT("{\"a\":[0,-0,1.0,1e9,1E+2,2.5e3]}", JSON_SCAN_OK, 0, "", false);
    /* Not malformed, but not integers, and every number stockd reads is one. */
    SCAN_EXPECT("{\"a\":[0,1.25]}", JSON_SCAN_NOT_INTEGER, 8, "a[1]", false);
    SCAN_EXPECT("{\"a\":2.5e-3}", JSON_SCAN_NOT_INTEGER, 5, "a", false);
}

static void test_json_scan_long_key_path_is_cut_not_overflowed(void **state)
{
    (void)state;
    char key[200];
    int length = snprintf(scratch, sizeof(scratch), "{\"%s\":\"\\u0000\"}", repeat(key, 'k', 150));
    struct json_scan_result result;
    assert_int_equal(json_scan(scratch, (size_t)length, STOCKD_JSON_DEPTH_MAX, &result), -1);
    assert_int_equal(result.problem, JSON_SCAN_NUL_ESCAPE);
    assert_int_equal(strlen(result.path), STOCKD_JSON_PATH_BYTES_MAX);
    assert_int_equal(strspn(result.path, "k"), STOCKD_JSON_PATH_BYTES_MAX);
}

/* ---- identifiers ------------------------------------------------------------------------------------- */

static void test_identifier_valid_syntax_and_length(void **state)
{
    (void)state;
    char text[STOCKD_ID_BYTES_MAX + 2];
    assert_true(codec_identifier_valid("a", 64));
    assert_true(codec_identifier_valid("9z.A_b:c-d", 64));
    assert_false(codec_identifier_valid("", 64));
    assert_false(codec_identifier_valid("-a", 64));
    assert_false(codec_identifier_valid(".a", 64));
    assert_false(codec_identifier_valid("a b", 64));
    assert_false(codec_identifier_valid("a/b", 64));
    assert_false(codec_identifier_valid("caf\xC3\xA9", 64));
    assert_true(codec_identifier_valid(repeat(text, 'x', 64), 64));
    assert_false(codec_identifier_valid(repeat(text, 'x', 65), 64));
    assert_true(codec_identifier_valid(repeat(text, 'x', STOCKD_ID_BYTES_MAX), STOCKD_ID_BYTES_MAX));
}

/* ---- commands: round trips and bytes ----------------------------------------------------------------- */

static void test_command_round_trip_every_type(void **state)
{
    (void)state;
    struct command command = command_make(COMMAND_CREATE_SKU);
    strcpy(command.name, "Blue mug \"large\" \\ 1/2 caf\xC3\xA9 \xF0\x9F\x98\x80");
    command.reorder_point = STOCKD_REORDER_POINT_MAX;
    command_round_trip(&command);

    command = command_make(COMMAND_RECEIVE_STOCK);
    strcpy(command.location, "WH-1:A.01_b");
    command.quantity = STOCKD_QUANTITY_MAX;
    command_round_trip(&command);

    command = command_make(COMMAND_ADJUST_STOCK);
    strcpy(command.location, "WH-1");
    strcpy(command.reason, "damaged in transit");
    command.delta = -STOCKD_QUANTITY_MAX;
    command_round_trip(&command);
    command.delta = 0;
    command.counted_set = true;
    command.counted = 0;
    command_round_trip(&command);
    command.counted = STOCKD_ON_HAND_MAX;
    command_round_trip(&command);

    command = command_make(COMMAND_RESERVE_STOCK);
    strcpy(command.reservation_id, "r-1");
    strcpy(command.location, "WH-1");
    command.quantity = 1;
    command_round_trip(&command);
    command.ttl_s = STOCKD_RESERVATION_TTL_S_MAX;
    command_round_trip(&command);

    command = command_make(COMMAND_RELEASE_RESERVATION);
    strcpy(command.reservation_id, "r-1");
    command_round_trip(&command);
    command.type = COMMAND_FULFIL_RESERVATION;
    command_round_trip(&command);

    command = command_make(COMMAND_TRANSFER_STOCK);
    strcpy(command.location, "WH-1");
    strcpy(command.to_location, "WH-2");
    command.quantity = 4;
    command_round_trip(&command);
}

static void test_command_encode_golden_bytes(void **state)
{
    (void)state;
    struct command command = command_make(COMMAND_CREATE_SKU);
    strcpy(command.name, "Blue mug");
    command.reorder_point = 5;
    command_encoded_as(&command, COMMAND("CreateSku", "{\"name\":\"Blue mug\",\"reorder_point\":5}"));

    command = command_make(COMMAND_ADJUST_STOCK);
    strcpy(command.location, "WH-1");
    strcpy(command.reason, "cycle count");
    command.counted_set = true;
    command_encoded_as(
        &command, COMMAND("AdjustStock", "{\"location\":\"WH-1\",\"reason\":\"cycle count\",\"counted\":0}"));
    command.counted_set = false;
    command.delta = -3;
    command_encoded_as(
        &command, COMMAND("AdjustStock", "{\"location\":\"WH-1\",\"reason\":\"cycle count\",\"delta\":-3}"));

    command = command_make(COMMAND_RESERVE_STOCK);
    strcpy(command.reservation_id, "r-1");
    strcpy(command.location, "WH-1");
    command.quantity = 2;
    command_encoded_as(
        &command,
        COMMAND("ReserveStock", "{\"reservation_id\":\"r-1\",\"location\":\"WH-1\",\"quantity\":2}"));
    command.ttl_s = 900;
    command_encoded_as(&command, COMMAND("ReserveStock", "{\"reservation_id\":\"r-1\",\"location\":\"WH-1\","
                                                         "\"quantity\":2,\"ttl_seconds\":900}"));

    command = command_make(COMMAND_TRANSFER_STOCK);
    strcpy(command.location, "WH-1");
    strcpy(command.to_location, "WH-2");
    command.quantity = 4;
    command_encoded_as(&command,
                       COMMAND("TransferStock", "{\"from_location\":\"WH-1\",\"to_location\":\"WH-2\","
                                                "\"quantity\":4}"));

    command = command_make(COMMAND_FULFIL_RESERVATION);
    strcpy(command.reservation_id, "r-9");
    strcpy(command.name, "not encoded: FulfilReservation has no name");
    command_encoded_as(&command, COMMAND("FulfilReservation", "{\"reservation_id\":\"r-9\"}"));
}

static void test_command_encode_escapes_text(void **state)
{
    (void)state;
    struct command command = command_make(COMMAND_CREATE_SKU);
    strcpy(command.name, "a\"b\\c/d\xC3\xA9");
    command_encoded_as(&command,
                       COMMAND("CreateSku", "{\"name\":\"a\\\"b\\\\c/d\xC3\xA9\",\"reorder_point\":0}"));
    command_round_trip(&command);
}

static void test_command_encode_expire_reservations_for_logs_decode_refuses(void **state)
{
    (void)state;
    struct command command = command_make(COMMAND_EXPIRE_RESERVATIONS);
    command.expire_count = 2;
    strcpy(command.expire_ids[0], "r-1");
    strcpy(command.expire_ids[1], "r-2");
    const char *expected = COMMAND("ExpireReservations", "{\"reservation_ids\":[\"r-1\",\"r-2\"]}");
    command_encoded_as(&command, expected);
    text_refused_as_command(expected, "type", "type: ExpireReservations is internal");
}

static void test_command_decode_defaults_when_optional_absent(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(COMMAND("CreateSku", "{\"name\":\"Mug\"}"), &command);
    assert_int_equal(command.type, COMMAND_CREATE_SKU);
    assert_string_equal(command.command_id, "c-1");
    assert_string_equal(command.sku, "SKU-1");
    assert_string_equal(command.name, "Mug");
    assert_int_equal(command.reorder_point, 0);
    COMMAND_ACCEPTED(COMMAND("ReserveStock", "{\"reservation_id\":\"r\",\"location\":\"W\",\"quantity\":3}"),
                     &command);
    assert_int_equal(command.ttl_s, 0);
    assert_int_equal(command.quantity, 3);
    /* Key order on input is free. */
    COMMAND_ACCEPTED("{\"data\":{\"quantity\":1,\"location\":\"W\"},\"sku\":\"S\",\"type\":\"ReceiveStock\","
                     "\"command_id\":\"c\"}",
                     &command);
    assert_string_equal(command.location, "W");
}

/* ---- commands: envelope and keys --------------------------------------------------------------------- */

static void test_command_decode_unknown_type_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("Frobnicate", "{}"), "type", "type: unknown command type \"Frobnicate\"");
    COMMAND_REFUSED(COMMAND("createsku", "{\"name\":\"x\"}"), "type",
                    "type: unknown command type \"createsku\"");
    COMMAND_REFUSED(COMMAND("SkuCreated", "{}"), "type", "type: unknown command type \"SkuCreated\"");
}

static void test_command_decode_internal_type_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ExpireReservations", "{\"reservation_ids\":[\"r-1\"]}"), "type",
                    "type: ExpireReservations is internal");
}

static void test_command_decode_missing_envelope_field_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("{\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"x\"}}", "command_id",
                    "command_id: missing");
    COMMAND_REFUSED("{\"command_id\":\"c\",\"sku\":\"S\",\"data\":{\"name\":\"x\"}}", "type",
                    "type: missing");
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"data\":{\"name\":\"x\"}}", "sku",
                    "sku: missing");
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\"}", "data", "data: missing");
}

static void test_command_decode_missing_data_field_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\"}"), "data.quantity",
                    "data.quantity: missing");
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"quantity\":1}"), "data.location", "data.location: missing");
    COMMAND_REFUSED(COMMAND("CreateSku", "{}"), "data.name", "data.name: missing");
    COMMAND_REFUSED(COMMAND("TransferStock", "{\"from_location\":\"A\",\"quantity\":1}"), "data.to_location",
                    "data.to_location: missing");
}

static void test_command_decode_unknown_envelope_key_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"x\"},"
                    "\"extra\":1}",
                    "", "unknown key \"extra\"");
}

static void test_command_decode_unknown_data_key_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\",\"quantity\":1,\"name\":\"x\"}"), "data",
                    "data: unknown key \"name\"");
    COMMAND_REFUSED(COMMAND("TransferStock", "{\"location\":\"A\",\"to_location\":\"B\",\"quantity\":1}"),
                    "data", "data: unknown key \"location\"");
}

static void test_command_decode_case_variant_key_is_unknown(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\",\"Quantity\":1}"), "data",
                    "data: unknown key \"Quantity\"");
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"SKU\":\"S\",\"data\":{\"name\":\"x\"}}",
                    "", "unknown key \"SKU\"");
}

static void test_command_decode_duplicate_key_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\",\"quantity\":1,\"quantity\":1000}"),
                    "data.quantity", "data.quantity: duplicate key");
    COMMAND_REFUSED(
        "{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"sku\":\"T\",\"data\":{\"name\":"
        "\"x\"}}",
        "sku", "sku: duplicate key");
    /* A duplicate envelope type must not let a second, unchecked type through. */
    COMMAND_REFUSED(
        "{\"command_id\":\"c\",\"type\":\"CreateSku\",\"type\":\"ExpireReservations\",\"sku\":\"S\","
        "\"data\":{\"name\":\"x\"}}",
        "type", "type: duplicate key");
}

static void test_command_decode_duplicate_key_differing_in_case_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\",\"quantity\":1,\"Quantity\":2}"),
                    "data.Quantity", "data.Quantity: duplicate key (differs from \"quantity\" only in case)");
    COMMAND_REFUSED(COMMAND("ReceiveStock", "{\"location\":\"W\",\"QUANTITY\":2,\"quantity\":1}"),
                    "data.quantity", "data.quantity: duplicate key (differs from \"QUANTITY\" only in case)");
}

static void test_command_decode_type_not_string_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":5,\"sku\":\"S\",\"data\":{}}", "type",
                    "type: must be a string, got 5");
    COMMAND_REFUSED("{\"command_id\":7,\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"x\"}}",
                    "command_id", "command_id: must be a string, got 7");
}

static void test_command_decode_data_not_object_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "[]"), "data", "data: must be an object, got an array");
    COMMAND_REFUSED(COMMAND("CreateSku", "null"), "data", "data: must be an object, got null");
    COMMAND_REFUSED(COMMAND("CreateSku", "\"name\""), "data", "data: must be an object, got \"name\"");
}

/* ---- commands: integers ------------------------------------------------------------------------------ */

#define RECEIVE(quantity) COMMAND("ReceiveStock", "{\"location\":\"W\",\"quantity\":" quantity "}")

static void test_command_decode_quantity_as_string_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("\"5\""), "data.quantity", "data.quantity: " QUANTITY_RANGE "\"5\"");
}

static void test_command_decode_quantity_fraction_refused(void **state)
{
    (void)state;
    /* Refused before cJSON reads it as a double (which would make 1e-400 the integer 0). */
    COMMAND_REFUSED(RECEIVE("1.5"), "data.quantity", "data.quantity: must be an integer, got 1.5");
    COMMAND_REFUSED(RECEIVE("0.1"), "data.quantity", "data.quantity: must be an integer, got 0.1");
    COMMAND_REFUSED(RECEIVE("1e-400"), "data.quantity", "data.quantity: must be an integer, got 1e-400");
}

static void test_command_decode_quantity_overflowing_double_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("1e309"), "data.quantity",
                    "data.quantity: " QUANTITY_RANGE "a number beyond the range of a double");
    COMMAND_REFUSED(RECEIVE("-1e309"), "data.quantity",
                    "data.quantity: " QUANTITY_RANGE "a number beyond the range of a double");
}

static void test_command_decode_quantity_negative_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("-1"), "data.quantity", "data.quantity: " QUANTITY_RANGE "-1");
}

static void test_command_decode_quantity_zero_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("0"), "data.quantity", "data.quantity: " QUANTITY_RANGE "0");
    COMMAND_REFUSED(RECEIVE("-0"), "data.quantity", "data.quantity: " QUANTITY_RANGE "-0");
}

static void test_command_decode_quantity_above_max_refused(void **state)
{
    (void)state;
    struct command command;
    COMMAND_REFUSED(RECEIVE("2147483648"), "data.quantity", "data.quantity: " QUANTITY_RANGE "2147483648");
    COMMAND_REFUSED(RECEIVE("1000000001"), "data.quantity", "data.quantity: " QUANTITY_RANGE "1000000001");
    COMMAND_REFUSED(RECEIVE("18446744073709551616"), "data.quantity",
                    "data.quantity: " QUANTITY_RANGE "an integer of magnitude beyond 2^53 - 1");
    /* The double of 9007199254740993 is ...992: a message must not echo a number the client never sent. */
    COMMAND_REFUSED(RECEIVE("9007199254740993"), "data.quantity",
                    "data.quantity: " QUANTITY_RANGE "an integer of magnitude beyond 2^53 - 1");
    COMMAND_ACCEPTED(RECEIVE("1000000000"), &command);
    assert_int_equal(command.quantity, STOCKD_QUANTITY_MAX);
}

static void test_command_decode_quantity_true_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("true"), "data.quantity", "data.quantity: " QUANTITY_RANGE "true");
    COMMAND_REFUSED(RECEIVE("false"), "data.quantity", "data.quantity: " QUANTITY_RANGE "false");
}

static void test_command_decode_quantity_null_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("null"), "data.quantity", "data.quantity: " QUANTITY_RANGE "null");
    COMMAND_REFUSED(RECEIVE("[1]"), "data.quantity", "data.quantity: " QUANTITY_RANGE "an array");
    COMMAND_REFUSED(RECEIVE("{}"), "data.quantity", "data.quantity: " QUANTITY_RANGE "an object");
}

/* JSON Schema counts 1.0 and 1e3 as integers too: the codec agrees, so the two never disagree. */
static void test_command_decode_quantity_integral_forms_accepted(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(RECEIVE("1e3"), &command);
    assert_int_equal(command.quantity, 1000);
    COMMAND_ACCEPTED(RECEIVE("7.0"), &command);
    assert_int_equal(command.quantity, 7);
    COMMAND_ACCEPTED(RECEIVE("1E+9"), &command);
    assert_int_equal(command.quantity, STOCKD_QUANTITY_MAX);
}

static void test_command_decode_malformed_number_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(RECEIVE("01"), "data.quantity", "data.quantity: malformed number at byte 90");
    COMMAND_REFUSED(RECEIVE("5."), "data.quantity", "data.quantity: malformed number at byte 90");
    COMMAND_REFUSED(RECEIVE("-Infinity"), "data.quantity", "data.quantity: malformed number at byte 90");
    COMMAND_REFUSED(RECEIVE("NaN"), "", "not valid JSON at byte 90");
    COMMAND_REFUSED(RECEIVE("0x10"), "", "not valid JSON at byte 91");
}

static void test_command_decode_adjust_needs_exactly_one_of_delta_and_counted(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"delta\":1,\"counted\":5}"),
                    "data", "data: needs exactly one of delta and counted, got both");
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\"}"), "data",
                    "data: needs exactly one of delta and counted, got neither");
}

static void test_command_decode_adjust_delta_zero_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"delta\":0}"), "data.delta",
                    "data.delta: must be a non-zero integer in [-1000000000, 1000000000], got 0");
}

static void test_command_decode_adjust_bounds(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"delta\":-1000000000}"),
                     &command);
    assert_int_equal(command.delta, -STOCKD_QUANTITY_MAX);
    assert_false(command.counted_set);
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"delta\":-1000000001}"),
                    "data.delta",
                    "data.delta: must be a non-zero integer in [-1000000000, 1000000000], got -1000000001");
    COMMAND_ACCEPTED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"counted\":0}"), &command);
    assert_true(command.counted_set);
    assert_int_equal(command.counted, 0);
    COMMAND_ACCEPTED(
        COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"counted\":1000000000000000}"),
        &command);
    assert_int_equal(command.counted, STOCKD_ON_HAND_MAX);
    COMMAND_REFUSED(
        COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"r\",\"counted\":1000000000000001}"),
        "data.counted", "data.counted: must be an integer in [0, 1000000000000000], got 1000000000000001");
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"\",\"counted\":1}"),
                    "data.reason", "data.reason: must not be empty");
}

static void test_command_decode_reserve_ttl_bounds(void **state)
{
    (void)state;
    struct command command;
#define RESERVE(ttl)                                                                                         \
    COMMAND("ReserveStock",                                                                                  \
            "{\"reservation_id\":\"r\",\"location\":\"W\",\"quantity\":1,\"ttl_seconds\":" ttl "}")
    COMMAND_REFUSED(RESERVE("0"), "data.ttl_seconds",
                    "data.ttl_seconds: must be an integer in [1, 2592000], got 0");
    COMMAND_ACCEPTED(RESERVE("2592000"), &command);
    assert_int_equal(command.ttl_s, STOCKD_RESERVATION_TTL_S_MAX);
    COMMAND_REFUSED(RESERVE("2592001"), "data.ttl_seconds",
                    "data.ttl_seconds: must be an integer in [1, 2592000], got 2592001");
#undef RESERVE
}

static void test_command_decode_reorder_point_bounds(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(COMMAND("CreateSku", "{\"name\":\"x\",\"reorder_point\":1000000000000000}"), &command);
    assert_int_equal(command.reorder_point, STOCKD_REORDER_POINT_MAX);
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"x\",\"reorder_point\":-1}"), "data.reorder_point",
                    "data.reorder_point: must be an integer in [0, 1000000000000000], got -1");
}

static void test_command_decode_transfer_maps_from_location(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(
        COMMAND("TransferStock", "{\"from_location\":\"A\",\"to_location\":\"B\",\"quantity\":3}"), &command);
    assert_string_equal(command.location, "A");
    assert_string_equal(command.to_location, "B");
    assert_int_equal(command.quantity, 3);
}

/* ---- commands: strings ------------------------------------------------------------------------------- */

static void test_command_decode_nul_escape_in_name_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"Mug\\u0000 evil\"}"), "data.name",
                    "data.name: contains NUL (\\u0000)");
    COMMAND_REFUSED(
        "{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\\u0000X\",\"data\":{\"name\":\"x\"}}",
        "sku", "sku: contains NUL (\\u0000)");
}

static void test_command_decode_nul_escape_in_key_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\\u0000x\":\"Mug\"}"), "data",
                    "data: a key contains NUL (\\u0000)");
}

static void test_command_decode_raw_nul_byte_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"Mug\0evil\"}"), "data.name",
                    "data.name: contains a raw NUL byte at byte 72");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"Mug\"}") "\0", "",
                    "contains a raw NUL byte at byte 75");
}

static void test_command_decode_invalid_utf8_in_name_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"a\xC0\xAF\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 1"); /* overlong '/' */
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\x80\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 0"); /* stray continuation byte */
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"ab\xE2\x82\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 2"); /* cut short */
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\xED\xA0\x80\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 0"); /* UTF-16 surrogate */
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\xF4\x90\x80\x80\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 0"); /* above U+10FFFF */
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\xFF\"}"), "data.name",
                    "data.name: not valid UTF-8 at byte 0");
    COMMAND_REFUSED(COMMAND("AdjustStock", "{\"location\":\"W\",\"reason\":\"x\xC3\",\"delta\":1}"),
                    "data.reason", "data.reason: not valid UTF-8 at byte 1");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\\ud800\"}"), "", "not valid JSON at byte 69");
}

static void test_command_decode_control_character_in_name_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"a\\nb\"}"), "data.name",
                    "data.name: contains control character U+000A at byte 1");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\\u007f\"}"), "data.name",
                    "data.name: contains control character U+007F at byte 0");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"ab\xC2\x85\"}"), "data.name",
                    "data.name: contains control character U+0085 at byte 2");
}

static void test_command_decode_raw_control_byte_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"a\tb\"}"), "data.name",
                    "data.name: contains a raw control character at byte 70 (escape it)");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\x0b\"name\":\"ab\"}"), "data",
                    "data: contains a raw control character at byte 61 (escape it)");
}

static void test_command_decode_name_at_max_bytes_accepted_one_more_refused(void **state)
{
    (void)state;
    struct command command;
    char name[STOCKD_NAME_BYTES_MAX + 8];
    /* 85 three-byte euro signs and one 'x': 256 bytes, 86 characters. */
    size_t length = 0;
    for (int i = 0; i < 85; i++, length += 3)
        memcpy(name + length, "\xE2\x82\xAC", 3);
    name[length++] = 'x';
    name[length] = '\0';
    snprintf(scratch, sizeof(scratch), COMMAND("CreateSku", "{\"name\":\"%s\"}"), name);
    text_accepted_as_command(scratch, &command);
    assert_int_equal(strlen(command.name), STOCKD_NAME_BYTES_MAX);
    snprintf(scratch, sizeof(scratch), COMMAND("CreateSku", "{\"name\":\"%sy\"}"), name);
    text_refused_as_command(scratch, "data.name", "data.name: longer than 256 bytes");
}

static void test_command_decode_empty_name_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"\"}"), "data.name", "data.name: must not be empty");
}

/* Builds a ReserveStock with the given identifiers. */
static const char *reserve_with(const char *command_id, const char *sku, const char *reservation_id,
                                const char *location)
{
    snprintf(
        scratch, sizeof(scratch),
        "{\"command_id\":\"%s\",\"type\":\"ReserveStock\",\"sku\":\"%s\",\"data\":{\"reservation_id\":\"%s\","
        "\"location\":\"%s\",\"quantity\":1}}",
        command_id, sku, reservation_id, location);
    return scratch;
}

static void test_command_decode_sku_at_max_accepted_one_more_refused(void **state)
{
    (void)state;
    struct command command;
    char sku[STOCKD_SKU_BYTES_MAX + 2];
    text_accepted_as_command(reserve_with("c", repeat(sku, 's', STOCKD_SKU_BYTES_MAX), "r", "w"), &command);
    assert_int_equal(strlen(command.sku), STOCKD_SKU_BYTES_MAX);
    text_refused_as_command(reserve_with("c", repeat(sku, 's', STOCKD_SKU_BYTES_MAX + 1), "r", "w"), "sku",
                            "sku: longer than 64 bytes");
}

static void test_command_decode_command_id_at_max_accepted_one_more_refused(void **state)
{
    (void)state;
    struct command command;
    char id[STOCKD_ID_BYTES_MAX + 2];
    text_accepted_as_command(reserve_with(repeat(id, 'c', STOCKD_ID_BYTES_MAX), "s", "r", "w"), &command);
    assert_int_equal(strlen(command.command_id), STOCKD_ID_BYTES_MAX);
    text_refused_as_command(reserve_with(repeat(id, 'c', STOCKD_ID_BYTES_MAX + 1), "s", "r", "w"),
                            "command_id", "command_id: longer than 128 bytes");
}

static void test_command_decode_location_at_max_accepted_one_more_refused(void **state)
{
    (void)state;
    struct command command;
    char location[STOCKD_LOCATION_BYTES_MAX + 2];
    text_accepted_as_command(reserve_with("c", "s", "r", repeat(location, 'w', STOCKD_LOCATION_BYTES_MAX)),
                             &command);
    assert_int_equal(strlen(command.location), STOCKD_LOCATION_BYTES_MAX);
    text_refused_as_command(reserve_with("c", "s", "r", repeat(location, 'w', STOCKD_LOCATION_BYTES_MAX + 1)),
                            "data.location", "data.location: longer than 64 bytes");
}

static void test_command_decode_reservation_id_at_max_accepted_one_more_refused(void **state)
{
    (void)state;
    struct command command;
    char id[STOCKD_ID_BYTES_MAX + 2];
    text_accepted_as_command(reserve_with("c", "s", repeat(id, 'r', STOCKD_ID_BYTES_MAX), "w"), &command);
    assert_int_equal(strlen(command.reservation_id), STOCKD_ID_BYTES_MAX);
    text_refused_as_command(reserve_with("c", "s", repeat(id, 'r', STOCKD_ID_BYTES_MAX + 1), "w"),
                            "data.reservation_id", "data.reservation_id: longer than 128 bytes");
}

static void test_command_decode_identifier_syntax_refused(void **state)
{
    (void)state;
    const char *syntax = "must be [A-Za-z0-9._:-] starting with a letter or digit, got ";
    char message[256];
    static const char *const bad[] = {"-abc", ".abc", "a b", "a/b", "a%b", "caf\xC3\xA9"};
    static const char *const shown[] = {"-abc", ".abc", "a b", "a/b", "a%b", "caf\\xC3\\xA9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(message, sizeof(message), "sku: %s\"%s\"", syntax, shown[i]);
        text_refused_as_command(reserve_with("c", bad[i], "r", "w"), "sku", message);
    }
    text_refused_as_command(reserve_with("c", "s", "r", ""), "data.location",
                            "data.location: must not be empty");
    snprintf(message, sizeof(message), "command_id: %s\"_c\"", syntax);
    text_refused_as_command(reserve_with("_c", "s", "r", "w"), "command_id", message);
}

/* ---- commands: the document as a whole --------------------------------------------------------------- */

static void test_command_decode_nesting_too_deep_refused_before_cjson(void **state)
{
    (void)state;
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":[[[[[[[\"x\"]]]]]]]}"), "data.name[0][0][0][0][0][0]",
                    "data.name[0][0][0][0][0][0]: nested deeper than 8 levels at byte 74");
    /* Far deeper than cJSON's own limit of 1000: refused by the scan without recursing. */
    size_t depth = STOCKD_MESSAGE_BYTES_MAX / 2;
    memset(scratch, '[', depth);
    memset(scratch + depth, ']', depth);
    command_refused(scratch, 2 * depth, "[0][0][0][0][0][0][0][0]",
                    "[0][0][0][0][0][0][0][0]: nested deeper than 8 levels at byte 8");
}

static void test_command_decode_trailing_garbage_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("{\"sku\":\"SKU-123\"}x", "", "trailing characters after the JSON value at byte 17");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"x\"}") " {}", "",
                    "trailing characters after the JSON value at byte 74");
    COMMAND_REFUSED(COMMAND("CreateSku", "{\"name\":\"x\"}") "}", "",
                    "trailing characters after the JSON value at byte 73");
}

static void test_command_decode_trailing_whitespace_accepted(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(" \r\n\t" COMMAND("CreateSku", "{\"name\":\"x\"}") " \r\n\t", &command);
    assert_string_equal(command.name, "x");
}

static void test_command_decode_over_message_max_refused(void **state)
{
    (void)state;
    struct command command;
    const char *json = COMMAND("CreateSku", "{\"name\":\"x\"}");
    size_t length = strlen(json);
    memcpy(scratch, json, length);
    memset(scratch + length, ' ', STOCKD_MESSAGE_BYTES_MAX - length);
    command_accepted(scratch, STOCKD_MESSAGE_BYTES_MAX, &command);
    scratch[STOCKD_MESSAGE_BYTES_MAX] = ' ';
    command_refused(scratch, STOCKD_MESSAGE_BYTES_MAX + 1, "", "longer than 65536 bytes");
}

static void test_command_decode_empty_input_refused(void **state)
{
    (void)state;
    command_refused("", 0, "", "empty input");
    COMMAND_REFUSED(" \n\t\r ", "", "empty input");
}

static void test_command_decode_top_level_non_object_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("[]", "", "must be an object, got an array");
    COMMAND_REFUSED("\"x\"", "", "must be an object, got \"x\"");
    COMMAND_REFUSED("5", "", "must be an object, got 5");
    COMMAND_REFUSED("null", "", "must be an object, got null");
}

static void test_command_decode_byte_order_mark_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("\xEF\xBB\xBF" COMMAND("CreateSku", "{\"name\":\"x\"}"), "",
                    "starts with a byte order mark");
}

static void test_command_decode_invalid_json_refused(void **state)
{
    (void)state;
    COMMAND_REFUSED("{\"sku\":}", "", "not valid JSON at byte 7");
    COMMAND_REFUSED("{\"sku\":\"S\",}", "", "not valid JSON at byte 11");
    COMMAND_REFUSED("{\"sku\":\"S\"", "", "unexpected end of input at byte 10");
    COMMAND_REFUSED("{\"sku\":[1,", "", "unexpected end of input at byte 10");
    COMMAND_REFUSED("{\"sku\":\"S\"}}", "", "trailing characters after the JSON value at byte 11");
    COMMAND_REFUSED("{\"sku\":\"S", "", "unexpected end of input at byte 9");
}

static void test_command_decode_error_field_fits_long_unknown_key(void **state)
{
    (void)state;
    char key[300];
    snprintf(scratch, sizeof(scratch), COMMAND("CreateSku", "{\"name\":\"x\",\"%s\":1,\"%s\":2}"),
             repeat(key, 'Q', 200), key);
    struct command command;
    struct codec_error error;
    assert_int_equal(command_decode_exact(scratch, strlen(scratch), &command, &error), -1);
    assert_string_equal(error.field, "data");
    assert_true(strstr(error.message, "data: unknown key \"QQQQ") == error.message);
    assert_true(strstr(error.message, "...\"") != NULL);
}

/* ---- events ------------------------------------------------------------------------------------------ */

static void test_event_round_trip_every_type(void **state)
{
    (void)state;
    struct event event = event_make(EVENT_SKU_CREATED);
    strcpy(event.name, "Blue \"mug\" \xE2\x82\xAC");
    event_round_trip(&event);
    event = event_make(EVENT_STOCK_RECEIVED);
    strcpy(event.location, "WH-1");
    event.quantity = 12;
    event_round_trip(&event);
    event = event_make(EVENT_STOCK_ADJUSTED);
    strcpy(event.location, "WH-1");
    strcpy(event.reason, "count");
    event.delta = -STOCKD_ON_HAND_MAX;
    event_round_trip(&event);
    event.delta = 0;
    event.counted_set = true;
    event.counted = 40;
    event_round_trip(&event);
    for (enum event_type type = EVENT_STOCK_RESERVED; type <= EVENT_RESERVATION_EXPIRED; type++) {
        if (type == EVENT_STOCK_TRANSFERRED) continue;
        event = event_make(type);
        strcpy(event.reservation_id, "r-1");
        strcpy(event.location, "WH-1");
        event.quantity = 3;
        event_round_trip(&event);
        event.expires_at_ms = type == EVENT_STOCK_RESERVED ? STOCKD_JSON_INTEGER_MAX : 0;
        event_round_trip(&event);
    }
    event = event_make(EVENT_STOCK_TRANSFERRED);
    strcpy(event.location, "A");
    strcpy(event.to_location, "B");
    event.quantity = STOCKD_QUANTITY_MAX;
    event_round_trip(&event);
    for (int reason = REJECT_NONE + 1; reason < REJECT_REASON_COUNT; reason++) {
        event = event_make(EVENT_COMMAND_REJECTED);
        event.rejected_type = (enum command_type)(1 + reason % (COMMAND_TYPE_COUNT - 1));
        event.reject_reason = (enum reject_reason)reason;
        snprintf(event.detail, sizeof(event.detail), "detail %d", reason);
        event_round_trip(&event);
    }
}

static void test_event_encode_golden_bytes(void **state)
{
    (void)state;
    struct event event = event_make(EVENT_STOCK_RESERVED);
    event.sequence = 3;
    strcpy(event.command_id, "c-4");
    strcpy(event.reservation_id, "r-1");
    strcpy(event.location, "WH-1");
    event.quantity = 2;
    event.expires_at_ms = INT64_C(1764000900000);
    event_encoded_as(&event,
                     "{\"type\":\"StockReserved\",\"sku\":\"SKU-1\",\"sequence\":3,\"command_id\":\"c-4\","
                     "\"time_ms\":1764000000000,\"data\":{\"reservation_id\":\"r-1\",\"location\":\"WH-1\","
                     "\"quantity\":2,\"expires_at_ms\":1764000900000}}");

    event = event_make(EVENT_STOCK_ADJUSTED);
    strcpy(event.location, "WH-1");
    strcpy(event.reason, "count");
    event.counted_set = true;
    event.counted = 5;
    event_encoded_as(&event,
                     "{\"type\":\"StockAdjusted\",\"sku\":\"SKU-1\",\"sequence\":7,\"command_id\":\"c-1\","
                     "\"time_ms\":1764000000000,\"data\":{\"location\":\"WH-1\",\"delta\":0,\"reason\":"
                     "\"count\",\"counted\":5}}");

    event = event_make(EVENT_COMMAND_REJECTED);
    event.time_ms = 0;
    event.rejected_type = COMMAND_EXPIRE_RESERVATIONS;
    event.reject_reason = REJECT_RESERVATION_NOT_EXPIRED;
    event_encoded_as(&event,
                     "{\"type\":\"CommandRejected\",\"sku\":\"SKU-1\",\"sequence\":7,\"command_id\":\"c-1\","
                     "\"time_ms\":0,\"data\":{\"command_type\":\"ExpireReservations\",\"reason\":"
                     "\"reservation_not_expired\",\"detail\":\"\"}}");
}

/* cJSON prints numbers with "%1.15g" and a loose read-back test: 2^53 - 1 would come out as
 * 9.00719925474099e+15 and 10^15 as 1e+15. The codec writes integers itself. */
static void test_event_encode_large_integers_exact(void **state)
{
    (void)state;
    struct event event = event_make(EVENT_SKU_CREATED);
    strcpy(event.name, "n");
    event.sequence = (uint64_t)STOCKD_JSON_INTEGER_MAX;
    event.time_ms = STOCKD_JSON_INTEGER_MAX - 1;
    event.reorder_point = STOCKD_REORDER_POINT_MAX;
    event_encoded_as(&event,
                     "{\"type\":\"SkuCreated\",\"version\":2,\"sku\":\"SKU-1\",\"sequence\":9007199254740991,"
                     "\"command_id\":\"c-1\",\"time_ms\":9007199254740990,\"data\":{\"name\":\"n\","
                     "\"reorder_point\":1000000000000000}}");
    event_round_trip(&event);
}

static void test_event_decode_unknown_type_refused(void **state)
{
    (void)state;
    EVENT_REFUSED(EVENT("StockRecieved", "{\"location\":\"W\",\"quantity\":1}"), "type",
                  "type: unknown event type \"StockRecieved\"");
    EVENT_REFUSED(EVENT("ReceiveStock", "{\"location\":\"W\",\"quantity\":1}"), "type",
                  "type: unknown event type \"ReceiveStock\"");
}

static void test_event_decode_sequence_bounds(void **state)
{
    (void)state;
    struct event event;
#define WITH_SEQUENCE(sequence)                                                                              \
    "{\"type\":\"StockReceived\",\"sku\":\"S\",\"sequence\":" sequence                                       \
    ",\"command_id\":\"c\",\"time_ms\":0,"                                                                   \
    "\"data\":{\"location\":\"W\",\"quantity\":1}}"
    EVENT_REFUSED(WITH_SEQUENCE("0"), "sequence",
                  "sequence: must be an integer in [1, 9007199254740991], got 0");
    EVENT_ACCEPTED(WITH_SEQUENCE("9007199254740991"), &event);
    assert_int_equal(event.sequence, (uint64_t)STOCKD_JSON_INTEGER_MAX);
    EVENT_REFUSED(
        WITH_SEQUENCE("9007199254740992"), "sequence",
        "sequence: must be an integer in [1, 9007199254740991], got an integer of magnitude beyond 2^53 - 1");
    EVENT_REFUSED(WITH_SEQUENCE("\"1\""), "sequence",
                  "sequence: must be an integer in [1, 9007199254740991], got \"1\"");
#undef WITH_SEQUENCE
}

static void test_event_decode_time_ms_negative_refused(void **state)
{
    (void)state;
    EVENT_REFUSED(
        "{\"type\":\"StockReceived\",\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\",\"time_ms\":-1,"
        "\"data\":{\"location\":\"W\",\"quantity\":1}}",
        "time_ms", "time_ms: must be an integer in [0, 9007199254740991], got -1");
}

static void test_event_decode_missing_field_refused(void **state)
{
    (void)state;
    EVENT_REFUSED("{\"type\":\"StockReceived\",\"sku\":\"S\",\"command_id\":\"c\",\"time_ms\":1,"
                  "\"data\":{\"location\":\"W\",\"quantity\":1}}",
                  "sequence", "sequence: missing");
    EVENT_REFUSED(EVENT("SkuCreated", "{\"name\":\"x\"}"), "data.reorder_point",
                  "data.reorder_point: missing");
    EVENT_REFUSED(EVENT("StockAdjusted", "{\"location\":\"W\",\"reason\":\"r\"}"), "data.delta",
                  "data.delta: missing");
    EVENT_REFUSED(EVENT("CommandRejected", "{\"command_type\":\"CreateSku\",\"reason\":\"sku_exists\"}"),
                  "data.detail", "data.detail: missing");
}

static void test_event_decode_adjusted_zero_delta_needs_counted(void **state)
{
    (void)state;
    struct event event;
    EVENT_REFUSED(EVENT("StockAdjusted", "{\"location\":\"W\",\"delta\":0,\"reason\":\"r\"}"), "data.delta",
                  "data.delta: must not be 0 unless counted is present");
    EVENT_ACCEPTED(EVENT("StockAdjusted", "{\"location\":\"W\",\"delta\":0,\"reason\":\"r\",\"counted\":9}"),
                   &event);
    assert_true(event.counted_set);
    assert_int_equal(event.counted, 9);
    EVENT_ACCEPTED(
        EVENT("StockAdjusted", "{\"location\":\"W\",\"delta\":-1000000000000000,\"reason\":\"r\"}"), &event);
    assert_int_equal(event.delta, -STOCKD_ON_HAND_MAX);
    assert_false(event.counted_set);
}

static void test_event_decode_reserved_expiry_absent_is_zero_present_zero_refused(void **state)
{
    (void)state;
    struct event event;
    EVENT_ACCEPTED(EVENT("StockReserved", "{\"reservation_id\":\"r\",\"location\":\"W\",\"quantity\":1}"),
                   &event);
    assert_int_equal(event.expires_at_ms, 0);
    EVENT_REFUSED(EVENT("StockReserved",
                        "{\"reservation_id\":\"r\",\"location\":\"W\",\"quantity\":1,\"expires_at_ms\":0}"),
                  "data.expires_at_ms",
                  "data.expires_at_ms: must be an integer in [1, 9007199254740991], got 0");
}

static void test_event_decode_rejected_names_checked(void **state)
{
    (void)state;
    struct event event;
    EVENT_ACCEPTED(EVENT("CommandRejected", "{\"command_type\":\"ExpireReservations\",\"reason\":"
                                            "\"reservation_not_expired\",\"detail\":\"\"}"),
                   &event);
    assert_int_equal(event.rejected_type, COMMAND_EXPIRE_RESERVATIONS);
    assert_int_equal(event.reject_reason, REJECT_RESERVATION_NOT_EXPIRED);
    EVENT_REFUSED(
        EVENT("CommandRejected", "{\"command_type\":\"Nope\",\"reason\":\"sku_exists\",\"detail\":\"\"}"),
        "data.command_type", "data.command_type: must be a command type, got \"Nope\"");
    EVENT_REFUSED(EVENT("CommandRejected",
                        "{\"command_type\":\"CreateSku\",\"reason\":\"SKU_EXISTS\",\"detail\":\"\"}"),
                  "data.reason", "data.reason: must be a reject reason code, got \"SKU_EXISTS\"");
    EVENT_REFUSED(
        EVENT("CommandRejected", "{\"command_type\":\"CreateSku\",\"reason\":\"\",\"detail\":\"\"}"),
        "data.reason", "data.reason: must be a reject reason code, got \"\"");
    char detail[STOCKD_DETAIL_BYTES_MAX + 2];
    snprintf(scratch, sizeof(scratch),
             EVENT("CommandRejected",
                   "{\"command_type\":\"CreateSku\",\"reason\":\"sku_exists\",\"detail\":\"%s\"}"),
             repeat(detail, 'd', STOCKD_DETAIL_BYTES_MAX));
    event_accepted(scratch, strlen(scratch), &event);
    snprintf(scratch, sizeof(scratch),
             EVENT("CommandRejected",
                   "{\"command_type\":\"CreateSku\",\"reason\":\"sku_exists\",\"detail\":\"%s\"}"),
             repeat(detail, 'd', STOCKD_DETAIL_BYTES_MAX + 1));
    event_refused(scratch, strlen(scratch), "data.detail", "data.detail: longer than 256 bytes");
}

static void test_event_decode_duplicate_and_case_variant_keys_refused(void **state)
{
    (void)state;
    EVENT_REFUSED(
        "{\"type\":\"StockReceived\",\"sku\":\"S\",\"sequence\":1,\"Sequence\":2,\"command_id\":\"c\","
        "\"time_ms\":0,\"data\":{\"location\":\"W\",\"quantity\":1}}",
        "Sequence", "Sequence: duplicate key (differs from \"sequence\" only in case)");
    EVENT_REFUSED(EVENT("StockReceived", "{\"location\":\"W\",\"quantity\":1,\"location\":\"X\"}"),
                  "data.location", "data.location: duplicate key");
    EVENT_REFUSED(EVENT("StockReceived", "{\"Location\":\"W\",\"quantity\":1}"), "data",
                  "data: unknown key \"Location\"");
}

static void test_event_decode_wrong_type_refused(void **state)
{
    (void)state;
    EVENT_REFUSED(EVENT("StockReceived", "{\"location\":[\"W\"],\"quantity\":1}"), "data.location",
                  "data.location: must be a string, got an array");
    EVENT_REFUSED(EVENT("SkuCreated", "{\"name\":7,\"reorder_point\":0}"), "data.name",
                  "data.name: must be a string, got 7");
}

static void test_event_decode_nul_escape_in_detail_refused(void **state)
{
    (void)state;
    EVENT_REFUSED(
        EVENT("CommandRejected",
              "{\"command_type\":\"CreateSku\",\"reason\":\"sku_exists\",\"detail\":\"x\\u0000y\"}"),
        "data.detail", "data.detail: contains NUL (\\u0000)");
}

/* detail is for people and may be cut mid-character by whoever wrote it: the encoder cleans it so that
 * the event is still one every consumer accepts. */
static void test_event_encode_cleans_invalid_detail(void **state)
{
    (void)state;
    struct event event = event_make(EVENT_COMMAND_REJECTED);
    event.rejected_type = COMMAND_CREATE_SKU;
    event.reject_reason = REJECT_SKU_EXISTS;
    strcpy(event.detail, "ok \xC3\xA9 cut \xE2\x82 tab\t bell\x07 del\x7f end");
    char *encoded = codec_event_encode(&event);
    assert_non_null(encoded);
    struct event decoded;
    event_accepted(encoded, strlen(encoded), &decoded);
    assert_string_equal(decoded.detail, "ok \xC3\xA9 cut ?? tab? bell? del? end");
    free(encoded);
}

/* ---- the compact form (codec_event_decode_compact) --------------------------------------------------- */

/* Decodes on the strict path only: a leading space means nothing to JSON and is never in the compact form,
 * so codec_event_decode hands the input to cJSON. From a heap copy of exactly the bytes, as above. */
static int event_decode_strict(const char *json, size_t length, struct event *out, struct codec_error *error)
{
    char *copy = malloc(length + 1);
    assert_non_null(copy);
    copy[0] = ' ';
    memcpy(copy + 1, json, length);
    int result = codec_event_decode(copy, length + 1, out, error);
    free(copy);
    return result;
}

/* codec_event_decode_compact from a heap copy of exactly length bytes. */
static int event_decode_compact_exact(const char *json, size_t length, struct event *out)
{
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, json, length);
    int result = codec_event_decode_compact(copy, length, out);
    free(copy);
    return result;
}

/* Valid events of every type, optional fields present and absent, values at their bounds, free text
 * beyond ASCII. Returns how many were written into events[0 .. count_max). */
static size_t event_corpus(struct event *events, size_t count_max)
{
    size_t count = 0;
    struct event event = event_make(EVENT_SKU_CREATED);
    strcpy(event.name, "Mug \xE2\x82\xAC 0,5 l: {blue}");
    event.reorder_point = STOCKD_REORDER_POINT_MAX;
    events[count++] = event;
    event = event_make(EVENT_STOCK_RECEIVED);
    strcpy(event.location, "WH-1");
    event.quantity = STOCKD_QUANTITY_MAX;
    event.sequence = (uint64_t)STOCKD_JSON_INTEGER_MAX;
    event.time_ms = 0;
    events[count++] = event;
    event = event_make(EVENT_STOCK_ADJUSTED);
    strcpy(event.location, "a.b_c:d-e");
    strcpy(event.reason, "damaged in transit");
    event.delta = -STOCKD_ON_HAND_MAX;
    events[count++] = event;
    event.delta = 0;
    event.counted_set = true;
    event.counted = 0;
    events[count++] = event;
    for (enum event_type type = EVENT_STOCK_RESERVED; type <= EVENT_RESERVATION_EXPIRED; type++) {
        if (type == EVENT_STOCK_TRANSFERRED) continue;
        event = event_make(type);
        strcpy(event.reservation_id, "r-1");
        strcpy(event.location, "WH-1");
        event.quantity = 1;
        events[count++] = event;
        if (type != EVENT_STOCK_RESERVED) continue;
        event.expires_at_ms = STOCKD_JSON_INTEGER_MAX;
        events[count++] = event;
    }
    event = event_make(EVENT_STOCK_TRANSFERRED);
    strcpy(event.location, "A");
    strcpy(event.to_location, "B");
    event.quantity = 10;
    events[count++] = event;
    for (int reason = REJECT_NONE + 1; reason < REJECT_REASON_COUNT; reason++) {
        event = event_make(EVENT_COMMAND_REJECTED);
        event.rejected_type = (enum command_type)(1 + reason % (COMMAND_TYPE_COUNT - 1));
        event.reject_reason = (enum reject_reason)reason;
        snprintf(event.detail, sizeof(event.detail), reason % 2 ? "" : "short by %d \xC3\xA9", reason);
        events[count++] = event;
    }
    assert_true(count <= count_max);
    return count;
}

#define EVENT_CORPUS_MAX 64

/* Whatever the encoder writes (no escapes needed) is read by the compact path, to exactly what the strict
 * path reads from the same bytes. */
static void test_event_compact_reads_what_the_encoder_writes(void **state)
{
    (void)state;
    static struct event corpus[EVENT_CORPUS_MAX];
    size_t count = event_corpus(corpus, EVENT_CORPUS_MAX);
    for (size_t i = 0; i < count; i++) {
        char *encoded = codec_event_encode(&corpus[i]);
        assert_non_null(encoded);
        struct event compact, strict;
        struct codec_error error;
        assert_int_equal(event_decode_compact_exact(encoded, strlen(encoded), &compact), 0);
        assert_int_equal(event_decode_strict(encoded, strlen(encoded), &strict, &error), 0);
        event_equal(&compact, &corpus[i]);
        assert_memory_equal(&compact, &strict, sizeof(compact));
        free(encoded);
    }
}

/* Decoding must leave this input to the strict path (compact returns 1), whose verdict stands. */
static void compact_declines(const char *json, size_t length, bool strict_accepts)
{
    struct event event;
    struct codec_error error;
    assert_int_equal(event_decode_compact_exact(json, length, &event), 1);
    assert_int_equal(event_decode_exact(json, length, &event, &error), strict_accepts ? 0 : -1);
}

#define COMPACT_DECLINES(literal, strict_accepts)                                                            \
    compact_declines(literal, sizeof(literal) - 1, strict_accepts)
#define RECEIVED(sequence, data)                                                                             \
    "{\"type\":\"StockReceived\",\"sku\":\"S\",\"sequence\":" sequence                                       \
    ",\"command_id\":\"c\",\"time_ms\":0,\"data\":" data "}"

/* Valid JSON the compact path does not vouch for goes to the strict path, and so does every hostile input
 * (their messages are checked above). */
static void test_event_compact_declines_all_but_the_compact_form(void **state)
{
    (void)state;
    struct event event;
    assert_int_equal(
        event_decode_compact_exact(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1}"),
                                   sizeof(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1}")) - 1, &event),
        0);
    /* Accepted by the strict path, not compact. */
    COMPACT_DECLINES(RECEIVED("1", "{ \"location\":\"W\",\"quantity\":1}"), true);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1}") " ", true);
    COMPACT_DECLINES(RECEIVED("1", "{\"quantity\":1,\"location\":\"W\"}"), true);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"\\u0057\",\"quantity\":1}"), true);
    COMPACT_DECLINES(RECEIVED("1.0", "{\"location\":\"W\",\"quantity\":1}"), true);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1e0}"), true);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1.0}"), true);
    COMPACT_DECLINES(
        EVENT("StockAdjusted", "{\"location\":\"W\",\"delta\":-0,\"reason\":\"r\",\"counted\":1}"), true);
    /* Refused by the strict path. */
    COMPACT_DECLINES(RECEIVED("01", "{\"location\":\"W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("0", "{\"location\":\"W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("-1", "{\"location\":\"W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("9007199254740992", "{\"location\":\"W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("99999999999999999999", "{\"location\":\"W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1,\"location\":\"W\"}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"Quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1,\"extra\":1}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\"}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1,}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W W\",\"quantity\":1}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":0}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":\"1\"}"), false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1}") "x", false);
    COMPACT_DECLINES(RECEIVED("1", "{\"location\":\"W\",\"quantity\":1}") "}", false);
    COMPACT_DECLINES(EVENT("SkuCreated", "{\"name\":\"a\xC3\",\"reorder_point\":0}"), false);
    COMPACT_DECLINES(EVENT("SkuCreated", "{\"name\":\"a\x7F\",\"reorder_point\":0}"), false);
    COMPACT_DECLINES(EVENT("SkuCreated", "{\"name\":\"a\x01\",\"reorder_point\":0}"), false);
    COMPACT_DECLINES(EVENT("StockAdjusted", "{\"location\":\"W\",\"delta\":0,\"reason\":\"r\"}"), false);
    COMPACT_DECLINES(
        EVENT("StockReserved",
              "{\"reservation_id\":\"r\",\"location\":\"W\",\"quantity\":1,\"expires_at_ms\":0}"),
        false);
    COMPACT_DECLINES(EVENT("Nope", "{}"), false);
    COMPACT_DECLINES("", false);
    COMPACT_DECLINES("{", false);
    COMPACT_DECLINES("\xEF\xBB\xBF{}", false);
}

/* xorshift64: the same sequence on every run and machine. */
static uint64_t random_next(uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

/* Mutates bytes[0 .. *length) in place (room for length_max): a byte replaced, removed, inserted, or a
 * stretch repeated, favouring the bytes JSON gives a meaning to. */
static void input_mutate(char *bytes, size_t *length, size_t length_max, uint64_t *seed)
{
    static const char interesting[] = "{}[],:\"\\0123456789-+.eE ntfu\x01\x1f\x7f\xc3\xa9\xff";
    size_t position = *length > 0 ? (size_t)(random_next(seed) % *length) : 0;
    uint64_t draw = random_next(seed);
    char byte = draw % 4 == 0 ? (char)(draw >> 8) : interesting[(draw >> 8) % (sizeof(interesting) - 1)];
    switch ((draw >> 32) % 4) {
    case 0:
        if (*length > 0) bytes[position] = byte;
        break;
    case 1:
        if (*length > 0) memmove(bytes + position, bytes + position + 1, --*length - position);
        break;
    case 2:
        if (*length < length_max) {
            memmove(bytes + position + 1, bytes + position, (*length)++ - position);
            bytes[position] = byte;
        }
        break;
    default: {
        size_t stretch = 1 + (size_t)((draw >> 40) % 12);
        if (position + stretch > *length || *length + stretch > length_max) break;
        memmove(bytes + position + stretch, bytes + position, *length - position);
        *length += stretch;
        break;
    }
    }
}

/* Whatever the compact path accepts, the strict path accepts with the same result; and codec_event_decode
 * always gives the strict path's verdict. Over 90,000 mutations of valid events (one to three changes
 * each), some 3,500 of them still valid. */
static void test_event_compact_agrees_with_strict_on_mutations(void **state)
{
    (void)state;
    static struct event corpus[EVENT_CORPUS_MAX];
    size_t count = event_corpus(corpus, EVENT_CORPUS_MAX);
    uint64_t seed = UINT64_C(0x9E3779B97F4A7C15);
    size_t compact_accepted = 0;
    size_t strict_accepted = 0;
    for (size_t i = 0; i < count; i++) {
        char *encoded = codec_event_encode(&corpus[i]);
        assert_non_null(encoded);
        for (int round = 0; round < 4000; round++) {
            char input[1024];
            size_t length = strlen(encoded);
            assert_true(length < sizeof(input));
            memcpy(input, encoded, length);
            for (uint64_t changes = 1 + random_next(&seed) % 3; changes > 0; changes--)
                input_mutate(input, &length, sizeof(input), &seed);
            struct event compact, strict, full;
            struct codec_error error;
            int compact_result = event_decode_compact_exact(input, length, &compact);
            int strict_result = event_decode_strict(input, length, &strict, &error);
            int full_result = event_decode_exact(input, length, &full, &error);
            if (compact_result == 0) {
                if (strict_result != 0)
                    fail_msg("compact accepted what strict refuses (%s): %.*s", error.message, (int)length,
                             input);
                assert_memory_equal(&compact, &strict, sizeof(compact));
                /* ... and it was the encoder's own bytes (the history view stores them as such). */
                char *again = codec_event_encode(&compact);
                assert_non_null(again);
                assert_int_equal(strlen(again), length);
                assert_memory_equal(again, input, length);
                free(again);
                compact_accepted++;
            }
            assert_int_equal(full_result, strict_result);
            if (strict_result == 0) {
                assert_memory_equal(&full, &strict, sizeof(full));
                strict_accepted++;
            }
        }
        free(encoded);
    }
    /* Not vacuous: both paths saw valid variants (digits changed, letters of a name, ...). */
    assert_true(compact_accepted > 1000);
    assert_true(strict_accepted > compact_accepted);
}

/* ---- route bodies (POST /v1/skus/{sku}/receipts ...) and POST /v1/commands ---------------------------- */

static void test_body_decode_receipt_fills_data_fields_without_prefix(void **state)
{
    (void)state;
    struct command command;
    struct codec_error error;
    const char body[] = "{\"location\":\"WH-1\",\"quantity\":9007199}";
    assert_int_equal(codec_command_body_decode(COMMAND_RECEIVE_STOCK, body, strlen(body), CODEC_BODY_SKU_NONE,
                                               false, &command, &error),
                     0);
    assert_int_equal(command.type, COMMAND_RECEIVE_STOCK);
    assert_string_equal(command.location, "WH-1");
    assert_int_equal(command.quantity, 9007199);
    const char bad[] = "{\"location\":\"WH-1\",\"quantity\":0}";
    assert_int_equal(codec_command_body_decode(COMMAND_RECEIVE_STOCK, bad, strlen(bad), CODEC_BODY_SKU_NONE,
                                               false, &command, &error),
                     -1);
    assert_string_equal(error.field, "quantity");
}

static void test_body_decode_sku_key_follows_the_rule(void **state)
{
    (void)state;
    struct command command;
    struct codec_error error;
    const char with_sku[] = "{\"sku\":\"MUG\",\"name\":\"Mug\"}";
    assert_int_equal(codec_command_body_decode(COMMAND_CREATE_SKU, with_sku, strlen(with_sku),
                                               CODEC_BODY_SKU_REQUIRED, false, &command, &error),
                     0);
    assert_string_equal(command.sku, "MUG");
    assert_int_equal(codec_command_body_decode(COMMAND_RECEIVE_STOCK, with_sku, strlen(with_sku),
                                               CODEC_BODY_SKU_NONE, false, &command, &error),
                     -1);
    const char no_sku[] = "{\"name\":\"Mug\"}";
    assert_int_equal(codec_command_body_decode(COMMAND_CREATE_SKU, no_sku, strlen(no_sku),
                                               CODEC_BODY_SKU_REQUIRED, false, &command, &error),
                     -1);
    assert_string_equal(error.field, "sku");
    const char empty[] = "{}";
    assert_int_equal(codec_command_body_decode(COMMAND_RELEASE_RESERVATION, empty, 2, CODEC_BODY_SKU_OPTIONAL,
                                               true, &command, &error),
                     0);
    assert_string_equal(command.sku, "");
    const char with_id[] = "{\"reservation_id\":\"r-1\"}";
    assert_int_equal(codec_command_body_decode(COMMAND_RELEASE_RESERVATION, with_id, strlen(with_id),
                                               CODEC_BODY_SKU_OPTIONAL, true, &command, &error),
                     -1);
}

static void test_body_decode_refuses_duplicates_and_depth(void **state)
{
    (void)state;
    struct command command;
    struct codec_error error;
    const char duplicate[] = "{\"location\":\"A\",\"quantity\":1,\"quantity\":2}";
    assert_int_equal(codec_command_body_decode(COMMAND_RECEIVE_STOCK, duplicate, strlen(duplicate),
                                               CODEC_BODY_SKU_NONE, false, &command, &error),
                     -1);
    assert_non_null(strstr(error.message, "duplicate key"));
    const char deep[] = "{\"location\":[[[[[[[[[1]]]]]]]]]}";
    assert_int_equal(codec_command_body_decode(COMMAND_RECEIVE_STOCK, deep, strlen(deep), CODEC_BODY_SKU_NONE,
                                               false, &command, &error),
                     -1);
}

static void test_request_decode_command_id_optional(void **state)
{
    (void)state;
    struct command command;
    struct codec_error error;
    const char envelope[] =
        "{\"type\":\"ReceiveStock\",\"sku\":\"MUG\",\"data\":{\"location\":\"A\",\"quantity\":3}}";
    assert_int_equal(codec_command_request_decode(envelope, strlen(envelope), &command, &error), 0);
    assert_string_equal(command.command_id, "");
    assert_int_equal(command.quantity, 3);
    assert_int_equal(codec_command_decode(envelope, strlen(envelope), &command, &error), -1);
    const char internal[] = "{\"type\":\"ExpireReservations\",\"sku\":\"MUG\",\"data\":{}}";
    assert_int_equal(codec_command_request_decode(internal, strlen(internal), &command, &error), -1);
    assert_string_equal(error.field, "type");
}

/* ---- ids of the order stage -------------------------------------------------------------------------- */

#define ORDER_IDS_MESSAGE                                                                                    \
    "ids beginning with \"order:\" belong to the order stage's line commands (order:<order_id>:<line>:<op> " \
    "on reservation order:<order_id>:<line>)"
#define ORDER_LINE_COMMAND(command_id, type, data)                                                           \
    "{\"command_id\":\"" command_id "\",\"type\":\"" type "\",\"sku\":\"MUG\",\"data\":" data "}"

/* Ids beginning with order: are the order stage's (docs/orders.md): the decoder of the topics (router,
 * handler, stockctl send) takes exactly the line commands order_command_build makes, and refuses any other
 * use of the prefix, whoever wrote it. */
static void test_command_order_ids_only_as_the_order_stage_makes_them(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED(
        ORDER_LINE_COMMAND("order:O-1:0:reserve", "ReserveStock",
                           "{\"reservation_id\":\"order:O-1:0\",\"location\":\"A\",\"quantity\":1}"),
        &command);
    COMMAND_ACCEPTED(ORDER_LINE_COMMAND("order:O:1:31:release", "ReleaseReservation",
                                        "{\"reservation_id\":\"order:O:1:31\"}"),
                     &command);
    COMMAND_ACCEPTED(
        ORDER_LINE_COMMAND("order:O-1:2:fulfil", "FulfilReservation", "{\"reservation_id\":\"order:O-1:2\"}"),
        &command);
    /* A client's command on an order's reservation. */
    COMMAND_REFUSED(ORDER_LINE_COMMAND("c-1", "ReleaseReservation", "{\"reservation_id\":\"order:O-1:0\"}"),
                    "data.reservation_id", "data.reservation_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(
        ORDER_LINE_COMMAND("c-1", "ReserveStock",
                           "{\"reservation_id\":\"order:O-1:0\",\"location\":\"A\",\"quantity\":1}"),
        "data.reservation_id", "data.reservation_id: " ORDER_IDS_MESSAGE);
    /* An order's command id on something else than its line's command. */
    COMMAND_REFUSED(
        ORDER_LINE_COMMAND("order:O-1:0:release", "ReserveStock",
                           "{\"reservation_id\":\"order:O-1:0\",\"location\":\"A\",\"quantity\":1}"),
        "command_id", "command_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(
        ORDER_LINE_COMMAND("order:O-1:0:reserve", "ReserveStock",
                           "{\"reservation_id\":\"order:O-1:1\",\"location\":\"A\",\"quantity\":1}"),
        "data.reservation_id", "data.reservation_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(ORDER_LINE_COMMAND("order:O-1:0:reserve", "ReserveStock",
                                       "{\"reservation_id\":\"r-1\",\"location\":\"A\",\"quantity\":1}"),
                    "data.reservation_id", "data.reservation_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(
        ORDER_LINE_COMMAND("order:O-1:0:reserve", "ReceiveStock", "{\"location\":\"A\",\"quantity\":1}"),
        "command_id", "command_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(
        ORDER_LINE_COMMAND("order:anything", "ReceiveStock", "{\"location\":\"A\",\"quantity\":1}"),
        "command_id", "command_id: " ORDER_IDS_MESSAGE);
    COMMAND_REFUSED(ORDER_LINE_COMMAND("order:O-1:32:fulfil", "FulfilReservation",
                                       "{\"reservation_id\":\"order:O-1:32\"}"),
                    "command_id", "command_id: " ORDER_IDS_MESSAGE);
}

/* A client's command (POST /v1/commands, stockctl, another team's producer) names no command or reservation
 * with the order stage's prefix: the API and the router refuse what order_client_id_field names, so that a
 * request they take is one the topics' decoder takes too (fuzz_codec_command checked the request decoder
 * alone, which takes an order line's release that the API then refuses with 422 reserved-id). */
static void test_client_ids_with_the_order_prefix_are_named(void **state)
{
    (void)state;
    struct command command;
    struct codec_error error;
    const char line_release[] =
        ORDER_LINE_COMMAND("order:5.F:1:release", "ReleaseReservation", "{\"reservation_id\":\"sW:9i\"}");
    assert_int_equal(codec_command_request_decode(line_release, strlen(line_release), &command, &error), 0);
    assert_string_equal(order_client_id_field(&command), "command_id");
    assert_int_equal(codec_command_decode(line_release, strlen(line_release), &command, &error), -1);
    const char on_line[] =
        ORDER_LINE_COMMAND("c-1", "ReleaseReservation", "{\"reservation_id\":\"order:O-1:0\"}");
    assert_int_equal(codec_command_request_decode(on_line, strlen(on_line), &command, &error), 0);
    assert_string_equal(order_client_id_field(&command), "data.reservation_id");
    /* Even the exact line command the order stage makes is not a client's to send. */
    const char exact[] =
        ORDER_LINE_COMMAND("order:O-1:2:fulfil", "FulfilReservation", "{\"reservation_id\":\"order:O-1:2\"}");
    assert_int_equal(codec_command_request_decode(exact, strlen(exact), &command, &error), 0);
    assert_string_equal(order_client_id_field(&command), "command_id");
    const char plain[] =
        ORDER_LINE_COMMAND("c-1:order:", "ReleaseReservation", "{\"reservation_id\":\"r-order:\"}");
    assert_int_equal(codec_command_request_decode(plain, strlen(plain), &command, &error), 0);
    assert_null(order_client_id_field(&command));
    assert_int_equal(codec_command_decode(plain, strlen(plain), &command, &error), 0);
}

/* ---- event versions ---------------------------------------------------------------------------------- */

/* A SkuCreated as the encoder wrote it before versions existed (tests/fixtures/events-2026-12-05.jsonl). */
#define SKU_CREATED_V1                                                                                       \
    "{\"type\":\"SkuCreated\",\"sku\":\"SKU-2\",\"sequence\":1,\"command_id\":\"c-1\",\"time_ms\":"          \
    "1764547200000,"                                                                                         \
    "\"data\":{\"name\":\"Widget SKU-2\",\"reorder_point\":24}}"

static void test_event_version_absent_is_version_1_and_decodes_without_lead_time(void **state)
{
    (void)state;
    struct event event;
    EVENT_ACCEPTED(SKU_CREATED_V1, &event);
    assert_int_equal(event.type, EVENT_SKU_CREATED);
    assert_string_equal(event.name, "Widget SKU-2");
    assert_int_equal(event.reorder_point, 24);
    assert_int_equal(event.lead_time_days, 0);
    /* An older version is not what the encoder writes now: the compact path leaves it to the strict one. */
    assert_int_equal(codec_event_decode_compact(SKU_CREATED_V1, sizeof(SKU_CREATED_V1) - 1, &event), 1);
}

static void test_event_version_1_refuses_fields_of_version_2(void **state)
{
    (void)state;
    EVENT_REFUSED("{\"type\":\"SkuCreated\",\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\",\"time_ms\":1,"
                  "\"data\":{\"name\":\"n\",\"reorder_point\":0,\"lead_time_days\":3}}",
                  "data", "data: unknown key \"lead_time_days\"");
}

static void test_event_encode_writes_current_version_only_from_2(void **state)
{
    (void)state;
    assert_int_equal(codec_event_version_current(EVENT_SKU_CREATED), 2);
    assert_int_equal(codec_event_version_current(EVENT_STOCK_RECEIVED), 1);
    struct event event = event_make(EVENT_SKU_CREATED);
    strcpy(event.name, "n");
    event.lead_time_days = 12;
    event_encoded_as(&event, "{\"type\":\"SkuCreated\",\"version\":2,\"sku\":\"SKU-1\",\"sequence\":7,"
                             "\"command_id\":\"c-1\",\"time_ms\":1764000000000,\"data\":{\"name\":\"n\","
                             "\"reorder_point\":0,\"lead_time_days\":12}}");
    event_round_trip(&event);
    event.lead_time_days = STOCKD_LEAD_TIME_DAYS_MAX;
    event_round_trip(&event);
    struct event received = event_make(EVENT_STOCK_RECEIVED);
    strcpy(received.location, "L");
    received.quantity = 1;
    event_encoded_as(&received,
                     "{\"type\":\"StockReceived\",\"sku\":\"SKU-1\",\"sequence\":7,"
                     "\"command_id\":\"c-1\",\"time_ms\":1764000000000,\"data\":{\"location\":\"L\","
                     "\"quantity\":1}}");
}

static void test_event_version_newer_than_known_refused(void **state)
{
    (void)state;
    EVENT_REFUSED("{\"type\":\"SkuCreated\",\"version\":3,\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\","
                  "\"time_ms\":1,\"data\":{\"name\":\"n\",\"reorder_point\":0}}",
                  "version",
                  "version: SkuCreated version 3 is newer than this stockd reads (up to 2): upgrade it");
    EVENT_REFUSED(
        "{\"type\":\"StockReceived\",\"version\":2,\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\","
        "\"time_ms\":1,\"data\":{\"location\":\"L\",\"quantity\":1}}",
        "version", "version: StockReceived version 2 is newer than this stockd reads (up to 1): upgrade it");
}

static void test_event_version_malformed_refused(void **state)
{
    (void)state;
    EVENT_REFUSED("{\"type\":\"SkuCreated\",\"version\":0,\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\","
                  "\"time_ms\":1,\"data\":{\"name\":\"n\",\"reorder_point\":0}}",
                  "version", "version: must be an integer >= 1, got 0");
    EVENT_REFUSED(
        "{\"type\":\"SkuCreated\",\"version\":1.5,\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\","
        "\"time_ms\":1,\"data\":{\"name\":\"n\",\"reorder_point\":0}}",
        "version", "version: must be an integer, got 1.5");
    EVENT_REFUSED(
        "{\"type\":\"SkuCreated\",\"version\":\"2\",\"sku\":\"S\",\"sequence\":1,\"command_id\":\"c\","
        "\"time_ms\":1,\"data\":{\"name\":\"n\",\"reorder_point\":0}}",
        "version", "version: must be an integer >= 1, got \"2\"");
    EVENT_REFUSED("{\"type\":\"SkuCreated\",\"version\":2,\"Version\":2,\"sku\":\"S\",\"sequence\":1,"
                  "\"command_id\":\"c\",\"time_ms\":1,\"data\":{\"name\":\"n\",\"reorder_point\":0}}",
                  "Version", "Version: duplicate key (differs from \"version\" only in case)");
}

static void test_event_version_1_spelled_out_accepted_by_strict_path_only(void **state)
{
    (void)state;
    static const char json[] =
        "{\"type\":\"StockReceived\",\"version\":1,\"sku\":\"S\",\"sequence\":1,"
        "\"command_id\":\"c\",\"time_ms\":1,\"data\":{\"location\":\"L\",\"quantity\":4}}";
    struct event event;
    EVENT_ACCEPTED(json, &event);
    assert_int_equal(event.quantity, 4);
    assert_int_equal(codec_event_decode_compact(json, sizeof(json) - 1, &event), 1);
}

static void test_command_create_sku_lead_time_days(void **state)
{
    (void)state;
    struct command command;
    COMMAND_ACCEPTED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"n\","
                     "\"lead_time_days\":14}}",
                     &command);
    assert_int_equal(command.lead_time_days, 14);
    command_round_trip(&command);
    COMMAND_ACCEPTED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"n\"}}",
                     &command);
    assert_int_equal(command.lead_time_days, 0);
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"n\","
                    "\"lead_time_days\":0}}",
                    "data.lead_time_days", "data.lead_time_days: must be an integer in [1, 3650], got 0");
    COMMAND_REFUSED("{\"command_id\":\"c\",\"type\":\"CreateSku\",\"sku\":\"S\",\"data\":{\"name\":\"n\","
                    "\"lead_time_days\":3651}}",
                    "data.lead_time_days", "data.lead_time_days: must be an integer in [1, 3650], got 3651");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_decode_receipt_fills_data_fields_without_prefix),
        cmocka_unit_test(test_body_decode_sku_key_follows_the_rule),
        cmocka_unit_test(test_body_decode_refuses_duplicates_and_depth),
        cmocka_unit_test(test_request_decode_command_id_optional),
        cmocka_unit_test(test_json_scan_clean_document_has_no_problem),
        cmocka_unit_test(test_json_scan_raw_nul_byte_reported_with_offset),
        cmocka_unit_test(test_json_scan_nul_escape_reported_with_dotted_path),
        cmocka_unit_test(test_json_scan_escaped_backslash_before_u0000_is_not_nul),
        cmocka_unit_test(test_json_scan_depth_at_limit_passes_one_more_refused),
        cmocka_unit_test(test_json_scan_brackets_inside_strings_do_not_count),
        cmocka_unit_test(test_json_scan_control_bytes_inside_and_outside_strings),
        cmocka_unit_test(test_json_scan_malformed_numbers_refused),
        cmocka_unit_test(test_json_scan_long_key_path_is_cut_not_overflowed),
        cmocka_unit_test(test_identifier_valid_syntax_and_length),
        cmocka_unit_test(test_command_round_trip_every_type),
        cmocka_unit_test(test_command_encode_golden_bytes),
        cmocka_unit_test(test_command_encode_escapes_text),
        cmocka_unit_test(test_command_encode_expire_reservations_for_logs_decode_refuses),
        cmocka_unit_test(test_command_decode_defaults_when_optional_absent),
        cmocka_unit_test(test_command_decode_unknown_type_refused),
        cmocka_unit_test(test_command_decode_internal_type_refused),
        cmocka_unit_test(test_command_decode_missing_envelope_field_refused),
        cmocka_unit_test(test_command_decode_missing_data_field_refused),
        cmocka_unit_test(test_command_decode_unknown_envelope_key_refused),
        cmocka_unit_test(test_command_decode_unknown_data_key_refused),
        cmocka_unit_test(test_command_decode_case_variant_key_is_unknown),
        cmocka_unit_test(test_command_decode_duplicate_key_refused),
        cmocka_unit_test(test_command_decode_duplicate_key_differing_in_case_refused),
        cmocka_unit_test(test_command_decode_type_not_string_refused),
        cmocka_unit_test(test_command_decode_data_not_object_refused),
        cmocka_unit_test(test_command_decode_quantity_as_string_refused),
        cmocka_unit_test(test_command_decode_quantity_fraction_refused),
        cmocka_unit_test(test_command_decode_quantity_overflowing_double_refused),
        cmocka_unit_test(test_command_decode_quantity_negative_refused),
        cmocka_unit_test(test_command_decode_quantity_zero_refused),
        cmocka_unit_test(test_command_decode_quantity_above_max_refused),
        cmocka_unit_test(test_command_decode_quantity_true_refused),
        cmocka_unit_test(test_command_decode_quantity_null_refused),
        cmocka_unit_test(test_command_decode_quantity_integral_forms_accepted),
        cmocka_unit_test(test_command_decode_malformed_number_refused),
        cmocka_unit_test(test_command_decode_adjust_needs_exactly_one_of_delta_and_counted),
        cmocka_unit_test(test_command_decode_adjust_delta_zero_refused),
        cmocka_unit_test(test_command_decode_adjust_bounds),
        cmocka_unit_test(test_command_decode_reserve_ttl_bounds),
        cmocka_unit_test(test_command_decode_reorder_point_bounds),
        cmocka_unit_test(test_command_decode_transfer_maps_from_location),
        cmocka_unit_test(test_command_decode_nul_escape_in_name_refused),
        cmocka_unit_test(test_command_decode_nul_escape_in_key_refused),
        cmocka_unit_test(test_command_decode_raw_nul_byte_refused),
        cmocka_unit_test(test_command_decode_invalid_utf8_in_name_refused),
        cmocka_unit_test(test_command_decode_control_character_in_name_refused),
        cmocka_unit_test(test_command_decode_raw_control_byte_refused),
        cmocka_unit_test(test_command_decode_name_at_max_bytes_accepted_one_more_refused),
        cmocka_unit_test(test_command_decode_empty_name_refused),
        cmocka_unit_test(test_command_decode_sku_at_max_accepted_one_more_refused),
        cmocka_unit_test(test_command_decode_command_id_at_max_accepted_one_more_refused),
        cmocka_unit_test(test_command_decode_location_at_max_accepted_one_more_refused),
        cmocka_unit_test(test_command_decode_reservation_id_at_max_accepted_one_more_refused),
        cmocka_unit_test(test_command_decode_identifier_syntax_refused),
        cmocka_unit_test(test_command_decode_nesting_too_deep_refused_before_cjson),
        cmocka_unit_test(test_command_decode_trailing_garbage_refused),
        cmocka_unit_test(test_command_decode_trailing_whitespace_accepted),
        cmocka_unit_test(test_command_decode_over_message_max_refused),
        cmocka_unit_test(test_command_decode_empty_input_refused),
        cmocka_unit_test(test_command_decode_top_level_non_object_refused),
        cmocka_unit_test(test_command_decode_byte_order_mark_refused),
        cmocka_unit_test(test_command_decode_invalid_json_refused),
        cmocka_unit_test(test_command_decode_error_field_fits_long_unknown_key),
        cmocka_unit_test(test_event_round_trip_every_type),
        cmocka_unit_test(test_event_encode_golden_bytes),
        cmocka_unit_test(test_event_encode_large_integers_exact),
        cmocka_unit_test(test_event_decode_unknown_type_refused),
        cmocka_unit_test(test_event_decode_sequence_bounds),
        cmocka_unit_test(test_event_decode_time_ms_negative_refused),
        cmocka_unit_test(test_event_decode_missing_field_refused),
        cmocka_unit_test(test_event_decode_adjusted_zero_delta_needs_counted),
        cmocka_unit_test(test_event_decode_reserved_expiry_absent_is_zero_present_zero_refused),
        cmocka_unit_test(test_event_decode_rejected_names_checked),
        cmocka_unit_test(test_event_decode_duplicate_and_case_variant_keys_refused),
        cmocka_unit_test(test_event_decode_wrong_type_refused),
        cmocka_unit_test(test_event_decode_nul_escape_in_detail_refused),
        cmocka_unit_test(test_event_encode_cleans_invalid_detail),
        cmocka_unit_test(test_event_compact_reads_what_the_encoder_writes),
        cmocka_unit_test(test_event_compact_declines_all_but_the_compact_form),
        cmocka_unit_test(test_event_compact_agrees_with_strict_on_mutations),
        cmocka_unit_test(test_event_version_absent_is_version_1_and_decodes_without_lead_time),
        cmocka_unit_test(test_event_version_1_refuses_fields_of_version_2),
        cmocka_unit_test(test_event_encode_writes_current_version_only_from_2),
        cmocka_unit_test(test_event_version_newer_than_known_refused),
        cmocka_unit_test(test_event_version_malformed_refused),
        cmocka_unit_test(test_event_version_1_spelled_out_accepted_by_strict_path_only),
        cmocka_unit_test(test_command_create_sku_lead_time_days),
        cmocka_unit_test(test_command_order_ids_only_as_the_order_stage_makes_them),
        cmocka_unit_test(test_client_ids_with_the_order_prefix_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
