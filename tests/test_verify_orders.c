/* test_verify_orders.c - stockctl verify's orders check (src/verify_orders.c) on hand-built streams.
 *
 * A consistent history of events and orders records (an order confirmed, one rejected, one released, one
 * fulfilled, one in flight, one expired after it was confirmed, one expiring, one rejected for an expiry
 * while placing) passes with no difference; each variation breaks one thing the order saga
 * promises and must be reported, naming the order, its line and where. The order stage's shards, built
 * by folding a history as the stage does, equal verify's fold up to their checkpoints; a tampered one
 * (a wrong status, a wrong line, a checkpoint past the topic) does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/order.h"
#include "domain/order_codec.h"
#include "kafka/murmur2.h"
#include "store/order_store.h"
#include "verify_orders.h"

#define PARTITIONS      3
#define SUBMITTED_MS    1000000
#define SAGA_TIMEOUT_MS 30000
#define NOW_MS          (SUBMITTED_MS + 5000) /* within the saga timeout: the placing order is in flight */

/* What breaks in a variation of the consistent history. */
enum variation {
    CONSISTENT,
    CONFIRMED_LINE_REFUSED,        /* OrderConfirmed, but a line's ReserveStock was rejected */
    CONFIRMED_LINE_OTHER_QUANTITY, /* OrderConfirmed, but a line reserved another quantity */
    CONFIRMED_LINE_NEVER_DECIDED,  /* OrderConfirmed, but a line's ReserveStock is not on events */
    REJECTED_LINE_STILL_HELD,      /* OrderRejected, but a reserved line was never released */
    PLACING_PAST_TIMEOUT,          /* an order neither confirmed nor rejected long after its timeout */
    RELEASED_LINE_REFUSED,         /* OrderReleased says released, its release was rejected */
    FULFILLED_LINE_NEVER_DECIDED,  /* OrderFulfilled, but a line's fulfilment is not on events */
    CONFIRMED_LINE_RELEASED,       /* nobody asked, yet a confirmed order's line was released */
    CONFIRMED_TWICE,               /* two final events of one saga */
    UNKNOWN_ORDER_DECIDED,         /* a line command of an order never placed */
    CONFIRMED_LINE_PENDING,        /* OrderConfirmed with a line still pending */
    EXPIRED_LINE_STILL_HELD,       /* OrderExpired, but another line's release is not on events */
    EXPIRED_LINE_NEVER_EXPIRED,    /* OrderExpired says a line expired, but it was released */
    REJECTED_EXPIRED_LINE_HELD,    /* OrderRejected says a line expired, but it is still reserved */
    VARIATION_COUNT
};

struct fixture {
    char scratch_dir[64];
    struct verify_orders *orders;
    int64_t offsets[2][PARTITIONS]; /* next offset of events [0] and orders [1] */
    int differences;
    char first[512];
};

static void on_difference(void *context, const char *text)
{
    struct fixture *f = context;
    if (f->differences++ == 0) snprintf(f->first, sizeof(f->first), "%s", text);
}

static void fixture_open(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->scratch_dir, sizeof(f->scratch_dir), "/tmp/test_verify_orders-XXXXXX");
    assert_non_null(mkdtemp(f->scratch_dir));
    char error[256] = "";
    f->orders = verify_orders_create(f->scratch_dir, PARTITIONS, on_difference, f, error, sizeof(error));
    if (f->orders == NULL) fail_msg("%s", error);
}

static void fixture_close(struct fixture *f)
{
    verify_orders_destroy(f->orders);
    char path[128];
    snprintf(path, sizeof(path), "%s/verify-orders.db", f->scratch_dir);
    unlink(path);
    rmdir(f->scratch_dir);
}

static int32_t partition_of(const char *key)
{
    return murmur2_partition(key, strlen(key), PARTITIONS);
}

/* ---- events ----------------------------------------------------------------------------------------- */

/* Feeds an event of an order line's command (op), on its SKU's partition of events. */
static void line_event(struct fixture *f, enum event_type type, const char *order_id, uint32_t line,
                       const char *op, const char *sku, int64_t quantity, enum reject_reason reason)
{
    static struct event event;
    memset(&event, 0, sizeof(event));
    event.type = type;
    snprintf(event.sku, sizeof(event.sku), "%s", sku);
    snprintf(event.command_id, sizeof(event.command_id), "order:%s:%u:%s", order_id, (unsigned)line, op);
    if (type != EVENT_COMMAND_REJECTED) {
        snprintf(event.reservation_id, sizeof(event.reservation_id), "order:%s:%u", order_id, (unsigned)line);
        snprintf(event.location, sizeof(event.location), "WH-1");
        event.quantity = quantity;
    }
    event.reject_reason = reason;
    int32_t partition = partition_of(sku);
    char error[256] = "";
    if (verify_orders_event(f->orders, partition, f->offsets[0][partition]++, &event, error, sizeof(error)) !=
        0)
        fail_msg("%s", error);
}

/* Feeds the handler's ReservationExpired of an order line's reservation (its command id is the
 * punctuator's, not the order's). */
static void expired(struct fixture *f, const char *order_id, uint32_t line, const char *sku, int64_t quantity)
{
    static struct event event;
    memset(&event, 0, sizeof(event));
    event.type = EVENT_RESERVATION_EXPIRED;
    snprintf(event.sku, sizeof(event.sku), "%s", sku);
    snprintf(event.command_id, sizeof(event.command_id), "expire.%s.1000.1", sku);
    snprintf(event.reservation_id, sizeof(event.reservation_id), "order:%s:%u", order_id, (unsigned)line);
    snprintf(event.location, sizeof(event.location), "WH-1");
    event.quantity = quantity;
    int32_t partition = partition_of(sku);
    char error[256] = "";
    if (verify_orders_event(f->orders, partition, f->offsets[0][partition]++, &event, error, sizeof(error)) !=
        0)
        fail_msg("%s", error);
}

static void reserved(struct fixture *f, const char *order_id, uint32_t line, const char *sku,
                     int64_t quantity)
{
    line_event(f, EVENT_STOCK_RESERVED, order_id, line, "reserve", sku, quantity, REJECT_NONE);
}

static void refused(struct fixture *f, const char *order_id, uint32_t line, const char *op, const char *sku,
                    enum reject_reason reason)
{
    line_event(f, EVENT_COMMAND_REJECTED, order_id, line, op, sku, 0, reason);
}

/* ---- orders records --------------------------------------------------------------------------------- */

/* Two lines: SKU-<order>-0 quantity 1 and SKU-<order>-1 quantity 2, at WH-1. */
static struct order_input place_input(const char *order_id)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_PLACE;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.submitted_ms = SUBMITTED_MS;
    input.line_count = 2;
    for (uint32_t i = 0; i < 2; i++) {
        snprintf(input.lines[i].sku, sizeof(input.lines[i].sku), "SKU-%s-%u", order_id, (unsigned)i);
        snprintf(input.lines[i].location, sizeof(input.lines[i].location), "WH-1");
        input.lines[i].quantity = (int64_t)i + 1;
    }
    return input;
}

static const char *line_sku(const char *order_id, uint32_t line)
{
    static char sku[2][64];
    snprintf(sku[line], sizeof(sku[line]), "SKU-%s-%u", order_id, (unsigned)line);
    return sku[line];
}

/* Feeds a record (owned JSON) on the order's partition of orders. */
static void record_feed(struct fixture *f, const char *order_id, char *json)
{
    assert_non_null(json);
    int32_t partition = partition_of(order_id);
    char error[256] = "";
    if (verify_orders_record(f->orders, partition, f->offsets[1][partition]++, json, strlen(json), error,
                             sizeof(error)) != 0)
        fail_msg("%s", error);
    free(json);
}

static void placed(struct fixture *f, const char *order_id)
{
    struct order_input input = place_input(order_id);
    record_feed(f, order_id, order_codec_input_encode(&input));
}

static void asked(struct fixture *f, const char *order_id, enum order_input_type type)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = type;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    record_feed(f, order_id, order_codec_input_encode(&input));
}

/* Feeds an order event whose two lines have the given statuses and reasons. */
static void order_event(struct fixture *f, const char *order_id, enum order_event_type type,
                        enum order_status status, enum order_line_status line0, const char *reason0,
                        enum order_line_status line1, const char *reason1)
{
    struct order_input input = place_input(order_id);
    static struct order_state state;
    memset(&state, 0, sizeof(state));
    snprintf(state.order_id, sizeof(state.order_id), "%s", order_id);
    state.status = status;
    state.submitted_ms = input.submitted_ms;
    state.line_count = 2;
    const enum order_line_status statuses[2] = {line0, line1};
    const char *reasons[2] = {reason0, reason1};
    for (uint32_t i = 0; i < 2; i++) {
        snprintf(state.lines[i].sku, sizeof(state.lines[i].sku), "%s", input.lines[i].sku);
        snprintf(state.lines[i].location, sizeof(state.lines[i].location), "%s", input.lines[i].location);
        state.lines[i].quantity = input.lines[i].quantity;
        state.lines[i].status = statuses[i];
        snprintf(state.lines[i].reason, sizeof(state.lines[i].reason), "%s", reasons[i]);
        state.lines[i].position.partition = -1;
    }
    record_feed(f, order_id, order_codec_event_encode(type, &state));
}

/* ---- the history ------------------------------------------------------------------------------------ */

/* The orders whose line reservations expire: F confirmed then expired, G expiring, H rejected while
 * placing. */
static void expiries_feed(struct fixture *f, enum variation variation)
{
    /* F: confirmed; line 0 expires, the order releases line 1 and is expired. */
    placed(f, "F");
    reserved(f, "F", 0, line_sku("F", 0), 1);
    reserved(f, "F", 1, line_sku("F", 1), 2);
    order_event(f, "F", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                ORDER_LINE_RESERVED, "");
    if (variation == EXPIRED_LINE_NEVER_EXPIRED)
        line_event(f, EVENT_RESERVATION_RELEASED, "F", 0, "release", line_sku("F", 0), 1, REJECT_NONE);
    else
        expired(f, "F", 0, line_sku("F", 0), 1);
    if (variation != EXPIRED_LINE_STILL_HELD)
        line_event(f, EVENT_RESERVATION_RELEASED, "F", 1, "release", line_sku("F", 1), 2, REJECT_NONE);
    order_event(f, "F", ORDER_EVENT_EXPIRED, ORDER_STATUS_EXPIRED, ORDER_LINE_EXPIRED, "",
                ORDER_LINE_RELEASED, "order_expired");
    /* G: confirmed; line 1 expired and line 0's release is decided: expiring, in flight. */
    placed(f, "G");
    reserved(f, "G", 0, line_sku("G", 0), 1);
    reserved(f, "G", 1, line_sku("G", 1), 2);
    order_event(f, "G", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                ORDER_LINE_RESERVED, "");
    expired(f, "G", 1, line_sku("G", 1), 2);
    line_event(f, EVENT_RESERVATION_RELEASED, "G", 0, "release", line_sku("G", 0), 1, REJECT_NONE);
    /* H: line 0 reserved and expired while line 1 was pending: line 1 released, rejected. */
    placed(f, "H");
    reserved(f, "H", 0, line_sku("H", 0), 1);
    if (variation != REJECTED_EXPIRED_LINE_HELD) expired(f, "H", 0, line_sku("H", 0), 1);
    reserved(f, "H", 1, line_sku("H", 1), 2);
    line_event(f, EVENT_RESERVATION_RELEASED, "H", 1, "release", line_sku("H", 1), 2, REJECT_NONE);
    order_event(f, "H", ORDER_EVENT_REJECTED, ORDER_STATUS_REJECTED, ORDER_LINE_EXPIRED, "",
                ORDER_LINE_RELEASED, "order_rejected");
}

/* Feeds the consistent history with one thing broken, and runs the check at now_ms. */
static void history_feed(struct fixture *f, enum variation variation)
{
    /* A: confirmed. */
    placed(f, "A");
    reserved(f, "A", 0, line_sku("A", 0), 1);
    if (variation == CONFIRMED_LINE_REFUSED)
        refused(f, "A", 1, "reserve", line_sku("A", 1), REJECT_INSUFFICIENT_STOCK);
    else if (variation != CONFIRMED_LINE_NEVER_DECIDED)
        reserved(f, "A", 1, line_sku("A", 1), variation == CONFIRMED_LINE_OTHER_QUANTITY ? 3 : 2);
    if (variation == CONFIRMED_LINE_RELEASED)
        line_event(f, EVENT_RESERVATION_RELEASED, "A", 1, "release", line_sku("A", 1), 2, REJECT_NONE);
    order_event(f, "A", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                variation == CONFIRMED_LINE_PENDING ? ORDER_LINE_PENDING : ORDER_LINE_RESERVED, "");
    if (variation == CONFIRMED_TWICE)
        order_event(f, "A", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                    ORDER_LINE_RESERVED, "");
    /* B: line 1 refused, line 0 released, rejected. */
    placed(f, "B");
    reserved(f, "B", 0, line_sku("B", 0), 1);
    refused(f, "B", 1, "reserve", line_sku("B", 1), REJECT_INSUFFICIENT_STOCK);
    if (variation != REJECTED_LINE_STILL_HELD)
        line_event(f, EVENT_RESERVATION_RELEASED, "B", 0, "release", line_sku("B", 0), 1, REJECT_NONE);
    order_event(f, "B", ORDER_EVENT_REJECTED, ORDER_STATUS_REJECTED, ORDER_LINE_RELEASED, "",
                ORDER_LINE_REJECTED, "insufficient_stock");
    /* C: confirmed, then released (line 1's reservation had expired: its release was refused). */
    placed(f, "C");
    reserved(f, "C", 0, line_sku("C", 0), 1);
    reserved(f, "C", 1, line_sku("C", 1), 2);
    order_event(f, "C", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                ORDER_LINE_RESERVED, "");
    asked(f, "C", ORDER_INPUT_RELEASE);
    line_event(f, EVENT_RESERVATION_RELEASED, "C", 0, "release", line_sku("C", 0), 1, REJECT_NONE);
    refused(f, "C", 1, "release", line_sku("C", 1), REJECT_RESERVATION_NOT_ACTIVE);
    order_event(f, "C", ORDER_EVENT_RELEASED, ORDER_STATUS_RELEASED, ORDER_LINE_RELEASED, "",
                ORDER_LINE_RELEASED, variation == RELEASED_LINE_REFUSED ? "" : "reservation_not_active");
    /* D: confirmed, then fulfilled. */
    placed(f, "D");
    reserved(f, "D", 0, line_sku("D", 0), 1);
    reserved(f, "D", 1, line_sku("D", 1), 2);
    order_event(f, "D", ORDER_EVENT_CONFIRMED, ORDER_STATUS_CONFIRMED, ORDER_LINE_RESERVED, "",
                ORDER_LINE_RESERVED, "");
    asked(f, "D", ORDER_INPUT_FULFIL);
    line_event(f, EVENT_RESERVATION_FULFILLED, "D", 0, "fulfil", line_sku("D", 0), 1, REJECT_NONE);
    if (variation != FULFILLED_LINE_NEVER_DECIDED)
        line_event(f, EVENT_RESERVATION_FULFILLED, "D", 1, "fulfil", line_sku("D", 1), 2, REJECT_NONE);
    order_event(f, "D", ORDER_EVENT_FULFILLED, ORDER_STATUS_FULFILLED, ORDER_LINE_FULFILLED, "",
                ORDER_LINE_FULFILLED, "");
    /* E: placed, line 0 reserved, still placing. */
    placed(f, "E");
    reserved(f, "E", 0, line_sku("E", 0), 1);
    if (variation == UNKNOWN_ORDER_DECIDED) reserved(f, "Z", 0, "SKU-Z-0", 1);
    expiries_feed(f, variation);
    int64_t now_ms = variation == PLACING_PAST_TIMEOUT ? SUBMITTED_MS + SAGA_TIMEOUT_MS + 60000 : NOW_MS;
    char error[256] = "";
    if (verify_orders_check(f->orders, now_ms, SAGA_TIMEOUT_MS, error, sizeof(error)) != 0)
        fail_msg("%s", error);
}

static void test_consistent_history_has_no_difference(void **unused)
{
    (void)unused;
    struct fixture f;
    fixture_open(&f);
    history_feed(&f, CONSISTENT);
    if (f.differences != 0) fail_msg("%d differences, the first: %s", f.differences, f.first);
    struct verify_orders_counts counts;
    verify_orders_counts_get(f.orders, &counts);
    assert_int_equal(counts.orders, 8);
    assert_int_equal(counts.confirmed, 5);
    assert_int_equal(counts.expired, 1);
    assert_int_equal(counts.rejected, 2);
    assert_int_equal(counts.in_flight, 2);
    assert_int_equal(counts.records_undecodable, 0);
    fixture_close(&f);
}

/* Each variation is found, and its first difference says what is wrong where. */
static void test_each_broken_promise_is_reported(void **unused)
{
    (void)unused;
    static const char *const expected[VARIATION_COUNT] = {
        [CONFIRMED_LINE_REFUSED] =
            "order A line 1 (SKU SKU-A-1 at WH-1, quantity 2): OrderConfirmed, but its "
            "ReserveStock was rejected (insufficient_stock) at events",
        [CONFIRMED_LINE_OTHER_QUANTITY] =
            "order A line 1 (SKU SKU-A-1 at WH-1, quantity 2): OrderConfirmed, but "
            "order:A:1:reserve at events",
        [CONFIRMED_LINE_NEVER_DECIDED] =
            "order A line 1 (SKU SKU-A-1 at WH-1, quantity 2): OrderConfirmed, but no "
            "ReserveStock order:A:1:reserve was decided on events",
        [REJECTED_LINE_STILL_HELD] =
            "order B line 0 (SKU SKU-B-0 at WH-1, quantity 1): OrderRejected, but its "
            "reservation order:B:0 still holds the units",
        [PLACING_PAST_TIMEOUT] =
            "order E is neither confirmed nor rejected 60 s past its saga timeout (30 s)",
        [RELEASED_LINE_REFUSED] =
            "order C line 1 (SKU SKU-C-1 at WH-1, quantity 2): the order says released (), "
            "but order:C:1:release was rejected (reservation_not_active)",
        [FULFILLED_LINE_NEVER_DECIDED] = "order D line 1 (SKU SKU-D-1 at WH-1, quantity 2): the order says "
                                         "fulfilled, but no order:D:1:fulfil was decided on events",
        [CONFIRMED_LINE_RELEASED] = "order A line 1 (SKU SKU-A-1 at WH-1, quantity 2): nobody released or "
                                    "fulfilled the order, but order:A:1:release was decided",
        [CONFIRMED_TWICE] =
            "OrderConfirmed of order A: the saga had already ended with OrderConfirmed at offset",
        [UNKNOWN_ORDER_DECIDED] = "order:Z:0:reserve decided on SKU SKU-Z-0, but order Z was never placed",
        [CONFIRMED_LINE_PENDING] =
            "order A line 1 (SKU SKU-A-1 at WH-1, quantity 2): OrderConfirmed with the line "
            "pending",
        [EXPIRED_LINE_STILL_HELD] =
            "order F line 1 (SKU SKU-F-1 at WH-1, quantity 2): the order expired, but "
            "its reservation still holds the units",
        [EXPIRED_LINE_NEVER_EXPIRED] = "order F line 0 (SKU SKU-F-0 at WH-1, quantity 1): the order says the "
                                       "line expired, but its reservation did not expire",
        [REJECTED_EXPIRED_LINE_HELD] = "order H line 0 (SKU SKU-H-0 at WH-1, quantity 1): OrderRejected, but "
                                       "its reservation order:H:0 still holds the units",
    };
    for (int variation = CONSISTENT + 1; variation < VARIATION_COUNT; variation++) {
        struct fixture f;
        fixture_open(&f);
        history_feed(&f, (enum variation)variation);
        if (f.differences == 0) fail_msg("variation %d: no difference", variation);
        fprintf(stderr, "variation %d: %d difference(s), the first: %s\n", variation, f.differences, f.first);
        if (strstr(f.first, expected[variation]) == NULL)
            fail_msg("variation %d: the first difference is\n  %s\nexpected it to hold\n  %s", variation,
                     f.first, expected[variation]);
        fixture_close(&f);
    }
}

/* A record that does not decode (a newer version, garbage) is counted, not judged: the stage dead-letters
 * it. An order placed on another partition than its id's never counted either. */
static void test_undecodable_and_misplaced_records_are_counted_not_orders(void **unused)
{
    (void)unused;
    struct fixture f;
    fixture_open(&f);
    char error[256] = "";
    static const char newer[] = "{\"type\":\"ReleaseOrder\",\"version\":2,\"order_id\":\"A\"}";
    assert_int_equal(verify_orders_record(f.orders, 0, 0, newer, sizeof(newer) - 1, error, sizeof(error)), 0);
    assert_int_equal(verify_orders_record(f.orders, 0, 1, "{", 1, error, sizeof(error)), 0);
    struct order_input input = place_input("A");
    char *json = order_codec_input_encode(&input);
    int32_t other = (partition_of("A") + 1) % PARTITIONS;
    assert_int_equal(verify_orders_record(f.orders, other, 2, json, strlen(json), error, sizeof(error)), 0);
    free(json);
    assert_int_equal(verify_orders_check(f.orders, NOW_MS, SAGA_TIMEOUT_MS, error, sizeof(error)), 0);
    struct verify_orders_counts counts;
    verify_orders_counts_get(f.orders, &counts);
    assert_int_equal(counts.records, 3);
    assert_int_equal(counts.records_undecodable, 2);
    assert_int_equal(counts.orders, 0);
    assert_int_equal(f.differences, 0);
    fixture_close(&f);
}

/* ---- the order stage's shards ----------------------------------------------------------------------- */

/* What a shard comparison test changes after the stage folded the history into its shards. */
enum shard_variation {
    SHARD_EQUAL,          /* the shards as the stage left them */
    SHARD_BEHIND,         /* the stage folded only the first records: equal at its checkpoint, behind */
    SHARD_STATUS_WRONG,   /* order A's status changed */
    SHARD_LINE_WRONG,     /* order B's line 0 changed */
    SHARD_ORDER_MISSING,  /* order B's row deleted */
    SHARD_PAST_THE_TOPIC, /* a checkpoint past the end of the partition */
    SHARD_VARIATION_COUNT
};

#define SHARD_RECORDS_MAX 16

/* A history of orders records (A placed, confirmed, released in part; B placed, rejected), each with its
 * partition and offset, and the state of the stage's shards after folding them. */
struct shard_history {
    int count;
    int32_t partitions[SHARD_RECORDS_MAX];
    int64_t offsets[SHARD_RECORDS_MAX];
    char *values[SHARD_RECORDS_MAX];
    int64_t ends[PARTITIONS];
    int64_t changed[2]; /* offset of the last change of A and B in the shards */
    char data_dir[64];
};

static void history_add(struct shard_history *h, const char *order_id, char *json)
{
    assert_non_null(json);
    assert_true(h->count < SHARD_RECORDS_MAX);
    int32_t partition = partition_of(order_id);
    h->partitions[h->count] = partition;
    h->offsets[h->count] = h->ends[partition]++;
    h->values[h->count++] = json;
}

static void outcome_add(struct shard_history *h, const char *order_id, uint32_t line, enum order_op op,
                        enum reject_reason refused_for, int64_t events_offset)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_LINE_OUTCOME;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.line = line;
    input.op = op;
    input.accepted = refused_for == REJECT_NONE;
    input.reject_reason = refused_for;
    input.position_partition = partition_of(line_sku(order_id, line));
    input.position_offset = events_offset;
    history_add(h, order_id, order_codec_input_encode(&input));
}

static void shard_history_build(struct shard_history *h)
{
    memset(h, 0, sizeof(*h));
    struct order_input input = place_input("A");
    history_add(h, "A", order_codec_input_encode(&input));
    outcome_add(h, "A", 0, ORDER_OP_RESERVE, REJECT_NONE, 10);
    input = place_input("B");
    history_add(h, "B", order_codec_input_encode(&input));
    outcome_add(h, "A", 1, ORDER_OP_RESERVE, REJECT_NONE, 11);
    /* The stage's own event: it folds past it, and so must verify. */
    static struct order_state confirmed;
    memset(&confirmed, 0, sizeof(confirmed));
    snprintf(confirmed.order_id, sizeof(confirmed.order_id), "A");
    confirmed.status = ORDER_STATUS_CONFIRMED;
    confirmed.line_count = 2;
    for (uint32_t i = 0; i < 2; i++) {
        snprintf(confirmed.lines[i].sku, sizeof(confirmed.lines[i].sku), "%.*s", STOCKD_SKU_BYTES_MAX,
                 line_sku("A", i));
        snprintf(confirmed.lines[i].location, sizeof(confirmed.lines[i].location), "WH-1");
        confirmed.lines[i].quantity = (int64_t)i + 1;
        confirmed.lines[i].status = ORDER_LINE_RESERVED;
    }
    history_add(h, "A", order_codec_event_encode(ORDER_EVENT_CONFIRMED, &confirmed));
    outcome_add(h, "B", 0, ORDER_OP_RESERVE, REJECT_INSUFFICIENT_STOCK, 12);
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_RELEASE;
    snprintf(input.order_id, sizeof(input.order_id), "A");
    history_add(h, "A", order_codec_input_encode(&input));
    outcome_add(h, "A", 0, ORDER_OP_RELEASE, REJECT_NONE, 13);
    outcome_add(h, "B", 1, ORDER_OP_RESERVE, REJECT_NONE, 14);
    outcome_add(h, "B", 1, ORDER_OP_RELEASE, REJECT_NONE, 15);
    outcome_add(h, "B", 1, ORDER_OP_RELEASE, REJECT_NONE, 16); /* a duplicate: ignored, stored nowhere */
}

static void shard_history_free(struct shard_history *h)
{
    for (int i = 0; i < h->count; i++)
        free(h->values[i]);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", h->data_dir);
    assert_int_equal(system(command), 0);
}

/* Folds the first count records into the shards of data_dir the way src/orders.c does: decode, pass the
 * stage's own events over, load, order_apply, store what changed, commit with the next offset. */
static void stage_fold(struct shard_history *h, int count)
{
    snprintf(h->data_dir, sizeof(h->data_dir), "/tmp/test_verify_orders_data-XXXXXX");
    assert_non_null(mkdtemp(h->data_dir));
    char error[256] = "";
    struct order_store *stores[PARTITIONS] = {NULL};
    static struct order_record record;
    static struct order_state state;
    for (int i = 0; i < count; i++) {
        int32_t partition = h->partitions[i];
        if (stores[partition] == NULL &&
            (stores[partition] = order_store_open(h->data_dir, partition, error, sizeof(error))) == NULL)
            fail_msg("%s", error);
        struct codec_error codec_error;
        assert_int_equal(order_codec_record_decode(h->values[i], strlen(h->values[i]), &record, &codec_error),
                         0);
        assert_int_equal(order_store_begin(stores[partition], error, sizeof(error)), 0);
        if (record.input.type != ORDER_INPUT_NONE) {
            assert_true(order_store_load(stores[partition], record.input.order_id, &state, error,
                                         sizeof(error)) >= 0);
            struct order_effects effects;
            order_apply(&state, &record.input, &effects);
            if (effects.ignored == ORDER_IGNORED_NONE) {
                assert_int_equal(order_store_save(stores[partition], &state, h->offsets[i], SAGA_TIMEOUT_MS,
                                                  error, sizeof(error)),
                                 0);
                h->changed[state.order_id[0] - 'A'] = h->offsets[i];
            }
        }
        assert_int_equal(order_store_commit(stores[partition], h->offsets[i] + 1, error, sizeof(error)), 0);
    }
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        order_store_close(stores[partition]);
}

/* Changes one order in its shard (whose file exists). */
static void shard_tamper(struct shard_history *h, const char *order_id, enum shard_variation variation)
{
    char error[256] = "";
    struct order_store *store = order_store_open(h->data_dir, partition_of(order_id), error, sizeof(error));
    if (store == NULL) fail_msg("%s", error);
    int64_t checkpoint = order_store_checkpoint(store);
    static struct order_state state;
    assert_int_equal(order_store_load(store, order_id, &state, error, sizeof(error)), 1);
    assert_int_equal(order_store_begin(store, error, sizeof(error)), 0);
    if (variation == SHARD_STATUS_WRONG) state.status = ORDER_STATUS_CONFIRMED;
    if (variation == SHARD_LINE_WRONG) state.lines[0].status = ORDER_LINE_RESERVED;
    if (variation == SHARD_PAST_THE_TOPIC) checkpoint = h->ends[partition_of(order_id)] + 3;
    assert_int_equal(
        order_store_save(store, &state, h->changed[order_id[0] - 'A'], SAGA_TIMEOUT_MS, error, sizeof(error)),
        0);
    assert_int_equal(order_store_commit(store, checkpoint, error, sizeof(error)), 0);
    order_store_close(store);
}

static void order_row_delete(struct shard_history *h, const char *order_id)
{
    char path[256];
    assert_int_equal(order_store_path(h->data_dir, partition_of(order_id), path, sizeof(path)), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM orders WHERE order_id = '%s'", order_id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Builds the shards, changes them as variation says, and runs verify's fold and shard comparison. */
static void shard_verify(struct fixture *f, struct shard_history *h, enum shard_variation variation)
{
    shard_history_build(h);
    stage_fold(h, variation == SHARD_BEHIND ? 6 : h->count);
    if (variation == SHARD_STATUS_WRONG || variation == SHARD_PAST_THE_TOPIC) shard_tamper(h, "A", variation);
    if (variation == SHARD_LINE_WRONG) shard_tamper(h, "B", variation);
    if (variation == SHARD_ORDER_MISSING) order_row_delete(h, "B");
    char error[256] = "";
    int found = verify_orders_shards_find(f->orders, h->data_dir, error, sizeof(error));
    if (found < 0) fail_msg("%s", error);
    assert_true(found >= 1);
    for (int i = 0; i < h->count; i++) {
        if (verify_orders_record(f->orders, h->partitions[i], h->offsets[i], h->values[i],
                                 strlen(h->values[i]), error, sizeof(error)) != 0)
            fail_msg("%s", error);
    }
    if (verify_orders_shards_check(f->orders, h->ends, h->ends, error, sizeof(error)) != 0)
        fail_msg("%s", error);
}

static void test_order_shards_equal_to_the_fold_have_no_difference(void **unused)
{
    (void)unused;
    for (int variation = SHARD_EQUAL; variation <= SHARD_BEHIND; variation++) {
        struct fixture f;
        fixture_open(&f);
        static struct shard_history h;
        shard_verify(&f, &h, (enum shard_variation)variation);
        if (f.differences != 0) fail_msg("%d differences, the first: %s", f.differences, f.first);
        struct verify_orders_counts counts;
        verify_orders_counts_get(f.orders, &counts);
        int32_t shards = partition_of("A") == partition_of("B") ? 1 : 2;
        assert_int_equal(counts.shards_compared, shards);
        assert_int_equal(counts.shard_orders_compared, 2);
        assert_int_equal(counts.shards_behind, variation == SHARD_BEHIND ? 1 : 0);
        shard_history_free(&h);
        fixture_close(&f);
    }
}

/* Each change of a shard is reported, naming the shard, the order and what differs. */
static void test_tampered_order_shard_is_reported(void **unused)
{
    (void)unused;
    static const char *const expected[SHARD_VARIATION_COUNT] = {
        [SHARD_STATUS_WRONG] = "order A: status confirmed, the fold says releasing",
        [SHARD_LINE_WRONG] = "order B: line 0 reserved (\"insufficient_stock\"), the fold says rejected "
                             "(\"insufficient_stock\")",
        [SHARD_ORDER_MISSING] = "order B is not there, the fold of orders has it",
        [SHARD_PAST_THE_TOPIC] = "is past the end of its partition",
    };
    for (int variation = SHARD_STATUS_WRONG; variation < SHARD_VARIATION_COUNT; variation++) {
        struct fixture f;
        fixture_open(&f);
        static struct shard_history h;
        shard_verify(&f, &h, (enum shard_variation)variation);
        fprintf(stderr, "shard variation %d: %d difference(s), the first: %s\n", variation, f.differences,
                f.first);
        if (f.differences != 1 || strstr(f.first, expected[variation]) == NULL)
            fail_msg("shard variation %d: %d difference(s), the first\n  %s\nexpected one, holding\n  %s",
                     variation, f.differences, f.first, expected[variation]);
        shard_history_free(&h);
        fixture_close(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consistent_history_has_no_difference),
        cmocka_unit_test(test_each_broken_promise_is_reported),
        cmocka_unit_test(test_undecodable_and_misplaced_records_are_counted_not_orders),
        cmocka_unit_test(test_order_shards_equal_to_the_fold_have_no_difference),
        cmocka_unit_test(test_tampered_order_shard_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
