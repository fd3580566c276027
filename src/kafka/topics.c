/* topics.c - topic provisioning with librdkafka's Admin API.
 *
 * CreateTopics for all four topics (TOPIC_ALREADY_EXISTS is fine), then metadata to compare partition
 * counts with kafka.partitions. Metadata of a just-created topic can lag, so the check waits (bounded)
 * until every topic shows up with its partitions. */
#include "kafka/topics.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka/client.h"
#include "log.h"

#define TOPICS_TIMEOUT_MS       30000
#define TOPICS_METADATA_TRIES   60
#define TOPICS_METADATA_WAIT_MS 250
/* commands, by-sku, events, dlq, orders */
#define TOPICS_COUNT 5

struct topic_spec {
    const char *name;
    int partitions;
    long long retention_ms;
    int must_match; /* partition count must equal kafka.partitions */
};

static void specs_fill(const struct stockd_config *config, const struct kafka_topics *names,
                       struct topic_spec specs[TOPICS_COUNT])
{
    specs[0] = (struct topic_spec){names->commands, config->partitions, TOPICS_COMMANDS_RETENTION_MS, 0};
    specs[1] = (struct topic_spec){names->by_sku, config->partitions, TOPICS_BY_SKU_RETENTION_MS, 1};
    specs[2] = (struct topic_spec){names->events, config->partitions, TOPICS_EVENTS_RETENTION_MS, 1};
    specs[3] = (struct topic_spec){names->dlq, 1, TOPICS_DLQ_RETENTION_MS, 0};
    specs[4] = (struct topic_spec){names->orders, config->partitions, TOPICS_ORDERS_RETENTION_MS, 1};
}

/* Sends one CreateTopics request for all specs and checks each result. */
static int topics_create(rd_kafka_t *admin, const struct stockd_config *config,
                         const struct topic_spec specs[TOPICS_COUNT], char *error, size_t error_bytes)
{
    rd_kafka_NewTopic_t *topics[TOPICS_COUNT] = {0};
    char reason[256];
    int status = -1;
    for (int i = 0; i < TOPICS_COUNT; i++) {
        /* -1: the broker's default.replication.factor (CreateTopics v4, Kafka 2.4+). */
        int replication = config->replication_factor > 0 ? config->replication_factor : -1;
        topics[i] =
            rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, replication, reason, sizeof(reason));
        char retention[32];
        snprintf(retention, sizeof(retention), "%lld", specs[i].retention_ms);
        char min_insync[16];
        snprintf(min_insync, sizeof(min_insync), "%d", (int)config->min_insync_replicas);
        if (topics[i] == NULL || rd_kafka_NewTopic_set_config(topics[i], "retention.ms", retention) != 0 ||
            (config->min_insync_replicas > 0 &&
             rd_kafka_NewTopic_set_config(topics[i], "min.insync.replicas", min_insync) != 0)) {
            snprintf(error, error_bytes, "topic %s: %s", specs[i].name, topics[i] ? "bad config" : reason);
            goto out_destroy;
        }
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(admin);
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, TOPICS_TIMEOUT_MS, reason, sizeof(reason));
    rd_kafka_CreateTopics(admin, topics, TOPICS_COUNT, options, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, TOPICS_TIMEOUT_MS + 5000);
    if (event == NULL || rd_kafka_event_error(event)) {
        snprintf(error, error_bytes, "creating topics at %s: %s", config->kafka_bootstrap,
                 event ? rd_kafka_event_error_string(event) : "timed out (is the broker reachable?)");
    } else {
        size_t count = 0;
        const rd_kafka_topic_result_t **results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        status = 0;
        for (size_t i = 0; i < count; i++) {
            rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[i]);
            if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                log_info("topics", "created %s", rd_kafka_topic_result_name(results[i]));
            if (code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                continue;
            snprintf(error, error_bytes, "creating topic %s: %s", rd_kafka_topic_result_name(results[i]),
                     rd_kafka_topic_result_error_string(results[i]));
            status = -1;
            break;
        }
    }
    if (event != NULL) rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
out_destroy:
    for (int i = 0; i < TOPICS_COUNT; i++) {
        if (topics[i] != NULL) rd_kafka_NewTopic_destroy(topics[i]);
    }
    return status;
}

/* Partition count of a topic in metadata, 0 when it is not (yet) there or a partition has no leader yet
 * (a just-created topic answers "not leader" until its leaders are elected). */
static int metadata_partitions(const rd_kafka_metadata_t *metadata, const char *name)
{
    for (int i = 0; i < metadata->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *topic = &metadata->topics[i];
        if (strcmp(topic->topic, name) != 0) continue;
        if (topic->err) return 0;
        for (int p = 0; p < topic->partition_cnt; p++) {
            if (topic->partitions[p].err || topic->partitions[p].leader < 0) return 0;
        }
        return topic->partition_cnt;
    }
    return 0;
}

static void sleep_ms(int milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Waits until every topic is in the metadata, then compares partition counts. */
static int topics_verify(rd_kafka_t *admin, const struct stockd_config *config,
                         const struct topic_spec specs[TOPICS_COUNT], char *error, size_t error_bytes)
{
    for (int attempt = 0; attempt < TOPICS_METADATA_TRIES; attempt++) {
        const rd_kafka_metadata_t *metadata = NULL;
        rd_kafka_resp_err_t status = rd_kafka_metadata(admin, 1, NULL, &metadata, TOPICS_TIMEOUT_MS);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(error, error_bytes, "metadata from %s: %s", config->kafka_bootstrap,
                     rd_kafka_err2str(status));
            return -1;
        }
        int counts[TOPICS_COUNT];
        int missing = 0;
        for (int i = 0; i < TOPICS_COUNT; i++)
            missing += (counts[i] = metadata_partitions(metadata, specs[i].name)) == 0;
        rd_kafka_metadata_destroy(metadata);
        if (missing > 0) {
            sleep_ms(TOPICS_METADATA_WAIT_MS);
            continue;
        }
        for (int i = 0; i < TOPICS_COUNT; i++) {
            if (!specs[i].must_match || counts[i] == config->partitions) continue;
            snprintf(
                error, error_bytes,
                "topic %s has %d partitions but kafka.partitions is %d: by-sku, events and orders must all "
                "have "
                "kafka.partitions partitions. Set kafka.partitions=%d to use the existing topics, or use "
                "another kafka.topic_prefix",
                specs[i].name, counts[i], (int)config->partitions, counts[i]);
            return -1;
        }
        return 0;
    }
    snprintf(error, error_bytes, "topics did not appear in the metadata of %s", config->kafka_bootstrap);
    return -1;
}

int topics_ensure(const struct stockd_config *config, int create, char *error, size_t error_bytes)
{
    assert(config != NULL);
    struct kafka_topics names;
    kafka_topics_names(config->topic_prefix, &names);
    struct topic_spec specs[TOPICS_COUNT];
    specs_fill(config, &names, specs);
    rd_kafka_conf_t *conf = kafka_conf_new(config, "admin", error, error_bytes);
    if (conf == NULL) return -1;
    rd_kafka_t *admin = kafka_client_new(RD_KAFKA_PRODUCER, conf, error, error_bytes);
    conf = NULL;
    if (admin == NULL) return -1;
    int status = create ? topics_create(admin, config, specs, error, error_bytes) : 0;
    if (status == 0) status = topics_verify(admin, config, specs, error, error_bytes);
    rd_kafka_destroy(admin);
    return status;
}

int topics_delete(const char *bootstrap, const char *prefix, char *error, size_t error_bytes)
{
    enum { TOPIC_COUNT = TOPICS_COUNT, GROUP_COUNT = 3, DELETE_TIMEOUT_MS = 10000 };
    assert(bootstrap != NULL && prefix != NULL);
    if (prefix[0] == '\0' || strlen(prefix) > STOCKD_SKU_BYTES_MAX) {
        snprintf(error, error_bytes, "a topic prefix is 1-%d bytes", STOCKD_SKU_BYTES_MAX);
        return -1;
    }
    char reason[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, reason, sizeof(reason)) != RD_KAFKA_CONF_OK) {
        snprintf(error, error_bytes, "%s", reason);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (admin == NULL) {
        snprintf(error, error_bytes, "%s", reason);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    struct kafka_topics names;
    kafka_topics_names(prefix, &names);
    const char *topic_names[TOPIC_COUNT] = {names.commands, names.by_sku, names.events, names.dlq,
                                            names.orders};
    rd_kafka_DeleteTopic_t *topics[TOPIC_COUNT];
    for (int i = 0; i < TOPIC_COUNT; i++)
        topics[i] = rd_kafka_DeleteTopic_new(topic_names[i]);
    char group_names[GROUP_COUNT][STOCKD_SKU_BYTES_MAX + 32];
    snprintf(group_names[0], sizeof(group_names[0]), "%s-router", prefix);
    snprintf(group_names[1], sizeof(group_names[1]), "%s-handler", prefix);
    snprintf(group_names[2], sizeof(group_names[2]), "%s-orders", prefix);
    rd_kafka_DeleteGroup_t *groups[GROUP_COUNT] = {rd_kafka_DeleteGroup_new(group_names[0]),
                                                   rd_kafka_DeleteGroup_new(group_names[1]),
                                                   rd_kafka_DeleteGroup_new(group_names[2])};
    rd_kafka_queue_t *queue = rd_kafka_queue_new(admin);
    rd_kafka_DeleteTopics(admin, topics, TOPIC_COUNT, NULL, queue);
    rd_kafka_DeleteGroups(admin, groups, GROUP_COUNT, NULL, queue);
    int answered = 0;
    for (int i = 0; i < 2; i++) {
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, DELETE_TIMEOUT_MS);
        if (event == NULL) continue;
        if (rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR_NO_ERROR) answered++;
        rd_kafka_event_destroy(event);
    }
    rd_kafka_DeleteTopic_destroy_array(topics, TOPIC_COUNT);
    rd_kafka_DeleteGroup_destroy_array(groups, GROUP_COUNT);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(admin);
    if (answered != 2) {
        snprintf(error, error_bytes, "the broker did not answer both deletions of %s within %d ms", prefix,
                 (int)DELETE_TIMEOUT_MS);
        return -1;
    }
    return 0;
}
