/* verify_orders.h - stockctl verify's own fold of <prefix>.orders, checked against the events of order lines.
 *
 * The judging is independent of the order stage: nothing of src/orders.c nor of order_apply, only the
 * record codec, the domain types and the documented id scheme (docs/orders.md). verify.c hands it every
 * event that names an order line while it folds <prefix>.events, then every record of <prefix>.orders;
 * verify_orders_check then judges each order: settled (or in flight within its saga timeout), a confirmed
 * order's lines reserved as placed, a rejected order's lines holding nothing, released and fulfilled lines
 * as their decisions say. What it keeps lives in a scratch SQLite file: memory stays bounded whatever the
 * topics hold.
 *
 * Given data_dir (verify_orders_shards_find), it also folds each partition up to the checkpoint of the
 * order stage's shard file of it with order_apply, the stage's own core (what is checked there is the
 * stage's storage and restore, not its decisions: those the judging above checks), and compares the shard
 * with that fold, order by order (verify_orders_shards_check). */
#ifndef STOCKD_VERIFY_ORDERS_H
#define STOCKD_VERIFY_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"

/* How long past its saga timeout an order may still be unsettled before it is a violation: the stage looks
 * for passed deadlines once a second, then the releases take a few transactions (tens of milliseconds on
 * an idle machine, seconds on a loaded one). */
#define VERIFY_ORDERS_SETTLE_GRACE_MS 10000

struct verify_orders_counts {
    uint64_t records;             /* records of the orders topic folded */
    uint64_t records_undecodable; /* of them, not decodable (the order stage dead-letters those) */
    uint64_t decisions;           /* events of order line commands */
    uint64_t orders;              /* orders placed (first PlaceOrder of an id on its partition) */
    uint64_t confirmed;           /* settled confirmed (released and fulfilled ones included) */
    uint64_t rejected;
    uint64_t expired;        /* of the confirmed, expired since (OrderExpired) */
    uint64_t in_flight;      /* placing within the saga timeout (plus the grace), or releasing / fulfilling */
    int32_t shards_compared; /* order stage shard files found in data_dir and compared */
    int32_t shards_behind;   /* of them, with a checkpoint before the end of their partition */
    uint64_t shard_orders_compared; /* orders of those shards compared with the fold */
};

struct verify_orders;

/* Opens a fresh scratch file in scratch_dir (which must not hold one yet). partitions is kafka.partitions
 * (an order's partition is murmur2(order id) % partitions). difference is called with the text of each
 * violation found. Returns NULL with a message. */
struct verify_orders *verify_orders_create(const char *scratch_dir, int32_t partitions,
                                           void (*difference)(void *context, const char *text), void *context,
                                           char *error, size_t error_bytes);

/* Takes one event of <prefix>.events (at partition:offset): kept when its command id or reservation id is
 * an order line's, passed over otherwise (cheaply). Returns 0, or -1 with a message (SQLite). */
int verify_orders_event(struct verify_orders *orders, int32_t partition, int64_t offset,
                        const struct event *event, char *error, size_t error_bytes);

/* Folds one record of <prefix>.orders (value bytes as read, at partition:offset). Returns 0, or -1 with a
 * message (SQLite); what is wrong with the record itself is a difference, or counted. */
int verify_orders_record(struct verify_orders *orders, int32_t partition, int64_t offset, const void *value,
                         size_t value_bytes, char *error, size_t error_bytes);

/* Finds the order stage's shard files in data_dir (<data_dir>/orders/orders-NNNN.db) and reads their
 * checkpoints: verify_orders_record then also folds each such partition up to its shard's checkpoint.
 * Call before the first record. Returns the number of files found, or -1 with a message. */
int verify_orders_shards_find(struct verify_orders *orders, const char *data_dir, char *error,
                              size_t error_bytes);

/* Compares every shard found with the fold up to its checkpoint: the same orders, each with the same
 * state (status, reason, every line's status, reason, pending commands and event position...), status
 * column and offset of its last change; and the checkpoint still the one read before the fold, and not
 * past ends[partition] (the end offset of the orders partition as the fold read it, past its last
 * transaction marker). A shard whose checkpoint is before after_last[partition] (the offset after the last
 * record) is behind: counted, not a difference, since it is judged at its own checkpoint, where the stage's
 * restore takes it on. Call after the last record. Returns 0, or -1 with a message. */
int verify_orders_shards_check(struct verify_orders *orders, const int64_t *after_last, const int64_t *ends,
                               char *error, size_t error_bytes);

/* Judges every order folded, at now_ms (wall clock, Unix epoch ms) with the stage's saga timeout, then
 * every order line decision for an order it does not explain. Returns 0, or -1 with a message. */
int verify_orders_check(struct verify_orders *orders, int64_t now_ms, int64_t saga_timeout_ms, char *error,
                        size_t error_bytes);

void verify_orders_counts_get(const struct verify_orders *orders, struct verify_orders_counts *out);

/* Accepts NULL. Leaves the scratch file for the caller's scratch directory to remove. */
void verify_orders_destroy(struct verify_orders *orders);

#endif
