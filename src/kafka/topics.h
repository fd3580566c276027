/* topics.h - creates stockd's topics at start and checks that existing ones fit the configuration.
 *
 * by-sku and events must be co-partitioned (same P as kafka.partitions): shard N is the fold of events
 * partition N, fed by by-sku partition N. A mismatch refuses the start with a message saying how to fix. */
#ifndef STOCKD_TOPICS_H
#define STOCKD_TOPICS_H

#include <stddef.h>

#include "config.h"

/* Retention per topic, in milliseconds (-1 = forever). */
#define TOPICS_COMMANDS_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define TOPICS_BY_SKU_RETENTION_MS   (24LL * 3600 * 1000)
#define TOPICS_EVENTS_RETENTION_MS   (-1LL)
#define TOPICS_DLQ_RETENTION_MS      (30LL * 24 * 3600 * 1000)
/* Orders are a fold of their topic (the order stage restores from it, docs/orders.md): kept forever. */
#define TOPICS_ORDERS_RETENTION_MS (-1LL)

/* Creates the missing topics (Admin API, when create is non-zero) and verifies partition counts. Returns
 * 0, or -1 with a message naming the topic and the fix. */
int topics_ensure(const struct stockd_config *config, int create, char *error, size_t error_bytes);

/* Deletes the topics of a prefix and its router, handler and orders consumer groups, waiting at most 10 s for
 * each answer; what is already gone is not an error. For test and benchmark tools: stockd never calls it.
 * Returns 0 when both requests were answered, or -1 with a message. */
int topics_delete(const char *bootstrap, const char *prefix, char *error, size_t error_bytes);

#endif
