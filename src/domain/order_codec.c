/* order_codec.c - JSON of the orders topic's records, of an order's state and of POST /v1/orders (cJSON).
 *
 * The raw-bytes checks are codec.c's (codec_document_parse); this file checks the shapes: every object's
 * keys against a list (case-sensitive, no duplicates), strings, exact integers in range, ids. */
#include "domain/order_codec.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static int fail(struct codec_error *error, const char *field, const char *format, ...)
{
    snprintf(error->field, sizeof(error->field), "%s", field);
    char message[192];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    if (field[0] != '\0')
        snprintf(error->message, sizeof(error->message), "%.60s: %s", field, message);
    else
        snprintf(error->message, sizeof(error->message), "%s", message);
    return -1;
}

static void path_join(char *out, size_t out_bytes, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(out, out_bytes, "%s", key);
    else
        snprintf(out, out_bytes, "%s.%s", parent, key);
}

/* Every key of object is one of keys (exact case), none twice. */
static int keys_check(const cJSON *object, const char *path, const char *const *keys, size_t key_count,
                      struct codec_error *error)
{
    for (const cJSON *item = object->child; item != NULL; item = item->next) {
        char field[64];
        path_join(field, sizeof(field), path, item->string);
        size_t i = 0;
        while (i < key_count && strcmp(keys[i], item->string) != 0)
            i++;
        if (i == key_count) return fail(error, field, "unknown key");
        for (const cJSON *earlier = object->child; earlier != item; earlier = earlier->next) {
            if (strcmp(earlier->string, item->string) == 0) return fail(error, field, "duplicate key");
        }
    }
    return 0;
}

static const cJSON *member(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

/* A string member of 1..max_bytes bytes; an identifier's syntax when identifier. Absent: 1 when optional. */
static int string_get(const cJSON *object, const char *path, const char *key, bool required, bool identifier,
                      size_t max_bytes, char *out, size_t out_bytes, struct codec_error *error)
{
    assert(out_bytes > max_bytes);
    char field[64];
    path_join(field, sizeof(field), path, key);
    const cJSON *item = member(object, key);
    if (item == NULL) return required ? fail(error, field, "is required") : 1;
    if (!cJSON_IsString(item)) return fail(error, field, "must be a string");
    size_t length = strlen(item->valuestring);
    if (length < 1 || length > max_bytes) return fail(error, field, "must be 1 to %zu bytes", max_bytes);
    if (identifier && !codec_identifier_valid(item->valuestring, max_bytes))
        return fail(error, field, "must be letters, digits and ._:- starting with a letter or digit");
    memcpy(out, item->valuestring, length + 1);
    return 0;
}

/* An integer member in [minimum, maximum], exact. Absent: 1 when optional. */
static int integer_get(const cJSON *object, const char *path, const char *key, bool required, int64_t minimum,
                       int64_t maximum, int64_t *out, struct codec_error *error)
{
    char field[64];
    path_join(field, sizeof(field), path, key);
    const cJSON *item = member(object, key);
    if (item == NULL) return required ? fail(error, field, "is required") : 1;
    double value = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!cJSON_IsNumber(item) || value != floor(value) || value < (double)minimum || value > (double)maximum)
        return fail(error, field, "must be an integer from %" PRId64 " to %" PRId64, minimum, maximum);
    *out = (int64_t)value;
    return 0;
}

static int bool_get(const cJSON *object, const char *path, const char *key, bool *out,
                    struct codec_error *error)
{
    char field[64];
    path_join(field, sizeof(field), path, key);
    const cJSON *item = member(object, key);
    if (item == NULL) return fail(error, field, "is required");
    if (!cJSON_IsBool(item)) return fail(error, field, "must be true or false");
    *out = cJSON_IsTrue(item);
    return 0;
}

static int order_id_get(const cJSON *object, const char *path, char *out, struct codec_error *error)
{
    if (string_get(object, path, "order_id", true, true, STOCKD_ORDER_ID_BYTES_MAX, out,
                   STOCKD_ORDER_ID_BYTES_MAX + 1, error) != 0)
        return -1;
    return 0;
}

/* ---- PlaceOrder and the request body ---------------------------------------------------------------- */

static int lines_decode(const cJSON *object, struct order_input *out, struct codec_error *error)
{
    const cJSON *lines = member(object, "lines");
    if (lines == NULL) return fail(error, "lines", "is required");
    if (!cJSON_IsArray(lines)) return fail(error, "lines", "must be an array");
    int count = cJSON_GetArraySize(lines);
    if (count < 1 || count > STOCKD_ORDER_LINES_MAX)
        return fail(error, "lines", "must hold 1 to %d lines", STOCKD_ORDER_LINES_MAX);
    static const char *const keys[] = {"sku", "location", "quantity"};
    uint32_t index = 0;
    for (const cJSON *line = lines->child; line != NULL; line = line->next, index++) {
        char path[32];
        snprintf(path, sizeof(path), "lines[%u]", (unsigned)index);
        if (!cJSON_IsObject(line)) return fail(error, path, "must be an object");
        if (keys_check(line, path, keys, 3, error) != 0 ||
            string_get(line, path, "sku", true, true, STOCKD_SKU_BYTES_MAX, out->lines[index].sku,
                       sizeof(out->lines[index].sku), error) != 0 ||
            string_get(line, path, "location", true, true, STOCKD_LOCATION_BYTES_MAX,
                       out->lines[index].location, sizeof(out->lines[index].location), error) != 0 ||
            integer_get(line, path, "quantity", true, 1, STOCKD_QUANTITY_MAX, &out->lines[index].quantity,
                        error) != 0)
            return -1;
        for (uint32_t earlier = 0; earlier < index; earlier++) {
            if (strcmp(out->lines[earlier].sku, out->lines[index].sku) == 0 &&
                strcmp(out->lines[earlier].location, out->lines[index].location) == 0)
                return fail(error, path,
                            "repeats the SKU and location of lines[%u]: one line per SKU and location",
                            (unsigned)earlier);
        }
    }
    out->line_count = index;
    return 0;
}

static int ttl_get(const cJSON *object, struct order_input *out, struct codec_error *error)
{
    int status =
        integer_get(object, "", "ttl_seconds", false, 1, STOCKD_RESERVATION_TTL_S_MAX, &out->ttl_s, error);
    if (status == 1) out->ttl_s = 0;
    return status < 0 ? -1 : 0;
}

int order_codec_request_decode(const char *json, size_t json_bytes, struct order_input *out,
                               struct codec_error *error)
{
    assert(json != NULL && out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    cJSON *root = codec_document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    static const char *const keys[] = {"order_id", "lines", "ttl_seconds"};
    int status = -1;
    if (keys_check(root, "", keys, 3, error) == 0 && order_id_get(root, "", out->order_id, error) == 0 &&
        lines_decode(root, out, error) == 0 && ttl_get(root, out, error) == 0) {
        out->type = ORDER_INPUT_PLACE;
        status = 0;
    }
    cJSON_Delete(root);
    return status;
}

/* ---- records --------------------------------------------------------------------------------------- */

static int position_parse(const char *text, int32_t *partition, int64_t *offset)
{
    char *end = NULL;
    if (text[0] < '0' || text[0] > '9') return -1;
    unsigned long long parsed_partition = strtoull(text, &end, 10);
    if (*end != ':' || parsed_partition >= STOCKD_PARTITIONS_MAX || end[1] < '0' || end[1] > '9') return -1;
    unsigned long long parsed_offset = strtoull(end + 1, &end, 10);
    if (*end != '\0' || parsed_offset > (unsigned long long)STOCKD_JSON_INTEGER_MAX) return -1;
    *partition = (int32_t)parsed_partition;
    *offset = (int64_t)parsed_offset;
    return 0;
}

static int outcome_decode(const cJSON *root, struct order_input *out, struct codec_error *error)
{
    static const char *const keys[] = {"type", "version",  "order_id", "line",
                                       "op",   "accepted", "reason",   "position"};
    int64_t line = 0;
    char op[16];
    char reason[ORDER_REASON_BYTES_MAX + 1];
    char position[48];
    if (keys_check(root, "", keys, 8, error) != 0 || order_id_get(root, "", out->order_id, error) != 0 ||
        integer_get(root, "", "line", true, 0, STOCKD_ORDER_LINES_MAX - 1, &line, error) != 0 ||
        string_get(root, "", "op", true, false, sizeof(op) - 1, op, sizeof(op), error) != 0 ||
        bool_get(root, "", "accepted", &out->accepted, error) != 0 ||
        string_get(root, "", "position", true, false, sizeof(position) - 1, position, sizeof(position),
                   error) != 0)
        return -1;
    out->line = (uint32_t)line;
    if ((out->op = order_op_parse(op)) == ORDER_OP_NONE)
        return fail(error, "op", "must be reserve, release or fulfil");
    if (position_parse(position, &out->position_partition, &out->position_offset) != 0)
        return fail(error, "position", "must be partition:offset");
    int status =
        string_get(root, "", "reason", false, false, ORDER_REASON_BYTES_MAX, reason, sizeof(reason), error);
    if (status < 0) return -1;
    if (out->accepted != (status == 1))
        return fail(error, "reason", "is given exactly when accepted is false");
    if (!out->accepted && (out->reject_reason = domain_reject_reason_parse(reason)) == REJECT_NONE)
        return fail(error, "reason", "is not a known reason code");
    return 0;
}

static int expired_decode(const cJSON *root, struct order_input *out, struct codec_error *error)
{
    static const char *const keys[] = {"type", "version", "order_id", "line", "position"};
    int64_t line = 0;
    char position[48];
    if (keys_check(root, "", keys, 5, error) != 0 || order_id_get(root, "", out->order_id, error) != 0 ||
        integer_get(root, "", "line", true, 0, STOCKD_ORDER_LINES_MAX - 1, &line, error) != 0 ||
        string_get(root, "", "position", true, false, sizeof(position) - 1, position, sizeof(position),
                   error) != 0)
        return -1;
    out->line = (uint32_t)line;
    if (position_parse(position, &out->position_partition, &out->position_offset) != 0)
        return fail(error, "position", "must be partition:offset");
    return 0;
}

static int place_decode(const cJSON *root, struct order_input *out, struct codec_error *error)
{
    static const char *const keys[] = {"type", "version", "order_id", "lines", "ttl_seconds", "submitted_ms"};
    if (keys_check(root, "", keys, 6, error) != 0 || order_id_get(root, "", out->order_id, error) != 0 ||
        lines_decode(root, out, error) != 0 ||
        integer_get(root, "", "ttl_seconds", true, 0, STOCKD_RESERVATION_TTL_S_MAX, &out->ttl_s, error) !=
            0 ||
        integer_get(root, "", "submitted_ms", true, 0, STOCKD_JSON_INTEGER_MAX, &out->submitted_ms, error) !=
            0)
        return -1;
    return 0;
}

static int event_decode(const cJSON *root, const char *type, struct order_record *out,
                        struct codec_error *error)
{
    for (int event = ORDER_EVENT_NONE + 1; event < ORDER_EVENT_TYPE_COUNT; event++) {
        if (strcmp(type, order_event_type_name((enum order_event_type)event)) == 0)
            out->event = (enum order_event_type)event;
    }
    if (out->event == ORDER_EVENT_NONE) return fail(error, "type", "is not an order record type");
    static const char *const keys[] = {"type", "version", "order"};
    if (keys_check(root, "", keys, 3, error) != 0) return -1;
    const cJSON *order = member(root, "order");
    if (order == NULL || !cJSON_IsObject(order)) return fail(error, "order", "must be an object");
    char *text = cJSON_PrintUnformatted(order);
    if (text == NULL) return fail(error, "order", "out of memory");
    int status = order_codec_state_decode(text, strlen(text), &out->order, error);
    free(text);
    return status;
}

/* Every record type of the orders topic is at version 1 (docs/events.md: "absent means 1", and the encoder
 * writes the key only from version 2 on, so no record written so far carries it). */
#define ORDER_RECORD_VERSION_CURRENT 1

/* Reads a record's optional "version": absent or 1 passes; one above ORDER_RECORD_VERSION_CURRENT comes
 * from a newer stockd and is refused with a message saying so. Read before the keys are checked, so that
 * a newer record is refused for its version, not for a key this stockd does not know. */
static int version_check(const cJSON *root, const char *type, struct codec_error *error)
{
    int64_t version = 1;
    if (integer_get(root, "", "version", false, 1, STOCKD_JSON_INTEGER_MAX, &version, error) < 0) return -1;
    if (version > ORDER_RECORD_VERSION_CURRENT)
        return fail(error, "version",
                    "%.31s version %" PRId64 " is newer than this stockd reads (up to %d): upgrade it", type,
                    version, ORDER_RECORD_VERSION_CURRENT);
    return 0;
}

int order_codec_record_decode(const char *json, size_t json_bytes, struct order_record *out,
                              struct codec_error *error)
{
    assert(json != NULL && out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    cJSON *root = codec_document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    char type[32];
    int status = -1;
    if (string_get(root, "", "type", true, false, sizeof(type) - 1, type, sizeof(type), error) != 0 ||
        version_check(root, type, error) != 0)
        goto out_delete;
    struct order_input *input = &out->input;
    input->type = order_input_type_parse(type);
    static const char *const short_keys[] = {"type", "version", "order_id"};
    switch (input->type) {
    case ORDER_INPUT_PLACE:
        status = place_decode(root, input, error);
        break;
    case ORDER_INPUT_LINE_OUTCOME:
        status = outcome_decode(root, input, error);
        break;
    case ORDER_INPUT_LINE_EXPIRED:
        status = expired_decode(root, input, error);
        break;
    case ORDER_INPUT_RELEASE:
    case ORDER_INPUT_FULFIL:
    case ORDER_INPUT_DEADLINE:
        status = keys_check(root, "", short_keys, 3, error) == 0 &&
                         order_id_get(root, "", input->order_id, error) == 0
                     ? 0
                     : -1;
        break;
    default:
        status = event_decode(root, type, out, error);
        break;
    }
out_delete:
    cJSON_Delete(root);
    return status;
}

/* ---- encoding -------------------------------------------------------------------------------------- */

/* cJSON builders fail only when out of memory; each returns false then, and the caller frees the root. */
static bool add_string(cJSON *object, const char *key, const char *value)
{
    return cJSON_AddStringToObject(object, key, value) != NULL;
}

static bool add_integer(cJSON *object, const char *key, int64_t value)
{
    assert(value >= -STOCKD_JSON_INTEGER_MAX && value <= STOCKD_JSON_INTEGER_MAX);
    return cJSON_AddNumberToObject(object, key, (double)value) != NULL;
}

static bool add_position(cJSON *object, int32_t partition, int64_t offset)
{
    assert(partition >= 0 && offset >= 0);
    char position[48];
    snprintf(position, sizeof(position), "%d:%" PRId64, (int)partition, offset);
    return add_string(object, "position", position);
}

static bool lines_add(cJSON *object, const struct order_input *input)
{
    cJSON *lines = cJSON_AddArrayToObject(object, "lines");
    for (uint32_t i = 0; lines != NULL && i < input->line_count; i++) {
        cJSON *line = cJSON_CreateObject();
        if (line == NULL || !cJSON_AddItemToArray(lines, line)) {
            cJSON_Delete(line);
            return false;
        }
        if (!add_string(line, "sku", input->lines[i].sku) ||
            !add_string(line, "location", input->lines[i].location) ||
            !add_integer(line, "quantity", input->lines[i].quantity))
            return false;
    }
    return lines != NULL;
}

static char *print_delete(cJSON *root, bool complete)
{
    char *text = complete ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

char *order_codec_input_encode(const struct order_input *input)
{
    assert(input != NULL && order_input_type_name(input->type) != NULL);
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return NULL;
    bool complete = add_string(root, "type", order_input_type_name(input->type)) &&
                    add_string(root, "order_id", input->order_id);
    if (complete && input->type == ORDER_INPUT_PLACE) {
        assert(input->line_count >= 1 && input->line_count <= STOCKD_ORDER_LINES_MAX);
        complete = lines_add(root, input) && add_integer(root, "ttl_seconds", input->ttl_s) &&
                   add_integer(root, "submitted_ms", input->submitted_ms);
    } else if (complete && input->type == ORDER_INPUT_LINE_OUTCOME) {
        assert(order_op_name(input->op) != NULL && input->line < STOCKD_ORDER_LINES_MAX);
        complete = add_integer(root, "line", input->line) &&
                   add_string(root, "op", order_op_name(input->op)) &&
                   cJSON_AddBoolToObject(root, "accepted", input->accepted) != NULL &&
                   (input->accepted ||
                    add_string(root, "reason", domain_reject_reason_code(input->reject_reason))) &&
                   add_position(root, input->position_partition, input->position_offset);
    } else if (complete && input->type == ORDER_INPUT_LINE_EXPIRED) {
        assert(input->line < STOCKD_ORDER_LINES_MAX);
        complete = add_integer(root, "line", input->line) &&
                   add_position(root, input->position_partition, input->position_offset);
    }
    return print_delete(root, complete);
}

static cJSON *state_object(const struct order_state *state)
{
    assert(state != NULL && order_status_name(state->status) != NULL);
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return NULL;
    bool complete = add_string(root, "order_id", state->order_id) &&
                    add_string(root, "status", order_status_name(state->status)) &&
                    (state->reason[0] == '\0' || add_string(root, "reason", state->reason)) &&
                    add_integer(root, "ttl_seconds", state->ttl_s) &&
                    add_integer(root, "submitted_ms", state->submitted_ms);
    cJSON *lines = complete ? cJSON_AddArrayToObject(root, "lines") : NULL;
    complete = lines != NULL;
    for (uint32_t i = 0; complete && i < state->line_count; i++) {
        const struct order_line *line = &state->lines[i];
        cJSON *item = cJSON_CreateObject();
        if (item == NULL || !cJSON_AddItemToArray(lines, item)) {
            cJSON_Delete(item);
            complete = false;
            break;
        }
        char reservation_id[STOCKD_ID_BYTES_MAX + 1];
        order_reservation_id(state->order_id, i, reservation_id, sizeof(reservation_id));
        char position[48];
        snprintf(position, sizeof(position), "%d:%" PRId64, (int)line->position.partition,
                 line->position.offset);
        complete = add_string(item, "sku", line->sku) && add_string(item, "location", line->location) &&
                   add_integer(item, "quantity", line->quantity) &&
                   add_string(item, "reservation_id", reservation_id) &&
                   add_string(item, "status", order_line_status_name(line->status)) &&
                   (line->reason[0] == '\0' || add_string(item, "reason", line->reason)) &&
                   cJSON_AddBoolToObject(item, "release_pending", line->release_pending) != NULL &&
                   cJSON_AddBoolToObject(item, "fulfil_pending", line->fulfil_pending) != NULL &&
                   (line->position.partition < 0 || add_string(item, "position", position));
    }
    if (!complete) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

char *order_codec_state_encode(const struct order_state *state)
{
    cJSON *root = state_object(state);
    return root != NULL ? print_delete(root, true) : NULL;
}

char *order_codec_event_encode(enum order_event_type event, const struct order_state *state)
{
    assert(order_event_type_name(event) != NULL);
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return NULL;
    if (!add_string(root, "type", order_event_type_name(event))) return print_delete(root, false);
    cJSON *order = state_object(state);
    if (order == NULL) return print_delete(root, false);
    if (!cJSON_AddItemToObject(root, "order", order)) {
        cJSON_Delete(order);
        return print_delete(root, false);
    }
    return print_delete(root, true);
}

static int state_line_decode(const cJSON *item, const char *path, const char *order_id, uint32_t index,
                             struct order_line *line, struct codec_error *error)
{
    static const char *const keys[] = {"sku",     "location", "quantity",        "reservation_id",
                                       "status",  "reason",   "release_pending", "fulfil_pending",
                                       "position"};
    char status_name[16];
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    char expected_id[STOCKD_ID_BYTES_MAX + 1];
    char position[48];
    if (!cJSON_IsObject(item)) return fail(error, path, "must be an object");
    if (keys_check(item, path, keys, 9, error) != 0 ||
        string_get(item, path, "sku", true, true, STOCKD_SKU_BYTES_MAX, line->sku, sizeof(line->sku),
                   error) != 0 ||
        string_get(item, path, "location", true, true, STOCKD_LOCATION_BYTES_MAX, line->location,
                   sizeof(line->location), error) != 0 ||
        integer_get(item, path, "quantity", true, 1, STOCKD_QUANTITY_MAX, &line->quantity, error) != 0 ||
        string_get(item, path, "reservation_id", true, true, STOCKD_ID_BYTES_MAX, reservation_id,
                   sizeof(reservation_id), error) != 0 ||
        string_get(item, path, "status", true, false, sizeof(status_name) - 1, status_name,
                   sizeof(status_name), error) != 0 ||
        string_get(item, path, "reason", false, false, ORDER_REASON_BYTES_MAX, line->reason,
                   sizeof(line->reason), error) < 0 ||
        bool_get(item, path, "release_pending", &line->release_pending, error) != 0 ||
        bool_get(item, path, "fulfil_pending", &line->fulfil_pending, error) != 0)
        return -1;
    order_reservation_id(order_id, index, expected_id, sizeof(expected_id));
    if (strcmp(reservation_id, expected_id) != 0)
        return fail(error, path, "reservation_id is not %s", expected_id);
    int status = order_line_status_parse(status_name);
    if (status < 0) return fail(error, path, "status is not a line status");
    line->status = (enum order_line_status)status;
    line->position.partition = -1;
    int found = string_get(item, path, "position", false, false, sizeof(position) - 1, position,
                           sizeof(position), error);
    if (found < 0) return -1;
    if (found == 0 && position_parse(position, &line->position.partition, &line->position.offset) != 0)
        return fail(error, path, "position must be partition:offset");
    return 0;
}

int order_codec_state_decode(const char *json, size_t json_bytes, struct order_state *out,
                             struct codec_error *error)
{
    assert(json != NULL && out != NULL && error != NULL);
    memset(out, 0, sizeof(*out));
    cJSON *root = codec_document_parse(json, json_bytes, error);
    if (root == NULL) return -1;
    static const char *const keys[] = {"order_id",    "status",       "reason",
                                       "ttl_seconds", "submitted_ms", "lines"};
    char status_name[16];
    int status = -1;
    if (keys_check(root, "", keys, 6, error) != 0 || order_id_get(root, "", out->order_id, error) != 0 ||
        string_get(root, "", "status", true, false, sizeof(status_name) - 1, status_name, sizeof(status_name),
                   error) != 0 ||
        string_get(root, "", "reason", false, false, ORDER_REASON_BYTES_MAX, out->reason, sizeof(out->reason),
                   error) < 0 ||
        integer_get(root, "", "ttl_seconds", true, 0, STOCKD_RESERVATION_TTL_S_MAX, &out->ttl_s, error) !=
            0 ||
        integer_get(root, "", "submitted_ms", true, 0, STOCKD_JSON_INTEGER_MAX, &out->submitted_ms, error) !=
            0)
        goto out_delete;
    if ((out->status = order_status_parse(status_name)) == ORDER_STATUS_NONE) {
        fail(error, "status", "is not an order status");
        goto out_delete;
    }
    const cJSON *lines = member(root, "lines");
    int count = cJSON_IsArray(lines) ? cJSON_GetArraySize(lines) : -1;
    if (count < 1 || count > STOCKD_ORDER_LINES_MAX) {
        fail(error, "lines", "must be an array of 1 to %d lines", STOCKD_ORDER_LINES_MAX);
        goto out_delete;
    }
    uint32_t index = 0;
    for (const cJSON *item = lines->child; item != NULL; item = item->next, index++) {
        char path[32];
        snprintf(path, sizeof(path), "lines[%u]", (unsigned)index);
        if (state_line_decode(item, path, out->order_id, index, &out->lines[index], error) != 0)
            goto out_delete;
    }
    out->line_count = index;
    status = 0;
out_delete:
    cJSON_Delete(root);
    return status;
}
