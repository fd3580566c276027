/* test_it_race.c - many clients race for the last units of one SKU: never oversold, on a real broker.
 *
 * 50 threads, each with its own idempotent producer, send 10,000 ReserveStock of one unit for a SKU that
 * holds 1,000: exactly 1,000 are reserved and 9,000 rejected with insufficient_stock, whatever the order
 * the router and the handler see them in. The shard equals the fold of the events afterwards. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define PARTITIONS            3
#define THREADS               50
#define RESERVES_PER_THREAD   200
#define STOCK                 1000
#define WAIT_MS               60000
#define DECIDE_ALL_TIMEOUT_MS 600000
#define SKU                   "IT-RACE-1"

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    struct harness_reader *events;
    struct harness_ids sent;
};

struct racer {
    struct harness *harness;
    pthread_barrier_t *start;
    int index;
    int status; /* 0 when every command was delivered */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->harness = harness_create("race", PARTITIONS);
    if (f->harness == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    harness_reader_destroy(f->events);
    harness_ids_free(&f->sent);
    harness_destroy(f->harness);
    free(f);
    return 0;
}

/* One client: its own producer, all threads released together, then as fast as it can. */
static void *racer_run(void *argument)
{
    struct racer *racer = argument;
    rd_kafka_t *producer = harness_producer_create(racer->harness);
    pthread_barrier_wait(racer->start);
    if (producer == NULL) {
        racer->status = -1;
        return NULL;
    }
    static _Thread_local struct command command;
    for (int i = 0; i < RESERVES_PER_THREAD && racer->status == 0; i++) {
        char id[64];
        char reservation[64];
        snprintf(id, sizeof(id), "race-%02d-%03d", racer->index, i);
        snprintf(reservation, sizeof(reservation), "order-%02d-%03d", racer->index, i);
        harness_command_reserve(&command, id, SKU, reservation, "WH-1", 1, 0);
        racer->status = harness_produce_command(racer->harness, producer, &command, NULL);
    }
    if (racer->status == 0) racer->status = harness_producer_flush(producer, WAIT_MS);
    harness_producer_destroy(producer);
    return NULL;
}

static void stock_prepare(struct fixture *f)
{
    rd_kafka_t *producer = harness_producer_create(f->harness);
    harness_check(f->harness, producer != NULL, "%s", f->harness->error);
    struct command command;
    harness_command_create_sku(&command, "race-create", SKU, "The last thousand", 0);
    int status = harness_produce_command(f->harness, producer, &command, NULL);
    harness_ids_add(&f->sent, command.command_id);
    if (status == 0) status = harness_producer_flush(producer, WAIT_MS);
    /* Receive only once the SKU exists: the two may be read from different commands partitions. */
    if (status == 0)
        status =
            harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items, 1, WAIT_MS);
    harness_command_receive(&command, "race-receive", SKU, "WH-1", STOCK);
    if (status == 0) status = harness_produce_command(f->harness, producer, &command, NULL);
    harness_ids_add(&f->sent, command.command_id);
    if (status == 0) status = harness_producer_flush(producer, WAIT_MS);
    if (status == 0)
        status =
            harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items, 2, WAIT_MS);
    harness_producer_destroy(producer);
    harness_check(f->harness, status == 0, "preparing the stock: %s", f->harness->error);
}

static void race_run(struct fixture *f)
{
    static struct racer racers[THREADS];
    pthread_t threads[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        racers[i] = (struct racer){.harness = f->harness, .start = &start, .index = i};
        int created = pthread_create(&threads[i], NULL, racer_run, &racers[i]);
        harness_check(f->harness, created == 0, "pthread_create: %d", created); /* barrier would hang */
    }
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        failed += racers[i].status != 0;
    }
    pthread_barrier_destroy(&start);
    harness_check(f->harness, failed == 0, "%d racer(s) could not deliver their commands", failed);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < RESERVES_PER_THREAD; i++) {
            char id[64];
            snprintf(id, sizeof(id), "race-%02d-%03d", t, i);
            harness_ids_add(&f->sent, id);
        }
    }
}

static void test_race_for_the_last_units_never_oversells(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    f->stockd = harness_stockd_new(f->harness, "a", NULL);
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);
    stock_prepare(f);

    int64_t race_started_ms = harness_now_ms();
    race_run(f);
    int64_t produced_ms = harness_now_ms();
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, DECIDE_ALL_TIMEOUT_MS);
    harness_check(f->harness, status == 0, "%s", f->harness->error);
    int64_t decided_ms = harness_now_ms();
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    harness_reader_poll(f->events, 2000);

    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    size_t reserved = harness_fold_event_count(fold, EVENT_STOCK_RESERVED);
    size_t rejected = harness_fold_event_count(fold, EVENT_COMMAND_REJECTED);
    size_t short_of_stock = harness_fold_reject_count(fold, REJECT_INSUFFICIENT_STOCK);
    const struct sku_state *sku = harness_fold_sku(fold, SKU);
    const struct location_stock *stock = sku != NULL ? domain_location_find(sku, "WH-1") : NULL;
    int64_t on_hand = stock != NULL ? stock->on_hand : -1;
    int64_t stock_reserved = stock != NULL ? stock->reserved : -1;
    int expected = harness_fold_expect(f->harness, fold, &f->sent);
    int shards = expected == 0 ? harness_shards_check(f->harness, fold, f->stockd->data_dir, true) : -1;
    size_t events = harness_fold_total_events(fold);
    harness_fold_destroy(fold);
    harness_check(f->harness, expected == 0, "%s", f->harness->error);
    harness_check(f->harness, reserved == STOCK, "%zu StockReserved, expected %d", reserved, STOCK);
    harness_check(f->harness, rejected == THREADS * RESERVES_PER_THREAD - STOCK && short_of_stock == rejected,
                  "%zu CommandRejected (%zu insufficient_stock), expected %d", rejected, short_of_stock,
                  THREADS * RESERVES_PER_THREAD - STOCK);
    harness_check(f->harness, on_hand == STOCK && stock_reserved == STOCK,
                  "WH-1 holds %lld on hand, %lld reserved; expected %d and %d", (long long)on_hand,
                  (long long)stock_reserved, STOCK, STOCK);
    harness_check(f->harness, shards == PARTITIONS, "shards: %s", f->harness->error);
    fprintf(stderr,
            "race: %d threads sent %d reserves in %lld ms, all decided %lld ms later; %zu events; total %lld "
            "ms\n",
            THREADS, THREADS * RESERVES_PER_THREAD, (long long)(produced_ms - race_started_ms),
            (long long)(decided_ms - produced_ms), events, (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_race_for_the_last_units_never_oversells, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
