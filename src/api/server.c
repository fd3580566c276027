/* server.c - the HTTP server of the API: civetweb's setup and lifecycle, request ids, auth, dispatch.
 *
 * Every request enters request_begin (civetweb's begin_request callback): it gets an id, its path is split
 * and percent-decoded segment by segment (http.c: %2F and %00 are seen, not resolved), the route is found
 * in the table (routes.c), the key checked, the query string parsed, and the route's handler answers.
 * civetweb's own errors (malformed request, headers too large) are answered as problem+json too. Answers
 * nothing itself but refusals before a route runs; serves no files. */
#include "api/internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "domain/number.h"
#include "log.h"
#include "metrics.h"
#include "outcome_board.h"
#include "projector.h"

#define COMPONENT "api"

/* Request line and headers: civetweb's max_request_size. */
#define API_HEADER_BYTES_MAX 16384
/* At shutdown, how long the requests in a wait get to write their answers before the server stops. */
#define API_STOP_ANSWERS_MS 5000

/* ---- identity and auth --------------------------------------------------------------------------------- */

/* Uses the client's X-Request-Id when it is 1-64 of [A-Za-z0-9._-], else makes one. */
static void request_id_assign(struct api_request *request)
{
    const char *given = api_header_get(request, "X-Request-Id");
    if (given != NULL) {
        size_t length = strlen(given);
        if (length >= 1 && length <= API_REQUEST_ID_BYTES_MAX &&
            strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == length) {
            memcpy(request->request_id, given, length + 1);
            return;
        }
    }
    uint64_t number = atomic_fetch_add(&request->api->request_count, 1);
    snprintf(request->request_id, sizeof(request->request_id), "%016" PRIx64 "-%06" PRIu64,
             request->api->request_id_seed, number);
}

/* Compares two byte strings in time that depends only on the length of the candidate. */
static bool constant_time_equal(const char *candidate, size_t candidate_length, const char *key)
{
    size_t key_length = strlen(key);
    unsigned char difference = (unsigned char)(candidate_length != key_length);
    for (size_t i = 0; i < candidate_length; i++) {
        unsigned char expected = i < key_length ? (unsigned char)key[i] : 0;
        difference |= (unsigned char)((unsigned char)candidate[i] ^ expected);
    }
    return difference == 0;
}

/* Checks Authorization against the route's role. Returns true, or false after answering 401/403. */
static bool request_authorize(struct api_request *request)
{
    const struct api *api = request->api;
    if (api->key_count == 0 || request->route->role == API_ROLE_PUBLIC) return true;
    const char *header = api_header_get(request, "Authorization");
    if (header == NULL) {
        api_problem(request, 401, "unauthorized", "Authentication required", NULL,
                    "send an API key as Authorization: Bearer <key>");
        return false;
    }
    if (strncasecmp(header, "Bearer ", 7) != 0) {
        api_problem(request, 401, "unauthorized", "Authentication required", NULL,
                    "the Authorization scheme must be Bearer");
        return false;
    }
    const char *candidate = header + 7;
    size_t candidate_length = strlen(candidate);
    if (candidate_length > STOCKD_API_KEY_BYTES_MAX) candidate_length = STOCKD_API_KEY_BYTES_MAX + 1;
    const struct stockd_api_key *match = NULL;
    for (int i = 0; i < api->key_count; i++) {
        if (constant_time_equal(candidate, candidate_length, api->keys[i].key)) match = &api->keys[i];
    }
    if (match == NULL) {
        api_problem(request, 401, "unauthorized", "Invalid API key", NULL, "the API key is not valid");
        return false;
    }
    if (match->not_after_s != 0 && (int64_t)time(NULL) > match->not_after_s) {
        api_problem(request, 401, "unauthorized", "API key expired", NULL, "the API key has expired");
        return false;
    }
    if (match->role < (unsigned)request->route->role) {
        static const char *const names[] = {"public", "read", "write", "admin"};
        api_problem(request, 403, "forbidden", "Not allowed", NULL, "this route needs the %s role",
                    names[request->route->role]);
        return false;
    }
    return true;
}

/* ---- framing and targets ------------------------------------------------------------------------------- */

/* Makes civetweb close the connection after this answer: when a request's framing is in doubt, so is
 * where the next request starts (a request smuggled past a proxy that reads the framing another way).
 * civetweb 1.15 decides keep-alive after begin_request returns, from the request's Connection header
 * (should_keep_alive): every Connection header is set to close, or one is added. request_info is the
 * connection's own, writable storage that mg_get_request_info hands out const; test_http_hostile.py checks
 * that the connection ends. */
static void request_connection_close(struct api_request *request)
{
    struct mg_request_info *info = (struct mg_request_info *)request->info;
    bool found = false;
    for (int i = 0; i < info->num_headers; i++) {
        if (strcasecmp(info->http_headers[i].name, "Connection") == 0) {
            info->http_headers[i].value = "close";
            found = true;
        }
    }
    if (found) return;
    /* No room when civetweb kept MG_MAX_HEADERS fields (and dropped the rest): that request is refused, and
     * its last field gives way. */
    int index = info->num_headers < MG_MAX_HEADERS ? info->num_headers++ : MG_MAX_HEADERS - 1;
    info->http_headers[index].name = "Connection";
    info->http_headers[index].value = "close";
}

/* Refuses (400 invalid-framing, then closes) a request whose body framing two readers could take two ways
 * (RFC 9112 6.3): Content-Length twice, or not plain digits ("+5", "5, 5", "0x5": civetweb reads them with
 * strtoll), Content-Length with Transfer-Encoding, Transfer-Encoding twice, other than chunked, or in
 * HTTP/1.0. Returns true when the framing is clear. */
static bool request_framing_check(struct api_request *request)
{
    const struct mg_request_info *info = request->info;
    int length_count = 0, encoding_count = 0;
    const char *length_text = NULL, *encoding = NULL;
    for (int i = 0; i < info->num_headers; i++) {
        if (strcasecmp(info->http_headers[i].name, "Content-Length") == 0) {
            length_count++;
            length_text = info->http_headers[i].value;
        } else if (strcasecmp(info->http_headers[i].name, "Transfer-Encoding") == 0) {
            encoding_count++;
            encoding = info->http_headers[i].value;
        }
    }
    int64_t length = 0;
    const char *detail = NULL;
    if (length_count > 1) {
        detail = "Content-Length is given more than once";
    } else if (length_count == 1 && encoding_count > 0) {
        detail = "Content-Length and Transfer-Encoding are both given";
    } else if (encoding_count > 1) {
        detail = "Transfer-Encoding is given more than once";
    } else if (encoding_count == 1 && strcasecmp(encoding, "chunked") != 0) {
        detail = "Transfer-Encoding must be chunked";
    } else if (encoding_count == 1 && strcmp(info->http_version, "1.1") != 0) {
        detail = "an HTTP/1.0 request has no Transfer-Encoding";
    } else if (length_count == 1 &&
               number_integer_parse_string(length_text, 0, INT64_MAX, &length) != NUMBER_OK) {
        detail = "Content-Length must be decimal digits only";
    }
    if (detail == NULL) return true;
    request_connection_close(request);
    const struct api_header headers[] = {{"Connection", "close"}, {NULL, NULL}};
    api_problem_ex(request, 400, "invalid-framing", "Ambiguous message framing", NULL, detail, NULL, NULL,
                   headers);
    return false;
}

/* Set on a worker thread when civetweb's error callback answered the request of its connection; read and
 * cleared when that connection closes (connection_closing). */
static _Thread_local bool request_error_answered;

/* civetweb's connection_close: answers the request civetweb 1.15 drops without a word (its "TODO: handle
 * non-local request"): a target that is neither a path nor an absolute URL of this server ("*", as in
 * OPTIONS *, and http://other-host/...). Such a request was parsed (request_uri set), found no local path
 * (local_uri_raw NULL: every routed request has one) and got no error answer. */
static void connection_closing(const struct mg_connection *closing)
{
    bool answered = request_error_answered;
    request_error_answered = false;
    struct mg_connection *connection = (struct mg_connection *)closing; /* civetweb's own, writable */
    const struct mg_request_info *info = mg_get_request_info(connection);
    if (answered || info == NULL || info->user_data == NULL || info->request_uri == NULL ||
        info->local_uri_raw != NULL || info->http_version == NULL || info->request_method == NULL)
        return;
    if (strcmp(info->http_version, "1.0") != 0 && strcmp(info->http_version, "1.1") != 0) return;
    struct api_request request = {0};
    request.connection = connection;
    request.info = info;
    request.api = info->user_data;
    request.config = request.api->config;
    request.waits = &request.api->waits;
    request_id_assign(&request);
    const struct api_header headers[] = {{"Connection", "close"}, {NULL, NULL}};
    api_problem_ex(&request, 400, "invalid-target", "Invalid request target", NULL,
                   "the request target must be a path such as /v1/skus (origin-form): '*' and absolute URLs "
                   "are not served",
                   NULL, NULL, headers);
    metrics_http_observe("unmatched", info->request_method, 400, 0);
}

/* ---- dispatch ------------------------------------------------------------------------------------------ */

/* Routes one request; answers exactly once. */
static void request_dispatch(struct api_request *request)
{
    const char *segments[API_PATH_SEGMENTS_MAX];
    const char *raw =
        request->info->local_uri_raw != NULL ? request->info->local_uri_raw : request->info->request_uri;
    int count = api_path_split(request, raw, segments);
    if (count == -1) {
        api_problem(request, 400, "invalid-path", "Invalid path", NULL,
                    "the path has a malformed percent-escape or an encoded NUL");
        return;
    }
    if (count == -3) {
        /* 400, not 404 (which promises a query's position) nor 414 (which no operation declares). */
        api_problem(request, 400, "invalid-path", "Invalid path", NULL, "the path is longer than %d bytes",
                    API_PATH_BYTES_MAX);
        return;
    }
    int path_known = 0;
    const struct api_route *route = NULL;
    if (count >= 0) {
        route = api_route_match(request->info->request_method, segments, (size_t)count, request->params,
                                &request->param_count, &path_known);
    }
    if (route == NULL && path_known) {
        char allow[64];
        api_route_allow(segments, (size_t)count, allow, sizeof(allow));
        const struct api_header headers[] = {{"Allow", allow}, {NULL, NULL}};
        char detail[160];
        snprintf(detail, sizeof(detail), "this path takes %s", allow);
        api_problem_ex(request, 405, "method-not-allowed", "Method not allowed", NULL, detail, NULL, NULL,
                       headers);
        return;
    }
    if (route == NULL) {
        api_problem(request, 404, "not-found", "Not found", NULL, "no route matches this path");
        return;
    }
    request->route = route;
    if (!request_authorize(request)) return;
    /* From here on a query route's answers carry its view's position, refusals of its query string too. */
    if (route->view != API_VIEW_NONE) request->problem_header = &api_position_problem_header;
    if (api_query_parse(request, request->info->query_string) != 0) return;
    route->handler(request);
}

/* civetweb's begin_request: every request is answered here. Returns the status (civetweb sends nothing
 * more). */
static int request_begin(struct mg_connection *connection)
{
    const struct mg_request_info *info = mg_get_request_info(connection);
    struct api *api = info->user_data;
    struct api_request *request = malloc(sizeof(*request));
    if (request != NULL) memset(request, 0, offsetof(struct api_request, query));
    if (request == NULL) {
        mg_send_http_error(connection, 500, "%s", "out of memory");
        return 500;
    }
    request->api = api;
    request->config = api->config;
    request->waits = &api->waits;
    request->connection = connection;
    request->info = info;
    request->start_us = clock_monotonic_us();
    request_id_assign(request);
    if (info->num_headers >= MG_MAX_HEADERS) {
        /* civetweb keeps the first MG_MAX_HEADERS and drops the rest silently: refuse instead. */
        /* The fields civetweb dropped may have framed a body: where the next request starts is unknown. */
        request_connection_close(request);
        api_problem(request, 431, "headers-too-large", "Too many header fields", NULL,
                    "a request may have at most %d header fields", MG_MAX_HEADERS - 1);
    } else if (request_framing_check(request)) {
        request_dispatch(request);
    }
    assert(request->status != 0);
    api_wait_release(request);
    int64_t duration_us = clock_monotonic_us() - request->start_us;
    const char *route = request->route != NULL ? request->route->path : "unmatched";
    metrics_http_observe(route, info->request_method, request->status, duration_us);
    if (request->status >= 500) {
        log_warn(COMPONENT, "request %s %s %s -> %d in %" PRId64 " us", request->request_id,
                 info->request_method, route, request->status, duration_us);
    } else {
        log_debug(COMPONENT, "request %s %s %s -> %d in %" PRId64 " us", request->request_id,
                  info->request_method, route, request->status, duration_us);
    }
    int status = request->status;
    free(request);
    return status;
}

/* Whether civetweb 1.15 refuses method as unknown (its http_methods table; CONNECT is in it, but no route
 * takes it and civetweb handles it apart: treated as unknown). Only an uppercase token is a method at all. */
static bool method_unknown_to_civetweb(const char *method)
{
    static const char *const known[] = {"GET",     "POST",      "PUT",      "DELETE", "HEAD",
                                        "OPTIONS", "PATCH",     "PROPFIND", "MKCOL",  "LOCK",
                                        "UNLOCK",  "PROPPATCH", "REPORT"};
    size_t length = method != NULL ? strlen(method) : 0;
    if (length < 1 || length > 16 || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != length) return false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(method, known[i]) == 0) return false;
    }
    return true;
}

/* civetweb's own errors (malformed request line, headers too large, timeouts): problem+json too. */
static int request_error(struct mg_connection *connection, int status, const char *message)
{
    request_error_answered = true;
    struct api_request request = {0};
    request.connection = connection;
    request.info = mg_get_request_info(connection);
    request.api = request.info != NULL ? request.info->user_data : NULL;
    if (request.api == NULL) return 1;
    request.config = request.api->config;
    request.waits = &request.api->waits;
    request_id_assign(&request);
    const char *code = "bad-request";
    const char *title = "Bad request";
    const char *method = request.info->request_method;
    if (status == 400 && method_unknown_to_civetweb(method)) {
        /* civetweb refuses methods it does not know (QUERY, BREW, TRACE) as malformed requests; they are
         * methods no route takes: 405 like any other. A malformed request of a method it knows stays 400. */
        char allow[64] = "GET, POST";
        const char *segments[API_PATH_SEGMENTS_MAX];
        /* request_uri, set by civetweb before it checks the method; local_uri_raw is not set yet and may
         * still hold the previous request's path on a keep-alive connection. */
        const char *uri = request.info->request_uri;
        int count = uri != NULL ? api_path_split(&request, uri, segments) : -1;
        if (count >= 0) api_route_allow(segments, (size_t)count, allow, sizeof(allow));
        if (allow[0] == '\0') snprintf(allow, sizeof(allow), "GET, POST");
        const struct api_header headers[] = {{"Allow", allow}, {NULL, NULL}};
        char detail[96];
        snprintf(detail, sizeof(detail), "this path takes %s", allow);
        api_problem_ex(&request, 405, "method-not-allowed", "Method not allowed", NULL, detail, NULL, NULL,
                       headers);
        metrics_http_observe("unmatched", method, 405, 0);
        return 0;
    }
    if (status == 413 || status == 431) {
        code = "headers-too-large";
        title = "Request headers too large";
    } else if (status == 411) {
        code = "length-required";
        title = "Invalid Content-Length";
    } else if (status == 505) {
        code = "http-version-not-supported";
        title = "HTTP version not supported";
    } else if (status == 408) {
        code = "request-timeout";
        title = "Request timeout";
    }
    api_problem(&request, status, code, title, NULL, "%s", message != NULL ? message : "");
    metrics_http_observe(
        "unmatched", request.info->request_method != NULL ? request.info->request_method : "-", status, 0);
    return 0;
}

static int civetweb_log(const struct mg_connection *connection, const char *message)
{
    (void)connection;
    log_info(COMPONENT, "civetweb: %s", message);
    return 1;
}

/* ---- lifecycle ----------------------------------------------------------------------------------------- */

struct api *api_create(const struct stockd_config *config, const struct api_stages *stages, char *error,
                       size_t error_bytes)
{
    assert(config != NULL && stages != NULL);
    for (int i = 0; i < API_ROUTE_COUNT; i++) /* an entry left out of the table would be all zeros */
        assert(api_routes[i].id == (enum api_route_id)i && api_routes[i].handler != NULL);
    struct api *api = calloc(1, sizeof(*api));
    if (api == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    api->config = config;
    api->stages = *stages;
    mg_init_library(0); /* counted: paired with mg_exit_library in api_destroy */
    api->library_initialised = true;
    char reason[256];
    api->key_count = stockd_config_api_keys_parse(config->http_api_keys, api->keys, reason, sizeof(reason));
    if (api->key_count < 0) {
        snprintf(error, error_bytes, "http.api_keys: %s", reason);
        goto out_destroy;
    }
    api->request_id_seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    api->idempotency = api_idempotency_create((size_t)config->http_idempotency_keys_max);
    if (api->idempotency == NULL) {
        snprintf(error, error_bytes, "out of memory for %d idempotency keys",
                 config->http_idempotency_keys_max);
        goto out_destroy;
    }
    api->producer = api_producer_create(config, error, error_bytes);
    if (api->producer == NULL) goto out_destroy;
    return api;
out_destroy:
    api_destroy(api);
    return NULL;
}

/* How long an answer may take without a byte moving, beyond the longest wait a request may ask for:
 * producing to Kafka is bounded by the producer's delivery timeout, well inside this. */
#define API_ANSWER_MARGIN_MS 60000
/* At shutdown, how long the gate relays the answers civetweb wrote last. */
#define API_STOP_RELAY_MS 2000

/* Splits host:port ([v6]:port) of a validated listen address into host (brackets dropped) and port. */
static int listen_split(const char *listen, char *host, size_t host_bytes)
{
    const char *colon = strrchr(listen, ':');
    assert(colon != NULL);
    const char *start = listen[0] == '[' ? listen + 1 : listen;
    size_t length = (size_t)(colon - start) - (listen[0] == '[' ? 1 : 0);
    snprintf(host, host_bytes, "%.*s", (int)length, start);
    int64_t port = 0;
    int rc = number_integer_parse_string(colon + 1, 0, 65535, &port);
    assert(rc == NUMBER_OK); /* config_check_listen */
    (void)rc;
    return (int)port;
}

int api_start(struct api *api, char *error, size_t error_bytes)
{
    assert(api != NULL && api->context == NULL);
    const struct stockd_config *config = api->config;
    char listen[STOCKD_CONFIG_STRING_BYTES_MAX + 16];
    char host[STOCKD_CONFIG_STRING_BYTES_MAX];
    int port = listen_split(config->http_listen, host, sizeof(host));
    if (api->key_count == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
        log_warn(COMPONENT,
                 "no API keys configured (http.api_keys): every request is allowed, so the API listens on "
                 "127.0.0.1:%d only (http.listen %s is not used)",
                 port, config->http_listen);
    }
    /* civetweb on an ephemeral loopback port; the gate (gate.c) on the public address in front of it. */
    snprintf(listen, sizeof(listen), "127.0.0.1:0");
    char threads[16], timeout[16], header_bytes[16];
    snprintf(threads, sizeof(threads), "%d", config->http_threads);
    snprintf(timeout, sizeof(timeout), "%d", config->http_request_timeout_ms);
    snprintf(header_bytes, sizeof(header_bytes), "%d", API_HEADER_BYTES_MAX);
    const char *options[] = {
        "listening_ports",
        listen,
        "num_threads",
        threads,
        "request_timeout_ms",
        timeout,
        "keep_alive_timeout_ms",
        "5000",
        "enable_keep_alive",
        "yes",
        "max_request_size",
        header_bytes,
        "enable_directory_listing",
        "no",
        /* headers and body go out in two writes: without TCP_NODELAY Nagle holds the body ~40 ms */
        "tcp_nodelay",
        "1",
        "decode_url",
        "no",
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.begin_request = request_begin;
    callbacks.http_error = request_error;
    callbacks.connection_close = connection_closing;
    callbacks.log_message = civetweb_log;
    api->context = mg_start(&callbacks, api, options);
    struct mg_server_port ports[2];
    if (api->context == NULL || mg_get_server_ports(api->context, 2, ports) < 1) {
        snprintf(error, error_bytes, "http: civetweb cannot listen on the loopback (see the debug log)");
        return -1;
    }
    const struct api_gate_limits limits = {
        .request_timeout_ms = config->http_request_timeout_ms,
        .head_bytes_max = API_HEADER_BYTES_MAX,
        .body_bytes_max = (size_t)config->http_body_bytes_max,
        .answer_timeout_ms =
            config->http_wait_ms_max + config->http_request_timeout_ms + API_ANSWER_MARGIN_MS,
        /* Half the threads may idle on kept connections; the rest always take new ones. */
        .upstream_kept_max = (size_t)config->http_threads / 2,
    };
    api->gate = api_gate_start(host, port, ports[0].port, &limits, error, error_bytes);
    if (api->gate == NULL) {
        mg_stop(api->context);
        api->context = NULL;
        return -1;
    }
    api->port = api_gate_port(api->gate);
    log_info(COMPONENT, "HTTP API on http://%s%s%s:%d (%d threads, %d key(s))", strchr(host, ':') ? "[" : "",
             host, strchr(host, ':') ? "]" : "", api->port, config->http_threads, api->key_count);
    return 0;
}

void api_stop(struct api *api)
{
    if (api == NULL || api->context == NULL) return;
    atomic_store(&api->stopping, true);
    api_gate_close_listener(api->gate);
    /* Requests in a bounded wait (min_position, Prefer: wait) answer now, with their fallbacks (503, 202),
     * instead of sleeping out http.wait_ms_max; mg_stop must come after their answers, because civetweb
     * writes nothing once it is stopping. */
    outcome_board_close(api->stages.outcome_board);
    for (size_t i = 0; i < api->stages.projector_count; i++)
        projector_end_waits(api->stages.projectors[i]);
    for (int waited_ms = 0; atomic_load(&api->waits) > 0 && waited_ms < API_STOP_ANSWERS_MS;
         waited_ms += 10) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    mg_stop(api->context);
    api->context = NULL;
    api_gate_stop(api->gate, API_STOP_RELAY_MS);
    api->gate = NULL;
}

void api_destroy(struct api *api)
{
    if (api == NULL) return;
    api_stop(api);
    api_producer_destroy(api->producer);
    api_idempotency_destroy(api->idempotency);
    if (api->library_initialised) mg_exit_library();
    free(api);
}

int api_port(const struct api *api)
{
    return api->port;
}
