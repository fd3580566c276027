/* test_outcome_board.c - tests of src/outcome_board.c: the handler's committed outcomes handed to the API's
 * synchronous submissions in-process, and every way a watch ends (decided, gone, timed out). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "outcome_board.h"

/* An accepted ReceiveStock of SKU-1 decided as event sequence 7, at offset offset of partition 2. */
static void outcome_accepted(const char *command_id, int64_t offset, struct view_outcome *out)
{
    struct event event;
    memset(&event, 0, sizeof(event));
    event.type = EVENT_STOCK_RECEIVED;
    snprintf(event.sku, sizeof(event.sku), "SKU-1");
    snprintf(event.command_id, sizeof(event.command_id), "%s", command_id);
    event.sequence = 7;
    event.time_ms = 1700000000123;
    outcome_board_outcome_of(&event, 1, 2, out);
    out->events[0].position.offset = offset;
}

static void outcome_of_maps_an_accepted_decision(void **state)
{
    (void)state;
    struct view_outcome outcome;
    outcome_accepted("c-1", 41, &outcome);
    assert_string_equal(outcome.command_id, "c-1");
    assert_string_equal(outcome.sku, "SKU-1");
    assert_int_equal(outcome.command_type, COMMAND_RECEIVE_STOCK);
    assert_true(outcome.accepted);
    assert_int_equal(outcome.reason, REJECT_NONE);
    assert_string_equal(outcome.detail, "");
    assert_int_equal(outcome.decided_ms, 1700000000123);
    assert_int_equal(outcome.decision_count, 1);
    assert_int_equal(outcome.event_count, 1);
    assert_int_equal(outcome.events[0].sequence, 7);
    assert_int_equal(outcome.events[0].type, EVENT_STOCK_RECEIVED);
    assert_int_equal(outcome.events[0].position.partition, 2);
}

static void outcome_of_maps_a_rejection_and_several_events(void **state)
{
    (void)state;
    struct event events[3];
    memset(events, 0, sizeof(events));
    events[0].type = EVENT_COMMAND_REJECTED;
    events[0].rejected_type = COMMAND_RESERVE_STOCK;
    events[0].reject_reason = REJECT_INSUFFICIENT_STOCK;
    snprintf(events[0].detail, sizeof(events[0].detail), "only 2 available");
    struct view_outcome outcome;
    outcome_board_outcome_of(events, 1, 0, &outcome);
    assert_false(outcome.accepted);
    assert_int_equal(outcome.command_type, COMMAND_RESERVE_STOCK);
    assert_int_equal(outcome.reason, REJECT_INSUFFICIENT_STOCK);
    assert_string_equal(outcome.detail, "only 2 available");
    for (int i = 0; i < 3; i++) {
        events[i].type = EVENT_RESERVATION_EXPIRED;
        events[i].sequence = 10 + (uint64_t)i;
    }
    outcome_board_outcome_of(events, 3, 5, &outcome);
    assert_true(outcome.accepted);
    assert_int_equal(outcome.command_type, COMMAND_EXPIRE_RESERVATIONS);
    assert_int_equal(outcome.event_count, 3);
    assert_int_equal(outcome.events[2].sequence, 12);
    assert_int_equal(outcome.events[2].position.partition, 5);
    assert_int_equal(outcome.events[2].position.offset, -1);
}

static void a_partition_not_held_here_is_not_watched(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(4);
    assert_non_null(board);
    assert_int_equal(outcome_board_watch(board, 2, "c-1"), OUTCOME_BOARD_NOT_HERE);
    outcome_board_partition_take(board, 2);
    int watch = outcome_board_watch(board, 2, "c-1");
    assert_true(watch >= 0);
    assert_true(outcome_board_partition_watched(board, 2));
    assert_false(outcome_board_partition_watched(board, 3));
    assert_true(outcome_board_wanted(board, 2, "c-1"));
    assert_false(outcome_board_wanted(board, 2, "c-2"));
    assert_false(outcome_board_wanted(board, 3, "c-1"));
    outcome_board_unwatch(board, watch);
    assert_false(outcome_board_partition_watched(board, 2));
    assert_false(outcome_board_wanted(board, 2, "c-1"));
    outcome_board_destroy(board);
}

static void a_post_answers_the_watch_of_its_id_only(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(4);
    outcome_board_partition_take(board, 2);
    int first = outcome_board_watch(board, 2, "c-1");
    int second = outcome_board_watch(board, 2, "c-2");
    struct view_outcome posted;
    outcome_accepted("c-1", 41, &posted);
    outcome_board_post(board, 2, "c-1", &posted);
    struct view_outcome got;
    assert_int_equal(outcome_board_wait(board, first, clock_monotonic_ms() + 1000, &got),
                     OUTCOME_BOARD_DECIDED);
    assert_string_equal(got.command_id, "c-1");
    assert_int_equal(got.events[0].position.offset, 41);
    /* c-2 has nothing: its wait runs out. */
    int64_t started_ms = clock_monotonic_ms();
    assert_int_equal(outcome_board_wait(board, second, started_ms + 50, &got), OUTCOME_BOARD_TIMEOUT);
    assert_true(clock_monotonic_ms() - started_ms >= 45);
    outcome_board_unwatch(board, first);
    outcome_board_unwatch(board, second);
    outcome_board_destroy(board);
}

static void two_watches_of_one_id_both_get_the_outcome(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(4);
    outcome_board_partition_take(board, 2);
    int first = outcome_board_watch(board, 2, "c-1");
    int second = outcome_board_watch(board, 2, "c-1");
    assert_true(first >= 0 && second >= 0 && first != second);
    struct view_outcome posted;
    outcome_accepted("c-1", 41, &posted);
    outcome_board_post(board, 2, "c-1", &posted);
    /* A duplicate posted after the decision changes nothing. */
    outcome_board_post(board, 2, "c-1", NULL);
    struct view_outcome got;
    assert_int_equal(outcome_board_wait(board, first, clock_monotonic_ms() + 1000, &got),
                     OUTCOME_BOARD_DECIDED);
    assert_int_equal(outcome_board_wait(board, second, clock_monotonic_ms() + 1000, &got),
                     OUTCOME_BOARD_DECIDED);
    assert_false(outcome_board_partition_watched(board, 2));
    outcome_board_unwatch(board, first);
    outcome_board_unwatch(board, second);
    outcome_board_destroy(board);
}

static void watches_end_gone_on_duplicate_give_up_release_and_close(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(8);
    outcome_board_partition_take(board, 1);
    outcome_board_partition_take(board, 2);
    struct view_outcome got;
    int duplicate = outcome_board_watch(board, 1, "dup");
    outcome_board_post(board, 1, "dup", NULL);
    assert_int_equal(outcome_board_wait(board, duplicate, clock_monotonic_ms() + 1000, &got),
                     OUTCOME_BOARD_GONE);
    outcome_board_unwatch(board, duplicate);

    int released = outcome_board_watch(board, 1, "r");
    int other = outcome_board_watch(board, 2, "o");
    outcome_board_partition_release(board, 1);
    assert_int_equal(outcome_board_wait(board, released, clock_monotonic_ms() + 1000, &got),
                     OUTCOME_BOARD_GONE);
    assert_int_equal(outcome_board_wait(board, other, clock_monotonic_ms() + 10, &got),
                     OUTCOME_BOARD_TIMEOUT);
    outcome_board_unwatch(board, released);
    /* Released, the partition is still held: new watches are taken. */
    int again = outcome_board_watch(board, 1, "r2");
    assert_true(again >= 0);
    outcome_board_partition_give_up(board, 1);
    assert_int_equal(outcome_board_wait(board, again, clock_monotonic_ms() + 1000, &got), OUTCOME_BOARD_GONE);
    outcome_board_unwatch(board, again);
    assert_int_equal(outcome_board_watch(board, 1, "r3"), OUTCOME_BOARD_NOT_HERE);

    outcome_board_close(board);
    assert_int_equal(outcome_board_wait(board, other, clock_monotonic_ms() + 1000, &got), OUTCOME_BOARD_GONE);
    outcome_board_unwatch(board, other);
    assert_int_equal(outcome_board_watch(board, 2, "late"), OUTCOME_BOARD_NOT_HERE);
    outcome_board_destroy(board);
}

static void a_partition_held_twice_stays_held_after_one_give_up(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(2);
    outcome_board_partition_take(board, 4); /* the new owner, before the old one gave it up */
    outcome_board_partition_take(board, 4);
    outcome_board_partition_give_up(board, 4);
    int watch = outcome_board_watch(board, 4, "c");
    assert_true(watch >= 0);
    outcome_board_unwatch(board, watch);
    outcome_board_partition_give_up(board, 4);
    assert_int_equal(outcome_board_watch(board, 4, "c"), OUTCOME_BOARD_NOT_HERE);
    outcome_board_destroy(board);
}

static void a_full_board_refuses_and_a_freed_watch_is_reused(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(2);
    outcome_board_partition_take(board, 0);
    int a = outcome_board_watch(board, 0, "a");
    int b = outcome_board_watch(board, 0, "b");
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(outcome_board_watch(board, 0, "c"), OUTCOME_BOARD_NOT_HERE);
    outcome_board_unwatch(board, a);
    outcome_board_unwatch(board, -1); /* no watch: nothing */
    assert_int_equal(outcome_board_watch(board, 0, "c"), a);
    /* An unwatched id is no longer wanted, and a post for it is dropped. */
    assert_false(outcome_board_wanted(board, 0, "a"));
    outcome_board_post(board, 0, "a", NULL);
    struct view_outcome got;
    assert_int_equal(outcome_board_wait(board, a, clock_monotonic_ms() + 10, &got), OUTCOME_BOARD_TIMEOUT);
    outcome_board_unwatch(board, a);
    outcome_board_unwatch(board, b);
    outcome_board_destroy(board);
}

struct poster {
    struct outcome_board *board;
    int count;
};

/* Posts c-0 .. c-(count-1) on partition 0, each once it is watched. */
static void *poster_run(void *argument)
{
    struct poster *poster = argument;
    for (int i = 0; i < poster->count; i++) {
        char id[32];
        snprintf(id, sizeof(id), "c-%d", i);
        while (!outcome_board_wanted(poster->board, 0, id)) {
            struct timespec pause = {0, 100000};
            nanosleep(&pause, NULL);
        }
        struct view_outcome outcome;
        outcome_accepted(id, i, &outcome);
        outcome_board_post(poster->board, 0, id, &outcome);
    }
    return NULL;
}

static void a_waiter_wakes_for_a_post_from_another_thread(void **state)
{
    (void)state;
    struct outcome_board *board = outcome_board_create(4);
    outcome_board_partition_take(board, 0);
    struct poster poster = {board, 200};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, poster_run, &poster), 0);
    for (int i = 0; i < poster.count; i++) {
        char id[32];
        snprintf(id, sizeof(id), "c-%d", i);
        int watch = outcome_board_watch(board, 0, id);
        assert_true(watch >= 0);
        struct view_outcome got;
        assert_int_equal(outcome_board_wait(board, watch, clock_monotonic_ms() + 10000, &got),
                         OUTCOME_BOARD_DECIDED);
        assert_string_equal(got.command_id, id);
        assert_int_equal(got.events[0].position.offset, i);
        outcome_board_unwatch(board, watch);
    }
    pthread_join(thread, NULL);
    outcome_board_destroy(board);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcome_of_maps_an_accepted_decision),
        cmocka_unit_test(outcome_of_maps_a_rejection_and_several_events),
        cmocka_unit_test(a_partition_not_held_here_is_not_watched),
        cmocka_unit_test(a_post_answers_the_watch_of_its_id_only),
        cmocka_unit_test(two_watches_of_one_id_both_get_the_outcome),
        cmocka_unit_test(watches_end_gone_on_duplicate_give_up_release_and_close),
        cmocka_unit_test(a_partition_held_twice_stays_held_after_one_give_up),
        cmocka_unit_test(a_full_board_refuses_and_a_freed_watch_is_reused),
        cmocka_unit_test(a_waiter_wakes_for_a_post_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
