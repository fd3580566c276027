/* server.c - the HTTP server of the API: civetweb setup, limits, request ids, auth, routing, answers.
 *
 * Every request enters api_request_begin (civetweb's begin_request callback): it gets an id, its path is
 * split and percent-decoded segment by segment (so %2F and %00 are seen, not resolved), the route is found,
 * the key checked, then commands.c, queries.c or admin.c answer. civetweb's own errors (malformed request,
 * headers too large) are answered as problem+json too. Serves no files. */
#include "api/internal.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "projector.h"

#define COMPONENT "api"

/* Request line and headers: civetweb's max_request_size. */
#define API_HEADER_BYTES_MAX 16384
/* At shutdown, how long the requests in a wait get to write their answers before the server stops. */
#define API_STOP_ANSWERS_MS 5000

int64_t api_now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* ---- answering ----------------------------------------------------------------------------------------- */

void api_respond(struct api_request *request, int status, const char *content_type, const char *body,
                 size_t body_bytes, const struct api_header *headers)
{
    assert(request != NULL && status >= 100 && status <= 599);
    assert(request->status == 0);
    request->status = status;
    struct mg_connection *connection = request->connection;
    const char *method = request->info != NULL ? request->info->request_method : NULL;
    bool with_body = body_bytes > 0 && (method == NULL || strcmp(method, "HEAD") != 0);
    /* Status line, headers and body in one write: two writes cost a second send per answer (measured with a
     * minimal civetweb handler: 33k req/s with two writes, 73k with one). */
    size_t head_capacity =
        256 + strlen(request->request_id) + (content_type != NULL ? strlen(content_type) : 0);
    for (int i = 0; headers != NULL && headers[i].name != NULL && i < API_HEADERS_EXTRA_MAX; i++)
        head_capacity += strlen(headers[i].name) + strlen(headers[i].value) + 4;
    size_t capacity = head_capacity + (with_body ? body_bytes : 0);
    char stack_buffer[API_RESPONSE_STACK_BYTES];
    char *out = capacity <= sizeof(stack_buffer) ? stack_buffer : malloc(capacity);
    if (out == NULL) {
        mg_send_http_error(connection, 500, "%s", "out of memory");
        return;
    }
    int used =
        snprintf(out, head_capacity,
                 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\nX-Request-Id: %s\r\n",
                 status, mg_get_response_code_text(connection, status), body_bytes, request->request_id);
    if (content_type != NULL)
        used += snprintf(out + used, head_capacity - (size_t)used, "Content-Type: %s\r\n", content_type);
    for (int i = 0; headers != NULL && headers[i].name != NULL && i < API_HEADERS_EXTRA_MAX; i++)
        used += snprintf(out + used, head_capacity - (size_t)used, "%s: %s\r\n", headers[i].name,
                         headers[i].value);
    used += snprintf(out + used, head_capacity - (size_t)used, "\r\n");
    assert(used > 0 && (size_t)used < head_capacity); /* the capacity counted every byte written */
    if (with_body) memcpy(out + used, body, body_bytes);
    mg_write(connection, out, (size_t)used + (with_body ? body_bytes : 0));
    if (out != stack_buffer) free(out);
}

void api_respond_json(struct api_request *request, int status, struct json_out *body,
                      const struct api_header *headers)
{
    if (body->failed) {
        log_error(COMPONENT, "request %s: response body too large or out of memory", request->request_id);
        api_problem(request, 500, "internal", "Internal error", NULL, "the response could not be built");
        return;
    }
    api_respond(request, status, "application/json", body->data, body->length, headers);
}

void api_problem_ex(struct api_request *request, int status, const char *code, const char *title,
                    const char *field, const char *detail, void (*extra)(struct json_out *, const void *),
                    const void *extra_context, const struct api_header *headers)
{
    char type[96];
    snprintf(type, sizeof(type), "urn:stockd:problem:%s", code);
    struct json_out out;
    json_out_init(&out);
    json_object_begin(&out);
    json_kv_string(&out, "type", type);
    json_kv_string(&out, "title", title);
    json_kv_int(&out, "status", status);
    json_kv_string(&out, "detail", detail);
    json_kv_string(&out, "request_id", request->request_id);
    if (field != NULL && field[0] != '\0') json_kv_string(&out, "field", field);
    if (extra != NULL) extra(&out, extra_context);
    json_object_end(&out);
    if (out.failed) {
        static const char fallback[] =
            "{\"type\":\"urn:stockd:problem:internal\",\"title\":\"Internal error\","
            "\"status\":500,\"detail\":\"out of memory\"}";
        api_respond(request, 500, "application/problem+json", fallback, sizeof(fallback) - 1, NULL);
    } else {
        api_respond(request, status, "application/problem+json", out.data, out.length, headers);
    }
    json_out_free(&out);
}

void api_problem(struct api_request *request, int status, const char *code, const char *title,
                 const char *field, const char *detail_format, ...)
{
    char detail[512];
    va_list arguments;
    va_start(arguments, detail_format);
    vsnprintf(detail, sizeof(detail), detail_format, arguments);
    va_end(arguments);
    struct api_header headers[3] = {{NULL, NULL}};
    size_t count = 0;
    if (status == 401) headers[count++] = (struct api_header){"WWW-Authenticate", "Bearer realm=\"stockd\""};
    if (status == 503) headers[count++] = (struct api_header){"Retry-After", "1"};
    char *position = request->position_view != NULL ? malloc(API_POSITION_HEADER_BYTES_MAX) : NULL;
    if (position != NULL && api_position_current(request->position_view, request->api->config->partitions,
                                                 position, API_POSITION_HEADER_BYTES_MAX))
        headers[count++] = (struct api_header){"X-Stockd-Position", position};
    api_problem_ex(request, status, code, title, field, detail, NULL, NULL, headers);
    free(position);
}

/* ---- request input ------------------------------------------------------------------------------------- */

const char *api_header_get(const struct api_request *request, const char *name)
{
    return mg_get_header(request->connection, name);
}

char *api_body_read(struct api_request *request, size_t *body_bytes)
{
    size_t limit = (size_t)request->api->config->http_body_bytes_max;
    long long declared = request->info->content_length;
    *body_bytes = 0;
    if (declared > (long long)limit) {
        api_problem(request, 413, "body-too-large", "Request body too large", NULL,
                    "the body is %lld bytes; at most %zu are accepted", declared, limit);
        return NULL;
    }
    /* A declared length sizes the buffer; a chunked body may take up to the limit (plus one byte that tells
     * it went over). */
    size_t capacity = declared >= 0 ? (size_t)declared + 2 : limit + 2;
    char *body = malloc(capacity);
    if (body == NULL) {
        api_problem(request, 500, "internal", "Internal error", NULL, "out of memory");
        return NULL;
    }
    size_t length = 0;
    for (;;) {
        if (length + 1 >= capacity) break; /* a declared length read whole: never more than it said */
        int got = mg_read(request->connection, body + length, capacity - 1 - length);
        if (got < 0) {
            free(body);
            api_problem(request, 400, "body-unreadable", "Request body could not be read", NULL,
                        "the connection failed or timed out while reading the body");
            return NULL;
        }
        if (got == 0) break;
        length += (size_t)got;
        if (length > limit) {
            free(body);
            api_problem(request, 413, "body-too-large", "Request body too large", NULL,
                        "the body is longer than %zu bytes", limit);
            return NULL;
        }
    }
    body[length] = '\0';
    *body_bytes = length;
    return body;
}

bool api_content_type_check(struct api_request *request, size_t body_bytes)
{
    const char *type = api_header_get(request, "Content-Type");
    if (body_bytes == 0 && type == NULL) return true;
    static const char json[] = "application/json";
    if (type != NULL && strncasecmp(type, json, sizeof(json) - 1) == 0) {
        const char *rest = type + sizeof(json) - 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest == '\0' || *rest == ';') return true;
    }
    api_problem(request, 415, "unsupported-media-type", "Unsupported media type", NULL,
                "send the body as Content-Type: application/json");
    return false;
}

const char *api_query_get(const struct api_request *request, const char *name)
{
    for (size_t i = 0; i < request->query_count; i++) {
        if (strcmp(request->query[i].name, name) == 0) return request->query[i].value;
    }
    return NULL;
}

bool api_query_allow(struct api_request *request, const char *const *allowed)
{
    for (size_t i = 0; i < request->query_count; i++) {
        bool known = false;
        for (size_t a = 0; allowed != NULL && allowed[a] != NULL; a++)
            known = known || strcmp(allowed[a], request->query[i].name) == 0;
        if (!known) {
            api_problem(request, 400, "invalid-parameter", "Unknown query parameter", request->query[i].name,
                        "this route does not take the query parameter %s", request->query[i].name);
            return false;
        }
    }
    return true;
}

bool api_wait_acquire(struct api_request *request)
{
    if (request->holds_wait) return true;
    int waits = atomic_fetch_add(&request->api->waits, 1);
    if (waits >= request->api->config->http_waits_max) {
        atomic_fetch_sub(&request->api->waits, 1);
        api_problem(request, 503, "too-many-waits", "Too many waiting requests", NULL,
                    "%d requests are waiting already (http.waits_max); retry shortly", waits);
        return false;
    }
    request->holds_wait = true;
    return true;
}

/* Decodes %XX in place over [text, text + length). Returns the new length, or -1 for a malformed escape
 * or a decoded NUL. */
static long percent_decode(char *text, size_t length)
{
    size_t out = 0;
    for (size_t i = 0; i < length; i++) {
        char byte = text[i];
        if (byte == '%') {
            if (i + 2 >= length) return -1;
            if (!isxdigit((unsigned char)text[i + 1]) || !isxdigit((unsigned char)text[i + 2])) return -1;
            char hex[3] = {text[i + 1], text[i + 2], '\0'};
            byte = (char)strtol(hex, NULL, 16);
            if (byte == '\0') return -1;
            i += 2;
        }
        text[out++] = byte;
    }
    text[out] = '\0';
    return (long)out;
}

/* Splits the raw path into segments, percent-decoding each (after the split, so %2F stays inside its
 * segment). Returns the count, -1 when a segment's encoding is malformed or decodes to NUL, -2 when the
 * path is empty or has too many segments (no route matches), -3 when it is over API_PATH_BYTES_MAX. */
static int path_split(struct api_request *request, const char *raw, const char **segments)
{
    size_t length = strcspn(raw, "?#");
    if (length > API_PATH_BYTES_MAX) return -3;
    if (length == 0 || raw[0] != '/') return -2;
    memcpy(request->path_copy, raw, length);
    request->path_copy[length] = '\0';
    int count = 0;
    char *cursor = request->path_copy + 1;
    if (*cursor == '\0') return 0;
    for (;;) {
        char *slash = strchr(cursor, '/');
        size_t segment_length = slash != NULL ? (size_t)(slash - cursor) : strlen(cursor);
        if (count == API_PATH_SEGMENTS_MAX) return -2;
        if (slash != NULL) *slash = '\0';
        if (percent_decode(cursor, segment_length) < 0) return -1;
        segments[count++] = cursor;
        if (slash == NULL) break;
        cursor = slash + 1;
    }
    return count;
}

/* Parses the query string into request->query (decoded, + as space). Returns 0, or -1 after answering 400
 * (malformed, duplicate, too many, too long). */
static int query_parse(struct api_request *request, const char *query)
{
    request->query_count = 0;
    if (query == NULL || query[0] == '\0') return 0;
    const char *cursor = query;
    while (*cursor != '\0') {
        size_t pair_length = strcspn(cursor, "&");
        const char *equals = memchr(cursor, '=', pair_length);
        size_t name_length = equals != NULL ? (size_t)(equals - cursor) : pair_length;
        size_t value_length = equals != NULL ? pair_length - name_length - 1 : 0;
        if (pair_length == 0) {
            cursor += cursor[pair_length] == '&' ? 1 : 0;
            continue;
        }
        if (request->query_count == API_QUERY_PARAMS_MAX) {
            api_problem(request, 400, "invalid-parameter", "Too many query parameters", NULL,
                        "at most %d query parameters", API_QUERY_PARAMS_MAX);
            return -1;
        }
        struct api_query_param *param = &request->query[request->query_count];
        if (name_length >= sizeof(param->name) || value_length > API_QUERY_VALUE_BYTES_MAX) {
            api_problem(request, 400, "invalid-parameter", "Query parameter too long", NULL,
                        "names are at most %zu bytes, values at most %d", sizeof(param->name) - 1,
                        API_QUERY_VALUE_BYTES_MAX);
            return -1;
        }
        memcpy(param->name, cursor, name_length);
        memcpy(param->value, equals != NULL ? equals + 1 : "", value_length);
        for (size_t i = 0; i < value_length; i++) {
            if (param->value[i] == '+') param->value[i] = ' ';
        }
        if (percent_decode(param->name, name_length) < 0 || percent_decode(param->value, value_length) < 0) {
            api_problem(request, 400, "invalid-parameter", "Malformed query string", NULL,
                        "a query parameter has a malformed percent-escape or a NUL");
            return -1;
        }
        for (size_t i = 0; i < request->query_count; i++) {
            if (strcmp(request->query[i].name, param->name) == 0) {
                api_problem(request, 400, "invalid-parameter", "Repeated query parameter", param->name,
                            "the query parameter %s is given more than once", param->name);
                return -1;
            }
        }
        request->query_count++;
        cursor += pair_length;
        if (*cursor == '&') cursor++;
    }
    return 0;
}

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

/* ---- dispatch ------------------------------------------------------------------------------------------ */

/* Routes one request; answers exactly once. */
static void request_dispatch(struct api_request *request)
{
    const char *segments[API_PATH_SEGMENTS_MAX];
    const char *raw =
        request->info->local_uri_raw != NULL ? request->info->local_uri_raw : request->info->request_uri;
    int count = path_split(request, raw, segments);
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
    request->position_view = api_query_view(request);
    if (query_parse(request, request->info->query_string) != 0) return;
    switch (route->id) {
    case API_ROUTE_SKU_CREATE:
    case API_ROUTE_SKU_RECEIPTS:
    case API_ROUTE_SKU_ADJUSTMENTS:
    case API_ROUTE_SKU_TRANSFERS:
    case API_ROUTE_RESERVATION_CREATE:
    case API_ROUTE_RESERVATION_RELEASE:
    case API_ROUTE_RESERVATION_FULFIL:
    case API_ROUTE_COMMAND_SUBMIT:
        api_command_route(request);
        return;
    case API_ROUTE_SKU_GET:
    case API_ROUTE_SKU_LIST:
    case API_ROUTE_RESERVATION_GET:
    case API_ROUTE_SKU_HISTORY:
    case API_ROUTE_COMMAND_GET:
        api_query_route(request);
        return;
    case API_ROUTE_VIEWS_LIST:
    case API_ROUTE_VIEW_REBUILD:
    case API_ROUTE_HEALTHZ:
    case API_ROUTE_READYZ:
    case API_ROUTE_METRICS:
    case API_ROUTE_OPENAPI:
        api_admin_route(request);
        return;
    case API_ROUTE_COUNT:
        break;
    }
    assert(!"unreachable: a route without a handler");
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
    request->connection = connection;
    request->info = info;
    request->start_us = api_now_us();
    request_id_assign(request);
    if (info->num_headers >= MG_MAX_HEADERS) {
        /* civetweb keeps the first MG_MAX_HEADERS and drops the rest silently: refuse instead. */
        api_problem(request, 431, "headers-too-large", "Too many header fields", NULL,
                    "a request may have at most %d header fields", MG_MAX_HEADERS - 1);
    } else {
        request_dispatch(request);
    }
    assert(request->status != 0);
    if (request->holds_wait) atomic_fetch_sub(&api->waits, 1);
    int64_t duration_us = api_now_us() - request->start_us;
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
    struct api_request request = {0};
    request.connection = connection;
    request.info = mg_get_request_info(connection);
    request.api = request.info != NULL ? request.info->user_data : NULL;
    if (request.api == NULL) return 1;
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
        int count = uri != NULL ? path_split(&request, uri, segments) : -1;
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

int api_start(struct api *api, char *error, size_t error_bytes)
{
    assert(api != NULL && api->context == NULL);
    const struct stockd_config *config = api->config;
    char listen[STOCKD_CONFIG_STRING_BYTES_MAX + 16];
    const char *colon = strrchr(config->http_listen, ':');
    assert(colon != NULL);
    api->port = atoi(colon + 1);
    if (api->key_count == 0) {
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", api->port);
        log_warn(COMPONENT,
                 "no API keys configured (http.api_keys): every request is allowed, so the API listens on "
                 "127.0.0.1:%d only (http.listen %s is not used)",
                 api->port, config->http_listen);
    } else {
        snprintf(listen, sizeof(listen), "%s", config->http_listen);
    }
    char threads[16], timeout[16], body[24], header_bytes[16];
    snprintf(threads, sizeof(threads), "%d", config->http_threads);
    snprintf(timeout, sizeof(timeout), "%d", config->http_request_timeout_ms);
    snprintf(header_bytes, sizeof(header_bytes), "%d", API_HEADER_BYTES_MAX);
    snprintf(body, sizeof(body), "%" PRId64, config->http_body_bytes_max);
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
    (void)body;
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.begin_request = request_begin;
    callbacks.http_error = request_error;
    callbacks.log_message = civetweb_log;
    api->context = mg_start(&callbacks, api, options);
    if (api->context == NULL) {
        snprintf(error, error_bytes,
                 "http: cannot listen on %s (in use? see the debug log for civetweb's reason)", listen);
        return -1;
    }
    log_info(COMPONENT, "HTTP API on http://%s (%d threads, %d key(s))", listen, config->http_threads,
             api->key_count);
    return 0;
}

void api_stop(struct api *api)
{
    if (api == NULL || api->context == NULL) return;
    atomic_store(&api->stopping, true);
    /* Requests in a bounded wait (min_position, Prefer: wait) answer now, with their fallbacks (503, 202),
     * instead of sleeping out http.wait_ms_max; mg_stop must come after their answers, because civetweb
     * writes nothing once it is stopping. */
    for (size_t i = 0; i < api->stages.projector_count; i++)
        projector_end_waits(api->stages.projectors[i]);
    for (int waited_ms = 0; atomic_load(&api->waits) > 0 && waited_ms < API_STOP_ANSWERS_MS;
         waited_ms += 10) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    mg_stop(api->context);
    api->context = NULL;
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
