/* gate.c - the HTTP API's front door: gathers each request whole, then hands it to civetweb (gate.h).
 *
 * One thread, one epoll set, level-triggered. A connection is in one of two states: gathering a request
 * (bytes buffered, nothing sent on) or with civetweb (the request written to a kept loopback connection from
 * the pool, the answer relayed back until its Content-Length is done; or to a fresh connection then
 * half-closed, the answer relayed until civetweb closes it). Framing is read just enough
 * to know where a request ends (Content-Length, chunked); a request whose framing is in doubt goes to
 * civetweb as it is, which refuses it (server.c), and the client's connection ends with that answer. */
#include "api/gate.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "stage_threads.h"

#include "domain/number.h"
#include "log.h"
#include "metrics.h"

#define COMPONENT "api"

/* Events handled per epoll_wait, and how often deadlines are looked at. */
#define GATE_EVENTS_MAX   256
#define GATE_SWEEP_MS     250
#define GATE_BUFFER_FIRST 2048 /* a request buffer starts this large and doubles */
/* Descriptors kept free for the rest of stockd (Kafka, SQLite, civetweb's side of each connection). */
#define GATE_DESCRIPTORS_RESERVED 256

enum chunk_state {
    CHUNK_SIZE,
    CHUNK_EXTENSION,
    CHUNK_DATA,
    CHUNK_DATA_END,
    CHUNK_TRAILER_START,
    CHUNK_TRAILER
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

/* Where an answer on a kept connection to civetweb is: its head, its body, or past its end. */
enum answer_state { ANSWER_HEAD, ANSWER_BODY, ANSWER_END };

struct gate_endpoint {
    struct gate_connection *connection; /* NULL: the listener or the wake descriptor */
    bool upstream;
};

struct gate_connection {
    struct gate_endpoint client_endpoint, upstream_endpoint;
    int client_fd, upstream_fd; /* upstream_fd -1 but while a request is with civetweb */
    bool with_upstream;         /* the request was complete and went to civetweb */
    char *in;                   /* the request being gathered, then bytes pipelined after it */
    size_t in_used, in_capacity;
    size_t head_scan, head_end; /* head_end: 0 until the blank line is seen, then the offset past it */
    enum body_kind body;
    uint64_t body_length;
    enum chunk_state chunk;
    size_t chunk_position;
    uint64_t chunk_left;
    bool chunk_digit_seen;           /* the size line being read has a digit already */
    size_t request_end;              /* offset past the request once it is complete, else 0 */
    bool close_after;                /* the client's connection ends with this answer */
    enum metrics_gate_request doubt; /* why the request goes as it came (civetweb refuses it), or WHOLE */
    int64_t request_started_us;      /* when its first byte reached the gate (monotonic) */
    size_t upstream_sent;            /* bytes of in[0 .. request_end) written to civetweb */
    bool upstream_connected, upstream_eof;
    char *answer; /* API_GATE_ANSWER_BYTES_MAX bytes while with civetweb */
    size_t answer_used, answer_sent;
    size_t answer_total;  /* bytes of civetweb's answer relayed so far */
    bool upstream_kept;   /* a keep-alive connection to civetweb: the answer's framing says where it ends */
    bool upstream_reused; /* taken from the pool: may have been closed by civetweb just before (retried) */
    bool head_request;    /* a HEAD: its answer has no body whatever its Content-Length says */
    enum answer_state answer_state;
    char answer_head[API_GATE_ANSWER_HEAD_BYTES_MAX];
    size_t answer_head_used;
    uint64_t answer_body_left;
    bool upstream_watched, closed;
    int64_t deadline_ms;
    struct gate_connection *previous, *next; /* the open connections; next also links the closed ones */
};

struct api_gate {
    struct api_gate_limits limits;
    int listen_fd, epoll_fd, wake_fd;
    int port;
    struct sockaddr_in upstream;
    size_t connections_max, connection_count, buffered_bytes;
    struct gate_connection *connections; /* every open connection, a list */
    struct gate_connection *closed;      /* closed in this batch of events, freed after it */
    struct gate_endpoint listen_endpoint, wake_endpoint;
    int pool[API_GATE_POOL_MAX]; /* idle kept connections to civetweb, the freshest last */
    int64_t pool_since_ms[API_GATE_POOL_MAX];
    size_t pool_count;
    size_t kept_count; /* kept connections, idle in the pool or in use */
    pthread_t thread;
    atomic_bool close_listener, stopping;
    atomic_int_fast64_t drain_until_ms;
};

static void gate_watch(struct api_gate *gate, int fd, struct gate_endpoint *endpoint, uint32_t events,
                       int operation)
{
    struct epoll_event event = {.events = events, .data.ptr = endpoint};
    int rc = epoll_ctl(gate->epoll_fd, operation, fd, &event);
    assert(rc == 0 || operation == EPOLL_CTL_DEL); /* our own descriptors, added once */
    (void)rc;
}

/* ---- connections ------------------------------------------------------------------------------------- */

/* Closes both sides; the memory goes when the batch of events is done (a later event of the batch may
 * name it: it is then skipped). */
static void connection_close(struct api_gate *gate, struct gate_connection *connection,
                             enum metrics_gate_close reason)
{
    assert(!connection->closed);
    metrics_gate_connection_closed(reason);
    if (connection->upstream_fd >= 0) close(connection->upstream_fd); /* close() leaves the epoll set */
    if (connection->upstream_fd >= 0 && connection->upstream_kept) gate->kept_count--;
    close(connection->client_fd);
    gate->buffered_bytes -= connection->in_capacity;
    free(connection->in);
    free(connection->answer);
    connection->in = connection->answer = NULL;
    if (connection->previous != NULL) connection->previous->next = connection->next;
    if (connection->next != NULL) connection->next->previous = connection->previous;
    if (gate->connections == connection) gate->connections = connection->next;
    gate->connection_count--;
    connection->closed = true;
    connection->next = gate->closed;
    gate->closed = connection;
}

static void gate_closed_free(struct api_gate *gate)
{
    while (gate->closed != NULL) {
        struct gate_connection *next = gate->closed->next;
        free(gate->closed);
        gate->closed = next;
    }
}

/* Watches civetweb's side for events; with none wanted it leaves the set (a hung-up socket would report
 * EPOLLHUP without end). */
static void upstream_watch(struct api_gate *gate, struct gate_connection *connection, uint32_t events)
{
    if (events == 0) {
        if (connection->upstream_watched)
            epoll_ctl(gate->epoll_fd, EPOLL_CTL_DEL, connection->upstream_fd, NULL);
        connection->upstream_watched = false;
        return;
    }
    gate_watch(gate, connection->upstream_fd, &connection->upstream_endpoint, events,
               connection->upstream_watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
    connection->upstream_watched = true;
}

/* Sends a short answer of the gate's own (408, 503) and closes, counted as reason. Best effort: the socket
 * takes it whole. */
static void connection_refuse(struct api_gate *gate, struct gate_connection *connection, int status,
                              enum metrics_gate_close reason)
{
    char answer[512];
    const char *title = status == 408 ? "Request timeout" : "Service unavailable";
    const char *code = status == 408 ? "request-timeout" : "unavailable";
    const char *detail = status == 408 ? "the request did not arrive within http.request_timeout_ms"
                                       : "too many connections or too much buffered: retry shortly";
    char body[320];
    int body_length =
        snprintf(body, sizeof(body),
                 "{\"type\":\"urn:stockd:problem:%s\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
                 code, title, status, detail);
    int length = snprintf(answer, sizeof(answer),
                          "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\n"
                          "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s",
                          status, title, body_length, status == 503 ? "Retry-After: 1\r\n" : "", body);
    assert(length > 0 && (size_t)length < sizeof(answer));
    (void)send(connection->client_fd, answer, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
    metrics_http_observe("unmatched", "-", status, 0); /* as civetweb's own refusals are counted */
    connection_close(gate, connection, reason);
}

/* Resets the request state for the next request, keeping bytes pipelined after the last one. */
static void connection_request_reset(struct gate_connection *connection)
{
    size_t leftover = connection->in_used - connection->request_end;
    memmove(connection->in, connection->in + connection->request_end, leftover);
    connection->in_used = leftover;
    connection->head_scan = connection->head_end = 0;
    connection->body = BODY_NONE;
    connection->body_length = connection->chunk_left = 0;
    connection->chunk = CHUNK_SIZE;
    connection->chunk_position = 0;
    connection->chunk_digit_seen = false;
    connection->request_end = 0;
    connection->doubt = METRICS_GATE_REQUEST_WHOLE;
    connection->upstream_sent = 0;
    connection->upstream_connected = connection->upstream_eof = false;
    connection->answer_used = connection->answer_sent = connection->answer_total = 0;
    connection->upstream_kept = connection->upstream_reused = connection->head_request = false;
    connection->answer_state = ANSWER_HEAD;
    connection->answer_head_used = 0;
    connection->answer_body_left = 0;
}

/* ---- reading a request --------------------------------------------------------------------------------- */

/* Finds the end of the head exactly where civetweb finds it (get_http_header_len): CR LF CR LF, or LF LF. */
static bool head_find(struct gate_connection *connection)
{
    const char *in = connection->in;
    for (size_t i = connection->head_scan; i < connection->in_used; i++) {
        if (i + 1 < connection->in_used && in[i] == '\n' && in[i + 1] == '\n') {
            connection->head_end = i + 2;
            return true;
        }
        if (i + 3 < connection->in_used && memcmp(in + i, "\r\n\r\n", 4) == 0) {
            connection->head_end = i + 4;
            return true;
        }
    }
    connection->head_scan = connection->in_used >= 3 ? connection->in_used - 3 : 0;
    return false;
}

static bool token_is(const char *value, size_t length, const char *token)
{
    return strlen(token) == length && strncasecmp(value, token, length) == 0;
}

/* Whether a comma list header value holds token. */
static bool list_has(const char *value, size_t length, const char *token)
{
    size_t start = 0;
    while (start < length) {
        size_t end = start;
        while (end < length && value[end] != ',')
            end++;
        size_t a = start, b = end;
        while (a < b && (value[a] == ' ' || value[a] == '\t'))
            a++;
        while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
            b--;
        if (token_is(value + a, b - a, token)) return true;
        start = end + 1;
    }
    return false;
}

/* Reads the framing of a complete head: body kind and length, whether the connection ends after it,
 * whether the client waits for 100 Continue. Framing that is in doubt (what server.c refuses) sends the
 * request on as it is and ends the connection. Returns whether the client expects 100 Continue. */
static bool head_framing(struct api_gate *gate, struct gate_connection *connection)
{
    const char *head = connection->in;
    size_t end = connection->head_end;
    size_t line_end = 0;
    while (line_end < end && head[line_end] != '\n')
        line_end++;
    size_t version_end = line_end > 0 && head[line_end - 1] == '\r' ? line_end - 1 : line_end;
    bool http10 = version_end >= 8 && memcmp(head + version_end - 8, "HTTP/1.0", 8) == 0;
    bool http11 = version_end >= 8 && memcmp(head + version_end - 8, "HTTP/1.1", 8) == 0;
    int length_count = 0, encoding_count = 0;
    bool length_bad = false, encoding_bad = false, wants_close = http10, expect_continue = false;
    int64_t length = 0;
    for (size_t start = line_end + 1; start < end;) {
        size_t stop = start;
        while (stop < end && head[stop] != '\n')
            stop++;
        size_t colon = start;
        while (colon < stop && head[colon] != ':')
            colon++;
        size_t value = colon + 1, value_end = stop;
        while (value < value_end && (head[value] == ' ' || head[value] == '\t'))
            value++;
        while (value_end > value &&
               (head[value_end - 1] == '\r' || head[value_end - 1] == ' ' || head[value_end - 1] == '\t'))
            value_end--;
        const char *name = head + start;
        size_t name_length = colon - start;
        if (colon < stop && token_is(name, name_length, "Content-Length")) {
            length_count++;
            length_bad = length_bad || number_integer_parse(head + value, value_end - value, 0, INT64_MAX,
                                                            &length) != NUMBER_OK;
        } else if (colon < stop && token_is(name, name_length, "Transfer-Encoding")) {
            encoding_count++;
            encoding_bad = encoding_bad || !token_is(head + value, value_end - value, "chunked");
        } else if (colon < stop && token_is(name, name_length, "Connection")) {
            if (list_has(head + value, value_end - value, "close")) wants_close = true;
            if (http10 && list_has(head + value, value_end - value, "keep-alive")) wants_close = false;
        } else if (colon < stop && token_is(name, name_length, "Expect")) {
            expect_continue = token_is(head + value, value_end - value, "100-continue");
        }
        start = stop + 1;
    }
    connection->close_after = wants_close || !(http10 || http11);
    bool doubtful = length_count > 1 || (length_count == 1 && encoding_count > 0) || encoding_count > 1 ||
                    length_bad || encoding_bad || (encoding_count == 1 && !http11);
    if (doubtful || (length_count == 1 && (uint64_t)length > gate->limits.body_bytes_max)) {
        /* civetweb answers (400, 413) without reading a body: send what came, end the connection. */
        connection->doubt =
            doubtful ? METRICS_GATE_REQUEST_AMBIGUOUS_FRAMING : METRICS_GATE_REQUEST_BODY_TOO_LARGE;
        connection->close_after = true;
        connection->request_end = connection->in_used;
        return false;
    }
    if (length_count == 1 && length > 0) {
        connection->body = BODY_LENGTH;
        connection->body_length = (uint64_t)length;
    } else if (encoding_count == 1) {
        connection->body = BODY_CHUNKED;
        connection->chunk_position = connection->head_end;
    } else {
        connection->request_end = connection->head_end;
    }
    return expect_continue && connection->body != BODY_NONE;
}

static int hex_value(char byte)
{
    if (byte >= '0' && byte <= '9') return byte - '0';
    if (byte >= 'a' && byte <= 'f') return byte - 'a' + 10;
    if (byte >= 'A' && byte <= 'F') return byte - 'A' + 10;
    return -1;
}

/* Steps the chunked-body reader over the bytes that came; sets request_end at the end of the trailers. A
 * malformed body goes to civetweb as it is (it refuses it) and ends the connection. */
static void chunks_read(struct api_gate *gate, struct gate_connection *connection)
{
    char *in = connection->in;
    size_t position = connection->chunk_position;
    bool malformed = false;
    while (position < connection->in_used && connection->request_end == 0 && !malformed) {
        char byte = in[position];
        switch (connection->chunk) {
        case CHUNK_SIZE: {
            int digit = hex_value(byte);
            if (digit >= 0) {
                if (connection->chunk_left > gate->limits.body_bytes_max) malformed = true; /* too large */
                connection->chunk_left = connection->chunk_left * 16 + (uint64_t)digit;
                connection->chunk_digit_seen = true;
                position++;
            } else if (!connection->chunk_digit_seen) {
                malformed = true;
            } else {
                connection->chunk = CHUNK_EXTENSION; /* ';' extensions, spaces, then the line end */
            }
            break;
        }
        case CHUNK_EXTENSION:
            position++;
            if (byte == '\n') {
                connection->chunk = connection->chunk_left == 0 ? CHUNK_TRAILER_START : CHUNK_DATA;
                connection->chunk_digit_seen = false;
            }
            break;
        case CHUNK_DATA: {
            size_t available = connection->in_used - position;
            size_t take = connection->chunk_left < available ? (size_t)connection->chunk_left : available;
            position += take;
            connection->chunk_left -= take;
            if (connection->chunk_left == 0) connection->chunk = CHUNK_DATA_END;
            break;
        }
        case CHUNK_DATA_END: /* CRLF (or LF) after the data */
            position++;
            if (byte == '\n') {
                connection->chunk = CHUNK_SIZE;
            } else if (byte != '\r') {
                malformed = true;
            }
            break;
        case CHUNK_TRAILER_START: /* an empty line ends the body, else a trailer field */
            position++;
            if (byte == '\n') {
                connection->request_end = position;
            } else if (byte != '\r') {
                connection->chunk = CHUNK_TRAILER;
            }
            break;
        case CHUNK_TRAILER:
            position++;
            if (byte == '\n') connection->chunk = CHUNK_TRAILER_START;
            break;
        }
    }
    connection->chunk_position = position;
    if (malformed || (connection->request_end == 0 &&
                      connection->in_used - connection->head_end > 2 * gate->limits.body_bytes_max + 1024)) {
        connection->doubt =
            malformed ? METRICS_GATE_REQUEST_MALFORMED_CHUNKED : METRICS_GATE_REQUEST_BODY_TOO_LARGE;
        connection->close_after = true;
        connection->request_end = connection->in_used;
    }
}

static void connection_forward(struct api_gate *gate, struct gate_connection *connection);

/* Looks at what has come of the request; sends it on once it is whole. */
static void request_progress(struct api_gate *gate, struct gate_connection *connection)
{
    if (connection->in_used == 0) return;
    if (connection->head_end == 0) {
        if (!head_find(connection)) {
            if (connection->in_used >= gate->limits.head_bytes_max) { /* civetweb answers 431 */
                connection->doubt = METRICS_GATE_REQUEST_HEAD_TOO_LARGE;
                connection->close_after = true;
                connection->request_end = connection->in_used;
                connection_forward(gate, connection);
            }
            return;
        }
        if (head_framing(gate, connection)) {
            static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
            (void)send(connection->client_fd, go_on, sizeof(go_on) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    if (connection->request_end == 0 && connection->body == BODY_LENGTH &&
        connection->in_used - connection->head_end >= connection->body_length)
        connection->request_end = connection->head_end + (size_t)connection->body_length;
    if (connection->request_end == 0 && connection->body == BODY_CHUNKED) chunks_read(gate, connection);
    if (connection->request_end != 0) connection_forward(gate, connection);
}

/* Reads what the client sent. Returns false when the connection was closed. */
static bool client_read(struct api_gate *gate, struct gate_connection *connection)
{
    size_t capacity_max = gate->limits.head_bytes_max + 2 * gate->limits.body_bytes_max + 4096;
    if (connection->in_used == connection->in_capacity) {
        size_t grown = connection->in_capacity == 0 ? GATE_BUFFER_FIRST : connection->in_capacity * 2;
        if (grown > capacity_max) grown = capacity_max;
        if (grown <= connection->in_capacity ||
            gate->buffered_bytes + (grown - connection->in_capacity) > API_GATE_BUFFERED_BYTES_MAX) {
            connection_refuse(gate, connection, 503, METRICS_GATE_CLOSE_BUFFERED_MAX);
            return false;
        }
        char *larger = realloc(connection->in, grown);
        if (larger == NULL) {
            connection_refuse(gate, connection, 503, METRICS_GATE_CLOSE_BUFFERED_MAX);
            return false;
        }
        gate->buffered_bytes += grown - connection->in_capacity;
        connection->in = larger;
        connection->in_capacity = grown;
    }
    ssize_t got = recv(connection->client_fd, connection->in + connection->in_used,
                       connection->in_capacity - connection->in_used, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (got <= 0 && connection->in_used > 0 && !connection->with_upstream) {
        /* The client ended its side in the middle of a request: civetweb answers what came (400). */
        connection->doubt = METRICS_GATE_REQUEST_TRUNCATED;
        connection->close_after = true;
        connection->request_end = connection->in_used;
        connection_forward(gate, connection);
        return true;
    }
    if (got <= 0) { /* the client is gone */
        connection_close(gate, connection, METRICS_GATE_CLOSE_CLIENT_GONE);
        return false;
    }
    if (connection->in_used == 0) {
        connection->request_started_us = clock_monotonic_us();
        connection->deadline_ms = connection->request_started_us / 1000 + gate->limits.request_timeout_ms;
    }
    connection->in_used += (size_t)got;
    request_progress(gate, connection);
    return true;
}

/* ---- with civetweb ------------------------------------------------------------------------------------- */

/* Opens a fresh connection to civetweb. Returns the descriptor, or -1. */
static int upstream_open(struct api_gate *gate)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&gate->upstream, sizeof(gate->upstream)) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Takes the freshest idle kept connection, dropping those idle too long. Returns it, or -1. */
static int pool_take(struct api_gate *gate)
{
    int64_t now_ms = clock_monotonic_ms();
    while (gate->pool_count > 0) {
        gate->pool_count--;
        int fd = gate->pool[gate->pool_count];
        if (now_ms - gate->pool_since_ms[gate->pool_count] <= API_GATE_POOL_IDLE_MS) return fd;
        close(fd);
        gate->kept_count--;
    }
    return -1;
}

/* Drops the kept connections that idled too long (the oldest come first). */
static void pool_sweep(struct api_gate *gate, int64_t now_ms)
{
    size_t stale = 0;
    while (stale < gate->pool_count && now_ms - gate->pool_since_ms[stale] > API_GATE_POOL_IDLE_MS) {
        close(gate->pool[stale]);
        gate->kept_count--;
        stale++;
    }
    memmove(gate->pool, gate->pool + stale, (gate->pool_count - stale) * sizeof(gate->pool[0]));
    memmove(gate->pool_since_ms, gate->pool_since_ms + stale, (gate->pool_count - stale) * sizeof(int64_t));
    gate->pool_count -= stale;
}

/* Hands the complete request to civetweb: on an idle kept connection, or a new one kept after (while fewer
 * than upstream_kept_max are), or else a new one half-closed after the request. The client is not read
 * meanwhile. */
static void connection_forward(struct api_gate *gate, struct gate_connection *connection)
{
    assert(connection->request_end > 0 && !connection->with_upstream);
    connection->head_request = connection->request_end >= 5 && memcmp(connection->in, "HEAD ", 5) == 0;
    int fd = -1;
    /* Kept connections carry only requests whose end civetweb finds where the gate does: no chunked body
     * (its chunk reader and the gate's may differ on odd input), and none civetweb closes after. */
    if (!connection->close_after && connection->body != BODY_CHUNKED) {
        fd = pool_take(gate);
        connection->upstream_reused = fd >= 0;
        if (fd < 0 && gate->kept_count < gate->limits.upstream_kept_max) {
            fd = upstream_open(gate);
            if (fd >= 0) gate->kept_count++;
        }
        connection->upstream_kept = fd >= 0;
    }
    if (fd < 0) fd = upstream_open(gate);
    if (connection->answer == NULL) connection->answer = malloc(API_GATE_ANSWER_BYTES_MAX);
    if (fd < 0 || connection->answer == NULL) {
        if (fd >= 0) close(fd);
        if (connection->upstream_kept) gate->kept_count--;
        connection->upstream_kept = false;
        connection_refuse(gate, connection, 503, METRICS_GATE_CLOSE_UPSTREAM_UNAVAILABLE);
        return;
    }
    int64_t now_us = clock_monotonic_us();
    metrics_gate_request_relayed(now_us - connection->request_started_us, connection->doubt);
    connection->upstream_fd = fd;
    connection->with_upstream = true;
    connection->deadline_ms = now_us / 1000 + gate->limits.answer_timeout_ms;
    gate_watch(gate, connection->client_fd, &connection->client_endpoint, 0, EPOLL_CTL_MOD);
    upstream_watch(gate, connection, EPOLLOUT | EPOLLIN);
}

/* Lets go of the connection to civetweb: back to the pool when it is kept and the answer ended cleanly,
 * else closed. */
static void upstream_release(struct api_gate *gate, struct gate_connection *connection, bool reusable)
{
    upstream_watch(gate, connection, 0);
    if (reusable && connection->upstream_kept && gate->pool_count < API_GATE_POOL_MAX) {
        gate->pool[gate->pool_count] = connection->upstream_fd;
        gate->pool_since_ms[gate->pool_count] = clock_monotonic_ms();
        gate->pool_count++;
    } else {
        close(connection->upstream_fd);
        if (connection->upstream_kept) gate->kept_count--;
    }
    connection->upstream_fd = -1;
    connection->upstream_kept = false;
}

/* The answer was relayed whole: back to reading the client's next request, or closed. */
static void answer_done(struct api_gate *gate, struct gate_connection *connection, bool reusable)
{
    if (connection->answer_total == 0) { /* civetweb is stopping, or failed: say so */
        connection_refuse(gate, connection, 503, METRICS_GATE_CLOSE_UPSTREAM_UNAVAILABLE);
        return;
    }
    upstream_release(gate, connection, reusable);
    connection->with_upstream = false;
    free(connection->answer);
    connection->answer = NULL;
    if (connection->close_after || connection->upstream_sent < connection->request_end) {
        connection_close(gate, connection, METRICS_GATE_CLOSE_AFTER_ANSWER);
        return;
    }
    connection_request_reset(connection);
    /* A pipelined request's bytes came meanwhile: its reading starts now. */
    connection->request_started_us = clock_monotonic_us();
    connection->deadline_ms = connection->request_started_us / 1000 +
                              (connection->in_used > 0 ? gate->limits.request_timeout_ms : API_GATE_IDLE_MS);
    gate_watch(gate, connection->client_fd, &connection->client_endpoint, EPOLLIN, EPOLL_CTL_MOD);
    request_progress(gate, connection); /* a pipelined request may be whole already */
}

/* Reads the head of an answer collected in answer_head: a 1xx is followed by another head; else the body
 * length (none for HEAD, 204, 304). Returns false when the framing cannot be read (no Content-Length, or
 * civetweb closes after it). */
static bool answer_head_read(struct gate_connection *connection)
{
    const char *head = connection->answer_head;
    size_t length = connection->answer_head_used;
    int64_t status = 0;
    if (length < 12 || memcmp(head, "HTTP/1.", 7) != 0 ||
        number_integer_parse(head + 9, 3, 100, 599, &status) != NUMBER_OK)
        return false;
    connection->answer_head_used = 0;
    if (status < 200) return true; /* 100 Continue: the answer's own head comes next */
    bool sized = false;
    int64_t content_length = 0;
    static const char length_name[] = "Content-Length:";
    static const char close_field[] = "Connection: close";
    for (size_t start = 0; start < length;) {
        size_t stop = start;
        while (stop < length && head[stop] != '\n')
            stop++;
        if (stop - start > sizeof(length_name) - 1 &&
            strncasecmp(head + start, length_name, sizeof(length_name) - 1) == 0) {
            size_t value = start + sizeof(length_name) - 1, value_end = stop;
            while (value < value_end && head[value] == ' ')
                value++;
            while (value_end > value && (head[value_end - 1] == '\r' || head[value_end - 1] == ' '))
                value_end--;
            sized = number_integer_parse(head + value, value_end - value, 0, INT64_MAX, &content_length) ==
                    NUMBER_OK;
        }
        if (stop - start >= sizeof(close_field) - 1 &&
            strncasecmp(head + start, close_field, sizeof(close_field) - 1) == 0)
            return false;
        start = stop + 1;
    }
    if (connection->head_request || status == 204 || status == 304) {
        content_length = 0;
        sized = true;
    }
    if (!sized) return false;
    connection->answer_body_left = (uint64_t)content_length;
    connection->answer_state = content_length > 0 ? ANSWER_BODY : ANSWER_END;
    return true;
}

/* Follows the framing of an answer on a kept connection over bytes just read. Returns false when it cannot
 * (the connection is then half-closed and the answer read to its end). */
static bool answer_follow(struct gate_connection *connection, const char *bytes, size_t length)
{
    for (size_t i = 0; i < length;) {
        if (connection->answer_state == ANSWER_END) return false; /* bytes after the answer: not ours */
        if (connection->answer_state == ANSWER_BODY) {
            size_t take =
                connection->answer_body_left < length - i ? (size_t)connection->answer_body_left : length - i;
            connection->answer_body_left -= take;
            i += take;
            if (connection->answer_body_left == 0) connection->answer_state = ANSWER_END;
            continue;
        }
        if (connection->answer_head_used == sizeof(connection->answer_head)) return false;
        connection->answer_head[connection->answer_head_used++] = bytes[i++];
        size_t used = connection->answer_head_used;
        if (used >= 4 && memcmp(connection->answer_head + used - 4, "\r\n\r\n", 4) == 0 &&
            !answer_head_read(connection))
            return false;
    }
    return true;
}

/* Stops following the answer's framing on a kept connection: half-closes it (civetweb then closes after
 * the answer) and reads the answer to its end; the connection is not kept. */
static void answer_follow_give_up(struct api_gate *gate, struct gate_connection *connection)
{
    if (!connection->upstream_kept) return;
    if (connection->upstream_sent == connection->request_end) shutdown(connection->upstream_fd, SHUT_WR);
    connection->upstream_kept = false;
    gate->kept_count--;
}

/* A kept connection taken from the pool that civetweb had closed (nothing answered): the request goes again
 * on a fresh connection, half-closed after it. Returns false when none can be opened (the client then got
 * 503). */
static bool upstream_retry(struct api_gate *gate, struct gate_connection *connection)
{
    upstream_watch(gate, connection, 0);
    close(connection->upstream_fd);
    gate->kept_count--;
    connection->upstream_kept = connection->upstream_reused = false;
    connection->upstream_sent = 0;
    connection->upstream_eof = false;
    connection->upstream_fd = upstream_open(gate);
    if (connection->upstream_fd < 0) {
        connection_refuse(gate, connection, 503, METRICS_GATE_CLOSE_UPSTREAM_UNAVAILABLE);
        return false;
    }
    upstream_watch(gate, connection, EPOLLOUT | EPOLLIN);
    return true;
}

/* Moves what it can: request bytes to civetweb, answer bytes from civetweb and on to the client. Returns
 * false when the connection was closed. */
static bool relay(struct api_gate *gate, struct gate_connection *connection)
{
    if (connection->upstream_sent < connection->request_end) {
        ssize_t sent = send(connection->upstream_fd, connection->in + connection->upstream_sent,
                            connection->request_end - connection->upstream_sent, MSG_NOSIGNAL);
        if (sent > 0) connection->upstream_sent += (size_t)sent;
        if (sent < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN) {
            if (connection->upstream_reused && connection->answer_total == 0)
                return upstream_retry(gate, connection); /* civetweb had closed the kept connection */
            connection->upstream_eof = true; /* civetweb closed early (it answered already, or failed) */
            connection->close_after = true;
        }
        if (connection->upstream_sent == connection->request_end && !connection->upstream_kept)
            shutdown(connection->upstream_fd, SHUT_WR);
    }
    if (!connection->upstream_eof && connection->answer_used < API_GATE_ANSWER_BYTES_MAX) {
        ssize_t got = recv(connection->upstream_fd, connection->answer + connection->answer_used,
                           API_GATE_ANSWER_BYTES_MAX - connection->answer_used, 0);
        if (got > 0) {
            if (connection->upstream_kept &&
                !answer_follow(connection, connection->answer + connection->answer_used, (size_t)got))
                answer_follow_give_up(gate, connection);
            connection->answer_used += (size_t)got;
            connection->answer_total += (size_t)got;
        }
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN)) {
            if (connection->upstream_reused && connection->answer_total == 0)
                return upstream_retry(gate, connection); /* civetweb had closed the kept connection */
            if (got < 0) connection->close_after = true;
            connection->upstream_eof = true;
        }
    }
    if (connection->answer_sent < connection->answer_used) {
        ssize_t sent = send(connection->client_fd, connection->answer + connection->answer_sent,
                            connection->answer_used - connection->answer_sent, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
            connection_close(gate, connection, METRICS_GATE_CLOSE_CLIENT_GONE);
            return false;
        }
        if (sent > 0) {
            connection->answer_sent += (size_t)sent;
            connection->deadline_ms = clock_monotonic_ms() + gate->limits.answer_timeout_ms;
        }
        if (connection->answer_sent == connection->answer_used)
            connection->answer_sent = connection->answer_used = 0;
    }
    bool answer_pending = connection->answer_sent < connection->answer_used;
    bool kept_answer_ended = connection->upstream_kept && connection->answer_state == ANSWER_END;
    if ((connection->upstream_eof || kept_answer_ended) && !answer_pending) {
        answer_done(gate, connection, kept_answer_ended && !connection->upstream_eof);
        return true;
    }
    uint32_t upstream_events =
        (connection->upstream_sent < connection->request_end ? EPOLLOUT : 0) |
        (!connection->upstream_eof && connection->answer_used < API_GATE_ANSWER_BYTES_MAX ? EPOLLIN : 0);
    upstream_watch(gate, connection, upstream_events);
    gate_watch(gate, connection->client_fd, &connection->client_endpoint, answer_pending ? EPOLLOUT : 0,
               EPOLL_CTL_MOD);
    return true;
}

/* ---- the loop ------------------------------------------------------------------------------------------ */

static void gate_accept(struct api_gate *gate)
{
    for (;;) {
        int fd = accept(gate->listen_fd, NULL, NULL);
        if (fd < 0) return; /* EAGAIN, or out of descriptors: the backlog waits */
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            close(fd);
            continue;
        }
        struct gate_connection *connection = calloc(1, sizeof(*connection));
        if (connection == NULL || gate->connection_count >= gate->connections_max) {
            metrics_gate_connection_refused(connection == NULL ? METRICS_GATE_REFUSAL_OUT_OF_MEMORY
                                                               : METRICS_GATE_REFUSAL_CONNECTIONS_MAX);
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
                "Connection: close\r\n\r\n";
            (void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            free(connection);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        connection->client_fd = fd;
        connection->upstream_fd = -1;
        connection->client_endpoint = (struct gate_endpoint){connection, false};
        connection->upstream_endpoint = (struct gate_endpoint){connection, true};
        connection->chunk = CHUNK_SIZE;
        connection->deadline_ms = clock_monotonic_ms() + API_GATE_IDLE_MS;
        connection->next = gate->connections;
        if (gate->connections != NULL) gate->connections->previous = connection;
        gate->connections = connection;
        gate->connection_count++;
        metrics_gate_connection_accepted();
        gate_watch(gate, fd, &connection->client_endpoint, EPOLLIN, EPOLL_CTL_ADD);
    }
}

/* Ends the connections whose deadline passed: 408 for a request begun and not finished, silence for an
 * idle one or an answer nobody reads. */
static void gate_sweep(struct api_gate *gate, int64_t now_ms)
{
    struct gate_connection *connection = gate->connections;
    while (connection != NULL) {
        struct gate_connection *next = connection->next;
        if (now_ms >= connection->deadline_ms) {
            if (!connection->with_upstream && connection->in_used > 0) {
                connection_refuse(gate, connection, 408, METRICS_GATE_CLOSE_REQUEST_TIMEOUT);
            } else {
                connection_close(gate, connection,
                                 connection->with_upstream ? METRICS_GATE_CLOSE_ANSWER_TIMEOUT
                                                           : METRICS_GATE_CLOSE_IDLE_TIMEOUT);
            }
        }
        connection = next;
    }
}

static bool gate_busy(const struct api_gate *gate)
{
    for (const struct gate_connection *connection = gate->connections; connection != NULL;
         connection = connection->next)
        if (connection->with_upstream) return true;
    return false;
}

static void *gate_run(void *argument)
{
    struct api_gate *gate = argument;
    thread_name_set("http-gate", NULL);
    struct epoll_event events[GATE_EVENTS_MAX];
    int64_t next_sweep_ms = clock_monotonic_ms() + GATE_SWEEP_MS;
    for (;;) {
        if (atomic_load(&gate->close_listener) && gate->listen_fd >= 0) {
            close(gate->listen_fd);
            gate->listen_fd = -1;
        }
        if (atomic_load(&gate->stopping) &&
            (clock_monotonic_ms() >= atomic_load(&gate->drain_until_ms) || !gate_busy(gate)))
            break;
        int count = epoll_wait(gate->epoll_fd, events, GATE_EVENTS_MAX, GATE_SWEEP_MS);
        for (int i = 0; i < count; i++) {
            struct gate_endpoint *endpoint = events[i].data.ptr;
            if (endpoint == &gate->listen_endpoint) {
                if (gate->listen_fd >= 0) gate_accept(gate);
                continue;
            }
            if (endpoint == &gate->wake_endpoint) {
                uint64_t value;
                (void)read(gate->wake_fd, &value, sizeof(value));
                continue;
            }
            struct gate_connection *connection = endpoint->connection;
            if (connection->closed) continue; /* closed by an earlier event of this batch */
            if (!endpoint->upstream && (events[i].events & (EPOLLERR | EPOLLHUP)) != 0) {
                connection_close(gate, connection, METRICS_GATE_CLOSE_CLIENT_GONE);
            } else if (connection->with_upstream) {
                relay(gate, connection);
            } else if (!endpoint->upstream) {
                client_read(gate, connection);
            }
        }
        int64_t now_ms = clock_monotonic_ms();
        if (now_ms >= next_sweep_ms) {
            gate_sweep(gate, now_ms);
            pool_sweep(gate, now_ms);
            next_sweep_ms = now_ms + GATE_SWEEP_MS;
        }
        gate_closed_free(gate);
    }
    while (gate->connections != NULL)
        connection_close(gate, gate->connections, METRICS_GATE_CLOSE_STOPPING);
    gate_closed_free(gate);
    assert(gate->kept_count == gate->pool_count); /* every kept connection in use was counted out */
    pool_sweep(gate, INT64_MAX);                  /* every kept connection */
    assert(gate->kept_count == 0);
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------------------- */

/* Raises the descriptor limit to its hard maximum and says how many connections fit. */
static size_t gate_connections_fit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 256;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &limit);
        (void)getrlimit(RLIMIT_NOFILE, &limit);
    }
    size_t descriptors = limit.rlim_cur == RLIM_INFINITY ? SIZE_MAX : (size_t)limit.rlim_cur;
    size_t fit =
        descriptors > 2 * GATE_DESCRIPTORS_RESERVED ? (descriptors - GATE_DESCRIPTORS_RESERVED) / 2 : 64;
    return fit < API_GATE_CONNECTIONS_MAX ? fit : API_GATE_CONNECTIONS_MAX;
}

static int gate_listen(struct api_gate *gate, const char *host, int port, char *error, size_t error_bytes)
{
    struct sockaddr_storage address;
    memset(&address, 0, sizeof(address));
    struct sockaddr_in *ipv4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *)&address;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0 || found == NULL) {
        snprintf(error, error_bytes, "http: cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    socklen_t address_bytes = found->ai_addrlen;
    memcpy(&address, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (address.ss_family == AF_INET) {
        ipv4->sin_port = htons((uint16_t)port);
    } else {
        ipv6->sin6_port = htons((uint16_t)port);
    }
    gate->listen_fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (gate->listen_fd < 0 ||
        setsockopt(gate->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(gate->listen_fd, (struct sockaddr *)&address, address_bytes) != 0 ||
        listen(gate->listen_fd, SOMAXCONN) != 0) {
        snprintf(error, error_bytes, "http: cannot listen on %s port %d: %s", host, port, strerror(errno));
        return -1;
    }
    if (getsockname(gate->listen_fd, (struct sockaddr *)&address, &address_bytes) == 0)
        gate->port = ntohs(address.ss_family == AF_INET ? ipv4->sin_port : ipv6->sin6_port);
    return 0;
}

struct api_gate *api_gate_start(const char *host, int port, int upstream_port,
                                const struct api_gate_limits *limits, char *error, size_t error_bytes)
{
    assert(host != NULL && limits != NULL && limits->request_timeout_ms > 0);
    assert(upstream_port > 0 && upstream_port < 65536);
    struct api_gate *gate = calloc(1, sizeof(*gate));
    if (gate == NULL) {
        snprintf(error, error_bytes, "http: out of memory");
        return NULL;
    }
    gate->limits = *limits;
    if (gate->limits.upstream_kept_max > API_GATE_POOL_MAX)
        gate->limits.upstream_kept_max = API_GATE_POOL_MAX;
    gate->listen_fd = gate->epoll_fd = gate->wake_fd = -1;
    gate->upstream.sin_family = AF_INET;
    gate->upstream.sin_port = htons((uint16_t)upstream_port);
    gate->upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    gate->connections_max = gate_connections_fit();
    gate->listen_endpoint = (struct gate_endpoint){NULL, false};
    gate->wake_endpoint = (struct gate_endpoint){NULL, true};
    if (gate_listen(gate, host, port, error, error_bytes) != 0) goto out_free;
    gate->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    gate->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (gate->epoll_fd < 0 || gate->wake_fd < 0) {
        snprintf(error, error_bytes, "http: epoll: %s", strerror(errno));
        goto out_free;
    }
    gate_watch(gate, gate->listen_fd, &gate->listen_endpoint, EPOLLIN, EPOLL_CTL_ADD);
    gate_watch(gate, gate->wake_fd, &gate->wake_endpoint, EPOLLIN, EPOLL_CTL_ADD);
    if (pthread_create(&gate->thread, NULL, gate_run, gate) != 0) {
        snprintf(error, error_bytes, "http: cannot start the gate thread");
        goto out_free;
    }
    log_info(COMPONENT,
             "HTTP gate on %s port %d: up to %zu connections, requests gathered whole for civetweb", host,
             gate->port, gate->connections_max);
    return gate;
out_free:
    if (gate->listen_fd >= 0) close(gate->listen_fd);
    if (gate->epoll_fd >= 0) close(gate->epoll_fd);
    if (gate->wake_fd >= 0) close(gate->wake_fd);
    free(gate);
    return NULL;
}

int api_gate_port(const struct api_gate *gate)
{
    return gate->port;
}

static void gate_wake(struct api_gate *gate)
{
    uint64_t one = 1;
    (void)write(gate->wake_fd, &one, sizeof(one));
}

void api_gate_close_listener(struct api_gate *gate)
{
    if (gate == NULL) return;
    atomic_store(&gate->close_listener, true);
    gate_wake(gate);
}

void api_gate_stop(struct api_gate *gate, int drain_ms)
{
    if (gate == NULL) return;
    atomic_store(&gate->close_listener, true);
    atomic_store(&gate->drain_until_ms, clock_monotonic_ms() + drain_ms);
    atomic_store(&gate->stopping, true);
    gate_wake(gate);
    pthread_join(gate->thread, NULL);
    if (gate->listen_fd >= 0) close(gate->listen_fd);
    close(gate->epoll_fd);
    close(gate->wake_fd);
    free(gate);
}
