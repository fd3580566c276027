/* http_baseline.c - benchmark helper: the least a civetweb handler can do for a POST, for bench/http.sh.
 *
 * Same civetweb settings and one write per answer as stockd's API (keep-alive, threads, request timeout);
 * every request's body is read and answered 202 with a small JSON body. bench/http.sh compares stockd's
 * command intake with this rate measured in the same run. Not a test.
 *
 * Usage: bench_http_baseline PORT [THREADS]   (runs until SIGINT/SIGTERM) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static int request_begin(struct mg_connection *connection)
{
    char body[4096];
    while (mg_read(connection, body, sizeof(body)) > 0) {
    }
    static const char answer[] =
        "{\"command_id\":\"00000000-0000-4000-8000-000000000000\",\"status\":\"pending\"}";
    /* One write, as stockd answers (src/api/server.c api_respond): the same number of sends per answer. */
    char response[512];
    int length =
        snprintf(response, sizeof(response),
                 "HTTP/1.1 202 Accepted\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n\r\n%s",
                 sizeof(answer) - 1, answer);
    mg_write(connection, response, (size_t)length);
    return 202;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_http_baseline PORT [THREADS]\n");
        return 2;
    }
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%s", argv[1]);
    const char *threads = argc > 2 ? argv[2] : "16";
    const char *options[] = {"listening_ports",
                             listen,
                             "num_threads",
                             threads,
                             "request_timeout_ms",
                             "30000",
                             "enable_keep_alive",
                             "yes",
                             "tcp_nodelay",
                             "1",
                             "keep_alive_timeout_ms",
                             "5000",
                             NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.begin_request = request_begin;
    mg_init_library(0);
    struct mg_context *context = mg_start(&callbacks, NULL, options);
    if (context == NULL) {
        fprintf(stderr, "bench_http_baseline: cannot listen on %s\n", listen);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop_requested)
        pause();
    mg_stop(context);
    mg_exit_library();
    return 0;
}
