/* dlq.h - dead-letter records: a consumed record that cannot be processed, kept with the reason.
 *
 * The DLQ record has the original key and value, and headers naming the error, the field, the stage and
 * the source topic/partition/offset, so nothing is ever dropped silently and a person can see why. */
#ifndef STOCKD_DLQ_H
#define STOCKD_DLQ_H

#include <librdkafka/rdkafka.h>

/* Produces source to dlq_topic (inside the caller's open transaction, when the producer is
 * transactional). error_field may be "". Returns 0, or -1 when the record could not be queued. */
int dlq_produce(rd_kafka_t *producer, const char *dlq_topic, const rd_kafka_message_t *source,
                const char *stage, const char *error_message, const char *error_field);

/* Produces with backpressure: on a full local queue, serves delivery reports and retries (bounded by
 * the message timeout). Takes ownership of value (freed with free) and headers in every case; opaque is the
 * message's (its delivery report's _private), NULL for none. Returns 0 or -1. */
int dlq_producev_owned(rd_kafka_t *producer, const char *topic, int32_t partition, const void *key,
                       size_t key_bytes, void *value, size_t value_bytes, rd_kafka_headers_t *headers,
                       void *opaque);

#endif
