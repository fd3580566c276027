/* http.c - one HTTP request on civetweb: answers, problem+json, body, query string, path, waits.
 *
 * The helpers every route answers through (contracts in http.h). civetweb and the JSON writer only: no
 * routes, views or Kafka here; a route that wants a header on its problem answers says so through
 * request->problem_header. */
#include "api/http.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define COMPONENT "api"

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
    struct api_header headers[4] = {{NULL, NULL}};
    size_t count = 0;
    if (status == 401) headers[count++] = (struct api_header){"WWW-Authenticate", "Bearer realm=\"stockd\""};
    if (status == 503) headers[count++] = (struct api_header){"Retry-After", "1"};
    const struct api_problem_header *route_header = request->problem_header;
    char *route_value = route_header != NULL ? route_header->value_make(request) : NULL;
    if (route_value != NULL) headers[count++] = (struct api_header){route_header->name, route_value};
    assert(count < sizeof(headers) / sizeof(headers[0])); /* NULL-terminated */
    api_problem_ex(request, status, code, title, field, detail, NULL, NULL, headers);
    free(route_value);
}

/* ---- request input ------------------------------------------------------------------------------------- */

const char *api_header_get(const struct api_request *request, const char *name)
{
    return mg_get_header(request->connection, name);
}

char *api_body_read(struct api_request *request, size_t *body_bytes)
{
    size_t limit = (size_t)request->config->http_body_bytes_max;
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
    int waits = atomic_fetch_add(request->waits, 1);
    if (waits >= request->config->http_waits_max) {
        atomic_fetch_sub(request->waits, 1);
        api_problem(request, 503, "too-many-waits", "Too many waiting requests", NULL,
                    "%d requests are waiting already (http.waits_max); retry shortly", waits);
        return false;
    }
    request->holds_wait = true;
    return true;
}

void api_wait_release(struct api_request *request)
{
    if (!request->holds_wait) return;
    atomic_fetch_sub(request->waits, 1);
    request->holds_wait = false;
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

int api_path_split(struct api_request *request, const char *raw, const char *segments[API_PATH_SEGMENTS_MAX])
{
    assert(request != NULL && raw != NULL);
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

int api_query_parse(struct api_request *request, const char *query)
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
