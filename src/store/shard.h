/* shard.h - one SQLite state shard of the handler: the fold of one partition of <prefix>.events.
 *
 * <data_dir>/state/shard-NNNN.db holds SKUs (with their stock per location), reservations, processed command
 * ids and the checkpoint (next events offset to fold). Only the handler that owns the partition writes it,
 * one transaction per batch, committed after Kafka's. Knows nothing of Kafka: offsets are plain numbers. */
#ifndef STOCKD_SHARD_H
#define STOCKD_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"

struct shard;

/* What a processed command id led to (for idempotency and for its outcome). */
struct shard_command_outcome {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    uint64_t first_sequence;
    uint32_t event_count;
    bool rejected;
    char reason[32]; /* reject reason code, "" when accepted */
    int64_t decided_ms;
};

/* A due reservation found by the expiry scan. */
struct shard_due_reservation {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
};

/* The path of a partition's shard file: <data_dir>/state/shard-NNNN.db. Returns 0, or -1 when it does
 * not fit in path_bytes. */
int shard_path(const char *data_dir, int32_t partition, char *path, size_t path_bytes);

/* Opens (creating the directory and file when missing, and migrating) the shard of a partition. A new
 * shard has checkpoint 0. Returns it, or NULL with a message in error. */
struct shard *shard_open(const char *data_dir, int32_t partition, char *error, size_t error_bytes);

/* Closes the shard, rolling back an open transaction. Accepts NULL. */
void shard_close(struct shard *shard);

/* Deletes a partition's shard files (db, -wal, -shm), so that the next open rebuilds from offset 0.
 * Returns 0 or -1 with a message. */
int shard_remove(const char *data_dir, int32_t partition, char *error, size_t error_bytes);

int32_t shard_partition(const struct shard *shard);

/* The checkpoint of a partition's shard file, read without opening the shard (read-only, no migration, no
 * lock held): another thread may own the shard. Returns it, 0 when there is no file, -1 when it cannot be
 * read. */
int64_t shard_checkpoint_peek(const char *data_dir, int32_t partition);

/* The next offset of the events partition that this shard has not folded yet (committed value). */
int64_t shard_checkpoint(const struct shard *shard);

/* What a restore does with a shard, given its checkpoint and its events partition's offsets: the log start,
 * the last stable offset (the end a read_committed reader reaches) and the log end (the high watermark,
 * records of open transactions included). */
enum shard_restore_plan {
    SHARD_RESTORE_REPLAY,  /* fold the committed events from the checkpoint to the last stable offset */
    SHARD_RESTORE_AHEAD,   /* checkpoint past the last stable offset but within the log: keep the shard */
    SHARD_RESTORE_REBUILD, /* checkpoint past the log end: the topic was recreated, rebuild from 0 */
    SHARD_RESTORE_GAP,     /* the log starts after the checkpoint: events the shard needs were deleted */
};

/* Pure. SHARD_RESTORE_AHEAD is a transaction this shard committed with (Kafka acknowledged its commit)
 * whose commit markers are not in the log: the coordinator is still writing them, or it skipped them (a
 * broker that completed the transaction while the partition had no leader, docs/chaos.md). The shard's
 * state is right and must be kept: rebuilding it from the committed events would forget commands that
 * are decided, and decide them again when their input is read again. */
enum shard_restore_plan shard_restore_plan(int64_t checkpoint, int64_t log_start, int64_t stable_end,
                                           int64_t log_end);

/* Starts the shard's transaction for a batch (no-op when one is open). Returns 0 or -1 with a message. */
int shard_begin(struct shard *shard, char *error, size_t error_bytes);

/* True while a transaction is open. */
bool shard_in_transaction(const struct shard *shard);

/* Records the checkpoint (when checkpoint >= 0) and commits. On failure the transaction is rolled back
 * and -1 returned with a message: the shard is then behind Kafka and must be restored. */
int shard_commit(struct shard *shard, int64_t checkpoint, char *error, size_t error_bytes);

/* Rolls back the open transaction, if any. */
void shard_rollback(struct shard *shard);

/* Loads a SKU key's state (an empty state when the key has no events). Returns 0 or -1. */
int shard_sku_load(struct shard *shard, const char *sku, struct sku_state *out, char *error,
                   size_t error_bytes);

/* Adds the reservation (sku, reservation_id) to set when it exists. Returns 1 found, 0 absent, -1 error. */
int shard_reservation_load(struct shard *shard, const char *sku, const char *reservation_id,
                           struct reservation_set *set, char *error, size_t error_bytes);

/* Writes a SKU's state (one row) and the reservations of a set (inside the open transaction). Returns 0
 * or -1. */
int shard_sku_store(struct shard *shard, const struct sku_state *state, const struct reservation_set *set,
                    char *error, size_t error_bytes);

/* Looks a command id up. Returns 1 found (filling *out when not NULL), 0 not found, -1 error. */
int shard_command_find(struct shard *shard, const char *command_id, struct shard_command_outcome *out,
                       char *error, size_t error_bytes);

/* Records that an event of a command was emitted: the first event of a command id creates the record,
 * later ones add to its event count. Returns 0 or -1. */
int shard_command_record(struct shard *shard, const struct event *event, char *error, size_t error_bytes);

/* Folds one event into the shard: load, domain_evolve, store, record the command. Returns 0, or -1 when
 * the event does not follow from the shard's state (the shard must be rebuilt) or on a SQLite error. */
int shard_event_apply(struct shard *shard, const struct event *event, char *error, size_t error_bytes);

/* Lists up to max active reservations whose expiry is <= now_ms, soonest first. Returns the count or -1. */
int shard_due_reservations(struct shard *shard, int64_t now_ms, struct shard_due_reservation *out, int max,
                           char *error, size_t error_bytes);

/* Forgets command ids decided before before_ms, at most max of them. Returns the count or -1. */
int shard_commands_prune(struct shard *shard, int64_t before_ms, int max, char *error, size_t error_bytes);

/* ---- whole-shard reads, for verification ------------------------------------------------------------- */

/* Calls visit for every SKU key in key order; stops early when visit returns non-zero and returns that.
 * Returns 0 when all were visited, -1 with a message on a SQLite error. */
int shard_each_sku(struct shard *shard, int (*visit)(void *context, const char *sku), void *context,
                   char *error, size_t error_bytes);

/* Calls visit for every reservation (its SKU and state), in (sku, id) order; same contract. */
int shard_each_reservation(struct shard *shard,
                           int (*visit)(void *context, const char *sku,
                                        const struct reservation_state *reservation),
                           void *context, char *error, size_t error_bytes);

/* Calls visit for every recorded command id and its outcome, in id order; same contract. */
int shard_each_command(struct shard *shard,
                       int (*visit)(void *context, const char *command_id,
                                    const struct shard_command_outcome *outcome),
                       void *context, char *error, size_t error_bytes);

#endif
