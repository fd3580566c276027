/* test_gate.c - tests of src/api/gate.c with an echoing upstream in place of civetweb.
 *
 * The upstream reads each connection to its end (the gate half-closes it after a request) and answers 200
 * with exactly the bytes it got, so each test sees what the gate handed on, request by request: pipelined
 * requests one at a time, bodies whole, doubtful framing as it came and the connection then closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/gate.h"
#include "metrics.h"

#define ANSWER_WAIT_MS 10000 /* generous: ASan and a loaded box */
#define BYTES_MAX      65536

/* How the upstream treats a connection: read it to its end and answer once (what civetweb does after the
 * gate half-closes), or answer each request as it comes and keep the connection (a kept one), or answer
 * one request and then close without saying so (a kept connection civetweb dropped). */
enum upstream_mode { UPSTREAM_TO_END, UPSTREAM_KEEP_ALIVE, UPSTREAM_ONE_THEN_CLOSE };

struct upstream {
    int listen_fd;
    int port;
    enum upstream_mode mode;
    atomic_int accepted; /* connections accepted so far */
    pthread_t thread;
};

/* The first place needle is in bytes[0 .. length), or NULL (memmem is a GNU extension). */
static char *bytes_find(char *bytes, size_t length, const char *needle)
{
    size_t needle_length = strlen(needle);
    for (size_t i = 0; i + needle_length <= length; i++)
        if (memcmp(bytes + i, needle, needle_length) == 0) return bytes + i;
    return NULL;
}

/* Answers each request (a head, and a Content-Length body) on fd with its echo, until the end. */
static void upstream_answer_each(int fd, bool once)
{
    char *got = malloc(BYTES_MAX);
    size_t used = 0;
    for (;;) {
        char *end = used >= 4 ? bytes_find(got, used, "\r\n\r\n") : NULL;
        if (end != NULL) {
            size_t head = (size_t)(end - got) + 4;
            size_t body = 0;
            char *length = bytes_find(got, head, "Content-Length: ");
            if (length != NULL) body = (size_t)atoi(length + 16);
            if (used >= head + body) {
                char answer[128];
                int answer_length = snprintf(answer, sizeof(answer),
                                             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", head + body);
                (void)send(fd, answer, (size_t)answer_length, MSG_NOSIGNAL);
                (void)send(fd, got, head + body, MSG_NOSIGNAL);
                memmove(got, got + head + body, used - head - body);
                used -= head + body;
                if (once) break;
                continue;
            }
        }
        ssize_t n = recv(fd, got + used, BYTES_MAX - used, 0);
        if (n <= 0) break;
        used += (size_t)n;
    }
    free(got);
}

static void *upstream_run(void *argument)
{
    struct upstream *upstream = argument;
    for (;;) {
        int fd = accept(upstream->listen_fd, NULL, NULL);
        if (fd < 0) return NULL;
        atomic_fetch_add(&upstream->accepted, 1);
        if (upstream->mode != UPSTREAM_TO_END) {
            upstream_answer_each(fd, upstream->mode == UPSTREAM_ONE_THEN_CLOSE);
            close(fd);
            continue;
        }
        char *got = malloc(BYTES_MAX);
        size_t used = 0;
        ssize_t n;
        while (used < BYTES_MAX && (n = recv(fd, got + used, BYTES_MAX - used, 0)) > 0)
            used += (size_t)n;
        char head[64];
        int head_length =
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", used);
        (void)send(fd, head, (size_t)head_length, MSG_NOSIGNAL);
        (void)send(fd, got, used, MSG_NOSIGNAL);
        free(got);
        close(fd);
    }
}

struct fixture {
    struct upstream upstream;
    struct api_gate *gate;
};

static int fixture_setup(void **state, int request_timeout_ms, enum upstream_mode mode)
{
    metrics_reset(); /* before the gate runs: each test sees only its own connections */
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->upstream.mode = mode;
    f->upstream.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    assert_int_equal(bind(f->upstream.listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(f->upstream.listen_fd, 64), 0);
    assert_int_equal(getsockname(f->upstream.listen_fd, (struct sockaddr *)&address, &length), 0);
    f->upstream.port = ntohs(address.sin_port);
    assert_int_equal(pthread_create(&f->upstream.thread, NULL, upstream_run, &f->upstream), 0);
    const struct api_gate_limits limits = {.request_timeout_ms = request_timeout_ms,
                                           .head_bytes_max = 16384,
                                           .body_bytes_max = 1024,
                                           .answer_timeout_ms = 30000,
                                           .upstream_kept_max = mode == UPSTREAM_TO_END ? 0 : 4};
    char error[256];
    f->gate = api_gate_start("127.0.0.1", 0, f->upstream.port, &limits, error, sizeof(error));
    if (f->gate == NULL) fail_msg("%s", error);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return fixture_setup(state, 30000, UPSTREAM_TO_END);
}

static int setup_short_timeout(void **state)
{
    return fixture_setup(state, 1000, UPSTREAM_TO_END);
}

static int setup_keep_alive(void **state)
{
    return fixture_setup(state, 30000, UPSTREAM_KEEP_ALIVE);
}

static int setup_one_then_close(void **state)
{
    return fixture_setup(state, 30000, UPSTREAM_ONE_THEN_CLOSE);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    api_gate_stop(f->gate, 1000);
    shutdown(f->upstream.listen_fd, SHUT_RDWR);
    close(f->upstream.listen_fd);
    pthread_join(f->upstream.thread, NULL);
    free(f);
    return 0;
}

static int client_connect(const struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)api_gate_port(f->gate))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

static void client_send(int fd, const char *text)
{
    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* Reads until want bytes came, the peer closed, or ANSWER_WAIT_MS passed. Returns the count; *closed says
 * whether the peer closed. */
static size_t client_read(int fd, char *out, size_t want, bool *closed)
{
    size_t used = 0;
    *closed = false;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (used < want) {
        struct pollfd wait = {.fd = fd, .events = POLLIN};
        if (poll(&wait, 1, 100) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ANSWER_WAIT_MS)
                break;
            continue;
        }
        ssize_t n = recv(fd, out + used, want - used, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        used += (size_t)n;
    }
    out[used] = '\0';
    return used;
}

/* The echo answer of a request: what the upstream got. */
static char *echo_of(const char *request)
{
    static char answer[BYTES_MAX];
    snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(request),
             request);
    return answer;
}

static void answer_expect(int fd, const char *request)
{
    char expected[BYTES_MAX];
    snprintf(expected, sizeof(expected), "%s", echo_of(request));
    char got[BYTES_MAX + 1];
    bool closed;
    size_t length = client_read(fd, got, strlen(expected), &closed);
    assert_int_equal(length, strlen(expected));
    assert_string_equal(got, expected);
}

static void closed_expect(int fd)
{
    char got[16];
    bool closed;
    assert_int_equal(client_read(fd, got, 1, &closed), 0);
    assert_true(closed);
}

/* Waits (up to ANSWER_WAIT_MS) for the sample `name{labels}` of the registry to read expected: the gate's
 * thread records a close just before it closes, and a client may see the answer first. */
static void metric_expect(const char *sample, double expected)
{
    double value = -1;
    for (int waited_ms = 0; waited_ms <= ANSWER_WAIT_MS; waited_ms += 10) {
        struct metrics_text text;
        metrics_text_init(&text);
        assert_int_equal(metrics_write_all(&text), 0);
        size_t sample_bytes = strlen(sample);
        value = -1;
        for (const char *line = text.data; line != NULL && *line != '\0';) {
            if (strncmp(line, sample, sample_bytes) == 0 && line[sample_bytes] == ' ')
                value = strtod(line + sample_bytes + 1, NULL);
            line = strchr(line, '\n');
            if (line != NULL) line++;
        }
        metrics_text_free(&text);
        if (value == expected) return;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fail_msg("%s is %g, expected %g", sample, value, expected);
}

static void test_pipelined_requests_handed_on_one_at_a_time(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char first[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char second[] = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    char both[256];
    snprintf(both, sizeof(both), "%s%s", first, second);
    client_send(fd, both);
    answer_expect(fd, first);
    answer_expect(fd, second);
    static const char third[] = "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n"; /* keep-alive, then close */
    client_send(fd, third);
    answer_expect(fd, third);
    closed_expect(fd);
    close(fd);
    metric_expect("stockd_http_gate_connections_accepted_total", 1);
    metric_expect("stockd_http_gate_requests_relayed_total", 3);
    metric_expect("stockd_http_gate_request_read_seconds_count", 3);
    metric_expect("stockd_http_gate_connections_closed_total{reason=\"after_answer\"}", 1);
    metric_expect("stockd_http_gate_connections_open", 0);
}

static void test_body_in_pieces_handed_on_whole(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char head[] = "POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n";
    client_send(fd, head);
    client_send(fd, "0123");
    usleep(50000);
    client_send(fd, "4567");
    usleep(50000);
    client_send(fd, "89ab");
    answer_expect(fd, "POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n0123456789ab");
    close(fd);
}

static void test_chunked_body_with_extension_and_trailer_handed_on_whole(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char request[] = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "4;name=value\r\nWiki\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (size_t i = 0; i < sizeof(request) - 1; i++) { /* a byte at a time: every state split */
        assert_int_equal(send(fd, request + i, 1, MSG_NOSIGNAL), 1);
        if (i % 16 == 0) usleep(2000);
    }
    client_send(fd, "GET /next HTTP/1.1\r\n\r\n");
    answer_expect(fd, request);
    answer_expect(fd, "GET /next HTTP/1.1\r\n\r\n");
    close(fd);
}

/* A read that ends right after the last chunk's size "0" once made the next read take the line end for a
 * size line without a digit (malformed: the request went on cut and the connection closed). */
static void test_chunked_last_chunk_split_after_its_size(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    client_send(fd, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0");
    usleep(100000);
    client_send(fd, "\r\n\r\n");
    answer_expect(fd, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    static const char next[] = "GET /next HTTP/1.1\r\n\r\n"; /* and the connection goes on */
    client_send(fd, next);
    answer_expect(fd, next);
    close(fd);
}

static void test_doubtful_framing_handed_on_as_it_came_then_closed(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char request[] = "POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n"
                                  "{}GET /smuggled HTTP/1.1\r\n\r\n";
    client_send(fd, request);
    answer_expect(fd, request); /* one answer, for all of it: civetweb refuses it (server.c) */
    closed_expect(fd);
    close(fd);
    metric_expect("stockd_http_gate_requests_refused_total{reason=\"ambiguous_framing\"}", 1);
    metric_expect("stockd_http_gate_requests_relayed_total", 1);
    metric_expect("stockd_http_gate_connections_closed_total{reason=\"after_answer\"}", 1);
}

static void test_body_over_limit_handed_on_unread_then_closed(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char head[] = "POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    client_send(fd, head);
    answer_expect(fd, head); /* civetweb answers 413 without reading the body */
    closed_expect(fd);
    close(fd);
    metric_expect("stockd_http_gate_requests_refused_total{reason=\"body_too_large\"}", 1);
}

static void test_expect_continue_answered_before_the_body(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char head[] = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    client_send(fd, head);
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char got[64];
    bool closed;
    assert_int_equal(client_read(fd, got, sizeof(go_on) - 1, &closed), sizeof(go_on) - 1);
    assert_string_equal(got, go_on);
    client_send(fd, "{}");
    answer_expect(fd, "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
    close(fd);
}

static void test_client_ending_mid_request_gets_what_came_handed_on(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char partial[] = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n01";
    client_send(fd, partial);
    shutdown(fd, SHUT_WR);
    answer_expect(fd, partial); /* civetweb answers 400 for a body cut short */
    closed_expect(fd);
    close(fd);
    metric_expect("stockd_http_gate_requests_refused_total{reason=\"truncated\"}", 1);
}

static void test_slow_head_gets_408_after_request_timeout(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    client_send(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n");
    char got[1024];
    bool closed;
    size_t length = client_read(fd, got, sizeof(got) - 1, &closed);
    assert_true(length > 12);
    assert_memory_equal(got, "HTTP/1.1 408", 12);
    assert_non_null(strstr(got, "application/problem+json"));
    assert_true(closed);
    close(fd);
    metric_expect("stockd_http_gate_connections_closed_total{reason=\"request_timeout\"}", 1);
    metric_expect("stockd_http_gate_requests_relayed_total", 0); /* never whole: not relayed */
    metric_expect("stockd_http_gate_connections_open", 0);
}

static void test_slow_clients_leave_others_answered(void **state)
{
    struct fixture *f = *state;
    enum { SLOW = 200 };
    int slow[SLOW];
    for (int i = 0; i < SLOW; i++) {
        slow[i] = client_connect(f);
        client_send(slow[i], "GET /slow HTTP/1.1\r\nX-Dribble: ");
    }
    int fd = client_connect(f);
    static const char request[] = "GET /fast HTTP/1.1\r\n\r\n";
    client_send(fd, request);
    answer_expect(fd, request);
    close(fd);
    for (int i = 0; i < SLOW; i++)
        close(slow[i]);
}

/* Kept connections: three requests one after another (and a HEAD, whose answer has no body) cross one
 * connection to the upstream, not four. */
static void test_kept_connection_carries_request_after_request(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char first[] = "GET /a HTTP/1.1\r\n\r\n";
    static const char second[] = "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    client_send(fd, first);
    answer_expect(fd, first);
    client_send(fd, second);
    answer_expect(fd, second);
    client_send(fd, first);
    answer_expect(fd, first);
    close(fd);
    assert_int_equal(atomic_load(&f->upstream.accepted), 1);
}

/* The fuzzer's find (fuzz_http): a head ending LF CR LF is no head end for civetweb (CR LF CR LF or LF LF);
 * the gate took it for one, and on a kept connection civetweb then waited for the rest of a head that the
 * gate held back as the start of the next request. */
static void test_head_ends_where_civetweb_ends_it(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    client_send(fd, "GET /a HTTP/1.1\r\nX: y\n\r\n");
    usleep(100000);
    client_send(fd, "\r\n");
    answer_expect(fd, "GET /a HTTP/1.1\r\nX: y\n\r\n\r\n");
    close(fd);
}

/* A kept connection the upstream closed while it idled in the pool: the request goes again on a fresh one
 * and is answered once. */
static void test_kept_connection_closed_while_idle_is_retried(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char request[] = "GET /a HTTP/1.1\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        client_send(fd, request);
        answer_expect(fd, request);
        usleep(20000); /* the upstream's close reaches the pooled connection */
    }
    char extra[16];
    bool closed;
    assert_int_equal(client_read(fd, extra, 1, &closed), 0); /* nothing more: no answer came twice */
    close(fd);
    assert_true(atomic_load(&f->upstream.accepted) >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_requests_handed_on_one_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_in_pieces_handed_on_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_body_with_extension_and_trailer_handed_on_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chunked_last_chunk_split_after_its_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doubtful_framing_handed_on_as_it_came_then_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_body_over_limit_handed_on_unread_then_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue_answered_before_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ending_mid_request_gets_what_came_handed_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_head_gets_408_after_request_timeout, setup_short_timeout,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients_leave_others_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_connection_carries_request_after_request, setup_keep_alive,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_ends_where_civetweb_ends_it, setup_keep_alive, teardown),
        cmocka_unit_test_setup_teardown(test_kept_connection_closed_while_idle_is_retried,
                                        setup_one_then_close, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
