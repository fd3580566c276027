/* client.h - librdkafka client setup shared by every stage: configuration, topic names, logging.
 *
 * Builds rd_kafka_conf_t objects from struct stockd_config (bootstrap, the user's passthrough properties,
 * then the settings stockd's correctness depends on, which the user cannot override). Nothing
 * domain-specific. */
#ifndef STOCKD_KAFKA_CLIENT_H
#define STOCKD_KAFKA_CLIENT_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Every consumer's fetch.queue.backoff.ms: how soon librdkafka fetches again for a partition whose prefetch
 * (queued.min.messages, queued.max.messages.kbytes) was full. Its default, a second (librdkafka >= 2.2),
 * capped each view's fold at 67,000 events/s (bench_replay, 2.8.0), where a fold drains its prefetch in a
 * fraction of that second. */
#define KAFKA_FETCH_QUEUE_BACKOFF_MS "10"

/* The topics of a deployment, from the configured prefix. */
struct kafka_topics {
    char commands[STOCKD_SKU_BYTES_MAX + 32];
    char by_sku[STOCKD_SKU_BYTES_MAX + 32];
    char events[STOCKD_SKU_BYTES_MAX + 32];
    char dlq[STOCKD_SKU_BYTES_MAX + 32];
    char orders[STOCKD_SKU_BYTES_MAX + 32]; /* the order saga's commands, line outcomes and events */
};

void kafka_topics_names(const char *prefix, struct kafka_topics *out);

/* A new configuration with bootstrap.servers, client.id "<instance>-<role>", the user's kafka.properties,
 * and log/error callbacks that write through log.h. Returns it (the caller owns it until rd_kafka_new
 * takes it), or NULL with a message in error (an invalid passthrough property names itself). */
rd_kafka_conf_t *kafka_conf_new(const struct stockd_config *config, const char *role, char *error,
                                size_t error_bytes);

/* Sets one property. Returns 0, or -1 with `name: reason` in error. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *error,
                   size_t error_bytes);

/* Creates a client of the given type; takes ownership of conf in every case (it is destroyed on
 * failure). Returns the handle or NULL with a message in error. */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *error, size_t error_bytes);

/* Fetches the metadata of the named topics into the client's cache, so that the first record to each does
 * not wait for librdkafka's periodic scan of unknown topics (up to a second: the first command after a
 * start paid it twice, once in the API producer and once in the handler's). Best effort: returns 0 when
 * every topic answered within timeout_ms, -1 (with the first failure in error) otherwise; a topic that
 * stays cold is only slower, never wrong. */
int kafka_topics_warm(rd_kafka_t *rk, const char *const *topics, size_t count, int timeout_ms, char *error,
                      size_t error_bytes);

/* Formats a Unix time in milliseconds as RFC 3339 UTC ("2026-11-25T02:31:43.123Z"); one outside years
 * 1970-9999 as "<milliseconds>ms". */
void kafka_time_rfc3339(int64_t time_ms, char *out, size_t out_bytes);

/* Current wall-clock time in Unix milliseconds. */
/* The log end offset (high watermark) of a partition, records of open transactions included: what a
 * read_uncommitted reader reaches. rd_kafka_query_watermark_offsets answers with the last stable offset on a
 * read_committed handle instead. Asks the partition's leader (Admin ListOffsets), waiting at most
 * timeout_ms. Returns 0, or -1 with a message. */
int kafka_log_end_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                         int64_t *log_end, char *error, size_t error_bytes);

#endif
