/* workload.h - the command mix of the benchmarks that drive the handler (bench_handler, bench_e2e).
 *
 * Every SKU is created first, then receives stock at two locations, then a mix of receipts, reservations,
 * releases, fulfilments, adjustments and transfers with ~10% rejections. Deterministic (a fixed xorshift
 * seed), one workload per process. Header-only: each bench/ file is its own program (CMakeLists.txt). */
#ifndef STOCKD_BENCH_WORKLOAD_H
#define STOCKD_BENCH_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "domain/domain.h"

static uint64_t workload_rng_state = 88172645463325252ULL;

static uint64_t workload_rng_next(void)
{
    workload_rng_state ^= workload_rng_state << 13;
    workload_rng_state ^= workload_rng_state >> 7;
    workload_rng_state ^= workload_rng_state << 17;
    return workload_rng_state;
}

/* Reservations made so far and not yet settled by the workload, to release or fulfil later. */
#define WORKLOAD_OPEN_RESERVATIONS_MAX 65536
static long
    workload_open_reservations[WORKLOAD_OPEN_RESERVATIONS_MAX]; /* command index of the ReserveStock */
static long workload_open_reservation_skus[WORKLOAD_OPEN_RESERVATIONS_MAX];
static long workload_open_reservation_count;

/* Takes a random open reservation; -1 when there is none. */
static long workload_open_reservation_take(long *sku_index)
{
    if (workload_open_reservation_count == 0) return -1;
    long slot = (long)(workload_rng_next() % (uint64_t)workload_open_reservation_count);
    long reservation = workload_open_reservations[slot];
    *sku_index = workload_open_reservation_skus[slot];
    workload_open_reservation_count--;
    workload_open_reservations[slot] = workload_open_reservations[workload_open_reservation_count];
    workload_open_reservation_skus[slot] = workload_open_reservation_skus[workload_open_reservation_count];
    return reservation;
}

/* The i-th command of the workload over skus SKUs (call with i = 0, 1, 2, ... in order): every SKU is
 * created and receives stock at two locations first (when the command count allows), then a mix of 30%
 * receipts, 35% reservations, 20% releases and fulfilments, 3% repeated CreateSku, 6% adjustments, 6%
 * transfers. About 10% of the mix is refused: oversized reservations, settling unknown reservations,
 * creating a SKU twice. */
static void workload_command_make(long skus, long i, struct command *command)
{
    memset(command, 0, sizeof(*command));
    snprintf(command->command_id, sizeof(command->command_id), "b-%ld", i);
    long sku_index = i < skus ? i : (long)(workload_rng_next() % (uint64_t)skus);
    snprintf(command->location, sizeof(command->location), "WH-%d", (int)(workload_rng_next() % 2));
    int roll = (int)(workload_rng_next() % 100);
    command->quantity = 1 + (int64_t)(workload_rng_next() % 5);
    if (i < skus) {
        command->type = COMMAND_CREATE_SKU;
        snprintf(command->name, sizeof(command->name), "Bench item %ld", sku_index);
        command->reorder_point = 10;
    } else if (i < 3 * skus) {
        /* The initial stock take: each SKU receives stock at WH-0 and WH-1. */
        sku_index = (i - skus) % skus;
        command->type = COMMAND_RECEIVE_STOCK;
        snprintf(command->location, sizeof(command->location), "WH-%d", (int)((i - skus) / skus));
        command->quantity = 20 + (int64_t)(workload_rng_next() % 60);
    } else if (roll < 30) {
        command->type = COMMAND_RECEIVE_STOCK;
        command->quantity = 20 + (int64_t)(workload_rng_next() % 60);
    } else if (roll < 65) {
        command->type = COMMAND_RESERVE_STOCK;
        snprintf(command->reservation_id, sizeof(command->reservation_id), "r-%ld", i);
        if (roll >= 60) command->quantity = 100000; /* more than any location holds: insufficient_stock */
        if (roll < 60 && workload_open_reservation_count < WORKLOAD_OPEN_RESERVATIONS_MAX) {
            workload_open_reservations[workload_open_reservation_count] = i;
            workload_open_reservation_skus[workload_open_reservation_count++] = sku_index;
        }
    } else if (roll < 85) {
        long reservation = roll >= 82 ? -1 : workload_open_reservation_take(&sku_index); /* -1: unknown */
        command->type = roll < 75 ? COMMAND_RELEASE_RESERVATION : COMMAND_FULFIL_RESERVATION;
        snprintf(command->reservation_id, sizeof(command->reservation_id), "r-%ld",
                 reservation < 0 ? i : reservation);
    } else if (roll < 88) {
        command->type = COMMAND_CREATE_SKU; /* again: sku_exists */
        snprintf(command->name, sizeof(command->name), "Bench item %ld", sku_index);
    } else if (roll < 94) {
        command->type = COMMAND_ADJUST_STOCK;
        command->delta = 1 + (int64_t)(workload_rng_next() % 5);
        snprintf(command->reason, sizeof(command->reason), "cycle count");
    } else {
        command->type = COMMAND_TRANSFER_STOCK;
        snprintf(command->to_location, sizeof(command->to_location), "WH-%d",
                 2 + (int)(workload_rng_next() % 2));
    }
    snprintf(command->sku, sizeof(command->sku), "SKU-%07ld", sku_index);
}

#endif
