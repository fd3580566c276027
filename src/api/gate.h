/* gate.h - the HTTP API's front door: reads each request whole before civetweb sees it.
 *
 * civetweb binds one worker thread to a connection from its first byte, so clients that send their headers
 * (or bodies) a byte a second hold every thread and stop everyone else. The gate takes the public address
 * instead: one thread with epoll holds thousands of connections for a few hundred bytes each, gathers each
 * request (head and body, bounded by http.request_timeout_ms and the size limits) and only then hands it to
 * civetweb over the loopback: on a kept connection (answers framed by their Content-Length), or on one of its
 * own half-closed after the request, so civetweb answers it and lets go at once. Relays the answer back;
 * keeps the client's connection for its next request. Knows HTTP/1.1 framing, nothing of routes. */
#ifndef STOCKD_API_GATE_H
#define STOCKD_API_GATE_H

#include <stddef.h>
#include <stdint.h>

/* Connections the gate holds at once (each costs two descriptors while a request is with civetweb); also
 * bounded by the descriptor limit, which api_gate_start raises to its hard maximum. More are answered 503
 * and closed. */
#define API_GATE_CONNECTIONS_MAX 16384

/* Bytes of unfinished requests the gate buffers across all connections: a request that would pass it is
 * answered 503 (the gate's memory stays bounded whatever the clients send). */
#define API_GATE_BUFFERED_BYTES_MAX (64 * 1024 * 1024)

/* An idle keep-alive connection (no request begun) is closed after this long. */
#define API_GATE_IDLE_MS 5000

/* Bytes of an answer in flight to one client: past it the gate stops reading civetweb until the client
 * reads (civetweb's socket buffer holds the rest). */
#define API_GATE_ANSWER_BYTES_MAX 65536

/* Keep-alive connections to civetweb the gate keeps for reuse at most (each holds one of civetweb's threads
 * while it idles), and how long one may idle before it is dropped (civetweb's own keep-alive timeout is
 * longer, so a kept connection is not closed under the gate's feet but by a rare race, which is retried). */
#define API_GATE_POOL_MAX     128
#define API_GATE_POOL_IDLE_MS 2000

/* An answer's status line and headers, read to find where it ends on a kept connection; a longer head
 * makes the gate half-close that connection and read the answer to its end instead. */
#define API_GATE_ANSWER_HEAD_BYTES_MAX 2048

struct api_gate_limits {
    int request_timeout_ms;   /* a request (head and body) must arrive within this, else 408 */
    size_t head_bytes_max;    /* request line and headers; longer ones go to civetweb as they are (431) */
    size_t body_bytes_max;    /* larger bodies go to civetweb unread (413) */
    int answer_timeout_ms;    /* an answer may take this long without a byte moving (Prefer: wait included) */
    size_t upstream_kept_max; /* civetweb connections kept for reuse, at most API_GATE_POOL_MAX */
};

struct api_gate;

/* Listens on host:port (an IPv4 or IPv6 address or a name, its first address; port 0 picks one) and forwards
 * requests to civetweb at 127.0.0.1:upstream_port. Returns the gate, running, or NULL with a message in
 * error. */
struct api_gate *api_gate_start(const char *host, int port, int upstream_port,
                                const struct api_gate_limits *limits, char *error, size_t error_bytes);

/* The port the gate listens on. */
int api_gate_port(const struct api_gate *gate);

/* Stops accepting new connections; requests already with civetweb still get their answers. */
void api_gate_close_listener(struct api_gate *gate);

/* Stops the gate: relays for at most drain_ms what civetweb still answers, then closes every connection
 * and frees the gate. Accepts NULL. */
void api_gate_stop(struct api_gate *gate, int drain_ms);

#endif
