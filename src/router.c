/* router.c - commands -> commands.by-sku, re-keyed by SKU, exactly once.
 *
 * The command is re-encoded canonically (what the handler reads is exactly what the codec accepts), keyed
 * by SKU and sent to murmur2(SKU) % P with the submission's CreateTime (for the end-to-end latency the
 * handler measures). Undecodable records go to the DLQ with the codec's message, and so do commands with
 * the order stage's ids (order:...), which only the order stage writes, to commands.by-sku. */
#include "router.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "domain/codec.h"
#include "domain/order.h"
#include "kafka/client.h"
#include "kafka/dlq.h"
#include "kafka/eos.h"
#include "kafka/murmur2.h"
#include "kafka/topics.h"
#include "log.h"
#include "metrics.h"
#include "stage_threads.h"

#define COMPONENT "router"

/* How far a carried-over CreateTime may lie in the past. by-sku's retention (1 day) deletes by record
 * timestamp: a backlog of old commands routed with their own timestamps could be deleted before the
 * handler reads them. Older timestamps are moved up to this age, which is still far beyond the largest
 * latency bucket (10 s), so the histogram's buckets stay right; only its sum undercounts. */
#define ROUTER_TIMESTAMP_AGE_MAX_MS (3600 * 1000)
_Static_assert(ROUTER_TIMESTAMP_AGE_MAX_MS * 4 <= TOPICS_BY_SKU_RETENTION_MS,
               "far inside by-sku's retention");
/* How many times a full producer queue is waited on (10 ms each) before giving up: 30 s. */
#define ROUTER_QUEUE_FULL_RETRIES 3000

/* One router thread: its own consumer in the router group and its own transactional producer. */
struct router_worker {
    const struct stockd_config *config;
    char name[32]; /* log component and client role: "router", then "router/1", ... */
    struct kafka_topics topics;
    char group_id[STOCKD_SKU_BYTES_MAX + 32];
    char transactional_id[STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    struct eos_stage *stage;
    _Atomic uint64_t commands_routed;
    _Atomic uint64_t commands_dead_lettered;
    /* Of the batch in flight, counted into stockd_router_commands_total when it commits. */
    uint64_t batch_routed;
    uint64_t batch_dead_lettered;
};

/* The timestamp for the by-sku record: the consumed record's CreateTime (the submission), bounded to
 * [now - ROUTER_TIMESTAMP_AGE_MAX_MS, now]; 0 (librdkafka stamps it now) for any other timestamp type. */
static int64_t timestamp_carried(const rd_kafka_message_t *message, int64_t now_ms)
{
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t timestamp_ms = rd_kafka_message_timestamp(message, &type);
    if (type != RD_KAFKA_TIMESTAMP_CREATE_TIME || timestamp_ms <= 0) return 0;
    if (timestamp_ms < now_ms - ROUTER_TIMESTAMP_AGE_MAX_MS) return now_ms - ROUTER_TIMESTAMP_AGE_MAX_MS;
    return timestamp_ms > now_ms ? now_ms : timestamp_ms;
}

/* dlq_producev_owned with a record timestamp: on a full local queue, serves delivery reports and retries.
 * Takes ownership of value (freed with free) and headers in every case. Returns 0 or -1. */
static int produce_owned(rd_kafka_t *producer, const char *topic, int32_t partition, const char *key,
                         size_t key_bytes, char *value, size_t value_bytes, rd_kafka_headers_t *headers,
                         int64_t timestamp_ms)
{
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < ROUTER_QUEUE_FULL_RETRIES; attempt++) {
        status = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                   RD_KAFKA_V_KEY(key, key_bytes), RD_KAFKA_V_VALUE(value, value_bytes),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(headers),
                                   RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
        if (status != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(producer, 10);
    }
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return 0; /* librdkafka owns value and headers now */
    log_warn(COMPONENT, "produce to %s: %s", topic, rd_kafka_err2str(status));
    free(value);
    rd_kafka_headers_destroy(headers);
    return -1;
}

/* Routes one record: decode, re-encode, produce to the SKU's partition of by-sku (or to the DLQ). */
static int message_route(struct router_worker *worker, rd_kafka_t *producer,
                         const rd_kafka_message_t *message, int64_t now_ms)
{
    static _Thread_local struct command command;
    struct codec_error codec_error;
    if (message->payload == NULL || message->len == 0) {
        atomic_fetch_add(&worker->commands_dead_lettered, 1);
        worker->batch_dead_lettered++;
        return dlq_produce(producer, worker->topics.dlq, message, COMPONENT, "empty record value", "");
    }
    if (codec_command_decode(message->payload, message->len, &command, &codec_error) != 0) {
        atomic_fetch_add(&worker->commands_dead_lettered, 1);
        worker->batch_dead_lettered++;
        return dlq_produce(producer, worker->topics.dlq, message, COMPONENT, codec_error.message,
                           codec_error.field);
    }
    /* The codec takes the order stage's line commands (it decodes by-sku too); the order stage never
     * writes <prefix>.commands, so here they can only be a client's (docs/orders.md). */
    const char *reserved_field = order_client_id_field(&command);
    if (reserved_field != NULL) {
        atomic_fetch_add(&worker->commands_dead_lettered, 1);
        worker->batch_dead_lettered++;
        char reason[sizeof(worker->topics.commands) + 128];
        snprintf(reason, sizeof(reason),
                 "%s: ids beginning with \"%s\" belong to the order stage (POST /v1/orders), not to %s",
                 reserved_field, ORDER_ID_PREFIX, worker->topics.commands);
        return dlq_produce(producer, worker->topics.dlq, message, COMPONENT, reason, reserved_field);
    }
    char *value = codec_command_encode(&command);
    if (value == NULL) return -1;
    rd_kafka_headers_t *headers = rd_kafka_headers_new(1);
    rd_kafka_header_add(headers, "stockd_command_id", -1, command.command_id, -1);
    size_t sku_bytes = strlen(command.sku);
    int32_t partition = murmur2_partition(command.sku, sku_bytes, worker->config->partitions);
    if (produce_owned(producer, worker->topics.by_sku, partition, command.sku, sku_bytes, value,
                      strlen(value), headers, timestamp_carried(message, now_ms)) != 0)
        return -1;
    atomic_fetch_add(&worker->commands_routed, 1);
    worker->batch_routed++;
    return 0;
}

static int on_process(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages, size_t count)
{
    struct router_worker *worker = context;
    int64_t now_ms = clock_wall_ms();
    for (size_t i = 0; i < count; i++) {
        if (message_route(worker, producer, messages[i], now_ms) != 0) return -1;
    }
    return 0;
}

/* The router keeps no state: nothing to make durable or to undo beyond the Kafka transaction; only the
 * batch's counts, which count once it commits. */
static void on_committed(void *context)
{
    struct router_worker *worker = context;
    metrics_router_commands_add(worker->batch_routed, worker->batch_dead_lettered);
    worker->batch_routed = 0;
    worker->batch_dead_lettered = 0;
}

static void on_aborted(void *context)
{
    struct router_worker *worker = context;
    worker->batch_routed = 0;
    worker->batch_dead_lettered = 0;
}

static void worker_destroy(struct router_worker *worker)
{
    if (worker == NULL) return;
    eos_stage_destroy(worker->stage);
    free(worker);
}

/* Names and transactional ids: stage_threads_worker_names. */
static struct router_worker *worker_create(const struct stockd_config *config, int index, char *error,
                                           size_t error_bytes)
{
    assert(index >= 0 && index < STOCKD_STAGE_THREADS_MAX);
    struct router_worker *worker = calloc(1, sizeof(*worker));
    if (worker == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    worker->config = config;
    kafka_topics_names(config->topic_prefix, &worker->topics);
    snprintf(worker->group_id, sizeof(worker->group_id), "%s-router", config->topic_prefix);
    stage_threads_worker_names(config, COMPONENT, index, worker->name, sizeof(worker->name),
                               worker->transactional_id, sizeof(worker->transactional_id));
    static const struct eos_stage_ops ops = {
        .process = on_process,
        .committed = on_committed,
        .aborted = on_aborted,
    };
    struct eos_stage_settings settings = {
        .name = worker->name,
        .input_topic = worker->topics.commands,
        .output_topics = {worker->topics.by_sku, worker->topics.dlq},
        .group_id = worker->group_id,
        .transactional_id = worker->transactional_id,
        .batch_max = config->handler_batch_max,
        .poll_timeout_ms = config->handler_poll_timeout_ms,
        .metrics_stage = METRICS_STAGE_ROUTER,
    };
    worker->stage = eos_stage_create(config, &settings, &ops, worker, error, error_bytes);
    if (worker->stage == NULL) {
        free(worker);
        return NULL;
    }
    return worker;
}

/* ---- the router: router.threads workers ---------------------------------------------------------------- */

struct router {
    int worker_count;
    struct router_worker *workers[STOCKD_STAGE_THREADS_MAX];
};

struct router *router_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(config != NULL);
    assert(config->router_threads >= 1 && config->router_threads <= STOCKD_STAGE_THREADS_MAX);
    struct router *router = calloc(1, sizeof(*router));
    if (router == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    for (int i = 0; i < config->router_threads; i++) {
        router->workers[i] = worker_create(config, i, error, error_bytes);
        if (router->workers[i] == NULL) {
            router_destroy(router);
            return NULL;
        }
        router->worker_count++;
    }
    return router;
}

static int worker_run(void *worker, const atomic_bool *stop)
{
    return eos_stage_run(((struct router_worker *)worker)->stage, stop);
}

int router_run(struct router *router, const atomic_bool *stop)
{
    assert(router != NULL && stop != NULL);
    return stage_threads_run_named("router", worker_run, (void *const *)router->workers, router->worker_count,
                                   stop);
}

void router_stats_get(const struct router *router, struct router_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < router->worker_count; i++) {
        const struct router_worker *worker = router->workers[i];
        struct eos_stage_stats stage;
        eos_stage_stats_get(worker->stage, &stage);
        out->commands_routed += atomic_load(&worker->commands_routed);
        out->commands_dead_lettered += atomic_load(&worker->commands_dead_lettered);
        out->batches_committed += stage.batches_committed;
        out->batches_aborted += stage.batches_aborted;
    }
}

void router_destroy(struct router *router)
{
    if (router == NULL) return;
    for (int i = 0; i < router->worker_count; i++)
        worker_destroy(router->workers[i]);
    free(router);
}
