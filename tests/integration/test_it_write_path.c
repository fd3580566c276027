/* test_it_write_path.c - the write path end to end on a real broker: commands in, events out, bad input
 * to the DLQ, shards equal to the fold of the events topic.
 *
 * One stockd (router + handler), three partitions. Commands go in phases whose outcomes do not depend on
 * the order in which the router reads the partitions of <prefix>.commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/codec.h"
#include "harness.h"
#include "kafka/murmur2.h"
#include "store/shard.h"

#define PARTITIONS     3
#define WAIT_MS        60000
#define EXPIRY_WAIT_MS 30000

struct fixture {
    struct harness *harness;
    struct harness_stockd *stockd;
    rd_kafka_t *producer;
    struct harness_reader *events;
    struct harness_ids sent; /* every valid command id: each must be decided exactly once */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->harness = harness_create("write_path", PARTITIONS);
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
    harness_producer_destroy(f->producer);
    harness_ids_free(&f->sent);
    harness_destroy(f->harness);
    free(f);
    return 0;
}

/* Produces a command and remembers its id as one that must be decided. */
static void command_send(struct fixture *f, const struct command *command)
{
    harness_check(f->harness, harness_produce_command(f->harness, f->producer, command, NULL) == 0,
                  "produce %s", command->command_id);
    harness_ids_add(&f->sent, command->command_id);
}

/* Waits until every command sent so far is decided: the next phase may depend on their outcomes. */
static void phase_wait(struct fixture *f, const char *phase)
{
    harness_check(f->harness, harness_producer_flush(f->producer, WAIT_MS) == 0, "%s: flush", phase);
    int64_t started_ms = harness_now_ms();
    int status = harness_reader_wait_ids(f->harness, f->events, (const char *const *)f->sent.items,
                                         f->sent.count, WAIT_MS);
    harness_check(f->harness, status == 0, "%s: %s", phase, f->harness->error);
    fprintf(stderr, "write_path: %s decided in %lld ms\n", phase, (long long)(harness_now_ms() - started_ms));
}

static void expect_rejected(struct fixture *f, const struct harness_fold *fold, const char *id,
                            enum reject_reason reason)
{
    const struct harness_decision *decision = harness_fold_decision(fold, id);
    harness_check(f->harness, decision != NULL, "%s: no decision", id);
    harness_check(f->harness, decision->reject_reason == reason, "%s: reason %s, expected %s", id,
                  domain_reject_reason_code(decision->reject_reason), domain_reject_reason_code(reason));
}

static void expect_accepted(struct fixture *f, const struct harness_fold *fold, const char *id,
                            enum event_type type)
{
    const struct harness_decision *decision = harness_fold_decision(fold, id);
    harness_check(f->harness, decision != NULL, "%s: no decision", id);
    harness_check(f->harness, decision->first_type == type && decision->event_count == 1,
                  "%s: %s x%u, expected one %s (rejected: %s)", id,
                  domain_event_type_name(decision->first_type), decision->event_count,
                  domain_event_type_name(type), domain_reject_reason_code(decision->reject_reason));
}

static void expect_stock(struct fixture *f, const struct harness_fold *fold, const char *sku,
                         const char *location, int64_t on_hand, int64_t reserved)
{
    const struct sku_state *state = harness_fold_sku(fold, sku);
    harness_check(f->harness, state != NULL && state->exists, "SKU %s missing", sku);
    const struct location_stock *stock = domain_location_find(state, location);
    harness_check(f->harness, stock != NULL, "SKU %s has no location %s", sku, location);
    harness_check(f->harness, stock->on_hand == on_hand && stock->reserved == reserved,
                  "SKU %s at %s: on_hand %lld reserved %lld, expected %lld %lld", sku, location,
                  (long long)stock->on_hand, (long long)stock->reserved, (long long)on_hand,
                  (long long)reserved);
}

/* Creates, receives, reserves (one with a 1 s expiry), and the rejections whose reason does not depend
 * on the order within a phase. */
static void phases_domain(struct fixture *f)
{
    struct command c;
    harness_command_create_sku(&c, "c-create-a", "IT-A", "Blue mug, 350 ml", 5);
    command_send(f, &c);
    harness_command_create_sku(&c, "c-create-b", "IT-B", "Sencha 100 g", 0);
    command_send(f, &c);
    harness_command_receive(&c, "c-receive-unknown", "IT-NOPE", "WH-1", 5);
    command_send(f, &c);
    phase_wait(f, "phase 1 (create)");

    harness_command_receive(&c, "c-receive-a", "IT-A", "WH-1", 100);
    command_send(f, &c);
    harness_command_receive(&c, "c-receive-b", "IT-B", "WH-1", 10);
    command_send(f, &c);
    harness_command_create_sku(&c, "c-create-a-again", "IT-A", "Another mug", 0);
    command_send(f, &c);
    phase_wait(f, "phase 2 (receive)");

    harness_command_reserve(&c, "c-reserve-r1", "IT-A", "r1", "WH-1", 30, 0);
    command_send(f, &c);
    harness_command_reserve(&c, "c-reserve-r2", "IT-A", "r2", "WH-1", 20, 0);
    command_send(f, &c);
    harness_command_reserve(&c, "c-reserve-r4", "IT-A", "r4", "WH-1", 3, 1);
    command_send(f, &c);
    harness_command_reserve(&c, "c-reserve-b-big", "IT-B", "r3", "WH-1", 50, 0);
    command_send(f, &c);
    harness_command_reserve(&c, "c-reserve-r5", "IT-B", "r5", "WH-1", 5, 0);
    command_send(f, &c);
    harness_command_settle(&c, COMMAND_FULFIL_RESERVATION, "c-fulfil-unknown", "IT-A", "r-none");
    command_send(f, &c);
    phase_wait(f, "phase 3 (reserve)");

    harness_command_settle(&c, COMMAND_RELEASE_RESERVATION, "c-release-r1", "IT-A", "r1");
    command_send(f, &c);
    harness_command_settle(&c, COMMAND_FULFIL_RESERVATION, "c-fulfil-r2", "IT-A", "r2");
    command_send(f, &c);
    harness_command_transfer(&c, "c-transfer-a", "IT-A", "WH-1", "WH-2", 25);
    command_send(f, &c);
    harness_command_adjust(&c, "c-adjust-a", "IT-A", "WH-1", false, -5, "broken in handling");
    command_send(f, &c);
    harness_command_adjust(&c, "c-count-b", "IT-B", "WH-1", true, 7, "cycle count");
    command_send(f, &c);
    phase_wait(f, "phase 4 (settle, transfer, adjust)");

    harness_command_settle(&c, COMMAND_RELEASE_RESERVATION, "c-release-r1-again", "IT-A", "r1");
    command_send(f, &c);
    harness_command_transfer(&c, "c-transfer-same", "IT-A", "WH-2", "WH-2", 1);
    command_send(f, &c);
    harness_command_adjust(&c, "c-adjust-too-much", "IT-A", "WH-2", false, -1000, "lost");
    command_send(f, &c);
    harness_command_reserve(&c, "c-reserve-r1-again", "IT-A", "r1", "WH-1", 1, 0);
    command_send(f, &c);
    harness_command_adjust(&c, "c-count-b-low", "IT-B", "WH-1", true, 2, "recount");
    command_send(f, &c);
    phase_wait(f, "phase 5 (rejections)");
}

/* A command id sent again (same payload) yields nothing new; the fold refuses a second decision. */
static void phase_repeat(struct fixture *f)
{
    struct command c;
    harness_command_receive(&c, "c-receive-a", "IT-A", "WH-1", 100);
    harness_check(f->harness, harness_produce_command(f->harness, f->producer, &c, NULL) == 0, "produce");
    harness_command_receive(&c, "c-receive-b-after-repeat", "IT-B", "WH-3", 1);
    command_send(f, &c);
    phase_wait(f, "phase 6 (repeated id)");
}

struct bad_record {
    const char *name;
    const char *value; /* NULL: an empty record */
    size_t value_bytes;
};

static const char garbage[] = "\x00\xff\xfe not json at all {";
static const char wrong_schema[] = "{\"hello\":\"world\",\"answer\":42}";
static const char unknown_type[] =
    "{\"command_id\":\"c-unknown-type\",\"type\":\"SellStock\",\"sku\":\"IT-A\",\"data\":{\"quantity\":1}}";
/* The order stage's ids: a line command exactly as the stage makes it (valid on by-sku, never on commands),
 * and a client's command on an order line's reservation (valid nowhere). */
static const char order_line_command[] =
    "{\"command_id\":\"order:IT-ORDER:0:release\",\"type\":\"ReleaseReservation\",\"sku\":\"IT-A\","
    "\"data\":{\"reservation_id\":\"order:IT-ORDER:0\"}}";
static const char order_reservation[] =
    "{\"command_id\":\"c-order-reservation\",\"type\":\"ReleaseReservation\",\"sku\":\"IT-A\","
    "\"data\":{\"reservation_id\":\"order:IT-ORDER:0\"}}";
static const struct bad_record bad_records[] = {
    {"garbage", garbage, sizeof(garbage) - 1},
    {"empty", NULL, 0},
    {"wrong-schema", wrong_schema, sizeof(wrong_schema) - 1},
    {"unknown-type", unknown_type, sizeof(unknown_type) - 1},
    {"order-line-command", order_line_command, sizeof(order_line_command) - 1},
    {"order-reservation", order_reservation, sizeof(order_reservation) - 1},
};
#define BAD_RECORD_COUNT (sizeof(bad_records) / sizeof(bad_records[0]))

/* Bad input on commands, then a valid command that must still be decided; plus two records written to
 * by-sku, one on the wrong partition, one on an order's reservation, which the handler must dead-letter. */
static void phase_bad_input(struct fixture *f)
{
    for (size_t i = 0; i < BAD_RECORD_COUNT; i++) {
        int status = harness_produce(f->producer, f->harness->topics.commands, RD_KAFKA_PARTITION_UA,
                                     bad_records[i].name, strlen(bad_records[i].name), bad_records[i].value,
                                     bad_records[i].value_bytes);
        harness_check(f->harness, status == 0, "produce %s", bad_records[i].name);
    }
    struct command c;
    harness_command_create_sku(&c, "c-wrong-partition", "IT-A", "x", 0);
    char *value = codec_command_encode(&c);
    harness_check(f->harness, value != NULL, "encode");
    int32_t right = murmur2_partition("IT-A", 4, PARTITIONS);
    int status = harness_produce(f->producer, f->harness->topics.by_sku, (right + 1) % PARTITIONS, "IT-A", 4,
                                 value, strlen(value));
    free(value);
    harness_check(f->harness, status == 0, "produce to by-sku");
    /* Written to by-sku directly, on the right partition: the handler dead-letters it all the same. */
    status = harness_produce(f->producer, f->harness->topics.by_sku, right, "IT-A", 4, order_reservation,
                             sizeof(order_reservation) - 1);
    harness_check(f->harness, status == 0, "produce to by-sku");
    harness_command_create_sku(&c, "c-create-c", "IT-C", "Teapot", 1);
    command_send(f, &c);
    phase_wait(f, "phase 7 (bad input, then a valid command)");
}

/* Every bad record is in the DLQ with the reason headers. */
static void check_dlq(struct fixture *f)
{
    struct harness_reader *dlq = harness_reader_create(f->harness, f->harness->topics.dlq);
    harness_check(f->harness, dlq != NULL, "%s", f->harness->error);
    int status = harness_reader_wait_count(dlq, BAD_RECORD_COUNT + 2, WAIT_MS);
    harness_reader_poll(dlq, 1000); /* nothing more may come */
    size_t dlq_count = dlq->count;
    if (status != 0 || dlq_count != BAD_RECORD_COUNT + 2) {
        harness_reader_destroy(dlq);
        harness_fail(f->harness, "dlq holds %zu records, expected %zu", dlq_count, BAD_RECORD_COUNT + 2);
    }
    static const char *const required[] = {
        "stockd_error",        "stockd_error_field",      "stockd_stage",
        "stockd_source_topic", "stockd_source_partition", "stockd_source_offset"};
    size_t matched = 0;
    bool handler_seen = false;
    bool handler_order_seen = false;
    char problem[512] = "";
    for (size_t i = 0; i < dlq->count && problem[0] == '\0'; i++) {
        const struct harness_record *record = &dlq->records[i];
        for (size_t h = 0; h < sizeof(required) / sizeof(required[0]); h++) {
            if (harness_record_header(record, required[h]) == NULL)
                snprintf(problem, sizeof(problem), "dlq offset %lld has no header %s",
                         (long long)record->offset, required[h]);
        }
        if (problem[0] != '\0') break;
        const char *error = harness_record_header(record, "stockd_error");
        const char *stage = harness_record_header(record, "stockd_stage");
        const char *source = harness_record_header(record, "stockd_source_topic");
        fprintf(stderr, "write_path: dlq [%s] key %s from %s: %s (field \"%s\")\n", stage,
                record->key != NULL ? record->key : "-", source, error,
                harness_record_header(record, "stockd_error_field"));
        if (error[0] == '\0')
            snprintf(problem, sizeof(problem), "dlq offset %lld: empty stockd_error",
                     (long long)record->offset);
        if (strcmp(stage, "handler") == 0) {
            bool from_by_sku = strcmp(source, f->harness->topics.by_sku) == 0 && record->key != NULL &&
                               strcmp(record->key, "IT-A") == 0;
            if (strstr(error, "order stage") != NULL)
                handler_order_seen = from_by_sku;
            else
                handler_seen = from_by_sku;
            continue;
        }
        if (record->key != NULL && strncmp(record->key, "order-", 6) == 0 &&
            strstr(error, "order stage") == NULL)
            snprintf(problem, sizeof(problem), "dlq record %s: the reason does not name the order stage: %s",
                     record->key, error);
        if (strcmp(stage, "router") != 0 || strcmp(source, f->harness->topics.commands) != 0) {
            snprintf(problem, sizeof(problem), "dlq offset %lld: stage %s source %s",
                     (long long)record->offset, stage, source);
            break;
        }
        for (size_t b = 0; b < BAD_RECORD_COUNT; b++) {
            const struct bad_record *bad = &bad_records[b];
            if (record->key == NULL || strcmp(record->key, bad->name) != 0) continue;
            if (record->value_bytes != bad->value_bytes ||
                (bad->value_bytes > 0 && memcmp(record->value, bad->value, bad->value_bytes) != 0))
                snprintf(problem, sizeof(problem), "dlq record %s does not carry the original value",
                         bad->name);
            matched++;
        }
    }
    harness_reader_destroy(dlq);
    harness_check(f->harness, problem[0] == '\0', "%s", problem);
    harness_check(f->harness, matched == BAD_RECORD_COUNT, "%zu of %zu bad records found in the dlq", matched,
                  BAD_RECORD_COUNT);
    harness_check(f->harness, handler_seen, "the wrong-partition record is not in the dlq from the handler");
    harness_check(f->harness, handler_order_seen,
                  "the order-reservation record is not in the dlq from the handler");
}

static void check_fold(struct fixture *f, const struct harness_fold *fold)
{
    harness_check(f->harness, harness_fold_expect(f->harness, fold, &f->sent) == 0, "%s", f->harness->error);
    expect_accepted(f, fold, "c-create-a", EVENT_SKU_CREATED);
    expect_accepted(f, fold, "c-receive-a", EVENT_STOCK_RECEIVED);
    expect_accepted(f, fold, "c-reserve-r1", EVENT_STOCK_RESERVED);
    expect_accepted(f, fold, "c-release-r1", EVENT_RESERVATION_RELEASED);
    expect_accepted(f, fold, "c-fulfil-r2", EVENT_RESERVATION_FULFILLED);
    expect_accepted(f, fold, "c-transfer-a", EVENT_STOCK_TRANSFERRED);
    expect_accepted(f, fold, "c-adjust-a", EVENT_STOCK_ADJUSTED);
    expect_accepted(f, fold, "c-count-b", EVENT_STOCK_ADJUSTED);
    expect_accepted(f, fold, "c-create-c", EVENT_SKU_CREATED);
    expect_rejected(f, fold, "c-receive-unknown", REJECT_UNKNOWN_SKU);
    expect_rejected(f, fold, "c-create-a-again", REJECT_SKU_EXISTS);
    expect_rejected(f, fold, "c-reserve-b-big", REJECT_INSUFFICIENT_STOCK);
    expect_rejected(f, fold, "c-fulfil-unknown", REJECT_UNKNOWN_RESERVATION);
    expect_rejected(f, fold, "c-release-r1-again", REJECT_RESERVATION_NOT_ACTIVE);
    expect_rejected(f, fold, "c-transfer-same", REJECT_SAME_LOCATION);
    expect_rejected(f, fold, "c-adjust-too-much", REJECT_INSUFFICIENT_STOCK);
    expect_rejected(f, fold, "c-reserve-r1-again", REJECT_RESERVATION_EXISTS);
    expect_rejected(f, fold, "c-count-b-low", REJECT_BELOW_RESERVED);
    harness_check(f->harness, harness_fold_event_count(fold, EVENT_RESERVATION_EXPIRED) == 1,
                  "%zu ReservationExpired events, expected 1 (r4)",
                  harness_fold_event_count(fold, EVENT_RESERVATION_EXPIRED));
    /* IT-A: 100 in, r2 (20) shipped, 25 moved to WH-2, 5 broken; r1 released, r4 expired. */
    expect_stock(f, fold, "IT-A", "WH-1", 50, 0);
    expect_stock(f, fold, "IT-A", "WH-2", 25, 0);
    expect_stock(f, fold, "IT-B", "WH-1", 7, 5);
    expect_stock(f, fold, "IT-B", "WH-3", 1, 0);
    const struct sku_state *unknown = harness_fold_sku(fold, "IT-NOPE");
    harness_check(f->harness, unknown != NULL && !unknown->exists && unknown->sequence == 1,
                  "IT-NOPE: one numbered rejection and no SKU");
}

/* The checks themselves must catch what they are for: a repeated event, a missing decision, a shard that
 * differs from the fold by one (the reorder point: in every version of the shard schema). */
static void check_the_checks(struct fixture *f, const struct harness_fold *fold)
{
    struct harness_reader copy = *f->events; /* shallow: the records stay owned by f->events */
    copy.records = malloc((copy.count + 1) * sizeof(*copy.records));
    harness_check(f->harness, copy.records != NULL, "out of memory");
    memcpy(copy.records, f->events->records, copy.count * sizeof(*copy.records));
    copy.records[copy.count] = copy.records[copy.count / 2];
    copy.count++;
    struct harness_fold *repeated = harness_fold_create(f->harness, &copy, PARTITIONS);
    free(copy.records);
    harness_check(f->harness, repeated == NULL, "a repeated event went unnoticed");
    harness_fold_destroy(repeated);
    fprintf(stderr, "write_path: a repeated event is caught: %s\n", f->harness->error);

    struct harness_ids more = {0};
    for (size_t i = 0; i < f->sent.count; i++)
        harness_ids_add(&more, f->sent.items[i]);
    harness_ids_add(&more, "c-never-sent");
    int status = harness_fold_expect(f->harness, fold, &more);
    harness_ids_free(&more);
    harness_check(f->harness, status != 0, "a missing decision went unnoticed");

    char path[HARNESS_PATH_BYTES_MAX + 64];
    int32_t partition = harness_fold_decision(fold, "c-create-a")->partition;
    harness_check(f->harness, shard_path(f->stockd->data_dir, partition, path, sizeof(path)) == 0, "path");
    sqlite3 *db = NULL;
    status = sqlite3_open(path, &db) == SQLITE_OK
                 ? sqlite3_exec(db, "UPDATE skus SET reorder_point = reorder_point + 1 WHERE sku = 'IT-A'",
                                NULL, NULL, NULL)
                 : -1;
    sqlite3_close(db);
    harness_check(f->harness, status == SQLITE_OK, "tampering with %s", path);
    harness_check(f->harness, harness_shards_check(f->harness, fold, f->stockd->data_dir, true) < 0,
                  "a shard one off went unnoticed");
    fprintf(stderr, "write_path: a shard one off is caught: %s\n", f->harness->error);
}

/* Waits until the punctuator expired r4 (1 s ttl, 1 s punctuation). */
static void wait_expiry(struct fixture *f)
{
    int64_t deadline_ms = harness_now_ms() + EXPIRY_WAIT_MS;
    for (;;) {
        for (size_t i = 0; i < f->events->count; i++) {
            const char *type = harness_record_header(&f->events->records[i], "ce_type");
            if (type != NULL && strcmp(type, "stockd.ReservationExpired") == 0) return;
        }
        harness_check(f->harness, harness_now_ms() < deadline_ms, "r4 did not expire within %d ms",
                      EXPIRY_WAIT_MS);
        harness_reader_poll(f->events, 1000);
    }
}

static void test_write_path_end_to_end(void **state)
{
    struct fixture *f = *state;
    int64_t started_ms = harness_now_ms();
    f->stockd = harness_stockd_new(f->harness, "a", NULL);
    harness_check(f->harness, harness_stockd_start(f->stockd) == 0, "start stockd");
    harness_check(f->harness, harness_stockd_wait_ready(f->stockd, WAIT_MS) == 0, "stockd not ready");
    f->producer = harness_producer_create(f->harness);
    harness_check(f->harness, f->producer != NULL, "%s", f->harness->error);
    f->events = harness_reader_create(f->harness, f->harness->topics.events);
    harness_check(f->harness, f->events != NULL, "%s", f->harness->error);

    phases_domain(f);
    phase_repeat(f);
    phase_bad_input(f);
    wait_expiry(f);
    check_dlq(f);

    harness_check(f->harness, harness_stockd_stop(f->stockd, WAIT_MS) == 0, "stockd did not stop cleanly");
    harness_reader_poll(f->events, 2000); /* anything still in flight */
    struct harness_fold *fold = harness_fold_create(f->harness, f->events, PARTITIONS);
    harness_check(f->harness, fold != NULL, "%s", f->harness->error);
    check_fold(f, fold);
    int shards = harness_shards_check(f->harness, fold, f->stockd->data_dir, true);
    if (shards != PARTITIONS) {
        harness_fold_destroy(fold);
        harness_fail(f->harness, "shards: %s", f->harness->error);
    }
    check_the_checks(f, fold);
    size_t events = harness_fold_total_events(fold);
    harness_fold_destroy(fold);
    fprintf(stderr, "write_path: %zu commands, %zu events, %d shards equal the fold, %lld ms\n",
            f->sent.count, events, shards, (long long)(harness_now_ms() - started_ms));
    f->harness->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_path_end_to_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
