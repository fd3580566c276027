/* test_movements.c - the movements view: a scripted week of commands with fixed times gives the expected
 * daily rows and reorder list.
 *
 * The commands go through domain_decide against a shard (as the handler decides them), each event through
 * the codec (as it travels the topic) and into the view in one batch per command (as the projector folds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/codec.h"
#include "store/shard.h"
#include "store/sqlite_util.h"
#include "view_harness.h"
#include "views/movements.h"

#define DAY_MS        VIEW_MOVEMENTS_DAY_MS
#define HOUR_MS       INT64_C(3600000)
#define WEEK_START_MS INT64_C(1795996800000) /* 2026-11-30T00:00:00Z, a Monday */
#define DAY0          (WEEK_START_MS / DAY_MS)
#define DAY6          (DAY0 + 6)

struct fixture {
    char dir[128];
    char error[512];
    struct shard *shard;
    struct view_harness view;
    long serial;
    int64_t offset;
};

/* Decides one command at the time, folds its events into the shard and the view. Returns the first event's
 * type (CommandRejected when refused). */
static enum event_type run(struct fixture *f, int64_t time_ms, struct command *command)
{
    snprintf(command->command_id, sizeof(command->command_id), "c-%ld", ++f->serial);
    struct sku_state sku;
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_sku_load(f->shard, command->sku, &sku, f->error, sizeof(f->error)), 0);
    struct reservation_set set = {.count = 0};
    if (command->reservation_id[0] != '\0')
        assert_true(shard_reservation_load(f->shard, command->sku, command->reservation_id, &set, f->error,
                                           sizeof(f->error)) >= 0);
    for (uint32_t i = 0; i < command->expire_count; i++)
        assert_true(shard_reservation_load(f->shard, command->sku, command->expire_ids[i], &set, f->error,
                                           sizeof(f->error)) >= 0);
    static struct decision decision;
    domain_decide(&sku, &set, command, time_ms, &decision);
    assert_int_equal(view_harness_begin(&f->view), 0);
    for (uint32_t i = 0; i < decision.event_count; i++) {
        char *json = codec_event_encode(&decision.events[i]);
        assert_non_null(json);
        struct event event;
        struct codec_error error;
        assert_int_equal(codec_event_decode(json, strlen(json), &event, &error), 0);
        assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
        struct view_position position = {0, f->offset++};
        if (view_harness_apply(&f->view, &event, position, (struct view_json){json, strlen(json)}) != 0)
            fail_msg("apply: %s", f->view.error);
        free(json);
    }
    assert_int_equal(view_harness_commit(&f->view), 0);
    assert_int_equal(shard_commit(f->shard, f->offset, f->error, sizeof(f->error)), 0);
    return decision.events[0].type;
}

static struct command command_of(enum command_type type, const char *sku)
{
    struct command command;
    memset(&command, 0, sizeof(command));
    command.type = type;
    snprintf(command.sku, sizeof(command.sku), "%s", sku);
    snprintf(command.location, sizeof(command.location), "L1");
    return command;
}

static void create(struct fixture *f, int64_t time_ms, const char *sku, int64_t lead_time_days)
{
    struct command command = command_of(COMMAND_CREATE_SKU, sku);
    snprintf(command.name, sizeof(command.name), "Widget %s", sku);
    command.lead_time_days = lead_time_days;
    assert_int_equal(run(f, time_ms, &command), EVENT_SKU_CREATED);
}

static void receive(struct fixture *f, int64_t time_ms, const char *sku, int64_t quantity)
{
    struct command command = command_of(COMMAND_RECEIVE_STOCK, sku);
    command.quantity = quantity;
    assert_int_equal(run(f, time_ms, &command), EVENT_STOCK_RECEIVED);
}

static void reserve(struct fixture *f, int64_t time_ms, const char *sku, const char *id, int64_t quantity,
                    int64_t ttl_s)
{
    struct command command = command_of(COMMAND_RESERVE_STOCK, sku);
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", id);
    command.quantity = quantity;
    command.ttl_s = ttl_s;
    assert_int_equal(run(f, time_ms, &command), EVENT_STOCK_RESERVED);
}

static void settle(struct fixture *f, int64_t time_ms, const char *sku, const char *id,
                   enum command_type type, enum event_type expected)
{
    struct command command = command_of(type, sku);
    command.location[0] = '\0';
    snprintf(command.reservation_id, sizeof(command.reservation_id), "%s", id);
    assert_int_equal(run(f, time_ms, &command), expected);
}

static void expire(struct fixture *f, int64_t time_ms, const char *sku, const char *id)
{
    struct command command = command_of(COMMAND_EXPIRE_RESERVATIONS, sku);
    command.location[0] = '\0';
    command.expire_count = 1;
    snprintf(command.expire_ids[0], sizeof(command.expire_ids[0]), "%s", id);
    assert_int_equal(run(f, time_ms, &command), EVENT_RESERVATION_EXPIRED);
}

static void ship(struct fixture *f, int64_t day, const char *sku, const char *id, int64_t quantity)
{
    reserve(f, WEEK_START_MS + day * DAY_MS + 10 * HOUR_MS, sku, id, quantity, 0);
    settle(f, WEEK_START_MS + day * DAY_MS + 15 * HOUR_MS, sku, id, COMMAND_FULFIL_RESERVATION,
           EVENT_RESERVATION_FULFILLED);
}

/* The week, Monday 2026-11-30 to Sunday 2026-12-06:
 *   A (lead time 5 days): 100 received; 10 shipped every day; Wednesday a reservation of 5 released,
 *     Thursday one of 4 expired; Friday 3 written off; Saturday 20 moved to another location.
 *   B (lead time 2): 100 received, 10 shipped on Sunday.  C (no lead time): as A's shipments.
 *   D (lead time 30): 50 received, nothing shipped.  E (lead time 3): 20 received, 15 shipped Tuesday. */
static void week_run(struct fixture *f)
{
    int64_t start = WEEK_START_MS;
    create(f, start + HOUR_MS, "A", 5);
    create(f, start + HOUR_MS, "B", 2);
    create(f, start + HOUR_MS, "C", 0);
    create(f, start + HOUR_MS, "D", 30);
    create(f, start + HOUR_MS, "E", 3);
    receive(f, start + 9 * HOUR_MS, "A", 100);
    receive(f, start + 9 * HOUR_MS, "B", 100);
    receive(f, start + 9 * HOUR_MS, "C", 100);
    receive(f, start + 9 * HOUR_MS, "D", 50);
    receive(f, start + 9 * HOUR_MS, "E", 20);
    char id[32];
    for (int day = 0; day < 7; day++) {
        snprintf(id, sizeof(id), "R-%d", day);
        ship(f, day, "A", id, 10);
        ship(f, day, "C", id, 10);
    }
    reserve(f, start + 2 * DAY_MS + 11 * HOUR_MS, "A", "R-held", 5, 0);
    settle(f, start + 2 * DAY_MS + 12 * HOUR_MS, "A", "R-held", COMMAND_RELEASE_RESERVATION,
           EVENT_RESERVATION_RELEASED);
    reserve(f, start + 3 * DAY_MS + 11 * HOUR_MS, "A", "R-cart", 4, 60);
    expire(f, start + 3 * DAY_MS + 12 * HOUR_MS, "A", "R-cart");
    struct command adjust = command_of(COMMAND_ADJUST_STOCK, "A");
    adjust.delta = -3;
    snprintf(adjust.reason, sizeof(adjust.reason), "damaged");
    assert_int_equal(run(f, start + 4 * DAY_MS + 8 * HOUR_MS, &adjust), EVENT_STOCK_ADJUSTED);
    struct command transfer = command_of(COMMAND_TRANSFER_STOCK, "A");
    snprintf(transfer.to_location, sizeof(transfer.to_location), "L2");
    transfer.quantity = 20;
    assert_int_equal(run(f, start + 5 * DAY_MS + 8 * HOUR_MS, &transfer), EVENT_STOCK_TRANSFERRED);
    ship(f, 6, "B", "R-1", 10);
    ship(f, 1, "E", "R-1", 15);
    /* A rejection moves nothing: more than E has. */
    struct command greedy = command_of(COMMAND_RESERVE_STOCK, "E");
    snprintf(greedy.reservation_id, sizeof(greedy.reservation_id), "R-2");
    greedy.quantity = 50;
    assert_int_equal(run(f, start + 2 * DAY_MS, &greedy), EVENT_COMMAND_REJECTED);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stockd-test-movements-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    f->shard = shard_open(f->dir, 0, f->error, sizeof(f->error));
    assert_non_null(f->shard);
    if (view_harness_open(&f->view, f->dir, &view_movements_ops) != 0) fail_msg("open: %s", f->view.error);
    week_run(f);
    assert_int_equal(sqlite_util_exec(f->view.reader, "BEGIN", f->error, sizeof(f->error)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite_util_exec(f->view.reader, "COMMIT", f->error, sizeof(f->error));
    view_harness_close(&f->view);
    shard_close(f->shard);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static void day_expect(const struct view_movement_day *day, int64_t received, int64_t reserved,
                       int64_t fulfilled, int64_t released, int64_t expired, int64_t adjusted)
{
    assert_int_equal(day->received, received);
    assert_int_equal(day->reserved, reserved);
    assert_int_equal(day->fulfilled, fulfilled);
    assert_int_equal(day->released, released);
    assert_int_equal(day->expired, expired);
    assert_int_equal(day->adjusted, adjusted);
}

static void test_week_gives_daily_rows(void **state)
{
    struct fixture *f = *state;
    static struct view_movements out;
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY6, 7, &out, f->error, sizeof(f->error)), 1);
    assert_int_equal(out.count, 7);
    assert_int_equal(out.lead_time_days, 5);
    assert_int_equal(out.on_hand, 27); /* 100 - 7 * 10 - 3; the transfer moves nothing of the SKU's */
    assert_int_equal(out.reserved, 0);
    assert_int_equal(out.days[0].day, DAY0);
    day_expect(&out.days[0], 100, 10, 10, 0, 0, 0);
    day_expect(&out.days[1], 0, 10, 10, 0, 0, 0);
    day_expect(&out.days[2], 0, 15, 10, 5, 0, 0);
    day_expect(&out.days[3], 0, 14, 10, 0, 4, 0);
    day_expect(&out.days[4], 0, 10, 10, 0, 0, -3);
    day_expect(&out.days[5], 0, 10, 10, 0, 0, 0);
    day_expect(&out.days[6], 0, 10, 10, 0, 0, 0);
    assert_int_equal(view_movements_get(f->view.reader, "E", DAY6, 7, &out, f->error, sizeof(f->error)), 1);
    day_expect(&out.days[0], 20, 0, 0, 0, 0, 0);
    day_expect(&out.days[1], 0, 15, 15, 0, 0, 0);
    day_expect(&out.days[2], 0, 0, 0, 0, 0, 0); /* the refused reservation moved nothing */
}

static void test_days_before_and_after_the_week_are_zero(void **state)
{
    struct fixture *f = *state;
    static struct view_movements out;
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY0 + 1, 5, &out, f->error, sizeof(f->error)),
                     1);
    assert_int_equal(out.count, 5);
    assert_int_equal(out.days[0].day, DAY0 - 3);
    for (int i = 0; i < 3; i++)
        day_expect(&out.days[i], 0, 0, 0, 0, 0, 0);
    day_expect(&out.days[3], 100, 10, 10, 0, 0, 0);
    day_expect(&out.days[4], 0, 10, 10, 0, 0, 0);
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY6 + 30, 1, &out, f->error, sizeof(f->error)),
                     1);
    day_expect(&out.days[0], 0, 0, 0, 0, 0, 0);
}

static void test_movements_refuse_bad_input_and_say_unknown(void **state)
{
    struct fixture *f = *state;
    static struct view_movements out;
    assert_int_equal(view_movements_get(f->view.reader, "nope", DAY6, 7, &out, f->error, sizeof(f->error)),
                     0);
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY6, 0, &out, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY6, VIEW_MOVEMENTS_DAYS_MAX + 1, &out,
                                        f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_movements_get(f->view.reader, "A", DAY6, VIEW_MOVEMENTS_DAYS_MAX, &out, f->error,
                                        sizeof(f->error)),
                     1);
    assert_int_equal(view_movements_get(f->view.reader, "-bad", DAY6, 7, &out, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
}

static void test_week_gives_reorder_list(void **state)
{
    struct fixture *f = *state;
    static struct view_reorder_page page;
    /* A: 27 available at 10 a day covers 2.7 days < 5. E: 5 at 15/7 a day covers 2.33 < 3. B: 90 at 10/7
     * covers 63 > 2. C has no lead time, D fulfilled nothing. */
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 7, NULL, 50, &page, f->error, sizeof(f->error)),
                     2);
    assert_string_equal(page.items[0].sku, "A");
    assert_int_equal(page.items[0].available, 27);
    assert_int_equal(page.items[0].fulfilled_in_window, 70);
    assert_int_equal(page.items[0].lead_time_days, 5);
    assert_true(page.items[0].days_of_cover > 2.69 && page.items[0].days_of_cover < 2.71);
    assert_string_equal(page.items[1].sku, "E");
    assert_int_equal(page.items[1].available, 5);
    assert_int_equal(page.items[1].fulfilled_in_window, 15);
    assert_string_equal(page.next_cursor, "");
    /* Over the last three days E shipped nothing: only A is short. */
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 3, NULL, 50, &page, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(page.items[0].sku, "A");
    /* A week later nothing was shipped in the window: nothing to reorder. */
    assert_int_equal(
        view_reorder_list(f->view.reader, DAY6 + 7, 7, NULL, 50, &page, f->error, sizeof(f->error)), 0);
}

static void test_reorder_pages_with_cursor(void **state)
{
    struct fixture *f = *state;
    static struct view_reorder_page page;
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 7, NULL, 1, &page, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(page.items[0].sku, "A");
    assert_string_not_equal(page.next_cursor, "");
    char cursor[VIEW_CURSOR_BYTES_MAX + 1];
    snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 7, cursor, 1, &page, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(page.items[0].sku, "E");
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 7, "!!", 1, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 0, NULL, 1, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, VIEW_REORDER_WINDOW_DAYS_MAX + 1, NULL, 1, &page,
                                       f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_int_equal(view_reorder_list(f->view.reader, DAY6, 7, NULL, 0, &page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
}

static void test_day_of_is_utc_floor(void **state)
{
    (void)state;
    assert_int_equal(view_movements_day_of(0), 0);
    assert_int_equal(view_movements_day_of(DAY_MS - 1), 0);
    assert_int_equal(view_movements_day_of(DAY_MS), 1);
    assert_int_equal(view_movements_day_of(-1), -1);
    assert_int_equal(view_movements_day_of(WEEK_START_MS + 23 * HOUR_MS), DAY0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_week_gives_daily_rows),
        cmocka_unit_test(test_days_before_and_after_the_week_are_zero),
        cmocka_unit_test(test_movements_refuse_bad_input_and_say_unknown),
        cmocka_unit_test(test_week_gives_reorder_list),
        cmocka_unit_test(test_reorder_pages_with_cursor),
        cmocka_unit_test(test_day_of_is_utc_floor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
