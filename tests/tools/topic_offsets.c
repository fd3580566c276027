/* topic_offsets.c - prints the sum of a topic's high watermarks (its end offsets) as one number.
 *
 * Usage: topic_offsets BOOTSTRAP TOPIC. test_http.py compares the figure before and after a request the
 * API must refuse: an unchanged sum means nothing was produced. Waits at most 10 s for each answer; a
 * topic that does not exist (yet) prints 0. Exit 0 with the number on stdout, 1 with a message on stderr.
 * A test tool: stockd never runs it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

#define TOPIC_OFFSETS_TIMEOUT_MS 10000

/* The partition count of topic: > 0, 0 when the topic does not exist, -1 when the broker did not answer. */
static int topic_partition_count(rd_kafka_t *kafka, const char *topic)
{
    rd_kafka_topic_t *handle = rd_kafka_topic_new(kafka, topic, NULL);
    if (handle == NULL) return -1;
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(kafka, 0, handle, &metadata, TOPIC_OFFSETS_TIMEOUT_MS);
    rd_kafka_topic_destroy(handle);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "topic_offsets: metadata of %s: %s\n", topic, rd_kafka_err2str(err));
        return -1;
    }
    int count = -1;
    if (metadata->topic_cnt == 1) {
        rd_kafka_resp_err_t topic_err = metadata->topics[0].err;
        if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            count = 0;
        } else if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            count = metadata->topics[0].partition_cnt;
        } else {
            fprintf(stderr, "topic_offsets: metadata of %s: %s\n", topic, rd_kafka_err2str(topic_err));
        }
    }
    rd_kafka_metadata_destroy(metadata);
    return count;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strlen(argv[2]) == 0 || strlen(argv[2]) > STOCKD_SKU_BYTES_MAX + 24) {
        fprintf(stderr, "usage: topic_offsets BOOTSTRAP TOPIC\n");
        return 2;
    }
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof(error)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", error, sizeof(error)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "topic_offsets: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *kafka = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (kafka == NULL) {
        fprintf(stderr, "topic_offsets: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    conf = NULL; /* rd_kafka_new took it */

    int status = 0;
    int64_t sum = 0;
    int partitions = topic_partition_count(kafka, argv[2]);
    if (partitions < 0) status = 1;
    for (int32_t partition = 0; status == 0 && partition < partitions; partition++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(kafka, argv[2], partition, &low, &high,
                                                                   TOPIC_OFFSETS_TIMEOUT_MS);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "topic_offsets: watermarks of %s [%" PRId32 "]: %s\n", argv[2], partition,
                    rd_kafka_err2str(err));
            status = 1;
        }
        sum += high;
    }
    rd_kafka_destroy(kafka);
    if (status == 0) printf("%" PRId64 "\n", sum);
    return status;
}
