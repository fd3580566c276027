/* codec.c - JSON encoding and strict decoding of command and event envelopes.
 *
 * One table per command and event type lists its data fields (key, kind, bounds, where the value lives in
 * the struct); decode, encode and the encoder's own check walk the same tables, so they cannot drift
 * apart. Raw bytes go through json_scan before cJSON sees them. Pure: cJSON and libc only, no I/O. */
#include "domain/codec.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "domain/catalog.h"
#include "domain/json_scan.h"
#include "domain/order.h"

#define ARRAY_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The widest table (the event envelope) has 7 fields; keys_check() keeps one slot per field. */
#define OBJECT_FIELDS_MAX 8

/* Quoted input in messages ("got \"...\"") is cut to this many bytes so that the message fits. */
#define QUOTE_BYTES_MAX 40

_Static_assert(sizeof(((struct codec_error *)0)->field) > STOCKD_JSON_PATH_BYTES_MAX, "a path fits .field");

enum field_kind {
    FIELD_TYPE,          /* the envelope's "type": decoded by the envelope code */
    FIELD_VERSION,       /* the event envelope's "version" of its data: decoded by the envelope code */
    FIELD_DATA,          /* the envelope's "data" object: decoded with the type's table */
    FIELD_IDENTIFIER,    /* string accepted by codec_identifier_valid(max), into a char array */
    FIELD_TEXT,          /* string of min..max bytes of UTF-8 without control characters, into a char array */
    FIELD_INT64,         /* integer in [min, max], into an int64_t */
    FIELD_UINT64,        /* integer in [min, max] (min >= 0), into a uint64_t */
    FIELD_COMMAND_TYPE,  /* a CommandType name, internal ones included, into an enum command_type */
    FIELD_REJECT_REASON, /* a reject reason code, into an enum reject_reason */
    FIELD_ID_LIST,       /* ExpireReservations' ids: encoded for logs, never decoded (the type is refused) */
    FIELD_ATTRIBUTES,    /* catalog attributes: a flat object of key -> text, into a struct catalog_data */
};

enum field_presence {
    PRESENCE_REQUIRED = 0,
    PRESENCE_DEFAULT_ZERO, /* may be absent, meaning 0; always encoded */
    PRESENCE_OMIT_ZERO,    /* absent means 0 ("", no attributes) and is encoded as absent; present values are
                              in [min, max] */
    PRESENCE_FLAG,         /* may be absent; the bool at flag_offset says whether it was there */
    PRESENCE_UNLESS_FLAG,  /* may be absent; encoded when the bool at flag_offset is false */
};

struct field_spec {
    const char *key;
    enum field_kind kind;
    enum field_presence presence;
    bool nonzero;       /* integers: 0 is refused even inside [min, max] */
    int64_t min;        /* integers: smallest value; strings: fewest bytes */
    int64_t max;        /* integers: largest value; strings: most bytes */
    size_t offset;      /* of the value in struct command or struct event */
    size_t size;        /* of the value; char arrays include their NUL */
    size_t flag_offset; /* PRESENCE_FLAG and PRESENCE_UNLESS_FLAG: of the bool */
};

/* A type's data object: its fields in wire order, a rewrite of the decoded value into its canonical form
 * (or NULL), and a rule across fields (or NULL); both return 0, or -1 with *error filled. */
struct type_spec {
    const struct field_spec *fields;
    size_t field_count;
    int (*canonicalise)(void *value, struct codec_error *error);
    int (*check)(const void *value, struct codec_error *error);
};

#define FIELD_AT(type, member)                                                                               \
    .offset = offsetof(struct type, member), .size = sizeof(((struct type *)0)->member)
#define IDENTIFIER(type, key_, member, max_)                                                                 \
    {                                                                                                        \
        .key = key_, .kind = FIELD_IDENTIFIER, .min = 1, .max = max_, FIELD_AT(type, member)                 \
    }
#define TEXT(type, key_, member, min_, max_)                                                                 \
    {                                                                                                        \
        .key = key_, .kind = FIELD_TEXT, .min = min_, .max = max_, FIELD_AT(type, member)                    \
    }
#define INTEGER(type, key_, member, presence_, min_, max_)                                                   \
    {                                                                                                        \
        .key = key_, .kind = FIELD_INT64, .presence = presence_, .min = min_, .max = max_,                   \
        FIELD_AT(type, member)                                                                               \
    }
#define TYPE_SPEC(fields_, check_)                                                                           \
    {                                                                                                        \
        .fields = fields_, .field_count = ARRAY_COUNT(fields_), .check = check_                              \
    }

/* ---- commands ---------------------------------------------------------------------------------------- */

static const struct field_spec command_envelope_fields[] = {
    IDENTIFIER(command, "command_id", command_id, STOCKD_ID_BYTES_MAX),
    {.key = "type", .kind = FIELD_TYPE},
    IDENTIFIER(command, "sku", sku, STOCKD_SKU_BYTES_MAX),
    {.key = "data", .kind = FIELD_DATA},
};

static const struct field_spec create_sku_fields[] = {
    TEXT(command, "name", name, 1, STOCKD_NAME_BYTES_MAX),
    INTEGER(command, "reorder_point", reorder_point, PRESENCE_DEFAULT_ZERO, 0, STOCKD_REORDER_POINT_MAX),
    INTEGER(command, "lead_time_days", lead_time_days, PRESENCE_OMIT_ZERO, 1, STOCKD_LEAD_TIME_DAYS_MAX),
};

static const struct field_spec receive_stock_fields[] = {
    IDENTIFIER(command, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(command, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
};

static const struct field_spec adjust_stock_fields[] = {
    IDENTIFIER(command, "location", location, STOCKD_LOCATION_BYTES_MAX),
    TEXT(command, "reason", reason, 1, STOCKD_REASON_BYTES_MAX),
    {.key = "delta",
     .kind = FIELD_INT64,
     .presence = PRESENCE_UNLESS_FLAG,
     .nonzero = true,
     .min = -STOCKD_QUANTITY_MAX,
     .max = STOCKD_QUANTITY_MAX,
     FIELD_AT(command, delta),
     .flag_offset = offsetof(struct command, counted_set)},
    {.key = "counted",
     .kind = FIELD_INT64,
     .presence = PRESENCE_FLAG,
     .min = 0,
     .max = STOCKD_ON_HAND_MAX,
     FIELD_AT(command, counted),
     .flag_offset = offsetof(struct command, counted_set)},
};

static const struct field_spec reserve_stock_fields[] = {
    IDENTIFIER(command, "reservation_id", reservation_id, STOCKD_ID_BYTES_MAX),
    IDENTIFIER(command, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(command, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
    INTEGER(command, "ttl_seconds", ttl_s, PRESENCE_OMIT_ZERO, 1, STOCKD_RESERVATION_TTL_S_MAX),
};

static const struct field_spec settle_reservation_fields[] = {
    IDENTIFIER(command, "reservation_id", reservation_id, STOCKD_ID_BYTES_MAX),
};

static const struct field_spec transfer_stock_fields[] = {
    IDENTIFIER(command, "from_location", location, STOCKD_LOCATION_BYTES_MAX),
    IDENTIFIER(command, "to_location", to_location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(command, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
};

static const struct field_spec expire_reservations_fields[] = {
    {.key = "reservation_ids",
     .kind = FIELD_ID_LIST,
     .min = 0,
     .max = STOCKD_EXPIRE_BATCH_MAX,
     FIELD_AT(command, expire_ids)},
};

static int error_set(struct codec_error *error, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* UpdateCatalog and CatalogUpdated carry one source's catalog data; every optional text is left out
 * when empty. */
#define CATALOG_FIELDS(type)                                                                                 \
    IDENTIFIER(type, "source", catalog.source, STOCKD_CATALOG_SOURCE_BYTES_MAX),                             \
        {.key = "name",                                                                                      \
         .kind = FIELD_TEXT,                                                                                 \
         .presence = PRESENCE_OMIT_ZERO,                                                                     \
         .min = 1,                                                                                           \
         .max = STOCKD_NAME_BYTES_MAX,                                                                       \
         FIELD_AT(type, name)},                                                                              \
        {.key = "description",                                                                               \
         .kind = FIELD_TEXT,                                                                                 \
         .presence = PRESENCE_OMIT_ZERO,                                                                     \
         .min = 1,                                                                                           \
         .max = STOCKD_CATALOG_DESCRIPTION_BYTES_MAX,                                                        \
         FIELD_AT(type, catalog.description)},                                                               \
        {.key = "brand",                                                                                     \
         .kind = FIELD_TEXT,                                                                                 \
         .presence = PRESENCE_OMIT_ZERO,                                                                     \
         .min = 1,                                                                                           \
         .max = STOCKD_CATALOG_BRAND_BYTES_MAX,                                                              \
         FIELD_AT(type, catalog.brand)},                                                                     \
    {                                                                                                        \
        .key = "attributes", .kind = FIELD_ATTRIBUTES, .presence = PRESENCE_OMIT_ZERO, .min = 0,             \
        .max = STOCKD_CATALOG_ATTRIBUTES_MAX, FIELD_AT(type, catalog)                                        \
    }

static const struct field_spec update_catalog_fields[] = {CATALOG_FIELDS(command)};

/* A client may send decomposed text: UpdateCatalog's texts are stored in NFC, whatever the composition
 * they came in (CatalogUpdated carries what the command became, so events need no rewrite). */
static int catalog_command_canonicalise(void *value, struct codec_error *error)
{
    struct command *command = value;
    char field[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + sizeof("data.attributes.")];
    const char *problem = catalog_data_nfc(command->name, &command->catalog, field, sizeof(field));
    return problem == NULL ? 0 : error_set(error, field, "%s", problem);
}

/* Catalog text is normal (trimmed, single spaces) and a gtin attribute has its check digit. */
static int catalog_command_check(const void *value, struct codec_error *error)
{
    const struct command *command = value;
    const char *field = NULL;
    const char *problem = catalog_data_check(command->name, &command->catalog, &field);
    return problem == NULL ? 0 : error_set(error, field, "%s", problem);
}

/* AdjustStock carries exactly one of delta (never 0 when present) and counted. */
static int adjust_command_check(const void *value, struct codec_error *error)
{
    const struct command *command = value;
    bool has_delta = command->delta != 0;
    if (has_delta == command->counted_set) {
        return error_set(error, "data", "needs exactly one of delta and counted, got %s",
                         has_delta ? "both" : "neither");
    }
    return 0;
}

static const struct type_spec command_types[COMMAND_TYPE_COUNT] = {
    [COMMAND_CREATE_SKU] = TYPE_SPEC(create_sku_fields, NULL),
    [COMMAND_RECEIVE_STOCK] = TYPE_SPEC(receive_stock_fields, NULL),
    [COMMAND_ADJUST_STOCK] = TYPE_SPEC(adjust_stock_fields, adjust_command_check),
    [COMMAND_RESERVE_STOCK] = TYPE_SPEC(reserve_stock_fields, NULL),
    [COMMAND_RELEASE_RESERVATION] = TYPE_SPEC(settle_reservation_fields, NULL),
    [COMMAND_FULFIL_RESERVATION] = TYPE_SPEC(settle_reservation_fields, NULL),
    [COMMAND_TRANSFER_STOCK] = TYPE_SPEC(transfer_stock_fields, NULL),
    [COMMAND_EXPIRE_RESERVATIONS] = TYPE_SPEC(expire_reservations_fields, NULL),
    [COMMAND_UPDATE_CATALOG] = {.fields = update_catalog_fields,
                                .field_count = ARRAY_COUNT(update_catalog_fields),
                                .canonicalise = catalog_command_canonicalise,
                                .check = catalog_command_check},
};

/* ---- events ------------------------------------------------------------------------------------------ */

/* "version" is the version of the data object's shape for the type: absent means 1, and the encoder
 * writes it only from version 2 on, so that every event written before versions existed is version 1 of
 * its type as it stands. */
static const struct field_spec event_envelope_fields[] = {
    {.key = "type", .kind = FIELD_TYPE},
    {.key = "version", .kind = FIELD_VERSION, .presence = PRESENCE_DEFAULT_ZERO},
    IDENTIFIER(event, "sku", sku, STOCKD_SKU_BYTES_MAX),
    {.key = "sequence",
     .kind = FIELD_UINT64,
     .min = 1,
     .max = STOCKD_JSON_INTEGER_MAX,
     FIELD_AT(event, sequence)},
    IDENTIFIER(event, "command_id", command_id, STOCKD_ID_BYTES_MAX),
    INTEGER(event, "time_ms", time_ms, PRESENCE_REQUIRED, 0, STOCKD_JSON_INTEGER_MAX),
    {.key = "data", .kind = FIELD_DATA},
};

/* SkuCreated version 2 (2026-12): lead_time_days, optional. */
static const struct field_spec sku_created_fields[] = {
    TEXT(event, "name", name, 1, STOCKD_NAME_BYTES_MAX),
    INTEGER(event, "reorder_point", reorder_point, PRESENCE_REQUIRED, 0, STOCKD_REORDER_POINT_MAX),
    INTEGER(event, "lead_time_days", lead_time_days, PRESENCE_OMIT_ZERO, 1, STOCKD_LEAD_TIME_DAYS_MAX),
};

/* SkuCreated version 1 (until 2026-12): no lead time (read as 0, unknown). */
static const struct field_spec sku_created_v1_fields[] = {
    TEXT(event, "name", name, 1, STOCKD_NAME_BYTES_MAX),
    INTEGER(event, "reorder_point", reorder_point, PRESENCE_REQUIRED, 0, STOCKD_REORDER_POINT_MAX),
};

static const struct field_spec stock_received_fields[] = {
    IDENTIFIER(event, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(event, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
};

/* delta is counted minus on-hand for a count, so it spans the whole on-hand range. */
static const struct field_spec stock_adjusted_fields[] = {
    IDENTIFIER(event, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(event, "delta", delta, PRESENCE_REQUIRED, -STOCKD_ON_HAND_MAX, STOCKD_ON_HAND_MAX),
    TEXT(event, "reason", reason, 1, STOCKD_REASON_BYTES_MAX),
    {.key = "counted",
     .kind = FIELD_INT64,
     .presence = PRESENCE_FLAG,
     .min = 0,
     .max = STOCKD_ON_HAND_MAX,
     FIELD_AT(event, counted),
     .flag_offset = offsetof(struct event, counted_set)},
};

static const struct field_spec stock_reserved_fields[] = {
    IDENTIFIER(event, "reservation_id", reservation_id, STOCKD_ID_BYTES_MAX),
    IDENTIFIER(event, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(event, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
    INTEGER(event, "expires_at_ms", expires_at_ms, PRESENCE_OMIT_ZERO, 1, STOCKD_JSON_INTEGER_MAX),
};

/* Released, fulfilled and expired reservations say where the stock was and how much. */
static const struct field_spec reservation_settled_fields[] = {
    IDENTIFIER(event, "reservation_id", reservation_id, STOCKD_ID_BYTES_MAX),
    IDENTIFIER(event, "location", location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(event, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
};

static const struct field_spec stock_transferred_fields[] = {
    IDENTIFIER(event, "from_location", location, STOCKD_LOCATION_BYTES_MAX),
    IDENTIFIER(event, "to_location", to_location, STOCKD_LOCATION_BYTES_MAX),
    INTEGER(event, "quantity", quantity, PRESENCE_REQUIRED, 1, STOCKD_QUANTITY_MAX),
};

static const struct field_spec command_rejected_fields[] = {
    {.key = "command_type", .kind = FIELD_COMMAND_TYPE, FIELD_AT(event, rejected_type)},
    {.key = "reason", .kind = FIELD_REJECT_REASON, FIELD_AT(event, reject_reason)},
    TEXT(event, "detail", detail, 0, STOCKD_DETAIL_BYTES_MAX),
};

/* StockAdjusted moves stock unless it records a count that matched what was on hand. */
static int adjust_event_check(const void *value, struct codec_error *error)
{
    const struct event *event = value;
    if (event->delta == 0 && !event->counted_set) {
        return error_set(error, "data.delta", "must not be 0 unless counted is present");
    }
    return 0;
}

static const struct field_spec catalog_updated_fields[] = {CATALOG_FIELDS(event)};

static int catalog_event_check(const void *value, struct codec_error *error)
{
    const struct event *event = value;
    const char *field = NULL;
    const char *problem = catalog_data_check(event->name, &event->catalog, &field);
    return problem == NULL ? 0 : error_set(error, field, "%s", problem);
}

static const struct type_spec event_types[EVENT_TYPE_COUNT] = {
    [EVENT_SKU_CREATED] = TYPE_SPEC(sku_created_fields, NULL),
    [EVENT_STOCK_RECEIVED] = TYPE_SPEC(stock_received_fields, NULL),
    [EVENT_STOCK_ADJUSTED] = TYPE_SPEC(stock_adjusted_fields, adjust_event_check),
    [EVENT_STOCK_RESERVED] = TYPE_SPEC(stock_reserved_fields, NULL),
    [EVENT_RESERVATION_RELEASED] = TYPE_SPEC(reservation_settled_fields, NULL),
    [EVENT_RESERVATION_FULFILLED] = TYPE_SPEC(reservation_settled_fields, NULL),
    [EVENT_STOCK_TRANSFERRED] = TYPE_SPEC(stock_transferred_fields, NULL),
    [EVENT_RESERVATION_EXPIRED] = TYPE_SPEC(reservation_settled_fields, NULL),
    [EVENT_COMMAND_REJECTED] = TYPE_SPEC(command_rejected_fields, NULL),
    [EVENT_CATALOG_UPDATED] = TYPE_SPEC(catalog_updated_fields, catalog_event_check),
};

/* Events on the topic are never rewritten, so every version of a type's data stays readable forever.
 * event_types above holds the current version of each type, the one the encoder writes; the older ones
 * are listed here, oldest first (version 1 at [0]), and decode into the same struct event, fields the
 * old version lacks left 0. A new event type needs nothing here: it starts at version 1. A changed type
 * moves its old table here and the fixture of its day goes into tests/fixtures (docs/events.md). */
struct type_versions {
    const struct type_spec *older; /* versions 1 .. count */
    uint32_t count;
};

static const struct type_spec sku_created_older[] = {TYPE_SPEC(sku_created_v1_fields, NULL)};

static const struct type_versions event_older_versions[EVENT_TYPE_COUNT] = {
    [EVENT_SKU_CREATED] = {sku_created_older, ARRAY_COUNT(sku_created_older)},
};

/* Contract in codec.h. */
uint32_t codec_event_version_current(enum event_type type)
{
    assert(type > EVENT_NONE && type < EVENT_TYPE_COUNT);
    return event_older_versions[type].count + 1;
}

/* The data table of version (1 .. current) of an event type. */
static const struct type_spec *event_type_version(enum event_type type, uint32_t version)
{
    uint32_t current = codec_event_version_current(type);
    assert(version >= 1 && version <= current);
    return version == current ? &event_types[type] : &event_older_versions[type].older[version - 1];
}

/* ---- errors and messages ----------------------------------------------------------------------------- */

/* Fills *error: field, and "field: <formatted>" as the message ("<formatted>" when field is ""), both cut
 * to fit. Returns -1. */
static int error_set(struct codec_error *error, const char *field, const char *format, ...)
{
    assert(error != NULL && field != NULL && format != NULL);
    snprintf(error->field, sizeof(error->field), "%s", field);
    /* A problem of the whole input (not JSON, trailing bytes) has no field and no prefix. */
    int prefix_length = field[0] ? snprintf(error->message, sizeof(error->message), "%s: ", field) : 0;
    assert(prefix_length >= 0);
    if ((size_t)prefix_length < sizeof(error->message)) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error->message + prefix_length, sizeof(error->message) - (size_t)prefix_length, format,
                  arguments);
        va_end(arguments);
    }
    return -1;
}

/* Writes text as a quoted string for a message: printable ASCII as is, other bytes as \xNN, cut after
 * QUOTE_BYTES_MAX bytes with "...". Input is untrusted: the result is always printable ASCII. */
static const char *text_quote(const char *text, char *out, size_t out_size)
{
    assert(out_size >= 4 * QUOTE_BYTES_MAX + 8);
    size_t length = 0;
    out[length++] = '"';
    size_t index = 0;
    for (; text[index] != '\0' && index < QUOTE_BYTES_MAX; index++) {
        unsigned char byte = (unsigned char)text[index];
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
            out[length++] = (char)byte;
        } else {
            length += (size_t)snprintf(out + length, out_size - length, "\\x%02X", byte);
        }
    }
    if (text[index] != '\0') {
        memcpy(out + length, "...", 3);
        length += 3;
    }
    out[length++] = '"';
    out[length] = '\0';
    return out;
}

/* Writes a double for a message: integers exactly, others in the shortest form that reads back. */
static void number_format(double number, char *out, size_t out_size)
{
    if (!isfinite(number)) {
        snprintf(out, out_size, "a number beyond the range of a double");
    } else if (floor(number) == number && fabs(number) > 9007199254740991.0) {
        /* The double is not the number that was sent: never echo a value the client did not write. */
        snprintf(out, out_size, "an integer of magnitude beyond 2^53 - 1");
    } else if (floor(number) == number) {
        snprintf(out, out_size, "%.0f", number);
    } else {
        for (int precision = 15; precision <= 17; precision++) {
            snprintf(out, out_size, "%.*g", precision, number);
            if (strtod(out, NULL) == number) break;
        }
    }
}

/* Describes a JSON value for "got ..." in a message. Returns out or a constant. */
static const char *value_describe(const cJSON *item, char *out, size_t out_size)
{
    if (cJSON_IsString(item)) return text_quote(item->valuestring, out, out_size);
    if (cJSON_IsNumber(item)) {
        number_format(item->valuedouble, out, out_size);
        return out;
    }
    if (cJSON_IsTrue(item)) return "true";
    if (cJSON_IsFalse(item)) return "false";
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "an unknown value";
}

/* Fills *error with "<field>: <expected>, got <value>". Returns -1. */
static int error_got(struct codec_error *error, const char *field, const char *expected, const cJSON *item)
{
    char described[4 * QUOTE_BYTES_MAX + 16];
    return error_set(error, field, "%s, got %s", expected,
                     value_describe(item, described, sizeof(described)));
}

/* Writes "parent.key" (or "key" at the top) into out; key bytes other than printable ASCII become '?'. */
static void path_join(char out[static STOCKD_JSON_PATH_BYTES_MAX + 1], const char *parent, const char *key)
{
    /* By hand, not snprintf: this runs for every member of every decoded envelope. */
    size_t length = strnlen(parent, STOCKD_JSON_PATH_BYTES_MAX);
    memcpy(out, parent, length);
    if (length > 0 && length < STOCKD_JSON_PATH_BYTES_MAX) out[length++] = '.';
    for (size_t index = 0; key[index] != '\0' && length < STOCKD_JSON_PATH_BYTES_MAX; index++) {
        unsigned char byte = (unsigned char)key[index];
        out[length++] = byte > 0x20 && byte < 0x7f ? (char)byte : '?';
    }
    out[length < STOCKD_JSON_PATH_BYTES_MAX ? length : STOCKD_JSON_PATH_BYTES_MAX] = '\0';
}

/* ---- field values ------------------------------------------------------------------------------------ */

/* [A-Za-z0-9] whatever the locale says. */
static bool ascii_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Contract in codec.h. */
bool codec_identifier_valid(const char *text, size_t max_bytes)
{
    assert(text != NULL);
    size_t length = strnlen(text, max_bytes + 1);
    if (length == 0 || length > max_bytes || !ascii_alnum(text[0])) return false;
    for (size_t index = 1; index < length; index++) {
        char c = text[index];
        if (!ascii_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
    }
    return true;
}

/* Contract in codec.h. */
size_t codec_utf8_sequence_decode(const unsigned char *text, size_t length, uint32_t *code_point)
{
    assert(length > 0);
    unsigned char lead = text[0];
    size_t sequence_length;
    uint32_t value, value_min;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
        sequence_length = 2, value = lead & 0x1Fu, value_min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        sequence_length = 3, value = lead & 0x0Fu, value_min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        sequence_length = 4, value = lead & 0x07u, value_min = 0x10000;
    } else {
        return 0;
    }
    if (length < sequence_length) return 0;
    for (size_t index = 1; index < sequence_length; index++) {
        if ((text[index] & 0xC0u) != 0x80u) return 0;
        value = (value << 6) | (text[index] & 0x3Fu);
    }
    if (value < value_min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
    *code_point = value;
    return sequence_length;
}

/* C0 controls, DEL and C1 controls: they have no place in a name, a reason or a detail. */
static bool code_point_is_control(uint32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

/* Checks free text: well-formed UTF-8 without control characters. Returns 0, or -1 with *error filled. */
static int text_check(const char *text, size_t length, const char *path, struct codec_error *error)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t index = 0;
    while (index < length) {
        uint32_t code_point = 0;
        size_t sequence_length = codec_utf8_sequence_decode(bytes + index, length - index, &code_point);
        if (sequence_length == 0) return error_set(error, path, "not valid UTF-8 at byte %zu", index);
        if (code_point_is_control(code_point)) {
            return error_set(error, path, "contains control character U+%04" PRIX32 " at byte %zu",
                             code_point, index);
        }
        index += sequence_length;
    }
    return 0;
}

/* Where the field's value lives in a struct command or struct event. */
static const void *field_value(const struct field_spec *spec, const void *base)
{
    return (const char *)base + spec->offset;
}

/* Where the decoder writes the field's value. */
static void *field_slot(const struct field_spec *spec, void *base)
{
    return (char *)base + spec->offset;
}

/* The presence flag of a PRESENCE_FLAG or PRESENCE_UNLESS_FLAG field. */
static bool field_flag(const struct field_spec *spec, const void *base)
{
    return *(const bool *)((const char *)base + spec->flag_offset);
}

/* Whether the encoder writes the field, by its presence rule. */
static bool field_present(const struct field_spec *spec, const void *base)
{
    switch (spec->presence) {
    case PRESENCE_REQUIRED:
    case PRESENCE_DEFAULT_ZERO:
        return true;
    case PRESENCE_OMIT_ZERO:
        if (spec->kind == FIELD_TEXT) return *(const char *)field_value(spec, base) != '\0';
        if (spec->kind == FIELD_ATTRIBUTES)
            return ((const struct catalog_data *)field_value(spec, base))->attribute_count != 0;
        assert(spec->kind == FIELD_INT64);
        return *(const int64_t *)field_value(spec, base) != 0;
    case PRESENCE_FLAG:
        return field_flag(spec, base);
    case PRESENCE_UNLESS_FLAG:
        return !field_flag(spec, base);
    }
    assert(!"unreachable: presence rules are listed above");
    return false;
}

/* Refuses an integer outside the field's bounds. Returns 0, or -1 with *error filled. */
static int integer_check(const struct field_spec *spec, bool in_range, const char *got, const char *path,
                         struct codec_error *error)
{
    if (in_range) return 0;
    return error_set(error, path, "must be %s integer in [%" PRId64 ", %" PRId64 "], got %s",
                     spec->nonzero ? "a non-zero" : "an", spec->min, spec->max, got);
}

/* Checks the ExpireReservations id list. Returns 0, or -1 with *error filled. */
static int id_list_check(const struct command *command, const char *path, struct codec_error *error)
{
    if (command->expire_count > STOCKD_EXPIRE_BATCH_MAX) {
        return error_set(error, path, "more than %d ids", STOCKD_EXPIRE_BATCH_MAX);
    }
    for (uint32_t index = 0; index < command->expire_count; index++) {
        if (!codec_identifier_valid(command->expire_ids[index], STOCKD_ID_BYTES_MAX)) {
            return error_set(error, path, "id %" PRIu32 " is not a valid identifier", index);
        }
    }
    return 0;
}

/* Checks catalog attributes: at most spec->max, keys valid and ascending, values 1.. bytes of text.
 * Returns 0, or -1 with *error filled. */
static int attributes_check(const struct field_spec *spec, const struct catalog_data *data, const char *path,
                            struct codec_error *error)
{
    if (data->attribute_count > (uint32_t)spec->max)
        return error_set(error, path, "more than %" PRId64 " attributes", spec->max);
    for (uint32_t index = 0; index < data->attribute_count; index++) {
        const struct catalog_attribute *attribute = &data->attributes[index];
        char quoted[4 * QUOTE_BYTES_MAX + 16];
        if (!catalog_key_valid(attribute->key)) {
            return error_set(
                error, path,
                "key %s must be 1 to %d of [a-z0-9_.-] starting with a lower-case letter or digit",
                text_quote(attribute->key, quoted, sizeof(quoted)), STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX);
        }
        if (index > 0 && strcmp(data->attributes[index - 1].key, attribute->key) >= 0)
            return error_set(error, path, "keys must be unique and in ascending order");
        size_t length = strnlen(attribute->value, sizeof(attribute->value));
        if (length == 0 || length > STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX) {
            return error_set(error, path, "value of %s must be 1 to %d bytes", attribute->key,
                             STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX);
        }
        if (text_check(attribute->value, length, path, error) != 0) return -1;
    }
    return 0;
}

/* Checks one value held in a struct against its field: the one check behind both decode (after the
 * value is read) and encode (asserted). Returns 0, or -1 with *error filled. */
static int field_check(const struct field_spec *spec, const void *base, const char *path,
                       struct codec_error *error)
{
    const void *value = field_value(spec, base);
    char got[32];
    switch (spec->kind) {
    case FIELD_IDENTIFIER:
    case FIELD_TEXT: {
        size_t length = strnlen(value, spec->size);
        assert(length < spec->size && (size_t)spec->max < spec->size);
        if (length > (size_t)spec->max)
            return error_set(error, path, "longer than %" PRId64 " bytes", spec->max);
        if (length < (size_t)spec->min) return error_set(error, path, "must not be empty");
        if (spec->kind == FIELD_TEXT) return text_check(value, length, path, error);
        if (codec_identifier_valid(value, (size_t)spec->max)) return 0;
        char quoted[4 * QUOTE_BYTES_MAX + 16];
        return error_set(error, path, "must be [A-Za-z0-9._:-] starting with a letter or digit, got %s",
                         text_quote(value, quoted, sizeof(quoted)));
    }
    case FIELD_INT64: {
        int64_t number = *(const int64_t *)value;
        bool in_range = number >= spec->min && number <= spec->max && !(spec->nonzero && number == 0);
        if (in_range) return 0; /* the common case formats nothing */
        snprintf(got, sizeof(got), "%" PRId64, number);
        return integer_check(spec, in_range, got, path, error);
    }
    case FIELD_UINT64: {
        uint64_t number = *(const uint64_t *)value;
        bool in_range = number >= (uint64_t)spec->min && number <= (uint64_t)spec->max;
        if (in_range) return 0;
        snprintf(got, sizeof(got), "%" PRIu64, number);
        return integer_check(spec, in_range, got, path, error);
    }
    case FIELD_COMMAND_TYPE:
        if (domain_command_type_name(*(const enum command_type *)value) != NULL) return 0;
        return error_set(error, path, "not a command type");
    case FIELD_REJECT_REASON:
        if (domain_reject_reason_code(*(const enum reject_reason *)value) != NULL) return 0;
        return error_set(error, path, "not a reject reason");
    case FIELD_ID_LIST:
        return id_list_check(base, path, error);
    case FIELD_ATTRIBUTES:
        return attributes_check(spec, value, path, error);
    case FIELD_TYPE:
    case FIELD_VERSION:
    case FIELD_DATA:
        break;
    }
    assert(!"unreachable: envelope type, version and data are not values");
    return -1;
}

/* ---- decoding ---------------------------------------------------------------------------------------- */

/* The member with exactly this key (case-sensitive; keys_check() has refused duplicates), or NULL. */
static const cJSON *member_find(const cJSON *object, const char *key)
{
    for (const cJSON *member = object->child; member != NULL; member = member->next) {
        if (strcmp(member->string, key) == 0) return member;
    }
    return NULL;
}

/* ASCII case-insensitive equality: the locale must not decide what counts as a duplicate key. */
static bool key_equal_caseless(const char *left, const char *right)
{
    for (;; left++, right++) {
        char l = *left >= 'A' && *left <= 'Z' ? (char)(*left - 'A' + 'a') : *left;
        char r = *right >= 'A' && *right <= 'Z' ? (char)(*right - 'A' + 'a') : *right;
        if (l != r) return false;
        if (l == '\0') return true;
    }
}

/* Index of the field whose key equals key (ignoring ASCII case when caseless), or count. */
static size_t field_find(const struct field_spec *fields, size_t count, const char *key, bool caseless)
{
    for (size_t index = 0; index < count; index++) {
        if (caseless ? key_equal_caseless(fields[index].key, key) : strcmp(fields[index].key, key) == 0) {
            return index;
        }
    }
    return count;
}

/* Refuses duplicate keys (also when they differ only in case) and then unknown keys, in document
 * order. Linear in members: each is compared with the table, never with the other members. Returns 0,
 * or -1 with *error filled. */
static int keys_check(const cJSON *object, const char *path, const struct field_spec *fields, size_t count,
                      struct codec_error *error)
{
    const cJSON *seen[OBJECT_FIELDS_MAX] = {NULL};
    char member_path[STOCKD_JSON_PATH_BYTES_MAX + 1];
    char quoted[4 * QUOTE_BYTES_MAX + 16];
    assert(count <= OBJECT_FIELDS_MAX);
    for (const cJSON *member = object->child; member != NULL; member = member->next) {
        size_t index = field_find(fields, count, member->string, true);
        if (index == count) continue;
        if (seen[index] != NULL) {
            path_join(member_path, path, member->string);
            if (strcmp(seen[index]->string, member->string) == 0) {
                return error_set(error, member_path, "duplicate key");
            }
            return error_set(error, member_path, "duplicate key (differs from %s only in case)",
                             text_quote(seen[index]->string, quoted, sizeof(quoted)));
        }
        seen[index] = member;
    }
    for (const cJSON *member = object->child; member != NULL; member = member->next) {
        if (field_find(fields, count, member->string, false) == count) {
            return error_set(error, path, "unknown key %s",
                             text_quote(member->string, quoted, sizeof(quoted)));
        }
    }
    return 0;
}

/* Reads a JSON string into the field's char array. Returns 0, or -1 with *error filled. */
static int string_read(const struct field_spec *spec, const cJSON *item, const char *path, void *base,
                       struct codec_error *error)
{
    if (!cJSON_IsString(item)) return error_got(error, path, "must be a string", item);
    size_t length = strlen(item->valuestring);
    if (length > (size_t)spec->max) return error_set(error, path, "longer than %" PRId64 " bytes", spec->max);
    assert(length < spec->size);
    memcpy(field_slot(spec, base), item->valuestring, length + 1);
    return 0;
}

/* Reads a JSON number that is finite, integral and inside the field's bounds; valueint is never used (it
 * saturates). Returns 0, or -1 with *error filled. */
static int integer_read(const struct field_spec *spec, const cJSON *item, const char *path, void *base,
                        struct codec_error *error)
{
    double number = item->valuedouble;
    bool in_range = cJSON_IsNumber(item) && isfinite(number) && floor(number) == number &&
                    number >= (double)spec->min && number <= (double)spec->max &&
                    !(spec->nonzero && number == 0);
    if (!in_range) { /* describe the value only when refusing it: this runs for every integer decoded */
        char got[4 * QUOTE_BYTES_MAX + 16];
        return integer_check(spec, false, value_describe(item, got, sizeof(got)), path, error);
    }
    if (spec->kind == FIELD_UINT64) {
        *(uint64_t *)field_slot(spec, base) = (uint64_t)number;
    } else {
        *(int64_t *)field_slot(spec, base) = (int64_t)number;
    }
    return 0;
}

/* Reads a command type name or a reject reason code into its enum. Returns 0, or -1 with *error filled. */
static int name_read(const struct field_spec *spec, const cJSON *item, const char *path, void *base,
                     struct codec_error *error)
{
    if (!cJSON_IsString(item)) return error_got(error, path, "must be a string", item);
    if (spec->kind == FIELD_COMMAND_TYPE) {
        enum command_type type = domain_command_type_parse(item->valuestring);
        if (type == COMMAND_NONE) return error_got(error, path, "must be a command type", item);
        *(enum command_type *)field_slot(spec, base) = type;
    } else {
        enum reject_reason reason = domain_reject_reason_parse(item->valuestring);
        if (reason == REJECT_NONE) return error_got(error, path, "must be a reject reason code", item);
        *(enum reject_reason *)field_slot(spec, base) = reason;
    }
    return 0;
}

/* Reads a flat object of key -> string into the catalog data's attributes, sorted by key; duplicate keys
 * are refused (cJSON keeps both). The values are checked by field_check after. Returns 0, or -1 with
 * *error filled. */
static int attributes_read(const struct field_spec *spec, const cJSON *item, const char *path, void *base,
                           struct codec_error *error)
{
    if (!cJSON_IsObject(item)) return error_got(error, path, "must be an object", item);
    struct catalog_data *data = field_slot(spec, base);
    data->attribute_count = 0;
    char quoted[4 * QUOTE_BYTES_MAX + 16];
    for (const cJSON *member = item->child; member != NULL; member = member->next) {
        if (!catalog_key_valid(member->string)) {
            return error_set(
                error, path,
                "key %s must be 1 to %d of [a-z0-9_.-] starting with a lower-case letter or digit",
                text_quote(member->string, quoted, sizeof(quoted)), STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX);
        }
        if (catalog_attribute_get(data, member->string) != NULL)
            return error_set(error, path, "duplicate key %s", member->string);
        if (!cJSON_IsString(member)) return error_got(error, path, "values must be strings", member);
        size_t length = strlen(member->valuestring);
        if (length == 0 || length > STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX) {
            return error_set(error, path, "value of %s must be 1 to %d bytes", member->string,
                             STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX);
        }
        if (catalog_attribute_put(data, member->string, member->valuestring) != 0)
            return error_set(error, path, "more than %" PRId64 " attributes", spec->max);
    }
    return 0;
}

/* Decodes the member of object named by spec into the struct, or applies the rule for its absence.
 * Returns 0, or -1 with *error filled. */
static int member_decode(const struct field_spec *spec, const cJSON *object, const char *path, void *base,
                         struct codec_error *error)
{
    char member_path[STOCKD_JSON_PATH_BYTES_MAX + 1];
    path_join(member_path, path, spec->key);
    const cJSON *item = member_find(object, spec->key);
    if (item == NULL) {
        return spec->presence == PRESENCE_REQUIRED ? error_set(error, member_path, "missing") : 0;
    }
    int result;
    switch (spec->kind) {
    case FIELD_IDENTIFIER:
    case FIELD_TEXT:
        result = string_read(spec, item, member_path, base, error);
        break;
    case FIELD_INT64:
    case FIELD_UINT64:
        result = integer_read(spec, item, member_path, base, error);
        break;
    case FIELD_COMMAND_TYPE:
    case FIELD_REJECT_REASON:
        result = name_read(spec, item, member_path, base, error);
        break;
    case FIELD_ATTRIBUTES:
        result = attributes_read(spec, item, member_path, base, error);
        break;
    default:
        assert(!"unreachable: the caller decodes type and data; ExpireReservations is refused earlier");
        return -1;
    }
    if (result != 0) return -1;
    if (spec->presence == PRESENCE_FLAG) *(bool *)((char *)base + spec->flag_offset) = true;
    return field_check(spec, base, member_path, error);
}

/* Decodes every plain field of a table (not type and data) in table order. Returns 0, or -1. */
static int members_decode(const cJSON *object, const char *path, const struct field_spec *fields,
                          size_t count, void *base, struct codec_error *error)
{
    for (size_t index = 0; index < count; index++) {
        enum field_kind kind = fields[index].kind;
        if (kind == FIELD_TYPE || kind == FIELD_VERSION || kind == FIELD_DATA) continue;
        if (member_decode(&fields[index], object, path, base, error) != 0) return -1;
    }
    return 0;
}

/* Decodes the envelope's "data" object with the type's table and rule. Returns 0, or -1. */
/* Applies a type's rules to its decoded fields: the rewrite into canonical form, then the check across
 * fields. Every decoder of a data object calls it. Returns 0, or -1 with *error filled. */
static int type_rules_apply(const struct type_spec *type, void *base, struct codec_error *error)
{
    if (type->canonicalise != NULL && type->canonicalise(base, error) != 0) return -1;
    return type->check != NULL ? type->check(base, error) : 0;
}

static int data_decode(const cJSON *root, const struct type_spec *type, void *base, struct codec_error *error)
{
    const cJSON *data = member_find(root, "data");
    if (data == NULL) return error_set(error, "data", "missing");
    if (!cJSON_IsObject(data)) return error_got(error, "data", "must be an object", data);
    if (keys_check(data, "data", type->fields, type->field_count, error) != 0) return -1;
    if (members_decode(data, "data", type->fields, type->field_count, base, error) != 0) return -1;
    return type_rules_apply(type, base, error);
}

/* The envelope's "type" as a string, or NULL with *error filled. */
static const char *type_read(const cJSON *root, struct codec_error *error)
{
    const cJSON *type = member_find(root, "type");
    if (type == NULL) {
        error_set(error, "type", "missing");
        return NULL;
    }
    if (!cJSON_IsString(type)) {
        error_got(error, "type", "must be a string", type);
        return NULL;
    }
    return type->valuestring;
}

/* Turns a json_scan finding into an error. Returns -1. */
static int scan_error(const struct json_scan_result *scan, const char *json, size_t json_bytes,
                      struct codec_error *error)
{
    const char *where = scan->in_key ? "a key " : "";
    switch (scan->problem) {
    case JSON_SCAN_NUL_BYTE:
        return error_set(error, scan->path, "%scontains a raw NUL byte at byte %zu", where, scan->offset);
    case JSON_SCAN_CONTROL_BYTE:
        return error_set(error, scan->path, "%scontains a raw control character at byte %zu (escape it)",
                         where, scan->offset);
    case JSON_SCAN_NUL_ESCAPE:
        return error_set(error, scan->path, "%scontains NUL (\\u0000)", where);
    case JSON_SCAN_BAD_NUMBER:
        return error_set(error, scan->path, "malformed number at byte %zu", scan->offset);
    case JSON_SCAN_TOO_DEEP:
        return error_set(error, scan->path, "nested deeper than %d levels at byte %zu", STOCKD_JSON_DEPTH_MAX,
                         scan->offset);
    case JSON_SCAN_NOT_INTEGER: {
        /* Every number stockd reads is an integer: name the token (cut) as the range checks do. */
        size_t length = 0; /* json has no NUL after its json_bytes */
        while (scan->offset + length < json_bytes &&
               strchr("0123456789+-.eE", json[scan->offset + length]) != NULL &&
               json[scan->offset + length] != '\0')
            length++;
        int shown = length > 32 ? 32 : (int)length;
        return error_set(error, scan->path, "must be an integer, got %.*s%s", shown, json + scan->offset,
                         length > 32 ? "..." : "");
    }
    case JSON_SCAN_OK:
        break;
    }
    assert(!"unreachable: json_scan reported a problem");
    return -1;
}

/* JSON whitespace only: cJSON also skips every other byte below 0x21. */
static bool byte_is_whitespace(char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

/* Refuses what must never reach cJSON: no bytes, too many, a byte order mark, what json_scan finds.
 * Returns 0, or -1 with *error filled; *cut_short says whether the input ends in the middle of a value. */
static int document_check(const char *json, size_t json_bytes, bool *cut_short, struct codec_error *error)
{
    if (json_bytes > STOCKD_MESSAGE_BYTES_MAX) {
        return error_set(error, "", "longer than %d bytes", STOCKD_MESSAGE_BYTES_MAX);
    }
    size_t leading = 0;
    while (leading < json_bytes && byte_is_whitespace(json[leading]))
        leading++;
    if (leading == json_bytes) return error_set(error, "", "empty input");
    if (json_bytes >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        return error_set(error, "", "starts with a byte order mark");
    }
    struct json_scan_result scan;
    if (json_scan(json, json_bytes, STOCKD_JSON_DEPTH_MAX, &scan) != 0)
        return scan_error(&scan, json, json_bytes, error);
    *cut_short = scan.cut_short;
    return 0;
}

/* Checks the raw bytes, parses them and refuses trailing characters and non-objects. Returns the root
 * object, which the caller deletes, or NULL with *error filled. */
static cJSON *document_parse(const char *json, size_t json_bytes, struct codec_error *error)
{
    bool cut_short = false;
    if (document_check(json, json_bytes, &cut_short, error) != 0) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, json_bytes, &end, false);
    size_t offset = end != NULL && end >= json ? (size_t)(end - json) : 0;
    if (root == NULL) {
        if (cut_short) {
            error_set(error, "", "unexpected end of input at byte %zu", json_bytes);
        } else {
            error_set(error, "", "not valid JSON at byte %zu", offset);
        }
        return NULL;
    }
    while (offset < json_bytes && byte_is_whitespace(json[offset]))
        offset++;
    if (offset < json_bytes) {
        error_set(error, "", "trailing characters after the JSON value at byte %zu", offset);
    } else if (!cJSON_IsObject(root)) {
        error_got(error, "", "must be an object", root);
    } else {
        return root;
    }
    cJSON_Delete(root);
    return NULL;
}

struct cJSON *codec_document_parse(const char *json, size_t json_bytes, struct codec_error *error)
{
    assert(json != NULL && error != NULL);
    return document_parse(json, json_bytes, error);
}

/* Decodes a parsed command envelope. Returns 0, or -1 with *error filled. */
static int command_envelope_decode(const cJSON *root, struct command *out, struct codec_error *error)
{
    const struct field_spec *fields = command_envelope_fields;
    size_t count = ARRAY_COUNT(command_envelope_fields);
    if (keys_check(root, "", fields, count, error) != 0) return -1;
    const char *type_name = type_read(root, error);
    if (type_name == NULL) return -1;
    char quoted[4 * QUOTE_BYTES_MAX + 16];
    out->type = domain_command_type_parse(type_name);
    if (out->type == COMMAND_NONE) {
        return error_set(error, "type", "unknown command type %s",
                         text_quote(type_name, quoted, sizeof(quoted)));
    }
    if (out->type == COMMAND_EXPIRE_RESERVATIONS)
        return error_set(error, "type", "%s is internal", type_name);
    if (members_decode(root, "", fields, count, out, error) != 0) return -1;
    return data_decode(root, &command_types[out->type], out, error);
}

/* Reads the envelope's "version" of an event of a known type: absent means 1; a version above the
 * current one is from a newer stockd and refused with a message saying so. Returns 0 with *version in
 * [1, current], or -1 with *error filled. */
static int version_read(const cJSON *root, enum event_type type, uint32_t *version, struct codec_error *error)
{
    uint32_t current = codec_event_version_current(type);
    const cJSON *item = member_find(root, "version");
    *version = 1;
    if (item == NULL) return 0;
    double number = item->valuedouble;
    if (!cJSON_IsNumber(item) || !isfinite(number) || floor(number) != number || number < 1 ||
        number > (double)STOCKD_JSON_INTEGER_MAX) {
        return error_got(error, "version", "must be an integer >= 1", item);
    }
    if (number > (double)current) {
        return error_set(error, "version",
                         "%s version %.0f is newer than this stockd reads (up to %" PRIu32 "): upgrade it",
                         domain_event_type_name(type), number, current);
    }
    *version = (uint32_t)number;
    return 0;
}

/* Decodes a parsed event envelope. Returns 0, or -1 with *error filled. */
static int event_envelope_decode(const cJSON *root, struct event *out, struct codec_error *error)
{
    const struct field_spec *fields = event_envelope_fields;
    size_t count = ARRAY_COUNT(event_envelope_fields);
    if (keys_check(root, "", fields, count, error) != 0) return -1;
    const char *type_name = type_read(root, error);
    if (type_name == NULL) return -1;
    char quoted[4 * QUOTE_BYTES_MAX + 16];
    out->type = domain_event_type_parse(type_name);
    if (out->type == EVENT_NONE) {
        return error_set(error, "type", "unknown event type %s",
                         text_quote(type_name, quoted, sizeof(quoted)));
    }
    uint32_t version = 0;
    if (version_read(root, out->type, &version, error) != 0) return -1;
    if (members_decode(root, "", fields, count, out, error) != 0) return -1;
    return data_decode(root, event_type_version(out->type, version), out, error);
}

/* Contract in codec.h. */
int codec_command_decode(const char *json, size_t json_bytes, struct command *out, struct codec_error *error)
{
    assert(json != NULL || json_bytes == 0);
    assert(out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    memset(error, 0, sizeof(*error));
    cJSON *root = document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    int result = command_envelope_decode(root, out, error);
    cJSON_Delete(root);
    /* Whoever wrote it, a command on a topic uses the order stage's ids only as the stage makes them. */
    const char *field = NULL;
    const char *reserved = result == 0 ? order_command_ids_check(out, &field) : NULL;
    if (reserved != NULL) return error_set(error, field, "%s", reserved);
    return result;
}

/* The envelope of POST /v1/commands: command_id may be left out (the API then supplies one). */
static const struct field_spec command_request_fields[] = {
    {.key = "command_id",
     .kind = FIELD_IDENTIFIER,
     .presence = PRESENCE_DEFAULT_ZERO,
     .min = 1,
     .max = STOCKD_ID_BYTES_MAX,
     FIELD_AT(command, command_id)},
    {.key = "type", .kind = FIELD_TYPE},
    IDENTIFIER(command, "sku", sku, STOCKD_SKU_BYTES_MAX),
    {.key = "data", .kind = FIELD_DATA},
};

/* Contract in codec.h. */
int codec_command_request_decode(const char *json, size_t json_bytes, struct command *out,
                                 struct codec_error *error)
{
    assert(json != NULL || json_bytes == 0);
    assert(out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    memset(error, 0, sizeof(*error));
    cJSON *root = document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    int result = -1;
    size_t count = ARRAY_COUNT(command_request_fields);
    const char *type_name = NULL;
    char quoted[4 * QUOTE_BYTES_MAX + 16];
    if (keys_check(root, "", command_request_fields, count, error) != 0) goto out_delete;
    if ((type_name = type_read(root, error)) == NULL) goto out_delete;
    out->type = domain_command_type_parse(type_name);
    if (out->type == COMMAND_NONE) {
        error_set(error, "type", "unknown command type %s", text_quote(type_name, quoted, sizeof(quoted)));
    } else if (out->type == COMMAND_EXPIRE_RESERVATIONS) {
        error_set(error, "type", "%s is internal", type_name);
    } else if (members_decode(root, "", command_request_fields, count, out, error) == 0) {
        result = data_decode(root, &command_types[out->type], out, error);
    }
out_delete:
    cJSON_Delete(root);
    return result;
}

/* Contract in codec.h. */
int codec_command_body_decode(enum command_type type, const char *json, size_t json_bytes,
                              enum codec_body_sku sku_rule, bool reservation_id_from_path,
                              struct command *out, struct codec_error *error)
{
    assert(type > COMMAND_NONE && type < COMMAND_TYPE_COUNT && type != COMMAND_EXPIRE_RESERVATIONS);
    assert(json != NULL || json_bytes == 0);
    assert(out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    memset(error, 0, sizeof(*error));
    out->type = type;
    const struct type_spec *spec = &command_types[type];
    struct field_spec fields[OBJECT_FIELDS_MAX];
    size_t count = 0;
    if (sku_rule != CODEC_BODY_SKU_NONE) {
        fields[count] = (struct field_spec)IDENTIFIER(command, "sku", sku, STOCKD_SKU_BYTES_MAX);
        if (sku_rule == CODEC_BODY_SKU_OPTIONAL) fields[count].presence = PRESENCE_DEFAULT_ZERO;
        count++;
    }
    for (size_t i = 0; i < spec->field_count; i++) {
        if (reservation_id_from_path && strcmp(spec->fields[i].key, "reservation_id") == 0) continue;
        assert(count < OBJECT_FIELDS_MAX);
        fields[count++] = spec->fields[i];
    }
    cJSON *root = document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    int result = -1;
    if (keys_check(root, "", fields, count, error) == 0 &&
        members_decode(root, "", fields, count, out, error) == 0)
        result = type_rules_apply(spec, out, error);
    cJSON_Delete(root);
    return result;
}

/* ---- the compact form, decoded without cJSON ---------------------------------------------------------- */

/* What codec_event_encode writes, read in one pass: no whitespace, keys in table order, strings without
 * escapes, integers as plain digits. Anything else is left to the strict path, which also words every
 * refusal: this path only ever accepts, and only what the strict path accepts with the same result (every
 * value goes through the same field_check, every type through the same cross-field rule; duplicate keys
 * cannot occur because the table is only ever walked forward). */

/* Digits of an integer in the compact form: enough for STOCKD_JSON_INTEGER_MAX (16), few enough that the
 * value fits an int64_t exactly; longer ones are out of every field's bounds anyway. */
#define COMPACT_DIGITS_MAX 16
/* Type names and reject reason codes are shorter than this. */
#define COMPACT_NAME_BYTES_MAX 48

_Static_assert(STOCKD_JSON_INTEGER_MAX < INT64_C(9999999999999999), "a field's bound has at most 16 digits");

struct compact_reader {
    const char *bytes;
    size_t length;
    size_t position;
    int64_t version; /* the envelope's "version", 0 when absent */
};

/* Steps over the byte expected. Returns false when another one (or none) is there. */
static bool compact_byte(struct compact_reader *reader, char expected)
{
    if (reader->position >= reader->length || reader->bytes[reader->position] != expected) return false;
    reader->position++;
    return true;
}

/* Reads a string that has no escape and no byte below 0x20 (cJSON would decode it to exactly its bytes);
 * *text points into the input. Returns false for any other string or none. */
static bool compact_string(struct compact_reader *reader, const char **text, size_t *text_length)
{
    if (!compact_byte(reader, '"')) return false;
    const char *start = reader->bytes + reader->position;
    const char *end = reader->bytes + reader->length;
    for (const char *cursor = start; cursor < end; cursor++) {
        unsigned char byte = (unsigned char)*cursor;
        if (byte == '"') {
            *text = start;
            *text_length = (size_t)(cursor - start);
            reader->position = (size_t)(cursor + 1 - reader->bytes);
            return true;
        }
        if (byte == '\\' || byte < 0x20) return false;
    }
    return false;
}

/* Reads an integer written as the encoder writes it: -?(0|[1-9][0-9]*), at most COMPACT_DIGITS_MAX
 * digits, no "-0". What follows is checked by the caller (a ',' or a '}'), which refuses 1.5 and 1e3. */
static bool compact_integer(struct compact_reader *reader, int64_t *value)
{
    bool negative = compact_byte(reader, '-');
    size_t start = reader->position;
    int64_t number = 0;
    while (reader->position < reader->length && reader->position - start < COMPACT_DIGITS_MAX + 1) {
        char byte = reader->bytes[reader->position];
        if (byte < '0' || byte > '9') break;
        number = number * 10 + (byte - '0');
        reader->position++;
    }
    size_t digits = reader->position - start;
    if (digits == 0 || digits > COMPACT_DIGITS_MAX) return false;
    if (reader->bytes[start] == '0' && (digits > 1 || negative)) return false;
    *value = negative ? -number : number;
    return true;
}

/* Reads a string no longer than COMPACT_NAME_BYTES_MAX into a NUL-terminated buffer. */
static bool compact_name(struct compact_reader *reader, char name[static COMPACT_NAME_BYTES_MAX + 1])
{
    const char *text;
    size_t text_length;
    if (!compact_string(reader, &text, &text_length) || text_length > COMPACT_NAME_BYTES_MAX) return false;
    memcpy(name, text, text_length);
    name[text_length] = '\0';
    return true;
}

/* Reads one plain field's value into the struct; it must then pass field_check as the strict path's
 * would. */
static bool compact_value(struct compact_reader *reader, const struct field_spec *spec, void *base)
{
    const char *text;
    size_t text_length;
    int64_t number;
    char name[COMPACT_NAME_BYTES_MAX + 1];
    switch (spec->kind) {
    case FIELD_IDENTIFIER:
    case FIELD_TEXT:
        if (!compact_string(reader, &text, &text_length) || text_length > (size_t)spec->max) return false;
        assert(text_length < spec->size);
        memcpy(field_slot(spec, base), text, text_length);
        ((char *)field_slot(spec, base))[text_length] = '\0';
        break;
    case FIELD_INT64:
        if (!compact_integer(reader, &number)) return false;
        *(int64_t *)field_slot(spec, base) = number;
        break;
    case FIELD_UINT64:
        if (!compact_integer(reader, &number) || number < 0) return false;
        *(uint64_t *)field_slot(spec, base) = (uint64_t)number;
        break;
    case FIELD_COMMAND_TYPE:
        if (!compact_name(reader, name)) return false;
        *(enum command_type *)field_slot(spec, base) = domain_command_type_parse(name);
        break;
    case FIELD_REJECT_REASON:
        if (!compact_name(reader, name)) return false;
        *(enum reject_reason *)field_slot(spec, base) = domain_reject_reason_parse(name);
        break;
    default: /* type and data are the envelope's; id lists are never in an event */
        return false;
    }
    if (spec->presence == PRESENCE_FLAG) *(bool *)((char *)base + spec->flag_offset) = true;
    struct codec_error ignored; /* the strict path words the refusal */
    return field_check(spec, base, "", &ignored) == 0;
}

/* The key spec names, exactly. */
static bool compact_key_is(const struct field_spec *spec, const char *key, size_t key_length)
{
    return strncmp(spec->key, key, key_length) == 0 && spec->key[key_length] == '\0';
}

static bool compact_object(struct compact_reader *reader, const struct field_spec *fields, size_t count,
                           struct event *out);

/* Reads the value of one member of an event envelope or of its data object. */
static bool compact_member(struct compact_reader *reader, const struct field_spec *spec, struct event *out)
{
    if (spec->kind == FIELD_TYPE) {
        char name[COMPACT_NAME_BYTES_MAX + 1];
        if (!compact_name(reader, name)) return false;
        out->type = domain_event_type_parse(name);
        return out->type != EVENT_NONE;
    }
    if (spec->kind == FIELD_VERSION) return compact_integer(reader, &reader->version);
    if (spec->kind != FIELD_DATA) return compact_value(reader, spec, out);
    assert(out->type > EVENT_NONE && out->type < EVENT_TYPE_COUNT); /* "type" comes first in the table */
    const struct type_spec *type = &event_types[out->type];
    struct codec_error ignored;
    return compact_object(reader, type->fields, type->field_count, out) &&
           (type->check == NULL || type->check(out, &ignored) == 0);
}

/* Reads an object whose keys are those of the table, in its order; a field left out must be one that may
 * be absent (its value stays 0, its flag false). */
static bool compact_object(struct compact_reader *reader, const struct field_spec *fields, size_t count,
                           struct event *out)
{
    if (!compact_byte(reader, '{')) return false;
    size_t next = 0; /* the first field of the table not read nor passed over */
    if (!compact_byte(reader, '}')) {
        do {
            const char *key;
            size_t key_length;
            if (!compact_string(reader, &key, &key_length) || !compact_byte(reader, ':')) return false;
            for (; next < count && !compact_key_is(&fields[next], key, key_length); next++) {
                if (fields[next].presence == PRESENCE_REQUIRED) return false;
            }
            if (next == count || !compact_member(reader, &fields[next], out)) return false;
            next++;
        } while (compact_byte(reader, ','));
        if (!compact_byte(reader, '}')) return false;
    }
    for (; next < count; next++) {
        if (fields[next].presence == PRESENCE_REQUIRED) return false;
    }
    return true;
}

/* Contract in codec.h. */
int codec_event_decode_compact(const char *json, size_t json_bytes, struct event *out)
{
    assert(json != NULL || json_bytes == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    if (json_bytes > STOCKD_MESSAGE_BYTES_MAX) return 1;
    struct compact_reader reader = {.bytes = json, .length = json_bytes};
    bool decoded = compact_object(&reader, event_envelope_fields, ARRAY_COUNT(event_envelope_fields), out);
    if (!decoded || reader.position != json_bytes) return 1;
    /* The encoder writes the current version, and "version" only from 2 on: anything else (an older
     * version, read with its own table, or "version":1 spelled out) goes the strict way. */
    uint32_t current = codec_event_version_current(out->type);
    return reader.version == (current > 1 ? (int64_t)current : 0) ? 0 : 1;
}

/* Contract in codec.h: the compact form first, the strict path for everything else. */
int codec_event_decode(const char *json, size_t json_bytes, struct event *out, struct codec_error *error)
{
    assert(json != NULL || json_bytes == 0);
    assert(out != NULL && error != NULL);
    memset(error, 0, sizeof(*error));
    if (codec_event_decode_compact(json, json_bytes, out) == 0) return 0;
    memset(out, 0, sizeof(*out));
    cJSON *root = document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    int result = event_envelope_decode(root, out, error);
    cJSON_Delete(root);
    return result;
}

/* ---- encoding ---------------------------------------------------------------------------------------- */

/* Compact JSON is written straight into a growing buffer: the envelopes are small and flat, and building a
 * cJSON tree first cost one allocation per member (a third of the handler's encode time). Integers are
 * written as digits: cJSON's printer would write 9007199254740991 as 9.00719925474099e+15. */
struct json_writer {
    char *text;
    size_t length;
    size_t capacity;
    bool failed; /* out of memory: everything after is ignored */
};

static void writer_reserve(struct json_writer *writer, size_t extra)
{
    if (writer->failed || writer->length + extra + 1 <= writer->capacity) return;
    /* 1 KiB at first: every envelope but one with long free text fits without growing (the reservation of
     * 6 bytes per byte of a string, for escapes, made 256 grow twice for most events). */
    size_t capacity = writer->capacity ? writer->capacity : 1024;
    while (capacity < writer->length + extra + 1)
        capacity *= 2;
    char *text = realloc(writer->text, capacity);
    if (text == NULL) {
        writer->failed = true;
        return;
    }
    writer->text = text;
    writer->capacity = capacity;
}

static void writer_raw(struct json_writer *writer, const char *bytes, size_t length)
{
    writer_reserve(writer, length);
    if (writer->failed) return;
    memcpy(writer->text + writer->length, bytes, length);
    writer->length += length;
    writer->text[writer->length] = '\0';
}

/* Writes a JSON string: quotes, backslashes and control characters escaped (cJSON's choices), other bytes
 * as they are (the checks before made them well-formed UTF-8). */
static void writer_string(struct json_writer *writer, const char *text)
{
    size_t length = strlen(text);
    writer_reserve(writer, 2 + 6 * length);
    if (writer->failed) return;
    char *out = writer->text + writer->length;
    *out++ = '"';
    for (size_t index = 0; index < length; index++) {
        unsigned char byte = (unsigned char)text[index];
        if (byte >= 0x20 && byte != '"' && byte != '\\') { /* nearly every byte: nothing to look up */
            *out++ = (char)byte;
            continue;
        }
        const char *escape = byte == '"'    ? "\\\""
                             : byte == '\\' ? "\\\\"
                             : byte == '\b' ? "\\b"
                             : byte == '\f' ? "\\f"
                             : byte == '\n' ? "\\n"
                             : byte == '\r' ? "\\r"
                             : byte == '\t' ? "\\t"
                                            : NULL;
        if (escape != NULL) {
            memcpy(out, escape, 2);
            out += 2;
        } else if (byte < 0x20) {
            out += sprintf(out, "\\u%04x", byte);
        } else {
            *out++ = (char)byte;
        }
    }
    *out++ = '"';
    writer->length = (size_t)(out - writer->text);
    writer->text[writer->length] = '\0';
}

/* Writes `"key":` preceded by a comma unless it opens its object. Keys are the tables' own: plain ASCII,
 * nothing to escape. */
static void writer_key(struct json_writer *writer, const char *key, bool first)
{
    size_t length = strlen(key);
    writer_reserve(writer, length + 4);
    if (writer->failed) return;
    char *out = writer->text + writer->length;
    if (!first) *out++ = ',';
    *out++ = '"';
    memcpy(out, key, length);
    out += length;
    *out++ = '"';
    *out++ = ':';
    *out = '\0';
    writer->length = (size_t)(out - writer->text);
}

/* Writes an integer in decimal, as "%" PRId64 would: by hand, since vsnprintf was a third of the time an
 * event took to encode. */
static void writer_integer(struct json_writer *writer, int64_t value)
{
    char digits[24];
    size_t start = sizeof(digits);
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[--start] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) digits[--start] = '-';
    writer_raw(writer, digits + start, sizeof(digits) - start);
}

/* Writes one field's value. */
static void field_write(struct json_writer *writer, const struct field_spec *spec, const void *base)
{
    const void *value = field_value(spec, base);
    switch (spec->kind) {
    case FIELD_IDENTIFIER:
    case FIELD_TEXT:
        writer_string(writer, value);
        return;
    case FIELD_INT64:
        writer_integer(writer, *(const int64_t *)value);
        return;
    case FIELD_UINT64: {
        uint64_t number = *(const uint64_t *)value;
        assert(number <= (uint64_t)STOCKD_JSON_INTEGER_MAX); /* field_check said so */
        writer_integer(writer, (int64_t)number);
        return;
    }
    case FIELD_COMMAND_TYPE:
        writer_string(writer, domain_command_type_name(*(const enum command_type *)value));
        return;
    case FIELD_REJECT_REASON:
        writer_string(writer, domain_reject_reason_code(*(const enum reject_reason *)value));
        return;
    case FIELD_ATTRIBUTES: {
        const struct catalog_data *data = value;
        writer_raw(writer, "{", 1);
        for (uint32_t index = 0; index < data->attribute_count; index++) {
            writer_key(writer, data->attributes[index].key, index == 0); /* [a-z0-9_.-]: nothing to escape */
            writer_string(writer, data->attributes[index].value);
        }
        writer_raw(writer, "}", 1);
        return;
    }
    case FIELD_ID_LIST: {
        const struct command *command = base;
        writer_raw(writer, "[", 1);
        for (uint32_t index = 0; index < command->expire_count; index++) {
            if (index > 0) writer_raw(writer, ",", 1);
            writer_string(writer, command->expire_ids[index]);
        }
        writer_raw(writer, "]", 1);
        return;
    }
    case FIELD_TYPE:
    case FIELD_VERSION:
    case FIELD_DATA:
        break;
    }
    assert(!"unreachable: the envelope writes type, version and data");
}

/* Writes the fields of a table that are present, in table order, each checked first: encoding a value
 * the decoder would refuse is a programmer error. The path is only for the assertion's message. */
static void fields_write(struct json_writer *writer, const char *path, const struct field_spec *fields,
                         size_t count, const void *base, bool *first)
{
    for (size_t index = 0; index < count; index++) {
        const struct field_spec *spec = &fields[index];
        if (!field_present(spec, base)) continue;
        struct codec_error error;
        int checked = field_check(spec, base, path, &error);
        assert(checked == 0 && "encoding a field the decoder refuses");
        (void)checked;
        writer_key(writer, spec->key, *first);
        *first = false;
        field_write(writer, spec, base);
    }
}

/* Writes the envelope's data object, checking the type's cross-field rule (asserted). */
static void data_write(struct json_writer *writer, const struct type_spec *type, const void *base)
{
    bool first = true;
    writer_raw(writer, "{", 1);
    fields_write(writer, "data", type->fields, type->field_count, base, &first);
    writer_raw(writer, "}", 1);
    struct codec_error error;
    int checked = type->check != NULL ? type->check(base, &error) : 0;
    assert(checked == 0 && "encoding fields that break the type's rule");
    (void)checked;
}

/* Encodes an envelope: its fields in table order, type and data included. Returns a malloc'd compact
 * string, or NULL when out of memory. */
static char *envelope_encode(const struct field_spec *fields, size_t count, const void *base,
                             const char *type_name, uint32_t version, const struct type_spec *type)
{
    assert(type_name != NULL && type->fields != NULL);
    struct json_writer writer = {0};
    bool first = true;
    writer_raw(&writer, "{", 1);
    for (size_t index = 0; index < count; index++) {
        if (fields[index].kind == FIELD_TYPE) {
            writer_key(&writer, fields[index].key, first);
            writer_string(&writer, type_name);
            first = false;
        } else if (fields[index].kind == FIELD_VERSION) {
            if (version > 1) { /* absent means 1 */
                writer_key(&writer, fields[index].key, first);
                writer_integer(&writer, version);
            }
        } else if (fields[index].kind == FIELD_DATA) {
            writer_key(&writer, fields[index].key, first);
            data_write(&writer, type, base);
            first = false;
        } else {
            fields_write(&writer, "", &fields[index], 1, base, &first);
        }
    }
    writer_raw(&writer, "}", 1);
    if (!writer.failed) return writer.text;
    free(writer.text);
    return NULL;
}

/* Contract in codec.h; the command is checked field by field first (asserted). */
char *codec_command_encode(const struct command *command)
{
    assert(command != NULL);
    const char *type_name = domain_command_type_name(command->type);
    assert(type_name != NULL && "command type");
    return envelope_encode(command_envelope_fields, ARRAY_COUNT(command_envelope_fields), command, type_name,
                           0, &command_types[command->type]);
}

/* Copies detail with every byte that is not well-formed UTF-8, and every control character, replaced by
 * '?': detail is for people and may be cut from longer text, so it is cleaned, not asserted. */
static void detail_clean(char *out, const char *detail, size_t detail_size)
{
    size_t length = strnlen(detail, detail_size);
    assert(length < detail_size);
    size_t out_length = 0;
    for (size_t index = 0; index < length;) {
        uint32_t code_point = 0;
        size_t sequence_length =
            codec_utf8_sequence_decode((const unsigned char *)detail + index, length - index, &code_point);
        if (sequence_length == 0 || code_point_is_control(code_point)) {
            out[out_length++] = '?';
            index += sequence_length == 0 ? 1 : sequence_length;
        } else {
            memcpy(out + out_length, detail + index, sequence_length);
            out_length += sequence_length;
            index += sequence_length;
        }
    }
    out[out_length] = '\0';
}

/* Contract in codec.h; detail is cleaned, every other field is checked (asserted). */
char *codec_event_encode(const struct event *event)
{
    assert(event != NULL);
    const char *type_name = domain_event_type_name(event->type);
    assert(type_name != NULL && "event type");
    struct event cleaned = *event;
    detail_clean(cleaned.detail, event->detail, sizeof(event->detail));
    return envelope_encode(event_envelope_fields, ARRAY_COUNT(event_envelope_fields), &cleaned, type_name,
                           codec_event_version_current(event->type), &event_types[event->type]);
}
