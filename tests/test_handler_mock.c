/* test_handler_mock.c - the handler's abort path, broker-free, on librdkafka's in-process mock cluster.
 *
 * Injects Produce, AddOffsetsToTxn and EndTxn errors and a broker outage while commands flow, then reads
 * the SQLite shards: every command decided exactly once in the committed state. The mock neither filters
 * aborted records nor keeps transactional offsets, so nothing here looks at the topics or at committed
 * offsets: exactly-once end to end is proven against a real broker. */
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
#include "domain/codec.h"
#include "domain/domain.h"
#include "handler.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"
#include "log.h"
#include "store/shard.h"

/* Kafka protocol request types (ApiKey) that the tests inject errors into. */
#define API_PRODUCE            0
#define API_ADD_OFFSETS_TO_TXN 25
#define API_END_TXN            26

/* Broker 1 leads the command partitions and coordinates the group; broker 2 leads the events and DLQ
 * partitions and coordinates the handler's transactions. Errors pushed on broker 2 therefore reach only
 * the handler's transactional producer, never the test's command producer. */
#define BROKER_INPUT  1
#define BROKER_OUTPUT 2

#define PARTITIONS               2
#define SKU_COUNT                4
#define LOCATION                 "WH-1"
#define RECEIVED                 500  /* units received per SKU */
#define RESERVE_COUNT            1500 /* ReserveStock commands of quantity 1, spread by weight over the SKUs */
#define REPEAT_EVERY             100  /* every this many reservations one is sent twice (a client retry) */
#define PHASE_ONE_MAX            450  /* reservations sent before the fault is injected */
#define INJECT_AFTER             300  /* commands decided or seen before the fault is injected */
#define BATCH_MAX                20   /* small batches: many transactions */
#define WAIT_MS_MAX              20000
#define QUIET_MS                 800 /* counters unchanged this long: the handler is idle */
#define STOP_MS_MAX              20000
#define OUTAGE_MS                2000
#define RECONNECT_BACKOFF_MS_MAX "500" /* librdkafka's default, 10 s, would dominate the outage test */
#define TEST_COUNT               8

static const char *const skus[SKU_COUNT] = {"MUG-BLUE", "PEN-BLACK", "TEA-SENCHA", "TEA-OOLONG"};
/* Reservations per 15: 6 + 6 + 2 + 1. MUG-BLUE and PEN-BLACK ask for 600 units of 500 (100 rejected
 * each, one SKU per partition); TEA-SENCHA and TEA-OOLONG stay below their stock. */
static const int sku_weights[SKU_COUNT] = {6, 6, 2, 1};
#define WEIGHT_TOTAL 15

struct fixture {
    rd_kafka_t *owner; /* owns the mock cluster; also the test's plain, idempotent command producer */
    rd_kafka_mock_cluster_t *cluster;
    struct kafka_topics topics;
    struct stockd_config config; /* read by the handler while it runs */
    struct handler *handler;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool finished;
    int run_status;
    atomic_int delivery_failures;
    uint64_t sent;    /* records produced, repeats included */
    uint64_t repeats; /* records whose command id was sent before */
    int64_t started_ms;
    struct fixture **slot; /* where group_setup keeps it */
};

/* ---- helpers ----------------------------------------------------------------------------------------- */

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

static int32_t sku_partition(const char *sku)
{
    return murmur2_partition(sku, strlen(sku), PARTITIONS);
}

/* The SKU of reservation number index (0-based): weighted round robin over the SKUs. */
static int reserve_sku(int index)
{
    int slot = index % WEIGHT_TOTAL;
    for (int sku = 0; sku < SKU_COUNT; sku++) {
        if (slot < sku_weights[sku]) return sku;
        slot -= sku_weights[sku];
    }
    assert_true(false);
    return -1;
}

/* How many reservations of the same SKU come before reservation index: it is accepted below RECEIVED. */
static int reserve_ordinal(int index)
{
    int sku = reserve_sku(index);
    int ordinal = 0;
    for (int i = 0; i < index; i++)
        ordinal += reserve_sku(i) == sku;
    return ordinal;
}

static uint64_t sku_command_count(int sku)
{
    uint64_t count = 2; /* CreateSku and ReceiveStock */
    for (int i = 0; i < RESERVE_COUNT; i++)
        count += reserve_sku(i) == sku;
    return count;
}

static void delivered(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    struct fixture *f = opaque;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        print_error("command delivery failed: %s\n", rd_kafka_err2str(message->err));
        atomic_fetch_add(&f->delivery_failures, 1);
    }
}

/* ---- the mock cluster and the handler ------------------------------------------------------------------ */

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char reason[256];
    if (rd_kafka_conf_set(conf, name, value, reason, sizeof(reason)) != RD_KAFKA_CONF_OK)
        fail_msg("%s: %s", name, reason);
}

static void cluster_create(struct fixture *f)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "test.mock.num.brokers", "2");
    conf_set(conf, "enable.idempotence", "true"); /* ordered, no duplicates, retried through outages */
    conf_set(conf, "reconnect.backoff.max.ms", RECONNECT_BACKOFF_MS_MAX);
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    rd_kafka_conf_set_opaque(conf, f);
    char reason[512];
    f->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (f->owner == NULL) {
        rd_kafka_conf_destroy(conf);
        fail_msg("mock cluster: %s", reason);
    }
    conf = NULL; /* owned by f->owner */
    f->cluster = rd_kafka_handle_mock_cluster(f->owner);
    assert_non_null(f->cluster);

    kafka_topics_names(f->config.topic_prefix, &f->topics);
    assert_int_equal(rd_kafka_mock_topic_create(f->cluster, f->topics.by_sku, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->cluster, f->topics.events, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->cluster, f->topics.dlq, 1, 1), 0);
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        assert_int_equal(
            rd_kafka_mock_partition_set_leader(f->cluster, f->topics.by_sku, partition, BROKER_INPUT), 0);
        assert_int_equal(
            rd_kafka_mock_partition_set_leader(f->cluster, f->topics.events, partition, BROKER_OUTPUT), 0);
    }
    assert_int_equal(rd_kafka_mock_partition_set_leader(f->cluster, f->topics.dlq, 0, BROKER_OUTPUT), 0);
    /* The handler's group and transactional id, as handler.c names them. */
    char group[STOCKD_SKU_BYTES_MAX + 32];
    char transactional_id[STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    snprintf(group, sizeof(group), "%s-handler", f->config.topic_prefix);
    snprintf(transactional_id, sizeof(transactional_id), "%s-handler-%s", f->config.topic_prefix,
             f->config.instance_id);
    assert_int_equal(rd_kafka_mock_coordinator_set(f->cluster, "group", group, BROKER_INPUT), 0);
    assert_int_equal(
        rd_kafka_mock_coordinator_set(f->cluster, "transaction", transactional_id, BROKER_OUTPUT), 0);
    snprintf(f->config.kafka_bootstrap, sizeof(f->config.kafka_bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(f->cluster));
}

static void *handler_thread(void *argument)
{
    struct fixture *f = argument;
    f->run_status = handler_run(f->handler, &f->stop);
    atomic_store(&f->finished, true);
    return NULL;
}

/* Starts a fixture: mock cluster, handler thread. Its group join alone takes the mock 3 s, so the group
 * setup starts every test's fixture at once and the tests then find theirs joined. */
static struct fixture *fixture_start(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    stockd_config_defaults(&f->config);
    snprintf(f->config.data_dir, sizeof(f->config.data_dir), "/tmp/stockd-test-handler-mock-XXXXXX");
    assert_non_null(mkdtemp(f->config.data_dir));
    snprintf(f->config.topic_prefix, sizeof(f->config.topic_prefix), "mock");
    snprintf(f->config.instance_id, sizeof(f->config.instance_id), "mock-instance");
    f->config.partitions = PARTITIONS;
    f->config.handler_batch_max = BATCH_MAX;
    f->config.handler_punctuate_interval_ms = 3600000; /* no expiry ticks: nothing expires here */
    /* librdkafka backs reconnects off up to 10 s: after an outage the test would mostly wait for that. */
    f->config.kafka_property_count = 1;
    snprintf(f->config.kafka_properties[0].name, sizeof(f->config.kafka_properties[0].name), "%s",
             "reconnect.backoff.max.ms");
    snprintf(f->config.kafka_properties[0].value, sizeof(f->config.kafka_properties[0].value), "%s",
             RECONNECT_BACKOFF_MS_MAX);
    cluster_create(f);

    char error[512];
    f->handler = handler_create(&f->config, error, sizeof(error));
    if (f->handler == NULL) fail_msg("handler_create: %s", error);
    assert_int_equal(pthread_create(&f->thread, NULL, handler_thread, f), 0);
    f->thread_started = true;
    return f;
}

/* Stops the handler and waits, bounded, for handler_run to return. Returns true when it did. */
static bool handler_stop(struct fixture *f)
{
    if (!f->thread_started) return true;
    atomic_store(&f->stop, true);
    int64_t deadline_ms = monotonic_ms() + STOP_MS_MAX;
    while (!atomic_load(&f->finished) && monotonic_ms() < deadline_ms)
        sleep_ms(20);
    if (!atomic_load(&f->finished)) return false;
    pthread_join(f->thread, NULL);
    f->thread_started = false;
    return true;
}

/* Stops and frees a fixture. Returns 0, or -1 when its handler hung (it is then leaked: it still uses
 * the cluster and the config). Accepts NULL. */
static int fixture_destroy(struct fixture *f)
{
    if (f == NULL) return 0;
    if (!handler_stop(f)) {
        print_error("handler did not stop within %d ms: leaking it\n", STOP_MS_MAX);
        return -1;
    }
    handler_destroy(f->handler);
    rd_kafka_destroy(f->owner);
    char command[STOCKD_CONFIG_STRING_BYTES_MAX + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->config.data_dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

/* One fixture per test, started together by group_setup; a test owns its slot's fixture. */
static struct fixture *fixtures[TEST_COUNT];

static int group_setup(void **state)
{
    (void)state;
    for (int slot = 0; slot < TEST_COUNT; slot++)
        fixtures[slot] = fixture_start();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int status = 0;
    for (int slot = 0; slot < TEST_COUNT; slot++) {
        if (fixture_destroy(fixtures[slot]) != 0) status = -1;
        fixtures[slot] = NULL;
    }
    return status;
}

/* *state is the test's slot in fixtures (its prestate); it becomes the fixture. */
static int setup(void **state)
{
    struct fixture **slot = *state;
    assert_non_null(*slot);
    (*slot)->slot = slot;
    (*slot)->started_ms = monotonic_ms();
    *state = *slot;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct fixture **slot = f->slot;
    int status = fixture_destroy(f);
    if (status == 0) *slot = NULL;
    return status;
}

/* ---- the workload ------------------------------------------------------------------------------------ */

static void command_send(struct fixture *f, const struct command *command)
{
    char *value = codec_command_encode(command);
    assert_non_null(value);
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    while (status == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        status = rd_kafka_producev(
            f->owner, RD_KAFKA_V_TOPIC(f->topics.by_sku), RD_KAFKA_V_PARTITION(sku_partition(command->sku)),
            RD_KAFKA_V_KEY(command->sku, strlen(command->sku)), RD_KAFKA_V_VALUE(value, strlen(value)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (status == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(f->owner, 10);
    }
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free(value);
        fail_msg("produce: %s", rd_kafka_err2str(status));
    }
    f->sent++;
}

static void command_setup_make(int sku, bool receive, struct command *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->sku, sizeof(out->sku), "%s", skus[sku]);
    if (receive) {
        out->type = COMMAND_RECEIVE_STOCK;
        snprintf(out->command_id, sizeof(out->command_id), "receive-%s", skus[sku]);
        snprintf(out->location, sizeof(out->location), LOCATION);
        out->quantity = RECEIVED;
    } else {
        out->type = COMMAND_CREATE_SKU;
        snprintf(out->command_id, sizeof(out->command_id), "create-%s", skus[sku]);
        snprintf(out->name, sizeof(out->name), "Test item %s", skus[sku]);
    }
}

static void command_reserve_make(int index, struct command *out)
{
    memset(out, 0, sizeof(*out));
    out->type = COMMAND_RESERVE_STOCK;
    snprintf(out->sku, sizeof(out->sku), "%s", skus[reserve_sku(index)]);
    snprintf(out->command_id, sizeof(out->command_id), "reserve-%04d", index);
    snprintf(out->reservation_id, sizeof(out->reservation_id), "reservation-%04d", index);
    snprintf(out->location, sizeof(out->location), LOCATION);
    out->quantity = 1;
}

/* Sends reservations [first, last), every REPEAT_EVERY-th one twice in a row. */
static void reservations_send(struct fixture *f, int first, int last)
{
    static struct command command;
    for (int index = first; index < last; index++) {
        command_reserve_make(index, &command);
        command_send(f, &command);
        if (index % REPEAT_EVERY == REPEAT_EVERY - 1) {
            command_send(f, &command);
            f->repeats++;
        }
    }
}

static void commands_flush(struct fixture *f)
{
    assert_int_equal(rd_kafka_flush(f->owner, WAIT_MS_MAX), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(atomic_load(&f->delivery_failures), 0);
}

/* Phase one: every SKU created and stocked, then the first reservations. */
static void workload_start(struct fixture *f)
{
    static struct command command;
    for (int sku = 0; sku < SKU_COUNT; sku++) {
        command_setup_make(sku, false, &command);
        command_send(f, &command);
        command_setup_make(sku, true, &command);
        command_send(f, &command);
    }
    reservations_send(f, 0, PHASE_ONE_MAX);
    commands_flush(f);
}

/* Phase two: the remaining reservations, then every CreateSku again (a client retrying an old id). */
static void workload_finish(struct fixture *f)
{
    static struct command command;
    reservations_send(f, PHASE_ONE_MAX, RESERVE_COUNT);
    for (int sku = 0; sku < SKU_COUNT; sku++) {
        command_setup_make(sku, false, &command);
        command_send(f, &command);
        f->repeats++;
    }
    commands_flush(f);
}

/* ---- waiting --------------------------------------------------------------------------------------- */

static uint64_t stats_seen(const struct handler_stats *stats)
{
    return stats->commands_decided + stats->commands_duplicate;
}

/* Waits until the handler has decided or skipped at least count commands (aborted batches count too). */
static void wait_seen(struct fixture *f, uint64_t count)
{
    struct handler_stats stats;
    int64_t deadline_ms = monotonic_ms() + WAIT_MS_MAX;
    for (;;) {
        handler_stats_get(f->handler, &stats);
        if (stats_seen(&stats) >= count) return;
        if (atomic_load(&f->finished)) fail_msg("handler stopped early (status %d)", f->run_status);
        if (monotonic_ms() > deadline_ms)
            fail_msg("only %llu of %llu commands seen after %d ms", (unsigned long long)stats_seen(&stats),
                     (unsigned long long)count, WAIT_MS_MAX);
        sleep_ms(10);
    }
}

/* Waits until every record sent was decided or skipped as a duplicate and the handler has been idle
 * for QUIET_MS (no batch committed or aborted since), so that no batch is in flight when it stops. */
static void wait_settled(struct fixture *f)
{
    struct handler_stats last;
    struct handler_stats now;
    memset(&last, 0, sizeof(last));
    int64_t quiet_since_ms = monotonic_ms();
    int64_t deadline_ms = quiet_since_ms + WAIT_MS_MAX;
    for (;;) {
        handler_stats_get(f->handler, &now);
        if (memcmp(&now, &last, sizeof(now)) != 0) quiet_since_ms = monotonic_ms();
        last = now;
        if (stats_seen(&now) >= f->sent && monotonic_ms() - quiet_since_ms >= QUIET_MS) return;
        if (atomic_load(&f->finished)) fail_msg("handler stopped early (status %d)", f->run_status);
        if (monotonic_ms() > deadline_ms)
            fail_msg("not settled after %d ms: %llu of %llu records seen, %llu batches committed, %llu "
                     "aborted",
                     WAIT_MS_MAX, (unsigned long long)stats_seen(&now), (unsigned long long)f->sent,
                     (unsigned long long)now.batches_committed, (unsigned long long)now.batches_aborted);
        sleep_ms(20);
    }
}

/* Waits until the broker has served every error pushed onto its stack for api_key. */
static void wait_errors_served(struct fixture *f, int16_t api_key)
{
    int64_t deadline_ms = monotonic_ms() + WAIT_MS_MAX;
    size_t left = 1;
    while (left > 0) {
        assert_int_equal(rd_kafka_mock_broker_error_stack_cnt(f->cluster, BROKER_OUTPUT, api_key, &left), 0);
        if (left > 0 && monotonic_ms() > deadline_ms)
            fail_msg("%zu injected errors for ApiKey %d never served", left, (int)api_key);
        if (left > 0) sleep_ms(10);
    }
}

/* ---- the checks -------------------------------------------------------------------------------------- */

static void command_check(struct shard *shards[PARTITIONS], const char *sku, const char *command_id,
                          bool accepted)
{
    char error[512];
    struct shard_command_outcome outcome;
    int32_t home = sku_partition(sku);
    int found = shard_command_find(shards[home], command_id, &outcome, error, sizeof(error));
    if (found != 1) fail_msg("command %s: find returned %d %s", command_id, found, found < 0 ? error : "");
    assert_string_equal(outcome.sku, sku);
    assert_int_equal(outcome.event_count, 1); /* recorded once: one event, never re-recorded */
    if (outcome.rejected == accepted)
        fail_msg("command %s: %s, expected %s (%s)", command_id, outcome.rejected ? "rejected" : "accepted",
                 accepted ? "accepted" : "rejected", outcome.reason);
    if (!accepted) assert_string_equal(outcome.reason, "insufficient_stock");
    int32_t other = (home + 1) % PARTITIONS;
    assert_int_equal(shard_command_find(shards[other], command_id, NULL, error, sizeof(error)), 0);
}

static void sku_check(struct shard *shard, int sku)
{
    static struct sku_state state;
    char error[512];
    if (shard_sku_load(shard, skus[sku], &state, error, sizeof(error)) != 0) fail_msg("%s", error);
    assert_true(state.exists);
    uint64_t reserves = sku_command_count(sku) - 2;
    int64_t accepted = reserves < RECEIVED ? (int64_t)reserves : RECEIVED;
    if (state.sequence != sku_command_count(sku))
        fail_msg("%s: sequence %llu, expected %llu (one event per distinct command)", skus[sku],
                 (unsigned long long)state.sequence, (unsigned long long)sku_command_count(sku));
    const struct location_stock *stock = domain_location_find(&state, LOCATION);
    assert_non_null(stock);
    assert_int_equal(stock->on_hand, RECEIVED);
    assert_int_equal(stock->reserved, accepted);
    assert_true(stock->reserved <= stock->on_hand);
    assert_int_equal(domain_sku_state_check(&state), 0);
}

static void reservation_check(struct shard *shards[PARTITIONS], int index)
{
    static struct command command;
    struct reservation_set set = {.count = 0};
    char error[512];
    command_reserve_make(index, &command);
    bool accepted = reserve_ordinal(index) < RECEIVED;
    int found = shard_reservation_load(shards[sku_partition(command.sku)], command.sku,
                                       command.reservation_id, &set, error, sizeof(error));
    if (found < 0) fail_msg("%s", error);
    if (found != (int)accepted)
        fail_msg("reservation %s: row %s, expected %s", command.reservation_id, found ? "exists" : "missing",
                 accepted ? "a row" : "none");
    if (accepted) {
        assert_int_equal(set.items[0].status, RESERVATION_ACTIVE);
        assert_int_equal(set.items[0].quantity, 1);
    }
    command_check(shards, command.sku, command.command_id, accepted);
}

/* Opens the shards of the stopped handler and checks that they hold every command exactly once. */
static void shards_check(struct fixture *f)
{
    struct shard *shards[PARTITIONS];
    char error[512];
    /* The two SKUs that run out of stock live on different partitions: both shards see rejections. */
    assert_int_not_equal(sku_partition(skus[0]), sku_partition(skus[1]));
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        shards[partition] = shard_open(f->config.data_dir, partition, error, sizeof(error));
        if (shards[partition] == NULL) fail_msg("%s", error);
        assert_true(shard_checkpoint(shards[partition]) > 0);
    }
    static struct command command;
    for (int sku = 0; sku < SKU_COUNT; sku++) {
        sku_check(shards[sku_partition(skus[sku])], sku);
        command_setup_make(sku, false, &command);
        command_check(shards, command.sku, command.command_id, true);
        command_setup_make(sku, true, &command);
        command_check(shards, command.sku, command.command_id, true);
    }
    for (int index = 0; index < RESERVE_COUNT; index++)
        reservation_check(shards, index);
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        shard_close(shards[partition]);
}

/* Stops the handler after the workload settled, checks its counters and shards, and reports. */
static void run_finish_and_check(struct fixture *f, const char *name, struct handler_stats *out)
{
    wait_settled(f);
    assert_true(handler_stop(f));
    assert_int_equal(f->run_status, 0);
    handler_stats_get(f->handler, out);
    uint64_t distinct = 0;
    for (int sku = 0; sku < SKU_COUNT; sku++)
        distinct += sku_command_count(sku);
    assert_int_equal(f->sent, distinct + f->repeats);
    assert_true(out->commands_decided >= distinct); /* more when aborted batches are decided again */
    assert_true(out->commands_duplicate >= f->repeats);
    assert_int_equal(out->commands_dead_lettered, 0);
    assert_true(out->batches_committed >= distinct / BATCH_MAX);
    print_message("%s: %llu records, %llu decided (%llu rejected), %llu duplicate, %llu batches committed, "
                  "%llu aborted, %lld ms\n",
                  name, (unsigned long long)f->sent, (unsigned long long)out->commands_decided,
                  (unsigned long long)out->commands_rejected, (unsigned long long)out->commands_duplicate,
                  (unsigned long long)out->batches_committed, (unsigned long long)out->batches_aborted,
                  (long long)(monotonic_ms() - f->started_ms));
    shards_check(f);
}

/* ---- tests ------------------------------------------------------------------------------------------- */

/* The reference run: no injected fault, so no batch may abort. */
static void test_workload_without_faults_commits_every_command_once(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    workload_finish(f);
    run_finish_and_check(f, "no faults", &stats);
    assert_int_equal(stats.batches_aborted, 0);
}

/* A permanent Produce error makes the transaction abortable. librdkafka also marks the topic as failed
 * until its next metadata refresh (about a second), so producev fails at once and the loop aborts again and
 * again without pause meanwhile: tens to hundreds of aborted batches per injected error, all rolled back. */
static void test_produce_error_aborts_batch_and_shard_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, BROKER_OUTPUT, API_PRODUCE, 2,
                                                 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0,
                                                 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0);
    workload_finish(f);
    wait_errors_served(f, API_PRODUCE);
    run_finish_and_check(f, "Produce TOPIC_AUTHORIZATION_FAILED x2", &stats);
    assert_true(stats.batches_aborted > 0);
}

/* GROUP_AUTHORIZATION_FAILED on AddOffsetsToTxn is permanent: send_offsets_to_transaction returns an
 * abortable error, and each injected error aborts one batch. */
static void test_add_offsets_group_authorization_error_aborts_batch_and_shard_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, BROKER_OUTPUT, API_ADD_OFFSETS_TO_TXN, 2,
                                                 RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0,
                                                 RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0);
    workload_finish(f);
    wait_errors_served(f, API_ADD_OFFSETS_TO_TXN);
    run_finish_and_check(f, "AddOffsetsToTxn GROUP_AUTHORIZATION_FAILED x2", &stats);
    assert_true(stats.batches_aborted >= 2);
}

/* Coordinator errors and CONCURRENT_TRANSACTIONS on AddOffsetsToTxn are retried inside
 * send_offsets_to_transaction: nothing aborts. */
static void test_add_offsets_retriable_errors_retry_without_abort(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(
        f->cluster, BROKER_OUTPUT, API_ADD_OFFSETS_TO_TXN, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS, 0);
    workload_finish(f);
    wait_errors_served(f, API_ADD_OFFSETS_TO_TXN);
    run_finish_and_check(f, "AddOffsetsToTxn retriable x3", &stats);
    assert_int_equal(stats.batches_aborted, 0);
}

/* librdkafka retries EndTxn itself on coordinator errors: commit_transaction succeeds, nothing aborts. */
static void test_end_txn_retriable_errors_commit_without_abort(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, BROKER_OUTPUT, API_END_TXN, 2,
                                                 RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0,
                                                 RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0);
    workload_finish(f);
    wait_errors_served(f, API_END_TXN);
    run_finish_and_check(f, "EndTxn NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE", &stats);
    assert_int_equal(stats.batches_aborted, 0);
}

/* UNKNOWN_PRODUCER_ID on EndTxn(commit): commit_transaction returns an abortable error that needs an
 * epoch bump; abort_transaction bumps it and the batch is decided again. */
static void test_end_txn_unknown_producer_id_aborts_batch_and_shard_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, BROKER_OUTPUT, API_END_TXN, 1,
                                                 RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID, 0);
    workload_finish(f);
    wait_errors_served(f, API_END_TXN);
    run_finish_and_check(f, "EndTxn UNKNOWN_PRODUCER_ID x1", &stats);
    assert_true(stats.batches_aborted > 0);
}

/* Every broker refuses connections for OUTAGE_MS while batches are in flight: librdkafka retries through
 * it (an abort is allowed too, when a retry outlives transaction.timeout.ms); the shards must not care. */
static void test_brokers_down_two_seconds_lose_and_repeat_nothing(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->cluster, -1), 0);
    sleep_ms(OUTAGE_MS);
    assert_int_equal(rd_kafka_mock_broker_set_up(f->cluster, -1), 0);
    workload_finish(f);
    run_finish_and_check(f, "all brokers down 2 s", &stats);
}

/* Regression: EndTxn fails on the commit (abortable) and again on the abort. librdkafka then stays in its
 * abort state and wants abort_transaction called again; eos.c used to log the failed abort and go on, the
 * next begin_transaction failed, the batch was never cleared and batch_add() asserted on the full batch. */
static void test_end_txn_error_on_commit_and_on_abort_aborts_again_and_shard_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct handler_stats stats;
    workload_start(f);
    wait_seen(f, INJECT_AFTER);
    rd_kafka_mock_broker_push_request_error_rtts(f->cluster, BROKER_OUTPUT, API_END_TXN, 2,
                                                 RD_KAFKA_RESP_ERR_UNKNOWN, 0, RD_KAFKA_RESP_ERR_UNKNOWN, 0);
    workload_finish(f);
    wait_errors_served(f, API_END_TXN);
    run_finish_and_check(f, "EndTxn UNKNOWN on commit, then on abort", &stats);
    assert_true(stats.batches_aborted > 0);
}

int main(void)
{
    log_init("warn");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_workload_without_faults_commits_every_command_once,
                                                 setup, teardown, &fixtures[0]),
        cmocka_unit_test_prestate_setup_teardown(test_produce_error_aborts_batch_and_shard_rolls_back, setup,
                                                 teardown, &fixtures[1]),
        cmocka_unit_test_prestate_setup_teardown(
            test_add_offsets_group_authorization_error_aborts_batch_and_shard_rolls_back, setup, teardown,
            &fixtures[2]),
        cmocka_unit_test_prestate_setup_teardown(test_add_offsets_retriable_errors_retry_without_abort, setup,
                                                 teardown, &fixtures[3]),
        cmocka_unit_test_prestate_setup_teardown(test_end_txn_retriable_errors_commit_without_abort, setup,
                                                 teardown, &fixtures[4]),
        cmocka_unit_test_prestate_setup_teardown(
            test_end_txn_unknown_producer_id_aborts_batch_and_shard_rolls_back, setup, teardown,
            &fixtures[5]),
        cmocka_unit_test_prestate_setup_teardown(test_brokers_down_two_seconds_lose_and_repeat_nothing, setup,
                                                 teardown, &fixtures[6]),
        cmocka_unit_test_prestate_setup_teardown(
            test_end_txn_error_on_commit_and_on_abort_aborts_again_and_shard_rolls_back, setup, teardown,
            &fixtures[7]),
    };
    _Static_assert(sizeof(tests) / sizeof(tests[0]) == TEST_COUNT, "one fixture per test");
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
