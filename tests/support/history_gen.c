/* history_gen.c - a seeded random command history decided by the domain (contract in history_gen.h).
 *
 * The command mix follows tests/test_domain_random.c: stock runs short often, ids are reused now and then,
 * about one command in ten is rejected. */
#include "history_gen.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCATION_COUNT 4

struct sku_model {
    struct sku_state state;
    struct reservation_state *reservations; /* "R-<index>" at [index] */
    size_t reservation_count;
    size_t reservation_capacity;
};

struct history_gen {
    uint64_t random_state;
    int sku_count;
    long step;
    struct sku_model skus[HISTORY_GEN_SKUS_MAX];
};

/* xorshift64*: the same sequence on every platform. */
static uint64_t random_next(struct history_gen *gen)
{
    gen->random_state ^= gen->random_state >> 12;
    gen->random_state ^= gen->random_state << 25;
    gen->random_state ^= gen->random_state >> 27;
    return gen->random_state * UINT64_C(2685821657736338717);
}

static int64_t random_range(struct history_gen *gen, int64_t low, int64_t high)
{
    assert(low <= high);
    return low + (int64_t)(random_next(gen) % (uint64_t)(high - low + 1));
}

struct history_gen *history_gen_create(uint64_t seed, int sku_count)
{
    assert(sku_count >= 2 && sku_count <= HISTORY_GEN_SKUS_MAX);
    struct history_gen *gen = calloc(1, sizeof(*gen));
    if (gen == NULL) return NULL;
    gen->random_state = seed != 0 ? seed : 1; /* xorshift never leaves 0 */
    gen->sku_count = sku_count;
    for (int i = 0; i < sku_count; i++) {
        char key[16];
        snprintf(key, sizeof(key), "SKU-%d", i);
        domain_sku_state_init(&gen->skus[i].state, key);
    }
    return gen;
}

void history_gen_destroy(struct history_gen *gen)
{
    if (gen == NULL) return;
    for (int i = 0; i < gen->sku_count; i++)
        free(gen->skus[i].reservations);
    free(gen);
}

const struct sku_state *history_gen_sku(const struct history_gen *gen, int index)
{
    assert(index >= 0 && index < gen->sku_count);
    return &gen->skus[index].state;
}

static long reservation_index(const char *reservation_id)
{
    return strncmp(reservation_id, "R-", 2) == 0 ? strtol(reservation_id + 2, NULL, 10) : -1;
}

/* Adds the named reservation to a set when it exists, as a shard lookup would. */
static void set_add(const struct sku_model *sku, const char *reservation_id, struct reservation_set *set)
{
    long index = reservation_index(reservation_id);
    if (index < 0 || (size_t)index >= sku->reservation_count) return;
    if (domain_reservation_find(set, reservation_id) != NULL) return;
    assert(set->count < STOCKD_EXPIRE_BATCH_MAX);
    set->items[set->count++] = sku->reservations[index];
}

/* Writes a set back after evolve: changed reservations in place, a new one appended. Returns 0 or -1. */
static int set_store(struct sku_model *sku, const struct reservation_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        long index = reservation_index(set->items[i].reservation_id);
        assert(index >= 0 && (size_t)index <= sku->reservation_count); /* ids are handed out in order */
        if ((size_t)index == sku->reservation_count) {
            if (sku->reservation_count == sku->reservation_capacity) {
                size_t capacity = sku->reservation_capacity ? sku->reservation_capacity * 2 : 64;
                struct reservation_state *grown = realloc(sku->reservations, capacity * sizeof(*grown));
                if (grown == NULL) return -1;
                sku->reservations = grown;
                sku->reservation_capacity = capacity;
            }
            sku->reservation_count++;
        }
        sku->reservations[index] = set->items[i];
    }
    return 0;
}

/* Mostly a fresh id when fresh, else a recent one; now and then one never made. */
static void reservation_pick(struct history_gen *gen, const struct sku_model *sku, bool fresh, char *out,
                             size_t out_bytes)
{
    int64_t count = (int64_t)sku->reservation_count;
    int64_t index;
    if (fresh)
        index = random_range(gen, 0, 9) == 0 && count > 0 ? random_range(gen, 0, count - 1) : count;
    else if (count == 0 || random_range(gen, 0, 19) == 0)
        index = count + random_range(gen, 1, 3);
    else
        index = random_range(gen, count > 20 ? count - 20 : 0, count - 1);
    snprintf(out, out_bytes, "R-%lld", (long long)index);
}

static void command_random(struct history_gen *gen, const struct sku_model *sku, bool ghost, int64_t now_ms,
                           struct command *command)
{
    memset(command, 0, sizeof(*command));
    snprintf(command->command_id, sizeof(command->command_id), "c-%ld", gen->step);
    snprintf(command->sku, sizeof(command->sku), "%s", sku->state.sku);
    int64_t roll = random_range(gen, 0, 99);
    if (!sku->state.exists && roll < 70) roll = 0;
    if (ghost && roll < 3) roll = 3; /* the ghost key is never created */
    snprintf(command->location, sizeof(command->location), "L%d",
             (int)random_range(gen, 0, LOCATION_COUNT - 1));
    command->quantity = random_range(gen, 0, 49) == 0 ? 0 : random_range(gen, 1, 30);
    if (roll < 3) {
        command->type = COMMAND_CREATE_SKU;
        snprintf(command->name, sizeof(command->name), "Widget %s", sku->state.sku);
        command->reorder_point = random_range(gen, 0, 40);
    } else if (roll < 25) {
        command->type = COMMAND_RECEIVE_STOCK;
    } else if (roll < 32) {
        command->type = COMMAND_ADJUST_STOCK;
        snprintf(command->reason, sizeof(command->reason), "%s", "count");
        command->counted_set = random_range(gen, 0, 2) == 0;
        if (command->counted_set)
            command->counted = random_range(gen, 0, 60);
        else
            command->delta = random_range(gen, 0, 1) ? random_range(gen, 1, 15) : -random_range(gen, 1, 15);
    } else if (roll < 60) {
        command->type = COMMAND_RESERVE_STOCK;
        reservation_pick(gen, sku, true, command->reservation_id, sizeof(command->reservation_id));
        command->ttl_s = random_range(gen, 0, 2) == 0 ? random_range(gen, 60, 7200) : 0;
    } else if (roll < 72) {
        command->type = COMMAND_RELEASE_RESERVATION;
        reservation_pick(gen, sku, false, command->reservation_id, sizeof(command->reservation_id));
    } else if (roll < 88) {
        command->type = COMMAND_FULFIL_RESERVATION;
        reservation_pick(gen, sku, false, command->reservation_id, sizeof(command->reservation_id));
    } else if (roll < 95) {
        command->type = COMMAND_TRANSFER_STOCK;
        snprintf(command->to_location, sizeof(command->to_location), "L%d",
                 (int)random_range(gen, 0, LOCATION_COUNT - 1));
    } else {
        command->type = COMMAND_EXPIRE_RESERVATIONS; /* what the handler's punctuator would send */
        for (size_t i = 0; i < sku->reservation_count && command->expire_count < STOCKD_EXPIRE_BATCH_MAX;
             i++) {
            const struct reservation_state *reservation = &sku->reservations[i];
            if (reservation->status == RESERVATION_ACTIVE && reservation->expires_at_ms != 0 &&
                reservation->expires_at_ms <= now_ms)
                snprintf(command->expire_ids[command->expire_count++], STOCKD_ID_BYTES_MAX + 1, "%s",
                         reservation->reservation_id);
        }
        if (command->expire_count == 0) {
            command->type = COMMAND_RELEASE_RESERVATION;
            reservation_pick(gen, sku, false, command->reservation_id, sizeof(command->reservation_id));
        }
    }
}

int history_gen_step(struct history_gen *gen, int64_t now_ms, struct decision *out)
{
    assert(gen != NULL && out != NULL);
    gen->step++;
    int index =
        random_range(gen, 0, 29) == 0 ? gen->sku_count - 1 : (int)random_range(gen, 0, gen->sku_count - 2);
    struct sku_model *sku = &gen->skus[index];
    struct command command;
    command_random(gen, sku, index == gen->sku_count - 1, now_ms, &command);
    struct reservation_set set = {.count = 0};
    for (uint32_t i = 0; i < command.expire_count; i++)
        set_add(sku, command.expire_ids[i], &set);
    if (command.reservation_id[0] != '\0') set_add(sku, command.reservation_id, &set);
    domain_decide(&sku->state, &set, &command, now_ms, out);
    for (uint32_t i = 0; i < out->event_count; i++) {
        struct reservation_set touched = {.count = 0};
        if (out->events[i].reservation_id[0] != '\0') set_add(sku, out->events[i].reservation_id, &touched);
        if (domain_evolve(&sku->state, &touched, &out->events[i]) != 0) return -1;
        if (set_store(sku, &touched) != 0) return -1;
    }
    return 0;
}
