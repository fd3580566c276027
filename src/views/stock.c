/* stock.c - the stock read model: on-hand, reserved and available per (SKU, location), totals per SKU.
 *
 * Folds stock events into the tables of schema/views/stock/ with prepared statements, inside the
 * projector's transactions (view.h), and answers the stock queries of query.h on a reader's snapshot.
 * Checks nothing the domain decided: it folds what the topic says. No Kafka here. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codec.h"
#include "views/query.h"
#include "views/view.h"
#include "views/view_util.h"

#define STOCK_VIEW_NAME "stock"

enum stock_statement {
    STOCK_SKU_DEFINE,
    STOCK_SKU_ADD,
    STOCK_SKU_MOVE,
    STOCK_LOCATION_ADD,
    STOCK_LOCATION_MOVE,
    STOCK_STATEMENT_COUNT
};

/* A SKU's row appears with its first event (SkuCreated, unless the stream is odd), a location's row with
 * the first event that names it; from then on the deltas add up. The deltas are applied by an UPDATE
 * first (one B-tree seek: the row nearly always exists), and only when it changed no row by the upsert
 * (which seeks to find the conflict, then again to update). */
static const char *const stock_statement_sql[STOCK_STATEMENT_COUNT] = {
    [STOCK_SKU_ADD] = "UPDATE stock_skus SET on_hand = on_hand + ?4, reserved = reserved + ?5,"
                      " sequence = ?2, updated_ms = ?3 WHERE sku = ?1",
    [STOCK_LOCATION_ADD] = "UPDATE stock_locations SET on_hand = on_hand + ?3, reserved = reserved + ?4"
                           " WHERE sku = ?1 AND location = ?2",
    [STOCK_SKU_DEFINE] =
        "INSERT INTO stock_skus (sku, name, reorder_point, sequence, updated_ms, on_hand, reserved,"
        " lead_time_days) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6) ON CONFLICT (sku) DO UPDATE SET"
        " name = excluded.name, reorder_point = excluded.reorder_point, sequence = excluded.sequence,"
        " lead_time_days = excluded.lead_time_days,"
        " updated_ms = excluded.updated_ms",
    [STOCK_SKU_MOVE] =
        "INSERT INTO stock_skus (sku, name, reorder_point, sequence, updated_ms, on_hand, reserved)"
        " VALUES (?1, '', 0, ?2, ?3, ?4, ?5) ON CONFLICT (sku) DO UPDATE SET"
        " on_hand = on_hand + excluded.on_hand, reserved = reserved + excluded.reserved,"
        " sequence = excluded.sequence, updated_ms = excluded.updated_ms",
    [STOCK_LOCATION_MOVE] =
        "INSERT INTO stock_locations (sku, location, on_hand, reserved) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + excluded.on_hand,"
        " reserved = reserved + excluded.reserved",
};

struct stock_view {
    sqlite3 *db; /* the projector's, for sqlite3_changes */
    sqlite3_stmt *statements[STOCK_STATEMENT_COUNT];
};

/* ---- fold ---------------------------------------------------------------------------------------------- */

static int stock_sku_define(struct stock_view *view, const struct event *event, char *error,
                            size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[STOCK_SKU_DEFINE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 3, event->reorder_point);
    sqlite3_bind_int64(statement, 4, (sqlite3_int64)event->sequence);
    sqlite3_bind_int64(statement, 5, event->time_ms);
    sqlite3_bind_int64(statement, 6, event->lead_time_days);
    return view_step_done(statement, STOCK_VIEW_NAME, error, error_bytes);
}

/* Steps an UPDATE-first statement (bound), then resets it. Returns 1 when it changed a row, 0 when the
 * row does not exist yet, or -1 with a message. */
static int stock_update_step(struct stock_view *view, sqlite3_stmt *statement, char *error,
                             size_t error_bytes)
{
    if (view_step_done(statement, STOCK_VIEW_NAME, error, error_bytes) != 0) return -1;
    return sqlite3_changes(view->db) > 0 ? 1 : 0;
}

/* Adds to a SKU's totals and stamps the row with the event (the statement's parameters: sku, sequence,
 * time, on-hand delta, reserved delta). */
static int stock_sku_move(struct stock_view *view, const struct event *event, int64_t on_hand_delta,
                          int64_t reserved_delta, char *error, size_t error_bytes)
{
    int updated = 0;
    for (int kind = STOCK_SKU_ADD; kind <= STOCK_SKU_MOVE && updated == 0; kind++) {
        sqlite3_stmt *statement = view->statements[kind];
        sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
        sqlite3_bind_int64(statement, 2, (sqlite3_int64)event->sequence);
        sqlite3_bind_int64(statement, 3, event->time_ms);
        sqlite3_bind_int64(statement, 4, on_hand_delta);
        sqlite3_bind_int64(statement, 5, reserved_delta);
        updated = stock_update_step(view, statement, error, error_bytes);
    }
    return updated < 0 ? -1 : 0;
}

static int stock_location_move(struct stock_view *view, const char *sku, const char *location,
                               int64_t on_hand_delta, int64_t reserved_delta, char *error, size_t error_bytes)
{
    int updated = 0;
    for (int kind = STOCK_LOCATION_ADD; kind <= STOCK_LOCATION_MOVE && updated == 0; kind++) {
        sqlite3_stmt *statement = view->statements[kind];
        sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
        sqlite3_bind_text(statement, 2, location, -1, SQLITE_STATIC);
        sqlite3_bind_int64(statement, 3, on_hand_delta);
        sqlite3_bind_int64(statement, 4, reserved_delta);
        updated = stock_update_step(view, statement, error, error_bytes);
    }
    return updated < 0 ? -1 : 0;
}

/* One location's change and the same change to the SKU's totals. */
static int stock_move(struct stock_view *view, const struct event *event, int64_t on_hand_delta,
                      int64_t reserved_delta, char *error, size_t error_bytes)
{
    if (stock_location_move(view, event->sku, event->location, on_hand_delta, reserved_delta, error,
                            error_bytes) != 0)
        return -1;
    return stock_sku_move(view, event, on_hand_delta, reserved_delta, error, error_bytes);
}

/* A transfer moves on-hand between two locations of one SKU: the totals stay, the row is stamped. */
static int stock_transfer(struct stock_view *view, const struct event *event, char *error, size_t error_bytes)
{
    if (stock_location_move(view, event->sku, event->location, -event->quantity, 0, error, error_bytes) != 0)
        return -1;
    if (stock_location_move(view, event->sku, event->to_location, event->quantity, 0, error, error_bytes) !=
        0)
        return -1;
    return stock_sku_move(view, event, 0, 0, error, error_bytes);
}

static int stock_apply(void *state, const struct event *event, struct view_position position,
                       struct view_json json, char *error, size_t error_bytes)
{
    struct stock_view *view = state;
    assert(view != NULL && event != NULL);
    (void)position;
    (void)json;
    switch (event->type) {
    case EVENT_SKU_CREATED:
        return stock_sku_define(view, event, error, error_bytes);
    case EVENT_STOCK_RECEIVED:
        return stock_move(view, event, event->quantity, 0, error, error_bytes);
    case EVENT_STOCK_ADJUSTED:
        return stock_move(view, event, event->delta, 0, error, error_bytes);
    case EVENT_STOCK_RESERVED:
        return stock_move(view, event, 0, event->quantity, error, error_bytes);
    case EVENT_RESERVATION_RELEASED:
    case EVENT_RESERVATION_EXPIRED:
        return stock_move(view, event, 0, -event->quantity, error, error_bytes);
    case EVENT_RESERVATION_FULFILLED:
        return stock_move(view, event, -event->quantity, -event->quantity, error, error_bytes);
    case EVENT_STOCK_TRANSFERRED:
        return stock_transfer(view, event, error, error_bytes);
    default:
        return 0; /* CommandRejected and types this view does not know change no stock */
    }
}

static void stock_close(void *state)
{
    struct stock_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, STOCK_STATEMENT_COUNT);
    free(view);
}

static void *stock_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(db != NULL);
    (void)config;
    struct stock_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", STOCK_VIEW_NAME);
        return NULL;
    }
    view->db = db;
    if (view_statements_prepare(db, STOCK_VIEW_NAME, stock_statement_sql, STOCK_STATEMENT_COUNT,
                                view->statements, error, error_bytes) != 0) {
        stock_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_stock_ops = {
    .name = STOCK_VIEW_NAME,
    .open = stock_open,
    .apply = stock_apply,
    .close = stock_close,
};

/* ---- queries ------------------------------------------------------------------------------------------- */

#define STOCK_SUMMARY_COLUMNS                                                                                \
    "sku, name, reorder_point, sequence, updated_ms, on_hand, reserved, lead_time_days"

/* Cursors of the SKU listings: kind byte, then the last SKU of the page. */
#define STOCK_CURSOR_KIND 's'

/* Reads the columns of STOCK_SUMMARY_COLUMNS. Returns 0, or VIEW_QUERY_ERROR with a message. */
static int stock_summary_read(sqlite3_stmt *statement, struct view_stock_summary *out, char *error,
                              size_t error_bytes)
{
    memset(out, 0, sizeof(*out));
    if (view_column_text(statement, 0, out->sku, sizeof(out->sku), "sku", error, error_bytes) != 0 ||
        view_column_text(statement, 1, out->name, sizeof(out->name), "name", error, error_bytes) != 0)
        return VIEW_QUERY_ERROR;
    out->reorder_point = sqlite3_column_int64(statement, 2);
    out->sequence = (uint64_t)sqlite3_column_int64(statement, 3);
    out->updated_ms = sqlite3_column_int64(statement, 4);
    out->on_hand = sqlite3_column_int64(statement, 5);
    out->reserved = sqlite3_column_int64(statement, 6);
    out->lead_time_days = sqlite3_column_int64(statement, 7);
    out->available = out->on_hand - out->reserved;
    out->below_reorder_point = out->available < out->reorder_point;
    return 0;
}

/* Reads a SKU's locations, in location order, at most STOCKD_LOCATIONS_PER_SKU_MAX. */
static int stock_locations_read(sqlite3 *reader, struct view_stock_sku *out, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "SELECT location, on_hand, reserved FROM stock_locations WHERE sku = ?1 ORDER BY location LIMIT ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, out->summary.sku, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, STOCKD_LOCATIONS_PER_SKU_MAX + 1);
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->location_count == STOCKD_LOCATIONS_PER_SKU_MAX) {
            out->locations_truncated = true;
            break;
        }
        struct view_stock_location *location = &out->locations[out->location_count++];
        if (view_column_text(statement, 0, location->location, sizeof(location->location), "location", error,
                             error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        location->on_hand = sqlite3_column_int64(statement, 1);
        location->reserved = sqlite3_column_int64(statement, 2);
        location->available = location->on_hand - location->reserved;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "stock locations: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    return result;
}

int view_stock_get(sqlite3 *reader, const char *sku, struct view_stock_sku *out, char *error,
                   size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    sqlite3_stmt *statement = view_query_prepare(
        reader, "SELECT " STOCK_SUMMARY_COLUMNS " FROM stock_skus WHERE sku = ?1", error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    memset(out, 0, sizeof(*out));
    int status = sqlite3_step(statement);
    int result;
    if (status == SQLITE_ROW) {
        result = stock_summary_read(statement, &out->summary, error, error_bytes) == 0 ? 1 : VIEW_QUERY_ERROR;
    } else if (status == SQLITE_DONE) {
        result = 0;
    } else {
        snprintf(error, error_bytes, "stock: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result == 1 && stock_locations_read(reader, out, error, error_bytes) != 0) result = VIEW_QUERY_ERROR;
    return result;
}

/* The SKU after which a listing starts: "" for the first page. */
static int stock_cursor_sku(const char *cursor, char sku[STOCKD_SKU_BYTES_MAX + 1], char *error,
                            size_t error_bytes)
{
    sku[0] = '\0';
    if (cursor == NULL || cursor[0] == '\0') return 0;
    if (view_cursor_decode(cursor, STOCK_CURSOR_KIND, sku, STOCKD_SKU_BYTES_MAX + 1, error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    if (!codec_identifier_valid(sku, STOCKD_SKU_BYTES_MAX)) {
        snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
        return VIEW_QUERY_INVALID;
    }
    return 0;
}

int view_stock_list(sqlite3 *reader, bool below_reorder_point_only, const char *cursor, uint32_t limit,
                    struct view_stock_page *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    char after[STOCKD_SKU_BYTES_MAX + 1];
    if (view_limit_check(limit, error, error_bytes) != 0) return VIEW_QUERY_INVALID;
    if (stock_cursor_sku(cursor, after, error, error_bytes) != 0) return VIEW_QUERY_INVALID;
    /* The below-only WHERE term is the partial index's own, word for word (schema/views/stock/). */
    const char *sql = below_reorder_point_only ? "SELECT " STOCK_SUMMARY_COLUMNS " FROM stock_skus"
                                                 " WHERE reorder_point > on_hand - reserved AND sku > ?1"
                                                 " ORDER BY sku LIMIT ?2"
                                               : "SELECT " STOCK_SUMMARY_COLUMNS " FROM stock_skus"
                                                 " WHERE sku > ?1 ORDER BY sku LIMIT ?2";
    sqlite3_stmt *statement = view_query_prepare(reader, sql, error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2,
                       (sqlite3_int64)limit + 1); /* one more tells whether a next page exists */
    out->count = 0;
    out->next_cursor[0] = '\0';
    bool more = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->count == limit) {
            more = true;
            break;
        }
        if (stock_summary_read(statement, &out->items[out->count], error, error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        out->count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "stock: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result != 0) return result;
    if (more) view_cursor_encode(STOCK_CURSOR_KIND, out->items[out->count - 1].sku, out->next_cursor);
    return (int)out->count;
}
