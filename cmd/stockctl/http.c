/* http.c - one HTTP/1.1 exchange with stockd over civetweb's client calls, with strict base-URL parsing.
 *
 * Every request opens its own connection and asks the server to close it: stockctl sends a handful of
 * requests per run, and one connection per request keeps a broken answer from spilling into the next. */
#include "http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <civetweb.h>

#include "clock.h"
#include "domain/number.h"
#include "version.h"

/* Request line and headers: stockd reads at most 16 KiB of them (civetweb's max_request_size). */
#define HTTP_REQUEST_HEAD_BYTES_MAX (16 * 1024)

/* civetweb's mg_check_feature bit for IPv6 support. */
#define CIVETWEB_FEATURE_IPV6 8

static int error_set(char *error, size_t error_bytes, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int error_set(char *error, size_t error_bytes, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_bytes, format, arguments);
    va_end(arguments);
    return -1;
}

/* A registered name or IPv4 address: letters, digits, dots and hyphens, no empty label. */
static bool host_name_valid(const char *host, size_t length)
{
    if (length == 0 || length > HTTP_HOST_BYTES_MAX || host[0] == '.' || host[0] == '-') return false;
    for (size_t index = 0; index < length; index++) {
        char c = host[index];
        if (!isalnum((unsigned char)c) && c != '.' && c != '-') return false;
        if (c == '.' && index + 1 < length && host[index + 1] == '.') return false;
    }
    return true;
}

/* Parses ":PORT" (1..65535, digits only) at text, or nothing at all (port 80). */
static int port_parse(const char *text, size_t length, int *port)
{
    if (length == 0) {
        *port = 80;
        return 0;
    }
    if (text[0] != ':') return -1;
    int64_t value = 0;
    if (number_integer_parse(text + 1, length - 1, 1, 65535, &value) != NUMBER_OK) return -1;
    *port = (int)value;
    return 0;
}

int http_url_parse(const char *text, struct http_url *url, char *error, size_t error_bytes)
{
    assert(url != NULL && error != NULL);
    memset(url, 0, sizeof(*url));
    if (text == NULL || text[0] == '\0') return error_set(error, error_bytes, "the URL is empty");
    if (strncasecmp(text, "https://", 8) == 0)
        return error_set(error, error_bytes,
                         "https is not supported: stockctl speaks plain http:// (put stockd "
                         "behind a TLS proxy on the same host if it must be reached remotely)");
    if (strncasecmp(text, "http://", 7) != 0)
        return error_set(error, error_bytes, "\"%s\" is not an http:// URL", text);
    const char *authority = text + 7;
    size_t authority_length = strcspn(authority, "/?#");
    const char *rest = authority + authority_length;
    if (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0)
        return error_set(error, error_bytes,
                         "the URL must be http://HOST[:PORT] without a path, query or "
                         "fragment, got \"%s\"",
                         text);
    if (memchr(authority, '@', authority_length) != NULL)
        return error_set(error, error_bytes,
                         "user info in the URL is not supported: pass the key with --key");
    const char *host = authority;
    size_t host_length = 0;
    const char *port_text = NULL;
    if (authority[0] == '[') {
        const char *close = memchr(authority, ']', authority_length);
        if (close == NULL) return error_set(error, error_bytes, "unterminated IPv6 address in \"%s\"", text);
        host = authority + 1;
        host_length = (size_t)(close - host);
        port_text = close + 1;
        char literal[INET6_ADDRSTRLEN + 1];
        struct in6_addr address;
        if (host_length == 0 || host_length >= sizeof(literal))
            return error_set(error, error_bytes, "\"%.*s\" is not an IPv6 address", (int)host_length, host);
        memcpy(literal, host, host_length);
        literal[host_length] = '\0';
        if (inet_pton(AF_INET6, literal, &address) != 1)
            return error_set(error, error_bytes, "\"%s\" is not an IPv6 address", literal);
        url->ipv6 = true;
    } else {
        const char *colon = memchr(authority, ':', authority_length);
        host_length = colon != NULL ? (size_t)(colon - authority) : authority_length;
        port_text = authority + host_length;
        if (!host_name_valid(host, host_length))
            return error_set(error, error_bytes, "\"%.*s\" is not a host name or IPv4 address",
                             (int)host_length, host);
    }
    if (port_parse(port_text, (size_t)(rest - port_text), &url->port) != 0)
        return error_set(error, error_bytes, "the port must be 1..65535 after the host, got \"%.*s\"",
                         (int)(rest - port_text), port_text);
    memcpy(url->host, host, host_length);
    url->host[host_length] = '\0';
    snprintf(url->host_header, sizeof(url->host_header), url->ipv6 ? "[%s]:%d" : "%s:%d", url->host,
             url->port);
    return 0;
}

/* A header value stockctl sends: printable ASCII, no space (keys, ids, paths), so no header can be forged. */
static bool header_token_valid(const char *text)
{
    if (text[0] == '\0') return false;
    for (const char *cursor = text; *cursor != '\0'; cursor++)
        if (*cursor <= ' ' || *cursor > '~') return false;
    return true;
}

/* Writes the request line and headers into head. Returns its length, or -1 when it does not fit. */
static int request_head_write(const struct http_url *url, const struct http_request *request, char *head,
                              size_t head_bytes)
{
    size_t length = 0;
    int written = snprintf(head, head_bytes,
                           "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stockctl/%s\r\n"
                           "Accept: application/json, application/problem+json\r\nConnection: close\r\n",
                           request->method, request->target, url->host_header, stockd_version());
    if (written < 0 || (size_t)written >= head_bytes) return -1;
    length = (size_t)written;
    if (request->api_key != NULL) {
        written =
            snprintf(head + length, head_bytes - length, "Authorization: Bearer %s\r\n", request->api_key);
        if (written < 0 || (size_t)written >= head_bytes - length) return -1;
        length += (size_t)written;
    }
    if (request->idempotency_key != NULL) {
        written =
            snprintf(head + length, head_bytes - length, "Idempotency-Key: %s\r\n", request->idempotency_key);
        if (written < 0 || (size_t)written >= head_bytes - length) return -1;
        length += (size_t)written;
    }
    if (request->prefer_wait_s > 0) {
        written = snprintf(head + length, head_bytes - length, "Prefer: wait=%d\r\n", request->prefer_wait_s);
        if (written < 0 || (size_t)written >= head_bytes - length) return -1;
        length += (size_t)written;
    }
    if (request->body != NULL)
        written =
            snprintf(head + length, head_bytes - length,
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", request->body_bytes);
    else if (strcmp(request->method, "POST") == 0)
        written = snprintf(head + length, head_bytes - length, "Content-Length: 0\r\n\r\n");
    else
        written = snprintf(head + length, head_bytes - length, "\r\n");
    if (written < 0 || (size_t)written >= head_bytes - length) return -1;
    return (int)(length + (size_t)written);
}

static void header_copy(char *out, size_t out_bytes, const char *value)
{
    snprintf(out, out_bytes, "%s", value);
}

/* Copies the status and the headers stockctl uses out of civetweb's response info. */
static int response_head_read(const struct mg_response_info *info, struct http_response *response,
                              char *error, size_t error_bytes)
{
    if (info == NULL || info->status_code < 100 || info->status_code > 599)
        return error_set(error, error_bytes, "the server's answer has no valid HTTP status");
    response->status = info->status_code;
    header_copy(response->status_text, sizeof(response->status_text),
                info->status_text ? info->status_text : "");
    for (int index = 0; index < info->num_headers; index++) {
        const char *name = info->http_headers[index].name;
        const char *value = info->http_headers[index].value;
        if (name == NULL || value == NULL) continue;
        if (strcasecmp(name, "Content-Type") == 0) {
            header_copy(response->content_type, sizeof(response->content_type), value);
        } else if (strcasecmp(name, "X-Request-Id") == 0) {
            header_copy(response->request_id, sizeof(response->request_id), value);
        } else if (strcasecmp(name, "X-Stockd-Position") == 0 && response->position == NULL) {
            response->position = strdup(value);
            if (response->position == NULL) return error_set(error, error_bytes, "out of memory");
        }
    }
    return 0;
}

/* Reads the body, at most HTTP_RESPONSE_BYTES_MAX bytes, until the deadline. The deadline is checked
 * between reads: a read itself may block up to civetweb's own client timeout (30 s) when the server
 * stalls in the middle of a body. */
static int response_body_read(struct mg_connection *connection, long long content_length, int64_t deadline_ms,
                              struct http_response *response, char *error, size_t error_bytes)
{
    if (content_length > HTTP_RESPONSE_BYTES_MAX)
        return error_set(error, error_bytes,
                         "the answer's body is %lld bytes, more than the %d stockctl reads", content_length,
                         HTTP_RESPONSE_BYTES_MAX);
    response->body = malloc(HTTP_RESPONSE_BYTES_MAX + 2);
    if (response->body == NULL) return error_set(error, error_bytes, "out of memory");
    size_t length = 0;
    for (;;) {
        int read = mg_read(connection, response->body + length, HTTP_RESPONSE_BYTES_MAX + 1 - length);
        if (read < 0) return error_set(error, error_bytes, "the connection broke while reading the answer");
        if (read == 0) break;
        length += (size_t)read;
        if (length > HTTP_RESPONSE_BYTES_MAX)
            return error_set(error, error_bytes,
                             "the answer's body is larger than the %d bytes stockctl reads",
                             HTTP_RESPONSE_BYTES_MAX);
        if (content_length >= 0 && (long long)length >= content_length) break; /* complete: in time */
        if (clock_monotonic_ms() > deadline_ms)
            return error_set(error, error_bytes, "the answer's body did not arrive in time (--timeout-ms)");
    }
    if (content_length >= 0 && (long long)length != content_length)
        return error_set(error, error_bytes, "the answer was cut short: %zu of %lld bytes", length,
                         content_length);
    response->body[length] = '\0';
    response->body_bytes = length;
    return 0;
}

int http_exchange(const struct http_url *url, const struct http_request *request,
                  struct http_response *response, char *error, size_t error_bytes)
{
    assert(url != NULL && request != NULL && response != NULL && request->timeout_ms > 0);
    assert(request->method != NULL && request->target != NULL && request->target[0] == '/');
    memset(response, 0, sizeof(*response));
    if (!header_token_valid(request->target) || (request->api_key && !header_token_valid(request->api_key)) ||
        (request->idempotency_key && !header_token_valid(request->idempotency_key)))
        return error_set(error, error_bytes, "a header value holds a space or a control character");
    if (url->ipv6 && !mg_check_feature(CIVETWEB_FEATURE_IPV6))
        return error_set(error, error_bytes,
                         "this build's civetweb has no IPv6 support: use an IPv4 address");
    static char head[HTTP_REQUEST_HEAD_BYTES_MAX];
    int head_length = request_head_write(url, request, head, sizeof(head));
    if (head_length < 0) return error_set(error, error_bytes, "the request's headers exceed 16 KiB");
    char civetweb_error[256] = "";
    int64_t deadline_ms = clock_monotonic_ms() + (int64_t)request->timeout_ms;
    struct mg_connection *connection =
        mg_connect_client(url->host, url->port, 0, civetweb_error, sizeof(civetweb_error));
    if (connection == NULL) {
        /* civetweb says "connect(host:port): error Connection refused": keep the part after "error ". */
        const char *reason = strstr(civetweb_error, "): error ");
        return error_set(error, error_bytes, "cannot connect: %s", reason ? reason + 9 : civetweb_error);
    }
    int status = -1;
    if (mg_write(connection, head, (size_t)head_length) != head_length ||
        (request->body_bytes > 0 &&
         mg_write(connection, request->body, request->body_bytes) != (int)request->body_bytes)) {
        error_set(error, error_bytes, "cannot send the request to %s", url->host_header);
        goto out_close;
    }
    if (mg_get_response(connection, civetweb_error, sizeof(civetweb_error), request->timeout_ms) < 0) {
        error_set(error, error_bytes, "no valid answer from %s within %d ms (%s)", url->host_header,
                  request->timeout_ms, civetweb_error[0] ? civetweb_error : "timeout");
        goto out_close;
    }
    const struct mg_response_info *info = mg_get_response_info(connection);
    if (response_head_read(info, response, error, error_bytes) != 0) goto out_close;
    if (response_body_read(connection, info->content_length, deadline_ms, response, error, error_bytes) != 0)
        goto out_close;
    status = 0;
out_close:
    mg_close_connection(connection);
    return status;
}

void http_response_free(struct http_response *response)
{
    if (response == NULL) return;
    free(response->position);
    free(response->body);
    response->position = NULL;
    response->body = NULL;
}

bool http_content_type_is_json(const char *content_type)
{
    size_t length = strcspn(content_type, "; \t");
    return (length == 16 && strncasecmp(content_type, "application/json", 16) == 0) ||
           (length == 24 && strncasecmp(content_type, "application/problem+json", 24) == 0);
}

int http_query_encode(const char *text, char *out, size_t out_bytes)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = 0;
    for (const unsigned char *cursor = (const unsigned char *)text; *cursor != '\0'; cursor++) {
        bool plain = isalnum(*cursor) || strchr("-._~:,", *cursor) != NULL;
        if (length + (plain ? 1 : 3) >= out_bytes) return -1;
        if (plain) {
            out[length++] = (char)*cursor;
        } else {
            out[length++] = '%';
            out[length++] = hex[*cursor >> 4];
            out[length++] = hex[*cursor & 15];
        }
    }
    if (length >= out_bytes) return -1;
    out[length] = '\0';
    return 0;
}
