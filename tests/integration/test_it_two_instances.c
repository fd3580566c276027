/* test_it_two_instances.c - two stockd instances share the partitions, then one leaves and the other
 * takes its partitions over, restoring their state from the events topic.
 *
 * Every instance runs two handler threads (the harness's handler.threads); the second case checks the
 * split per thread: a's two threads and b's one share the partitions while commands stream in, b leaves
 * mid-stream, a's threads take its partitions over, and every command is decided exactly once.
 *
 * a runs alone first (so it keeps shard files of every partition, later outdated), b joins (it has no
 * shard files: it rebuilds its partitions from offset 0), both decide, b stops, a replays b's partitions
 * from its old checkpoints and goes on. Decisions after the take-over depend on the restored state, and
 * the generator's model knows what they must be. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define PARTITIONS      6
#define SKUS            60
#define PHASE0_COMMANDS 600
#define PHASE1_COMMANDS 3000
#define PHASE2_COMMANDS 3000
#define WAIT_MS         60000
/* The streaming case: commands sent at about 2,000/s (STREAM_PER_TICK every STREAM_TICK_MS) from before
 * b joins until after a took b's partitions back, at most STREAM_COMMANDS_MAX. */
#define STREAM_COMMANDS_MAX 100000
#define STREAM_PER_TICK     20
#define STREAM_TICK_MS      10
#define STREAM_TAIL_MS      500

struct fixture {
    struct harness *harness;
    struct harness_stockd *a;
    struct harness_stockd *b;
    rd_kafka_t *producer;
    struct harness_reader *events;
    struct harness_model *model;
    struct harness_ids sent;
    int next_id;
    /* The streaming case: a thread generates commands of the model and sends them until stream_stop (only
     * it touches the model and sent until it is joined). */
    pthread_t stream_thread;
    bool stream_started;
    atomic_bool stream_stop;
    atomic_int streamed;
    atomic_int stream_status; /* 0 running, 1 all delivered, -1 failed */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->harness = harness_create("two_instances", PARTITIONS);
    if (f->harness == NULL) {
        free(f);
        return -1;
    }
    f->model = harness_model_create(SKUS, 0x7a0b1c2d3e4f5061ULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->stream_started) {
        atomic_store(&f->stream_stop, true);
        pthread_join(f->stream_thread, NULL);
    }
    harness_reader_destroy(f->events);
    harness_producer_destroy(f->producer);
    harness_model_destroy(f->model);
    harness_ids_free(&f->sent);
    harness_destroy(f->harness);
    free(f);
    return 0;
}

/* Produces count commands of the model, keyed by SKU, and waits until all commands so far are decided. */
static void phase_run(struct fixture *f, const char *phase, int count)
{
    int64_t started_ms = harness_now_ms();
    for (int i = 0; i < count; i++) {
        char id[32];
        char sku[16];
        snprintf(id, sizeof(id), "two-%05d", f->next_id++);
        char *json = harness_model_next(f->model, id, sku, sizeof(sku));
        int status = harness_produce(f->producer, f->harness->topics.commands, RD_KAFKA_PARTITION_UA, sku,
                                     strlen(sku), json, strlen(json));
        free(json);
        harness_check(f->harness, status == 0, "%s: produce %s", phase, id);
        harness_ids_add(&f->sent, id);
    }
    harness_check(f->harness, harness_producer_flush(f->producer, WAIT_MS) == 0, "%s: flush", phase);
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, WAIT_MS);
    harness_check(f->harness, status == 0, "%s: %s", phase, f->harness->error);
    fprintf(stderr, "two_instances: %s: %d commands decided in %lld ms\n", phase, count,
            (long long)(harness_now_ms() - started_ms));
}

static void partitions_format(const bool *owned, char *out, size_t out_bytes)
{
    size_t used = 0;
    out[0] = '\0';
    for (int32_t p = 0; p < PARTITIONS && used + 8 < out_bytes; p++) {
        if (owned[p])
            used += (size_t)snprintf(out + used, out_bytes - used, "%s%d", used > 0 ? "," : "", (int)p);
    }
}

/* Waits until a's and b's handlers split all partitions between them, each owning some. */
static void wait_split(struct fixture *f, bool *a_owned, bool *b_owned)
{
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    for (;;) {
        int a_count = harness_stockd_assignment(f->a, "handler", a_owned, PARTITIONS);
        int b_count = harness_stockd_assignment(f->b, "handler", b_owned, PARTITIONS);
        bool split = a_count > 0 && b_count > 0 && a_count + b_count == PARTITIONS;
        for (int32_t p = 0; p < PARTITIONS && split; p++)
            split = a_owned[p] != b_owned[p];
        if (split) return;
        harness_check(f->harness, harness_now_ms() < deadline_ms,
                      "a (%d) and b (%d) never split the partitions", a_count, b_count);
        harness_check(f->harness, harness_stockd_running(f->a) && harness_stockd_running(f->b),
                      "an instance exited");
        harness_sleep_ms(100);
    }
}

/* b stopped: its shards must equal the fold of the events so far, for the partitions it owned. */
static void check_b_shards(struct fixture *f, const bool *b_owned)
{
    harness_reader_poll(f->events, 1000);
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    int compared = harness_shards_check(f->harness, fold, f->b->data_dir, false);
    harness_fold_destroy(fold);
    int b_count = 0;
    for (int32_t p = 0; p < PARTITIONS; p++)
        b_count += b_owned[p];
    harness_check(f->harness, compared == b_count, "b's shards: %d compared, b owned %d (%s)", compared,
                  b_count, compared < 0 ? f->harness->error : "shard files of other partitions?");
}

/* a owns every partition, and restored each of b's from the events topic. */
static void wait_takeover(struct fixture *f, const bool *b_owned)
{
    bool a_owned[PARTITIONS];
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    while (harness_stockd_assignment(f->a, "handler", a_owned, PARTITIONS) != PARTITIONS) {
        harness_check(f->harness, harness_now_ms() < deadline_ms, "a never took over all partitions");
        harness_sleep_ms(100);
    }
    for (int32_t p = 0; p < PARTITIONS; p++) {
        if (!b_owned[p]) continue;
        char needle[64];
        snprintf(needle, sizeof(needle), "partition %d restored: ", (int)p);
        char line[512];
        int status = harness_stockd_wait_stage_line(f->a, "handler", needle, WAIT_MS, line, sizeof(line));
        harness_check(f->harness, status == 0, "a did not restore partition %d", (int)p);
        fprintf(stderr, "two_instances: a: %s", strstr(line, "partition"));
    }
}

static void test_second_instance_leaves_and_first_takes_over(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    f->a = harness_stockd_new(f->harness, "a", NULL);
    f->b = harness_stockd_new(f->harness, "b", NULL);
    harness_check(f->harness, harness_stockd_start(f->a) == 0, "start a");
    harness_check(f->harness, harness_stockd_wait_ready(f->a, WAIT_MS) == 0, "a not ready");
    f->producer = harness_producer_create(f->harness);
    harness_check(f->harness, f->producer != NULL, "%s", f->harness->error);
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);
    phase_run(f, "phase 0 (a alone)", PHASE0_COMMANDS);

    harness_check(f->harness, harness_stockd_start(f->b) == 0, "start b");
    bool a_owned[PARTITIONS];
    bool b_owned[PARTITIONS];
    wait_split(f, a_owned, b_owned);
    char a_list[64];
    char b_list[64];
    partitions_format(a_owned, a_list, sizeof(a_list));
    partitions_format(b_owned, b_list, sizeof(b_list));
    fprintf(stderr, "two_instances: handler partitions: a [%s], b [%s]\n", a_list, b_list);
    phase_run(f, "phase 1 (a and b)", PHASE1_COMMANDS);

    harness_check(f->harness, harness_stockd_stop(f->b, WAIT_MS) == 0, "b did not stop cleanly");
    check_b_shards(f, b_owned);
    wait_takeover(f, b_owned);
    phase_run(f, "phase 2 (a alone again)", PHASE2_COMMANDS);

    harness_check(f->harness, harness_stockd_stop(f->a, WAIT_MS) == 0, "a did not stop cleanly");
    harness_reader_poll(f->events, 2000);
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    int status = harness_fold_expect(f->harness, fold, &f->sent);
    if (status == 0) status = harness_model_check(f->harness, f->model, fold);
    int shards = status == 0 ? harness_shards_check(f->harness, fold, f->a->data_dir, true) : -1;
    size_t events = harness_fold_total_events(fold);
    harness_fold_destroy(fold);
    harness_check(f->harness, status == 0 && shards == PARTITIONS, "%s", f->harness->error);
    fprintf(stderr, "two_instances: %zu commands, %zu events, a's %d shards equal the fold; total %lld ms\n",
            f->sent.count, events, shards, (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

/* ---- a's two handler threads and b's one, while commands stream in ------------------------------------ */

static void *stream_run(void *argument)
{
    struct fixture *f = argument;
    rd_kafka_t *producer = harness_producer_create(f->harness);
    int status = producer == NULL ? -1 : 0;
    for (int i = 0; i < STREAM_COMMANDS_MAX && status == 0 && !atomic_load(&f->stream_stop); i++) {
        char id[32];
        char sku[16];
        snprintf(id, sizeof(id), "stream-%06d", i);
        char *json = harness_model_next(f->model, id, sku, sizeof(sku));
        status = harness_produce(producer, f->harness->topics.commands, RD_KAFKA_PARTITION_UA, sku,
                                 strlen(sku), json, strlen(json));
        free(json);
        harness_ids_add(&f->sent, id);
        atomic_store(&f->streamed, i + 1);
        if ((i + 1) % STREAM_PER_TICK == 0) harness_sleep_ms(STREAM_TICK_MS);
    }
    if (status == 0) status = harness_producer_flush(producer, WAIT_MS);
    if (producer != NULL) harness_producer_destroy(producer);
    atomic_store(&f->stream_status, status == 0 ? 1 : -1);
    return NULL;
}

/* Stops the stream and waits for its last deliveries; fails the test when it could not deliver. */
static void stream_finish(struct fixture *f)
{
    atomic_store(&f->stream_stop, true);
    pthread_join(f->stream_thread, NULL);
    f->stream_started = false;
    harness_check(f->harness, atomic_load(&f->stream_status) == 1, "the stream could not deliver");
}

/* Waits until a's two handler threads and b's handler own disjoint, non-empty sets of partitions that
 * cover them all (b may be NULL: then a's two threads alone). */
static void wait_threads_split(struct fixture *f, struct harness_stockd *b)
{
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    for (;;) {
        bool owned[3][PARTITIONS];
        int counts[3] = {
            harness_stockd_worker_assignment(f->a, "handler", 0, owned[0], PARTITIONS),
            harness_stockd_worker_assignment(f->a, "handler", 1, owned[1], PARTITIONS),
            b != NULL ? harness_stockd_assignment(b, "handler", owned[2], PARTITIONS) : 0,
        };
        if (b == NULL) memset(owned[2], 0, sizeof(owned[2]));
        bool split = counts[0] > 0 && counts[1] > 0 && (b == NULL || counts[2] > 0) &&
                     counts[0] + counts[1] + counts[2] == PARTITIONS;
        for (int32_t p = 0; p < PARTITIONS && split; p++)
            split = owned[0][p] + owned[1][p] + owned[2][p] == 1;
        if (split) {
            char lists[3][64];
            for (int i = 0; i < 3; i++)
                partitions_format(owned[i], lists[i], sizeof(lists[i]));
            fprintf(stderr, "two_threads: a handler [%s], a handler/1 [%s], b [%s] after %d commands sent\n",
                    lists[0], lists[1], lists[2], atomic_load(&f->streamed));
            return;
        }
        harness_check(f->harness, harness_now_ms() < deadline_ms,
                      "never split: a's threads own %d and %d, b owns %d", counts[0], counts[1], counts[2]);
        harness_check(f->harness, harness_stockd_running(f->a) && (b == NULL || harness_stockd_running(b)),
                      "an instance exited");
        harness_sleep_ms(50);
    }
}

static void test_two_threads_and_a_second_instance_split_and_rebalance(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    static const char *const a_args[] = {"--handler.threads=2", NULL};
    static const char *const b_args[] = {"--handler.threads=1", NULL};
    f->a = harness_stockd_new(f->harness, "a", a_args);
    f->b = harness_stockd_new(f->harness, "b", b_args);
    harness_check(f->harness, harness_stockd_start(f->a) == 0, "start a");
    harness_check(f->harness, harness_stockd_wait_ready(f->a, WAIT_MS) == 0, "a not ready");
    wait_threads_split(f, NULL);
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);

    harness_check(f->harness, pthread_create(&f->stream_thread, NULL, stream_run, f) == 0, "thread");
    f->stream_started = true;
    harness_check(f->harness, harness_stockd_start(f->b) == 0, "start b");
    wait_threads_split(f, f->b);
    int joined_at = atomic_load(&f->streamed);
    harness_check(f->harness, harness_stockd_stop(f->b, WAIT_MS) == 0, "b did not stop cleanly");
    int left_at = atomic_load(&f->streamed);
    wait_threads_split(f, NULL);
    harness_sleep_ms(STREAM_TAIL_MS);
    stream_finish(f);
    harness_check(
        f->harness, joined_at > 0 && (int)f->sent.count > left_at,
        "the stream did not cover the rebalances (%d sent at the split, %d when b left, %zu in all)",
        joined_at, left_at, f->sent.count);
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, WAIT_MS);
    harness_check(f->harness, status == 0, "%s", f->harness->error);

    harness_check(f->harness, harness_stockd_stop(f->a, WAIT_MS) == 0, "a did not stop cleanly");
    harness_reader_poll(f->events, 2000);
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    status = harness_fold_expect(f->harness, fold, &f->sent);
    if (status == 0) status = harness_model_check(f->harness, f->model, fold);
    int shards = status == 0 ? harness_shards_check(f->harness, fold, f->a->data_dir, true) : -1;
    size_t events = harness_fold_total_events(fold);
    harness_fold_destroy(fold);
    harness_check(f->harness, status == 0 && shards == PARTITIONS, "%s", f->harness->error);
    fprintf(stderr,
            "two_threads: %zu commands streamed (split with b after %d, b left after %d), %zu events, each "
            "decided once; a's %d shards equal the fold; total %lld ms\n",
            f->sent.count, joined_at, left_at, events, shards, (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_instance_leaves_and_first_takes_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads_and_a_second_instance_split_and_rebalance, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
