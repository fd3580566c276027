/* test_order.c - the order saga's pure core (src/domain/order.c) and its codec (src/domain/order_codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "domain/order.h"
#include "domain/order_codec.h"

static struct order_input place_input(const char *order_id, uint32_t line_count)
{
    struct order_input input;
    memset(&input, 0, sizeof(input)); /* padding too: the tests compare whole structs */
    input.type = ORDER_INPUT_PLACE;
    input.ttl_s = 900;
    input.submitted_ms = 1000;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.line_count = line_count;
    for (uint32_t i = 0; i < line_count; i++) {
        snprintf(input.lines[i].sku, sizeof(input.lines[i].sku), "SKU-%u", (unsigned)i);
        snprintf(input.lines[i].location, sizeof(input.lines[i].location), "WH-1");
        input.lines[i].quantity = (int64_t)i + 1;
    }
    return input;
}

static struct order_input outcome_input(const char *order_id, uint32_t line, enum order_op op, bool accepted,
                                        enum reject_reason reason)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_LINE_OUTCOME;
    input.line = line;
    input.op = op;
    input.accepted = accepted;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.reject_reason = accepted ? REJECT_NONE : reason;
    input.position_partition = 2;
    input.position_offset = 40 + line;
    return input;
}

static struct order_input expired_input(const char *order_id, uint32_t line)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_LINE_EXPIRED;
    input.line = line;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.position_partition = 1;
    input.position_offset = 70 + line;
    return input;
}

static struct order_input simple_input(const char *order_id, enum order_input_type type)
{
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = type;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    return input;
}

static void apply(struct order_state *state, struct order_input input, struct order_effects *out)
{
    order_apply(state, &input, out);
}

static void test_place_sends_one_reserve_per_line_with_derived_ids(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 3), &effects);
    assert_int_equal(state.status, ORDER_STATUS_PLACING);
    assert_int_equal(effects.command_count, 3);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    struct command command;
    order_command_build(&state, effects.commands[2], &command);
    assert_int_equal(command.type, COMMAND_RESERVE_STOCK);
    assert_string_equal(command.command_id, "order:o-1:2:reserve");
    assert_string_equal(command.reservation_id, "order:o-1:2");
    assert_string_equal(command.sku, "SKU-2");
    assert_string_equal(command.location, "WH-1");
    assert_int_equal(command.quantity, 3);
    assert_int_equal(command.ttl_s, 900);
}

static void test_all_lines_reserved_confirms_on_the_last_outcome(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 3), &effects);
    for (uint32_t i = 0; i < 3; i++) {
        apply(&state, outcome_input("o-1", i, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
        assert_int_equal(effects.command_count, 0);
        assert_int_equal(effects.event, i == 2 ? ORDER_EVENT_CONFIRMED : ORDER_EVENT_NONE);
    }
    assert_int_equal(state.status, ORDER_STATUS_CONFIRMED);
    assert_true(order_status_final(state.status));
    assert_int_equal(state.lines[1].position.partition, 2);
    assert_int_equal(state.lines[1].position.offset, 41);
}

static void test_rejected_line_releases_reserved_and_pending_lines_then_rejects(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 3), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, false, REJECT_INSUFFICIENT_STOCK), &effects);
    assert_int_equal(state.status, ORDER_STATUS_CANCELLING);
    assert_string_equal(state.reason, "line_rejected");
    /* Line 0 holds stock, line 2 may yet: both released; line 1 never held any. */
    assert_int_equal(effects.command_count, 2);
    assert_int_equal(effects.commands[0].line, 0);
    assert_int_equal(effects.commands[0].op, ORDER_OP_RELEASE);
    assert_int_equal(effects.commands[1].line, 2);
    struct command command;
    order_command_build(&state, effects.commands[1], &command);
    assert_int_equal(command.type, COMMAND_RELEASE_RESERVATION);
    assert_string_equal(command.command_id, "order:o-1:2:release");
    assert_string_equal(command.reservation_id, "order:o-1:2");
    /* Line 2's reserve is decided before its release (same partition, earlier transaction). */
    apply(&state, outcome_input("o-1", 2, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.command_count, 0);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    apply(&state, outcome_input("o-1", 2, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_REJECTED);
    assert_int_equal(state.status, ORDER_STATUS_REJECTED);
    assert_int_equal(state.lines[0].status, ORDER_LINE_RELEASED);
    assert_int_equal(state.lines[1].status, ORDER_LINE_REJECTED);
    assert_string_equal(state.lines[1].reason, "insufficient_stock");
    assert_int_equal(state.lines[2].status, ORDER_LINE_RELEASED);
    assert_string_equal(state.lines[2].reason, "order_rejected");
}

static void test_single_line_refused_rejects_at_once(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 1), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, false, REJECT_UNKNOWN_SKU), &effects);
    assert_int_equal(effects.command_count, 0);
    assert_int_equal(effects.event, ORDER_EVENT_REJECTED);
    assert_string_equal(state.lines[0].reason, "unknown_sku");
}

static void test_deadline_releases_pending_lines_with_reason_timeout(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 2), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, simple_input("o-1", ORDER_INPUT_DEADLINE), &effects);
    assert_int_equal(state.status, ORDER_STATUS_CANCELLING);
    assert_string_equal(state.reason, "timeout");
    assert_int_equal(effects.command_count, 2);
    /* The late reserve succeeds, then its release frees it: the order holds nothing in the end. */
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_REJECTED);
    assert_string_equal(state.lines[1].reason, "timeout");
    assert_int_equal(state.lines[1].status, ORDER_LINE_RELEASED);
}

static void test_deadline_after_confirmation_is_ignored(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 1), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, simple_input("o-1", ORDER_INPUT_DEADLINE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_LATE);
    assert_int_equal(effects.command_count, 0);
    assert_int_equal(state.status, ORDER_STATUS_CONFIRMED);
}

static void test_release_of_confirmed_order_releases_every_line(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 2), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, simple_input("o-1", ORDER_INPUT_RELEASE), &effects);
    assert_int_equal(state.status, ORDER_STATUS_RELEASING);
    assert_int_equal(effects.command_count, 2);
    apply(&state, simple_input("o-1", ORDER_INPUT_RELEASE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_NOT_CONFIRMED);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    /* A reservation that expired meanwhile holds nothing either. */
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RELEASE, false, REJECT_RESERVATION_NOT_ACTIVE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_RELEASED);
    assert_int_equal(state.lines[1].status, ORDER_LINE_RELEASED);
    assert_string_equal(state.lines[1].reason, "reservation_not_active");
}

static void test_fulfil_of_confirmed_order_fulfils_every_line(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 2), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, simple_input("o-1", ORDER_INPUT_FULFIL), &effects);
    struct command command;
    order_command_build(&state, effects.commands[0], &command);
    assert_int_equal(command.type, COMMAND_FULFIL_RESERVATION);
    assert_string_equal(command.command_id, "order:o-1:0:fulfil");
    apply(&state, outcome_input("o-1", 0, ORDER_OP_FULFIL, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_FULFIL, false, REJECT_RESERVATION_NOT_ACTIVE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_FULFILLED);
    assert_int_equal(state.lines[0].status, ORDER_LINE_FULFILLED);
    assert_int_equal(state.lines[1].status, ORDER_LINE_FAILED);
}

static void test_release_or_fulfil_of_unconfirmed_order_is_ignored(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, simple_input("o-1", ORDER_INPUT_RELEASE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_UNKNOWN_ORDER);
    apply(&state, place_input("o-1", 2), &effects);
    apply(&state, simple_input("o-1", ORDER_INPUT_FULFIL), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_NOT_CONFIRMED);
    assert_int_equal(effects.command_count, 0);
    assert_int_equal(state.status, ORDER_STATUS_PLACING);
}

static void test_duplicates_change_nothing(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 2), &effects);
    struct order_state before = state;
    apply(&state, place_input("o-1", 1), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_DUPLICATE);
    assert_memory_equal(&state, &before, sizeof(state));
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    before = state;
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_DUPLICATE);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_DUPLICATE);
    apply(&state, outcome_input("o-1", 5, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_UNKNOWN_LINE);
    assert_memory_equal(&state, &before, sizeof(state));
}

static void confirmed_order(struct order_state *state, const char *order_id, uint32_t line_count)
{
    struct order_effects effects;
    memset(state, 0, sizeof(*state));
    apply(state, place_input(order_id, line_count), &effects);
    for (uint32_t i = 0; i < line_count; i++)
        apply(state, outcome_input(order_id, i, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    assert_int_equal(state->status, ORDER_STATUS_CONFIRMED);
}

static void test_expiry_of_confirmed_order_releases_held_lines_then_expires(void **unused)
{
    (void)unused;
    struct order_state state;
    struct order_effects effects;
    confirmed_order(&state, "o-1", 3);
    apply(&state, expired_input("o-1", 1), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_NONE);
    assert_int_equal(state.status, ORDER_STATUS_EXPIRING);
    assert_false(order_status_final(state.status));
    assert_string_equal(state.reason, "line_expired");
    assert_int_equal(state.lines[1].status, ORDER_LINE_EXPIRED);
    assert_int_equal(state.lines[1].position.partition, 1);
    assert_int_equal(state.lines[1].position.offset, 71);
    /* The expired line holds nothing: only lines 0 and 2 are released, with the saga's usual ids. */
    assert_int_equal(effects.command_count, 2);
    assert_int_equal(effects.commands[0].line, 0);
    assert_int_equal(effects.commands[1].line, 2);
    assert_int_equal(effects.commands[1].op, ORDER_OP_RELEASE);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    struct command command;
    order_command_build(&state, effects.commands[1], &command);
    assert_int_equal(command.type, COMMAND_RELEASE_RESERVATION);
    assert_string_equal(command.command_id, "order:o-1:2:release");
    assert_string_equal(command.reservation_id, "order:o-1:2");
    assert_string_equal(state.lines[2].reason, "order_expired");
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    /* Line 2 expired too before its release was decided: refused, holding nothing all the same. */
    apply(&state, expired_input("o-1", 2), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_LATE);
    apply(&state, outcome_input("o-1", 2, ORDER_OP_RELEASE, false, REJECT_RESERVATION_NOT_ACTIVE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_EXPIRED);
    assert_int_equal(state.status, ORDER_STATUS_EXPIRED);
    assert_true(order_status_final(state.status));
    assert_int_equal(state.lines[0].status, ORDER_LINE_RELEASED);
    assert_int_equal(state.lines[1].status, ORDER_LINE_EXPIRED);
    assert_int_equal(state.lines[2].status, ORDER_LINE_RELEASED);
    assert_string_equal(state.lines[2].reason, "reservation_not_active");
}

static void test_expiry_of_single_line_confirmed_order_expires_at_once(void **unused)
{
    (void)unused;
    struct order_state state;
    struct order_effects effects;
    confirmed_order(&state, "o-1", 1);
    apply(&state, expired_input("o-1", 0), &effects);
    assert_int_equal(effects.command_count, 0);
    assert_int_equal(effects.event, ORDER_EVENT_EXPIRED);
    assert_int_equal(state.status, ORDER_STATUS_EXPIRED);
}

/* A line reserved with a short ttl may expire before the other lines are reserved: the order must not be
 * confirmed with a line that holds nothing. */
static void test_expiry_while_placing_cancels_and_rejects(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 2), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, expired_input("o-1", 0), &effects);
    assert_int_equal(state.status, ORDER_STATUS_CANCELLING);
    assert_string_equal(state.reason, "line_expired");
    assert_int_equal(effects.command_count, 1);
    assert_int_equal(effects.commands[0].line, 1);
    assert_int_equal(effects.commands[0].op, ORDER_OP_RELEASE);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_NONE);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RELEASE, true, REJECT_NONE), &effects);
    assert_int_equal(effects.event, ORDER_EVENT_REJECTED);
    assert_int_equal(state.lines[0].status, ORDER_LINE_EXPIRED);
    assert_int_equal(state.lines[1].status, ORDER_LINE_RELEASED);
}

/* Releasing, fulfilling, cancelling or settled orders do not follow an expiry (their commands report it),
 * nor does a line that holds nothing. */
static void test_expiry_not_followed_is_ignored(void **unused)
{
    (void)unused;
    struct order_state state;
    struct order_effects effects;
    confirmed_order(&state, "o-1", 2);
    apply(&state, simple_input("o-1", ORDER_INPUT_FULFIL), &effects);
    struct order_state before = state;
    apply(&state, expired_input("o-1", 0), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_LATE);
    assert_memory_equal(&state, &before, sizeof(state));
    apply(&state, expired_input("o-1", 5), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_UNKNOWN_LINE);
    memset(&state, 0, sizeof(state));
    apply(&state, place_input("o-2", 2), &effects);
    before = state;
    apply(&state, expired_input("o-2", 0), &effects); /* pending: its reserve's outcome comes first */
    assert_int_equal(effects.ignored, ORDER_IGNORED_LATE);
    assert_memory_equal(&state, &before, sizeof(state));
    memset(&state, 0, sizeof(state));
    apply(&state, expired_input("o-3", 0), &effects);
    assert_int_equal(effects.ignored, ORDER_IGNORED_UNKNOWN_ORDER);
}

/* Random interleavings of outcomes, deadlines, expiries, releases and duplicates: the saga ends with every
 * line held (confirmed) or none (rejected, released, expired), and replaying the same inputs gives the same
 * state and outputs. */
static void test_random_histories_end_all_or_nothing_and_replay_identically(void **unused)
{
    (void)unused;
    srand(15);
    int expired_orders = 0;
    for (int round = 0; round < 2000; round++) {
        uint32_t line_count = 1 + (uint32_t)(rand() % 5);
        struct order_input inputs[64];
        size_t input_count = 0;
        inputs[input_count++] = place_input("o-r", line_count);
        struct order_state state = {0};
        struct order_effects effects;
        order_apply(&state, &inputs[0], &effects);
        /* Commands in flight per line, answered in their order, as one SKU partition would. */
        enum order_op queue[STOCKD_ORDER_LINES_MAX][4];
        int queued[STOCKD_ORDER_LINES_MAX] = {0};
        bool held[STOCKD_ORDER_LINES_MAX] = {0};
        for (uint32_t i = 0; i < effects.command_count; i++)
            queue[effects.commands[i].line][queued[effects.commands[i].line]++] = effects.commands[i].op;
        for (int step = 0; step < 40 && input_count < 60; step++) {
            struct order_input input;
            int choice = rand() % 10;
            uint32_t line = (uint32_t)rand() % line_count;
            if (choice == 0) {
                input = simple_input("o-r", ORDER_INPUT_DEADLINE);
            } else if (choice == 2 && held[line]) {
                /* The handler expires a held reservation between two of the SKU's commands. */
                held[line] = false;
                input = expired_input("o-r", line);
            } else if (choice == 1) {
                input = simple_input("o-r", rand() % 2 ? ORDER_INPUT_RELEASE : ORDER_INPUT_FULFIL);
            } else if (queued[line] > 0) {
                enum order_op op = queue[line][0];
                memmove(queue[line], queue[line] + 1, sizeof(queue[line][0]) * (size_t)(queued[line] - 1));
                queued[line]--;
                bool accepted = op == ORDER_OP_RESERVE ? rand() % 3 != 0 : held[line];
                if (op == ORDER_OP_RESERVE && accepted) held[line] = true;
                if (op != ORDER_OP_RESERVE && accepted) held[line] = false;
                input = outcome_input("o-r", line, op, accepted,
                                      op == ORDER_OP_RESERVE ? REJECT_INSUFFICIENT_STOCK
                                                             : REJECT_UNKNOWN_RESERVATION);
            } else {
                continue;
            }
            inputs[input_count++] = input;
            order_apply(&state, &input, &effects);
            for (uint32_t i = 0; i < effects.command_count; i++) {
                uint32_t target = effects.commands[i].line;
                assert_true(queued[target] < 4);
                queue[target][queued[target]++] = effects.commands[i].op;
            }
        }
        if (state.status == ORDER_STATUS_REJECTED || state.status == ORDER_STATUS_RELEASED ||
            state.status == ORDER_STATUS_EXPIRED) {
            expired_orders += state.status == ORDER_STATUS_EXPIRED;
            for (uint32_t i = 0; i < line_count; i++)
                assert_false(held[i]);
        }
        if (state.status == ORDER_STATUS_CONFIRMED) {
            for (uint32_t i = 0; i < line_count; i++)
                assert_true(held[i]);
        }
        struct order_state replayed = {0};
        for (size_t i = 0; i < input_count; i++)
            order_apply(&replayed, &inputs[i], &effects);
        assert_memory_equal(&replayed, &state, sizeof(state));
    }
    assert_true(expired_orders > 0); /* the expiry branch was taken to its end */
}

static void test_command_id_parse_round_trips_and_refuses_others(void **unused)
{
    (void)unused;
    char id[STOCKD_ID_BYTES_MAX + 1];
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    uint32_t line = 0;
    enum order_op op = ORDER_OP_NONE;
    order_command_id("a:b.c", 31, ORDER_OP_FULFIL, id, sizeof(id));
    assert_string_equal(id, "order:a:b.c:31:fulfil");
    assert_int_equal(order_command_id_parse(id, order_id, sizeof(order_id), &line, &op), 0);
    assert_string_equal(order_id, "a:b.c");
    assert_int_equal(line, 31);
    assert_int_equal(op, ORDER_OP_FULFIL);
    const char *const refused[] = {
        "c-1",
        "order:",
        "order::0:reserve",
        "order:a:00:reserve",
        "order:a:1:explode",
        "order:a",
        "order:a:32:release",
        "order:a:123:reserve",
        "order:a:-1:reserve",
        "order:a:1:",
        "Order:a:1:reserve",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(order_command_id_parse(refused[i], order_id, sizeof(order_id), &line, &op), -1);
}

static void test_reservation_id_parse_round_trips_and_refuses_others(void **unused)
{
    (void)unused;
    char id[STOCKD_ID_BYTES_MAX + 1];
    char order_id[STOCKD_ORDER_ID_BYTES_MAX + 1];
    uint32_t line = 0;
    order_reservation_id("a:7", 12, id, sizeof(id));
    assert_int_equal(order_reservation_id_parse(id, order_id, sizeof(order_id), &line), 0);
    assert_string_equal(order_id, "a:7");
    assert_int_equal(line, 12);
    const char *const refused[] = {
        "r-1", "order:", "order:a", "order::0", "order:a:00", "order:a:32", "order:a:0:reserve", "Order:a:0",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(order_reservation_id_parse(refused[i], order_id, sizeof(order_id), &line), -1);
}

static void test_state_encoding_round_trips(void **unused)
{
    (void)unused;
    struct order_state state = {0};
    struct order_effects effects;
    apply(&state, place_input("o-1", 3), &effects);
    apply(&state, outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE), &effects);
    apply(&state, outcome_input("o-1", 1, ORDER_OP_RESERVE, false, REJECT_INSUFFICIENT_STOCK), &effects);
    char *json = order_codec_state_encode(&state);
    assert_non_null(json);
    struct order_state decoded;
    struct codec_error error;
    assert_int_equal(order_codec_state_decode(json, strlen(json), &decoded, &error), 0);
    assert_memory_equal(&decoded, &state, sizeof(state));
    free(json);
    json = order_codec_event_encode(ORDER_EVENT_REJECTED, &state);
    struct order_record record;
    assert_int_equal(order_codec_record_decode(json, strlen(json), &record, &error), 0);
    assert_int_equal(record.event, ORDER_EVENT_REJECTED);
    assert_int_equal(record.input.type, ORDER_INPUT_NONE);
    assert_memory_equal(&record.order, &state, sizeof(state));
    free(json);
}

static void test_input_records_round_trip(void **unused)
{
    (void)unused;
    struct order_input inputs[] = {
        place_input("o-1", 4),
        outcome_input("o-1", 3, ORDER_OP_RELEASE, false, REJECT_UNKNOWN_RESERVATION),
        outcome_input("o-1", 0, ORDER_OP_RESERVE, true, REJECT_NONE),
        simple_input("o-1", ORDER_INPUT_RELEASE),
        simple_input("o-1", ORDER_INPUT_FULFIL),
        simple_input("o-1", ORDER_INPUT_DEADLINE),
        expired_input("o-1", 2),
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char *json = order_codec_input_encode(&inputs[i]);
        assert_non_null(json);
        struct order_record record;
        struct codec_error error;
        assert_int_equal(order_codec_record_decode(json, strlen(json), &record, &error), 0);
        assert_int_equal(record.event, ORDER_EVENT_NONE);
        assert_memory_equal(&record.input, &inputs[i], sizeof(inputs[i]));
        free(json);
    }
}

static void expect_request_refused(const char *json, const char *field)
{
    struct order_input input;
    struct codec_error error;
    assert_int_equal(order_codec_request_decode(json, strlen(json), &input, &error), -1);
    assert_string_equal(error.field, field);
}

static void test_request_decode_accepts_an_order(void **unused)
{
    (void)unused;
    const char *json =
        "{\"order_id\":\"o-7\",\"lines\":[{\"sku\":\"A\",\"location\":\"WH-1\",\"quantity\":2},"
        "{\"sku\":\"A\",\"location\":\"WH-2\",\"quantity\":1}],\"ttl_seconds\":60}";
    struct order_input input;
    struct codec_error error;
    assert_int_equal(order_codec_request_decode(json, strlen(json), &input, &error), 0);
    assert_int_equal(input.type, ORDER_INPUT_PLACE);
    assert_int_equal(input.line_count, 2);
    assert_int_equal(input.ttl_s, 60);
    assert_string_equal(input.lines[1].location, "WH-2");
}

static void test_request_decode_refuses_bad_orders_by_field(void **unused)
{
    (void)unused;
    expect_request_refused("{\"order_id\":\"o-1\",\"lines\":[]}", "lines");
    expect_request_refused("{\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1}]}", "order_id");
    expect_request_refused(
        "{\"order_id\":\"o 1\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1}]}", "order_id");
    expect_request_refused(
        "{\"order_id\":\"o-1\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1},"
        "{\"sku\":\"A\",\"location\":\"W\",\"quantity\":2}]}",
        "lines[1]");
    expect_request_refused(
        "{\"order_id\":\"o-1\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":0}]}",
        "lines[0].quantity");
    expect_request_refused(
        "{\"order_id\":\"o-1\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1.5}]}",
        "lines[0].quantity");
    expect_request_refused("{\"order_id\":\"o-1\",\"Lines\":[]}", "Lines");
    expect_request_refused("{\"order_id\":\"o-1\",\"order_id\":\"o-2\",\"lines\":[]}", "order_id");
    expect_request_refused(
        "{\"order_id\":\"o-1\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1}],"
        "\"ttl_seconds\":0}",
        "ttl_seconds");
    /* One line past the bound. */
    char json[8192];
    size_t used = (size_t)snprintf(json, sizeof(json), "{\"order_id\":\"o-1\",\"lines\":[");
    for (int i = 0; i <= STOCKD_ORDER_LINES_MAX; i++)
        used += (size_t)snprintf(json + used, sizeof(json) - used,
                                 "%s{\"sku\":\"S%d\",\"location\":\"W\",\"quantity\":1}", i ? "," : "", i);
    snprintf(json + used, sizeof(json) - used, "]}");
    expect_request_refused(json, "lines");
    /* An order id so long that its lines' command ids would not fit. */
    char long_id[STOCKD_ORDER_ID_BYTES_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    snprintf(json, sizeof(json),
             "{\"order_id\":\"%s\",\"lines\":[{\"sku\":\"A\",\"location\":\"W\",\"quantity\":1}]}", long_id);
    expect_request_refused(json, "order_id");
}

static void test_record_decode_refuses_unknown_types_and_keys(void **unused)
{
    (void)unused;
    const char *const refused[] = {
        "{\"type\":\"Explode\",\"order_id\":\"o-1\"}",
        "{\"type\":\"ReleaseOrder\",\"order_id\":\"o-1\",\"extra\":1}",
        "{\"type\":\"OrderLineOutcome\",\"order_id\":\"o-1\",\"line\":0,\"op\":\"reserve\",\"accepted\":"
        "false,"
        "\"position\":\"0:1\"}",
        "{\"type\":\"OrderLineOutcome\",\"order_id\":\"o-1\",\"line\":0,\"op\":\"reserve\",\"accepted\":true,"
        "\"position\":\"x\"}",
        "[1]",
        "",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct order_record record;
        struct codec_error error;
        assert_int_equal(order_codec_record_decode(refused[i], strlen(refused[i]), &record, &error), -1);
    }
}

/* Records follow events' version rule (docs/events.md): absent means 1, 1 spelled out is 1, a newer one is
 * refused with a message saying so, a malformed one names the field; the encoder writes no version. */
static void test_record_version_absent_means_1_newer_refused(void **unused)
{
    (void)unused;
    struct order_record record;
    struct codec_error error;
    static const char one[] = "{\"type\":\"ReleaseOrder\",\"version\":1,\"order_id\":\"o-1\"}";
    assert_int_equal(order_codec_record_decode(one, strlen(one), &record, &error), 0);
    assert_int_equal(record.input.type, ORDER_INPUT_RELEASE);
    assert_string_equal(record.input.order_id, "o-1");
    static const char newer[] = "{\"version\":2,\"type\":\"OrderConfirmed\",\"order\":{\"future\":true}}";
    assert_int_equal(order_codec_record_decode(newer, strlen(newer), &record, &error), -1);
    assert_string_equal(error.field, "version");
    assert_string_equal(
        error.message,
        "version: OrderConfirmed version 2 is newer than this stockd reads (up to 1): upgrade it");
    static const char *const malformed[] = {
        "{\"type\":\"PlaceOrder\",\"version\":0,\"order_id\":\"o-1\"}",
        "{\"type\":\"PlaceOrder\",\"version\":1.5,\"order_id\":\"o-1\"}",
        "{\"type\":\"PlaceOrder\",\"version\":\"1\",\"order_id\":\"o-1\"}",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_int_equal(order_codec_record_decode(malformed[i], strlen(malformed[i]), &record, &error), -1);
        assert_string_equal(error.field, "version");
    }
    /* Version 1 is written without the key, inputs and events alike. */
    struct order_input place = place_input("o-1", 2);
    char *encoded = order_codec_input_encode(&place);
    assert_non_null(encoded);
    assert_null(strstr(encoded, "version"));
    assert_int_equal(order_codec_record_decode(encoded, strlen(encoded), &record, &error), 0);
    struct order_state state;
    memset(&state, 0, sizeof(state));
    struct order_effects effects;
    order_apply(&state, &place, &effects);
    free(encoded);
    encoded = order_codec_event_encode(ORDER_EVENT_CONFIRMED, &state);
    assert_non_null(encoded);
    assert_null(strstr(encoded, "version"));
    free(encoded);
}

/* Every example of schema/order.schema.json decodes, and encodes back to the same JSON (schema_check.py
 * validates the same examples against the schema). */
static void test_schema_examples_decode_and_encode_back(void **unused)
{
    (void)unused;
    FILE *file = fopen(STOCKD_SOURCE_DIR "/schema/order.schema.json", "rb");
    assert_non_null(file);
    static char text[64 * 1024];
    size_t length = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[length] = '\0';
    cJSON *schema = cJSON_Parse(text);
    assert_non_null(schema);
    const cJSON *examples = cJSON_GetObjectItemCaseSensitive(schema, "examples");
    assert_true(cJSON_GetArraySize(examples) >= 5);
    for (const cJSON *example = examples->child; example != NULL; example = example->next) {
        char *json = cJSON_PrintUnformatted(example);
        struct order_record record;
        struct codec_error error;
        if (order_codec_record_decode(json, strlen(json), &record, &error) != 0)
            fail_msg("%s: %s", json, error.message);
        char *encoded = record.event != ORDER_EVENT_NONE
                            ? order_codec_event_encode(record.event, &record.order)
                            : order_codec_input_encode(&record.input);
        assert_string_equal(encoded, json);
        free(encoded);
        free(json);
    }
    cJSON_Delete(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_sends_one_reserve_per_line_with_derived_ids),
        cmocka_unit_test(test_all_lines_reserved_confirms_on_the_last_outcome),
        cmocka_unit_test(test_rejected_line_releases_reserved_and_pending_lines_then_rejects),
        cmocka_unit_test(test_single_line_refused_rejects_at_once),
        cmocka_unit_test(test_deadline_releases_pending_lines_with_reason_timeout),
        cmocka_unit_test(test_deadline_after_confirmation_is_ignored),
        cmocka_unit_test(test_release_of_confirmed_order_releases_every_line),
        cmocka_unit_test(test_fulfil_of_confirmed_order_fulfils_every_line),
        cmocka_unit_test(test_release_or_fulfil_of_unconfirmed_order_is_ignored),
        cmocka_unit_test(test_duplicates_change_nothing),
        cmocka_unit_test(test_expiry_of_confirmed_order_releases_held_lines_then_expires),
        cmocka_unit_test(test_expiry_of_single_line_confirmed_order_expires_at_once),
        cmocka_unit_test(test_expiry_while_placing_cancels_and_rejects),
        cmocka_unit_test(test_expiry_not_followed_is_ignored),
        cmocka_unit_test(test_random_histories_end_all_or_nothing_and_replay_identically),
        cmocka_unit_test(test_reservation_id_parse_round_trips_and_refuses_others),
        cmocka_unit_test(test_command_id_parse_round_trips_and_refuses_others),
        cmocka_unit_test(test_state_encoding_round_trips),
        cmocka_unit_test(test_input_records_round_trip),
        cmocka_unit_test(test_request_decode_accepts_an_order),
        cmocka_unit_test(test_request_decode_refuses_bad_orders_by_field),
        cmocka_unit_test(test_record_decode_refuses_unknown_types_and_keys),
        cmocka_unit_test(test_record_version_absent_means_1_newer_refused),
        cmocka_unit_test(test_schema_examples_decode_and_encode_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
