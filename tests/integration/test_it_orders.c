/* test_it_orders.c - orders across SKUs on the real broker: all lines reserved or none held.
 *
 * 200 orders of 3-5 lines over 20 SKUs whose stock covers about a quarter of the demand are written to
 * <prefix>.orders at a steady rate (many in flight at once, competing for the same units). Afterwards every
 * order is confirmed or rejected exactly once, a confirmed order holds exactly its lines, a rejected one
 * holds nothing, no SKU is oversold, and no command was decided twice; then stockctl verify's check
 * (verify_run) agrees, the order stage's shards included. The second case kills stockd (the order stage and
 * the handler) with SIGKILL twice mid-run and restarts it. Two more cases: the saga's deadline, and a
 * confirmed order whose reservations expire. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "domain/codec.h"
#include "domain/order_codec.h"
#include "harness.h"
#include "kafka/murmur2.h"
#include "verify.h"

#define PARTITIONS        6
#define SKUS              20
#define ORDERS            200
#define STOCK_PER_SKU     20 /* demand is about 200 * 4 * 2 / 20 = 80 units per SKU */
#define LOCATION          "WH-1"
#define SEND_PER_TICK     5 /* with TICK_MS: 50 orders/s, 4 s of orders */
#define TICK_MS           100
#define WAIT_MS           60000
#define SETTLE_TIMEOUT_MS 300000 /* generous: two restarts, each waiting out a transaction timeout */
#define EXPIRY_TTL_S      2      /* the expiring order's: short, yet longer than placing it takes */

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    struct harness_reader *orders;
    struct harness_reader *events;
    struct order_input *placed; /* ORDERS of them */
    pthread_t producer_thread;
    bool producer_started;
    atomic_bool producer_stop;
    atomic_int producer_status; /* 0 running, 1 done, -1 failed */
    /* The kills the run makes and has made: the last quarter of the orders waits for every kill, so that each
     * one lands while orders are still coming (orders that settle fast had all finished before the second).
     */
    int kills_planned;
    atomic_int kills_done;
    /* What the orders topic said about each order: final events seen, and the last one. */
    int finals[ORDERS];
    enum order_event_type final_event[ORDERS];
    struct order_state final_state[ORDERS];
    int deadlines;         /* OrderDeadline records seen */
    size_t orders_scanned; /* records of the orders reader looked at */
    int finished;          /* orders with at least one final event */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->placed = calloc(ORDERS, sizeof(*f->placed));
    f->harness = harness_create("orders", PARTITIONS);
    if (f->harness == NULL || f->placed == NULL) {
        harness_destroy(f->harness);
        free(f->placed);
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
    harness_reader_destroy(f->orders);
    harness_reader_destroy(f->events);
    harness_destroy(f->harness);
    free(f->placed);
    free(f);
    return 0;
}

static void sku_name(int index, char *out, size_t out_bytes)
{
    snprintf(out, out_bytes, "ord-sku-%02d", index);
}

/* Creates the SKUs with their scarce stock, through <prefix>.commands, and waits until they are decided. */
static void stock_create(struct fixture *f)
{
    rd_kafka_t *producer = harness_producer_create(f->harness);
    harness_check(f->harness, producer != NULL, "%s", f->harness->error);
    struct harness_ids ids = {0};
    for (int i = 0; i < SKUS; i++) {
        char sku[16];
        char id[32];
        struct command command;
        sku_name(i, sku, sizeof(sku));
        snprintf(id, sizeof(id), "setup-create-%02d", i);
        harness_command_create_sku(&command, id, sku, "Order test SKU", 0);
        harness_check(f->harness, harness_produce_command(f->harness, producer, &command, sku) == 0,
                      "produce");
        harness_ids_add(&ids, id);
        snprintf(id, sizeof(id), "setup-receive-%02d", i);
        harness_command_receive(&command, id, sku, LOCATION, STOCK_PER_SKU);
        harness_check(f->harness, harness_produce_command(f->harness, producer, &command, sku) == 0,
                      "produce");
        harness_ids_add(&ids, id);
    }
    harness_check(f->harness, harness_producer_flush(producer, WAIT_MS) == 0, "flush setup commands");
    harness_producer_destroy(producer);
    harness_check(f->harness,
                  harness_reader_wait_ids(f->harness, f->events, (const char *const *)ids.items, ids.count,
                                          WAIT_MS) == 0,
                  "setup commands not decided: %s", f->harness->error);
    harness_ids_free(&ids);
}

/* Draws the orders: 3-5 distinct SKUs each, 1-3 units a line, reservations that never expire. */
static void orders_generate(struct fixture *f)
{
    uint64_t seed = 0x0bde25eedULL;
    for (int i = 0; i < ORDERS; i++) {
        struct order_input *input = &f->placed[i];
        memset(input, 0, sizeof(*input));
        input->type = ORDER_INPUT_PLACE;
        snprintf(input->order_id, sizeof(input->order_id), "o-%03d", i);
        input->submitted_ms = (int64_t)time(NULL) * 1000;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        input->line_count = 3 + (uint32_t)((seed >> 33) % 3);
        bool used[SKUS] = {0};
        for (uint32_t line = 0; line < input->line_count; line++) {
            int sku;
            do {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                sku = (int)((seed >> 33) % SKUS);
            } while (used[sku]);
            used[sku] = true;
            sku_name(sku, input->lines[line].sku, sizeof(input->lines[line].sku));
            snprintf(input->lines[line].location, sizeof(input->lines[line].location), "%s", LOCATION);
            input->lines[line].quantity = 1 + (int64_t)((seed >> 40) % 3);
        }
    }
}

/* The client: writes PlaceOrder records at a steady rate, keyed by order id, whatever happens to stockd. */
static void *producer_run(void *argument)
{
    struct fixture *f = argument;
    rd_kafka_t *producer = harness_producer_create(f->harness);
    int status = producer == NULL ? -1 : 0;
    for (int i = 0; i < ORDERS && status == 0 && !atomic_load(&f->producer_stop); i++) {
        while (i >= ORDERS * 3 / 4 && atomic_load(&f->kills_done) < f->kills_planned &&
               !atomic_load(&f->producer_stop)) {
            struct timespec pause = {0, TICK_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
        const struct order_input *input = &f->placed[i];
        char *json = order_codec_input_encode(input);
        int32_t partition = murmur2_partition(input->order_id, strlen(input->order_id), PARTITIONS);
        status = json == NULL ? -1
                              : harness_produce(producer, f->harness->topics.orders, partition,
                                                input->order_id, strlen(input->order_id), json, strlen(json));
        free(json);
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

/* Reads the orders topic and notes every order's final events. */
static void orders_scan(struct fixture *f)
{
    harness_check(f->harness, harness_reader_poll(f->orders, 100) >= 0, "reading orders");
    for (; f->orders_scanned < f->orders->count; f->orders_scanned++) {
        const struct harness_record *record = &f->orders->records[f->orders_scanned];
        static struct order_record decoded;
        struct codec_error error;
        harness_check(f->harness,
                      record->value != NULL && order_codec_record_decode(record->value, record->value_bytes,
                                                                         &decoded, &error) == 0,
                      "orders [%d] offset %lld is not an order record: %s", (int)record->partition,
                      (long long)record->offset, record->value ? error.message : "empty");
        f->deadlines += decoded.input.type == ORDER_INPUT_DEADLINE;
        if (decoded.event == ORDER_EVENT_NONE) continue;
        int index = atoi(decoded.order.order_id + 2);
        harness_check(f->harness, index >= 0 && index < ORDERS, "an event of an unknown order %s",
                      decoded.order.order_id);
        if (f->finals[index]++ == 0) f->finished++;
        f->final_event[index] = decoded.event;
        f->final_state[index] = decoded.order;
    }
}

/* Waits until at least count orders have finished (stockd must stay up meanwhile). */
static void orders_wait_finished(struct fixture *f, int count, int timeout_ms)
{
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    while (f->finished < count) {
        harness_check(f->harness, harness_now_ms() < deadline_ms, "only %d of %d orders finished",
                      f->finished, count);
        harness_check(f->harness, harness_stockd_running(f->stockd), "stockd exited by itself");
        harness_check(f->harness, atomic_load(&f->producer_status) >= 0, "producing orders failed");
        orders_scan(f);
    }
}

/* The invariants, from the topics alone. */
static void orders_check(struct fixture *f)
{
    while (harness_reader_poll(f->events, 1000) > 0) {
    }
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "events fold: %s", f->harness->error);
    int64_t held[SKUS] = {0};
    int confirmed = 0;
    for (int i = 0; i < ORDERS; i++) {
        const struct order_input *input = &f->placed[i];
        harness_check(f->harness, f->finals[i] == 1, "order %s has %d final events", input->order_id,
                      f->finals[i]);
        bool is_confirmed = f->final_event[i] == ORDER_EVENT_CONFIRMED;
        harness_check(f->harness, is_confirmed || f->final_event[i] == ORDER_EVENT_REJECTED,
                      "order %s ended %s", input->order_id, order_event_type_name(f->final_event[i]));
        confirmed += is_confirmed;
        for (uint32_t line = 0; line < input->line_count; line++) {
            char reservation_id[STOCKD_ID_BYTES_MAX + 1];
            order_reservation_id(input->order_id, line, reservation_id, sizeof(reservation_id));
            const struct reservation_state *reservation =
                harness_fold_reservation(fold, input->lines[line].sku, reservation_id);
            bool active = reservation != NULL && reservation->status == RESERVATION_ACTIVE;
            harness_check(f->harness, active == is_confirmed, "order %s (%s) line %u: reservation %s",
                          input->order_id, is_confirmed ? "confirmed" : "rejected", line,
                          reservation == NULL ? "absent"
                          : active            ? "active"
                                              : "not active");
            if (!is_confirmed) {
                harness_check(f->harness, f->final_state[i].lines[line].status != ORDER_LINE_RESERVED,
                              "rejected order %s says line %u is reserved", input->order_id, line);
                continue;
            }
            harness_check(f->harness,
                          reservation->quantity == input->lines[line].quantity &&
                              strcmp(reservation->location, LOCATION) == 0,
                          "order %s line %u holds %lld at %s", input->order_id, line,
                          (long long)reservation->quantity, reservation->location);
            held[atoi(input->lines[line].sku + strlen("ord-sku-"))] += input->lines[line].quantity;
        }
    }
    for (int i = 0; i < SKUS; i++) {
        char sku[16];
        sku_name(i, sku, sizeof(sku));
        const struct sku_state *state = harness_fold_sku(fold, sku);
        harness_check(f->harness, state != NULL && state->location_count == 1, "SKU %s has no stock", sku);
        harness_check(f->harness,
                      state->locations[0].on_hand == STOCK_PER_SKU &&
                          state->locations[0].reserved == held[i] && held[i] <= STOCK_PER_SKU,
                      "SKU %s: on hand %lld, reserved %lld, confirmed orders hold %lld", sku,
                      (long long)state->locations[0].on_hand, (long long)state->locations[0].reserved,
                      (long long)held[i]);
    }
    fprintf(stderr, "orders: %d confirmed, %d rejected, %zu events\n", confirmed, ORDERS - confirmed,
            harness_fold_total_events(fold));
    harness_check(f->harness, confirmed > 0 && confirmed < ORDERS, "scarce stock confirms some, not all: %d",
                  confirmed);
    harness_fold_destroy(fold);
}

/* Runs verify_run over data_dir into report; its scratch directory is named after what (unique per run). */
static void verify_over(struct fixture *f, const char *data_dir, const char *what, int32_t saga_timeout_ms,
                        struct verify_report *report)
{
    struct stockd_config config;
    stockd_config_defaults(&config);
    snprintf(config.kafka_bootstrap, sizeof(config.kafka_bootstrap), "%s", f->harness->bootstrap);
    snprintf(config.topic_prefix, sizeof(config.topic_prefix), "%s", f->harness->prefix);
    snprintf(config.data_dir, sizeof(config.data_dir), "%s", data_dir);
    snprintf(config.instance_id, sizeof(config.instance_id), "%s", f->stockd->instance_id);
    config.partitions = PARTITIONS;
    config.orders_saga_timeout_ms = saga_timeout_ms;
    char scratch[HARNESS_PATH_BYTES_MAX + 64];
    snprintf(scratch, sizeof(scratch), "%s/verify-scratch-%s", f->harness->root_dir, what);
    harness_check(f->harness, mkdir(scratch, 0700) == 0, "mkdir %s: %s", scratch, strerror(errno));
    char error[512] = "";
    atomic_bool stop = false;
    harness_check(f->harness, verify_run(&config, scratch, &stop, report, error, sizeof(error)) == 0,
                  "verify_run could not run: %s", error);
    for (size_t i = 0; i < report->kept; i++)
        fprintf(stderr, "orders: verify difference %zu: %s\n", i + 1, report->differences_kept[i]);
    harness_check(f->harness, report->differences == 0, "verify_run: %llu differences (%zu printed above)",
                  (unsigned long long)report->differences, report->kept);
}

/* stockctl verify's check (verify_run) over the stopped stockd: its own fold of events agrees with the
 * handler's shards, its own fold of orders finds every order settled as its lines' events say, and the
 * order stage's shards equal that fold. orders_data_dir is the order stage's when it ran in an instance
 * of its own (a second run of verify over it), NULL when f->stockd ran it. */
static void orders_verify(struct fixture *f, uint64_t orders, int32_t saga_timeout_ms,
                          const char *orders_data_dir)
{
    static struct verify_report report;
    int64_t started_ms = harness_now_ms();
    verify_over(f, f->stockd->data_dir, "stockd", saga_timeout_ms, &report);
    harness_check(f->harness,
                  report.orders_checked && report.orders.orders == orders && report.orders.in_flight == 0 &&
                      report.orders.confirmed + report.orders.rejected == orders,
                  "verify_run: %llu orders, %llu confirmed, %llu rejected, %llu in flight",
                  (unsigned long long)report.orders.orders, (unsigned long long)report.orders.confirmed,
                  (unsigned long long)report.orders.rejected, (unsigned long long)report.orders.in_flight);
    /* The order stage's shards under data_dir were compared too, every order of them with the fold. */
    if (orders_data_dir != NULL) verify_over(f, orders_data_dir, "orders", saga_timeout_ms, &report);
    harness_check(f->harness,
                  report.orders.shards_compared > 0 &&
                      (report.orders.shards_behind > 0 || report.orders.shard_orders_compared == orders),
                  "verify_run: %d order stage shard(s) compared (%d behind), %llu orders of them",
                  (int)report.orders.shards_compared, (int)report.orders.shards_behind,
                  (unsigned long long)report.orders.shard_orders_compared);
    fprintf(stderr,
            "orders: verify_run folded %llu events and %llu orders records, compared %d order stage shard(s) "
            "(%llu orders, %d behind) in %lld ms: 0 differences\n",
            (unsigned long long)report.events, (unsigned long long)report.orders.records,
            (int)report.orders.shards_compared, (unsigned long long)report.orders.shard_orders_compared,
            (int)report.orders.shards_behind, (long long)(harness_now_ms() - started_ms));
}

static void orders_run(struct fixture *f, int kills)
{
    int64_t started_ms = harness_now_ms();
    static const char *const args[] = {"--roles=router,handler,orders", NULL};
    f->stockd = harness_stockd_new(f->harness, "a", args);
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    f->orders = harness_reader_create(f->harness, f->harness->topics.orders);
    harness_check(f->harness, f->events != NULL && f->orders != NULL, "%s", f->harness->error);
    stock_create(f);
    orders_generate(f);
    f->kills_planned = kills;
    harness_check(f->harness, pthread_create(&f->producer_thread, NULL, producer_run, f) == 0, "thread");
    f->producer_started = true;
    for (int kill = 1; kill <= kills; kill++) {
        orders_wait_finished(f, ORDERS * kill / (kills + 2), SETTLE_TIMEOUT_MS);
        harness_stockd_kill(f->stockd);
        fprintf(stderr, "orders: kill %d (SIGKILL) after %d orders finished\n", kill, f->finished);
        harness_check(f->harness, f->finished < ORDERS, "kill %d came after every order had finished", kill);
        atomic_fetch_add(&f->kills_done, 1);
        harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "restart %d", kill);
    }
    orders_wait_finished(f, ORDERS, SETTLE_TIMEOUT_MS);
    pthread_join(f->producer_thread, NULL);
    f->producer_started = false;
    harness_check(f->harness, atomic_load(&f->producer_status) == 1, "producing orders failed");
    int64_t settled_ms = harness_now_ms();
    /* Late duplicates would show up now: give the stage a moment, then read everything again. */
    harness_sleep_ms(1000);
    orders_scan(f);
    orders_check(f);
    fprintf(stderr, "orders: %d orders settled in %lld ms (%d kill(s))\n", ORDERS,
            (long long)(settled_ms - started_ms), kills);
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "clean stop");
    orders_verify(f, ORDERS, 30000, NULL);
    f->harness->passed = true;
}

static void test_concurrent_orders_end_all_or_nothing(void **state)
{
    orders_run(*state, 0);
}

static void test_orders_survive_two_kills_of_stage_and_handler(void **state)
{
    orders_run(*state, 2);
}

/* Writes one PlaceOrder, submitted now, to its partition of orders. */
static void order_produce(struct fixture *f, struct order_input *input)
{
    input->submitted_ms = (int64_t)time(NULL) * 1000;
    rd_kafka_t *producer = harness_producer_create(f->harness);
    harness_check(f->harness, producer != NULL, "%s", f->harness->error);
    char *json = order_codec_input_encode(input);
    int32_t partition = murmur2_partition(input->order_id, strlen(input->order_id), PARTITIONS);
    harness_check(f->harness,
                  json != NULL &&
                      harness_produce(producer, f->harness->topics.orders, partition, input->order_id,
                                      strlen(input->order_id), json, strlen(json)) == 0 &&
                      harness_producer_flush(producer, WAIT_MS) == 0,
                  "produce the order");
    free(json);
    harness_producer_destroy(producer);
}

/* The saga's timeout: the order stage runs alone (no handler), so its reserves wait in commands.by-sku; after
 * orders.saga_timeout_ms it sends OrderDeadline and a release per line. Once a handler runs, it decides the
 * reserves (late, but granted) and then the releases: the order ends rejected for timeout with every line
 * released, and no unit held. */
static void test_deadline_releases_lines_granted_late(void **state)
{
    struct fixture *f = *state;
    static const char *const handler_args[] = {"--roles=router,handler", NULL};
    static const char *const stage_args[] = {"--roles=orders", "--orders.saga_timeout_ms=1000", NULL};
    struct harness_stockd *handler = harness_stockd_new(f->harness, "h", handler_args);
    struct harness_stockd *stage = harness_stockd_new(f->harness, "o", stage_args);
    harness_check(f->harness, harness_stockd_start(handler) == 0, "start the handler");
    harness_check(f->harness, harness_stockd_wait_ready(handler, WAIT_MS) == 0, "handler not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    f->orders = harness_reader_create(f->harness, f->harness->topics.orders);
    harness_check(f->harness, f->events != NULL && f->orders != NULL, "%s", f->harness->error);
    stock_create(f);
    harness_check(f->harness, harness_stockd_stop(handler, WAIT_MS) == 0, "stop the handler");
    f->stockd = stage;
    harness_check(f->harness, harness_stockd_start(stage) == 0, "start the order stage");
    harness_check(f->harness,
                  harness_stockd_wait_stage_line(stage, "orders", "assigned partitions", WAIT_MS, NULL, 0) ==
                      0,
                  "order stage not assigned");
    orders_generate(f);
    struct order_input *input = &f->placed[0];
    order_produce(f, input);
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    while (f->deadlines == 0) {
        harness_check(f->harness, harness_now_ms() < deadline_ms, "no OrderDeadline within %d ms", WAIT_MS);
        harness_check(f->harness, harness_stockd_running(stage), "the order stage exited");
        orders_scan(f);
    }
    harness_check(f->harness, f->finished == 0, "the order finished without a handler");
    harness_check(f->harness, harness_stockd_start(handler) == 0, "restart the handler");
    deadline_ms = harness_now_ms() + WAIT_MS;
    while (f->finished == 0) {
        harness_check(f->harness, harness_now_ms() < deadline_ms, "the order did not finish within %d ms",
                      WAIT_MS);
        harness_check(f->harness, harness_stockd_running(handler), "the handler exited");
        orders_scan(f);
    }
    const struct order_state *order = &f->final_state[0];
    harness_check(f->harness,
                  f->final_event[0] == ORDER_EVENT_REJECTED && strcmp(order->reason, "timeout") == 0,
                  "order ended %s (%s)", order_event_type_name(f->final_event[0]), order->reason);
    while (harness_reader_poll(f->events, 1000) > 0) {
    }
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "events fold: %s", f->harness->error);
    for (uint32_t line = 0; line < input->line_count; line++) {
        harness_check(f->harness,
                      order->lines[line].status == ORDER_LINE_RELEASED &&
                          strcmp(order->lines[line].reason, "timeout") == 0,
                      "line %u ended %s (%s)", line, order_line_status_name(order->lines[line].status),
                      order->lines[line].reason);
        char reservation_id[STOCKD_ID_BYTES_MAX + 1];
        order_reservation_id(input->order_id, line, reservation_id, sizeof(reservation_id));
        const struct reservation_state *reservation =
            harness_fold_reservation(fold, input->lines[line].sku, reservation_id);
        harness_check(f->harness, reservation != NULL && reservation->status == RESERVATION_RELEASED,
                      "line %u: reservation %s", line, reservation == NULL ? "absent" : "not released");
        const struct sku_state *sku = harness_fold_sku(fold, input->lines[line].sku);
        harness_check(f->harness, sku != NULL && sku->locations[0].reserved == 0, "SKU %s holds units",
                      input->lines[line].sku);
    }
    harness_fold_destroy(fold);
    f->stockd = handler;
    harness_check(f->harness, harness_stockd_stop(stage, WAIT_MS) == 0, "clean stop of the order stage");
    harness_check(f->harness, harness_stockd_stop(handler, WAIT_MS) == 0, "clean stop of the handler");
    orders_verify(f, 1, 1000, stage->data_dir);
    f->harness->passed = true;
}

/* Waits until order 0's last event is want (stockd must stay up meanwhile). */
static void order_wait_event(struct fixture *f, enum order_event_type want)
{
    int64_t deadline_ms = harness_now_ms() + WAIT_MS;
    while (f->final_event[0] != want) {
        harness_check(f->harness, harness_now_ms() < deadline_ms, "order %s did not reach %s within %d ms",
                      f->placed[0].order_id, order_event_type_name(want), WAIT_MS);
        harness_check(f->harness, harness_stockd_running(f->stockd), "stockd exited by itself");
        orders_scan(f);
    }
}

/* A confirmed order whose reservations' ttl runs out: the handler expires a line's reservation, the order
 * stage follows it, releases the lines still held and writes OrderExpired. Afterwards no unit is held for
 * the order, every line is expired or released, and stockctl verify's fold agrees. */
static void test_confirmed_order_expires_with_nothing_held(void **state)
{
    struct fixture *f = *state;
    static const char *const args[] = {"--roles=router,handler,orders", "--handler.punctuate_interval_ms=100",
                                       NULL};
    f->stockd = harness_stockd_new(f->harness, "a", args);
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    f->orders = harness_reader_create(f->harness, f->harness->topics.orders);
    harness_check(f->harness, f->events != NULL && f->orders != NULL, "%s", f->harness->error);
    stock_create(f);
    orders_generate(f);
    struct order_input *input = &f->placed[0];
    input->ttl_s = EXPIRY_TTL_S;
    order_produce(f, input);
    order_wait_event(f, ORDER_EVENT_CONFIRMED);
    int64_t confirmed_ms = harness_now_ms();
    order_wait_event(f, ORDER_EVENT_EXPIRED);
    fprintf(stderr, "orders: a %u-line order with ttl %d s expired %lld ms after it was confirmed\n",
            (unsigned)input->line_count, EXPIRY_TTL_S, (long long)(harness_now_ms() - confirmed_ms));
    harness_check(f->harness, f->finals[0] == 2,
                  "order %s has %d events, not OrderConfirmed and OrderExpired", input->order_id,
                  f->finals[0]);
    const struct order_state *order = &f->final_state[0];
    harness_check(f->harness,
                  order->status == ORDER_STATUS_EXPIRED && strcmp(order->reason, "line_expired") == 0,
                  "order ended %s (%s)", order_status_name(order->status), order->reason);
    while (harness_reader_poll(f->events, 1000) > 0) {
    }
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "events fold: %s", f->harness->error);
    int expired_lines = 0;
    for (uint32_t line = 0; line < input->line_count; line++) {
        enum order_line_status status = order->lines[line].status;
        expired_lines += status == ORDER_LINE_EXPIRED;
        harness_check(f->harness, status == ORDER_LINE_EXPIRED || status == ORDER_LINE_RELEASED,
                      "line %u ended %s (%s)", line, order_line_status_name(status),
                      order->lines[line].reason);
        char reservation_id[STOCKD_ID_BYTES_MAX + 1];
        order_reservation_id(input->order_id, line, reservation_id, sizeof(reservation_id));
        const struct reservation_state *reservation =
            harness_fold_reservation(fold, input->lines[line].sku, reservation_id);
        harness_check(f->harness, reservation != NULL && reservation->status != RESERVATION_ACTIVE,
                      "line %u: reservation %s", line, reservation == NULL ? "absent" : "still active");
        const struct sku_state *sku = harness_fold_sku(fold, input->lines[line].sku);
        harness_check(f->harness, sku != NULL && sku->locations[0].reserved == 0, "SKU %s holds units",
                      input->lines[line].sku);
    }
    harness_check(f->harness, expired_lines == 1, "%d lines say expired, not the one that ended the order",
                  expired_lines);
    harness_fold_destroy(fold);
    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "clean stop");
    orders_verify(f, 1, 30000, NULL);
    f->harness->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_orders_end_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_survive_two_kills_of_stage_and_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_releases_lines_granted_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmed_order_expires_with_nothing_held, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
