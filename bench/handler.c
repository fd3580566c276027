/* handler.c - benchmark: how fast the handler drains commands.by-sku with exactly-once, and its memory.
 *
 * Pre-loads N commands (bench/workload.h: CreateSku for every SKU, then a mix of receipts, reservations,
 * releases, fulfilments, adjustments and transfers with ~10% rejections) into <prefix>.commands.by-sku of a
 * real broker, in a child process; then runs the handler in this process and times the drain. Prints
 * commands/s, transactions, and peak RSS. Not a test: it asserts nothing about speed.
 *
 * Usage: bench_handler --help (usage_text below). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "app.h"
#include "config.h"
#include "domain/codec.h"
#include "handler.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"
#include "kafka/topics.h"
#include "limits.h"
#include "log.h"
#include "options.h"
#include "projector.h"
#include "views/view.h"
#include "workload.h"

static const char usage_text[] =
    "usage: bench_handler [--bootstrap H:P] [--commands N] [--skus N] [--partitions P] [--batch-max N]\n"
    "                     [--poll-timeout-ms N] [--threads N] [--with-projector 0|1] [--help]\n"
    "\n"
    "Pre-loads N commands (default 500000; CreateSku for each of --skus SKUs first, default 100000, at\n"
    "most N/4) into <prefix>.commands.by-sku (P partitions, default 6) of the broker at --bootstrap\n"
    "(default 127.0.0.1:19092) in a child process, then runs the handler in this process and times the\n"
    "drain: commands/s, transactions, peak RSS. --batch-max is handler.batch_max (default 5000),\n"
    "--poll-timeout-ms handler.poll_timeout_ms and --threads handler.threads (default: the config's);\n"
    "--with-projector 1 also folds the stock view meanwhile and prints its lag. Exit 0, 1 on failure,\n"
    "2 on a usage error.\n";

struct options {
    const char *bootstrap;
    long commands;
    long skus;
    long partitions;
    long batch_max;
    long with_projector;  /* also run the stock view's projector and print its lag under the load */
    long poll_timeout_ms; /* handler.poll_timeout_ms, or -1 for the config's default */
    long threads;         /* handler.threads, or 0 for the config's default */
};

static double now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Child process: produce the workload to by-sku with an idempotent producer, then exit. */
static int preload(const struct options *options, const char *topic)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", options->bootstrap, error, sizeof(error));
    rd_kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof(error));
    rd_kafka_conf_set(conf, "linger.ms", "20", error, sizeof(error));
    rd_kafka_conf_set(conf, "compression.type", "lz4", error, sizeof(error));
    /* /usr/bin/time (../shared/peer/compare) reports the largest RSS of the process and its children: with
     * librdkafka's default queue (100,000 messages, 1 GiB) this child, not the handler, set the figure: 119
     * MB for 1M commands, where the handler peaks at 88 MB. 20,000 messages or 16 MiB: 33 MB, and the preload
     * takes as long (4.1-4.2 s). */
    rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "16384", error, sizeof(error));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "20000", error, sizeof(error));
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer == NULL) return 1;
    static struct command command;
    for (long i = 0; i < options->commands; i++) {
        workload_command_make(options->skus, i, &command);
        char *value = codec_command_encode(&command);
        int32_t partition = murmur2_partition(command.sku, strlen(command.sku), (int32_t)options->partitions);
        while (rd_kafka_producev(
                   producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                   RD_KAFKA_V_KEY(command.sku, strlen(command.sku)), RD_KAFKA_V_VALUE(value, strlen(value)),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 10);
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 120000);
    int left = rd_kafka_outq_len(producer);
    rd_kafka_destroy(producer);
    return left == 0 ? 0 : 1;
}

struct run {
    struct handler *handler;
    struct projector *projector; /* --with-projector: the stock view, folding what the handler writes */
    atomic_bool stop;
};

static void *projector_thread(void *argument)
{
    struct run *run = argument;
    projector_run(run->projector, &run->stop);
    return NULL;
}

static void *handler_thread(void *argument)
{
    struct run *run = argument;
    handler_run(run->handler, &run->stop);
    return NULL;
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

static void options_parse(int argc, char **argv, struct options *options)
{
    *options = (struct options){"127.0.0.1:19092", 500000, 100000, 6, 5000, 0, -1, 0};
    const struct bench_option table[] = {
        {"--bootstrap", &options->bootstrap, NULL, 0, 0},
        {"--commands", NULL, &options->commands, 4, 100000000},
        {"--skus", NULL, &options->skus, 1, 10000000},
        {"--partitions", NULL, &options->partitions, 1, STOCKD_PARTITIONS_MAX},
        {"--batch-max", NULL, &options->batch_max, 1, 100000},
        {"--with-projector", NULL, &options->with_projector, 0, 1},
        {"--poll-timeout-ms", NULL, &options->poll_timeout_ms, 0, 10000},
        {"--threads", NULL, &options->threads, 1, STOCKD_STAGE_THREADS_MAX},
    };
    bench_options_parse("bench_handler", usage_text, argc, argv, table, sizeof(table) / sizeof(table[0]));
    if (options->skus > options->commands / 4) options->skus = options->commands / 4;
}

int main(int argc, char **argv)
{
    struct options options;
    options_parse(argc, argv, &options);
    app_malloc_tune(); /* as stockd does: the figures are the service's */
    log_init(getenv("BENCH_LOG") ? getenv("BENCH_LOG") : "warn");
    static struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", options.bootstrap);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "bench-%d-%ld", (int)getpid(),
             (long)time(NULL));
    snprintf(config.data_dir, sizeof(config.data_dir), "/tmp/stockd-bench-%d", (int)getpid());
    snprintf(config.instance_id, sizeof(config.instance_id), "bench");
    config.partitions = (int)options.partitions;
    config.handler_batch_max = (int)options.batch_max;
    if (options.poll_timeout_ms >= 0) config.handler_poll_timeout_ms = (int)options.poll_timeout_ms;
    if (options.threads > 0) config.handler_threads = (int)options.threads;
    char error[1024];
    if (topics_ensure(&config, 1, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_handler: %s\n", error);
        return 1;
    }
    struct kafka_topics topics;
    kafka_topics_names(config.topic_prefix, &topics);
    double preload_start = now_s();
    pid_t child = fork();
    if (child == 0) _exit(preload(&options, topics.by_sku));
    int child_status = 0;
    waitpid(child, &child_status, 0);
    if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "bench_handler: preload failed\n");
        return 1;
    }
    printf("preloaded %ld commands (%ld SKUs, %ld partitions) to %s in %.1f s\n", options.commands,
           options.skus, options.partitions, topics.by_sku, now_s() - preload_start);

    long rss_before = rss_kib("VmRSS:");
    static struct run run;
    run.handler = handler_create(&config, error, sizeof(error));
    if (run.handler == NULL) {
        fprintf(stderr, "bench_handler: %s\n", error);
        return 1;
    }
    pthread_t thread;
    pthread_t projector;
    if (options.with_projector) {
        run.projector = projector_create(&config, &view_stock_ops, error, sizeof(error));
        if (run.projector == NULL) {
            fprintf(stderr, "bench_handler: %s\n", error);
            return 1;
        }
        pthread_create(&projector, NULL, projector_thread, &run);
    }
    double start = now_s();
    pthread_create(&thread, NULL, handler_thread, &run);
    struct handler_stats stats;
    static struct projector_status view;
    int64_t lag_max = 0;
    double first_s = 0;
    for (;;) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
        handler_stats_get(run.handler, &stats);
        if (run.projector != NULL) {
            projector_status_get(run.projector, &view);
            if (view.lag_total > lag_max) lag_max = view.lag_total;
        }
        if (first_s == 0 && stats.commands_decided > 0) first_s = now_s();
        if ((long)(stats.commands_decided + stats.commands_duplicate) >= options.commands) break;
        if (now_s() - start > 900) {
            fprintf(stderr, "bench_handler: gave up after 900 s at %llu commands\n",
                    (unsigned long long)stats.commands_decided);
            break;
        }
    }
    double end = now_s();
    double caught_up_s = end;
    while (run.projector != NULL && now_s() - end < 300) {
        projector_status_get(run.projector, &view);
        if (view.events_applied >= stats.events_produced) break;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
        caught_up_s = now_s();
    }
    atomic_store(&run.stop, true);
    if (run.projector != NULL) pthread_join(projector, NULL);
    pthread_join(thread, NULL);
    handler_stats_get(run.handler, &stats);
    handler_destroy(run.handler);
    double seconds = end - first_s;
    printf("handler drained %llu commands in %.2f s (%.2f s including group join): %.0f commands/s\n",
           (unsigned long long)stats.commands_decided, seconds, end - start,
           (double)stats.commands_decided / seconds);
    printf("  rejected %llu (%.1f%%), events %llu, transactions %llu committed / %llu aborted, "
           "batch_max %d, poll_timeout_ms %d, threads %d\n",
           (unsigned long long)stats.commands_rejected,
           100.0 * (double)stats.commands_rejected / (double)stats.commands_decided,
           (unsigned long long)stats.events_produced, (unsigned long long)stats.batches_committed,
           (unsigned long long)stats.batches_aborted, config.handler_batch_max,
           config.handler_poll_timeout_ms, config.handler_threads);
    printf("  RSS before handler %ld KiB, peak RSS %ld KiB (VmHWM%s)\n", rss_before, rss_kib("VmHWM:"),
           run.projector ? ", handler and projector" : "");
    if (run.projector != NULL) {
        printf(
            "  stock view under this load: max lag %lld events, %llu events applied, caught up %.2f s after "
            "the handler finished\n",
            (long long)lag_max, (unsigned long long)view.events_applied, caught_up_s - end);
        projector_destroy(run.projector);
    }
    if (topics_delete(config.kafka_bootstrap, config.topic_prefix, error, sizeof(error)) != 0)
        fprintf(stderr, "bench_handler: deleting the topics of %s: %s\n", config.topic_prefix, error);
    char command[sizeof(config.data_dir) + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", config.data_dir);
    return system(command) == 0 ? 0 : 1;
}
