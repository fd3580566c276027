/* test_shard.c - the handler's SQLite shard: state round trips, checkpoint atomicity, idempotency records,
 * expiry scan, pruning, folding events, and refusing files that are not what they claim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/shard.h"
#include "store/sqlite_util.h"

#define NOW_MS INT64_C(1764000000000)

struct fixture {
    char data_dir[256];
    struct shard *shard;
    char error[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->data_dir, sizeof(f->data_dir), "/tmp/stockd-test-shard-XXXXXX");
    if (mkdtemp(f->data_dir) == NULL) return -1;
    f->shard = shard_open(f->data_dir, 3, f->error, sizeof(f->error));
    if (f->shard == NULL) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    shard_close(f->shard);
    char command[400];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->data_dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static struct event event_make(enum event_type type, const char *sku, uint64_t sequence,
                               const char *command_id)
{
    struct event event;
    memset(&event, 0, sizeof(event));
    event.type = type;
    snprintf(event.sku, sizeof(event.sku), "%s", sku);
    event.sequence = sequence;
    snprintf(event.command_id, sizeof(event.command_id), "%s", command_id);
    event.time_ms = NOW_MS + (int64_t)sequence;
    return event;
}

/* Creates SKU-1 with 10 at WH-1 and an active reservation R-1 of 4 expiring at NOW_MS + 1000. */
static void seed_sku(struct fixture *f)
{
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_SKU_CREATED, "SKU-1", 1, "c-1");
    snprintf(event.name, sizeof(event.name), "Blue widget");
    event.reorder_point = 3;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    event = event_make(EVENT_STOCK_RECEIVED, "SKU-1", 2, "c-2");
    snprintf(event.location, sizeof(event.location), "WH-1");
    event.quantity = 10;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    event = event_make(EVENT_STOCK_RESERVED, "SKU-1", 3, "c-3");
    snprintf(event.location, sizeof(event.location), "WH-1");
    snprintf(event.reservation_id, sizeof(event.reservation_id), "R-1");
    event.quantity = 4;
    event.expires_at_ms = NOW_MS + 1000;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_commit(f->shard, 42, f->error, sizeof(f->error)), 0);
}

static void test_new_shard_starts_at_checkpoint_zero(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(shard_checkpoint(f->shard), 0);
    assert_int_equal(shard_partition(f->shard), 3);
    struct sku_state sku;
    assert_int_equal(shard_sku_load(f->shard, "SKU-404", &sku, f->error, sizeof(f->error)), 0);
    assert_false(sku.exists);
    assert_int_equal(sku.sequence, 0);
    assert_string_equal(sku.sku, "SKU-404");
}

static void test_events_fold_into_rows_that_load_back(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    struct sku_state sku;
    assert_int_equal(shard_sku_load(f->shard, "SKU-1", &sku, f->error, sizeof(f->error)), 0);
    assert_true(sku.exists);
    assert_string_equal(sku.name, "Blue widget");
    assert_int_equal(sku.reorder_point, 3);
    assert_int_equal(sku.sequence, 3);
    assert_int_equal(sku.location_count, 1);
    assert_string_equal(sku.locations[0].location, "WH-1");
    assert_int_equal(sku.locations[0].on_hand, 10);
    assert_int_equal(sku.locations[0].reserved, 4);

    struct reservation_set set = {.count = 0};
    assert_int_equal(shard_reservation_load(f->shard, "SKU-1", "R-1", &set, f->error, sizeof(f->error)), 1);
    assert_int_equal(shard_reservation_load(f->shard, "SKU-1", "R-2", &set, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_reservation_load(f->shard, "SKU-2", "R-1", &set, f->error, sizeof(f->error)), 0);
    assert_int_equal(set.count, 1);
    assert_int_equal(set.items[0].status, RESERVATION_ACTIVE);
    assert_int_equal(set.items[0].quantity, 4);
    assert_int_equal(set.items[0].expires_at_ms, NOW_MS + 1000);
}

static void test_checkpoint_commits_with_rows_and_survives_reopen(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_checkpoint(f->shard), 42);
    shard_close(f->shard);
    f->shard = shard_open(f->data_dir, 3, f->error, sizeof(f->error));
    assert_non_null(f->shard);
    assert_int_equal(shard_checkpoint(f->shard), 42);
    struct sku_state sku;
    assert_int_equal(shard_sku_load(f->shard, "SKU-1", &sku, f->error, sizeof(f->error)), 0);
    assert_int_equal(sku.sequence, 3);
}

static void test_rollback_discards_rows_and_checkpoint(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_STOCK_RECEIVED, "SKU-1", 4, "c-4");
    snprintf(event.location, sizeof(event.location), "WH-2");
    event.quantity = 5;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    shard_rollback(f->shard);
    assert_false(shard_in_transaction(f->shard));
    struct sku_state sku;
    assert_int_equal(shard_sku_load(f->shard, "SKU-1", &sku, f->error, sizeof(f->error)), 0);
    assert_int_equal(sku.sequence, 3);
    assert_int_equal(sku.location_count, 1);
    assert_int_equal(shard_command_find(f->shard, "c-4", NULL, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_checkpoint(f->shard), 42);
}

static void test_command_outcomes_are_recorded_for_idempotency(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_COMMAND_REJECTED, "SKU-1", 4, "c-5");
    event.rejected_type = COMMAND_RESERVE_STOCK;
    event.reject_reason = REJECT_INSUFFICIENT_STOCK;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_commit(f->shard, -1, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_checkpoint(f->shard), 42); /* -1 leaves it */

    struct shard_command_outcome outcome;
    assert_int_equal(shard_command_find(f->shard, "c-5", &outcome, f->error, sizeof(f->error)), 1);
    assert_true(outcome.rejected);
    assert_string_equal(outcome.reason, "insufficient_stock");
    assert_int_equal(outcome.first_sequence, 4);
    assert_int_equal(outcome.event_count, 1);
    assert_int_equal(shard_command_find(f->shard, "c-2", &outcome, f->error, sizeof(f->error)), 1);
    assert_false(outcome.rejected);
    assert_string_equal(outcome.reason, "");
    assert_int_equal(shard_command_find(f->shard, "c-404", &outcome, f->error, sizeof(f->error)), 0);
}

static void test_multi_event_command_counts_its_events(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_STOCK_RESERVED, "SKU-1", 4, "c-6");
    snprintf(event.location, sizeof(event.location), "WH-1");
    snprintf(event.reservation_id, sizeof(event.reservation_id), "R-2");
    event.quantity = 1;
    event.expires_at_ms = NOW_MS + 500;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    struct event expired = event_make(EVENT_RESERVATION_EXPIRED, "SKU-1", 5, "expire.1");
    snprintf(expired.location, sizeof(expired.location), "WH-1");
    snprintf(expired.reservation_id, sizeof(expired.reservation_id), "R-2");
    expired.quantity = 1;
    assert_int_equal(shard_event_apply(f->shard, &expired, f->error, sizeof(f->error)), 0);
    expired = event_make(EVENT_RESERVATION_EXPIRED, "SKU-1", 6, "expire.1");
    snprintf(expired.location, sizeof(expired.location), "WH-1");
    snprintf(expired.reservation_id, sizeof(expired.reservation_id), "R-1");
    expired.quantity = 4;
    assert_int_equal(shard_event_apply(f->shard, &expired, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_commit(f->shard, 50, f->error, sizeof(f->error)), 0);
    struct shard_command_outcome outcome;
    assert_int_equal(shard_command_find(f->shard, "expire.1", &outcome, f->error, sizeof(f->error)), 1);
    assert_int_equal(outcome.event_count, 2);
    assert_int_equal(outcome.first_sequence, 5);
}

static void test_due_reservations_lists_only_active_past_deadline(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    struct shard_due_reservation due[4];
    assert_int_equal(shard_due_reservations(f->shard, NOW_MS + 999, due, 4, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_due_reservations(f->shard, NOW_MS + 1000, due, 4, f->error, sizeof(f->error)), 1);
    assert_string_equal(due[0].sku, "SKU-1");
    assert_string_equal(due[0].reservation_id, "R-1");
    /* Once released it is no longer due. */
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_RESERVATION_RELEASED, "SKU-1", 4, "c-7");
    snprintf(event.location, sizeof(event.location), "WH-1");
    snprintf(event.reservation_id, sizeof(event.reservation_id), "R-1");
    event.quantity = 4;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_commit(f->shard, -1, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_due_reservations(f->shard, NOW_MS + 5000, due, 4, f->error, sizeof(f->error)), 0);
}

static void test_prune_forgets_only_old_command_ids(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    /* c-1..c-3 were decided at NOW_MS + 1..3. */
    assert_int_equal(shard_commands_prune(f->shard, NOW_MS + 3, 100, f->error, sizeof(f->error)), 2);
    assert_int_equal(shard_commit(f->shard, -1, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_command_find(f->shard, "c-1", NULL, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_command_find(f->shard, "c-3", NULL, f->error, sizeof(f->error)), 1);
}

static void test_event_out_of_sequence_is_refused_and_names_it(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    assert_int_equal(shard_begin(f->shard, f->error, sizeof(f->error)), 0);
    struct event event = event_make(EVENT_STOCK_RECEIVED, "SKU-1", 7, "c-8");
    snprintf(event.location, sizeof(event.location), "WH-1");
    event.quantity = 1;
    assert_int_equal(shard_event_apply(f->shard, &event, f->error, sizeof(f->error)), -1);
    assert_non_null(strstr(f->error, "StockReceived #7 of SKU-1 does not follow"));
    shard_rollback(f->shard);
}

static void test_file_of_another_partition_is_refused(void **state)
{
    struct fixture *f = *state;
    char path_from[512];
    char path_to[512];
    assert_int_equal(shard_path(f->data_dir, 3, path_from, sizeof(path_from)), 0);
    assert_int_equal(shard_path(f->data_dir, 4, path_to, sizeof(path_to)), 0);
    shard_close(f->shard);
    f->shard = NULL;
    assert_int_equal(rename(path_from, path_to), 0);
    struct shard *wrong = shard_open(f->data_dir, 4, f->error, sizeof(f->error));
    assert_null(wrong);
    assert_non_null(strstr(f->error, "shard file of partition 3 opened as partition 4"));
}

static void test_schema_newer_than_binary_is_refused(void **state)
{
    struct fixture *f = *state;
    char path[512];
    assert_int_equal(shard_path(f->data_dir, 3, path, sizeof(path)), 0);
    shard_close(f->shard);
    f->shard = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(shard_open(f->data_dir, 3, f->error, sizeof(f->error)));
    assert_non_null(strstr(f->error, "schema version 999 is newer"));
}

static void test_remove_then_open_rebuilds_from_zero(void **state)
{
    struct fixture *f = *state;
    seed_sku(f);
    shard_close(f->shard);
    f->shard = NULL;
    assert_int_equal(shard_remove(f->data_dir, 3, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_remove(f->data_dir, 3, f->error, sizeof(f->error)), 0); /* idempotent */
    f->shard = shard_open(f->data_dir, 3, f->error, sizeof(f->error));
    assert_non_null(f->shard);
    assert_int_equal(shard_checkpoint(f->shard), 0);
    assert_int_equal(sqlite_util_schema_version("state"), 2); /* 002_lead_time.sql */
}

/* The chaos scenario broker_restart (docs/chaos.md): a commit Kafka acknowledged, its markers never written,
 * left the last stable offset (73) below the shard's checkpoint (74) and the log end (74). The restore took
 * that for a recreated topic, rebuilt the shard from the committed events, forgot the command decided at 73
 * and decided it again. */
static void test_restore_plan_checkpoint_above_stable_end_keeps_the_shard(void **state)
{
    (void)state;
    assert_int_equal(shard_restore_plan(74, 0, 73, 74), SHARD_RESTORE_AHEAD);
    assert_int_equal(shard_restore_plan(74, 0, 60, 90), SHARD_RESTORE_AHEAD);
}

static void test_restore_plan_checkpoint_past_log_end_rebuilds(void **state)
{
    (void)state;
    assert_int_equal(shard_restore_plan(75, 0, 74, 74), SHARD_RESTORE_REBUILD);
    assert_int_equal(shard_restore_plan(1, 0, 0, 0), SHARD_RESTORE_REBUILD);
}

static void test_restore_plan_within_stable_end_replays(void **state)
{
    (void)state;
    assert_int_equal(shard_restore_plan(0, 0, 0, 0), SHARD_RESTORE_REPLAY);
    assert_int_equal(shard_restore_plan(73, 0, 73, 74), SHARD_RESTORE_REPLAY);
    assert_int_equal(shard_restore_plan(10, 5, 20, 20), SHARD_RESTORE_REPLAY);
}

static void test_restore_plan_log_start_past_checkpoint_is_a_gap(void **state)
{
    (void)state;
    assert_int_equal(shard_restore_plan(3, 5, 20, 20), SHARD_RESTORE_GAP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_shard_starts_at_checkpoint_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_fold_into_rows_that_load_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_commits_with_rows_and_survives_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_discards_rows_and_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_outcomes_are_recorded_for_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_event_command_counts_its_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_reservations_lists_only_active_past_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prune_forgets_only_old_command_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_out_of_sequence_is_refused_and_names_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_of_another_partition_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer_than_binary_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_then_open_rebuilds_from_zero, setup, teardown),
        cmocka_unit_test(test_restore_plan_checkpoint_above_stable_end_keeps_the_shard),
        cmocka_unit_test(test_restore_plan_checkpoint_past_log_end_rebuilds),
        cmocka_unit_test(test_restore_plan_within_stable_end_replays),
        cmocka_unit_test(test_restore_plan_log_start_past_checkpoint_is_a_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
