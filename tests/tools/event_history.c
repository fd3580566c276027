/* event_history.c - writes a seeded random command history as encoded events, for fixtures.
 *
 * event_history SEED COMMANDS EVENTS_FILE STATE_FILE: decides COMMANDS random commands
 * (tests/support/history_gen.c, SKU-0..SKU-3, SKU-3 never created), one every 17 minutes from
 * 2025-12-01T00:00:00Z, writes every event as codec_event_encode writes it, one per line, and the
 * final state the domain folded (tab-separated lines, read by tests/test_event_versions.c). Fixtures
 * made with it freeze the encoder of their day: tests/fixtures/README.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain/codec.h"
#include "history_gen.h"

#define SKU_COUNT    4
#define START_MS     INT64_C(1764547200000) /* 2025-12-01T00:00:00Z */
#define STEP_MS      (17 * 60 * 1000)
#define COMMANDS_MAX 100000

static int state_write(FILE *out, const struct sku_state *sku)
{
    fprintf(out, "sku\t%s\t%d\t%" PRId64 "\t%" PRIu64 "\t%s\n", sku->sku, sku->exists ? 1 : 0,
            sku->reorder_point, sku->sequence, sku->name);
    for (uint32_t i = 0; i < sku->location_count; i++) {
        fprintf(out, "location\t%s\t%s\t%" PRId64 "\t%" PRId64 "\n", sku->sku, sku->locations[i].location,
                sku->locations[i].on_hand, sku->locations[i].reserved);
    }
    return ferror(out) ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: event_history SEED COMMANDS EVENTS_FILE STATE_FILE\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 10);
    long commands = strtol(argv[2], NULL, 10);
    if (commands < 1 || commands > COMMANDS_MAX) {
        fprintf(stderr, "event_history: COMMANDS must be in [1, %d]\n", COMMANDS_MAX);
        return 2;
    }
    FILE *events = fopen(argv[3], "w");
    FILE *state = fopen(argv[4], "w");
    struct history_gen *gen = history_gen_create(seed, SKU_COUNT);
    int status = events != NULL && state != NULL && gen != NULL ? 0 : 1;
    static struct decision decision;
    for (long step = 0; step < commands && status == 0; step++) {
        if (history_gen_step(gen, START_MS + step * STEP_MS, &decision) != 0) {
            fprintf(stderr, "event_history: evolve refused an event of step %ld\n", step);
            status = 1;
        }
        for (uint32_t i = 0; i < decision.event_count && status == 0; i++) {
            char *json = codec_event_encode(&decision.events[i]);
            if (json == NULL || fprintf(events, "%s\n", json) < 0) status = 1;
            free(json);
        }
    }
    for (int i = 0; i < SKU_COUNT && status == 0; i++)
        status = state_write(state, history_gen_sku(gen, i)) == 0 ? 0 : 1;
    history_gen_destroy(gen);
    if (events != NULL && fclose(events) != 0) status = 1;
    if (state != NULL && fclose(state) != 0) status = 1;
    if (status != 0) fprintf(stderr, "event_history: failed\n");
    return status;
}
