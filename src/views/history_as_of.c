/* history_as_of.c - a SKU's state right after any point of its history, folded from the history view.
 *
 * Reads the SKU's events oldest first (their canonical JSON), decodes them with the codec and folds them
 * with domain_evolve, the code the handler's shards and `stockctl verify` fold with, so an as-of answer is
 * what a shard held right after that event. Only the reservations active at each step are kept (evolve
 * needs the one an event settles): a stream that reused a settled id would be caught by the shards and
 * by verify, not here. No Kafka, no writes. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codec.h"
#include "views/query.h"
#include "views/view_util.h"

/* The active reservations of the fold, in order of creation; settled ones are removed. */
struct active_reservations {
    struct reservation_state *items;
    size_t count;
    size_t capacity;
};

static struct reservation_state *active_find(struct active_reservations *active, const char *reservation_id)
{
    for (size_t i = 0; i < active->count; i++) {
        if (strcmp(active->items[i].reservation_id, reservation_id) == 0) return &active->items[i];
    }
    return NULL;
}

/* Applies what evolve did to the set back to the list: a new reservation appended, a settled one removed.
 * Returns 0, VIEW_QUERY_LIMIT past VIEW_AS_OF_RESERVATIONS_MAX, or VIEW_QUERY_ERROR when out of memory. */
static int active_store(struct active_reservations *active, const struct reservation_set *set, char *error,
                        size_t error_bytes)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const struct reservation_state *item = &set->items[i];
        struct reservation_state *slot = active_find(active, item->reservation_id);
        if (slot != NULL && item->status != RESERVATION_ACTIVE) {
            *slot = active->items[--active->count]; /* order does not matter for lookups */
        } else if (slot == NULL && item->status == RESERVATION_ACTIVE) {
            if (active->count == VIEW_AS_OF_RESERVATIONS_MAX) {
                snprintf(error, error_bytes, "more than %d reservations active at once before that point",
                         VIEW_AS_OF_RESERVATIONS_MAX);
                return VIEW_QUERY_LIMIT;
            }
            if (active->count == active->capacity) {
                size_t capacity = active->capacity ? active->capacity * 2 : 64;
                struct reservation_state *grown = realloc(active->items, capacity * sizeof(*grown));
                if (grown == NULL) {
                    snprintf(error, error_bytes, "history: out of memory");
                    return VIEW_QUERY_ERROR;
                }
                active->items = grown;
                active->capacity = capacity;
            }
            active->items[active->count++] = *item;
        }
    }
    return 0;
}

/* Whether the row's event lies past the point (the fold stops before it). */
static bool past_point(const struct view_as_of *point, int64_t time_ms, int64_t offset)
{
    return point->kind == VIEW_AS_OF_TIME ? time_ms > point->time_ms : offset > point->position.offset;
}

/* Folds one stored event. Returns 0, or a negative VIEW_QUERY_* with a message. */
static int fold_row(sqlite3_stmt *statement, struct active_reservations *active, struct view_sku_as_of *out,
                    char *error, size_t error_bytes)
{
    const char *json = (const char *)sqlite3_column_text(statement, 4);
    int json_bytes = sqlite3_column_bytes(statement, 4);
    uint64_t sequence = (uint64_t)sqlite3_column_int64(statement, 0);
    struct event event;
    struct codec_error codec_error;
    if (json == NULL || codec_event_decode(json, (size_t)json_bytes, &event, &codec_error) != 0) {
        snprintf(error, error_bytes, "history: event %" PRIu64 " of %s does not decode", sequence,
                 out->state.sku);
        return VIEW_QUERY_ERROR;
    }
    struct reservation_set set = {.count = 0};
    struct reservation_state *known =
        event.reservation_id[0] != '\0' ? active_find(active, event.reservation_id) : NULL;
    if (known != NULL) set.items[set.count++] = *known;
    if (domain_evolve(&out->state, &set, &event) != 0) {
        snprintf(error, error_bytes, "history: event %" PRIu64 " of %s does not follow from the ones before",
                 sequence, out->state.sku);
        return VIEW_QUERY_ERROR;
    }
    int stored = active_store(active, &set, error, error_bytes);
    if (stored != 0) return stored;
    if (event.type != EVENT_COMMAND_REJECTED) {
        out->changed_sequence = event.sequence;
        out->changed_ms = event.time_ms;
    }
    out->last_type = event.type;
    out->last_time_ms = event.time_ms;
    out->last_position.partition = (int32_t)sqlite3_column_int(statement, 2);
    out->last_position.offset = sqlite3_column_int64(statement, 3);
    out->event_count++;
    return 0;
}

/* Walks the rows until the point. Returns 1, 0 (no event at or before the point) or a negative code. */
static int fold_rows(sqlite3 *reader, sqlite3_stmt *statement, const struct view_as_of *point,
                     struct view_sku_as_of *out, char *error, size_t error_bytes)
{
    struct active_reservations active = {NULL, 0, 0};
    int result = 0;
    int status = SQLITE_DONE;
    while (result == 0 && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        int32_t partition = (int32_t)sqlite3_column_int(statement, 2);
        if (point->kind == VIEW_AS_OF_POSITION && partition != point->position.partition) {
            snprintf(error, error_bytes,
                     "position %" PRId32 ":%" PRId64
                     " is on another partition than the SKU's events (%" PRId32 ")",
                     point->position.partition, point->position.offset, partition);
            result = VIEW_QUERY_INVALID;
        } else if (past_point(point, sqlite3_column_int64(statement, 1),
                              sqlite3_column_int64(statement, 3))) {
            break;
        } else if (out->event_count == VIEW_AS_OF_EVENTS_MAX) {
            snprintf(error, error_bytes, "more than %d events of the SKU before that point",
                     VIEW_AS_OF_EVENTS_MAX);
            result = VIEW_QUERY_LIMIT;
        } else {
            result = fold_row(statement, &active, out, error, error_bytes);
        }
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "history: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    free(active.items);
    if (result != 0) return result;
    return out->event_count > 0 ? 1 : 0;
}

int view_history_as_of(sqlite3 *reader, const char *sku, const struct view_as_of *point,
                       struct view_sku_as_of *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && point != NULL && out != NULL);
    assert(point->kind == VIEW_AS_OF_POSITION || point->kind == VIEW_AS_OF_TIME);
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    memset(out, 0, sizeof(*out));
    domain_sku_state_init(&out->state, sku);
    /* One more row than the bound, so that reaching it is told from passing it. */
    sqlite3_stmt *statement =
        view_query_prepare(reader,
                           "SELECT sequence, time_ms, event_partition, event_offset, data"
                           " FROM history WHERE sku = ?1 ORDER BY sequence LIMIT ?2",
                           error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, (sqlite3_int64)VIEW_AS_OF_EVENTS_MAX + 1);
    int result = fold_rows(reader, statement, point, out, error, error_bytes);
    view_query_finish(statement);
    return result;
}
