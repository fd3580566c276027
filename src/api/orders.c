/* orders.c - the order routes: place an order, read it, release or fulfil all its lines.
 *
 * A request is validated strictly (order_codec), written to <prefix>.orders keyed by order id, and answered
 * 202, or with Prefer: wait=N the order once the saga has settled it (201 confirmed, 409 rejected, 200
 * released or fulfilled). Orders are read from the order stage's shard of this instance (GET answers 503
 * where the stage does not own the order's partition): docs/orders.md says what a reader sees when. */
#include "api/internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/order_codec.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "orders.h"
#include "store/order_store.h"

#define COMPONENT "api"

/* What reading an order found. */
enum order_found {
    ORDER_FOUND = 1,
    ORDER_ABSENT = 0,
    ORDER_READ_FAILED = -1, /* SQLite: error says why */
    ORDER_NOT_HERE = -2,    /* no order stage on this instance, or it does not own the partition now */
};

/* Whether this instance's order stage owns the order's partition now. */
static bool order_here(const struct api_request *request, const char *order_id)
{
    struct orders *orders = request->api->stages.orders;
    int32_t partition = murmur2_partition(order_id, strlen(order_id), request->api->config->partitions);
    return orders != NULL && orders_partition_owned(orders, partition);
}

/* Reads an order from this instance's order stage. */
static enum order_found order_read(struct api_request *request, const char *order_id, struct order_state *out,
                                   char *error, size_t error_bytes)
{
    const struct stockd_config *config = request->api->config;
    int32_t partition = murmur2_partition(order_id, strlen(order_id), config->partitions);
    if (!order_here(request, order_id)) return ORDER_NOT_HERE;
    int64_t checkpoint = 0;
    int found = order_store_read(config->data_dir, partition, order_id, out, &checkpoint, error, error_bytes);
    return found < 0 ? ORDER_READ_FAILED : found == 1 ? ORDER_FOUND : ORDER_ABSENT;
}

static void order_not_here(struct api_request *request)
{
    api_problem(request, 503, "order-unavailable", "Order unavailable", NULL,
                "this instance does not run the orders role for the order's partition (now): ask an instance "
                "that does");
}

/* Answers with an order's JSON. */
static void order_respond(struct api_request *request, int status, const struct order_state *state,
                          const char *preference)
{
    char *json = order_codec_state_encode(state);
    if (json == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        return;
    }
    char location[32 + STOCKD_ORDER_ID_BYTES_MAX];
    snprintf(location, sizeof(location), "/v1/orders/%s", state->order_id);
    const struct api_header headers[] = {
        {"Location", location}, {preference != NULL ? "Preference-Applied" : NULL, preference}, {NULL, NULL}};
    api_respond(request, status, "application/json", json, strlen(json), headers);
    free(json);
}

static void order_extra(struct json_out *out, const void *context)
{
    const struct order_state *state = context;
    char *json = order_codec_state_encode(state);
    if (json == NULL) return;
    json_key(out, "order");
    json_raw(out, json);
    free(json);
}

/* Answers 409 order-expired (problem+json holding the order): a line's reservation expired after the order
 * was confirmed, and the order released the others; nothing of it can be released or fulfilled any more. */
static void order_expired(struct api_request *request, const struct order_state *state,
                          const struct api_header *headers)
{
    api_problem_ex(
        request, 409, "order-expired", "Order expired", NULL,
        "a line's reservation expired after the order was confirmed: the order released every line "
        "and holds nothing (each line says what happened to it)",
        order_extra, state, headers);
}

/* Answers with a settled or pending order: 201 confirmed, 409 rejected or expired (problem+json holding the
 * order), 200 otherwise. */
static void order_answer(struct api_request *request, const struct order_state *state, int waited_ms)
{
    char preference[32];
    snprintf(preference, sizeof(preference), "wait=%d", waited_ms / 1000);
    const char *applied = waited_ms > 0 ? preference : NULL;
    const struct api_header headers[] = {{applied != NULL ? "Preference-Applied" : NULL, preference},
                                         {NULL, NULL}};
    if (state->status == ORDER_STATUS_EXPIRED) {
        order_expired(request, state, headers);
        return;
    }
    if (state->status == ORDER_STATUS_REJECTED) {
        char detail[96];
        snprintf(detail, sizeof(detail), "order rejected: %s (each line says why)", state->reason);
        api_problem_ex(request, 409, "order-rejected", "Order rejected", NULL, detail, order_extra, state,
                       headers);
        return;
    }
    order_respond(request, state->status == ORDER_STATUS_CONFIRMED ? 201 : 200, state, applied);
}

/* Parses Prefer: wait=N into ms (0: none), cut to http.wait_ms_max. */
static int order_prefer_wait_ms(const struct api_request *request)
{
    const char *prefer = api_header_get(request, "Prefer");
    const char *wait = prefer != NULL ? strstr(prefer, "wait=") : NULL;
    if (wait == NULL || (wait != prefer && wait[-1] != ' ' && wait[-1] != ',' && wait[-1] != ';')) return 0;
    long seconds = 0;
    for (int digits = 0; digits < 6 && wait[5 + digits] >= '0' && wait[5 + digits] <= '9'; digits++)
        seconds = seconds * 10 + (wait[5 + digits] - '0');
    long wait_ms = seconds * 1000;
    return (int)(wait_ms > request->api->config->http_wait_ms_max ? request->api->config->http_wait_ms_max
                                                                  : wait_ms);
}

/* Waits (bounded) until the order is in a status other than from (and not NONE). Returns the last state
 * read in *out: 1 when it moved on, 0 when the wait ended first, -1 after answering (read failed). */
static int order_wait(struct api_request *request, const char *order_id, enum order_status from, int wait_ms,
                      struct order_state *out)
{
    struct orders *orders = request->api->stages.orders;
    int64_t deadline_us = clock_monotonic_us() + (int64_t)wait_ms * 1000;
    char error[256];
    for (;;) {
        uint64_t seen = orders_commit_count(orders);
        enum order_found found = order_read(request, order_id, out, error, sizeof(error));
        if (found == ORDER_READ_FAILED) {
            api_problem(request, 503, "order-unavailable", "Order unavailable", NULL, "%s", error);
            return -1;
        }
        if (found == ORDER_FOUND && out->status != from && order_status_final(out->status)) return 1;
        int64_t remaining_ms = (deadline_us - clock_monotonic_us()) / 1000;
        if (remaining_ms <= 0) return 0;
        orders_wait_commit(orders, seen, (int)remaining_ms);
    }
}

/* The 202 of an order record written (at position, on <prefix>.orders; NULL when this request wrote none:
 * a retry) but not (yet) settled. */
static void order_accepted(struct api_request *request, const char *order_id, const char *status,
                           const struct view_position *position)
{
    char location[32 + STOCKD_ORDER_ID_BYTES_MAX];
    snprintf(location, sizeof(location), "/v1/orders/%s", order_id);
    const struct api_header headers[] = {{"Location", location}, {NULL, NULL}};
    struct json_out out;
    json_out_init(&out);
    json_object_begin(&out);
    json_kv_string(&out, "order_id", order_id);
    json_kv_string(&out, "status", status);
    if (position != NULL) api_position_write(&out, "position", *position);
    json_object_end(&out);
    api_respond_json(request, 202, &out, headers);
    json_out_free(&out);
}

/* Writes an order record, at *position on <prefix>.orders; answers 503 when Kafka did not take it. Returns
 * true when written. */
static bool order_send(struct api_request *request, const struct order_input *input,
                       struct view_position *position)
{
    char *json = order_codec_input_encode(input);
    if (json == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        return false;
    }
    char error[256];
    int sent = api_producer_send_order(request->api->producer, input->order_id, json, strlen(json), position,
                                       error, sizeof(error));
    free(json);
    if (sent == 0) return true;
    log_warn(COMPONENT, "request %s: order %s not produced: %s", request->request_id, input->order_id, error);
    api_problem(request, 503, sent > 0 ? "overloaded" : "kafka-unavailable",
                sent > 0 ? "Overloaded" : "Kafka unavailable", NULL, "the order was not accepted: %s", error);
    return false;
}

/* The same order again (a retry): same lines and ttl. */
static bool order_same(const struct order_state *state, const struct order_input *input)
{
    if (state->line_count != input->line_count || state->ttl_s != input->ttl_s) return false;
    for (uint32_t i = 0; i < input->line_count; i++) {
        if (strcmp(state->lines[i].sku, input->lines[i].sku) != 0 ||
            strcmp(state->lines[i].location, input->lines[i].location) != 0 ||
            state->lines[i].quantity != input->lines[i].quantity)
            return false;
    }
    return true;
}

/* Answers after an order record was written (at position; NULL: none by this request): waits with Prefer:
 * wait, else 202. */
static void order_settle_answer(struct api_request *request, const char *order_id, enum order_status from,
                                const char *pending_status, const struct view_position *position)
{
    int wait_ms = request->api->stages.orders != NULL ? order_prefer_wait_ms(request) : 0;
    if (wait_ms > 0) {
        if (!api_wait_acquire(request)) return;
        struct order_state state;
        int moved = order_wait(request, order_id, from, wait_ms, &state);
        if (moved < 0) return;
        if (moved == 1) {
            order_answer(request, &state, wait_ms);
            return;
        }
    }
    order_accepted(request, order_id, pending_status, position);
}

void api_order_place(struct api_request *request)
{
    if (!api_query_allow(request, NULL)) return;
    size_t body_bytes = 0;
    char *body = api_body_read(request, &body_bytes);
    if (body == NULL) return;
    struct order_input *input = malloc(sizeof(*input));
    struct order_state *state = malloc(sizeof(*state));
    struct codec_error codec_error;
    char error[256];
    if (input == NULL || state == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        goto out_free;
    }
    if (!api_content_type_check(request, body_bytes)) goto out_free;
    if (order_codec_request_decode(body, body_bytes, input, &codec_error) != 0) {
        api_problem(request, 400, "invalid-body", "Invalid request body", codec_error.field, "%s",
                    codec_error.message);
        goto out_free;
    }
    enum order_found found = order_read(request, input->order_id, state, error, sizeof(error));
    if (found == ORDER_READ_FAILED) {
        api_problem(request, 503, "order-unavailable", "Order unavailable", NULL, "%s", error);
        goto out_free;
    }
    if (found == ORDER_FOUND) {
        if (!order_same(state, input)) {
            api_problem_ex(request, 409, "order-exists", "Order exists", "order_id",
                           "an order with this id and other lines or ttl exists", order_extra, state, NULL);
            goto out_free;
        }
        /* A retry of a known order: its state, waiting for it to settle when asked to. */
        if (order_status_final(state->status))
            order_answer(request, state, 0);
        else
            order_settle_answer(request, input->order_id, ORDER_STATUS_NONE, "pending", NULL);
        goto out_free;
    }
    input->submitted_ms = clock_wall_ms();
    struct view_position position;
    if (order_send(request, input, &position))
        order_settle_answer(request, input->order_id, ORDER_STATUS_NONE, "pending", &position);
out_free:
    free(state);
    free(input);
    free(body);
}

/* Checks the path's order id. Returns true, or false after answering 400. */
static bool order_id_param(struct api_request *request)
{
    if (codec_identifier_valid(request->params[0], STOCKD_ORDER_ID_BYTES_MAX)) return true;
    api_problem(request, 400, "invalid-path", "Invalid path", NULL,
                "an order id is 1 to %d of [A-Za-z0-9._:-], starting with a letter or digit",
                STOCKD_ORDER_ID_BYTES_MAX);
    return false;
}

/* orders_wait_position as api_min_position_wait calls it. */
static int order_position_wait(void *orders, struct view_position position, int timeout_ms)
{
    return orders_wait_position(orders, position.partition, position.offset, timeout_ms);
}

/* GET /v1/orders/{id}[?min_position=]: min_position waits until the order stage here has folded the records
 * of <prefix>.orders at those positions (the tokens the order routes answer with). */
void api_order_get(struct api_request *request)
{
    static const char *const allowed[] = {"min_position", NULL};
    if (!api_query_allow(request, allowed) || !order_id_param(request)) return;
    if (!order_here(request, request->params[0])) {
        order_not_here(request);
        return;
    }
    if (!api_min_position_wait(request, "order stage", order_position_wait, request->api->stages.orders))
        return;
    struct order_state state;
    char error[256];
    enum order_found found = order_read(request, request->params[0], &state, error, sizeof(error));
    if (found == ORDER_NOT_HERE)
        order_not_here(request);
    else if (found == ORDER_READ_FAILED)
        api_problem(request, 503, "order-unavailable", "Order unavailable", NULL, "%s", error);
    else if (found == ORDER_ABSENT)
        api_problem(request, 404, "not-found", "Order not found", NULL, "no order %s (yet)",
                    request->params[0]);
    else
        order_respond(request, 200, &state, NULL);
}

/* POST /v1/orders/{id}/release and /fulfil: the order must be confirmed (409 otherwise). */
static void order_settle(struct api_request *request, enum order_input_type type)
{
    if (!api_query_allow(request, NULL) || !order_id_param(request)) return;
    size_t body_bytes = 0;
    char *body = api_body_read(request, &body_bytes);
    if (body == NULL) return;
    if (body_bytes != 0) {
        api_problem(request, 400, "invalid-body", "Invalid request body", NULL, "this route takes no body");
        free(body);
        return;
    }
    free(body);
    struct order_state state;
    char error[256];
    enum order_found found = order_read(request, request->params[0], &state, error, sizeof(error));
    if (found == ORDER_NOT_HERE) {
        order_not_here(request);
        return;
    }
    if (found == ORDER_READ_FAILED) {
        api_problem(request, 503, "order-unavailable", "Order unavailable", NULL, "%s", error);
        return;
    }
    if (found == ORDER_ABSENT) {
        api_problem(request, 404, "not-found", "Order not found", NULL, "no order %s (yet)",
                    request->params[0]);
        return;
    }
    enum order_status target = type == ORDER_INPUT_RELEASE ? ORDER_STATUS_RELEASED : ORDER_STATUS_FULFILLED;
    enum order_status moving = type == ORDER_INPUT_RELEASE ? ORDER_STATUS_RELEASING : ORDER_STATUS_FULFILLING;
    if (state.status == target) { /* a retry */
        order_answer(request, &state, 0);
        return;
    }
    if (state.status == ORDER_STATUS_EXPIRING || state.status == ORDER_STATUS_EXPIRED) {
        order_expired(request, &state, NULL);
        return;
    }
    if (state.status != ORDER_STATUS_CONFIRMED && state.status != moving) {
        api_problem_ex(request, 409, "order-not-confirmed", "Order not confirmed", NULL,
                       "only a confirmed order can be released or fulfilled", order_extra, &state, NULL);
        return;
    }
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = type;
    snprintf(input.order_id, sizeof(input.order_id), "%s", state.order_id);
    struct view_position position;
    bool sending = state.status == ORDER_STATUS_CONFIRMED;
    if (sending && !order_send(request, &input, &position)) return;
    order_settle_answer(request, input.order_id, ORDER_STATUS_CONFIRMED, order_status_name(moving),
                        sending ? &position : NULL);
}

void api_order_release(struct api_request *request)
{
    order_settle(request, ORDER_INPUT_RELEASE);
}

void api_order_fulfil(struct api_request *request)
{
    order_settle(request, ORDER_INPUT_FULFIL);
}
