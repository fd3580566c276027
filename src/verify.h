/* verify.h - checks that stored state is the fold of the events topic (for `stockctl verify`).
 *
 * Folds every partition of <prefix>.events independently, from offset 0 to its end, into scratch shards
 * (the same evolve as everywhere, none of the handler's decisions), then compares the handler's shard
 * files found in data_dir, SKU by SKU, reservation by reservation, command by command. Then folds
 * <prefix>.orders on its own (verify_orders.h), compares the order stage's shard files in data_dir with
 * that fold up to each one's checkpoint, and checks every order against its lines' events. Meant for a
 * quiet system: a handler shard behind the end of its partition is reported as behind, not compared; an
 * order stage shard behind is compared at its checkpoint and counted; an order still within its saga
 * timeout is in flight. */
#ifndef STOCKD_VERIFY_H
#define STOCKD_VERIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "verify_orders.h"

/* How many differences are kept word for word (the count goes on). */
#define VERIFY_DIFFERENCES_KEPT 20

struct verify_report {
    uint64_t events;             /* events folded, all partitions */
    uint64_t events_undecodable; /* events that could not be decoded (each is a difference) */
    uint64_t skus;               /* SKU keys in the fold */
    int32_t shards_compared;     /* shard files found and compared */
    int32_t views_compared;      /* view files found and compared, once per partition */
    int32_t shards_behind;       /* shards whose checkpoint is before the end of their partition */
    bool orders_checked;         /* <prefix>.orders exists and was folded */
    struct verify_orders_counts orders;
    uint64_t differences; /* every difference found */
    size_t kept;          /* differences[0..kept) */
    char differences_kept[VERIFY_DIFFERENCES_KEPT][256];
};

/* Runs the verification. scratch_dir must be an empty, writable directory (the scratch shards go there).
 * Returns 0 when it ran (the report says whether anything differs), or -1 with a message when it could
 * not (broker unreachable, unreadable shard). */
int verify_run(const struct stockd_config *config, const char *scratch_dir, const atomic_bool *stop,
               struct verify_report *report, char *error, size_t error_bytes);

#endif
