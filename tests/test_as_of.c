/* test_as_of.c - a SKU as of any point: for random points of a random command history, the answer equals
 * the fold up to that point.
 *
 * A seeded random history (tests/support/history_gen.c) is decided by the domain; every event goes through
 * the codec into the history view (with positions on 3 pretend partitions, gaps where transaction markers
 * would be) and into a handler shard, whose state after each event is the oracle. Then random points, by
 * position token and by time, are asked of view_history_as_of. STOCKD_TEST_SEED=<n> replays a seed. */
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
#include "history_gen.h"
#include "kafka/murmur2.h"
#include "store/shard.h"
#include "store/sqlite_util.h"
#include "view_harness.h"
#include "views/query.h"

#define SKU_COUNT    5
#define PARTITIONS   3
#define COMMANDS     1500
#define POINTS       400
#define START_MS     INT64_C(1764547200000) /* 2025-12-01T00:00:00Z */
#define SEED_DEFAULT UINT64_C(20261205)

/* One event of the history with the state the shard held right after it. */
struct step {
    int sku;
    struct view_position position;
    int64_t time_ms;
    uint64_t sequence;
    bool changes; /* not a rejection */
    struct sku_state after;
};

struct fixture {
    char dir[128];
    char error[512];
    uint64_t seed;
    struct view_harness history;
    struct shard *shards[PARTITIONS];
    struct step *steps;
    size_t step_count;
    int64_t last_time_ms;
};

static uint64_t random_state;

static uint64_t random_next(void)
{
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return random_state * UINT64_C(2685821657736338717);
}

static int64_t random_range(int64_t low, int64_t high)
{
    return low + (int64_t)(random_next() % (uint64_t)(high - low + 1));
}

static int sku_index(const char *sku)
{
    return atoi(sku + 4); /* "SKU-<n>" */
}

static void event_fold(struct fixture *f, const struct event *decided, int64_t *offsets)
{
    char *json = codec_event_encode(decided);
    assert_non_null(json);
    struct event event;
    struct codec_error error;
    assert_int_equal(codec_event_decode(json, strlen(json), &event, &error), 0);
    int32_t partition = murmur2_partition(event.sku, strlen(event.sku), PARTITIONS);
    offsets[partition] += random_range(0, 2) == 0 ? 2 : 1; /* now and then a transaction marker between */
    struct view_position position = {partition, offsets[partition]};
    struct shard *shard = f->shards[partition];
    assert_int_equal(shard_begin(shard, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_event_apply(shard, &event, f->error, sizeof(f->error)), 0);
    struct step *step = &f->steps[f->step_count++];
    step->sku = sku_index(event.sku);
    step->position = position;
    step->time_ms = event.time_ms;
    step->sequence = event.sequence;
    step->changes = event.type != EVENT_COMMAND_REJECTED;
    assert_int_equal(shard_sku_load(shard, event.sku, &step->after, f->error, sizeof(f->error)), 0);
    assert_int_equal(shard_commit(shard, offsets[partition] + 1, f->error, sizeof(f->error)), 0);
    if (view_harness_apply(&f->history, &event, position, (struct view_json){json, strlen(json)}) != 0)
        fail_msg("history: %s", f->history.error);
    free(json);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *seed_text = getenv("STOCKD_TEST_SEED");
    f->seed = seed_text != NULL ? strtoull(seed_text, NULL, 10) : SEED_DEFAULT;
    random_state = f->seed | 1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/stockd-test-as-of-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    for (int p = 0; p < PARTITIONS; p++)
        assert_non_null(f->shards[p] = shard_open(f->dir, p, f->error, sizeof(f->error)));
    if (view_harness_open(&f->history, f->dir, &view_history_ops) != 0)
        fail_msg("open: %s", f->history.error);
    f->steps = calloc((size_t)COMMANDS * STOCKD_DECISION_EVENTS_MAX, sizeof(*f->steps));
    assert_non_null(f->steps);
    struct history_gen *gen = history_gen_create(f->seed, SKU_COUNT);
    assert_non_null(gen);
    static struct decision decision;
    int64_t offsets[PARTITIONS] = {-1, -1, -1};
    int64_t now_ms = START_MS;
    assert_int_equal(view_harness_begin(&f->history), 0);
    for (int i = 0; i < COMMANDS; i++) {
        now_ms += random_range(0, 3) == 0 ? 0 : random_range(1, 120000); /* equal times now and then */
        assert_int_equal(history_gen_step(gen, now_ms, &decision), 0);
        for (uint32_t e = 0; e < decision.event_count; e++)
            event_fold(f, &decision.events[e], offsets);
        if (i % 100 == 99) {
            assert_int_equal(view_harness_commit(&f->history), 0);
            assert_int_equal(view_harness_begin(&f->history), 0);
        }
    }
    assert_int_equal(view_harness_commit(&f->history), 0);
    f->last_time_ms = now_ms;
    history_gen_destroy(gen);
    assert_int_equal(sqlite_util_exec(f->history.reader, "BEGIN", f->error, sizeof(f->error)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite_util_exec(f->history.reader, "COMMIT", f->error, sizeof(f->error));
    view_harness_close(&f->history);
    for (int p = 0; p < PARTITIONS; p++)
        shard_close(f->shards[p]);
    free(f->steps);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

/* The oracle: the last step of the SKU at or before the point (prefix of its events), or NULL. */
static const struct step *expected_step(const struct fixture *f, int sku, const struct view_as_of *point,
                                        uint64_t *changed_sequence)
{
    const struct step *last = NULL;
    *changed_sequence = 0;
    for (size_t i = 0; i < f->step_count; i++) {
        const struct step *step = &f->steps[i];
        if (step->sku != sku) continue;
        bool past = point->kind == VIEW_AS_OF_TIME ? step->time_ms > point->time_ms
                                                   : step->position.offset > point->position.offset;
        if (past) break;
        last = step;
        if (step->changes) *changed_sequence = step->sequence;
    }
    return last;
}

static void answer_check(struct fixture *f, int sku, const struct view_as_of *point, const char *what)
{
    char key[16];
    snprintf(key, sizeof(key), "SKU-%d", sku);
    uint64_t changed_sequence;
    const struct step *want = expected_step(f, sku, point, &changed_sequence);
    static struct view_sku_as_of got;
    int found = view_history_as_of(f->history.reader, key, point, &got, f->error, sizeof(f->error));
    if (found < 0) fail_msg("seed %llu, %s of %s: %s", (unsigned long long)f->seed, what, key, f->error);
    if (want == NULL) {
        if (found != 0)
            fail_msg("seed %llu, %s of %s: answer where no event was", (unsigned long long)f->seed, what,
                     key);
        return;
    }
    if (found != 1) fail_msg("seed %llu, %s of %s: no answer", (unsigned long long)f->seed, what, key);
    const struct sku_state *a = &got.state;
    const struct sku_state *b = &want->after;
    if (a->sequence != b->sequence || a->exists != b->exists || a->reorder_point != b->reorder_point ||
        a->lead_time_days != b->lead_time_days || strcmp(a->name, b->name) != 0 ||
        a->location_count != b->location_count || got.last_position.offset != want->position.offset ||
        got.last_position.partition != want->position.partition || got.changed_sequence != changed_sequence)
        fail_msg("seed %llu, %s of %s: folded to sequence %llu, the shard was at %llu",
                 (unsigned long long)f->seed, what, key, (unsigned long long)a->sequence,
                 (unsigned long long)b->sequence);
    for (uint32_t l = 0; l < a->location_count; l++) {
        if (strcmp(a->locations[l].location, b->locations[l].location) != 0 ||
            a->locations[l].on_hand != b->locations[l].on_hand ||
            a->locations[l].reserved != b->locations[l].reserved)
            fail_msg("seed %llu, %s of %s: location %s differs", (unsigned long long)f->seed, what, key,
                     b->locations[l].location);
    }
}

static void test_random_points_by_position_equal_the_fold(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < POINTS; i++) {
        /* An event's own position, or one between it and the next (a marker, another SKU's event). */
        const struct step *step = &f->steps[random_range(0, (int64_t)f->step_count - 1)];
        struct view_as_of point = {.kind = VIEW_AS_OF_POSITION, .position = step->position};
        point.position.offset += random_range(0, 1);
        answer_check(f, step->sku, &point, "position");
        /* Any SKU of the same partition at the same point. */
        for (int sku = 0; sku < SKU_COUNT; sku++) {
            char key[16];
            snprintf(key, sizeof(key), "SKU-%d", sku);
            if (murmur2_partition(key, strlen(key), PARTITIONS) == point.position.partition)
                answer_check(f, sku, &point, "position of a neighbour");
        }
    }
}

static void test_random_points_by_time_equal_the_fold(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < POINTS; i++) {
        struct view_as_of point = {.kind = VIEW_AS_OF_TIME};
        /* Exactly an event's time half of the time (events share times), anywhere in between otherwise. */
        point.time_ms = random_range(0, 1) == 0
                            ? f->steps[random_range(0, (int64_t)f->step_count - 1)].time_ms
                            : random_range(START_MS - 1000, f->last_time_ms + 1000);
        answer_check(f, (int)random_range(0, SKU_COUNT - 1), &point, "time");
    }
}

static void test_before_the_first_event_and_unknown_skus_have_no_answer(void **state)
{
    struct fixture *f = *state;
    static struct view_sku_as_of got;
    struct view_as_of before = {.kind = VIEW_AS_OF_TIME, .time_ms = START_MS - 1};
    assert_int_equal(
        view_history_as_of(f->history.reader, "SKU-0", &before, &got, f->error, sizeof(f->error)), 0);
    struct view_as_of now = {.kind = VIEW_AS_OF_TIME, .time_ms = f->last_time_ms};
    assert_int_equal(view_history_as_of(f->history.reader, "SKU-77", &now, &got, f->error, sizeof(f->error)),
                     0);
    assert_int_equal(view_history_as_of(f->history.reader, "-x", &now, &got, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
}

static void test_position_of_another_partition_refused(void **state)
{
    struct fixture *f = *state;
    static struct view_sku_as_of got;
    int32_t partition = murmur2_partition("SKU-0", 5, PARTITIONS);
    struct view_as_of point = {.kind = VIEW_AS_OF_POSITION, .position = {(partition + 1) % PARTITIONS, 5}};
    assert_int_equal(view_history_as_of(f->history.reader, "SKU-0", &point, &got, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    assert_non_null(strstr(f->error, "another partition"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_points_by_position_equal_the_fold),
        cmocka_unit_test(test_random_points_by_time_equal_the_fold),
        cmocka_unit_test(test_before_the_first_event_and_unknown_skus_have_no_answer),
        cmocka_unit_test(test_position_of_another_partition_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
