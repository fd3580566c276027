/* fuzz_http.c - libFuzzer target: the HTTP API, request bytes in, answer out, inside the process.
 *
 * civetweb owns the request parsing and gives no entry point for a buffer, so the honest seam is the
 * socket: the API runs in this process (api_create/api_start, no stages: queries answer 503, commands go to
 * an in-process librdkafka mock cluster) on 127.0.0.1, and each input is written to a new loopback
 * connection to its public port, whose write side is then shut: the bytes cross the gate (gate.c: framing,
 * chunked bodies, pipelining) and then civetweb and the routes. Beyond "no crash": every input that holds a
 * whole request head gets an answer (an HTTP/1.1 status line), and the connection ends within a bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "api/internal.h"
#include "config.h"
#include "kafka/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* How long one input's connection may stay open before it counts as a hang (a finding). Generous: a
 * command waits for the mock cluster's acknowledgement, and ASan slows everything. */
#define FUZZ_CONNECTION_MS_MAX 10000
/* Bytes of the answer kept to check (the status line is at the start). */
#define FUZZ_ANSWER_BYTES_MAX 65536

static struct stockd_config fuzz_config;
static rd_kafka_t *fuzz_mock_owner;
static struct api *fuzz_api;
static int fuzz_port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char reason[512];
    /* libFuzzer's -timeout arms SIGALRM for the whole process. When the mock cluster's thread takes it, its
     * poll ends with EINTR and librdkafka 2.8.0's mock stops for good (it closes its listener: every later
     * command waits for the producer's 15 s timeout, past this target's bound). So the threads made here
     * (the mock's, the API's, civetweb's) start with every signal blocked; libFuzzer's own thread takes
     * them. Found by a 90 s run: the listener went in 2 of 5 runs, after 50-100 s. */
    sigset_t every_signal, signals_before;
    sigfillset(&every_signal);
    pthread_sigmask(SIG_BLOCK, &every_signal, &signals_before);
    stockd_config_defaults(&fuzz_config);
    snprintf(fuzz_config.topic_prefix, sizeof(fuzz_config.topic_prefix), "fuzzhttp");
    snprintf(fuzz_config.http_listen, sizeof(fuzz_config.http_listen), "127.0.0.1:0");
    fuzz_config.http_wait_ms_max = 1000; /* Prefer: wait and min_position wait this long at most */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", reason, sizeof(reason)) != RD_KAFKA_CONF_OK)
        abort();
    rd_kafka_conf_set(conf, "log_level", "0", reason, sizeof(reason));
    fuzz_mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (fuzz_mock_owner == NULL) abort();
    rd_kafka_mock_cluster_t *cluster = rd_kafka_handle_mock_cluster(fuzz_mock_owner);
    struct kafka_topics topics;
    kafka_topics_names(fuzz_config.topic_prefix, &topics);
    if (rd_kafka_mock_topic_create(cluster, topics.by_sku, fuzz_config.partitions, 1) != 0 ||
        rd_kafka_mock_topic_create(cluster, topics.commands, fuzz_config.partitions, 1) != 0)
        abort();
    snprintf(fuzz_config.kafka_bootstrap, sizeof(fuzz_config.kafka_bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(cluster));
    struct api_stages stages = {0};
    fuzz_api = api_create(&fuzz_config, &stages, reason, sizeof(reason));
    if (fuzz_api == NULL || api_start(fuzz_api, reason, sizeof(reason)) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", reason);
        abort();
    }
    fuzz_port = api_port(fuzz_api); /* the gate's (gate.c), which hands whole requests to civetweb */
    pthread_sigmask(SIG_SETMASK, &signals_before, NULL);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Whether the input holds a whole request head: a line end, then an empty line, within civetweb's limit. */
static bool head_complete(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 3 < size && i < 16384; i++) {
        if (memcmp(data + i, "\r\n\r\n", 4) == 0) return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fuzz_port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) abort();
    int64_t deadline_ms = now_ms() + FUZZ_CONNECTION_MS_MAX;
    /* The server may answer and close before it has read everything: a failed write is no finding. */
    for (size_t sent = 0; sent < size;) {
        ssize_t wrote = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (wrote <= 0) break;
        sent += (size_t)wrote;
    }
    shutdown(fd, SHUT_WR);
    static char answer[FUZZ_ANSWER_BYTES_MAX];
    size_t answer_bytes = 0;
    for (;;) {
        int64_t left_ms = deadline_ms - now_ms();
        struct pollfd wait = {.fd = fd, .events = POLLIN};
        if (left_ms <= 0 || poll(&wait, 1, (int)left_ms) == 0) {
            fprintf(stderr, "fuzz_http: the connection stayed open %d ms\n", FUZZ_CONNECTION_MS_MAX);
            abort();
        }
        char buffer[4096];
        ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break; /* end, or reset after an answer */
        size_t keep =
            (size_t)got < sizeof(answer) - answer_bytes ? (size_t)got : sizeof(answer) - answer_bytes;
        memcpy(answer + answer_bytes, buffer, keep);
        answer_bytes += keep;
    }
    close(fd);
    if (head_complete(data, size) && (answer_bytes < 9 || memcmp(answer, "HTTP/1.1 ", 9) != 0)) {
        fprintf(stderr, "fuzz_http: a whole request head got no answer\n");
        abort();
    }
    return 0;
}
