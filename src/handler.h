/* handler.h - decides commands for the SKU partitions this instance owns.
 *
 * Reads <prefix>.commands.by-sku, folds state in one SQLite shard per partition and writes
 * <prefix>.events to the same partition number, all in one Kafka transaction per batch (see eos.h).
 * Never writes a view: projectors do. */
#ifndef STOCKD_HANDLER_H
#define STOCKD_HANDLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct handler;

/* Creates the handler with handler.threads workers (no Kafka connection yet): each is a consumer in the
 * group <prefix>-handler with its own transactional producer, deciding the partitions the group gives it
 * on its own thread. Returns NULL with a message in error. */
struct handler *handler_create(const struct stockd_config *config, char *error, size_t error_bytes);

struct outcome_board;

/* Posts the decisions that requests of this process wait for to board once they commit (outcome_board.h).
 * Before handler_run; board must outlive the handler. Returns 0, or -1 when out of memory. */
int handler_outcome_board_set(struct handler *handler, struct outcome_board *board);

/* Runs every worker until *stop is true (the calling thread watches them); a worker that fails stops the
 * others. Returns 0 on a clean stop, -1 when a worker could not go on. */
int handler_run(struct handler *handler, const atomic_bool *stop);

struct handler_stats {
    uint64_t commands_decided;
    uint64_t commands_rejected;
    uint64_t commands_duplicate;
    uint64_t commands_dead_lettered;
    uint64_t events_produced;
    uint64_t events_restored;
    uint64_t reservations_expired;
    uint64_t batches_committed;
    uint64_t batches_aborted;
};

/* Counters since start, summed over the workers (safe from any thread). */
void handler_stats_get(const struct handler *handler, struct handler_stats *out);

/* True when every worker holds a group assignment whose shards are all restored (so it decides commands);
 * false before its first assignment, while a rebalance restores, and after it stopped. Any thread. */
bool handler_ready(const struct handler *handler);

/* Why a partition is paused, when one is (its shard could not be restored, a full disk): "handler/1:
 * partition 3 paused: <error>" into out, true. False with out "" when none is. Any thread. */
bool handler_paused_reason(struct handler *handler, char *out, size_t out_bytes);

/* The number of workers (handler.threads). */
int handler_threads(const struct handler *handler);

/* Destroys a handler that is not running. Accepts NULL. */
void handler_destroy(struct handler *handler);

#endif
