/* router.c - commands -> commands.by-sku, re-keyed by SKU, exactly once.
 *
 * The command is re-encoded canonically (what the handler reads is exactly what the codec accepts), keyed
 * by SKU and sent to murmur2(SKU) % P. Undecodable records go to the DLQ with the codec's message. */
#include "router.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "domain/codec.h"
#include "kafka/client.h"
#include "kafka/dlq.h"
#include "kafka/eos.h"
#include "kafka/murmur2.h"
#include "log.h"

#define COMPONENT "router"

struct router {
    const struct stockd_config *config;
    struct kafka_topics topics;
    char group_id[STOCKD_SKU_BYTES_MAX + 32];
    char transactional_id[STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + 32];
    struct eos_stage *stage;
    _Atomic uint64_t commands_routed;
    _Atomic uint64_t commands_dead_lettered;
};

/* Routes one record: decode, re-encode, produce to the SKU's partition of by-sku (or to the DLQ). */
static int message_route(struct router *router, rd_kafka_t *producer, const rd_kafka_message_t *message)
{
    static _Thread_local struct command command;
    struct codec_error codec_error;
    if (message->payload == NULL || message->len == 0) {
        atomic_fetch_add(&router->commands_dead_lettered, 1);
        return dlq_produce(producer, router->topics.dlq, message, COMPONENT, "empty record value", "");
    }
    if (codec_command_decode(message->payload, message->len, &command, &codec_error) != 0) {
        atomic_fetch_add(&router->commands_dead_lettered, 1);
        return dlq_produce(producer, router->topics.dlq, message, COMPONENT, codec_error.message,
                           codec_error.field);
    }
    char *value = codec_command_encode(&command);
    if (value == NULL) return -1;
    rd_kafka_headers_t *headers = rd_kafka_headers_new(1);
    rd_kafka_header_add(headers, "stockd_command_id", -1, command.command_id, -1);
    size_t sku_bytes = strlen(command.sku);
    int32_t partition = murmur2_partition(command.sku, sku_bytes, router->config->partitions);
    if (dlq_producev_owned(producer, router->topics.by_sku, partition, command.sku, sku_bytes, value,
                           strlen(value), headers) != 0)
        return -1;
    atomic_fetch_add(&router->commands_routed, 1);
    return 0;
}

static int on_process(void *context, rd_kafka_t *producer, rd_kafka_message_t **messages, size_t count)
{
    struct router *router = context;
    for (size_t i = 0; i < count; i++) {
        if (message_route(router, producer, messages[i]) != 0) return -1;
    }
    return 0;
}

/* The router keeps no state: nothing to make durable or to undo beyond the Kafka transaction. */
static void on_committed(void *context)
{
    (void)context;
}

static void on_aborted(void *context)
{
    (void)context;
}

struct router *router_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(config != NULL);
    struct router *router = calloc(1, sizeof(*router));
    if (router == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    router->config = config;
    kafka_topics_names(config->topic_prefix, &router->topics);
    snprintf(router->group_id, sizeof(router->group_id), "%s-router", config->topic_prefix);
    snprintf(router->transactional_id, sizeof(router->transactional_id), "%s-router-%s", config->topic_prefix,
             config->instance_id);
    static const struct eos_stage_ops ops = {
        .process = on_process,
        .committed = on_committed,
        .aborted = on_aborted,
    };
    struct eos_stage_settings settings = {
        .name = COMPONENT,
        .input_topic = router->topics.commands,
        .group_id = router->group_id,
        .transactional_id = router->transactional_id,
        .batch_max = config->handler_batch_max,
        .poll_timeout_ms = config->handler_poll_timeout_ms,
    };
    router->stage = eos_stage_create(config, &settings, &ops, router, error, error_bytes);
    if (router->stage == NULL) {
        free(router);
        return NULL;
    }
    return router;
}

int router_run(struct router *router, const atomic_bool *stop)
{
    assert(router != NULL);
    return eos_stage_run(router->stage, stop);
}

void router_stats_get(const struct router *router, struct router_stats *out)
{
    struct eos_stage_stats stage;
    eos_stage_stats_get(router->stage, &stage);
    out->commands_routed = atomic_load(&router->commands_routed);
    out->commands_dead_lettered = atomic_load(&router->commands_dead_lettered);
    out->batches_committed = stage.batches_committed;
    out->batches_aborted = stage.batches_aborted;
}

void router_destroy(struct router *router)
{
    if (router == NULL) return;
    eos_stage_destroy(router->stage);
    free(router);
}
