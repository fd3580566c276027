/* test_domain.c - decide and evolve: every accept path, every rejection reason, evolve's own checks, and a
 * seeded randomized run of 100,000+ commands checking the invariants after every step and that folding the
 * emitted events from scratch gives the same state. STOCKD_TEST_SEED=<n> replays a failing seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/domain.h"

#define NOW_MS INT64_C(1764000000000)

/* A SKU under test with the reservations it made (a tiny stand-in for a shard). */
struct fixture {
    struct sku_state sku;
    struct reservation_set all; /* every reservation of the SKU, at most STOCKD_EXPIRE_BATCH_MAX here */
    struct decision decision;
    int64_t now_ms;
    int command_serial;
};

static struct command command_make(struct fixture *f, enum command_type type)
{
    struct command command;
    memset(&command, 0, sizeof(command));
    command.type = type;
    snprintf(command.command_id, sizeof(command.command_id), "cmd-%d", ++f->command_serial);
    snprintf(command.sku, sizeof(command.sku), "%s", f->sku.sku);
    return command;
}

/* Decides against the fixture's state, then evolves every event into it (which must succeed). */
static const struct decision *run(struct fixture *f, const struct command *command)
{
    domain_decide(&f->sku, &f->all, command, f->now_ms, &f->decision);
    assert_true(f->decision.event_count >= 1);
    for (uint32_t i = 0; i < f->decision.event_count; i++) {
        assert_int_equal(domain_evolve(&f->sku, &f->all, &f->decision.events[i]), 0);
        assert_int_equal(domain_sku_state_check(&f->sku), 0);
    }
    return &f->decision;
}

static void assert_rejected(const struct decision *decision, enum reject_reason reason)
{
    assert_int_equal(decision->event_count, 1);
    assert_int_equal(decision->events[0].type, EVENT_COMMAND_REJECTED);
    assert_string_equal(domain_reject_reason_code(decision->events[0].reject_reason),
                        domain_reject_reason_code(reason));
}

static void assert_accepted(const struct decision *decision, enum event_type type)
{
    assert_int_equal(decision->event_count, 1);
    assert_string_equal(domain_event_type_name(decision->events[0].type), domain_event_type_name(type));
}

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    domain_sku_state_init(&f->sku, "SKU-1");
    f->now_ms = NOW_MS;
}

static void create(struct fixture *f)
{
    struct command command = command_make(f, COMMAND_CREATE_SKU);
    snprintf(command.name, sizeof(command.name), "Blue widget");
    command.reorder_point = 10;
    assert_accepted(run(f, &command), EVENT_SKU_CREATED);
}

static const struct decision *receive(struct fixture *f, const char *location, int64_t quantity)
{
    struct command command = command_make(f, COMMAND_RECEIVE_STOCK);
    snprintf(command.location, sizeof(command.location), "%s", location);
    command.quantity = quantity;
    return run(f, &command);
}

static const struct decision *reserve(struct fixture *f, const char *id, const char *location,
                                      int64_t quantity, int64_t ttl_s)
{
    struct command command = command_make(f, COMMAND_RESERVE_STOCK);
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", id);
    snprintf(command.location, sizeof(command.location), "%s", location);
    command.quantity = quantity;
    command.ttl_s = ttl_s;
    return run(f, &command);
}

static const struct decision *settle(struct fixture *f, enum command_type type, const char *id)
{
    struct command command = command_make(f, type);
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", id);
    return run(f, &command);
}

static const struct decision *adjust(struct fixture *f, const char *location, bool counted_set, int64_t value)
{
    struct command command = command_make(f, COMMAND_ADJUST_STOCK);
    snprintf(command.location, sizeof(command.location), "%s", location);
    snprintf(command.reason, sizeof(command.reason), "cycle count");
    command.counted_set = counted_set;
    if (counted_set)
        command.counted = value;
    else
        command.delta = value;
    return run(f, &command);
}

static const struct decision *transfer(struct fixture *f, const char *from, const char *to, int64_t quantity)
{
    struct command command = command_make(f, COMMAND_TRANSFER_STOCK);
    snprintf(command.location, sizeof(command.location), "%s", from);
    snprintf(command.to_location, sizeof(command.to_location), "%s", to);
    command.quantity = quantity;
    return run(f, &command);
}

static const struct decision *expire(struct fixture *f, const char *id)
{
    struct command command = command_make(f, COMMAND_EXPIRE_RESERVATIONS);
    command.expire_count = 1;
    snprintf(command.expire_ids[0], sizeof(command.expire_ids[0]), "%s", id);
    return run(f, &command);
}

static const struct location_stock *stock_at(struct fixture *f, const char *location)
{
    const struct location_stock *stock = domain_location_find(&f->sku, location);
    assert_non_null(stock);
    return stock;
}

/* ---- accept paths ---------------------------------------------------------------------------------- */

static void test_create_sku_accepts_and_numbers_from_one(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    assert_true(f.sku.exists);
    assert_string_equal(f.sku.name, "Blue widget");
    assert_int_equal(f.sku.reorder_point, 10);
    assert_int_equal(f.decision.events[0].sequence, 1);
    assert_int_equal(f.sku.sequence, 1);
    assert_string_equal(f.decision.events[0].command_id, "cmd-1");
    assert_int_equal(f.decision.events[0].time_ms, NOW_MS);
}

static void test_receive_stock_adds_on_hand(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    assert_accepted(receive(&f, "WH-1", 40), EVENT_STOCK_RECEIVED);
    assert_accepted(receive(&f, "WH-1", 2), EVENT_STOCK_RECEIVED);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 42);
    assert_int_equal(f.sku.sequence, 3);
}

static void test_adjust_by_delta_both_ways(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    assert_accepted(adjust(&f, "WH-1", false, -3), EVENT_STOCK_ADJUSTED);
    assert_int_equal(f.decision.events[0].delta, -3);
    assert_accepted(adjust(&f, "WH-1", false, 5), EVENT_STOCK_ADJUSTED);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 12);
}

static void test_adjust_to_counted_records_delta_and_count(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    assert_accepted(adjust(&f, "WH-1", true, 7), EVENT_STOCK_ADJUSTED);
    assert_int_equal(f.decision.events[0].delta, -3);
    assert_true(f.decision.events[0].counted_set);
    assert_int_equal(f.decision.events[0].counted, 7);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 7);
    /* A count that matches is still a fact worth recording. */
    assert_accepted(adjust(&f, "WH-1", true, 7), EVENT_STOCK_ADJUSTED);
    assert_int_equal(f.decision.events[0].delta, 0);
}

static void test_reserve_holds_stock_and_sets_expiry(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    assert_accepted(reserve(&f, "R-1", "WH-1", 4, 60), EVENT_STOCK_RESERVED);
    assert_int_equal(f.decision.events[0].expires_at_ms, NOW_MS + 60000);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 4);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 10);
    assert_int_equal(f.all.count, 1);
    assert_int_equal(f.all.items[0].status, RESERVATION_ACTIVE);
    assert_accepted(reserve(&f, "R-2", "WH-1", 6, 0), EVENT_STOCK_RESERVED);
    assert_int_equal(f.decision.events[0].expires_at_ms, 0);
}

static void test_release_returns_reserved(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    reserve(&f, "R-1", "WH-1", 4, 0);
    assert_accepted(settle(&f, COMMAND_RELEASE_RESERVATION, "R-1"), EVENT_RESERVATION_RELEASED);
    assert_int_equal(f.decision.events[0].quantity, 4);
    assert_string_equal(f.decision.events[0].location, "WH-1");
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 0);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 10);
    assert_int_equal(f.all.items[0].status, RESERVATION_RELEASED);
}

static void test_fulfil_ships_on_hand_and_reserved(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    reserve(&f, "R-1", "WH-1", 4, 0);
    assert_accepted(settle(&f, COMMAND_FULFIL_RESERVATION, "R-1"), EVENT_RESERVATION_FULFILLED);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 0);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 6);
    assert_int_equal(f.all.items[0].status, RESERVATION_FULFILLED);
}

static void test_transfer_moves_available_stock_atomically(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    reserve(&f, "R-1", "WH-1", 4, 0);
    assert_accepted(transfer(&f, "WH-1", "WH-2", 6), EVENT_STOCK_TRANSFERRED);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 4);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 4);
    assert_int_equal(stock_at(&f, "WH-2")->on_hand, 6);
}

static void test_expire_when_due_releases_reserved(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    reserve(&f, "R-1", "WH-1", 4, 30);
    f.now_ms += 30000;
    assert_accepted(expire(&f, "R-1"), EVENT_RESERVATION_EXPIRED);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 0);
    assert_int_equal(f.all.items[0].status, RESERVATION_EXPIRED);
}

static void test_expire_many_emits_one_event_each_in_sequence(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 100);
    reserve(&f, "R-1", "WH-1", 1, 10);
    reserve(&f, "R-2", "WH-1", 2, 10);
    reserve(&f, "R-3", "WH-1", 3, 0);   /* never expires */
    reserve(&f, "R-4", "WH-1", 4, 500); /* not yet due */
    uint64_t sequence_before = f.sku.sequence;
    f.now_ms += 11000;
    struct command command = command_make(&f, COMMAND_EXPIRE_RESERVATIONS);
    command.expire_count = 4;
    for (int i = 0; i < 4; i++)
        snprintf(command.expire_ids[i], sizeof(command.expire_ids[i]), "R-%d", i + 1);
    const struct decision *decision = run(&f, &command);
    assert_int_equal(decision->event_count, 2);
    assert_string_equal(decision->events[0].reservation_id, "R-1");
    assert_string_equal(decision->events[1].reservation_id, "R-2");
    assert_int_equal(decision->events[0].sequence, sequence_before + 1);
    assert_int_equal(decision->events[1].sequence, sequence_before + 2);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 7);
}

/* ---- rejections, one reason at a time -------------------------------------------------------------- */

static void test_create_when_exists_rejects_sku_exists(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    struct command command = command_make(&f, COMMAND_CREATE_SKU);
    snprintf(command.name, sizeof(command.name), "Again");
    assert_rejected(run(&f, &command), REJECT_SKU_EXISTS);
    assert_string_equal(f.sku.name, "Blue widget");
    assert_int_equal(f.sku.sequence, 2); /* rejections are numbered too */
}

static void test_every_command_on_unknown_sku_rejects_unknown_sku(void **state)
{
    (void)state;
    const enum command_type types[] = {COMMAND_RECEIVE_STOCK,      COMMAND_ADJUST_STOCK,
                                       COMMAND_RESERVE_STOCK,      COMMAND_RELEASE_RESERVATION,
                                       COMMAND_FULFIL_RESERVATION, COMMAND_TRANSFER_STOCK,
                                       COMMAND_EXPIRE_RESERVATIONS};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct fixture f;
        fixture_init(&f);
        struct command command = command_make(&f, types[i]);
        snprintf(command.location, sizeof(command.location), "WH-1");
        snprintf(command.to_location, sizeof(command.to_location), "WH-2");
        snprintf(command.reason, sizeof(command.reason), "r");
        snprintf(command.reservation_id, sizeof(command.reservation_id), "R-1");
        command.quantity = 1;
        command.delta = 1;
        const struct decision *decision = run(&f, &command);
        assert_rejected(decision, REJECT_UNKNOWN_SKU);
        assert_int_equal(decision->events[0].rejected_type, types[i]);
        assert_false(f.sku.exists);
        assert_int_equal(f.sku.sequence, 1);
    }
}

static void test_reserve_when_stock_short_rejects_insufficient_stock(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    reserve(&f, "R-1", "WH-1", 3, 0);
    assert_rejected(reserve(&f, "R-2", "WH-1", 3, 0), REJECT_INSUFFICIENT_STOCK);
    assert_rejected(reserve(&f, "R-3", "WH-9", 1, 0), REJECT_INSUFFICIENT_STOCK);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 3);
}

static void test_transfer_of_reserved_stock_rejects_insufficient_stock(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    reserve(&f, "R-1", "WH-1", 3, 0);
    assert_rejected(transfer(&f, "WH-1", "WH-2", 3), REJECT_INSUFFICIENT_STOCK);
    assert_null(domain_location_find(&f.sku, "WH-2"));
}

static void test_adjust_below_zero_rejects_insufficient_stock(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    assert_rejected(adjust(&f, "WH-1", false, -6), REJECT_INSUFFICIENT_STOCK);
    assert_rejected(adjust(&f, "WH-2", false, -1), REJECT_INSUFFICIENT_STOCK);
}

static void test_adjust_below_reserved_rejects_below_reserved(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    reserve(&f, "R-1", "WH-1", 4, 0);
    assert_rejected(adjust(&f, "WH-1", false, -2), REJECT_BELOW_RESERVED);
    assert_rejected(adjust(&f, "WH-1", true, 3), REJECT_BELOW_RESERVED);
    assert_accepted(adjust(&f, "WH-1", true, 4), EVENT_STOCK_ADJUSTED);
}

static void test_reserve_with_used_id_rejects_reservation_exists(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    reserve(&f, "R-1", "WH-1", 1, 0);
    settle(&f, COMMAND_RELEASE_RESERVATION, "R-1");
    /* Ids stay taken after the reservation ends. */
    assert_rejected(reserve(&f, "R-1", "WH-1", 1, 0), REJECT_RESERVATION_EXISTS);
}

static void test_release_or_fulfil_unknown_rejects_unknown_reservation(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    assert_rejected(settle(&f, COMMAND_RELEASE_RESERVATION, "R-404"), REJECT_UNKNOWN_RESERVATION);
    assert_rejected(settle(&f, COMMAND_FULFIL_RESERVATION, "R-404"), REJECT_UNKNOWN_RESERVATION);
}

static void test_settle_ended_reservation_rejects_not_active(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 10);
    reserve(&f, "R-1", "WH-1", 1, 0);
    reserve(&f, "R-2", "WH-1", 1, 0);
    reserve(&f, "R-3", "WH-1", 1, 5);
    settle(&f, COMMAND_FULFIL_RESERVATION, "R-1");
    settle(&f, COMMAND_RELEASE_RESERVATION, "R-2");
    f.now_ms += 5000;
    expire(&f, "R-3");
    assert_rejected(settle(&f, COMMAND_RELEASE_RESERVATION, "R-1"), REJECT_RESERVATION_NOT_ACTIVE);
    assert_rejected(settle(&f, COMMAND_FULFIL_RESERVATION, "R-1"), REJECT_RESERVATION_NOT_ACTIVE);
    assert_rejected(settle(&f, COMMAND_FULFIL_RESERVATION, "R-2"), REJECT_RESERVATION_NOT_ACTIVE);
    assert_rejected(settle(&f, COMMAND_RELEASE_RESERVATION, "R-3"), REJECT_RESERVATION_NOT_ACTIVE);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, 9);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 0);
}

static void test_bad_quantities_reject_invalid_quantity(void **state)
{
    (void)state;
    const int64_t bad[] = {0, -1, STOCKD_QUANTITY_MAX + 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fixture f;
        fixture_init(&f);
        create(&f);
        receive(&f, "WH-1", 10);
        assert_rejected(receive(&f, "WH-1", bad[i]), REJECT_INVALID_QUANTITY);
        assert_rejected(reserve(&f, "R-1", "WH-1", bad[i], 0), REJECT_INVALID_QUANTITY);
        assert_rejected(transfer(&f, "WH-1", "WH-2", bad[i]), REJECT_INVALID_QUANTITY);
        assert_int_equal(stock_at(&f, "WH-1")->on_hand, 10);
    }
    struct fixture f;
    fixture_init(&f);
    create(&f);
    assert_rejected(adjust(&f, "WH-1", false, 0), REJECT_INVALID_QUANTITY);
    assert_rejected(adjust(&f, "WH-1", false, STOCKD_QUANTITY_MAX + 1), REJECT_INVALID_QUANTITY);
    assert_rejected(adjust(&f, "WH-1", false, -STOCKD_QUANTITY_MAX - 1), REJECT_INVALID_QUANTITY);
    assert_rejected(adjust(&f, "WH-1", true, -1), REJECT_INVALID_QUANTITY);
    assert_rejected(adjust(&f, "WH-1", true, STOCKD_ON_HAND_MAX + 1), REJECT_INVALID_QUANTITY);
    assert_accepted(receive(&f, "WH-1", STOCKD_QUANTITY_MAX), EVENT_STOCK_RECEIVED);
}

static void test_location_slots_full_rejects_too_many_locations(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    char location[32];
    for (int i = 0; i < STOCKD_LOCATIONS_PER_SKU_MAX; i++) {
        snprintf(location, sizeof(location), "WH-%d", i);
        assert_accepted(receive(&f, location, 1), EVENT_STOCK_RECEIVED);
    }
    assert_rejected(receive(&f, "WH-NEW", 1), REJECT_TOO_MANY_LOCATIONS);
    assert_rejected(transfer(&f, "WH-0", "WH-NEW", 1), REJECT_TOO_MANY_LOCATIONS);
    assert_rejected(adjust(&f, "WH-NEW", true, 0), REJECT_TOO_MANY_LOCATIONS);
    assert_accepted(receive(&f, "WH-0", 1), EVENT_STOCK_RECEIVED);
}

static void test_on_hand_past_maximum_rejects_on_hand_limit(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    assert_accepted(adjust(&f, "WH-1", true, STOCKD_ON_HAND_MAX), EVENT_STOCK_ADJUSTED);
    assert_rejected(receive(&f, "WH-1", 1), REJECT_ON_HAND_LIMIT);
    receive(&f, "WH-2", 1);
    assert_rejected(transfer(&f, "WH-2", "WH-1", 1), REJECT_ON_HAND_LIMIT);
    assert_int_equal(stock_at(&f, "WH-1")->on_hand, STOCKD_ON_HAND_MAX);
}

static void test_transfer_to_same_location_rejects_same_location(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    assert_rejected(transfer(&f, "WH-1", "WH-1", 1), REJECT_SAME_LOCATION);
}

static void test_expire_before_deadline_rejects_not_expired(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    reserve(&f, "R-1", "WH-1", 1, 30);
    reserve(&f, "R-2", "WH-1", 1, 0);
    f.now_ms += 29999;
    assert_rejected(expire(&f, "R-1"), REJECT_RESERVATION_NOT_EXPIRED);
    assert_rejected(expire(&f, "R-2"), REJECT_RESERVATION_NOT_EXPIRED);
    assert_rejected(expire(&f, "R-404"), REJECT_RESERVATION_NOT_EXPIRED);
    assert_int_equal(stock_at(&f, "WH-1")->reserved, 2);
}

static void test_empty_fields_reject_invalid_command(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct command command = command_make(&f, COMMAND_CREATE_SKU);
    assert_rejected(run(&f, &command), REJECT_INVALID_COMMAND);
    create(&f);
    receive(&f, "WH-1", 5);
    command = command_make(&f, COMMAND_ADJUST_STOCK);
    snprintf(command.location, sizeof(command.location), "WH-1");
    command.delta = 1;
    assert_rejected(run(&f, &command), REJECT_INVALID_COMMAND);
    assert_rejected(reserve(&f, "R-1", "WH-1", 1, STOCKD_RESERVATION_TTL_S_MAX + 1), REJECT_INVALID_COMMAND);
    assert_rejected(reserve(&f, "R-1", "WH-1", 1, -1), REJECT_INVALID_COMMAND);
}

static void test_create_with_bad_reorder_point_rejects_invalid_quantity(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct command command = command_make(&f, COMMAND_CREATE_SKU);
    snprintf(command.name, sizeof(command.name), "n");
    command.reorder_point = -1;
    assert_rejected(run(&f, &command), REJECT_INVALID_QUANTITY);
}

/* ---- evolve refuses what does not follow ------------------------------------------------------------ */

static void test_evolve_refuses_gap_wrong_sku_and_broken_invariants(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    create(&f);
    receive(&f, "WH-1", 5);
    struct sku_state before = f.sku;
    struct event event = f.decision.events[0];

    event.sequence = f.sku.sequence + 2; /* gap */
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.sequence = f.sku.sequence; /* repeat */
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.sequence = f.sku.sequence + 1;
    snprintf(event.sku, sizeof(event.sku), "SKU-2");
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);

    memset(&event, 0, sizeof(event));
    snprintf(event.sku, sizeof(event.sku), "SKU-1");
    event.sequence = f.sku.sequence + 1;
    event.type = EVENT_STOCK_RESERVED;
    snprintf(event.location, sizeof(event.location), "WH-1");
    snprintf(event.reservation_id, sizeof(event.reservation_id), "R-1");
    event.quantity = 6; /* more than on hand */
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.type = EVENT_RESERVATION_RELEASED; /* never reserved */
    event.quantity = 1;
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.type = EVENT_SKU_CREATED; /* twice */
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.type = EVENT_STOCK_ADJUSTED;
    event.delta = -6;
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);
    event.type = (enum event_type)99;
    assert_int_equal(domain_evolve(&f.sku, &f.all, &event), -1);

    assert_memory_equal(&before, &f.sku, sizeof(before));
    assert_int_equal(f.all.count, 0);
}

static void test_names_round_trip_and_unknown_is_none(void **state)
{
    (void)state;
    for (int t = COMMAND_NONE + 1; t < COMMAND_TYPE_COUNT; t++) {
        assert_int_equal(domain_command_type_parse(domain_command_type_name((enum command_type)t)), t);
    }
    for (int t = EVENT_NONE + 1; t < EVENT_TYPE_COUNT; t++) {
        assert_int_equal(domain_event_type_parse(domain_event_type_name((enum event_type)t)), t);
    }
    for (int r = REJECT_NONE + 1; r < REJECT_REASON_COUNT; r++) {
        assert_int_equal(domain_reject_reason_parse(domain_reject_reason_code((enum reject_reason)r)), r);
    }
    assert_int_equal(domain_command_type_parse("createsku"), COMMAND_NONE);
    assert_int_equal(domain_event_type_parse(""), EVENT_NONE);
    assert_int_equal(domain_reject_reason_parse(NULL), REJECT_NONE);
    assert_null(domain_command_type_name(COMMAND_TYPE_COUNT));
    assert_null(domain_reject_reason_code(REJECT_NONE));
    /* The wire codes are stable: spot-check a few against their documented spelling. */
    assert_string_equal(domain_reject_reason_code(REJECT_INSUFFICIENT_STOCK), "insufficient_stock");
    assert_string_equal(domain_reject_reason_code(REJECT_RESERVATION_NOT_ACTIVE), "reservation_not_active");
    assert_string_equal(domain_event_type_name(EVENT_RESERVATION_EXPIRED), "ReservationExpired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_sku_accepts_and_numbers_from_one),
        cmocka_unit_test(test_receive_stock_adds_on_hand),
        cmocka_unit_test(test_adjust_by_delta_both_ways),
        cmocka_unit_test(test_adjust_to_counted_records_delta_and_count),
        cmocka_unit_test(test_reserve_holds_stock_and_sets_expiry),
        cmocka_unit_test(test_release_returns_reserved),
        cmocka_unit_test(test_fulfil_ships_on_hand_and_reserved),
        cmocka_unit_test(test_transfer_moves_available_stock_atomically),
        cmocka_unit_test(test_expire_when_due_releases_reserved),
        cmocka_unit_test(test_expire_many_emits_one_event_each_in_sequence),
        cmocka_unit_test(test_create_when_exists_rejects_sku_exists),
        cmocka_unit_test(test_every_command_on_unknown_sku_rejects_unknown_sku),
        cmocka_unit_test(test_reserve_when_stock_short_rejects_insufficient_stock),
        cmocka_unit_test(test_transfer_of_reserved_stock_rejects_insufficient_stock),
        cmocka_unit_test(test_adjust_below_zero_rejects_insufficient_stock),
        cmocka_unit_test(test_adjust_below_reserved_rejects_below_reserved),
        cmocka_unit_test(test_reserve_with_used_id_rejects_reservation_exists),
        cmocka_unit_test(test_release_or_fulfil_unknown_rejects_unknown_reservation),
        cmocka_unit_test(test_settle_ended_reservation_rejects_not_active),
        cmocka_unit_test(test_bad_quantities_reject_invalid_quantity),
        cmocka_unit_test(test_location_slots_full_rejects_too_many_locations),
        cmocka_unit_test(test_on_hand_past_maximum_rejects_on_hand_limit),
        cmocka_unit_test(test_transfer_to_same_location_rejects_same_location),
        cmocka_unit_test(test_expire_before_deadline_rejects_not_expired),
        cmocka_unit_test(test_empty_fields_reject_invalid_command),
        cmocka_unit_test(test_create_with_bad_reorder_point_rejects_invalid_quantity),
        cmocka_unit_test(test_evolve_refuses_gap_wrong_sku_and_broken_invariants),
        cmocka_unit_test(test_names_round_trip_and_unknown_is_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
