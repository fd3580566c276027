/* codec_tool.c - the JSON codecs on the command line, for tests/schema_check.py.
 *
 * decode-command|decode-event read one document from stdin and print it re-encoded (exit 0) or the error
 * (exit 1); sample-commands|sample-events N SEED print N random valid envelopes, one per line, covering
 * every type; names prints the wire names the domain knows. A test tool: nothing in stockd runs it. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog.h"
#include "domain/codec.h"

/* One more byte than the codec accepts, so that an over-long input reaches the codec and is refused there. */
#define INPUT_BYTES_MAX (STOCKD_MESSAGE_BYTES_MAX + 1)

/* splitmix64: small, seedable, the same sequence on every platform. */
static uint64_t random_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* An integer in [min, max]; the bounds themselves come up often, because that is where bugs live. */
static int64_t random_between(uint64_t *state, int64_t min, int64_t max)
{
    uint64_t roll = random_next(state) % 8;
    if (roll == 0) return min;
    if (roll == 1) return max;
    uint64_t span = (uint64_t)(max - min) + 1;
    return min + (int64_t)(random_next(state) % span);
}

/* A random identifier of 1..max_bytes bytes of [A-Za-z0-9._:-], starting with a letter or digit. */
static void random_identifier(uint64_t *state, char *out, size_t max_bytes)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static const char all[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
    size_t length = (size_t)random_between(state, 1, (int64_t)max_bytes);
    out[0] = alnum[random_next(state) % (sizeof(alnum) - 1)];
    for (size_t index = 1; index < length; index++)
        out[index] = all[random_next(state) % (sizeof(all) - 1)];
    out[length] = '\0';
}

/* Random free text of min..max bytes: ASCII including the characters JSON escapes, and 2-, 3- and 4-byte
 * UTF-8 sequences; never a control character. */
static void random_text(uint64_t *state, char *out, size_t min_bytes, size_t max_bytes)
{
    static const char *const pieces[] = {
        "a",           "Z", "7", " ",        "\"",           "\\",
        "/",           "'", "~", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "\xE4\xB8\xAD"};
    size_t target = (size_t)random_between(state, (int64_t)min_bytes, (int64_t)max_bytes);
    size_t length = 0;
    while (length < target) {
        const char *piece = pieces[random_next(state) % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t piece_length = strlen(piece);
        if (length + piece_length > target) {
            piece = "x";
            piece_length = 1;
        }
        memcpy(out + length, piece, piece_length);
        length += piece_length;
    }
    out[length] = '\0';
}

/* Random normal text (catalog_text_normalise's result) of at most max_bytes: random_text with every run
 * of spaces and the ends cleaned; may come out empty. */
static void random_normal_text(uint64_t *state, char *out, size_t max_bytes)
{
    char raw[STOCKD_CATALOG_DESCRIPTION_BYTES_MAX + 1];
    assert(max_bytes < sizeof(raw));
    random_text(state, raw, 0, max_bytes);
    const char *problem = NULL;
    int length = catalog_text_normalise(raw, strlen(raw), out, max_bytes + 1, &problem);
    assert(length >= 0);
    (void)length;
}

/* Random valid catalog data: a source, each text present or not, 0..16 attributes, a valid gtin now and
 * then. */
static void sample_catalog(uint64_t *state, char name[static STOCKD_NAME_BYTES_MAX + 1],
                           struct catalog_data *data)
{
    random_identifier(state, data->source, STOCKD_CATALOG_SOURCE_BYTES_MAX);
    random_normal_text(state, name, STOCKD_NAME_BYTES_MAX);
    random_normal_text(state, data->description, STOCKD_CATALOG_DESCRIPTION_BYTES_MAX);
    random_normal_text(state, data->brand, STOCKD_CATALOG_BRAND_BYTES_MAX);
    int64_t count = random_between(state, 0, STOCKD_CATALOG_ATTRIBUTES_MAX);
    for (int64_t index = 0; index < count; index++) {
        char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
        char value[STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX + 1];
        snprintf(key, sizeof(key), "k%" PRId64 ".%" PRId64, index, random_between(state, 0, 999));
        random_normal_text(state, value, STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX);
        if (value[0] == '\0') snprintf(value, sizeof(value), "v");
        catalog_attribute_put(data, key, value);
    }
    if (random_next(state) % 4 == 0)
        catalog_attribute_put(data, CATALOG_GTIN_KEY,
                              random_next(state) % 2 ? "4006381333931" : "036000291452");
}

/* Fills a random valid command of the given (external) type. */
static void sample_command(uint64_t *state, enum command_type type, struct command *command)
{
    memset(command, 0, sizeof(*command));
    command->type = type;
    random_identifier(state, command->command_id, STOCKD_ID_BYTES_MAX);
    random_identifier(state, command->sku, STOCKD_SKU_BYTES_MAX);
    random_identifier(state, command->location, STOCKD_LOCATION_BYTES_MAX);
    random_identifier(state, command->reservation_id, STOCKD_ID_BYTES_MAX);
    command->quantity = random_between(state, 1, STOCKD_QUANTITY_MAX);
    if (type == COMMAND_CREATE_SKU) {
        random_text(state, command->name, 1, STOCKD_NAME_BYTES_MAX);
        command->reorder_point = random_between(state, 0, STOCKD_REORDER_POINT_MAX);
        command->lead_time_days = random_between(state, 0, STOCKD_LEAD_TIME_DAYS_MAX); /* 0: absent */
    } else if (type == COMMAND_ADJUST_STOCK) {
        random_text(state, command->reason, 1, STOCKD_REASON_BYTES_MAX);
        command->counted_set = random_next(state) % 2 == 0;
        if (command->counted_set) command->counted = random_between(state, 0, STOCKD_ON_HAND_MAX);
        while (!command->counted_set && command->delta == 0) {
            command->delta = random_between(state, -STOCKD_QUANTITY_MAX, STOCKD_QUANTITY_MAX);
        }
    } else if (type == COMMAND_RESERVE_STOCK) {
        command->ttl_s = random_between(state, 0, STOCKD_RESERVATION_TTL_S_MAX);
    } else if (type == COMMAND_TRANSFER_STOCK) {
        random_identifier(state, command->to_location, STOCKD_LOCATION_BYTES_MAX);
    } else if (type == COMMAND_UPDATE_CATALOG) {
        sample_catalog(state, command->name, &command->catalog);
    }
}

/* Fills the data fields of a random valid event of the given type. */
static void sample_event_data(uint64_t *state, struct event *event)
{
    switch (event->type) {
    case EVENT_SKU_CREATED:
        random_text(state, event->name, 1, STOCKD_NAME_BYTES_MAX);
        event->reorder_point = random_between(state, 0, STOCKD_REORDER_POINT_MAX);
        event->lead_time_days = random_between(state, 0, STOCKD_LEAD_TIME_DAYS_MAX); /* 0: absent */
        break;
    case EVENT_STOCK_ADJUSTED:
        random_text(state, event->reason, 1, STOCKD_REASON_BYTES_MAX);
        event->counted_set = random_next(state) % 2 == 0;
        if (event->counted_set) event->counted = random_between(state, 0, STOCKD_ON_HAND_MAX);
        event->delta = random_between(state, -STOCKD_ON_HAND_MAX, STOCKD_ON_HAND_MAX);
        if (!event->counted_set && event->delta == 0) event->delta = 1;
        break;
    case EVENT_STOCK_RESERVED:
        event->expires_at_ms = random_between(state, 0, STOCKD_JSON_INTEGER_MAX);
        break;
    case EVENT_STOCK_TRANSFERRED:
        random_identifier(state, event->to_location, STOCKD_LOCATION_BYTES_MAX);
        break;
    case EVENT_CATALOG_UPDATED:
        sample_catalog(state, event->name, &event->catalog);
        break;
    case EVENT_COMMAND_REJECTED:
        event->rejected_type = (enum command_type)random_between(state, 1, COMMAND_TYPE_COUNT - 1);
        event->reject_reason = (enum reject_reason)random_between(state, 1, REJECT_REASON_COUNT - 1);
        random_text(state, event->detail, 0, STOCKD_DETAIL_BYTES_MAX);
        break;
    default:
        break;
    }
}

/* Fills a random valid event of the given type. */
static void sample_event(uint64_t *state, enum event_type type, struct event *event)
{
    memset(event, 0, sizeof(*event));
    event->type = type;
    random_identifier(state, event->sku, STOCKD_SKU_BYTES_MAX);
    event->sequence = (uint64_t)random_between(state, 1, STOCKD_JSON_INTEGER_MAX);
    random_identifier(state, event->command_id, STOCKD_ID_BYTES_MAX);
    event->time_ms = random_between(state, 0, STOCKD_JSON_INTEGER_MAX);
    if (type != EVENT_SKU_CREATED && type != EVENT_COMMAND_REJECTED) {
        random_identifier(state, event->location, STOCKD_LOCATION_BYTES_MAX);
        event->quantity = random_between(state, 1, STOCKD_QUANTITY_MAX);
    }
    if (type >= EVENT_STOCK_RESERVED && type <= EVENT_RESERVATION_EXPIRED &&
        type != EVENT_STOCK_TRANSFERRED) {
        random_identifier(state, event->reservation_id, STOCKD_ID_BYTES_MAX);
    }
    if (type == EVENT_STOCK_ADJUSTED) event->quantity = 0;
    sample_event_data(state, event);
}

/* Prints an encoded envelope after checking that it decodes and encodes back to the same bytes.
 * Returns 0, or 1 after saying what went wrong. */
static int sample_print(char *encoded, bool is_event)
{
    struct codec_error error;
    struct command command;
    struct event event;
    char *again = NULL;
    if (encoded == NULL) {
        fprintf(stderr, "codec_tool: out of memory\n");
        return 1;
    }
    int decoded = is_event ? codec_event_decode(encoded, strlen(encoded), &event, &error)
                           : codec_command_decode(encoded, strlen(encoded), &command, &error);
    if (decoded == 0) again = is_event ? codec_event_encode(&event) : codec_command_encode(&command);
    int status = decoded == 0 && again != NULL && strcmp(encoded, again) == 0 ? 0 : 1;
    if (status != 0)
        fprintf(stderr, "codec_tool: sample does not round-trip (%s): %s\n", error.message, encoded);
    if (status == 0) puts(encoded);
    free(again);
    free(encoded);
    return status;
}

/* sample-commands|sample-events N SEED: type i % count for the i-th envelope, so N >= count covers all. */
static int samples_print(bool is_event, const char *count_text, const char *seed_text)
{
    long count = strtol(count_text, NULL, 10);
    uint64_t state = strtoull(seed_text, NULL, 10);
    static struct command command;
    static struct event event;
    for (long index = 0; index < count; index++) {
        char *encoded;
        if (is_event) {
            sample_event(&state, (enum event_type)(1 + index % (EVENT_TYPE_COUNT - 1)), &event);
            encoded = codec_event_encode(&event);
        } else {
            /* ExpireReservations is internal: it is never accepted, so it is not sampled. */
            int type = 1 + (int)(index % (COMMAND_TYPE_COUNT - 2));
            if (type >= COMMAND_EXPIRE_RESERVATIONS) type++;
            sample_command(&state, (enum command_type)type, &command);
            encoded = codec_command_encode(&command);
        }
        if (sample_print(encoded, is_event) != 0) return 1;
    }
    return 0;
}

/* decode-command|decode-event: stdin -> re-encoded document on stdout (0) or the error (1). */
static int document_decode(bool is_event)
{
    static char input[INPUT_BYTES_MAX];
    static struct command command;
    static struct event event;
    struct codec_error error;
    size_t length = fread(input, 1, sizeof(input), stdin);
    int decoded = is_event ? codec_event_decode(input, length, &event, &error)
                           : codec_command_decode(input, length, &command, &error);
    if (decoded != 0) {
        printf("%s\n", error.message);
        return 1;
    }
    char *encoded = is_event ? codec_event_encode(&event) : codec_command_encode(&command);
    if (encoded == NULL) {
        fprintf(stderr, "codec_tool: out of memory\n");
        return 1;
    }
    puts(encoded);
    free(encoded);
    return 0;
}

/* names: every wire name the domain knows, one "kind name" per line. */
static int names_print(void)
{
    for (int type = 1; type < COMMAND_TYPE_COUNT; type++) {
        printf("command %s\n", domain_command_type_name((enum command_type)type));
    }
    for (int type = 1; type < EVENT_TYPE_COUNT; type++) {
        printf("event %s\n", domain_event_type_name((enum event_type)type));
    }
    for (int reason = 1; reason < REJECT_REASON_COUNT; reason++) {
        printf("reason %s\n", domain_reject_reason_code((enum reject_reason)reason));
    }
    return 0;
}

/* Dispatches on the verb; exit 2 with usage for anything else. */
int main(int argc, char **argv)
{
    const char *verb = argc >= 2 ? argv[1] : "";
    if (argc == 2 && strcmp(verb, "decode-command") == 0) return document_decode(false);
    if (argc == 2 && strcmp(verb, "decode-event") == 0) return document_decode(true);
    if (argc == 4 && strcmp(verb, "sample-commands") == 0) return samples_print(false, argv[2], argv[3]);
    if (argc == 4 && strcmp(verb, "sample-events") == 0) return samples_print(true, argv[2], argv[3]);
    if (argc == 2 && strcmp(verb, "names") == 0) return names_print();
    fprintf(stderr, "usage: codec_tool decode-command|decode-event < FILE\n"
                    "       codec_tool sample-commands|sample-events N SEED\n"
                    "       codec_tool names\n");
    return 2;
}
