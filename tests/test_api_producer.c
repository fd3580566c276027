/* test_api_producer.c - tests of src/api/producer.c on librdkafka's in-process mock cluster (no broker).
 *
 * The API produces HTTP commands straight to <prefix>.commands.by-sku, where the handler dead-letters a
 * record on the wrong partition: each record must be exactly what the router would have written (SKU key,
 * partition murmur2(SKU) % P, header stockd_command_id, the canonical encoding, a CreateTime of the
 * submission), and the commands of one SKU must follow each other in submission order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "api/internal.h"
#include "clock.h"
#include "config.h"
#include "domain/codec.h"
#include "kafka/client.h"
#include "kafka/murmur2.h"

#define PARTITIONS       6  /* kafka.partitions: by-sku's partition count */
#define SKU_COUNT        24 /* enough SKUs that every partition gets some */
#define COMMANDS_PER_SKU 3
#define RECORD_COUNT     (SKU_COUNT * COMMANDS_PER_SKU)
#define CONSUME_MS_MAX   30000 /* generous: ASan slows librdkafka's threads */

struct fixture {
    struct stockd_config config;
    rd_kafka_t *owner; /* owns the mock cluster */
    struct kafka_topics topics;
    struct api_producer *producer;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    stockd_config_defaults(&f->config);
    snprintf(f->config.topic_prefix, sizeof(f->config.topic_prefix), "mockapi");
    snprintf(f->config.instance_id, sizeof(f->config.instance_id), "mockapi-instance");
    f->config.partitions = PARTITIONS;
    char reason[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", reason, sizeof(reason)),
                     RD_KAFKA_CONF_OK);
    f->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (f->owner == NULL) fail_msg("mock cluster: %s", reason);
    rd_kafka_mock_cluster_t *cluster = rd_kafka_handle_mock_cluster(f->owner);
    assert_non_null(cluster);
    kafka_topics_names(f->config.topic_prefix, &f->topics);
    assert_int_equal(rd_kafka_mock_topic_create(cluster, f->topics.by_sku, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(cluster, f->topics.commands, PARTITIONS, 1), 0);
    snprintf(f->config.kafka_bootstrap, sizeof(f->config.kafka_bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(cluster));
    f->producer = api_producer_create(&f->config, reason, sizeof(reason));
    if (f->producer == NULL) fail_msg("api_producer_create: %s", reason);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    api_producer_destroy(f->producer);
    rd_kafka_destroy(f->owner);
    free(f);
    return 0;
}

/* A ReceiveStock of quantity for sku, as the API builds it; returns its canonical encoding (freed by the
 * caller). */
static char *receipt_encode(const char *sku, int quantity, char command_id[STOCKD_ID_BYTES_MAX + 1])
{
    struct command command;
    memset(&command, 0, sizeof(command));
    command.type = COMMAND_RECEIVE_STOCK;
    snprintf(command.sku, sizeof(command.sku), "%s", sku);
    snprintf(command.command_id, sizeof(command.command_id), "cmd-%s-%d", sku, quantity);
    snprintf(command.location, sizeof(command.location), "WH-1");
    command.quantity = quantity;
    snprintf(command_id, STOCKD_ID_BYTES_MAX + 1, "%s", command.command_id);
    char *value = codec_command_encode(&command);
    assert_non_null(value);
    return value;
}

/* What the router writes for a record of <prefix>.commands: the canonical re-encoding of its command. */
static char *router_reencode(const void *payload, size_t bytes)
{
    struct command command;
    struct codec_error error;
    if (codec_command_decode(payload, bytes, &command, &error) != 0) fail_msg("decode: %s", error.message);
    char *value = codec_command_encode(&command);
    assert_non_null(value);
    return value;
}

/* A consumer of every by-sku partition from the beginning. */
static rd_kafka_t *by_sku_consumer_create(const struct fixture *f)
{
    char error[512];
    rd_kafka_conf_t *conf = kafka_conf_new(&f->config, "test", error, sizeof(error));
    if (conf == NULL) fail_msg("%s", error);
    assert_int_equal(kafka_conf_set(conf, "group.id", "mockapi-test", error, sizeof(error)), 0);
    assert_int_equal(kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof(error)), 0);
    rd_kafka_t *consumer = kafka_client_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (consumer == NULL) fail_msg("%s", error);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *partitions = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        rd_kafka_topic_partition_list_add(partitions, f->topics.by_sku, partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(consumer, partitions), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(partitions);
    return consumer;
}

/* Checks one consumed record against what was sent: the router's record, on the SKU's partition. Returns
 * the quantity it carries. */
static int record_check(const rd_kafka_message_t *message, int64_t sent_from_ms, int64_t sent_until_ms)
{
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    assert_true(message->key_len > 0 && message->key_len <= STOCKD_SKU_BYTES_MAX);
    snprintf(sku, sizeof(sku), "%.*s", (int)message->key_len, (const char *)message->key);
    assert_int_equal(message->partition, murmur2_partition(sku, strlen(sku), PARTITIONS));
    char *expected = router_reencode(message->payload, message->len);
    assert_int_equal(message->len, strlen(expected));
    assert_memory_equal(message->payload, expected, message->len);
    free(expected);
    struct command command;
    struct codec_error error;
    assert_int_equal(codec_command_decode(message->payload, message->len, &command, &error), 0);
    assert_string_equal(command.sku, sku);
    rd_kafka_headers_t *headers = NULL;
    assert_int_equal(rd_kafka_message_headers(message, &headers), RD_KAFKA_RESP_ERR_NO_ERROR);
    const void *header_value = NULL;
    size_t header_bytes = 0;
    assert_int_equal(rd_kafka_header_get_last(headers, "stockd_command_id", &header_value, &header_bytes),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(header_bytes, strlen(command.command_id));
    assert_memory_equal(header_value, command.command_id, header_bytes);
    rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t timestamp_ms = rd_kafka_message_timestamp(message, &timestamp_type);
    assert_int_equal(timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    assert_in_range(timestamp_ms, sent_from_ms, sent_until_ms);
    return (int)command.quantity;
}

static void test_send_writes_the_routers_record_on_the_skus_partition_in_submission_order(void **state)
{
    struct fixture *f = *state;
    char skus[SKU_COUNT][16];
    int64_t sent_from_ms = clock_wall_ms();
    for (int round = 1; round <= COMMANDS_PER_SKU; round++) {
        for (int i = 0; i < SKU_COUNT; i++) {
            snprintf(skus[i], sizeof(skus[i]), "SKU-%d", i);
            char command_id[STOCKD_ID_BYTES_MAX + 1];
            char *value = receipt_encode(skus[i], round, command_id);
            char error[256];
            int sent = api_producer_send(f->producer, skus[i], command_id, value, strlen(value), error,
                                         sizeof(error));
            if (sent != 0) fail_msg("send %s: %s", command_id, error);
            free(value);
        }
    }
    int64_t sent_until_ms = clock_wall_ms();
    rd_kafka_t *consumer = by_sku_consumer_create(f);
    int next_quantity[SKU_COUNT];
    int per_partition[PARTITIONS] = {0};
    for (int i = 0; i < SKU_COUNT; i++)
        next_quantity[i] = 1;
    int received = 0;
    int64_t deadline_ms = clock_wall_ms() + CONSUME_MS_MAX;
    while (received < RECORD_COUNT && clock_wall_ms() < deadline_ms) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 100);
        if (message == NULL) continue;
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int quantity = record_check(message, sent_from_ms, sent_until_ms);
            int sku_index = atoi((const char *)message->key + 4);
            assert_in_range(sku_index, 0, SKU_COUNT - 1);
            assert_int_equal(quantity, next_quantity[sku_index]); /* one SKU's commands in submission order */
            next_quantity[sku_index]++;
            per_partition[message->partition]++;
            received++;
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    assert_int_equal(received, RECORD_COUNT);
    for (int32_t partition = 0; partition < PARTITIONS; partition++)
        assert_true(per_partition[partition] > 0); /* the SKUs spread: not all on one partition */
}

static void test_send_writes_nothing_to_the_commands_topic(void **state)
{
    struct fixture *f = *state;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    char *value = receipt_encode("SKU-ALONE", 1, command_id);
    char error[256];
    assert_int_equal(
        api_producer_send(f->producer, "SKU-ALONE", command_id, value, strlen(value), error, sizeof(error)),
        0);
    free(value);
    char reason[512];
    rd_kafka_conf_t *conf = kafka_conf_new(&f->config, "test", reason, sizeof(reason));
    assert_non_null(conf);
    rd_kafka_t *client = kafka_client_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    assert_non_null(client);
    for (int32_t partition = 0; partition < PARTITIONS; partition++) {
        int64_t low = -1;
        int64_t high = -1;
        assert_int_equal(rd_kafka_query_watermark_offsets(client, f->topics.commands, partition, &low, &high,
                                                          CONSUME_MS_MAX),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(high, 0);
    }
    rd_kafka_destroy(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_send_writes_the_routers_record_on_the_skus_partition_in_submission_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_writes_nothing_to_the_commands_topic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
