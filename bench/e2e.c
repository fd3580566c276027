/* e2e.c - benchmark: commands from <prefix>.commands through a real stockd process until every view has them.
 *
 * Pre-loads N commands (bench/workload.h: CreateSku for every SKU, then receipts, reservations, releases,
 * fulfilments, adjustments and transfers with ~10% rejections) into <prefix>.commands of a real broker, as
 * another team's service would write them: a plain idempotent producer, keyed by SKU, librdkafka's default
 * partitioner, in a child process that has exited before stockd starts (its CPU is not in the figures).
 * Then runs the stockd binary with every role on that fresh topic prefix and data directory, polls its
 * /metrics until the router and the handler have settled all N commands and every view's position has
 * reached the end of every events partition, and prints commands/s, the p50/p99 age of an event when its
 * view commits it (stockd_view_commit_age_seconds), stockd's peak RSS and CPU. Deletes its topics. Not a
 * test: it asserts nothing about speed. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "domain/codec.h"
#include "kafka/client.h"
#include "kafka/topics.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "workload.h"

#define E2E_PATH_BYTES_MAX       4096  /* the stockd binary's path */
#define E2E_VIEWS_MAX            8     /* views an instance runs (6 today) */
#define E2E_POLL_MS              20    /* /metrics polls: the resolution of the times printed */
#define E2E_START_TIMEOUT_S      60    /* until stockd answers /metrics */
#define E2E_STOP_TIMEOUT_S       30    /* SIGTERM, then SIGKILL */
#define E2E_WATERMARK_TIMEOUT_MS 10000 /* ms, one ListOffsets per partition */

static const char usage_text[] =
    "usage: bench_e2e [--bootstrap H:P] [--commands N] [--skus N] [--partitions P] [--stockd PATH]\n"
    "                 [--timeout-s S] [--help]\n"
    "\n"
    "Pre-loads N commands (default 500000; CreateSku for each of --skus SKUs first, default 100000, at\n"
    "most N/4) into <prefix>.commands of the broker at --bootstrap (default 127.0.0.1:19092) with an\n"
    "idempotent producer keyed by SKU, then starts the stockd binary (--stockd, default: stockd beside\n"
    "this program) with every role, --kafka.partitions P (default 6), a fresh topic prefix and data\n"
    "directory, and waits (at most --timeout-s, default 900) until every view has folded every event\n"
    "the commands produced. Prints commands/s from stockd's start and from its first decided\n"
    "command, the p50/p99 age of an event when its view commits it, stockd's peak RSS and CPU, then a\n"
    "line 'e2e result: key=value ...'. Deletes the topics it created. Exit 0, 1 on failure, 2 on a\n"
    "usage error.\n";

struct options {
    const char *bootstrap;
    long commands;
    long skus;
    long partitions;
    char stockd[E2E_PATH_BYTES_MAX];
    long timeout_s;
};

/* What one /metrics scrape says. */
struct scrape {
    long long settled;  /* stockd_commands_total of client commands (every outcome) + router dead letters */
    long long rejected; /* ... of those, refused (a reason code) */
    long long routed;   /* stockd_router_commands_total, both results */
    int view_count;
    char views[E2E_VIEWS_MAX][32];
    int64_t positions[E2E_VIEWS_MAX][STOCKD_PARTITIONS_MAX]; /* -1: not seen */
    /* stockd_view_commit_age_seconds per view: cumulative bucket counts (the last is +Inf) */
    double ages[E2E_VIEWS_MAX][METRICS_LATENCY_BUCKETS + 1];
};

/* The bounds of metrics.c's latency buckets (metrics.h), in seconds. */
static const double age_bounds_s[METRICS_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* SIGINT or SIGTERM (bench/run's timeout): stop watching, stop stockd, delete the topics. */
static volatile sig_atomic_t interrupted;

static void interrupt_note(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void sleep_ms(int milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* ---- options --------------------------------------------------------------------------------------- */

static void options_parse(int argc, char **argv, struct options *options)
{
    *options = (struct options){.bootstrap = "127.0.0.1:19092",
                                .commands = 500000,
                                .skus = 100000,
                                .partitions = 6,
                                .timeout_s = 900};
    char self[E2E_PATH_BYTES_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[length > 0 ? length : 0] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(options->stockd, sizeof(options->stockd), "%.*s/stockd", slash ? (int)(slash - self) : 1,
             slash ? self : ".");
    const char *stockd = NULL;
    const struct bench_option table[] = {
        {"--bootstrap", &options->bootstrap, NULL, 0, 0},
        {"--commands", NULL, &options->commands, 4, 100000000},
        {"--skus", NULL, &options->skus, 1, 10000000},
        {"--partitions", NULL, &options->partitions, 1, STOCKD_PARTITIONS_MAX},
        {"--stockd", &stockd, NULL, 0, 0},
        {"--timeout-s", NULL, &options->timeout_s, 1, 86400},
    };
    bench_options_parse("bench_e2e", usage_text, argc, argv, table, sizeof(table) / sizeof(table[0]));
    if (stockd != NULL) snprintf(options->stockd, sizeof(options->stockd), "%s", stockd);
    if (options->skus > options->commands / 4) options->skus = options->commands / 4;
}

/* ---- the producer of another team ------------------------------------------------------------------ */

/* Child process: produces the workload to <prefix>.commands, keyed by SKU, then exits. */
static int preload(const struct options *options, const char *topic)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", options->bootstrap, error, sizeof(error)) != 0 ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_e2e: producer: %s\n", error);
        return 1;
    }
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer == NULL) {
        fprintf(stderr, "bench_e2e: producer: %s\n", error);
        return 1;
    }
    conf = NULL; /* rd_kafka_new took it */
    static struct command command;
    for (long i = 0; i < options->commands; i++) {
        workload_command_make(options->skus, i, &command);
        char *value = codec_command_encode(&command);
        if (value == NULL) return 1;
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(command.sku, strlen(command.sku)),
                    RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 10);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "bench_e2e: produce: %s\n", rd_kafka_err2str(err));
            return 1;
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 300000);
    int left = rd_kafka_outq_len(producer);
    rd_kafka_destroy(producer);
    return left == 0 ? 0 : 1;
}

/* ---- stockd, the process ------------------------------------------------------------------------------ */

static int port_free(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Starts stockd with every role; its stderr goes to log_path. Returns its pid, or -1. */
static pid_t stockd_start(const struct options *options, const struct stockd_config *config, int port,
                          const char *log_path)
{
    char arguments[8][1200];
    snprintf(arguments[0], sizeof(arguments[0]), "--data_dir=%s", config->data_dir);
    snprintf(arguments[1], sizeof(arguments[1]), "--kafka.bootstrap=%s", options->bootstrap);
    snprintf(arguments[2], sizeof(arguments[2]), "--kafka.topic_prefix=%s", config->topic_prefix);
    snprintf(arguments[3], sizeof(arguments[3]), "--kafka.partitions=%ld", options->partitions);
    snprintf(arguments[4], sizeof(arguments[4]), "--http.listen=127.0.0.1:%d", port);
    snprintf(arguments[5], sizeof(arguments[5]), "--instance.id=%s", config->topic_prefix);
    snprintf(arguments[6], sizeof(arguments[6]), "--log.level=warn");
    snprintf(arguments[7], sizeof(arguments[7]), "--roles=api,router,handler,projector");
    pid_t child = fork();
    if (child != 0) return child;
    if (freopen(log_path, "w", stderr) == NULL) _exit(127);
    execl(options->stockd, options->stockd, arguments[0], arguments[1], arguments[2], arguments[3],
          arguments[4], arguments[5], arguments[6], arguments[7], (char *)NULL);
    fprintf(stderr, "bench_e2e: exec %s: %s\n", options->stockd, strerror(errno));
    _exit(127);
}

/* Stops stockd: SIGTERM, then SIGKILL after E2E_STOP_TIMEOUT_S. Returns its exit status, or -1. */
static int stockd_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    for (int waited_ms = 0; waited_ms < E2E_STOP_TIMEOUT_S * 1000; waited_ms += 50) {
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        sleep_ms(50);
    }
    fprintf(stderr, "bench_e2e: stockd did not stop in %d s: SIGKILL\n", E2E_STOP_TIMEOUT_S);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* A field of /proc/<pid>/status, in KiB; -1 when unreadable. */
static long proc_status_kib(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *status = fopen(path, "r");
    char line[256];
    long value = -1;
    while (status != NULL && fgets(line, sizeof(line), status) != NULL) {
        if (strncmp(line, field, strlen(field)) == 0) value = strtol(line + strlen(field), NULL, 10);
    }
    if (status != NULL) fclose(status);
    return value;
}

/* CPU seconds (user + system) of a process so far; -1 when unreadable. */
static double proc_cpu_s(pid_t pid)
{
    char path[64];
    char text[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) return -1;
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    const char *after_name = strrchr(text, ')'); /* the command name may hold spaces */
    unsigned long user = 0;
    unsigned long system = 0;
    if (after_name == NULL ||
        sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system) != 2)
        return -1;
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- /metrics ------------------------------------------------------------------------------------------ */

/* GET /metrics over HTTP/1.0 (the server closes): the body in a malloc'd string, or NULL. */
static char *metrics_get(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) return NULL;
    struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    static const char request[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    size_t capacity = 1 << 16;
    size_t length = 0;
    char *text = malloc(capacity);
    if (text == NULL || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(request) - 1))
        goto out_fail;
    for (;;) {
        if (capacity - length < 4096) {
            if (capacity >= METRICS_TEXT_BYTES_MAX) goto out_fail;
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL) goto out_fail;
            text = grown;
            capacity *= 2;
        }
        ssize_t got = recv(fd, text + length, capacity - length - 1, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) goto out_fail;
        if (got == 0) break;
        length += (size_t)got;
    }
    close(fd);
    text[length] = '\0';
    char *body = strstr(text, "\r\n\r\n");
    if (strncmp(text, "HTTP/1.", 7) != 0 || strncmp(text + 8, " 200", 4) != 0 || body == NULL) {
        free(text);
        return NULL;
    }
    memmove(text, body + 4, strlen(body + 4) + 1);
    return text;
out_fail:
    close(fd);
    free(text);
    return NULL;
}

/* The value of label name in labels (`a="x",b="y"`, no escapes in ours), copied to out; false if absent. */
static bool label_get(const char *labels, const char *name, char *out, size_t out_bytes)
{
    char key[64];
    snprintf(key, sizeof(key), "%s=\"", name);
    const char *at = strstr(labels, key);
    if (at == NULL || (at != labels && at[-1] != ',' && at[-1] != '{')) return false;
    at += strlen(key);
    const char *end = strchr(at, '"');
    if (end == NULL) return false;
    snprintf(out, out_bytes, "%.*s", (int)(end - at), at);
    return true;
}

static int scrape_view(struct scrape *scrape, const char *name)
{
    for (int v = 0; v < scrape->view_count; v++) {
        if (strcmp(scrape->views[v], name) == 0) return v;
    }
    if (scrape->view_count == E2E_VIEWS_MAX) return -1;
    int v = scrape->view_count++;
    snprintf(scrape->views[v], sizeof(scrape->views[v]), "%s", name);
    for (int p = 0; p < STOCKD_PARTITIONS_MAX; p++)
        scrape->positions[v][p] = -1;
    return v;
}

/* Reads one sample line into scrape. */
static void scrape_line(struct scrape *scrape, const char *line)
{
    char name[128];
    char labels[512] = "";
    const char *brace = strchr(line, '{');
    const char *space = strchr(line, ' ');
    if (space == NULL || line[0] == '#') return;
    if (brace != NULL && brace < space) {
        const char *close = strchr(brace, '}');
        if (close == NULL) return;
        snprintf(name, sizeof(name), "%.*s", (int)(brace - line), line);
        snprintf(labels, sizeof(labels), "%.*s", (int)(close - brace + 1), brace);
        space = strchr(close, ' ');
        if (space == NULL) return;
    } else {
        snprintf(name, sizeof(name), "%.*s", (int)(space - line), line);
    }
    double value = strtod(space + 1, NULL);
    char type[64];
    char outcome[64];
    char view[32];
    char text[32];
    if (strcmp(name, "stockd_commands_total") == 0 && label_get(labels, "type", type, sizeof(type)) &&
        label_get(labels, "outcome", outcome, sizeof(outcome)) && strcmp(type, "ExpireReservations") != 0) {
        scrape->settled += (long long)value;
        if (strcmp(outcome, "accepted") != 0 && strcmp(outcome, "duplicate") != 0 &&
            strcmp(outcome, "dead_lettered") != 0)
            scrape->rejected += (long long)value;
    } else if (strcmp(name, "stockd_router_commands_total") == 0) {
        scrape->routed += (long long)value;
        /* unparseable on <prefix>.commands: settled by the router, never seen by the handler */
        if (label_get(labels, "result", outcome, sizeof(outcome)) && strcmp(outcome, "dead_lettered") == 0)
            scrape->settled += (long long)value;
    } else if (strcmp(name, "stockd_view_position") == 0 && label_get(labels, "view", view, sizeof(view)) &&
               label_get(labels, "partition", text, sizeof(text))) {
        int v = scrape_view(scrape, view);
        long partition = strtol(text, NULL, 10);
        if (v >= 0 && partition >= 0 && partition < STOCKD_PARTITIONS_MAX)
            scrape->positions[v][partition] = (int64_t)value;
    } else if (strcmp(name, "stockd_view_commit_age_seconds_bucket") == 0 &&
               label_get(labels, "view", view, sizeof(view)) && label_get(labels, "le", text, sizeof(text))) {
        int v = scrape_view(scrape, view);
        int bucket = METRICS_LATENCY_BUCKETS; /* +Inf */
        for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
            if (fabs(strtod(text, NULL) - age_bounds_s[i]) < 1e-9) bucket = i;
        }
        if (v >= 0) scrape->ages[v][bucket] = value;
    }
}

/* Scrapes /metrics into scrape. Returns 0, or -1 when stockd did not answer 200. */
static int scrape_take(int port, struct scrape *scrape)
{
    memset(scrape, 0, sizeof(*scrape));
    char *text = metrics_get(port);
    if (text == NULL) return -1;
    for (char *line = text; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) *end = '\0';
        scrape_line(scrape, line);
        line = end != NULL ? end + 1 : NULL;
    }
    free(text);
    return 0;
}

/* The q-quantile (0..1) of cumulative latency buckets, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; INFINITY when it lies past the last bound, NAN when empty. */
static double quantile_s(const double *cumulative, double q)
{
    double count = cumulative[METRICS_LATENCY_BUCKETS];
    if (count <= 0) return NAN;
    double rank = q * count;
    for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
        if (cumulative[i] >= rank) {
            double below = i == 0 ? 0 : cumulative[i - 1];
            double lower_s = i == 0 ? 0 : age_bounds_s[i - 1];
            double inside = cumulative[i] - below;
            return lower_s + (age_bounds_s[i] - lower_s) * (inside > 0 ? (rank - below) / inside : 1);
        }
    }
    return INFINITY;
}

/* ---- the run ---------------------------------------------------------------------------------------- */

/* High watermarks of every events partition, into ends. Returns 0 or -1. */
static int events_ends(rd_kafka_t *client, const char *topic, int partitions, int64_t *ends)
{
    for (int p = 0; p < partitions; p++) {
        int64_t low = 0;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(client, topic, p, &low, &ends[p], E2E_WATERMARK_TIMEOUT_MS);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "bench_e2e: watermarks of %s [%d]: %s\n", topic, p, rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

/* True when every view (at least 4) has passed ends on every partition. */
static bool views_caught_up(const struct scrape *scrape, int partitions, const int64_t *ends)
{
    if (scrape->view_count < 4) return false;
    for (int v = 0; v < scrape->view_count; v++) {
        for (int p = 0; p < partitions; p++) {
            if (scrape->positions[v][p] < ends[p]) return false;
        }
    }
    return true;
}

struct timeline {
    double start_s;         /* stockd forked */
    double answered_s;      /* first 200 from /metrics */
    double first_decided_s; /* first scrape that saw a settled command */
    double decided_s;       /* first scrape that saw all N settled */
    double done_s;          /* first scrape that saw every view at the end */
    double cpu_start_s;
    double cpu_done_s;
    long rss_peak_kib;
};

/* Polls stockd until every view has every event, the process died or timeout. Returns 0 or -1. */
static int run_watch(const struct options *options, pid_t pid, int port, rd_kafka_t *client,
                     const char *events_topic, struct timeline *timeline, struct scrape *scrape)
{
    int64_t ends[STOCKD_PARTITIONS_MAX];
    bool ends_known = false;
    for (;;) {
        sleep_ms(E2E_POLL_MS);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_e2e: stockd exited (status %d) before the views caught up\n", status);
            return -1;
        }
        double now = now_s();
        if (interrupted) {
            fprintf(stderr, "bench_e2e: interrupted: %lld of %ld commands settled\n", scrape->settled,
                    options->commands);
            return -1;
        }
        if (now - timeline->start_s > options->timeout_s) {
            fprintf(stderr, "bench_e2e: gave up after %ld s: %lld of %ld commands settled, %lld routed\n",
                    options->timeout_s, scrape->settled, options->commands, scrape->routed);
            return -1;
        }
        if (scrape_take(port, scrape) != 0) {
            if (timeline->answered_s == 0 && now - timeline->start_s < E2E_START_TIMEOUT_S) continue;
            fprintf(stderr, "bench_e2e: GET /metrics failed\n");
            return -1;
        }
        if (timeline->answered_s == 0) timeline->answered_s = now;
        if (timeline->first_decided_s == 0 && scrape->settled > 0) timeline->first_decided_s = now;
        if (scrape->settled < options->commands) continue;
        if (!ends_known) {
            /* Every command is settled, so every event is written (the handler counts at its commit). */
            timeline->decided_s = now;
            if (events_ends(client, events_topic, (int)options->partitions, ends) != 0) return -1;
            ends_known = true;
        }
        if (views_caught_up(scrape, (int)options->partitions, ends)) {
            timeline->done_s = now;
            timeline->cpu_done_s = proc_cpu_s(pid);
            timeline->rss_peak_kib = proc_status_kib(pid, "VmHWM:");
            return 0;
        }
    }
}

static void report(const struct options *options, const struct timeline *timeline,
                   const struct scrape *scrape)
{
    double from_start_s = timeline->done_s - timeline->start_s;
    double from_first_s = timeline->done_s - timeline->first_decided_s;
    double rate_start = (double)options->commands / from_start_s;
    double rate_first = (double)options->commands / from_first_s;
    printf("e2e: %ld commands through stockd (all roles), every view caught up %.2f s after stockd started, "
           "%.2f s after its first decided command (first decision %.2f s after start; handler done at "
           "%.2f s; /metrics polled every %d ms)\n",
           options->commands, from_start_s, from_first_s, timeline->first_decided_s - timeline->start_s,
           timeline->decided_s - timeline->start_s, E2E_POLL_MS);
    printf("e2e: %.0f commands/s from the first decided command; %.0f commands/s from stockd's start\n",
           rate_first, rate_start);
    double all[METRICS_LATENCY_BUCKETS + 1] = {0};
    for (int v = 0; v < scrape->view_count; v++) {
        for (int i = 0; i <= METRICS_LATENCY_BUCKETS; i++)
            all[i] += scrape->ages[v][i];
        printf("e2e: view %-12s event age at commit p50 %.1f ms, p99 %.1f ms (%.0f events)\n",
               scrape->views[v], 1000 * quantile_s(scrape->ages[v], 0.50),
               1000 * quantile_s(scrape->ages[v], 0.99), scrape->ages[v][METRICS_LATENCY_BUCKETS]);
    }
    double p50_ms = 1000 * quantile_s(all, 0.50);
    double p99_ms = 1000 * quantile_s(all, 0.99);
    printf("e2e: every view: event age at commit p50 %.1f ms, p99 %.1f ms (stockd_view_commit_age_seconds, "
           "interpolated inside its buckets)\n",
           p50_ms, p99_ms);
    double cpu_s = timeline->cpu_done_s - timeline->cpu_start_s;
    printf("e2e: rejected %lld (%.1f%%); stockd peak RSS %ld KiB (VmHWM), CPU %.1f s (%.0f%% of the %.1f s "
           "from start)\n",
           scrape->rejected, 100.0 * (double)scrape->rejected / (double)options->commands,
           timeline->rss_peak_kib, cpu_s, 100 * cpu_s / from_start_s, from_start_s);
    printf("e2e result: commands=%ld commands_per_s_from_first=%.0f commands_per_s_from_start=%.0f "
           "age_p50_ms=%.1f age_p99_ms=%.1f rss_peak_kib=%ld cpu_percent=%.0f\n",
           options->commands, rate_first, rate_start, p50_ms, p99_ms, timeline->rss_peak_kib,
           100 * cpu_s / from_start_s);
}

/* Deletes the topics and the data directory; returns 0 or -1. */
static int cleanup(const struct stockd_config *config)
{
    char error[1024];
    int result = 0;
    if (topics_delete(config->kafka_bootstrap, config->topic_prefix, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_e2e: deleting the topics of %s: %s\n", config->topic_prefix, error);
        result = -1;
    }
    char command[sizeof(config->data_dir) + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", config->data_dir);
    return system(command) == 0 ? result : -1;
}

int main(int argc, char **argv)
{
    static struct options options;
    options_parse(argc, argv, &options);
    log_init(getenv("BENCH_LOG") ? getenv("BENCH_LOG") : "warn");
    struct sigaction action = {.sa_handler = interrupt_note};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    if (access(options.stockd, X_OK) != 0) {
        fprintf(stderr, "bench_e2e: %s is not an executable (--stockd PATH)\n", options.stockd);
        return 2;
    }
    static struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", options.bootstrap);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "e2e-%d-%ld", (int)getpid(), (long)time(NULL));
    snprintf(config.data_dir, sizeof(config.data_dir), "/tmp/stockd-e2e-%d", (int)getpid());
    config.partitions = (int)options.partitions;
    char error[1024];
    if (topics_ensure(&config, 1, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", error);
        return 1;
    }
    struct kafka_topics topics;
    kafka_topics_names(config.topic_prefix, &topics);
    int result = 1;
    double preload_start = now_s();
    pid_t child = fork();
    if (child == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        _exit(preload(&options, topics.commands));
    }
    int child_status = 0;
    while (waitpid(child, &child_status, 0) < 0 && errno == EINTR)
        if (interrupted) kill(child, SIGTERM);
    if (interrupted || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "bench_e2e: preload failed\n");
        goto out_cleanup;
    }
    printf("preloaded %ld commands (%ld SKUs) to %s (%ld partitions, keyed by SKU) in %.1f s\n",
           options.commands, options.skus, topics.commands, options.partitions, now_s() - preload_start);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", options.bootstrap, error, sizeof(error));
    rd_kafka_t *client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error)); /* takes conf */
    if (client == NULL) {
        fprintf(stderr, "bench_e2e: %s\n", error);
        goto out_cleanup;
    }
    char log_path[sizeof(config.data_dir) + 16];
    snprintf(log_path, sizeof(log_path), "%s.log", config.data_dir);
    int port = port_free();
    static struct timeline timeline;
    timeline.start_s = now_s();
    pid_t pid = port > 0 ? stockd_start(&options, &config, port, log_path) : -1;
    if (pid < 0) {
        fprintf(stderr, "bench_e2e: could not start %s\n", options.stockd);
        rd_kafka_destroy(client);
        goto out_cleanup;
    }
    timeline.cpu_start_s = 0; /* a fresh process */
    static struct scrape scrape;
    int watched = run_watch(&options, pid, port, client, topics.events, &timeline, &scrape);
    int stopped = stockd_stop(pid);
    rd_kafka_destroy(client);
    if (watched == 0) {
        report(&options, &timeline, &scrape);
        result = stopped == 0 ? 0 : 1;
        if (stopped != 0) fprintf(stderr, "bench_e2e: stockd stopped with status %d\n", stopped);
    }
    if (watched != 0 || stopped != 0) {
        char command[sizeof(log_path) + 32];
        snprintf(command, sizeof(command), "tail -n 20 '%s' >&2", log_path);
        fprintf(stderr, "bench_e2e: last lines of stockd's log (kept: %s):\n", log_path);
        if (system(command) != 0) fprintf(stderr, "bench_e2e: (no log at %s)\n", log_path);
    } else {
        unlink(log_path);
    }
out_cleanup:
    if (cleanup(&config) != 0) result = 1;
    return result;
}
