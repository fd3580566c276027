/* test_eos.c - every wait of the exactly-once loop (src/kafka/eos.c) is bounded, on librdkafka's mock
 * cluster.
 *
 * A trivial stage copies "in" to "out" inside the loop's transactions while the test injects faults: the
 * broker going away in the middle of a commit (a SIGTERM must still stop the stage within a bound, where the
 * loop used to wait forever), and committed offsets that cannot be fetched at an assignment (the stage must
 * take no partition on unknown offsets and rejoin, where it used to carry on). The mock neither filters
 * aborted records nor keeps transactional offsets: nothing here reads the output for exactly-once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka/eos.h"

#define API_OFFSET_FETCH       9
#define API_ADD_OFFSETS_TO_TXN 25
#define API_END_TXN            26

#define TOPIC_IN           "eos-in"
#define TOPIC_OUT          "eos-out"
#define GROUP              "eos-group"
#define TRANSACTIONAL_ID   "eos-txn"
#define PARTITIONS         2
#define MESSAGES           40
#define BATCH_MAX          10
#define WAIT_MS_MAX        30000 /* any condition the tests wait for */
#define STOP_MS_MAX        30000 /* the test gives up on a stage that does not stop (it is then leaked) */
#define STOP_BOUND_MS      5000  /* what eos.c promises: a stop is seen within a call slice, plus teardown */
#define OUTAGE_BEFORE_STOP 1500  /* the commit is left hanging this long before the stop */
#define END_TXN_DELAY_MS   60000 /* an EndTxn answer this late: the commit hangs (old loop: forever, -1) */
/* More failed OffsetFetch answers than the loop's attempts at one assignment (EOS_COMMITTED_ATTEMPTS, 6)
 * and more than the 10 it used to make before carrying on regardless. */
#define OFFSET_FETCH_ERRORS      12
#define RECONNECT_BACKOFF_MS_MAX "200"

struct fixture {
    rd_kafka_t *owner; /* owns the mock cluster; the test's producer of input */
    rd_kafka_mock_cluster_t *cluster;
    struct stockd_config config;
    struct eos_stage *stage;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool finished;
    int run_status;
    atomic_int processed;               /* messages processed in committed transactions */
    atomic_int batches;                 /* process calls with messages */
    atomic_bool break_broker_on_commit; /* the first non-empty batch takes the broker down */
    atomic_bool broken;
    atomic_int assigned_calls;
    atomic_int assigned_with_errors_left; /* assignments taken while OffsetFetch still failed */
    int pending;                          /* processed in the open transaction */
    atomic_bool write_nothing;            /* process copies nothing and answers EOS_PROCESS_NOTHING */
    atomic_int seen;                      /* messages given to process */
    int32_t defer_offsets_ms_max;         /* the stage's setting (0: eos.c's) */
};

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void sleep_ms(int milliseconds)
{
    struct timespec duration = {.tv_sec = milliseconds / 1000, .tv_nsec = (milliseconds % 1000) * 1000000L};
    nanosleep(&duration, NULL);
}

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char reason[256];
    if (rd_kafka_conf_set(conf, name, value, reason, sizeof(reason)) != RD_KAFKA_CONF_OK)
        fail_msg("%s: %s", name, reason);
}

/* ---- the stage: copies each input message to the same partition of the output ------------------------ */

static int stage_assigned(void *context, const rd_kafka_topic_partition_list_t *partitions)
{
    (void)partitions;
    struct fixture *f = context;
    size_t left = 0;
    if (rd_kafka_mock_broker_error_stack_cnt(f->cluster, 1, API_OFFSET_FETCH, &left) == 0 && left > 0)
        atomic_fetch_add(&f->assigned_with_errors_left, 1);
    atomic_fetch_add(&f->assigned_calls, 1);
    return 0;
}

static int stage_process(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages, size_t count)
{
    struct fixture *f = context;
    atomic_fetch_add(&f->seen, (int)count);
    if (atomic_load(&f->write_nothing)) {
        f->pending = (int)count;
        return EOS_PROCESS_NOTHING;
    }
    for (size_t i = 0; i < count; i++) {
        if (rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(TOPIC_OUT), RD_KAFKA_V_PARTITION(messages[i]->partition),
                RD_KAFKA_V_VALUE(messages[i]->payload, messages[i]->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
    }
    f->pending = (int)count;
    if (count > 0) atomic_fetch_add(&f->batches, 1);
    if (count > 0 && atomic_load(&f->break_broker_on_commit) && !atomic_load(&f->broken)) {
        /* The commit that follows finds no broker. */
        assert_int_equal(rd_kafka_mock_broker_set_down(f->cluster, -1), 0);
        atomic_store(&f->broken, true);
    }
    return 0;
}

static void stage_committed(void *context)
{
    struct fixture *f = context;
    atomic_fetch_add(&f->processed, f->pending);
    f->pending = 0;
}

static void stage_aborted(void *context)
{
    struct fixture *f = context;
    f->pending = 0;
}

static void *stage_thread(void *argument)
{
    struct fixture *f = argument;
    f->run_status = eos_stage_run(f->stage, &f->stop);
    atomic_store(&f->finished, true);
    return NULL;
}

/* ---- fixture --------------------------------------------------------------------------------------------
 */

static void input_produce(struct fixture *f, int count)
{
    for (int i = 0; i < count; i++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "m-%d", i);
        assert_int_equal(rd_kafka_producev(f->owner, RD_KAFKA_V_TOPIC(TOPIC_IN),
                                           RD_KAFKA_V_PARTITION(i % PARTITIONS),
                                           RD_KAFKA_V_VALUE(value, (size_t)length),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(f->owner, WAIT_MS_MAX), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static struct fixture *fixture_create(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "test.mock.num.brokers", "1");
    conf_set(conf, "reconnect.backoff.max.ms", RECONNECT_BACKOFF_MS_MAX);
    char reason[512];
    f->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (f->owner == NULL) {
        rd_kafka_conf_destroy(conf);
        fail_msg("mock cluster: %s", reason);
    }
    conf = NULL; /* owned by f->owner */
    f->cluster = rd_kafka_handle_mock_cluster(f->owner);
    assert_non_null(f->cluster);
    assert_int_equal(rd_kafka_mock_topic_create(f->cluster, TOPIC_IN, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->cluster, TOPIC_OUT, PARTITIONS, 1), 0);

    stockd_config_defaults(&f->config);
    snprintf(f->config.kafka_bootstrap, sizeof(f->config.kafka_bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(f->cluster));
    f->config.kafka_property_count = 1;
    snprintf(f->config.kafka_properties[0].name, sizeof(f->config.kafka_properties[0].name), "%s",
             "reconnect.backoff.max.ms");
    snprintf(f->config.kafka_properties[0].value, sizeof(f->config.kafka_properties[0].value), "%s",
             RECONNECT_BACKOFF_MS_MAX);
    return f;
}

static void fixture_start(struct fixture *f)
{
    struct eos_stage_settings settings = {
        .name = "eos-test",
        .input_topic = TOPIC_IN,
        .group_id = GROUP,
        .transactional_id = TRANSACTIONAL_ID,
        .batch_max = BATCH_MAX,
        .poll_timeout_ms = 0,
        .defer_offsets_ms_max = f->defer_offsets_ms_max,
    };
    struct eos_stage_ops ops = {
        .assigned = stage_assigned,
        .process = stage_process,
        .committed = stage_committed,
        .aborted = stage_aborted,
    };
    char error[512];
    f->stage = eos_stage_create(&f->config, &settings, &ops, f, error, sizeof(error));
    if (f->stage == NULL) fail_msg("eos_stage_create: %s", error);
    assert_int_equal(pthread_create(&f->thread, NULL, stage_thread, f), 0);
    f->thread_started = true;
}

/* Sets stop and waits at most STOP_MS_MAX for the stage to return. Returns how long it took, or -1 when it
 * did not return (the thread is then leaked with the fixture). */
static int64_t fixture_stop(struct fixture *f)
{
    if (!f->thread_started) return 0;
    int64_t started_ms = monotonic_ms();
    atomic_store(&f->stop, true);
    while (!atomic_load(&f->finished) && monotonic_ms() - started_ms < STOP_MS_MAX)
        sleep_ms(10);
    if (!atomic_load(&f->finished)) return -1;
    pthread_join(f->thread, NULL);
    f->thread_started = false;
    return monotonic_ms() - started_ms;
}

static void fixture_destroy(struct fixture *f)
{
    if (f == NULL) return;
    if (fixture_stop(f) < 0) {
        print_error("stage did not stop within %d ms: leaking it\n", STOP_MS_MAX);
        return;
    }
    eos_stage_destroy(f->stage);
    rd_kafka_destroy(f->owner);
    free(f);
}

/* Waits until *counter >= target, bounded. Returns true when reached. */
static bool wait_for(atomic_int *counter, int target)
{
    int64_t deadline_ms = monotonic_ms() + WAIT_MS_MAX;
    while (atomic_load(counter) < target && monotonic_ms() < deadline_ms)
        sleep_ms(20);
    return atomic_load(counter) >= target;
}

/* Requests of one API the mock cluster saw since tracking started. */
static int requests_count(struct fixture *f, int16_t api_key)
{
    size_t count = 0;
    rd_kafka_mock_request_t **requests = rd_kafka_mock_get_requests(f->cluster, &count);
    int found = 0;
    for (size_t i = 0; i < count; i++)
        found += rd_kafka_mock_request_api_key(requests[i]) == api_key;
    rd_kafka_mock_request_destroy_array(requests, count);
    return found;
}

/* ---- tests --------------------------------------------------------------------------------------------- */

static void test_copies_every_message_without_faults(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    input_produce(f, MESSAGES);
    fixture_start(f);
    assert_true(wait_for(&f->processed, MESSAGES));
    assert_true(fixture_stop(f) >= 0);
    assert_int_equal(f->run_status, 0);
    struct eos_stage_stats stats;
    eos_stage_stats_get(f->stage, &stats);
    assert_int_equal(stats.messages_processed, MESSAGES);
    assert_int_equal(stats.rejoins, 0);
    fixture_destroy(f);
}

/* Batches that wrote nothing (the order stage's events that are not its lines) cost no transaction: their
 * offsets wait for the next batch that writes, which commits them along with its own. */
static void test_batches_that_write_nothing_send_no_transaction(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    f->defer_offsets_ms_max = WAIT_MS_MAX * 10; /* never reached here */
    atomic_store(&f->write_nothing, true);
    fixture_start(f);
    /* After the producer's start-up (its seal transaction sends offsets and ends, aborted: eos.c seal_run).
     */
    assert_true(wait_for(&f->assigned_calls, 1));
    rd_kafka_mock_start_request_tracking(f->cluster);
    input_produce(f, MESSAGES);
    assert_true(wait_for(&f->processed, MESSAGES)); /* every batch "committed", each an empty transaction */
    assert_int_equal(atomic_load(&f->seen), MESSAGES);
    assert_int_equal(requests_count(f, API_ADD_OFFSETS_TO_TXN), 0);
    assert_int_equal(requests_count(f, API_END_TXN), 0);
    atomic_store(&f->write_nothing, false);
    input_produce(f, 1);
    assert_true(wait_for(&f->processed, MESSAGES + 1));
    /* Only the batch that wrote reached the coordinator: one AddOffsetsToTxn (its offsets and the deferred
     * ones) and one EndTxn. */
    assert_int_equal(requests_count(f, API_ADD_OFFSETS_TO_TXN), 1);
    assert_int_equal(requests_count(f, API_END_TXN), 1);
    rd_kafka_mock_stop_request_tracking(f->cluster);
    assert_true(fixture_stop(f) >= 0);
    assert_int_equal(f->run_status, 0);
    fixture_destroy(f);
}

/* Deferred offsets are committed by a transaction of their own once they are older than the bound, so that
 * a stage reading only what it need not write still moves its committed offsets. */
static void test_deferred_offsets_older_than_the_bound_commit_alone(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    f->defer_offsets_ms_max = 100;
    atomic_store(&f->write_nothing, true);
    fixture_start(f);
    assert_true(wait_for(&f->assigned_calls, 1));
    rd_kafka_mock_start_request_tracking(f->cluster);
    input_produce(f, BATCH_MAX);
    assert_true(wait_for(&f->processed, BATCH_MAX));
    sleep_ms(300);
    input_produce(f, 1); /* writes nothing either, but the deferred offsets are 300 ms old */
    assert_true(wait_for(&f->processed, BATCH_MAX + 1));
    assert_int_equal(requests_count(f, API_ADD_OFFSETS_TO_TXN), 1);
    assert_int_equal(requests_count(f, API_END_TXN), 1);
    rd_kafka_mock_stop_request_tracking(f->cluster);
    assert_true(fixture_stop(f) >= 0);
    fixture_destroy(f);
}

/* The loop used to call commit_transaction with an infinite timeout, retrying forever: a SIGTERM during a
 * broker outage never stopped the stage. */
static void test_stop_during_transaction_with_broker_down_returns_within_bound(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    input_produce(f, MESSAGES);
    atomic_store(&f->break_broker_on_commit, true);
    fixture_start(f);
    int64_t deadline_ms = monotonic_ms() + WAIT_MS_MAX;
    while (!atomic_load(&f->broken) && monotonic_ms() < deadline_ms)
        sleep_ms(20);
    assert_true(atomic_load(&f->broken));
    sleep_ms(OUTAGE_BEFORE_STOP);
    assert_false(atomic_load(&f->finished)); /* still trying to commit */
    int64_t stop_ms = fixture_stop(f);
    print_message("stage stopped %lld ms after the stop flag, the broker down\n", (long long)stop_ms);
    assert_true(stop_ms >= 0);
    assert_true(stop_ms <= STOP_BOUND_MS);
    assert_int_equal(atomic_load(&f->processed), 0); /* that commit's outcome was never claimed */
    assert_int_equal(rd_kafka_mock_broker_set_up(f->cluster, -1), 0);
    fixture_destroy(f);
}

/* The loop used to wait for commit_transaction with an infinite timeout: a coordinator that does not answer
 * EndTxn held a SIGTERM off for as long as it did not. */
static void test_stop_during_commit_without_answer_returns_within_bound(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    input_produce(f, BATCH_MAX); /* one batch */
    /* The first EndTxn is the abort with which the stage's new producer closes what its producer id may have
     * left open (eos.c, seal_run): answered at once. The second is the batch's commit. */
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, 1, API_END_TXN, 2, RD_KAFKA_RESP_ERR_NO_ERROR, 0,
                                                 RD_KAFKA_RESP_ERR_NO_ERROR, END_TXN_DELAY_MS);
    fixture_start(f);
    assert_true(wait_for(&f->batches, 1));
    sleep_ms(OUTAGE_BEFORE_STOP);
    assert_int_equal(atomic_load(&f->processed), 0); /* the commit is still waiting */
    int64_t stop_ms = fixture_stop(f);
    print_message("stage stopped %lld ms after the stop flag, EndTxn unanswered\n", (long long)stop_ms);
    assert_true(stop_ms >= 0);
    assert_true(stop_ms <= STOP_BOUND_MS);
    assert_int_equal(atomic_load(&f->processed), 0);
    fixture_destroy(f);
}

/* The loop used to try rd_kafka_committed ten times and then take the partitions anyway, on offsets it did
 * not know (the previous owner's transaction possibly still open). */
/* The loop fetches the committed offsets in the rebalance callback (committed_wait), then librdkafka fetches
 * them again for the assignment. When that second fetch fails with a coordinator error (the coordinator
 * moved), librdkafka 2.8.0 leaves the partitions assigned and never fetched: the stage must rejoin rather
 * than sit on them (chaos_cluster_cut_instance lost the commands of two partitions for minutes). */
static void test_failed_fetch_of_the_assignment_offsets_rejoins(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    input_produce(f, MESSAGES);
    /* committed_wait's fetch answers; librdkafka's own one after the assignment does not. */
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, 1, API_OFFSET_FETCH, 2,
                                                 RD_KAFKA_RESP_ERR_NO_ERROR, 0,
                                                 RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0);
    fixture_start(f);
    assert_true(wait_for(&f->processed, MESSAGES));
    assert_true(fixture_stop(f) >= 0);
    struct eos_stage_stats stats;
    eos_stage_stats_get(f->stage, &stats);
    assert_int_equal(stats.messages_processed, MESSAGES);
    fixture_destroy(f);
}

/* A committed-offset fetch held back (after a broker restart: offsets of this producer id whose markers the
 * broker never wrote, docs/chaos.md) is followed by a transaction aborted on purpose that holds the group's
 * offsets partition, before the next attempt: only this producer id's marker there ends such offsets, and the
 * stage waiting in the callback would make none until its attempts ran out. */
static void test_failed_committed_fetch_closes_own_open_offsets_before_the_next_attempt(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    atomic_store(&f->write_nothing, true); /* no transaction of its own after the start */
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, 1, API_OFFSET_FETCH, 1,
                                                 RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0);
    rd_kafka_mock_start_request_tracking(f->cluster);
    fixture_start(f);
    assert_true(wait_for(&f->assigned_calls, 1));
    /* The producer's start-up seal, then the one after the failed attempt; the second attempt answers. */
    assert_int_equal(requests_count(f, API_ADD_OFFSETS_TO_TXN), 2);
    assert_int_equal(requests_count(f, API_END_TXN), 2);
    rd_kafka_mock_stop_request_tracking(f->cluster);
    input_produce(f, MESSAGES);
    assert_true(wait_for(&f->processed, MESSAGES));
    assert_true(fixture_stop(f) >= 0);
    struct eos_stage_stats stats;
    eos_stage_stats_get(f->stage, &stats);
    assert_int_equal(stats.rejoins, 0);
    fixture_destroy(f);
}

static void test_offsets_unknown_at_assignment_take_no_partition_and_rejoin(void **state)
{
    (void)state;
    struct fixture *f = fixture_create();
    input_produce(f, MESSAGES);
    for (int i = 0; i < OFFSET_FETCH_ERRORS; i++)
        rd_kafka_mock_broker_push_request_error_rtts(f->cluster, 1, API_OFFSET_FETCH, 1,
                                                     RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0);
    fixture_start(f);
    assert_true(wait_for(&f->processed, MESSAGES));
    assert_int_equal(atomic_load(&f->assigned_with_errors_left), 0);
    assert_true(fixture_stop(f) >= 0);
    struct eos_stage_stats stats;
    eos_stage_stats_get(f->stage, &stats);
    assert_true(stats.rejoins >= 1);
    assert_int_equal(stats.messages_processed, MESSAGES);
    fixture_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_every_message_without_faults),
        cmocka_unit_test(test_batches_that_write_nothing_send_no_transaction),
        cmocka_unit_test(test_deferred_offsets_older_than_the_bound_commit_alone),
        cmocka_unit_test(test_stop_during_transaction_with_broker_down_returns_within_bound),
        cmocka_unit_test(test_stop_during_commit_without_answer_returns_within_bound),
        cmocka_unit_test(test_offsets_unknown_at_assignment_take_no_partition_and_rejoin),
        cmocka_unit_test(test_failed_fetch_of_the_assignment_offsets_rejoins),
        cmocka_unit_test(test_failed_committed_fetch_closes_own_open_offsets_before_the_next_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
