/* orders.h - the order stage: a process manager (saga) that reserves an order's lines across SKUs.
 *
 * Reads <prefix>.orders (order commands, line outcomes, its own events) and <prefix>.events in one consumer
 * group, <prefix>-orders. From events it forwards the outcome of every line command to the order's
 * partition of orders; from orders it folds each order (src/domain/order.c) in one SQLite shard per
 * partition and sends stock commands to commands.by-sku and the order's events to orders, all in one Kafka
 * transaction with the consumed offsets (kafka/eos.c). docs/orders.md has the whole protocol. */
#ifndef STOCKD_ORDERS_H
#define STOCKD_ORDERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* How often the stage looks for orders past their deadline (orders.saga_timeout_ms): a timed-out
 * order is cancelled at most this much late. */
#define ORDERS_TICK_INTERVAL_MS 1000

/* Placing orders sent an OrderDeadline per partition per tick; more are sent at the next tick. */
#define ORDERS_DEADLINES_PER_TICK_MAX 64

struct orders;

/* Creates the stage (no Kafka connection yet). Returns NULL with a message in error. */
struct orders *orders_create(const struct stockd_config *config, char *error, size_t error_bytes);

/* Runs the stage until *stop is true. Returns 0 on a clean stop, -1 when it could not go on (logged). */
int orders_run(struct orders *orders, const atomic_bool *stop);

/* Destroys a stage that is not running. Accepts NULL. */
void orders_destroy(struct orders *orders);

/* True when this instance's stage owns the orders partition and has restored its shard: its file is
 * then up to date with the topic up to its checkpoint. Any thread. */
bool orders_partition_owned(const struct orders *orders, int32_t partition);

/* How many times the stage committed (shards included). Read it BEFORE reading a shard, then pass it to
 * orders_wait_commit. Any thread. */
uint64_t orders_commit_count(struct orders *orders);

/* Blocks until the commit count has passed seen_commits or timeout_ms (at least 0) elapses. Returns 1 when
 * it has passed, 0 on timeout. Any thread. */
int orders_wait_commit(struct orders *orders, uint64_t seen_commits, int timeout_ms);

/* Blocks until this instance's shard of orders partition partition has folded the record at offset (its
 * committed checkpoint is past it) or timeout_ms elapses. Returns 1 passed, 0 not (timed out, or the
 * partition is not assigned here), -1 bad position (partition outside kafka.partitions, negative offset).
 * Any thread. */
int orders_wait_position(struct orders *orders, int32_t partition, int64_t offset, int timeout_ms);

struct orders_stats {
    uint64_t orders_placed;
    uint64_t orders_confirmed;
    uint64_t orders_rejected;
    uint64_t orders_released;
    uint64_t orders_fulfilled;
    uint64_t orders_expired;
    uint64_t outcomes_forwarded; /* line outcomes read on events and sent to orders */
    uint64_t expiries_forwarded; /* expiries of line reservations read on events and sent to orders */
    uint64_t commands_sent;      /* stock commands sent to commands.by-sku */
    uint64_t deadlines_sent;
    uint64_t inputs_ignored;  /* duplicates, late deadlines, release of unconfirmed orders */
    uint64_t inputs_restored; /* folded again after a crash, without sending anything */
    uint64_t records_dead_lettered;
    uint64_t batches_committed;
    uint64_t batches_aborted;
};

/* Counters since start (any thread). */
void orders_stats_get(const struct orders *orders, struct orders_stats *out);

#endif
