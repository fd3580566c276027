/* test_event_versions.c - events written before event versions existed still fold to the same state.
 *
 * tests/fixtures/events-2026-12-05.jsonl holds 611 events the encoder of 2026-12-05 wrote (every type at
 * version 1, SkuCreated without lead time), and .state the state that day's domain folded from them. Today's
 * codec decodes every line, today's shards and views fold them, and the state must be the same; the
 * encoder writes every version 1 type byte for byte as then, and SkuCreated in its version 2. */
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
#include "kafka/murmur2.h"
#include "store/shard.h"
#include "store/sqlite_util.h"
#include "view_harness.h"
#include "views/query.h"

#define FIXTURE        STOCKD_SOURCE_DIR "/tests/fixtures/events-2026-12-05"
#define FIXTURE_EVENTS 611
#define PARTITIONS     3
#define LINE_BYTES_MAX 4096
#define STATE_SKUS_MAX 8

enum { VIEW_STOCK, VIEW_RESERVATIONS, VIEW_HISTORY, VIEW_OUTCOMES, VIEW_COUNT };

static const struct view_ops *const views[VIEW_COUNT] = {
    [VIEW_STOCK] = &view_stock_ops,
    [VIEW_RESERVATIONS] = &view_reservations_ops,
    [VIEW_HISTORY] = &view_history_ops,
    [VIEW_OUTCOMES] = &view_outcomes_ops,
};

/* The fixture's .state file: what the domain of 2026-12-05 folded. */
struct expected_state {
    int count;
    struct sku_state skus[STATE_SKUS_MAX];
};

struct fixture {
    char dir[128];
    char error[512];
    struct shard *shards[PARTITIONS];
    struct view_harness views[VIEW_COUNT];
    struct expected_state expected;
    long events;
    long sku_created_v1;
};

static void expected_load(struct expected_state *out)
{
    FILE *file = fopen(FIXTURE ".state", "r");
    assert_non_null(file);
    char line[LINE_BYTES_MAX];
    memset(out, 0, sizeof(*out));
    while (fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[6] = {NULL};
        int count = 0;
        for (char *cursor = line; count < 6; count++) {
            fields[count] = cursor;
            char *tab = strchr(cursor, '\t');
            if (tab == NULL) {
                count++;
                break;
            }
            *tab = '\0';
            cursor = tab + 1;
        }
        if (strcmp(fields[0], "sku") == 0) {
            assert_int_equal(count, 6);
            assert_true(out->count < STATE_SKUS_MAX);
            struct sku_state *sku = &out->skus[out->count++];
            domain_sku_state_init(sku, fields[1]);
            sku->exists = atoi(fields[2]) != 0;
            sku->reorder_point = strtoll(fields[3], NULL, 10);
            sku->sequence = strtoull(fields[4], NULL, 10);
            snprintf(sku->name, sizeof(sku->name), "%s", fields[5]);
        } else {
            assert_string_equal(fields[0], "location");
            assert_int_equal(count, 5);
            assert_true(out->count > 0);
            struct sku_state *sku = &out->skus[out->count - 1];
            assert_string_equal(sku->sku, fields[1]);
            struct location_stock *stock = &sku->locations[sku->location_count++];
            snprintf(stock->location, sizeof(stock->location), "%s", fields[2]);
            stock->on_hand = strtoll(fields[3], NULL, 10);
            stock->reserved = strtoll(fields[4], NULL, 10);
        }
    }
    fclose(file);
    assert_true(out->count > 0);
}

/* Decodes every line with today's codec and folds it into the shards and the views, as the handler's
 * restore and the projectors do (the compact form's bytes go to the views with the event). */
static void fixture_fold(struct fixture *f)
{
    FILE *file = fopen(FIXTURE ".jsonl", "r");
    assert_non_null(file);
    int64_t offsets[PARTITIONS] = {0};
    for (int v = 0; v < VIEW_COUNT; v++)
        assert_int_equal(view_harness_begin(&f->views[v]), 0);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(shard_begin(f->shards[p], f->error, sizeof(f->error)), 0);
    static char line[LINE_BYTES_MAX];
    while (fgets(line, sizeof(line), file) != NULL) {
        size_t length = strcspn(line, "\n");
        struct event event;
        struct codec_error error;
        if (codec_event_decode(line, length, &event, &error) != 0)
            fail_msg("line %ld refused: %s", f->events + 1, error.message);
        bool compact = codec_event_decode_compact(line, length, &event) == 0;
        if (event.type == EVENT_SKU_CREATED) {
            assert_false(compact); /* version 1: not what the encoder writes now */
            assert_int_equal(codec_event_decode(line, length, &event, &error), 0);
            assert_int_equal(event.lead_time_days, 0);
            f->sku_created_v1++;
        } else {
            assert_true(compact); /* every other type is still at version 1, written the same way */
        }
        int32_t partition = murmur2_partition(event.sku, strlen(event.sku), PARTITIONS);
        struct view_position position = {partition, offsets[partition]++};
        struct view_json json = compact ? (struct view_json){line, length} : (struct view_json){NULL, 0};
        if (shard_event_apply(f->shards[partition], &event, f->error, sizeof(f->error)) != 0)
            fail_msg("shard refused line %ld: %s", f->events + 1, f->error);
        for (int v = 0; v < VIEW_COUNT; v++) {
            if (view_harness_apply(&f->views[v], &event, position, json) != 0)
                fail_msg("view %s refused line %ld: %s", views[v]->name, f->events + 1, f->views[v].error);
        }
        f->events++;
    }
    fclose(file);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(shard_commit(f->shards[p], offsets[p], f->error, sizeof(f->error)), 0);
    for (int v = 0; v < VIEW_COUNT; v++)
        assert_int_equal(view_harness_commit(&f->views[v]), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stockd-test-versions-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    for (int p = 0; p < PARTITIONS; p++) {
        f->shards[p] = shard_open(f->dir, p, f->error, sizeof(f->error));
        if (f->shards[p] == NULL) fail_msg("shard %d: %s", p, f->error);
    }
    for (int v = 0; v < VIEW_COUNT; v++) {
        if (view_harness_open(&f->views[v], f->dir, views[v]) != 0)
            fail_msg("%s: %s", views[v]->name, f->views[v].error);
    }
    expected_load(&f->expected);
    fixture_fold(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int v = 0; v < VIEW_COUNT; v++)
        view_harness_close(&f->views[v]);
    for (int p = 0; p < PARTITIONS; p++)
        shard_close(f->shards[p]);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static void reader_begin(struct view_harness *view)
{
    assert_int_equal(sqlite_util_exec(view->reader, "BEGIN", view->error, sizeof(view->error)), 0);
}

static void reader_end(struct view_harness *view)
{
    assert_int_equal(sqlite_util_exec(view->reader, "COMMIT", view->error, sizeof(view->error)), 0);
}

static void test_fixture_of_2026_12_05_decodes_whole(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->events, FIXTURE_EVENTS);
    assert_int_equal(f->sku_created_v1, 3);
}

static void test_shards_fold_the_old_stream_to_the_same_state(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < f->expected.count; i++) {
        const struct sku_state *want = &f->expected.skus[i];
        struct shard *shard = f->shards[murmur2_partition(want->sku, strlen(want->sku), PARTITIONS)];
        struct sku_state got;
        assert_int_equal(shard_sku_load(shard, want->sku, &got, f->error, sizeof(f->error)), 0);
        assert_int_equal(got.exists, want->exists);
        assert_int_equal(got.sequence, want->sequence);
        assert_int_equal(got.reorder_point, want->reorder_point);
        assert_int_equal(got.lead_time_days, 0); /* version 1 had none: unknown */
        assert_string_equal(got.name, want->name);
        assert_int_equal(got.location_count, want->location_count);
        for (uint32_t l = 0; l < want->location_count; l++) {
            assert_string_equal(got.locations[l].location, want->locations[l].location);
            assert_int_equal(got.locations[l].on_hand, want->locations[l].on_hand);
            assert_int_equal(got.locations[l].reserved, want->locations[l].reserved);
        }
    }
}

static void test_views_fold_the_old_stream_to_the_same_state(void **state)
{
    struct fixture *f = *state;
    struct view_harness *stock = &f->views[VIEW_STOCK];
    struct view_harness *history = &f->views[VIEW_HISTORY];
    static struct view_history_page page;
    for (int i = 0; i < f->expected.count; i++) {
        const struct sku_state *want = &f->expected.skus[i];
        struct view_stock_sku got;
        reader_begin(stock);
        int found = view_stock_get(stock->reader, want->sku, &got, f->error, sizeof(f->error));
        reader_end(stock);
        assert_int_equal(found, want->exists ? 1 : 0);
        reader_begin(history);
        int count = view_history_list(history->reader, want->sku, VIEW_ORDER_NEWEST_FIRST, NULL, 1, &page,
                                      f->error, sizeof(f->error));
        reader_end(history);
        assert_int_equal(count, 1);
        assert_int_equal(page.events[0].sequence, want->sequence);
        if (!want->exists) continue;
        assert_string_equal(got.summary.name, want->name);
        assert_int_equal(got.summary.reorder_point, want->reorder_point);
        assert_int_equal(got.summary.lead_time_days, 0);
        int64_t on_hand = 0, reserved = 0;
        for (uint32_t l = 0; l < want->location_count; l++) {
            const struct location_stock *expected = &want->locations[l];
            bool seen = false;
            for (uint32_t g = 0; g < got.location_count; g++) {
                if (strcmp(got.locations[g].location, expected->location) != 0) continue;
                assert_int_equal(got.locations[g].on_hand, expected->on_hand);
                assert_int_equal(got.locations[g].reserved, expected->reserved);
                seen = true;
            }
            assert_true(seen);
            on_hand += expected->on_hand;
            reserved += expected->reserved;
        }
        assert_int_equal(got.location_count, want->location_count);
        assert_int_equal(got.summary.on_hand, on_hand);
        assert_int_equal(got.summary.reserved, reserved);
    }
}

/* The history view shows an old SkuCreated as the encoder writes it now: version 2, no lead time. */
static void test_history_shows_old_sku_created_in_current_version(void **state)
{
    struct fixture *f = *state;
    struct view_harness *history = &f->views[VIEW_HISTORY];
    static struct view_history_page page;
    reader_begin(history);
    int count = view_history_list(history->reader, "SKU-0", VIEW_ORDER_OLDEST_FIRST, NULL, 1, &page, f->error,
                                  sizeof(f->error));
    reader_end(history);
    assert_int_equal(count, 1);
    assert_int_equal(page.events[0].type, EVENT_SKU_CREATED);
    assert_non_null(strstr(page.events[0].data, "{\"type\":\"SkuCreated\",\"version\":2,\"sku\":\"SKU-0\""));
    assert_null(strstr(page.events[0].data, "lead_time_days"));
}

/* Every command of the stream has its outcome, as it had then. */
static void test_outcomes_fold_the_old_stream(void **state)
{
    struct fixture *f = *state;
    struct view_harness *outcomes = &f->views[VIEW_OUTCOMES];
    struct view_outcome outcome;
    reader_begin(outcomes);
    assert_int_equal(view_outcome_get(outcomes->reader, "c-3", &outcome, f->error, sizeof(f->error)), 1);
    reader_end(outcomes);
    assert_false(outcome.accepted);
    assert_int_equal(outcome.reason, REJECT_UNKNOWN_RESERVATION); /* line 3 of the fixture */
    reader_begin(outcomes);
    assert_int_equal(view_outcome_get(outcomes->reader, "c-600", &outcome, f->error, sizeof(f->error)), 1);
    reader_end(outcomes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_of_2026_12_05_decodes_whole),
        cmocka_unit_test(test_shards_fold_the_old_stream_to_the_same_state),
        cmocka_unit_test(test_views_fold_the_old_stream_to_the_same_state),
        cmocka_unit_test(test_history_shows_old_sku_created_in_current_version),
        cmocka_unit_test(test_outcomes_fold_the_old_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
