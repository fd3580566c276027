/* http.h - one HTTP request on civetweb and the helpers that read it and answer it.
 *
 * Answers (status line, headers, JSON, problem+json), a bounded body, Content-Type, the query string,
 * headers, the path split into percent-decoded segments, and the bounded count of waiting requests. Built
 * on civetweb alone: knows nothing of routes, views or Kafka (server.c dispatches, the route files answer
 * through these helpers). */
#ifndef STOCKD_API_HTTP_H
#define STOCKD_API_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>

#include "api/json_out.h"
#include "config.h"

/* Query parameters per request: the most any route takes (5) plus room to name an unknown one. */
#define API_QUERY_PARAMS_MAX 8

/* A decoded query parameter value: cursors (96) and position lists are the longest. */
#define API_QUERY_VALUE_BYTES_MAX 2048

/* A request id: 1-64 of [A-Za-z0-9._-]. */
#define API_REQUEST_ID_BYTES_MAX 64

/* Path segments of a request: one more than any route has (routes.h), so longer paths are a clean 404. */
#define API_PATH_SEGMENTS_MAX 5

/* A decoded path (and a raw one) is at most this long; longer is 400 (no route is that long). */
#define API_PATH_BYTES_MAX 512

/* An answer (status line, headers, body) up to this size is assembled on the stack (civetweb's threads have
 * 100 KiB stacks); larger ones on the heap. */
#define API_RESPONSE_STACK_BYTES 4096

/* Extra response headers: at most this many per answer. */
#define API_HEADERS_EXTRA_MAX 6

struct api;       /* the API's state (internal.h): the routes' business, never read here */
struct api_route; /* the route the request matched (routes.h): the same */

struct api_header {
    const char *name;
    const char *value;
};

struct api_request;

/* A header that a route adds to every problem answer of a request from some point on (a query's
 * X-Stockd-Position). value_make is called when such an answer is written: it returns a malloc'd value
 * (the caller frees it), or NULL to leave the header out. */
struct api_problem_header {
    const char *name;
    char *(*value_make)(const struct api_request *request);
};

struct api_query_param {
    char name[32];
    char value[API_QUERY_VALUE_BYTES_MAX + 1];
};

struct api_request {
    /* What the helpers here use; server.c sets the first four before any of them runs. */
    const struct stockd_config *config; /* http.body_bytes_max, http.waits_max */
    atomic_int *waits;                  /* requests in a bounded wait now, server-wide */
    struct mg_connection *connection;
    const struct mg_request_info *info;
    char request_id[API_REQUEST_ID_BYTES_MAX + 1];
    int status;                                      /* the status answered, 0 until then */
    int64_t start_us;                                /* monotonic */
    bool holds_wait;                                 /* holds one of http.waits_max */
    const struct api_problem_header *problem_header; /* NULL: problem answers carry no route header */
    char path_copy[API_PATH_BYTES_MAX + 1];          /* the segments of api_path_split point into it */
    /* What the routes use; server.c sets it, nothing here reads it. */
    struct api *api;
    const struct api_route *route;
    const char *params[API_PATH_SEGMENTS_MAX]; /* decoded path parameters, in template order */
    size_t param_count;
    size_t query_count;
    /* Last and not zeroed (16 KiB): only the first query_count entries are ever read. */
    struct api_query_param query[API_QUERY_PARAMS_MAX];
};

/* ---- answering: each request is answered exactly once (asserted) ------------------------------------------
 */

/* Sends status with a body (may be NULL/0) of content_type and the extra headers (NULL-terminated list or
 * NULL). Adds X-Request-Id, Content-Length and Cache-Control: no-store. */
void api_respond(struct api_request *request, int status, const char *content_type, const char *body,
                 size_t body_bytes, const struct api_header *headers);

/* Sends a JSON body; when the writer failed (out of memory, too large) sends 500 instead. */
void api_respond_json(struct api_request *request, int status, struct json_out *body,
                      const struct api_header *headers);

/* Sends a problem+json answer: type urn:stockd:problem:<code>, title, detail (printf), field ("" or NULL:
 * none), with WWW-Authenticate on a 401, Retry-After: 1 on a 503, and the request's problem_header. */
void api_problem(struct api_request *request, int status, const char *code, const char *title,
                 const char *field, const char *detail_format, ...) __attribute__((format(printf, 6, 7)));

/* Like api_problem with extra members written by a callback into the open object, and exactly the given
 * headers. */
void api_problem_ex(struct api_request *request, int status, const char *code, const char *title,
                    const char *field, const char *detail, void (*extra)(struct json_out *, const void *),
                    const void *extra_context, const struct api_header *headers);

/* ---- request input ------------------------------------------------------------------------------------- */

/* Reads the body, at most http.body_bytes_max bytes (chunked too). Returns a malloc'd NUL-terminated copy
 * (NUL bytes inside are kept: *body_bytes tells the length), or NULL after answering 413 (too large), 400
 * (read failed or timed out) or 500 (out of memory). An absent body gives "" with *body_bytes 0. */
char *api_body_read(struct api_request *request, size_t *body_bytes);

/* Checks that a POST with a body says Content-Type: application/json. Returns true, or false after
 * answering 415. */
bool api_content_type_check(struct api_request *request, size_t body_bytes);

/* Splits the raw path (up to ? or #) into request->path_copy and segments, percent-decoding each after the
 * split (so %2F stays inside its segment). Returns the count, -1 when a segment's encoding is malformed or
 * decodes to NUL, -2 when the path is empty or has more than API_PATH_SEGMENTS_MAX segments, -3 when it is
 * over API_PATH_BYTES_MAX. Answers nothing. */
int api_path_split(struct api_request *request, const char *raw, const char *segments[API_PATH_SEGMENTS_MAX]);

/* Parses the query string into request->query (decoded, + as space). Returns 0, or -1 after answering 400
 * (malformed, repeated, too many, too long). */
int api_query_parse(struct api_request *request, const char *query);

/* Finds a query parameter; NULL when absent. */
const char *api_query_get(const struct api_request *request, const char *name);

/* Refuses (400 invalid-parameter) a request with a query parameter not in allowed (NULL-terminated).
 * Returns true when all are allowed. */
bool api_query_allow(struct api_request *request, const char *const *allowed);

/* A header value, or NULL. */
const char *api_header_get(const struct api_request *request, const char *name);

/* Takes one of http.waits_max for a bounded wait. Returns true, or false after answering 503
 * too-many-waits. Given back by api_wait_release when the request ends. */
bool api_wait_acquire(struct api_request *request);
void api_wait_release(struct api_request *request);

#endif
