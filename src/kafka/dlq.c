/* dlq.c - producing dead-letter records, and produce-with-backpressure shared by the stages.
 *
 * A full local queue is not an error: serve delivery reports and try again (librdkafka's QUEUE_FULL
 * contract). Everything else is returned to the caller, whose transaction then aborts. */
#include "kafka/dlq.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* How many times a full queue is waited on (10 ms each) before giving up: 30 s. */
#define DLQ_QUEUE_FULL_RETRIES 3000

int dlq_producev_owned(rd_kafka_t *producer, const char *topic, int32_t partition, const void *key,
                       size_t key_bytes, void *value, size_t value_bytes, rd_kafka_headers_t *headers,
                       void *opaque)
{
    assert(producer != NULL && topic != NULL);
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < DLQ_QUEUE_FULL_RETRIES; attempt++) {
        status = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                   RD_KAFKA_V_KEY(key, key_bytes), RD_KAFKA_V_VALUE(value, value_bytes),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(headers),
                                   RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (status != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(producer, 10);
    }
    if (status == RD_KAFKA_RESP_ERR_NO_ERROR) return 0; /* librdkafka owns value and headers now */
    log_warn("kafka", "produce to %s: %s", topic, rd_kafka_err2str(status));
    free(value);
    rd_kafka_headers_destroy(headers);
    return -1;
}

int dlq_produce(rd_kafka_t *producer, const char *dlq_topic, const rd_kafka_message_t *source,
                const char *stage, const char *error_message, const char *error_field)
{
    assert(source != NULL && error_message != NULL && error_field != NULL);
    char partition[16];
    char offset[32];
    snprintf(partition, sizeof(partition), "%d", (int)source->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)source->offset);
    rd_kafka_headers_t *headers = rd_kafka_headers_new(6);
    rd_kafka_header_add(headers, "stockd_error", -1, error_message, -1);
    rd_kafka_header_add(headers, "stockd_error_field", -1, error_field, -1);
    rd_kafka_header_add(headers, "stockd_stage", -1, stage, -1);
    rd_kafka_header_add(headers, "stockd_source_topic", -1, rd_kafka_topic_name(source->rkt), -1);
    rd_kafka_header_add(headers, "stockd_source_partition", -1, partition, -1);
    rd_kafka_header_add(headers, "stockd_source_offset", -1, offset, -1);
    void *value = NULL;
    if (source->len > 0) {
        value = malloc(source->len);
        if (value == NULL) {
            rd_kafka_headers_destroy(headers);
            return -1;
        }
        memcpy(value, source->payload, source->len);
    }
    log_warn(stage, "%s [%d] offset %lld to %s: %s", rd_kafka_topic_name(source->rkt), (int)source->partition,
             (long long)source->offset, dlq_topic, error_message);
    return dlq_producev_owned(producer, dlq_topic, RD_KAFKA_PARTITION_UA, source->key, source->key_len, value,
                              source->len, headers, NULL);
}
