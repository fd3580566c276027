/* router.h - repartitions commands by SKU: <prefix>.commands -> <prefix>.commands.by-sku.
 *
 * Validates each record with the domain codec; valid commands are re-keyed by SKU to the partition Java's
 * murmur2 partitioner gives it, invalid ones go to <prefix>.dlq with the reason. Transactional with the
 * consumed offsets, so a crash never duplicates or loses a command in by-sku. Holds no state. */
#ifndef STOCKD_ROUTER_H
#define STOCKD_ROUTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct router;

/* Creates the router with router.threads workers (no Kafka connection yet): each is a consumer in the group
 * <prefix>-router with its own transactional producer. Returns NULL with a message in error. */
struct router *router_create(const struct stockd_config *config, char *error, size_t error_bytes);

/* Runs every worker until *stop is true; a worker that fails stops the others. Returns 0 on a clean stop,
 * -1 when a worker could not go on. */
int router_run(struct router *router, const atomic_bool *stop);

struct router_stats {
    uint64_t commands_routed;
    uint64_t commands_dead_lettered;
    uint64_t batches_committed;
    uint64_t batches_aborted;
};
/* Counters since start, summed over the workers (safe from any thread). */
void router_stats_get(const struct router *router, struct router_stats *out);

/* Destroys a router that is not running. Accepts NULL. */
void router_destroy(struct router *router);

#endif
