/* partition_leaders.c - prints each partition of a topic with its leader, replicas and in-sync replicas.
 *
 * Usage: partition_leaders BOOTSTRAP TOPIC. One line per partition, "PARTITION LEADER REPLICAS ISR" with the
 * broker lists comma-separated ("0 2 1,2,3 2,3"); leader -1 when it has none. The chaos scenarios
 * (tests/chaos/cluster.py) use it to pick the broker to kill and to see the ISR shrink and grow. Waits at
 * most 10 s for the answer. Exit 0, 1 with a message on stderr (no answer, no such topic), 2 usage.
 * A test tool: stockd never runs it. */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "limits.h"

#define PARTITION_LEADERS_TIMEOUT_MS 10000

static void brokers_print(const int32_t *brokers, int count)
{
    if (count == 0) fputs("-", stdout);
    for (int i = 0; i < count; i++)
        printf("%s%d", i > 0 ? "," : "", (int)brokers[i]);
}

/* Prints the partitions of the one topic in metadata. Returns 0, or 1 when the topic is missing. */
static int partitions_print(const rd_kafka_metadata_t *metadata, const char *topic)
{
    if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "partition_leaders: topic %s: %s\n", topic,
                metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : "not in the answer");
        return 1;
    }
    const rd_kafka_metadata_topic_t *found = &metadata->topics[0];
    for (int p = 0; p < found->partition_cnt; p++) {
        const rd_kafka_metadata_partition_t *partition = &found->partitions[p];
        printf("%d %d ", (int)partition->id, (int)partition->leader);
        brokers_print(partition->replicas, partition->replica_cnt);
        fputs(" ", stdout);
        brokers_print(partition->isrs, partition->isr_cnt);
        fputs("\n", stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strlen(argv[2]) == 0 || strlen(argv[2]) > STOCKD_SKU_BYTES_MAX + 24) {
        fprintf(stderr, "usage: partition_leaders BOOTSTRAP TOPIC\n");
        return 2;
    }
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof(error)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", error, sizeof(error)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "partition_leaders: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *kafka = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (kafka == NULL) {
        fprintf(stderr, "partition_leaders: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    conf = NULL; /* rd_kafka_new took it */
    int status = 1;
    rd_kafka_topic_t *handle = rd_kafka_topic_new(kafka, argv[2], NULL);
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t err =
        handle == NULL ? RD_KAFKA_RESP_ERR__INVALID_ARG
                       : rd_kafka_metadata(kafka, 0, handle, &metadata, PARTITION_LEADERS_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "partition_leaders: metadata of %s from %s: %s\n", argv[2], argv[1],
                rd_kafka_err2str(err));
    } else {
        status = partitions_print(metadata, argv[2]);
        rd_kafka_metadata_destroy(metadata);
    }
    if (handle != NULL) rd_kafka_topic_destroy(handle);
    rd_kafka_destroy(kafka);
    return status;
}
