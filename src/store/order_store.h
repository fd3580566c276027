/* order_store.h - one SQLite shard of the order stage: the fold of one partition of <prefix>.orders.
 *
 * <data_dir>/orders/orders-NNNN.db, schema in schema/orders/. Each order is one row holding its state
 * (order_codec JSON); the checkpoint (next orders offset to fold) is a row of the same transaction. The
 * stage writes; the API reads with order_store_read on a connection of its own. No Kafka here. */
#ifndef STOCKD_ORDER_STORE_H
#define STOCKD_ORDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/order.h"

struct order_store;

/* The path of a partition's file. Returns 0, or -1 when it does not fit. */
int order_store_path(const char *data_dir, int32_t partition, char *path, size_t path_bytes);

/* Opens (creating the directory and file when missing, and migrating) the shard of a partition. Returns
 * NULL with a message in error. */
struct order_store *order_store_open(const char *data_dir, int32_t partition, char *error,
                                     size_t error_bytes);

/* Closes the shard, rolling back an open transaction. Accepts NULL. */
void order_store_close(struct order_store *store);

int32_t order_store_partition(const struct order_store *store);

/* The next offset of the orders partition not folded yet (committed value). */
int64_t order_store_checkpoint(const struct order_store *store);

/* Starts a transaction (no-op when one is open). Returns 0 or -1 with a message. */
int order_store_begin(struct order_store *store, char *error, size_t error_bytes);

/* Records the checkpoint and commits the open transaction. On failure it is rolled back. Returns 0 or -1. */
int order_store_commit(struct order_store *store, int64_t checkpoint, char *error, size_t error_bytes);

/* Rolls the open transaction back, if any. */
void order_store_rollback(struct order_store *store);

/* Loads an order (a zeroed state, ORDER_STATUS_NONE, when it is not there). Returns 1 found, 0 absent, -1
 * error. */
int order_store_load(struct order_store *store, const char *order_id, struct order_state *out, char *error,
                     size_t error_bytes);

/* Stores an order's state, changed by the input at offset. A placing order gets its deadline
 * (submitted_ms + saga_timeout_ms) when it is new, keeps the one it has (or the lack of one
 * after order_store_deadline_sent) otherwise; other statuses have none. Returns 0 or -1. */
int order_store_save(struct order_store *store, const struct order_state *state, int64_t offset,
                     int64_t saga_timeout_ms, char *error, size_t error_bytes);

/* Lists up to max ids of placing orders whose deadline is <= now_ms, soonest first. Returns the count or -1.
 */
int order_store_due(struct order_store *store, int64_t now_ms,
                    char (*order_ids)[STOCKD_ORDER_ID_BYTES_MAX + 1], int max, char *error,
                    size_t error_bytes);

/* Forgets an order's deadline: its OrderDeadline was sent in this transaction. Returns 0 or -1. */
int order_store_deadline_sent(struct order_store *store, const char *order_id, char *error,
                              size_t error_bytes);

/* Reads an order from a partition's file with a read-only connection of the caller's own (any thread),
 * with the checkpoint of the same snapshot. Returns 1 found, 0 absent (or no file yet), -1 error. */
int order_store_read(const char *data_dir, int32_t partition, const char *order_id, struct order_state *out,
                     int64_t *checkpoint, char *error, size_t error_bytes);

/* Called by order_store_scan for each order of a shard, by order id (SQLite's binary order, strcmp's).
 * status is the row's status column; state is NULL when the stored state does not decode (decoded says
 * why); offset is that of the input that last changed the order. Returns 0 to go on, -1 to stop. */
typedef int (*order_store_visit_fn)(void *context, const char *order_id, const char *status,
                                    const struct order_state *state, const char *decoded, int64_t offset);

/* Reads a partition's file with a read-only connection of the caller's own (for stockctl verify): its
 * checkpoint, then, when visit is not NULL, every order, all in one snapshot. Returns 1 (read), 0 (no
 * file), or -1 with a message (including a visit that returned -1). */
int order_store_scan(const char *data_dir, int32_t partition, int64_t *checkpoint, order_store_visit_fn visit,
                     void *context, char *error, size_t error_bytes);

#endif
