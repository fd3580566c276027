/* internal.h - what the API's route files share: the server state, one request, and how to answer.
 *
 * server.c owns civetweb and dispatch; commands.c, queries.c and admin.c implement the routes; producer.c
 * and idempotency.c are the command path's Kafka producer and recent-key table. */
#ifndef STOCKD_API_INTERNAL_H
#define STOCKD_API_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>

#include "api/api.h"
#include "api/json_out.h"
#include "api/routes.h"
#include "config.h"
#include "views/view.h"

/* Query parameters per request: the most any route takes (5) plus room to name an unknown one. */
#define API_QUERY_PARAMS_MAX 8

/* A decoded query parameter value: cursors (96) and position lists are the longest. */
#define API_QUERY_VALUE_BYTES_MAX 2048

/* A request id: 1-64 of [A-Za-z0-9._-]. */
#define API_REQUEST_ID_BYTES_MAX 64

/* Path segments of a request: one more than any route has, so longer paths are a clean 404. */
#define API_PATH_SEGMENTS_MAX (API_ROUTE_SEGMENTS_MAX + 1)

/* A decoded path (and a raw one) is at most this long; longer is 404 (no route is that long). */
#define API_PATH_BYTES_MAX 512

struct api_producer;
struct api_idempotency;

struct api {
    const struct stockd_config *config;
    struct api_stages stages;
    struct mg_context *context;
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

struct api_query_param {
    char name[32];
    char value[API_QUERY_VALUE_BYTES_MAX + 1];
};

struct api_request {
    struct api *api;
    struct mg_connection *connection;
    const struct mg_request_info *info;
    const struct api_route *route;
    char path_copy[API_PATH_BYTES_MAX + 1];
    const char *params[API_ROUTE_SEGMENTS_MAX]; /* decoded path parameters, in template order */
    size_t param_count;
    size_t query_count;
    char request_id[API_REQUEST_ID_BYTES_MAX + 1];
    int status;       /* the status answered, 0 until then */
    int64_t start_us; /* monotonic */
    bool holds_wait;  /* holds one of http.waits_max */
    /* A query route's view, set once the request is authorized: its current position goes on the route's
     * problem answers too (X-Stockd-Position). NULL for other routes and before. */
    struct projector *position_view;
    /* Last and not zeroed (16 KiB): only the first query_count entries are ever read. */
    struct api_query_param query[API_QUERY_PARAMS_MAX];
};

/* ---- answering (server.c) ------------------------------------------------------------------------------ */

/* An answer (status line, headers, body) up to this size is assembled on the stack (civetweb's threads have
 * 100 KiB stacks); larger ones on the heap. */
#define API_RESPONSE_STACK_BYTES 4096

/* Extra response headers: at most this many per answer. */
#define API_HEADERS_EXTRA_MAX 6

struct api_header {
    const char *name;
    const char *value;
};

/* Sends status with a body (may be NULL/0) of content_type and the extra headers (NULL-terminated list or
 * NULL). Adds X-Request-Id, Content-Length and Cache-Control: no-store. */
void api_respond(struct api_request *request, int status, const char *content_type, const char *body,
                 size_t body_bytes, const struct api_header *headers);

/* Sends a JSON body; when the writer failed (out of memory, too large) sends 500 instead. */
void api_respond_json(struct api_request *request, int status, struct json_out *body,
                      const struct api_header *headers);

/* Sends a problem+json answer: type urn:stockd:problem:<code>, title, detail (printf), field ("" or NULL:
 * none). */
void api_problem(struct api_request *request, int status, const char *code, const char *title,
                 const char *field, const char *detail_format, ...) __attribute__((format(printf, 6, 7)));

/* Like api_problem with extra members written by a callback into the open object, and extra headers. */
void api_problem_ex(struct api_request *request, int status, const char *code, const char *title,
                    const char *field, const char *detail, void (*extra)(struct json_out *, const void *),
                    const void *extra_context, const struct api_header *headers);

/* ---- request input (server.c) -------------------------------------------------------------------------- */

/* Reads the body, at most http.body_bytes_max bytes (chunked too). Returns a malloc'd NUL-terminated copy
 * (NUL bytes inside are kept: *body_bytes tells the length), or NULL after answering 413 (too large), 400
 * (read failed or timed out) or 500 (out of memory). An absent body gives "" with *body_bytes 0. */
char *api_body_read(struct api_request *request, size_t *body_bytes);

/* Checks that a POST with a body says Content-Type: application/json. Returns true, or false after
 * answering 415. */
bool api_content_type_check(struct api_request *request, size_t body_bytes);

/* Finds a query parameter; NULL when absent. */
const char *api_query_get(const struct api_request *request, const char *name);

/* Refuses (400 invalid-parameter) a request with a query parameter not in allowed (NULL-terminated).
 * Returns true when all are allowed. */
bool api_query_allow(struct api_request *request, const char *const *allowed);

/* A header value, or NULL. */
const char *api_header_get(const struct api_request *request, const char *name);

/* Takes one of http.waits_max for a bounded wait. Returns true, or false after answering 503
 * too-many-waits. Released when the request ends. */
bool api_wait_acquire(struct api_request *request);

/* Microseconds on the monotonic clock. */
int64_t api_now_us(void);

/* ---- routes (commands.c, queries.c, admin.c) ----------------------------------------------------------- */

void api_command_route(struct api_request *request);
void api_query_route(struct api_request *request);
/* The view a query route reads (NULL when this instance has none, or for other routes). */
struct projector *api_query_view(const struct api_request *request);
/* X-Stockd-Position: "partition:offset," per partition: 4 + 1 + 19 + 1 bytes each. */
#define API_POSITION_HEADER_BYTES_MAX (STOCKD_PARTITIONS_MAX * 26)
/* Formats the view's current position (X-Stockd-Position) into out. Returns false when it cannot be read now
 * (no reader free: it does not wait). */
bool api_position_current(struct projector *projector, int32_t partition_count, char *out, size_t out_bytes);
void api_admin_route(struct api_request *request);

/* Waits for min_position (when given) on projector and writes the view's position into *header_value.
 * Returns true, or false after answering (400 bad token, 503 not reached or no slot). */
bool api_min_position_wait(struct api_request *request, struct projector *projector);

/* Writes a command outcome as JSON (GET /v1/commands/{id} and the synchronous command answers). */
struct view_outcome;
void api_outcome_write(struct json_out *out, const struct view_outcome *outcome);

/* Writes key: "partition:offset" (a position token) into an open object. */
void api_position_write(struct json_out *out, const char *key, struct view_position position);

/* Formats position tokens "p:o" (last offsets passed) from next offsets, comma-separated. */
void api_positions_format(const int64_t *next_offsets, int32_t partition_count, char *out, size_t out_bytes);

/* ---- producer.c ---------------------------------------------------------------------------------------- */

struct api_producer *api_producer_create(const struct stockd_config *config, char *error, size_t error_bytes);

/* Produces value, a command's canonical encoding (codec_command_encode of a valid command: what the router
 * would write), to <prefix>.commands.by-sku keyed by sku on partition murmur2(sku) % kafka.partitions, with
 * the header stockd_command_id, stamped with the time of the call (CreateTime: the handler's end-to-end
 * latency starts there), and waits for Kafka's acknowledgement (acks=all, idempotent). Returns 0, 1 when
 * the local queue stayed full (overloaded), -1 when delivery failed (error says why; the record may still
 * have been written). */
int api_producer_send(struct api_producer *producer, const char *sku, const char *command_id,
                      const char *value, size_t value_bytes, char *error, size_t error_bytes);

/* Asks the cluster for metadata within timeout_ms: true when a broker answered. */
bool api_producer_broker_reachable(struct api_producer *producer, int timeout_ms);

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

/* Writes "skus": [...] of an ambiguous reservation id into an open problem object (context: struct
 * view_reservation_skus). */
void api_ambiguous_skus_write(struct json_out *out, const void *context);
void api_idempotency_destroy(struct api_idempotency *table);

/* 64-bit FNV-1a of bytes. */
uint64_t api_fingerprint(const void *bytes, size_t count);

#endif
