/* replay.c - benchmark: how fast a view is rebuilt by replaying the events topic, and its memory.
 *
 * Pre-loads N valid events (every SKU created, then receipts, reservations and releases in turn) into
 * <prefix>.events of a real broker, in a child process; then, for each view asked for (all six by
 * default), times two folds of the whole topic from offset 0: the live fold into an empty database (a new
 * view, or one whose schema changed), then a rebuild (projector_rebuild_request) beside that caught-up live
 * view, until it is swapped in. Prints events/s of each, the CPU time this process spent per event
 * (all its threads; the broker's is not counted) and peak RSS. Not a test: it asserts nothing about
 * speed.
 *
 * Usage: bench_replay --help (usage_text below). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "domain/codec.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"
#include "kafka/topics.h"
#include "limits.h"
#include "log.h"
#include "options.h"
#include "projector.h"
#include "store/sqlite_util.h"
#include "views/catalog.h"
#include "views/movements.h"
#include "views/view.h"

static const char usage_text[] =
    "usage: bench_replay [--bootstrap H:P] [--events N] [--skus N] [--partitions P]\n"
    "                    [--views stock,reservations,history,outcomes,movements,catalog] [--help]\n"
    "\n"
    "Pre-loads N events (default 1000000, over --skus SKUs, default 100000) into <prefix>.events (P\n"
    "partitions, default 6) of the broker at --bootstrap (default 127.0.0.1:19092), then for each view\n"
    "named (default all six) times a live fold into an empty view and a rebuild beside it: events/s, CPU\n"
    "per event, peak RSS. Exit 0, 1 on failure, 2 on a usage error.\n";

struct options {
    const char *bootstrap;
    long events;
    long skus;
    long partitions;
    const char *views; /* comma-separated names */
};

/* Every view stockd runs (app.c). The workload has no catalog events: the catalog view's figure is what it
 * costs to pass over everyone else's events. */
static const struct view_ops *const bench_views[] = {&view_stock_ops,     &view_reservations_ops,
                                                     &view_history_ops,   &view_outcomes_ops,
                                                     &view_movements_ops, &view_catalog_ops};
#define BENCH_VIEW_COUNT (sizeof(bench_views) / sizeof(bench_views[0]))

/* Whether name is one of the comma-separated names in list. */
static bool view_listed(const char *list, const char *name)
{
    size_t length = strlen(name);
    for (const char *cursor = list; *cursor != '\0';) {
        const char *comma = strchr(cursor, ',');
        size_t item = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);
        if (item == length && strncmp(cursor, name, length) == 0) return true;
        cursor += item + (comma != NULL ? 1 : 0);
    }
    return false;
}

/* Whether every comma-separated name in list is a view's; names the first that is not. */
static bool views_known(const char *list)
{
    for (const char *cursor = list; *cursor != '\0';) {
        const char *comma = strchr(cursor, ',');
        size_t item = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);
        bool known = false;
        for (size_t i = 0; i < BENCH_VIEW_COUNT && !known; i++)
            known = strlen(bench_views[i]->name) == item && strncmp(cursor, bench_views[i]->name, item) == 0;
        if (!known) {
            fprintf(stderr, "bench_replay: --views: no view named '%.*s'\n%s", (int)item, cursor, usage_text);
            return false;
        }
        cursor += item + (comma != NULL ? 1 : 0);
    }
    return true;
}

static double now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The i-th event: SKUs are created first (sequence 1), then each SKU's later events cycle through
 * StockReceived, StockReserved and ReservationReleased, so the stream folds without a refusal. */
static void event_make(const struct options *options, long i, uint32_t *sequences, struct event *event)
{
    memset(event, 0, sizeof(*event));
    long sku_index = i % options->skus;
    uint32_t sequence = ++sequences[sku_index];
    event->sequence = sequence;
    event->time_ms = 1764000000000LL + i;
    snprintf(event->sku, sizeof(event->sku), "SKU-%07ld", sku_index);
    snprintf(event->command_id, sizeof(event->command_id), "e-%ld", i);
    snprintf(event->location, sizeof(event->location), "WH-1");
    if (sequence == 1) {
        event->type = EVENT_SKU_CREATED;
        snprintf(event->name, sizeof(event->name), "Replay item %ld", sku_index);
        event->reorder_point = 5;
        event->location[0] = '\0';
        return;
    }
    int step = (int)((sequence - 2) % 3);
    event->quantity = step == 0 ? 10 : 1;
    event->type = step == 0   ? EVENT_STOCK_RECEIVED
                  : step == 1 ? EVENT_STOCK_RESERVED
                              : EVENT_RESERVATION_RELEASED;
    if (step != 0)
        snprintf(event->reservation_id, sizeof(event->reservation_id), "r-%u",
                 step == 1 ? sequence : sequence - 1);
}

/* Child process: produce the events, keyed by SKU on its murmur2 partition, then exit. */
static int preload(const struct options *options, const char *topic)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", options->bootstrap, error, sizeof(error));
    rd_kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof(error));
    rd_kafka_conf_set(conf, "linger.ms", "20", error, sizeof(error));
    rd_kafka_conf_set(conf, "compression.type", "lz4", error, sizeof(error));
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    uint32_t *sequences = calloc((size_t)options->skus, sizeof(*sequences));
    if (producer == NULL || sequences == NULL) return 1;
    static struct event event;
    for (long i = 0; i < options->events; i++) {
        event_make(options, i, sequences, &event);
        char *value = codec_event_encode(&event);
        int32_t partition = murmur2_partition(event.sku, strlen(event.sku), (int32_t)options->partitions);
        while (rd_kafka_producev(
                   producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                   RD_KAFKA_V_KEY(event.sku, strlen(event.sku)), RD_KAFKA_V_VALUE(value, strlen(value)),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 10);
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 300000);
    int left = rd_kafka_outq_len(producer);
    rd_kafka_destroy(producer);
    free(sequences);
    return left == 0 ? 0 : 1;
}

struct run {
    struct projector *projector;
    atomic_bool stop;
};

static void *projector_thread(void *argument)
{
    struct run *run = argument;
    projector_run(run->projector, &run->stop);
    return NULL;
}

/* CPU seconds this process has used, all threads: noisy neighbours change the wall clock, hardly this. */
static double cpu_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static long rss_kib(const char *field)
{
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    while (status != NULL && fgets(line, sizeof(line), status) != NULL) {
        if (strncmp(line, field, strlen(field)) == 0) value = strtol(line + strlen(field) + 1, NULL, 10);
    }
    if (status != NULL) fclose(status);
    return value;
}

/* Waits until done(status) or 1200 s pass; returns the seconds waited, the last status in *status. */
static double status_wait(struct projector *projector, long events,
                          bool (*done)(const struct projector_status *, long),
                          struct projector_status *status)
{
    double start = now_s();
    for (;;) {
        struct timespec pause = {0, 5 * 1000000L};
        nanosleep(&pause, NULL);
        projector_status_get(projector, status);
        if (done(status, events) || now_s() - start > 1200) break;
    }
    return now_s() - start;
}

static bool live_done(const struct projector_status *status, long events)
{
    return (long)status->events_applied >= events;
}

static bool rebuild_done(const struct projector_status *status, long events)
{
    (void)events;
    return status->rebuilds_completed + status->rebuilds_failed > 0;
}

/* Folds the whole topic into a fresh database of one view, then rebuilds it; prints events/s of both.
 * Returns 0 or -1. */
static int replay_view(struct stockd_config *config, const struct view_ops *view, long events)
{
    char error[1024];
    static struct run run;
    atomic_store(&run.stop, false);
    run.projector = projector_create(config, view, error, sizeof(error));
    if (run.projector == NULL) {
        fprintf(stderr, "bench_replay: %s\n", error);
        return -1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, projector_thread, &run);
    static struct projector_status status;
    double cpu_start = cpu_s();
    double seconds = status_wait(run.projector, events, live_done, &status);
    printf("view %-12s live fold: %llu events in %.2f s: %.0f events/s (%llu batches), %.2f us CPU/event\n",
           view->name, (unsigned long long)status.events_applied, seconds,
           (double)status.events_applied / seconds, (unsigned long long)status.batches_committed,
           (cpu_s() - cpu_start) * 1e6 / (double)events);
    bool live_ok = (long)status.events_applied >= events;
    bool rebuild_ok = false;
    if (live_ok) {
        projector_rebuild_request(run.projector);
        cpu_start = cpu_s();
        seconds = status_wait(run.projector, events, rebuild_done, &status);
        rebuild_ok = status.rebuilds_completed == 1 && (long)status.rebuild_events_applied >= events;
        printf("view %-12s rebuild:   %llu events in %.2f s: %.0f events/s (%s), %.2f us CPU/event\n",
               view->name, (unsigned long long)status.rebuild_events_applied, seconds,
               (double)status.rebuild_events_applied / seconds, rebuild_ok ? "swapped in" : "FAILED",
               (cpu_s() - cpu_start) * 1e6 / (double)events);
    }
    atomic_store(&run.stop, true);
    pthread_join(thread, NULL);
    projector_destroy(run.projector);
    return live_ok && rebuild_ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct options options = {"127.0.0.1:19092", 1000000, 100000, 6,
                              "stock,reservations,history,outcomes,movements,catalog"};
    const struct bench_option table[] = {
        {"--bootstrap", &options.bootstrap, NULL, 0, 0},
        {"--events", NULL, &options.events, 1, 100000000},
        {"--skus", NULL, &options.skus, 1, 10000000},
        {"--partitions", NULL, &options.partitions, 1, STOCKD_PARTITIONS_MAX},
        {"--views", &options.views, NULL, 0, 0},
    };
    bench_options_parse("bench_replay", usage_text, argc, argv, table, sizeof(table) / sizeof(table[0]));
    if (!views_known(options.views)) return 2;
    if (options.skus < 1 || options.skus > options.events) options.skus = options.events;
    log_init(getenv("BENCH_LOG") ? getenv("BENCH_LOG") : "warn");
    sqlite_util_process_init(); /* as stockd (src/app.c) */
    static struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", options.bootstrap);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "replay-%d-%ld", (int)getpid(),
             (long)time(NULL));
    snprintf(config.data_dir, sizeof(config.data_dir), "/tmp/stockd-replay-%d", (int)getpid());
    config.partitions = (int)options.partitions;
    char error[1024];
    if (topics_ensure(&config, 1, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_replay: %s\n", error);
        return 1;
    }
    struct kafka_topics topics;
    kafka_topics_names(config.topic_prefix, &topics);
    double preload_start = now_s();
    pid_t child = fork();
    if (child == 0) _exit(preload(&options, topics.events));
    int child_status = 0;
    waitpid(child, &child_status, 0);
    if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "bench_replay: preload failed\n");
        return 1;
    }
    printf("preloaded %ld events (%ld SKUs, %ld partitions) to %s in %.1f s\n", options.events, options.skus,
           options.partitions, topics.events, now_s() - preload_start);
    int status = 0;
    for (size_t i = 0; i < BENCH_VIEW_COUNT && status == 0; i++) {
        if (view_listed(options.views, bench_views[i]->name))
            status = replay_view(&config, bench_views[i], options.events);
    }
    printf("peak RSS %ld KiB (VmHWM, all replays)\n", rss_kib("VmHWM:"));
    if (topics_delete(config.kafka_bootstrap, config.topic_prefix, error, sizeof(error)) != 0)
        fprintf(stderr, "bench_replay: deleting the topics of %s: %s\n", config.topic_prefix, error);
    char command[sizeof(config.data_dir) + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", config.data_dir);
    return status == 0 && system(command) == 0 ? 0 : 1;
}
