/* http.h - stockctl's HTTP/1.1 client for stockd's API, on civetweb's client calls.
 *
 * One request per connection (Connection: close), http:// only (no TLS), bodies bounded. Parses base URLs
 * strictly: http://HOST[:PORT][/] with HOST an IPv4 address, a name, or [IPv6]. Knows nothing about routes:
 * api_commands.c builds paths and bodies and reads the answers. */
#ifndef STOCKCTL_HTTP_H
#define STOCKCTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A response body larger than this is refused (stockd's largest answers, a page of 100 history items with
 * their event envelopes or the views of 1,024 partitions, stay well below it). */
#define HTTP_RESPONSE_BYTES_MAX (1024 * 1024)

/* A host name is at most 253 bytes (RFC 1035); an IPv6 literal with a zone fits too. */
#define HTTP_HOST_BYTES_MAX 253

struct http_url {
    char host[HTTP_HOST_BYTES_MAX + 1];         /* without brackets: what connect() takes */
    char host_header[HTTP_HOST_BYTES_MAX + 10]; /* "host:port", "[v6]:port": the Host header */
    int port;                                   /* 1..65535, 80 when the URL has none */
    bool ipv6;
};

/* Parses a base URL. Returns 0, or -1 with the reason in error (a path, query, user info, https, an empty
 * or malformed host, a port outside 1..65535 are all refused). */
int http_url_parse(const char *text, struct http_url *url, char *error, size_t error_bytes);

struct http_request {
    const char *method;          /* "GET" or "POST" */
    const char *target;          /* path and query, already encoded: "/v1/skus/MUG?min_position=0:4" */
    const char *api_key;         /* NULL: no Authorization header; else sent as Bearer, never printed */
    const char *idempotency_key; /* NULL: none */
    int prefer_wait_s;           /* > 0: Prefer: wait=N */
    const char *body;            /* NULL: no body; else sent as application/json */
    size_t body_bytes;
    int timeout_ms; /* for the whole answer once connected (connecting itself: civetweb's 10 s) */
};

struct http_response {
    int status; /* 100..599 */
    char status_text[64];
    char content_type[128]; /* "" when absent */
    char request_id[80];    /* X-Request-Id, "" when absent */
    char *position;         /* X-Stockd-Position, malloc'd; NULL when absent */
    char *body;             /* malloc'd, NUL-terminated (the NUL is not counted) */
    size_t body_bytes;
};

/* Sends one request and reads the whole answer. Returns 0 with *response filled (free it with
 * http_response_free, also on error), or -1 with the reason in error: cannot connect, timeout, a malformed
 * answer, a body over HTTP_RESPONSE_BYTES_MAX. Any status, 4xx and 5xx included, is a success here. */
int http_exchange(const struct http_url *url, const struct http_request *request,
                  struct http_response *response, char *error, size_t error_bytes);

void http_response_free(struct http_response *response);

/* Whether a Content-Type is JSON (application/json or application/problem+json, parameters allowed). */
bool http_content_type_is_json(const char *content_type);

/* Percent-encodes text for a query value into out (unreserved characters, ':' and ',' stay: position lists).
 * Returns 0, or -1 when it does not fit. */
int http_query_encode(const char *text, char *out, size_t out_bytes);

#endif
