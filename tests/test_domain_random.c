/* test_domain_random.c - a seeded random walk of 100,000+ commands over a few SKUs through decide/evolve.
 *
 * After every step: the state's invariants hold and sequences have no gaps. Every 1,000 steps and at the
 * end: the reservation ledger agrees with the reserved counters, on-hand equals receipts + adjustments -
 * shipments, and folding all emitted events from an empty state gives exactly the live state.
 * STOCKD_TEST_SEED=<n> replays a seed; STOCKD_RANDOM_COMMANDS=<n> changes the length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/catalog.h"
#include "domain/domain.h"

#define SKU_COUNT        5 /* the last one is never created: commands for it are unknown_sku */
#define SKU_GHOST        (SKU_COUNT - 1)
#define LOCATION_COUNT   5
#define SEED_DEFAULT     UINT64_C(20261125)
#define COMMANDS_DEFAULT 100000L

static uint64_t seed;
static long step;

/* Fails the test naming the seed and step, so the run can be replayed. */
#define CHECK(condition, ...)                                                                                \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            print_message("FAILED at step %ld, replay with STOCKD_TEST_SEED=%llu: ", step,                   \
                          (unsigned long long)seed);                                                         \
            print_message(__VA_ARGS__);                                                                      \
            print_message("\n");                                                                             \
            fail();                                                                                          \
        }                                                                                                    \
    } while (0)

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*: small, fast, and the same sequence on every platform. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static int64_t rng_range(int64_t low, int64_t high)
{
    return low + (int64_t)(rng_next() % (uint64_t)(high - low + 1));
}

/* One SKU key: its state and every reservation it ever made (id "R-<index>"). */
struct sku_model {
    struct sku_state state;
    struct reservation_state *reservations;
    size_t reservation_count;
    size_t reservation_capacity;
    size_t first_active; /* no active reservation below this index */
};

struct model {
    struct sku_model skus[SKU_COUNT];
};

/* Everything emitted, for the fold from scratch, and the oracle's running totals. */
struct history {
    struct event *events;
    size_t count;
    size_t capacity;
    int64_t on_hand_expected[SKU_COUNT]; /* receipts + adjustments - fulfilments */
    long event_type_seen[EVENT_TYPE_COUNT];
    long reject_reason_seen[REJECT_REASON_COUNT];
};

static void model_init(struct model *model)
{
    memset(model, 0, sizeof(*model));
    for (int i = 0; i < SKU_COUNT; i++) {
        char key[16];
        snprintf(key, sizeof(key), "SKU-%d", i);
        domain_sku_state_init(&model->skus[i].state, key);
    }
}

static void model_free(struct model *model)
{
    for (int i = 0; i < SKU_COUNT; i++)
        free(model->skus[i].reservations);
}

static long reservation_index(const char *reservation_id)
{
    return strtol(reservation_id + 2, NULL, 10);
}

/* Adds the named reservation to a set when it exists, as a shard lookup would. */
static void set_add(const struct sku_model *sku, const char *reservation_id, struct reservation_set *set)
{
    long index = reservation_index(reservation_id);
    if (index >= 0 && (size_t)index < sku->reservation_count)
        set->items[set->count++] = sku->reservations[index];
}

/* Writes a set back after evolve: changed reservations in place, new ones appended in id order. */
static void set_store(struct sku_model *sku, const struct reservation_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        size_t index = (size_t)reservation_index(set->items[i].reservation_id);
        if (index == sku->reservation_count) {
            if (sku->reservation_count == sku->reservation_capacity) {
                sku->reservation_capacity = sku->reservation_capacity ? sku->reservation_capacity * 2 : 256;
                sku->reservations =
                    realloc(sku->reservations, sku->reservation_capacity * sizeof(*sku->reservations));
                assert_non_null(sku->reservations);
            }
            sku->reservation_count++;
        }
        CHECK(index < sku->reservation_count, "reservation %s stored out of order",
              set->items[i].reservation_id);
        sku->reservations[index] = set->items[i];
    }
    while (sku->first_active < sku->reservation_count &&
           sku->reservations[sku->first_active].status != RESERVATION_ACTIVE)
        sku->first_active++;
}

/* Folds one event into a model the way a shard does: load the reservation it names, evolve, store. */
static int model_apply(struct model *model, int sku_index, const struct event *event)
{
    struct sku_model *sku = &model->skus[sku_index];
    struct reservation_set set = {.count = 0};
    if (event->reservation_id[0] != '\0') set_add(sku, event->reservation_id, &set);
    if (domain_evolve(&sku->state, &set, event) != 0) return -1;
    set_store(sku, &set);
    return 0;
}

static void history_append(struct history *history, int sku_index, const struct event *event)
{
    if (history->count == history->capacity) {
        history->capacity = history->capacity ? history->capacity * 2 : 4096;
        history->events = realloc(history->events, history->capacity * sizeof(*history->events));
        assert_non_null(history->events);
    }
    history->events[history->count++] = *event;
    history->event_type_seen[event->type]++;
    if (event->type == EVENT_COMMAND_REJECTED) history->reject_reason_seen[event->reject_reason]++;
    if (event->type == EVENT_STOCK_RECEIVED) history->on_hand_expected[sku_index] += event->quantity;
    if (event->type == EVENT_STOCK_ADJUSTED) history->on_hand_expected[sku_index] += event->delta;
    if (event->type == EVENT_RESERVATION_FULFILLED) history->on_hand_expected[sku_index] -= event->quantity;
}

static void location_name(char *buffer, size_t bytes, int64_t index)
{
    snprintf(buffer, bytes, "L%d", (int)index);
}

/* Quantities: mostly small so that stock runs short often; now and then out of range. */
static int64_t random_quantity(void)
{
    int64_t roll = rng_range(0, 99);
    if (roll == 0) return rng_range(-2, 0);
    if (roll == 1) return STOCKD_QUANTITY_MAX + rng_range(0, 1);
    return rng_range(1, 40);
}

/* Picks a reservation id: mostly a fresh one, sometimes an existing or unknown one. */
static void random_reservation_id(const struct sku_model *sku, char *buffer, size_t bytes, bool fresh)
{
    size_t count = sku->reservation_count;
    long index;
    if (fresh)
        index = rng_range(0, 9) == 0 && count > 0 ? rng_range(0, (int64_t)count - 1) : (long)count;
    else if (count == 0 || rng_range(0, 19) == 0)
        index = (long)count + rng_range(1, 3);
    else
        index = rng_range(count > 50 ? (int64_t)count - 50 : 0, (int64_t)count - 1);
    snprintf(buffer, bytes, "R-%ld", index);
}

/* Fills the ExpireReservations command with due active reservations (or one that is not, sometimes). */
static void random_expire(const struct sku_model *sku, int64_t now_ms, struct command *command)
{
    for (size_t i = sku->first_active; i < sku->reservation_count; i++) {
        if (command->expire_count == STOCKD_EXPIRE_BATCH_MAX) break;
        const struct reservation_state *reservation = &sku->reservations[i];
        if (reservation->status == RESERVATION_ACTIVE && reservation->expires_at_ms != 0 &&
            reservation->expires_at_ms <= now_ms)
            snprintf(command->expire_ids[command->expire_count++], STOCKD_ID_BYTES_MAX + 1, "%s",
                     reservation->reservation_id);
    }
    if (command->expire_count == 0) {
        random_reservation_id(sku, command->expire_ids[0], sizeof(command->expire_ids[0]), false);
        command->expire_count = 1;
    }
}

static void random_command(const struct model *model, int sku_index, int64_t now_ms, struct command *command)
{
    const struct sku_model *sku = &model->skus[sku_index];
    memset(command, 0, sizeof(*command));
    snprintf(command->command_id, sizeof(command->command_id), "c-%ld", step);
    snprintf(command->sku, sizeof(command->sku), "%s", sku->state.sku);
    int64_t roll = rng_range(0, 99);
    if (!sku->state.exists && roll < 60) roll = -1;
    location_name(command->location, sizeof(command->location), rng_range(0, LOCATION_COUNT - 1));
    command->quantity = random_quantity();
    if (sku_index == SKU_GHOST && roll < 2) roll = 2;
    if (roll < 2) {
        command->type = COMMAND_CREATE_SKU;
        snprintf(command->name, sizeof(command->name), "%s", rng_range(0, 20) ? "Widget" : "");
        command->reorder_point = rng_range(0, 50);
    } else if (roll < 22) {
        command->type = COMMAND_RECEIVE_STOCK;
    } else if (roll < 30) {
        command->type = COMMAND_ADJUST_STOCK;
        snprintf(command->reason, sizeof(command->reason), "%s", rng_range(0, 30) ? "damaged" : "");
        command->counted_set = rng_range(0, 2) == 0;
        if (command->counted_set)
            command->counted = rng_range(-1, 60);
        else
            command->delta = rng_range(-20, 20);
    } else if (roll < 60) {
        command->type = COMMAND_RESERVE_STOCK;
        random_reservation_id(sku, command->reservation_id, sizeof(command->reservation_id), true);
        command->ttl_s = rng_range(0, 3) == 0 ? 0 : rng_range(1, 20);
    } else if (roll < 75) {
        command->type = COMMAND_RELEASE_RESERVATION;
        random_reservation_id(sku, command->reservation_id, sizeof(command->reservation_id), false);
    } else if (roll < 88) {
        command->type = COMMAND_FULFIL_RESERVATION;
        random_reservation_id(sku, command->reservation_id, sizeof(command->reservation_id), false);
    } else if (roll < 96) {
        command->type = COMMAND_TRANSFER_STOCK;
        location_name(command->to_location, sizeof(command->to_location), rng_range(0, LOCATION_COUNT - 1));
    } else if (roll < 99) {
        command->type = COMMAND_EXPIRE_RESERVATIONS;
        random_expire(sku, now_ms, command);
    } else {
        command->type = COMMAND_UPDATE_CATALOG; /* now and then with a GTIN whose check digit is wrong */
        snprintf(command->catalog.source, sizeof(command->catalog.source), "erp");
        snprintf(command->name, sizeof(command->name), "Blue widget");
        catalog_attribute_put(&command->catalog, "gtin", rng_range(0, 9) ? "4006381333931" : "4006381333932");
    }
}

/* The reservation ledger and the counters agree; on-hand equals the oracle's running total. */
static void check_ledger(const struct model *model, const struct history *history)
{
    for (int s = 0; s < SKU_COUNT; s++) {
        const struct sku_model *sku = &model->skus[s];
        int64_t reserved_by_location[STOCKD_LOCATIONS_PER_SKU_MAX] = {0};
        for (size_t i = sku->first_active; i < sku->reservation_count; i++) {
            const struct reservation_state *reservation = &sku->reservations[i];
            if (reservation->status != RESERVATION_ACTIVE) continue;
            const struct location_stock *stock = domain_location_find(&sku->state, reservation->location);
            CHECK(stock != NULL, "active reservation %s at unknown location", reservation->reservation_id);
            reserved_by_location[stock - sku->state.locations] += reservation->quantity;
        }
        int64_t on_hand_total = 0;
        for (uint32_t l = 0; l < sku->state.location_count; l++) {
            CHECK(sku->state.locations[l].reserved == reserved_by_location[l],
                  "%s %s reserved %lld, ledger %lld", sku->state.sku, sku->state.locations[l].location,
                  (long long)sku->state.locations[l].reserved, (long long)reserved_by_location[l]);
            on_hand_total += sku->state.locations[l].on_hand;
        }
        CHECK(on_hand_total == history->on_hand_expected[s], "%s on-hand %lld, expected %lld", sku->state.sku,
              (long long)on_hand_total, (long long)history->on_hand_expected[s]);
    }
}

/* Folds the whole history into a fresh model and compares it with the live one, field by field. */
static void check_refold(const struct model *live, const struct history *history)
{
    struct model fold;
    model_init(&fold);
    for (size_t i = 0; i < history->count; i++) {
        const struct event *event = &history->events[i];
        int sku_index = event->sku[4] - '0';
        CHECK(model_apply(&fold, sku_index, event) == 0, "refold refused event %zu (%s seq %llu)", i,
              event->sku, (unsigned long long)event->sequence);
    }
    for (int s = 0; s < SKU_COUNT; s++) {
        const struct sku_model *a = &live->skus[s];
        const struct sku_model *b = &fold.skus[s];
        CHECK(a->state.exists == b->state.exists && a->state.sequence == b->state.sequence &&
                  a->state.reorder_point == b->state.reorder_point &&
                  strcmp(a->state.name, b->state.name) == 0 &&
                  a->state.location_count == b->state.location_count,
              "refold of %s differs in its header", a->state.sku);
        for (uint32_t l = 0; l < a->state.location_count; l++) {
            const struct location_stock *x = &a->state.locations[l];
            const struct location_stock *y = &b->state.locations[l];
            CHECK(strcmp(x->location, y->location) == 0 && x->on_hand == y->on_hand &&
                      x->reserved == y->reserved,
                  "refold of %s differs at %s", a->state.sku, x->location);
        }
        CHECK(a->reservation_count == b->reservation_count, "refold of %s has %zu reservations, live %zu",
              a->state.sku, b->reservation_count, a->reservation_count);
        for (size_t r = 0; r < a->reservation_count; r++) {
            CHECK(memcmp(&a->reservations[r], &b->reservations[r], sizeof(a->reservations[r])) == 0,
                  "refold of %s differs in reservation %zu", a->state.sku, r);
        }
    }
    model_free(&fold);
}

/* One command: decide against the live model, check the decision, fold its events in. */
static void run_step(struct model *model, struct history *history, int64_t now_ms)
{
    int sku_index = rng_range(0, 49) == 0 ? SKU_GHOST : (int)rng_range(0, SKU_GHOST - 1);
    struct sku_model *sku = &model->skus[sku_index];
    struct command command;
    random_command(model, sku_index, now_ms, &command);

    struct reservation_set set = {.count = 0};
    for (uint32_t i = 0; i < command.expire_count; i++)
        set_add(sku, command.expire_ids[i], &set);
    if (command.reservation_id[0] != '\0') set_add(sku, command.reservation_id, &set);

    static struct decision decision;
    uint64_t sequence_before = sku->state.sequence;
    domain_decide(&sku->state, &set, &command, now_ms, &decision);
    CHECK(decision.event_count >= 1, "no events for command %s", command.command_id);
    for (uint32_t i = 0; i < decision.event_count; i++) {
        const struct event *event = &decision.events[i];
        CHECK(event->sequence == sequence_before + 1 + i, "sequence gap: %llu after %llu",
              (unsigned long long)event->sequence, (unsigned long long)(sequence_before + i));
        CHECK(strcmp(event->command_id, command.command_id) == 0, "event lost its command id");
        CHECK(model_apply(model, sku_index, event) == 0, "evolve refused the %s that decide emitted",
              domain_event_type_name(event->type));
        CHECK(domain_sku_state_check(&sku->state) == 0, "invariant broken after %s",
              domain_event_type_name(event->type));
        history_append(history, sku_index, event);
    }
}

static void test_random_walk_keeps_invariants_and_refolds_to_same_state(void **state)
{
    (void)state;
    const char *seed_text = getenv("STOCKD_TEST_SEED");
    const char *count_text = getenv("STOCKD_RANDOM_COMMANDS");
    seed = seed_text ? strtoull(seed_text, NULL, 10) : SEED_DEFAULT;
    long command_count = count_text ? strtol(count_text, NULL, 10) : COMMANDS_DEFAULT;
    rng_state = seed ? seed : 1;
    print_message("random walk: seed %llu, %ld commands over %d SKUs\n", (unsigned long long)seed,
                  command_count, SKU_COUNT);

    static struct model model;
    static struct history history;
    model_init(&model);
    int64_t now_ms = INT64_C(1764000000000);
    for (step = 0; step < command_count; step++) {
        now_ms += rng_range(0, 400);
        run_step(&model, &history, now_ms);
        if (step % 1000 == 999) check_ledger(&model, &history);
        if (step % 25000 == 24999) check_refold(&model, &history);
    }
    check_ledger(&model, &history);
    check_refold(&model, &history);

    /* The walk must have exercised every event type and the common rejections, or it proves little. */
    for (int t = EVENT_NONE + 1; t < EVENT_TYPE_COUNT; t++) {
        CHECK(history.event_type_seen[t] > 0, "no %s in the walk",
              domain_event_type_name((enum event_type)t));
    }
    const enum reject_reason expected[] = {REJECT_SKU_EXISTS,          REJECT_UNKNOWN_SKU,
                                           REJECT_INSUFFICIENT_STOCK,  REJECT_RESERVATION_EXISTS,
                                           REJECT_UNKNOWN_RESERVATION, REJECT_RESERVATION_NOT_ACTIVE,
                                           REJECT_INVALID_QUANTITY,    REJECT_BELOW_RESERVED,
                                           REJECT_SAME_LOCATION,       REJECT_INVALID_COMMAND};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        CHECK(history.reject_reason_seen[expected[i]] > 0, "no %s in the walk",
              domain_reject_reason_code(expected[i]));
    }
    print_message("random walk: %zu events, %ld rejections\n", history.count,
                  history.event_type_seen[EVENT_COMMAND_REJECTED]);
    model_free(&model);
    free(history.events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_walk_keeps_invariants_and_refolds_to_same_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
