/* queries.c - the query routes: one read transaction on a view's reader, rows and positions together.
 *
 * Every answer carries X-Stockd-Position (what the view has passed), problem answers too (through
 * api_position_problem_header); min_position waits, bounded, until the view has passed the caller's tokens
 * (read-your-writes on any instance). Which view a route reads is the route table's (routes.c) to say. */
#include "api/internal.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/dates.h"
#include "clock.h"
#include "domain/codec.h"
#include "domain/number.h"
#include "kafka/client.h"
#include "metrics.h"
#include "projector.h"
#include "views/movements.h"
#include "views/catalog.h"
#include "views/query.h"

/* X-Stockd-Position: "partition:offset," per partition: 4 + 1 + 19 + 1 bytes each. */
#define API_POSITION_HEADER_BYTES_MAX (STOCKD_PARTITIONS_MAX * 26)

/* The names of the views in problem details, by enum api_view. */
static const char *const view_names[API_VIEW_COUNT] = {
    [API_VIEW_NONE] = "",
    [API_VIEW_STOCK] = "stock",
    [API_VIEW_RESERVATIONS] = "reservations",
    [API_VIEW_HISTORY] = "history",
    [API_VIEW_OUTCOMES] = "outcomes",
    [API_VIEW_MOVEMENTS] = "movements",
    [API_VIEW_CATALOG] = "catalog",
};

/* The view a request reads: its route's, but a search (GET /v1/skus?q=) reads the catalog. */
static enum api_view request_view(const struct api_request *request)
{
    assert(request->route != NULL && request->route->view != API_VIEW_NONE);
    if (request->route->id == API_ROUTE_SKU_LIST && api_query_get(request, "q") != NULL)
        return API_VIEW_CATALOG;
    return request->route->view;
}

/* A view of this instance: NULL when it runs no projectors. */
static struct projector *api_view_get(const struct api_request *request, enum api_view view)
{
    const struct api_stages *stages = &request->api->stages;
    struct projector *const views[API_VIEW_COUNT] = {
        [API_VIEW_NONE] = NULL,
        [API_VIEW_STOCK] = stages->stock,
        [API_VIEW_RESERVATIONS] = stages->reservations,
        [API_VIEW_HISTORY] = stages->history,
        [API_VIEW_OUTCOMES] = stages->outcomes,
        [API_VIEW_MOVEMENTS] = stages->movements,
        [API_VIEW_CATALOG] = stages->catalog,
    };
    assert(view > API_VIEW_NONE && view < API_VIEW_COUNT);
    return views[view];
}

/* The view of the request: NULL when this instance runs no projectors. */
static struct projector *route_view(const struct api_request *request)
{
    return api_view_get(request, request_view(request));
}

/* Formats position tokens "p:o" (last offsets passed) from next offsets, comma-separated. */
static void positions_format(const int64_t *next_offsets, int32_t partition_count, char *out,
                             size_t out_bytes)
{
    size_t used = 0;
    out[0] = '\0';
    for (int32_t partition = 0; partition < partition_count; partition++) {
        if (next_offsets[partition] <= 0) continue;
        int written = snprintf(out + used, out_bytes - used, "%s%" PRId32 ":%" PRId64, used > 0 ? "," : "",
                               partition, next_offsets[partition] - 1);
        if (written < 0 || (size_t)written >= out_bytes - used) return;
        used += (size_t)written;
    }
}

static void time_write(struct json_out *out, const char *key, int64_t time_ms)
{
    char text[40];
    kafka_time_rfc3339(time_ms, text, sizeof(text));
    json_kv_string(out, key, text);
}

void api_position_write(struct json_out *out, const char *key, struct view_position position)
{
    char token[48];
    snprintf(token, sizeof(token), "%" PRId32 ":%" PRId64, position.partition, position.offset);
    json_kv_string(out, key, token);
}

void api_outcome_write(struct json_out *out, const struct view_outcome *outcome)
{
    json_object_begin(out);
    json_kv_string(out, "command_id", outcome->command_id);
    json_kv_string(out, "sku", outcome->sku);
    json_kv_string(out, "type", domain_command_type_name(outcome->command_type));
    json_kv_string(out, "status", outcome->accepted ? "accepted" : "rejected");
    if (!outcome->accepted) {
        json_kv_string(out, "reason", domain_reject_reason_code(outcome->reason));
        json_kv_string(out, "detail", outcome->detail);
    }
    time_write(out, "decided_at", outcome->decided_ms);
    json_kv_int(out, "decision_count", outcome->decision_count);
    json_key(out, "events");
    json_array_begin(out);
    for (uint32_t i = 0; i < outcome->event_count; i++) {
        json_object_begin(out);
        json_kv_string(out, "type", domain_event_type_name(outcome->events[i].type));
        json_kv_int(out, "sequence", (int64_t)outcome->events[i].sequence);
        api_position_write(out, "position", outcome->events[i].position);
        json_object_end(out);
    }
    json_array_end(out);
    if (outcome->event_count > 0) {
        api_position_write(out, "position", outcome->events[outcome->event_count - 1].position);
    } else {
        json_kv_string(out, "position", NULL);
    }
    json_object_end(out);
}

bool api_min_position_wait(struct api_request *request, const char *what,
                           int (*wait)(void *context, struct view_position position, int timeout_ms),
                           void *context)
{
    assert(request != NULL && what != NULL && wait != NULL);
    const char *tokens = api_query_get(request, "min_position");
    if (tokens == NULL) return true;
    struct view_position positions[64];
    size_t count = 0;
    char copy[API_QUERY_VALUE_BYTES_MAX + 1];
    snprintf(copy, sizeof(copy), "%s", tokens);
    char *save = NULL;
    for (char *token = strtok_r(copy, ",", &save); token != NULL; token = strtok_r(NULL, ",", &save)) {
        if (count == sizeof(positions) / sizeof(positions[0]) ||
            projector_position_parse(token, &positions[count]) != 0 ||
            positions[count].partition >= request->api->config->partitions) {
            api_problem(request, 400, "invalid-parameter", "Invalid min_position", "min_position",
                        "min_position is a comma-separated list of at most 64 partition:offset tokens with "
                        "partitions below %d",
                        request->api->config->partitions);
            return false;
        }
        count++;
    }
    if (count == 0) {
        api_problem(request, 400, "invalid-parameter", "Invalid min_position", "min_position",
                    "min_position is empty");
        return false;
    }
    if (!api_wait_acquire(request)) return false;
    int64_t deadline_us = clock_monotonic_us() + (int64_t)request->api->config->http_wait_ms_max * 1000;
    for (size_t i = 0; i < count; i++) {
        int64_t remaining_ms = (deadline_us - clock_monotonic_us()) / 1000;
        if (remaining_ms < 0) remaining_ms = 0;
        if (wait(context, positions[i], (int)remaining_ms) != 1) {
            api_problem(request, 503, "position-not-reached", "Position not reached", "min_position",
                        "the %s has not passed %" PRId32 ":%" PRId64 " within %d ms", what,
                        positions[i].partition, positions[i].offset, request->api->config->http_wait_ms_max);
            return false;
        }
    }
    return true;
}

/* projector_wait_position as api_min_position_wait calls it. */
static int projector_position_wait(void *projector, struct view_position position, int timeout_ms)
{
    return projector_wait_position(projector, position, timeout_ms);
}

/* Reads the view's positions in the reader's open transaction and formats them as X-Stockd-Position.
 * Returns false with a message when they cannot be read. */
static bool position_read(sqlite3 *reader, int32_t partition_count, char *out, size_t out_bytes, char *error,
                          size_t error_bytes)
{
    int64_t *next_offsets = calloc((size_t)partition_count, sizeof(int64_t));
    if (next_offsets == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return false;
    }
    bool ok = projector_reader_positions_read(reader, next_offsets, partition_count, error, error_bytes) == 0;
    if (ok) positions_format(next_offsets, partition_count, out, out_bytes);
    free(next_offsets);
    return ok;
}

/* Formats the view's current position into out. Returns false when it cannot be read now. */
static bool position_current(struct projector *projector, int32_t partition_count, char *out,
                             size_t out_bytes)
{
    char error[256];
    sqlite3 *reader = projector_reader_acquire_within(projector, 0, error, sizeof(error)); /* never waits */
    if (reader == NULL) return false;
    bool ok = projector_reader_begin(reader) == 0 &&
              position_read(reader, partition_count, out, out_bytes, error, sizeof(error));
    projector_reader_release(projector, reader); /* rolls back the read transaction */
    return ok;
}

/* The view's current position (X-Stockd-Position) for a problem answer of a query route: malloc'd, or NULL
 * when the view has none here or it cannot be read now (no reader free: it does not wait). */
static char *position_problem_value(const struct api_request *request)
{
    struct projector *projector = route_view(request);
    if (projector == NULL) return NULL;
    char *position = malloc(API_POSITION_HEADER_BYTES_MAX);
    if (position == NULL) return NULL;
    if (!position_current(projector, request->api->config->partitions, position,
                          API_POSITION_HEADER_BYTES_MAX)) {
        free(position);
        return NULL;
    }
    return position;
}

const struct api_problem_header api_position_problem_header = {"X-Stockd-Position", position_problem_value};

/* A query's shared frame: which view, its reader, the transaction, the positions. */
struct query_frame {
    struct projector *projector;
    sqlite3 *reader;
    char position[API_POSITION_HEADER_BYTES_MAX];
    char error[256];
};

/* Opens the frame on a view: view present, min_position passed, reader acquired, BEGIN. Returns true, or
 * false after answering. */
static bool frame_open_on(struct api_request *request, struct query_frame *frame, enum api_view view)
{
    struct projector *projector = api_view_get(request, view);
    const char *view_name = view_names[view];
    frame->projector = projector;
    frame->reader = NULL;
    if (projector == NULL) {
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL,
                    "this instance does not run the projector role, so it has no %s view", view_name);
        return false;
    }
    if (!api_min_position_wait(request, "view", projector_position_wait, projector)) return false;
    frame->reader = projector_reader_acquire(projector, frame->error, sizeof(frame->error));
    if (frame->reader == NULL || projector_reader_begin(frame->reader) != 0) {
        request->problem_header = NULL; /* unreadable now: the answer goes without a position */
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL,
                    "the %s view cannot be read now", view_name);
        projector_reader_release(projector, frame->reader);
        frame->reader = NULL;
        return false;
    }
    return true;
}

/* Opens the frame on the route's view. */
static bool frame_open(struct api_request *request, struct query_frame *frame)
{
    return frame_open_on(request, frame, request_view(request));
}

/* Reads the positions in the open transaction, commits and releases. Returns true, or false after
 * answering 503. */
static bool frame_close(struct api_request *request, struct query_frame *frame)
{
    bool ok = position_read(frame->reader, request->api->config->partitions, frame->position,
                            sizeof(frame->position), frame->error, sizeof(frame->error));
    projector_reader_commit(frame->reader);
    projector_reader_release(frame->projector, frame->reader);
    frame->reader = NULL;
    if (!ok) {
        request->problem_header = NULL; /* unreadable now: the answer goes without a position */
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL, "positions unreadable");
    }
    return ok;
}

/* Releases the frame after a failed query and answers for it; field names the input at fault for a refusal
 * (the cursor of a listing: the rest is checked before the query). */
static void frame_fail(struct api_request *request, struct query_frame *frame, int result, const char *field)
{
    projector_reader_commit(frame->reader);
    projector_reader_release(frame->projector, frame->reader);
    frame->reader = NULL;
    if (result == VIEW_QUERY_INVALID) {
        api_problem(request, 400, "invalid-parameter", "Invalid request", field, "%s", frame->error);
    } else if (result == VIEW_QUERY_LIMIT) {
        api_problem(request, 422, "limit-exceeded", "Limit exceeded", field, "%s", frame->error);
    } else {
        request->problem_header = NULL; /* unreadable now: the answer goes without a position */
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL, "the view could not be read");
    }
}

static void respond_with_position(struct api_request *request, int status, struct json_out *out,
                                  const struct query_frame *frame)
{
    const struct api_header headers[] = {{"X-Stockd-Position", frame->position}, {NULL, NULL}};
    api_respond_json(request, status, out, headers);
}

/* Answers 404 not-found with the view's position: the caller may wait for it (min_position) and ask again. */
static void not_found_with_position(struct api_request *request, const struct query_frame *frame,
                                    const char *title, const char *what)
{
    const struct api_header headers[] = {{"X-Stockd-Position", frame->position}, {NULL, NULL}};
    char detail[STOCKD_ID_BYTES_MAX + 64];
    snprintf(detail, sizeof(detail), "%s %s (yet)", what, request->params[0]);
    api_problem_ex(request, 404, "not-found", title, NULL, detail, NULL, NULL, headers);
}

/* Parses limit (default 50, 1..VIEW_PAGE_MAX). Returns it, or 0 after answering 400. */
static uint32_t limit_parse(struct api_request *request)
{
    const char *text = api_query_get(request, "limit");
    if (text == NULL) return 50;
    int64_t limit = 0;
    if (number_integer_parse_string(text, 1, VIEW_PAGE_MAX, &limit) != NUMBER_OK) {
        api_problem(request, 400, "invalid-parameter", "Invalid limit", "limit",
                    "limit must be an integer in 1..%d", VIEW_PAGE_MAX);
        return 0;
    }
    return (uint32_t)limit;
}

static bool identifier_param(struct api_request *request, const char *value, size_t max_bytes)
{
    if (codec_identifier_valid(value, max_bytes)) return true;
    api_problem(request, 400, "invalid-path", "Invalid path", NULL,
                "a path segment must be 1 to %zu of [A-Za-z0-9._:-], starting with a letter or digit",
                max_bytes);
    return false;
}

static void stock_summary_write(struct json_out *out, const struct view_stock_summary *summary)
{
    json_kv_string(out, "sku", summary->sku);
    json_kv_string(out, "name", summary->name);
    json_kv_int(out, "reorder_point", summary->reorder_point);
    if (summary->lead_time_days > 0) json_kv_int(out, "lead_time_days", summary->lead_time_days); /* known */
    json_kv_int(out, "on_hand", summary->on_hand);
    json_kv_int(out, "reserved", summary->reserved);
    json_kv_int(out, "available", summary->available);
    json_kv_bool(out, "below_reorder_point", summary->below_reorder_point);
    json_kv_int(out, "sequence", (int64_t)summary->sequence);
    time_write(out, "updated_at", summary->updated_ms);
}

/* GET /v1/skus/{sku} from the stock view. */
static void sku_current(struct api_request *request)
{
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_stock_sku *sku = malloc(sizeof(*sku));
    int found = sku != NULL
                    ? view_stock_get(frame.reader, request->params[0], sku, frame.error, sizeof(frame.error))
                    : VIEW_QUERY_ERROR;
    if (found < 0) {
        frame_fail(request, &frame, found, NULL);
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        if (found == 0) {
            not_found_with_position(request, &frame, "SKU not found", "the stock view has no SKU");
        } else {
            json_object_begin(&out);
            stock_summary_write(&out, &sku->summary);
            json_key(&out, "locations");
            json_array_begin(&out);
            for (uint32_t i = 0; i < sku->location_count; i++) {
                json_object_begin(&out);
                json_kv_string(&out, "location", sku->locations[i].location);
                json_kv_int(&out, "on_hand", sku->locations[i].on_hand);
                json_kv_int(&out, "reserved", sku->locations[i].reserved);
                json_kv_int(&out, "available", sku->locations[i].available);
                json_object_end(&out);
            }
            json_array_end(&out);
            json_object_end(&out);
            respond_with_position(request, 200, &out, &frame);
        }
        json_out_free(&out);
    }
    free(sku);
}

/* Writes a number that need not be an integer (a search score): shortest exact form, finite (bm25 is). */
static void json_kv_double(struct json_out *out, const char *key, double value)
{
    char text[40];
    snprintf(text, sizeof(text), "%.17g", value);
    json_key(out, key);
    json_raw(out, text);
}

/* GET /v1/skus?q=...: the catalog, best match first. */
__attribute__((noinline)) static void catalog_search(struct api_request *request)
{
    static const char *const allowed[] = {"q", "limit", "cursor", "min_position", NULL};
    if (!api_query_allow(request, allowed)) return;
    uint32_t limit = limit_parse(request);
    if (limit == 0) return;
    const char *query = api_query_get(request, "q");
    char fts[VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1];
    char reason[256];
    if (view_catalog_fts_query(query, strlen(query), fts, sizeof(fts), reason, sizeof(reason)) != 0) {
        api_problem(request, 400, "invalid-parameter", "Invalid q", "q", "%s", reason);
        return;
    }
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_catalog_hits *hits = malloc(sizeof(*hits));
    int count = hits != NULL ? view_catalog_search(frame.reader, query, api_query_get(request, "cursor"),
                                                   limit, hits, frame.error, sizeof(frame.error))
                             : VIEW_QUERY_ERROR;
    if (count < 0) {
        frame_fail(request, &frame, count, "cursor");
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        json_object_begin(&out);
        json_kv_string(&out, "q", query);
        json_key(&out, "items");
        json_array_begin(&out);
        for (int i = 0; i < count; i++) {
            const struct view_catalog_hit *hit = &hits->items[i];
            json_object_begin(&out);
            json_kv_string(&out, "sku", hit->sku);
            json_kv_string(&out, "name", hit->name[0] != '\0' ? hit->name : NULL);
            json_kv_string(&out, "brand", hit->brand[0] != '\0' ? hit->brand : NULL);
            json_kv_string(&out, "description", hit->description[0] != '\0' ? hit->description : NULL);
            json_kv_double(&out, "score", hit->score);
            json_object_end(&out);
        }
        json_array_end(&out);
        json_kv_string(&out, "next_cursor", hits->next_cursor[0] != '\0' ? hits->next_cursor : NULL);
        json_object_end(&out);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
    free(hits);
}

/* GET /v1/skus without q: the stock view in SKU order. */
__attribute__((noinline)) static void stock_list(struct api_request *request)
{
    static const char *const allowed[] = {"below_reorder_point", "limit", "cursor",
                                          "min_position",        "q",     NULL};
    if (!api_query_allow(request, allowed)) return;
    uint32_t limit = limit_parse(request);
    if (limit == 0) return;
    const char *below = api_query_get(request, "below_reorder_point");
    if (below != NULL && strcmp(below, "true") != 0 && strcmp(below, "false") != 0) {
        api_problem(request, 400, "invalid-parameter", "Invalid below_reorder_point", "below_reorder_point",
                    "below_reorder_point must be true or false");
        return;
    }
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_stock_page *page = malloc(sizeof(*page));
    int count = page != NULL ? view_stock_list(frame.reader, below != NULL && strcmp(below, "true") == 0,
                                               api_query_get(request, "cursor"), limit, page, frame.error,
                                               sizeof(frame.error))
                             : VIEW_QUERY_ERROR;
    if (count < 0) {
        frame_fail(request, &frame, count, "cursor");
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        json_object_begin(&out);
        json_key(&out, "items");
        json_array_begin(&out);
        for (int i = 0; i < count; i++) {
            json_object_begin(&out);
            stock_summary_write(&out, &page->items[i]);
            json_object_end(&out);
        }
        json_array_end(&out);
        json_kv_string(&out, "next_cursor", page->next_cursor[0] != '\0' ? page->next_cursor : NULL);
        json_object_end(&out);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
    free(page);
}

/* Two routes in one path: each has a query frame (tens of KiB: the position header) of its own, and
 * civetweb's threads have small stacks, so neither is inlined here, where both frames would add up. */
void api_sku_list(struct api_request *request)
{
    if (api_query_get(request, "q") != NULL) {
        catalog_search(request);
    } else {
        stock_list(request);
    }
}

static void reservation_write(struct json_out *out, const struct view_reservation *reservation)
{
    json_object_begin(out);
    json_kv_string(out, "reservation_id", reservation->reservation_id);
    json_kv_string(out, "sku", reservation->sku);
    json_kv_string(out, "status", domain_reservation_status_name(reservation->status));
    json_kv_string(out, "location", reservation->location);
    json_kv_int(out, "quantity", reservation->quantity);
    if (reservation->expires_at_ms != 0) {
        time_write(out, "expires_at", reservation->expires_at_ms);
    } else {
        json_kv_string(out, "expires_at", NULL);
    }
    time_write(out, "created_at", reservation->created_ms);
    time_write(out, "updated_at", reservation->updated_ms);
    json_kv_string(out, "created_command_id", reservation->created_command_id);
    json_kv_string(out, "updated_command_id", reservation->updated_command_id);
    json_object_end(out);
}

void api_ambiguous_skus_write(struct json_out *out, const void *context)
{
    const struct view_reservation_skus *skus = context;
    json_key(out, "skus");
    json_array_begin(out);
    for (uint32_t i = 0; i < skus->count; i++)
        json_string(out, skus->skus[i]);
    json_array_end(out);
}

void api_reservation_get(struct api_request *request)
{
    static const char *const allowed[] = {"sku", "min_position", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_ID_BYTES_MAX))
        return;
    const char *sku = api_query_get(request, "sku");
    if (sku != NULL && !codec_identifier_valid(sku, STOCKD_SKU_BYTES_MAX)) {
        api_problem(request, 400, "invalid-parameter", "Invalid sku", "sku", "sku must be an identifier");
        return;
    }
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_reservation reservation;
    struct view_reservation_skus ambiguous;
    int found = sku != NULL ? view_reservation_get(frame.reader, sku, request->params[0], &reservation,
                                                   frame.error, sizeof(frame.error))
                            : view_reservation_find(frame.reader, request->params[0], &reservation,
                                                    &ambiguous, frame.error, sizeof(frame.error));
    if (found < 0) {
        frame_fail(request, &frame, found, NULL);
        return;
    }
    if (!frame_close(request, &frame)) return;
    const struct api_header headers[] = {{"X-Stockd-Position", frame.position}, {NULL, NULL}};
    if (found == 0) {
        not_found_with_position(request, &frame, "Reservation not found",
                                "the reservations view has no reservation");
    } else if (found == VIEW_QUERY_AMBIGUOUS) {
        api_problem_ex(request, 409, "ambiguous-reservation", "Ambiguous reservation id", "sku",
                       "several SKUs hold this reservation id: ask with ?sku=", api_ambiguous_skus_write,
                       &ambiguous, headers);
    } else {
        struct json_out out;
        json_out_init(&out);
        reservation_write(&out, &reservation);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
}

void api_sku_history(struct api_request *request)
{
    static const char *const allowed[] = {"order", "limit", "cursor", "min_position", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_SKU_BYTES_MAX))
        return;
    uint32_t limit = limit_parse(request);
    if (limit == 0) return;
    const char *order_text = api_query_get(request, "order");
    enum view_order order = VIEW_ORDER_OLDEST_FIRST;
    if (order_text != NULL && strcmp(order_text, "newest") == 0) {
        order = VIEW_ORDER_NEWEST_FIRST;
    } else if (order_text != NULL && strcmp(order_text, "oldest") != 0) {
        api_problem(request, 400, "invalid-parameter", "Invalid order", "order",
                    "order must be oldest or newest");
        return;
    }
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_history_page *page = malloc(sizeof(*page));
    int count = page != NULL ? view_history_list(frame.reader, request->params[0], order,
                                                 api_query_get(request, "cursor"), limit, page, frame.error,
                                                 sizeof(frame.error))
                             : VIEW_QUERY_ERROR;
    if (count < 0) {
        frame_fail(request, &frame, count, "cursor");
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        json_object_begin(&out);
        json_kv_string(&out, "sku", request->params[0]);
        json_key(&out, "items");
        json_array_begin(&out);
        for (int i = 0; i < count; i++) {
            const struct view_history_event *event = &page->events[i];
            json_object_begin(&out);
            json_kv_int(&out, "sequence", (int64_t)event->sequence);
            json_kv_string(&out, "type", domain_event_type_name(event->type));
            json_kv_string(&out, "command_id", event->command_id);
            time_write(&out, "time", event->time_ms);
            api_position_write(&out, "position", event->position);
            json_key(&out, "event");
            json_raw(&out, event->data);
            json_object_end(&out);
        }
        json_array_end(&out);
        json_kv_string(&out, "next_cursor", page->next_cursor[0] != '\0' ? page->next_cursor : NULL);
        json_object_end(&out);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
    free(page);
}

void api_command_get(struct api_request *request)
{
    static const char *const allowed[] = {"min_position", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_ID_BYTES_MAX))
        return;
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_outcome outcome;
    int found =
        view_outcome_get(frame.reader, request->params[0], &outcome, frame.error, sizeof(frame.error));
    if (found < 0) {
        frame_fail(request, &frame, found, NULL);
        return;
    }
    if (!frame_close(request, &frame)) return;
    if (found == 0) {
        not_found_with_position(request, &frame, "Command not found", "no outcome for command");
        return;
    }
    struct json_out out;
    json_out_init(&out);
    api_outcome_write(&out, &outcome);
    respond_with_position(request, 200, &out, &frame);
    json_out_free(&out);
}

static void sku_as_of(struct api_request *request, const char *as_of_text);

/* One query frame (~27 KiB with its position buffer) on the stack at a time: civetweb's worker stacks are
 * small, so the two ways of answering are siblings, never nested. */
void api_sku_get(struct api_request *request)
{
    static const char *const allowed[] = {"min_position", "as_of", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_SKU_BYTES_MAX))
        return;
    const char *as_of = api_query_get(request, "as_of");
    if (as_of != NULL) {
        sku_as_of(request, as_of);
    } else {
        sku_current(request);
    }
}

/* ---- a SKU as of a point, movements, reorder ------------------------------------------------------------
 */

/* Parses as_of: an RFC 3339 time, or a position token of a partition of the events topic. Returns true, or
 * false after answering 400. */
static bool as_of_parse(struct api_request *request, const char *text, struct view_as_of *out)
{
    memset(out, 0, sizeof(*out));
    if (api_time_parse(text, &out->time_ms) == 0) {
        out->kind = VIEW_AS_OF_TIME;
        return true;
    }
    if (projector_position_parse(text, &out->position) == 0 &&
        out->position.partition < request->api->config->partitions) {
        out->kind = VIEW_AS_OF_POSITION;
        return true;
    }
    api_problem(request, 400, "invalid-parameter", "Invalid as_of", "as_of",
                "as_of is a position token partition:offset with a partition below %d, or an RFC 3339 time "
                "such as 2026-12-01T10:00:00Z",
                request->api->config->partitions);
    return false;
}

/* Sorts a folded state's locations by name, as the stock view lists them (the fold keeps them in order of
 * first appearance). Insertion sort: at most STOCKD_LOCATIONS_PER_SKU_MAX of them. */
static void locations_sort(struct sku_state *state)
{
    for (uint32_t i = 1; i < state->location_count; i++) {
        struct location_stock moving = state->locations[i];
        uint32_t j = i;
        for (; j > 0 && strcmp(state->locations[j - 1].location, moving.location) > 0; j--)
            state->locations[j] = state->locations[j - 1];
        state->locations[j] = moving;
    }
}

static void sku_as_of_write(struct json_out *out, const struct view_sku_as_of *folded, const char *requested)
{
    const struct sku_state *state = &folded->state;
    int64_t on_hand = 0, reserved = 0;
    for (uint32_t i = 0; i < state->location_count; i++) {
        on_hand += state->locations[i].on_hand;
        reserved += state->locations[i].reserved;
    }
    struct view_stock_summary summary = {.reorder_point = state->reorder_point,
                                         .lead_time_days = state->lead_time_days,
                                         .sequence = folded->changed_sequence,
                                         .updated_ms = folded->changed_ms,
                                         .on_hand = on_hand,
                                         .reserved = reserved,
                                         .available = on_hand - reserved,
                                         .below_reorder_point = on_hand - reserved < state->reorder_point};
    memcpy(summary.sku, state->sku, sizeof(summary.sku));
    memcpy(summary.name, state->name, sizeof(summary.name));
    json_object_begin(out);
    stock_summary_write(out, &summary);
    json_key(out, "locations");
    json_array_begin(out);
    for (uint32_t i = 0; i < state->location_count; i++) {
        json_object_begin(out);
        json_kv_string(out, "location", state->locations[i].location);
        json_kv_int(out, "on_hand", state->locations[i].on_hand);
        json_kv_int(out, "reserved", state->locations[i].reserved);
        json_kv_int(out, "available", state->locations[i].on_hand - state->locations[i].reserved);
        json_object_end(out);
    }
    json_array_end(out);
    json_key(out, "as_of");
    json_object_begin(out);
    json_kv_string(out, "requested", requested);
    json_kv_int(out, "sequence", (int64_t)state->sequence);
    json_kv_string(out, "type", domain_event_type_name(folded->last_type));
    api_position_write(out, "position", folded->last_position);
    time_write(out, "time", folded->last_time_ms);
    json_kv_int(out, "events_folded", (int64_t)folded->event_count);
    json_object_end(out);
    json_object_end(out);
}

/* GET /v1/skus/{sku}?as_of=: the history view folded up to the point (min_position waits for that view). */
static void sku_as_of(struct api_request *request, const char *as_of_text)
{
    struct view_as_of point;
    if (!as_of_parse(request, as_of_text, &point)) return;
    struct query_frame frame;
    if (!frame_open_on(request, &frame, API_VIEW_HISTORY)) return;
    struct view_sku_as_of *folded = malloc(sizeof(*folded));
    int64_t started_us = clock_monotonic_us();
    int found = folded != NULL ? view_history_as_of(frame.reader, request->params[0], &point, folded,
                                                    frame.error, sizeof(frame.error))
                               : VIEW_QUERY_ERROR;
    if (found != VIEW_QUERY_ERROR)
        metrics_latency_observe(METRICS_LATENCY_AS_OF, clock_monotonic_us() - started_us);
    if (found < 0) {
        frame_fail(request, &frame, found, "as_of");
    } else if (frame_close(request, &frame)) {
        if (found == 0 || !folded->state.exists) {
            not_found_with_position(request, &frame, "SKU not found",
                                    "the history view has no creation at or before as_of of SKU");
        } else {
            locations_sort(&folded->state);
            struct json_out out;
            json_out_init(&out);
            sku_as_of_write(&out, folded, as_of_text);
            respond_with_position(request, 200, &out, &frame);
            json_out_free(&out);
        }
    }
    free(folded);
}

/* Parses an optional integer parameter in [1, max] (at most 4 digits), default when absent. Returns it, or
 * 0 after answering 400. */
static uint32_t count_param(struct api_request *request, const char *name, uint32_t fallback, uint32_t max)
{
    assert(max >= 1 && max <= 9999 && fallback >= 1 && fallback <= max);
    const char *text = api_query_get(request, name);
    if (text == NULL) return fallback;
    size_t length = strlen(text);
    int value = length >= 1 && length <= 4 && strspn(text, "0123456789") == length ? atoi(text) : 0;
    if (value < 1 || (uint32_t)value > max) {
        api_problem(request, 400, "invalid-parameter", "Invalid parameter", name,
                    "%s must be an integer in 1..%u", name, max);
        return 0;
    }
    return (uint32_t)value;
}

/* Parses until (YYYY-MM-DD, UTC), today by this server's clock when absent. Returns false after answering. */
static bool until_param(struct api_request *request, int64_t *day)
{
    const char *text = api_query_get(request, "until");
    if (text == NULL) {
        *day = api_day_of(clock_wall_ms());
        return true;
    }
    if (api_date_parse(text, day) == 0 && *day >= 0) return true;
    api_problem(request, 400, "invalid-parameter", "Invalid until", "until",
                "until must be a day YYYY-MM-DD from 1970-01-01 on");
    return false;
}

/* Days the movements answer covers when ?days= is absent, and the reorder listing's window by default. */
#define API_MOVEMENTS_DAYS_DEFAULT      7
#define API_REORDER_WINDOW_DAYS_DEFAULT 28

static void date_write(struct json_out *out, const char *key, int64_t day)
{
    char text[API_DATE_BYTES];
    api_date_format(day, text);
    json_kv_string(out, key, text);
}

static void movements_write(struct json_out *out, const struct view_movements *movements)
{
    json_object_begin(out);
    json_kv_string(out, "sku", movements->sku);
    if (movements->lead_time_days > 0) json_kv_int(out, "lead_time_days", movements->lead_time_days);
    json_kv_int(out, "on_hand", movements->on_hand);
    json_kv_int(out, "reserved", movements->reserved);
    json_kv_int(out, "available", movements->on_hand - movements->reserved);
    date_write(out, "from", movements->days[0].day);
    date_write(out, "until", movements->days[movements->count - 1].day);
    json_key(out, "days");
    json_array_begin(out);
    for (uint32_t i = 0; i < movements->count; i++) {
        const struct view_movement_day *day = &movements->days[i];
        json_object_begin(out);
        date_write(out, "date", day->day);
        json_kv_int(out, "received", day->received);
        json_kv_int(out, "reserved", day->reserved);
        json_kv_int(out, "fulfilled", day->fulfilled);
        json_kv_int(out, "released", day->released);
        json_kv_int(out, "expired", day->expired);
        json_kv_int(out, "adjusted", day->adjusted);
        json_object_end(out);
    }
    json_array_end(out);
    json_object_end(out);
}

void api_sku_movements(struct api_request *request)
{
    static const char *const allowed[] = {"days", "until", "min_position", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_SKU_BYTES_MAX))
        return;
    uint32_t days = count_param(request, "days", API_MOVEMENTS_DAYS_DEFAULT, VIEW_MOVEMENTS_DAYS_MAX);
    int64_t until = 0;
    if (days == 0 || !until_param(request, &until)) return;
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_movements *movements = malloc(sizeof(*movements));
    int found = movements != NULL ? view_movements_get(frame.reader, request->params[0], until, days,
                                                       movements, frame.error, sizeof(frame.error))
                                  : VIEW_QUERY_ERROR;
    if (found < 0) {
        frame_fail(request, &frame, found, NULL);
    } else if (frame_close(request, &frame)) {
        if (found == 0) {
            not_found_with_position(request, &frame, "SKU not found", "the movements view has no SKU");
        } else {
            struct json_out out;
            json_out_init(&out);
            movements_write(&out, movements);
            respond_with_position(request, 200, &out, &frame);
            json_out_free(&out);
        }
    }
    free(movements);
}

/* Writes a finite rate or count of days with three decimals (a JSON number). */
static void decimal_write(struct json_out *out, const char *key, double value)
{
    assert(isfinite(value));
    char text[64];
    snprintf(text, sizeof(text), "%.3f", value);
    json_key(out, key);
    json_raw(out, text);
}

static void reorder_write(struct json_out *out, const struct view_reorder_page *page, int64_t until,
                          uint32_t window_days)
{
    json_object_begin(out);
    json_key(out, "window");
    json_object_begin(out);
    date_write(out, "from", until - (int64_t)window_days + 1);
    date_write(out, "until", until);
    json_kv_int(out, "days", window_days);
    json_object_end(out);
    json_key(out, "items");
    json_array_begin(out);
    for (uint32_t i = 0; i < page->count; i++) {
        const struct view_reorder_item *item = &page->items[i];
        json_object_begin(out);
        json_kv_string(out, "sku", item->sku);
        json_kv_int(out, "lead_time_days", item->lead_time_days);
        json_kv_int(out, "available", item->available);
        json_kv_int(out, "fulfilled_in_window", item->fulfilled_in_window);
        decimal_write(out, "daily_fulfilment", item->daily_fulfilment);
        decimal_write(out, "days_of_cover", item->days_of_cover);
        json_object_end(out);
    }
    json_array_end(out);
    json_kv_string(out, "next_cursor", page->next_cursor[0] != '\0' ? page->next_cursor : NULL);
    json_object_end(out);
}

void api_reorder_list(struct api_request *request)
{
    static const char *const allowed[] = {"window_days", "until", "limit", "cursor", "min_position", NULL};
    if (!api_query_allow(request, allowed)) return;
    uint32_t limit = limit_parse(request);
    if (limit == 0) return;
    uint32_t window_days =
        count_param(request, "window_days", API_REORDER_WINDOW_DAYS_DEFAULT, VIEW_REORDER_WINDOW_DAYS_MAX);
    int64_t until = 0;
    if (window_days == 0 || !until_param(request, &until)) return;
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_reorder_page *page = malloc(sizeof(*page));
    int count = page != NULL
                    ? view_reorder_list(frame.reader, until, window_days, api_query_get(request, "cursor"),
                                        limit, page, frame.error, sizeof(frame.error))
                    : VIEW_QUERY_ERROR;
    if (count < 0) {
        frame_fail(request, &frame, count, "cursor");
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        reorder_write(&out, page, until, window_days);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
    free(page);
}

/* ---- catalog entries and duplicates ---------------------------------------------------------------------
 */

/* Writes the fields of a catalog entry (merged or one source's) into an open object. */
static void catalog_entry_write(struct json_out *out, const struct view_catalog_entry *entry, bool merged)
{
    json_kv_string(out, "name", entry->name[0] != '\0' ? entry->name : NULL);
    json_kv_string(out, "description", entry->description[0] != '\0' ? entry->description : NULL);
    json_kv_string(out, "brand", entry->brand[0] != '\0' ? entry->brand : NULL);
    json_key(out, "attributes");
    json_object_begin(out);
    for (uint32_t i = 0; i < entry->attribute_count; i++)
        json_kv_string(out, entry->attributes[i].key, entry->attributes[i].value);
    json_object_end(out);
    if (merged) {
        json_key(out, "attribute_sources");
        json_object_begin(out);
        for (uint32_t i = 0; i < entry->attribute_count; i++)
            json_kv_string(out, entry->attributes[i].key, entry->attributes[i].source);
        json_object_end(out);
        json_kv_bool(out, "attributes_truncated", entry->attributes_truncated);
    }
    json_kv_int(out, "sequence", (int64_t)entry->sequence);
    time_write(out, "updated_at", entry->updated_ms);
}

void api_sku_catalog_get(struct api_request *request)
{
    static const char *const allowed[] = {"source", "min_position", NULL};
    if (!api_query_allow(request, allowed) ||
        !identifier_param(request, request->params[0], STOCKD_SKU_BYTES_MAX))
        return;
    const char *source = api_query_get(request, "source");
    if (source != NULL && !codec_identifier_valid(source, STOCKD_CATALOG_SOURCE_BYTES_MAX)) {
        api_problem(request, 400, "invalid-parameter", "Invalid source", "source",
                    "source must be 1 to %d of [A-Za-z0-9._:-], starting with a letter or digit",
                    STOCKD_CATALOG_SOURCE_BYTES_MAX);
        return;
    }
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_catalog_sku *entry = malloc(sizeof(*entry));
    int found = entry != NULL ? view_catalog_get(frame.reader, request->params[0], source, entry, frame.error,
                                                 sizeof(frame.error))
                              : VIEW_QUERY_ERROR;
    if (found < 0) {
        frame_fail(request, &frame, found, NULL);
    } else if (frame_close(request, &frame)) {
        if (found == 0) {
            not_found_with_position(request, &frame, "No catalog entry", "no source has described SKU");
        } else {
            struct json_out out;
            json_out_init(&out);
            json_object_begin(&out);
            json_kv_string(&out, "sku", entry->sku);
            catalog_entry_write(&out, &entry->merged, true);
            json_key(&out, "sources");
            json_array_begin(&out);
            for (uint32_t i = 0; i < entry->source_count; i++) {
                json_object_begin(&out);
                json_kv_string(&out, "source", entry->sources[i].source);
                catalog_entry_write(&out, &entry->sources[i], false);
                json_object_end(&out);
            }
            json_array_end(&out);
            json_kv_bool(&out, "sources_truncated", entry->sources_truncated);
            json_object_end(&out);
            respond_with_position(request, 200, &out, &frame);
            json_out_free(&out);
        }
    }
    free(entry);
}

void api_catalog_duplicates(struct api_request *request)
{
    static const char *const allowed[] = {"limit", "cursor", "min_position", NULL};
    if (!api_query_allow(request, allowed)) return;
    uint32_t limit = limit_parse(request);
    if (limit == 0) return;
    struct query_frame frame;
    if (!frame_open(request, &frame)) return;
    struct view_catalog_duplicates *page = malloc(sizeof(*page));
    int count = page != NULL ? view_catalog_duplicates_list(frame.reader, api_query_get(request, "cursor"),
                                                            limit, page, frame.error, sizeof(frame.error))
                             : VIEW_QUERY_ERROR;
    if (count < 0) {
        frame_fail(request, &frame, count, "cursor");
    } else if (frame_close(request, &frame)) {
        struct json_out out;
        json_out_init(&out);
        json_object_begin(&out);
        json_key(&out, "items");
        json_array_begin(&out);
        for (int i = 0; i < count; i++) {
            const struct view_catalog_duplicate *group = &page->items[i];
            json_object_begin(&out);
            json_kv_string(&out, "gtin", group->gtin);
            json_key(&out, "claims");
            json_array_begin(&out);
            for (uint32_t c = 0; c < group->claim_count; c++) {
                json_object_begin(&out);
                json_kv_string(&out, "sku", group->claims[c].sku);
                json_kv_string(&out, "source", group->claims[c].source);
                json_object_end(&out);
            }
            json_array_end(&out);
            json_kv_bool(&out, "claims_truncated", group->claims_truncated);
            json_object_end(&out);
        }
        json_array_end(&out);
        json_kv_string(&out, "next_cursor", page->next_cursor[0] != '\0' ? page->next_cursor : NULL);
        json_object_end(&out);
        respond_with_position(request, 200, &out, &frame);
        json_out_free(&out);
    }
    free(page);
}
