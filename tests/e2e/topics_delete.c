/* topics_delete.c - deletes the topics and consumer groups of one kafka.topic_prefix after an e2e test.
 *
 * Usage: topics_delete BOOTSTRAP PREFIX. Deletes <prefix>.commands, .commands.by-sku, .events, .dlq and the
 * groups <prefix>-router and <prefix>-handler, waiting at most 10 s for each answer; what is already gone
 * is not an error. Exit 0 when the requests were answered, 1 otherwise. A test tool: stockd never runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka/client.h"

#define TOPICS_DELETE_TIMEOUT_MS 10000
#define TOPIC_COUNT              4
#define GROUP_COUNT              2

int main(int argc, char **argv)
{
    if (argc != 3 || strlen(argv[2]) == 0 || strlen(argv[2]) > STOCKD_SKU_BYTES_MAX) {
        fprintf(stderr, "usage: topics_delete BOOTSTRAP PREFIX (a prefix of 1-%d bytes)\n",
                STOCKD_SKU_BYTES_MAX);
        return 2;
    }
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "topics_delete: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (admin == NULL) {
        fprintf(stderr, "topics_delete: %s\n", error);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    conf = NULL; /* rd_kafka_new took it */

    struct kafka_topics names;
    kafka_topics_names(argv[2], &names);
    const char *topic_names[TOPIC_COUNT] = {names.commands, names.by_sku, names.events, names.dlq};
    rd_kafka_DeleteTopic_t *topics[TOPIC_COUNT];
    for (int i = 0; i < TOPIC_COUNT; i++)
        topics[i] = rd_kafka_DeleteTopic_new(topic_names[i]);
    char group_names[GROUP_COUNT][STOCKD_SKU_BYTES_MAX + 32];
    snprintf(group_names[0], sizeof(group_names[0]), "%s-router", argv[2]);
    snprintf(group_names[1], sizeof(group_names[1]), "%s-handler", argv[2]);
    rd_kafka_DeleteGroup_t *groups[GROUP_COUNT] = {rd_kafka_DeleteGroup_new(group_names[0]),
                                                   rd_kafka_DeleteGroup_new(group_names[1])};

    rd_kafka_queue_t *queue = rd_kafka_queue_new(admin);
    rd_kafka_DeleteTopics(admin, topics, TOPIC_COUNT, NULL, queue);
    rd_kafka_DeleteGroups(admin, groups, GROUP_COUNT, NULL, queue);
    int answered = 0;
    for (int i = 0; i < 2; i++) {
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, TOPICS_DELETE_TIMEOUT_MS);
        if (event == NULL) continue;
        if (rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR_NO_ERROR) answered++;
        rd_kafka_event_destroy(event);
    }
    rd_kafka_DeleteTopic_destroy_array(topics, TOPIC_COUNT);
    rd_kafka_DeleteGroup_destroy_array(groups, GROUP_COUNT);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(admin);
    if (answered != 2) {
        fprintf(stderr, "topics_delete: the broker did not answer both deletions of %s within %d ms\n",
                argv[2], TOPICS_DELETE_TIMEOUT_MS);
        return 1;
    }
    return 0;
}
