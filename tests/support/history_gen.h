/* history_gen.h - a seeded random command history over a few SKUs, decided by the domain, for tests.
 *
 * Keeps each SKU's state and every reservation it made in memory (as a shard would), so that each step
 * decides one random command (creates, receipts, adjustments, reservations with and without expiry,
 * releases, fulfilments, transfers, expiries, and commands that are rejected) and folds its events. The
 * same seed gives the same history on every platform. Test support: nothing in stockd uses it. */
#ifndef STOCKD_HISTORY_GEN_H
#define STOCKD_HISTORY_GEN_H

#include <stdint.h>

#include "domain/domain.h"

/* SKU keys are "SKU-0" .. "SKU-<n-1>"; the last is never created (its commands are unknown_sku). */
#define HISTORY_GEN_SKUS_MAX 8

struct history_gen;

/* Creates a generator over sku_count keys (2 .. HISTORY_GEN_SKUS_MAX). Returns NULL when out of memory. */
struct history_gen *history_gen_create(uint64_t seed, int sku_count);

/* Decides one random command at now_ms (never earlier than the previous step's) and folds its events into
 * the generator's state. Fills *out with the decision. Returns 0, or -1 when evolve refused an event that
 * decide emitted (a domain bug) or memory ran out. */
int history_gen_step(struct history_gen *gen, int64_t now_ms, struct decision *out);

/* The live state of SKU key index (0 .. sku_count-1). */
const struct sku_state *history_gen_sku(const struct history_gen *gen, int index);

/* Accepts NULL. */
void history_gen_destroy(struct history_gen *gen);

#endif
