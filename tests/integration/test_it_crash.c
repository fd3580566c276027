/* test_it_crash.c - exactly-once through crashes: stockd is killed with SIGKILL mid-stream and restarted,
 * and still every command is decided exactly once and every shard equals the fold of its partition.
 *
 * 20,000 commands over 200 SKUs (a realistic mix with known rejections) are produced at a steady rate
 * while stockd is killed four times, each time after it decided another fifth of the stream (the stream
 * outlasts the kills, so stockd is busy at each one). The generator models the domain, so the final stock
 * and the rejection counts are known in advance. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#define PARTITIONS         6
#define SKUS               200
#define COMMANDS           20000
#define KILLS              4
#define SEND_PER_TICK      30 /* with TICK_MS: 300 commands/s, about 67 s of stream */
#define TICK_MS            100
#define WAIT_MS            60000
#define DECIDE_ALL_TIMEOUT 600000
#define STRINGIFY_(x)      #x
#define STRINGIFY(x)       STRINGIFY_(x)
#define STALE_PARTITION    1      /* its shard goes back to an older copy after kill 3 */
#define GONE_PARTITION     2      /* its shard files are deleted after kill 2 */
#define STALL_MS           180000 /* no progress for this long between two kills is a failure */

struct generated {
    char *json;
    char sku[16];
    char id[32];
};

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    struct harness_reader *events;
    struct harness_ids sent;
    struct harness_model *model;
    struct generated *commands;
    pthread_t producer_thread;
    bool producer_started;
    atomic_bool producer_stop; /* teardown of a failed test: stop sending */
    atomic_int produced;
    atomic_int producer_status;
};

/* Draws the whole stream up front: JSON, key and id of each command. */
static void stream_generate(struct fixture *f)
{
    f->model = harness_model_create(SKUS, 0x5eed5eed12345678ULL);
    for (int i = 0; i < COMMANDS; i++) {
        struct generated *out = &f->commands[i];
        snprintf(out->id, sizeof(out->id), "crash-%05d", i);
        out->json = harness_model_next(f->model, out->id, out->sku, sizeof(out->sku));
        harness_ids_add(&f->sent, out->id);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->commands = calloc(COMMANDS, sizeof(*f->commands));
    f->harness = harness_create("crash", PARTITIONS);
    if (f->harness == NULL || f->commands == NULL) {
        harness_destroy(f->harness);
        free(f->commands);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    atomic_store(&f->producer_stop, true);
    if (f->producer_started) pthread_join(f->producer_thread, NULL);
    harness_reader_destroy(f->events);
    harness_ids_free(&f->sent);
    harness_destroy(f->harness);
    for (int i = 0; i < COMMANDS; i++)
        free(f->commands[i].json);
    free(f->commands);
    harness_model_destroy(f->model);
    free(f);
    return 0;
}

/* The client: sends the stream at a steady rate, keyed by SKU, whatever happens to stockd. */
static void *producer_run(void *argument)
{
    struct fixture *f = argument;
    rd_kafka_t *producer = harness_producer_create(f->harness);
    int status = producer == NULL ? -1 : 0;
    for (int i = 0; i < COMMANDS && status == 0 && !atomic_load(&f->producer_stop); i++) {
        const struct generated *command = &f->commands[i];
        status = harness_produce(producer, f->harness->topics.commands, RD_KAFKA_PARTITION_UA, command->sku,
                                 strlen(command->sku), command->json, strlen(command->json));
        atomic_store(&f->produced, i + 1);
        if ((i + 1) % SEND_PER_TICK == 0) {
            struct timespec pause = {0, TICK_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    if (status == 0) status = harness_producer_flush(producer, WAIT_MS);
    if (producer != NULL) harness_producer_destroy(producer);
    atomic_store(&f->producer_status, status == 0 ? 1 : -1);
    return NULL;
}

/* Runs a shell command; fails the test when it fails. */
static void shell_run(struct fixture *f, const char *command)
{
    harness_check(f->harness, system(command) == 0, "%s", command);
}

/* While stockd is down, puts shards in the states a crash between the Kafka commit and the SQLite commit
 * (or a lost disk) leaves behind: after kill 1 a copy of shard STALE_PARTITION is kept, after kill 2
 * shard GONE_PARTITION is deleted (rebuilt from offset 0), after kill 3 the old copy of STALE_PARTITION
 * comes back (behind Kafka by two kills' worth of events: its tail is replayed). */
static void shards_disturb(struct fixture *f, int kill)
{
    char command[8 * HARNESS_PATH_BYTES_MAX];
    const char *state = f->stockd->data_dir;
    const char *stale = f->harness->root_dir;
    if (kill == 1) {
        snprintf(command, sizeof(command), "mkdir -p '%s/stale' && cp '%s/state/shard-%04d.db'* '%s/stale/'",
                 stale, state, STALE_PARTITION, stale);
        shell_run(f, command);
    } else if (kill == 2) {
        snprintf(command, sizeof(command), "rm -f '%s/state/shard-%04d.db'*", state, GONE_PARTITION);
        shell_run(f, command);
    } else if (kill == 3) {
        snprintf(command, sizeof(command),
                 "rm -f '%s/state/shard-%04d.db'* && cp '%s/stale/shard-%04d.db'* '%s/state/' && "
                 "rm -f '%s/state/shard-%04d.db-shm'",
                 state, STALE_PARTITION, stale, STALE_PARTITION, state, state, STALE_PARTITION);
        shell_run(f, command);
    }
}

/* Kills stockd each time it decided another fifth of the stream, and restarts it at once. What the
 * killed incarnation committed is read first, so that every kill comes after the new incarnation
 * decided at least a tenth of the stream itself: the kills are spaced, never during a restart. */
static void kill_loop(struct fixture *f, int64_t *kill_at_ms)
{
    size_t spacing = (size_t)COMMANDS / (2 * (KILLS + 1));
    size_t threshold = 0;
    for (int kill = 1; kill <= KILLS; kill++) {
        size_t planned = (size_t)COMMANDS * (size_t)kill / (KILLS + 1);
        threshold = planned > threshold + spacing ? planned : threshold + spacing;
        int64_t deadline_ms = harness_now_ms() + STALL_MS;
        while (harness_reader_distinct_ids(f->events) < threshold) {
            harness_check(f->harness, harness_now_ms() < deadline_ms, "stalled at %zu decided ids",
                          harness_reader_distinct_ids(f->events));
            harness_check(f->harness, harness_stockd_running(f->stockd), "stockd exited by itself");
            harness_check(f->harness, harness_reader_poll(f->events, 100) >= 0, "reading events");
        }
        kill_at_ms[kill - 1] = harness_now_ms();
        harness_stockd_kill(f->stockd);
        size_t seen = harness_reader_distinct_ids(f->events);
        while (harness_reader_poll(f->events, 1000) > 0) {
        }
        threshold = harness_reader_distinct_ids(f->events);
        fprintf(stderr,
                "crash: kill %d (SIGKILL) when %zu ids were seen decided (%zu committed), %d produced\n",
                kill, seen, threshold, atomic_load(&f->produced));
        shards_disturb(f, kill);
        harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "restart %d", kill);
    }
}

static void test_kill_9_mid_stream_keeps_exactly_once(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    stream_generate(f);
    f->stockd = harness_stockd_new(f->harness, "a", NULL);
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);

    int64_t stream_started_ms = harness_now_ms();
    harness_check(f->harness, pthread_create(&f->producer_thread, NULL, producer_run, f) == 0, "thread");
    f->producer_started = true;
    int64_t kill_at_ms[KILLS];
    kill_loop(f, kill_at_ms);
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, DECIDE_ALL_TIMEOUT);
    harness_check(f->harness, status == 0, "%s", f->harness->error);
    int64_t decided_ms = harness_now_ms();
    pthread_join(f->producer_thread, NULL);
    f->producer_started = false;
    harness_check(f->harness, atomic_load(&f->producer_status) == 1, "the producer could not deliver");
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    harness_reader_poll(f->events, 2000);
    static const char *const restored[] = {"partition " STRINGIFY(STALE_PARTITION) " restored: ",
                                           "partition " STRINGIFY(GONE_PARTITION) " restored: "};
    for (int i = 0; i < 2; i++) {
        harness_check(f->harness, harness_stockd_stage_log_count(f->stockd, "handler", restored[i]) > 0,
                      "no handler \"%s\" line in the log", restored[i]);
    }

    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    int expected = harness_fold_expect(f->harness, fold, &f->sent);
    int shards = expected == 0 ? harness_shards_check(f->harness, fold, f->stockd->data_dir, true) : -1;
    if (expected != 0 || shards != PARTITIONS) {
        harness_fold_destroy(fold);
        harness_fail(f->harness, "%s", f->harness->error);
    }
    if (harness_model_check(f->harness, f->model, fold) != 0) {
        harness_fold_destroy(fold);
        harness_fail(f->harness, "%s", f->harness->error);
    }
    size_t events = harness_fold_total_events(fold);
    size_t rejected = harness_fold_event_count(fold, EVENT_COMMAND_REJECTED);
    harness_fold_destroy(fold);
    fprintf(
        stderr,
        "crash: %d commands over %d SKUs, %d kills at +%lld/+%lld/+%lld/+%lld ms, all decided after %lld ms; "
        "%zu events (%zu rejections), %d restarts logged, %d shards equal the fold; total %lld ms\n",
        COMMANDS, SKUS, KILLS, (long long)(kill_at_ms[0] - stream_started_ms),
        (long long)(kill_at_ms[1] - stream_started_ms), (long long)(kill_at_ms[2] - stream_started_ms),
        (long long)(kill_at_ms[3] - stream_started_ms), (long long)(decided_ms - stream_started_ms), events,
        rejected, f->stockd->starts - 1, shards, (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_9_mid_stream_keeps_exactly_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
