/* commands.c - the command routes: build the command strictly, claim its key, produce it, answer.
 *
 * 202 once Kafka has the command on its SKU's partition of commands.by-sku; with Prefer: wait=N the outcome
 * from this instance's outcomes view (201/200, or 409/422 with the reason). Nothing is produced for a request
 * that is refused. One handler for every command route of the table: the route's id gives the shape. */
#include "api/internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/number.h"
#include "domain/order.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "metrics.h"
#include "outcome_board.h"
#include "outcome_wait.h"
#include "projector.h"
#include "views/query.h"

#define COMPONENT "api"

/* Reads Idempotency-Key (an identifier) into id, else makes a UUID v4. Returns true, or false after
 * answering 400. */
static bool command_id_assign(struct api_request *request, char id[STOCKD_ID_BYTES_MAX + 1])
{
    const char *key = api_header_get(request, "Idempotency-Key");
    if (key != NULL) {
        if (!codec_identifier_valid(key, STOCKD_ID_BYTES_MAX)) {
            api_problem(request, 400, "invalid-header", "Invalid Idempotency-Key", "Idempotency-Key",
                        "the key must be 1 to %d of [A-Za-z0-9._:-], starting with a letter or digit",
                        STOCKD_ID_BYTES_MAX);
            return false;
        }
        snprintf(id, STOCKD_ID_BYTES_MAX + 1, "%s", key);
        return true;
    }
    unsigned char bytes[16];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
        uint64_t fallback =
            (uint64_t)clock_monotonic_us() ^ atomic_fetch_add(&request->api->request_count, 1);
        memcpy(bytes, &fallback, sizeof(fallback));
        memcpy(bytes + 8, &request->api->request_id_seed, 8);
    }
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    snprintf(id, STOCKD_ID_BYTES_MAX + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1],
             bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10],
             bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
    return true;
}

/* Parses Prefer: wait=N. Returns the wait in ms (0: none), cut to http.wait_ms_max. */
static int prefer_wait_ms(const struct api_request *request)
{
    const char *prefer = api_header_get(request, "Prefer");
    if (prefer == NULL) return 0;
    const char *wait = strstr(prefer, "wait=");
    if (wait == NULL || (wait != prefer && wait[-1] != ' ' && wait[-1] != ',' && wait[-1] != ';')) return 0;
    wait += 5;
    /* A preference that is not an integer is ignored (RFC 7240), as an absent one. */
    int64_t seconds = 0;
    if (number_integer_parse(wait, strcspn(wait, " ,;"), 0, INT32_MAX / 1000, &seconds) != NUMBER_OK)
        return 0;
    int64_t wait_ms = seconds * 1000;
    if (wait_ms > request->api->config->http_wait_ms_max) wait_ms = request->api->config->http_wait_ms_max;
    return (int)wait_ms;
}

/* 409 for a conflict with the current state, 422 for a command that cannot apply. */
static int rejection_status(enum reject_reason reason)
{
    switch (reason) {
    case REJECT_SKU_EXISTS:
    case REJECT_INSUFFICIENT_STOCK:
    case REJECT_RESERVATION_EXISTS:
    case REJECT_RESERVATION_NOT_ACTIVE:
    case REJECT_BELOW_RESERVED:
    case REJECT_ON_HAND_LIMIT:
    case REJECT_TOO_MANY_LOCATIONS:
        return 409;
    default:
        return 422;
    }
}

static void rejection_extra(struct json_out *out, const void *context)
{
    const struct view_outcome *outcome = context;
    json_kv_string(out, "reason", domain_reject_reason_code(outcome->reason));
    json_kv_string(out, "command_id", outcome->command_id);
    if (outcome->event_count > 0)
        api_position_write(out, "position", outcome->events[outcome->event_count - 1].position);
}

/* Answers with a known outcome: 201/200 with it, or 409/422 with the reason. */
static void outcome_respond(struct api_request *request, const struct view_outcome *outcome, int waited_ms,
                            const struct command *command)
{
    char preference[32] = "";
    if (waited_ms > 0) snprintf(preference, sizeof(preference), "wait=%d", waited_ms / 1000);
    if (!outcome->accepted) {
        const struct api_header headers[] = {{waited_ms > 0 ? "Preference-Applied" : NULL, preference},
                                             {NULL, NULL}};
        api_problem_ex(
            request, rejection_status(outcome->reason), "command-rejected", "Command rejected", NULL,
            outcome->detail[0] != '\0' ? outcome->detail : domain_reject_reason_code(outcome->reason),
            rejection_extra, outcome, headers);
        return;
    }
    char location[32 + STOCKD_ID_BYTES_MAX + STOCKD_SKU_BYTES_MAX];
    int status = 200;
    if (outcome->command_type == COMMAND_CREATE_SKU) {
        snprintf(location, sizeof(location), "/v1/skus/%s", outcome->sku);
        status = 201;
    } else {
        snprintf(location, sizeof(location), "/v1/commands/%s", outcome->command_id);
    }
    if (outcome->command_type == COMMAND_RESERVE_STOCK) {
        snprintf(location, sizeof(location), "/v1/reservations/%s?sku=%s", command->reservation_id,
                 outcome->sku);
        status = 201;
    }
    struct json_out out;
    json_out_init(&out);
    api_outcome_write(&out, outcome);
    struct api_header headers[] = {{"Location", location}, {NULL, NULL}, {NULL, NULL}};
    if (waited_ms > 0) headers[1] = (struct api_header){"Preference-Applied", preference};
    api_respond_json(request, status, &out, headers);
    json_out_free(&out);
}

/* The reservations view's SKU for a reservation id (release/fulfil without "sku"). Returns true with
 * sku filled, or false after answering (404, 409 ambiguous, 503). */
static bool reservation_sku_find(struct api_request *request, const char *reservation_id,
                                 char sku[STOCKD_SKU_BYTES_MAX + 1])
{
    struct projector *projector = request->api->stages.reservations;
    if (projector == NULL) {
        api_problem(request, 422, "sku-required", "SKU required", "sku",
                    "this instance has no reservations view: give the reservation's sku in the body");
        return false;
    }
    char error[256];
    sqlite3 *reader = projector_reader_acquire(projector, error, sizeof(error));
    if (reader == NULL) {
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL, "%s", error);
        return false;
    }
    struct view_reservation reservation;
    struct view_reservation_skus ambiguous;
    int found = VIEW_QUERY_ERROR;
    if (projector_reader_begin(reader) == 0) {
        found = view_reservation_find(reader, reservation_id, &reservation, &ambiguous, error, sizeof(error));
        projector_reader_commit(reader);
    }
    projector_reader_release(projector, reader);
    if (found == 1) {
        snprintf(sku, STOCKD_SKU_BYTES_MAX + 1, "%s", reservation.sku);
        return true;
    }
    if (found == 0) {
        api_problem(request, 404, "not-found", "Reservation not found", NULL,
                    "the reservations view does not hold %s (yet): give its sku in the body", reservation_id);
    } else if (found == VIEW_QUERY_AMBIGUOUS) {
        char detail[STOCKD_ID_BYTES_MAX + 96];
        snprintf(detail, sizeof(detail), "%u SKUs hold reservation %s: give its sku in the body",
                 ambiguous.count, reservation_id);
        api_problem_ex(request, 409, "ambiguous-reservation", "Ambiguous reservation id", "sku", detail,
                       api_ambiguous_skus_write, &ambiguous, NULL);
    } else {
        api_problem(request, 503, "view-unavailable", "View unavailable", NULL, "%s", error);
    }
    return false;
}

/* Builds the command from the route, its path and its body. Returns true, or false after answering. */
static bool command_build(struct api_request *request, const char *body, size_t body_bytes,
                          struct command *command)
{
    struct codec_error codec_error;
    enum api_route_id route = request->route->id;
    if (route == API_ROUTE_COMMAND_SUBMIT) {
        if (codec_command_request_decode(body, body_bytes, command, &codec_error) != 0) goto out_invalid;
        return true;
    }
    static const struct {
        enum command_type type;
        enum codec_body_sku sku_rule;
        bool id_from_path;
    } shapes[] = {
        [API_ROUTE_SKU_CREATE] = {COMMAND_CREATE_SKU, CODEC_BODY_SKU_REQUIRED, false},
        [API_ROUTE_SKU_RECEIPTS] = {COMMAND_RECEIVE_STOCK, CODEC_BODY_SKU_NONE, false},
        [API_ROUTE_SKU_ADJUSTMENTS] = {COMMAND_ADJUST_STOCK, CODEC_BODY_SKU_NONE, false},
        [API_ROUTE_SKU_TRANSFERS] = {COMMAND_TRANSFER_STOCK, CODEC_BODY_SKU_NONE, false},
        [API_ROUTE_RESERVATION_CREATE] = {COMMAND_RESERVE_STOCK, CODEC_BODY_SKU_REQUIRED, false},
        [API_ROUTE_RESERVATION_RELEASE] = {COMMAND_RELEASE_RESERVATION, CODEC_BODY_SKU_OPTIONAL, true},
        [API_ROUTE_RESERVATION_FULFIL] = {COMMAND_FULFIL_RESERVATION, CODEC_BODY_SKU_OPTIONAL, true},
        [API_ROUTE_SKU_CATALOG_UPDATE] = {COMMAND_UPDATE_CATALOG, CODEC_BODY_SKU_NONE, false},
    };
    assert((size_t)route < sizeof(shapes) / sizeof(shapes[0]) && shapes[route].type != COMMAND_NONE);
    const char *decoded_body = body;
    size_t decoded_bytes = body_bytes;
    if (body_bytes == 0 && shapes[route].id_from_path) {
        decoded_body = "{}";
        decoded_bytes = 2;
    }
    if (codec_command_body_decode(shapes[route].type, decoded_body, decoded_bytes, shapes[route].sku_rule,
                                  shapes[route].id_from_path, command, &codec_error) != 0)
        goto out_invalid;
    if (shapes[route].sku_rule == CODEC_BODY_SKU_NONE) {
        if (!codec_identifier_valid(request->params[0], STOCKD_SKU_BYTES_MAX)) goto out_bad_path;
        snprintf(command->sku, sizeof(command->sku), "%s", request->params[0]);
    }
    if (shapes[route].id_from_path) {
        if (!codec_identifier_valid(request->params[0], STOCKD_ID_BYTES_MAX)) goto out_bad_path;
        snprintf(command->reservation_id, sizeof(command->reservation_id), "%s", request->params[0]);
        if (command->sku[0] == '\0' && !reservation_sku_find(request, command->reservation_id, command->sku))
            return false;
    }
    return true;
out_bad_path:
    api_problem(request, 400, "invalid-path", "Invalid path", NULL,
                "a path segment must be an identifier: 1 to %d of [A-Za-z0-9._:-], starting with a letter or "
                "digit",
                request->route->id == API_ROUTE_RESERVATION_RELEASE ||
                        request->route->id == API_ROUTE_RESERVATION_FULFIL
                    ? STOCKD_ID_BYTES_MAX
                    : STOCKD_SKU_BYTES_MAX);
    return false;
out_invalid:
    api_problem(request, 400, "invalid-body", "Invalid request body", codec_error.field, "%s",
                codec_error.message);
    return false;
}

/* Looks up the outcome of id in the outcomes view. Returns 1 found, 0 not, -1 when the view failed. */
static int outcome_lookup(struct projector *projector, const char *id, struct view_outcome *outcome)
{
    char error[256];
    sqlite3 *reader = projector_reader_acquire(projector, error, sizeof(error));
    if (reader == NULL) return -1;
    int found = VIEW_QUERY_ERROR;
    if (projector_reader_begin(reader) == 0) {
        found = view_outcome_get(reader, id, outcome, error, sizeof(error));
        projector_reader_commit(reader);
    }
    projector_reader_release(projector, reader);
    return found < 0 ? -1 : found;
}

static void idempotency_conflict(struct api_request *request, const char *id)
{
    api_problem(request, 422, "idempotency-key-reused", "Idempotency key reused", "Idempotency-Key",
                "the command id %s was used for another command", id);
}

/* Answers with the outcome recorded under the command's id, unless that outcome is another command's (another
 * type or SKU: the key was used before, for something else), which is a 422 (returns false). The outcomes
 * view cannot tell apart two commands of one type and SKU; the idempotency table does, for the keys it holds.
 */
static bool outcome_answer(struct api_request *request, const struct view_outcome *outcome, int waited_ms,
                           const struct command *command)
{
    if (outcome->command_type != command->type || strcmp(outcome->sku, command->sku) != 0) {
        idempotency_conflict(request, command->command_id);
        return false;
    }
    outcome_respond(request, outcome, waited_ms, command);
    return true;
}

/* One command request on its way: built, claimed, produced, answered. */
struct submission {
    struct command *command; /* malloc'd (a command is 3 KiB) */
    char *encoded;           /* the canonical encoding that is produced, malloc'd */
    size_t encoded_bytes;
    /* The id is the client's (Idempotency-Key, or command_id in the body): only such an id can have been seen
     * or have an outcome. Generated ids are not remembered: they would push client keys out of the table. */
    bool client_key;
    uint64_t fingerprint; /* of the encoding, when client_key */
    bool claimed;         /* this request claimed the key first: given back if it does not go through */
    int wait_ms;          /* Prefer: wait, 0 without it or without an outcomes view */
    int watch;            /* on the outcome board, or OUTCOME_BOARD_NOT_HERE */
};

/* Builds the command from the route, path and body, names it (Idempotency-Key, the body's command_id or a
 * new UUID) and encodes it. Returns true, or false after answering. */
static bool submission_build(struct api_request *request, const char *body, size_t body_bytes,
                             struct submission *submission)
{
    struct command *command = submission->command;
    if (!command_build(request, body, body_bytes, command)) return false;
    char id[STOCKD_ID_BYTES_MAX + 1];
    if (!command_id_assign(request, id)) return false;
    bool header_given = api_header_get(request, "Idempotency-Key") != NULL;
    bool body_given = command->command_id[0] != '\0';
    if (body_given && header_given && strcmp(command->command_id, id) != 0) {
        api_problem(request, 422, "idempotency-key-mismatch", "Idempotency-Key differs from command_id",
                    "command_id", "the body's command_id and the Idempotency-Key header must be equal");
        return false;
    }
    if (!body_given) snprintf(command->command_id, sizeof(command->command_id), "%s", id);
    /* The order stage's line commands and reservations are named order:<order_id>:<line>: a client's must
     * not be taken for them (docs/orders.md). */
    const char *reserved_field = order_client_id_field(command);
    if (reserved_field != NULL) {
        api_problem(request, 422, "reserved-id", "Reserved id",
                    strcmp(reserved_field, "command_id") == 0 ? "command_id" : "reservation_id",
                    "ids beginning with \"%s\" belong to orders (POST /v1/orders)", ORDER_ID_PREFIX);
        return false;
    }
    submission->encoded = codec_command_encode(command);
    if (submission->encoded == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        return false;
    }
    submission->encoded_bytes = strlen(submission->encoded);
    submission->client_key = header_given || body_given;
    return true;
}

/* Gives the key back when this request claimed it first and does not go through. */
static void submission_unclaim(struct api_request *request, const struct submission *submission)
{
    if (submission->claimed)
        api_idempotency_forget(request->api->idempotency, submission->command->command_id,
                               submission->fingerprint);
}

/* Claims a client's key for this command (422 when the key is another command's), answers the key's outcome
 * when it is known already, and takes a wait slot for Prefer: wait. Returns true when the command is to be
 * produced, false after answering. */
static bool submission_claim(struct api_request *request, struct submission *submission)
{
    const char *key = submission->command->command_id;
    if (submission->client_key) {
        submission->fingerprint = api_fingerprint(submission->encoded, submission->encoded_bytes);
        enum api_idempotency_result claim =
            api_idempotency_claim(request->api->idempotency, key, submission->fingerprint);
        if (claim == API_IDEMPOTENCY_CONFLICT) {
            idempotency_conflict(request, key);
            return false;
        }
        submission->claimed = claim == API_IDEMPOTENCY_NEW;
    }
    struct projector *outcomes = request->api->stages.outcomes;
    struct view_outcome outcome;
    if (submission->client_key && outcomes != NULL && outcome_lookup(outcomes, key, &outcome) == 1) {
        /* The key was used before, by a command the table had forgotten: this request's fields are not
         * that command's for sure (the outcome cannot tell), so they must not stay as the key's. */
        submission_unclaim(request, submission);
        outcome_answer(request, &outcome, 0, submission->command);
        return false;
    }
    submission->wait_ms = outcomes != NULL ? prefer_wait_ms(request) : 0;
    if (submission->wait_ms > 0 && !api_wait_acquire(request)) {
        submission_unclaim(request, submission);
        return false;
    }
    /* Watched before it is produced, so that the handler cannot decide it unseen. */
    if (submission->wait_ms > 0 && request->api->stages.outcome_board != NULL) {
        const struct command *command = submission->command;
        int32_t partition =
            murmur2_partition(command->sku, strlen(command->sku), request->api->config->partitions);
        submission->watch = outcome_board_watch(request->api->stages.outcome_board, partition, key);
    }
    return true;
}

/* Ends the submission's watch on the outcome board, if it has one. */
static void submission_unwatch(struct api_request *request, struct submission *submission)
{
    outcome_board_unwatch(request->api->stages.outcome_board, submission->watch);
    submission->watch = OUTCOME_BOARD_NOT_HERE;
}

/* Waits for the outcome: from this instance's handler when it decides the SKU (the outcome board), else, or
 * when the board has none for it (a duplicate, a rebalance), from the outcomes view. Returns as
 * outcome_wait. */
static int submission_wait(struct api_request *request, struct submission *submission,
                           struct view_outcome *outcome, char *error, size_t error_bytes)
{
    int64_t deadline_ms = clock_monotonic_ms() + submission->wait_ms;
    if (submission->watch != OUTCOME_BOARD_NOT_HERE) {
        enum outcome_board_wait_result posted =
            outcome_board_wait(request->api->stages.outcome_board, submission->watch, deadline_ms, outcome);
        submission_unwatch(request, submission);
        if (posted == OUTCOME_BOARD_DECIDED) {
            metrics_sync_answer_add(METRICS_SYNC_HANDLER);
            return 1;
        }
        if (posted == OUTCOME_BOARD_TIMEOUT) {
            metrics_sync_answer_add(METRICS_SYNC_NONE);
            return 0;
        }
    }
    int64_t left_ms = deadline_ms - clock_monotonic_ms();
    int found = outcome_wait(request->api->stages.outcomes, submission->command->command_id,
                             left_ms > 0 ? (int)left_ms : 0, outcome, error, error_bytes);
    metrics_sync_answer_add(found == 1 ? METRICS_SYNC_VIEW : METRICS_SYNC_NONE);
    return found;
}

/* Produces the command to its SKU's partition and waits for Kafka's ack. Returns true, or false after
 * answering 503. */
static bool submission_produce(struct api_request *request, const struct submission *submission)
{
    const struct command *command = submission->command;
    char error[256];
    int sent = api_producer_send(request->api->producer, command->sku, command->command_id,
                                 submission->encoded, submission->encoded_bytes, error, sizeof(error));
    /* Claimed again after the produce: a request with the same command that claimed the key first may
     * have given it back meanwhile (refused, not produced). A failed produce keeps the claim: a timed-out
     * message may still have been written. */
    if (submission->client_key)
        (void)api_idempotency_claim(request->api->idempotency, command->command_id, submission->fingerprint);
    if (sent == 0) return true;
    log_warn(COMPONENT, "request %s: command %s not produced: %s", request->request_id, command->command_id,
             error);
    api_problem(request, 503, sent > 0 ? "overloaded" : "kafka-unavailable",
                sent > 0 ? "Overloaded" : "Kafka unavailable", NULL, "the command was not accepted: %s",
                error);
    return false;
}

/* Answers a produced command: its outcome when Prefer: wait sees it in time, else 202 pending. */
static void submission_answer(struct api_request *request, struct submission *submission)
{
    const char *key = submission->command->command_id;
    if (submission->wait_ms > 0) {
        struct view_outcome outcome;
        char error[256];
        int found = submission_wait(request, submission, &outcome, error, sizeof(error));
        if (found == 1) {
            /* Another command's outcome: the handler dropped this one as a duplicate of it. */
            if (!outcome_answer(request, &outcome, submission->wait_ms, submission->command))
                submission_unclaim(request, submission);
            return;
        }
    }
    char location[32 + STOCKD_ID_BYTES_MAX];
    snprintf(location, sizeof(location), "/v1/commands/%s", key);
    const struct api_header headers[] = {{"Location", location}, {NULL, NULL}};
    struct json_out out;
    json_out_init(&out);
    json_object_begin(&out);
    json_kv_string(&out, "command_id", key);
    json_kv_string(&out, "status", "pending");
    json_object_end(&out);
    api_respond_json(request, 202, &out, headers);
    json_out_free(&out);
}

void api_command_route(struct api_request *request)
{
    if (!api_query_allow(request, NULL)) return;
    size_t body_bytes = 0;
    char *body = api_body_read(request, &body_bytes);
    if (body == NULL) return;
    struct submission submission = {.command = NULL, .watch = OUTCOME_BOARD_NOT_HERE};
    if (!api_content_type_check(request, body_bytes)) goto out_free;
    submission.command = malloc(sizeof(*submission.command));
    if (submission.command == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        goto out_free;
    }
    if (submission_build(request, body, body_bytes, &submission) && submission_claim(request, &submission) &&
        submission_produce(request, &submission))
        submission_answer(request, &submission);
    submission_unwatch(request, &submission);
out_free:
    free(submission.encoded);
    free(submission.command);
    free(body);
}
