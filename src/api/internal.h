/* internal.h - what the API's route files share: the API's state, and the writers, producer and key table
 * that more than one of them uses.
 *
 * Layers, each using only those below it: http.c (one request on civetweb: answers, input) < producer.c,
 * idempotency.c < queries.c (query routes and the JSON of views) < commands.c, admin.c (the other routes)
 * < routes.c (the table: each route's handler) < server.c (civetweb, auth, dispatch through the table). */
#ifndef STOCKD_API_INTERNAL_H
#define STOCKD_API_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/gate.h"
#include "api/http.h"
#include "api/json_out.h"
#include "api/routes.h"
#include "config.h"
#include "views/view.h"

_Static_assert(API_PATH_SEGMENTS_MAX == API_ROUTE_SEGMENTS_MAX + 1,
               "one more path segment than any route has, so longer paths are a clean 404");

struct api_producer;
struct api_idempotency;

struct api {
    const struct stockd_config *config;
    struct api_stages stages;
    struct mg_context *context;
    struct api_gate *gate; /* the public address (gate.c); civetweb listens on the loopback behind it */
    struct api_producer *producer;
    struct api_idempotency *idempotency;
    struct stockd_api_key keys[STOCKD_API_KEYS_MAX];
    int key_count;
    atomic_int waits;                   /* requests in a bounded wait now */
    atomic_uint_fast64_t request_count; /* for generated request ids */
    uint64_t request_id_seed;
    atomic_bool stopping;
    bool library_initialised;
    int port;
};

/* ---- queries.c: the JSON of views, shared with commands.c ------------------------------------------ */

/* Writes a command outcome as JSON (GET /v1/commands/{id} and the synchronous command answers). */
struct view_outcome;
void api_outcome_write(struct json_out *out, const struct view_outcome *outcome);

/* Writes key: "partition:offset" (a position token) into an open object. */
void api_position_write(struct json_out *out, const char *key, struct view_position position);

/* Writes "skus": [...] of an ambiguous reservation id into an open problem object (context: struct
 * view_reservation_skus). */
void api_ambiguous_skus_write(struct json_out *out, const void *context);

/* Waits for the request's min_position, when given: a comma-separated list of at most 64 partition:offset
 * tokens with partitions below kafka.partitions, each waited for with wait(context, position, remaining_ms)
 * (1: passed) within http.wait_ms_max in all. what names the thing waited on in the 503 ("view", "order
 * stage"). Returns true, or false after answering (400 bad token, 503 not reached or no wait slot). */
bool api_min_position_wait(struct api_request *request, const char *what,
                           int (*wait)(void *context, struct view_position position, int timeout_ms),
                           void *context);

/* X-Stockd-Position on the problem answers of a query route, from the moment the request is authorized:
 * the view's current position, read without waiting for a reader (left out when none is free). */
extern const struct api_problem_header api_position_problem_header;

/* ---- producer.c ---------------------------------------------------------------------------------------- */

struct api_producer *api_producer_create(const struct stockd_config *config, char *error, size_t error_bytes);

/* Produces value, a command's canonical encoding (codec_command_encode of a valid command: what the router
 * would write), to <prefix>.commands.by-sku keyed by sku on partition murmur2(sku) % kafka.partitions, with
 * the header stockd_command_id, stamped with the time of the call (CreateTime: the handler's end-to-end
 * latency starts there), and waits for Kafka's acknowledgement (acks=all, idempotent). Returns 0, 1 when
 * the local queue stayed full (overloaded), -1 when delivery failed (error says why; the record may still
 * have been written) or when the partition had fewer in-sync replicas than kafka.min_insync_replicas at the
 * last reading, at most 3 s old (nothing written: Kafka would refuse it until the delivery timeout). */
int api_producer_send(struct api_producer *producer, const char *sku, const char *command_id,
                      const char *value, size_t value_bytes, char *error, size_t error_bytes);

/* Produces value, an order record (order_codec_input_encode of PlaceOrder, ReleaseOrder or FulfilOrder), to
 * <prefix>.orders keyed by order_id on partition murmur2(order_id) % kafka.partitions, and waits for the ack;
 * returns as api_producer_send, with *position the record's place on <prefix>.orders when it returns 0 (a
 * min_position token for GET /v1/orders/{id}). */
int api_producer_send_order(struct api_producer *producer, const char *order_id, const char *value,
                            size_t value_bytes, struct view_position *position, char *error,
                            size_t error_bytes);

/* What /readyz learns from one metadata request for <prefix>.commands.by-sku. */
struct api_broker_health {
    bool reachable;                /* a broker answered within the timeout */
    int32_t partitions;            /* partitions in the answer (0 when unreachable) */
    int32_t partitions_leaderless; /* without a leader: nothing can be written there */
    int32_t partitions_short;      /* fewer in-sync replicas than min_insync: Kafka refuses acks=all writes */
};

/* Asks the cluster for the by-sku topic's metadata within timeout_ms (which caches it: /readyz warms the
 * path of the first command) and counts its partitions that cannot
 * take a write now: without a leader, or with fewer than min_insync in-sync replicas (min_insync 0 or 1:
 * the leader alone suffices). Fills *health in every case. */
void api_producer_broker_check(struct api_producer *producer, int timeout_ms, int32_t min_insync,
                               struct api_broker_health *health);

void api_producer_destroy(struct api_producer *producer);

/* ---- idempotency.c ------------------------------------------------------------------------------------- */

enum api_idempotency_result {
    API_IDEMPOTENCY_NEW,      /* first time: now claimed with this fingerprint */
    API_IDEMPOTENCY_SAME,     /* seen with the same command */
    API_IDEMPOTENCY_CONFLICT, /* seen with another command */
};

/* A table of the last capacity keys (0: remembers nothing). NULL when out of memory. */
struct api_idempotency *api_idempotency_create(size_t capacity);
/* Claims key for the command with this fingerprint, in one step under the table's lock: two requests with
 * one key and different commands cannot both see it new. The claim is made before the command is produced
 * (again after producing, which keeps it when a concurrent claim was given back) and kept when producing
 * fails: the same command may be retried, another one under that key is refused. The oldest key goes when
 * the table is full. */
enum api_idempotency_result api_idempotency_claim(struct api_idempotency *table, const char *key,
                                                  uint64_t fingerprint);

/* Gives back a claim that came out API_IDEMPOTENCY_NEW for a request that was then refused before producing,
 * or answered with an outcome the key already had: the key stays free for its rightful command. Only an
 * entry with this fingerprint is forgotten. */
void api_idempotency_forget(struct api_idempotency *table, const char *key, uint64_t fingerprint);

void api_idempotency_destroy(struct api_idempotency *table);

/* 64-bit FNV-1a of bytes. */
uint64_t api_fingerprint(const void *bytes, size_t count);

#endif
