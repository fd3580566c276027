/* movements.c - the movements read model: units received, reserved, fulfilled, released, expired and
 * adjusted per SKU and UTC day, and per SKU its lead time and totals.
 *
 * Folds the stock events the write path has always written (and SkuCreated's lead time, version 2) into
 * schema/views/movements/, and answers GET /v1/skus/{sku}/movements and GET /v1/reorder. Added without
 * touching any producer: it is one more projector over <prefix>.events. No Kafka here. */
#include "views/movements.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "views/view_util.h"

#define MOVEMENTS_VIEW_NAME "movements"

/* Cursors of the reorder listing: kind byte, then the last SKU examined. */
#define REORDER_CURSOR_KIND 'r'

enum movements_statement {
    MOVEMENTS_SKU_DEFINE,
    MOVEMENTS_SKU_ADD,
    MOVEMENTS_DAY_ADD,
    MOVEMENTS_STATEMENT_COUNT
};

/* A SkuCreated that comes again (it cannot from the domain) keeps the totals and takes the lead time. Sums
 * that would pass int64 become REAL in SQLite rather than wrap; the domain's bounds keep them far below. */
static const char *const movements_statement_sql[MOVEMENTS_STATEMENT_COUNT] = {
    [MOVEMENTS_SKU_DEFINE] = "INSERT INTO movement_skus (sku, lead_time_days, on_hand, reserved)"
                             " VALUES (?1, ?2, 0, 0) ON CONFLICT (sku) DO UPDATE SET"
                             " lead_time_days = excluded.lead_time_days",
    [MOVEMENTS_SKU_ADD] = "UPDATE movement_skus SET on_hand = on_hand + ?2, reserved = reserved + ?3"
                          " WHERE sku = ?1",
    [MOVEMENTS_DAY_ADD] =
        "INSERT INTO movement_days (sku, day, received, reserved, fulfilled, released, expired, adjusted)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (sku, day) DO UPDATE SET"
        " received = received + excluded.received, reserved = reserved + excluded.reserved,"
        " fulfilled = fulfilled + excluded.fulfilled, released = released + excluded.released,"
        " expired = expired + excluded.expired, adjusted = adjusted + excluded.adjusted",
};

struct movements_view {
    sqlite3_stmt *statements[MOVEMENTS_STATEMENT_COUNT];
};

/* What one event moves: the day's columns and the SKU's totals. */
struct movement {
    struct view_movement_day day;
    int64_t on_hand;
    int64_t reserved;
};

int64_t view_movements_day_of(int64_t time_ms)
{
    int64_t day = time_ms / VIEW_MOVEMENTS_DAY_MS;
    return time_ms % VIEW_MOVEMENTS_DAY_MS < 0 ? day - 1 : day;
}

/* ---- fold ---------------------------------------------------------------------------------------------- */

/* Fills *out with what the event moves. Returns false for events that move nothing (transfers keep the
 * SKU's totals, rejections change nothing, a count that matched moves nothing). */
static bool movement_of(const struct event *event, struct movement *out)
{
    memset(out, 0, sizeof(*out));
    int64_t quantity = event->quantity;
    switch (event->type) {
    case EVENT_STOCK_RECEIVED:
        out->day.received = quantity;
        out->on_hand = quantity;
        break;
    case EVENT_STOCK_ADJUSTED:
        if (event->delta == 0) return false;
        out->day.adjusted = event->delta;
        out->on_hand = event->delta;
        break;
    case EVENT_STOCK_RESERVED:
        out->day.reserved = quantity;
        out->reserved = quantity;
        break;
    case EVENT_RESERVATION_RELEASED:
        out->day.released = quantity;
        out->reserved = -quantity;
        break;
    case EVENT_RESERVATION_FULFILLED:
        out->day.fulfilled = quantity;
        out->on_hand = -quantity;
        out->reserved = -quantity;
        break;
    case EVENT_RESERVATION_EXPIRED:
        out->day.expired = quantity;
        out->reserved = -quantity;
        break;
    default:
        return false;
    }
    out->day.day = view_movements_day_of(event->time_ms);
    return true;
}

static int movements_sku_define(struct movements_view *view, const struct event *event, char *error,
                                size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[MOVEMENTS_SKU_DEFINE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, event->lead_time_days);
    return view_step_done(statement, MOVEMENTS_VIEW_NAME, error, error_bytes);
}

static int movements_add(struct movements_view *view, const struct event *event, const struct movement *move,
                         char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[MOVEMENTS_DAY_ADD]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, move->day.day);
    sqlite3_bind_int64(statement, 3, move->day.received);
    sqlite3_bind_int64(statement, 4, move->day.reserved);
    sqlite3_bind_int64(statement, 5, move->day.fulfilled);
    sqlite3_bind_int64(statement, 6, move->day.released);
    sqlite3_bind_int64(statement, 7, move->day.expired);
    sqlite3_bind_int64(statement, 8, move->day.adjusted);
    if (view_step_done(statement, MOVEMENTS_VIEW_NAME, error, error_bytes) != 0) return -1;
    statement = view_statement_reset(view->statements[MOVEMENTS_SKU_ADD]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, move->on_hand);
    sqlite3_bind_int64(statement, 3, move->reserved);
    return view_step_done(statement, MOVEMENTS_VIEW_NAME, error, error_bytes);
}

static int movements_apply(void *state, const struct event *event, struct view_position position,
                           struct view_json json, char *error, size_t error_bytes)
{
    struct movements_view *view = state;
    assert(view != NULL && event != NULL);
    (void)position;
    (void)json;
    if (event->type == EVENT_SKU_CREATED) return movements_sku_define(view, event, error, error_bytes);
    struct movement move;
    if (!movement_of(event, &move)) return 0;
    return movements_add(view, event, &move, error, error_bytes);
}

static void movements_close(void *state)
{
    struct movements_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, MOVEMENTS_STATEMENT_COUNT);
    free(view);
}

static void *movements_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(db != NULL);
    (void)config;
    struct movements_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", MOVEMENTS_VIEW_NAME);
        return NULL;
    }
    if (view_statements_prepare(db, MOVEMENTS_VIEW_NAME, movements_statement_sql, MOVEMENTS_STATEMENT_COUNT,
                                view->statements, error, error_bytes) != 0) {
        movements_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_movements_ops = {
    .name = MOVEMENTS_VIEW_NAME,
    .open = movements_open,
    .apply = movements_apply,
    .close = movements_close,
};

/* ---- queries ------------------------------------------------------------------------------------------- */

/* Steps a query; SQLITE_ROW and SQLITE_DONE pass, anything else is reported. Returns the status, or -1. */
static int query_step(sqlite3 *reader, sqlite3_stmt *statement, char *error, size_t error_bytes)
{
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW || status == SQLITE_DONE) return status;
    snprintf(error, error_bytes, "%s: %s", MOVEMENTS_VIEW_NAME, sqlite3_errmsg(reader));
    return -1;
}

/* Reads the SKU's row into out. Returns 1, 0 when absent, or VIEW_QUERY_ERROR. */
static int movements_sku_read(sqlite3 *reader, const char *sku, struct view_movements *out, char *error,
                              size_t error_bytes)
{
    sqlite3_stmt *statement = view_query_prepare(
        reader, "SELECT lead_time_days, on_hand, reserved FROM movement_skus WHERE sku = ?1", error,
        error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    int status = query_step(reader, statement, error, error_bytes);
    if (status == SQLITE_ROW) {
        out->lead_time_days = sqlite3_column_int64(statement, 0);
        out->on_hand = sqlite3_column_int64(statement, 1);
        out->reserved = sqlite3_column_int64(statement, 2);
    }
    view_query_finish(statement);
    return status == SQLITE_ROW ? 1 : status == SQLITE_DONE ? 0 : VIEW_QUERY_ERROR;
}

int view_movements_get(sqlite3 *reader, const char *sku, int64_t last_day, uint32_t day_count,
                       struct view_movements *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    if (day_count < 1 || day_count > VIEW_MOVEMENTS_DAYS_MAX) {
        snprintf(error, error_bytes, "days must be in [1, %d], got %u", VIEW_MOVEMENTS_DAYS_MAX, day_count);
        return VIEW_QUERY_INVALID;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->sku, sizeof(out->sku), "%s", sku);
    int found = movements_sku_read(reader, sku, out, error, error_bytes);
    if (found != 1) return found;
    int64_t first_day = last_day - (int64_t)day_count + 1;
    for (uint32_t i = 0; i < day_count; i++)
        out->days[i].day = first_day + (int64_t)i;
    out->count = day_count;
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "SELECT day, received, reserved, fulfilled, released, expired, adjusted FROM movement_days"
        " WHERE sku = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, first_day);
    sqlite3_bind_int64(statement, 3, last_day);
    int status;
    while ((status = query_step(reader, statement, error, error_bytes)) == SQLITE_ROW) {
        int64_t index = sqlite3_column_int64(statement, 0) - first_day;
        assert(index >= 0 && index < (int64_t)day_count); /* the WHERE says so */
        struct view_movement_day *day = &out->days[index];
        day->received = sqlite3_column_int64(statement, 1);
        day->reserved = sqlite3_column_int64(statement, 2);
        day->fulfilled = sqlite3_column_int64(statement, 3);
        day->released = sqlite3_column_int64(statement, 4);
        day->expired = sqlite3_column_int64(statement, 5);
        day->adjusted = sqlite3_column_int64(statement, 6);
    }
    view_query_finish(statement);
    return status == SQLITE_DONE ? 1 : VIEW_QUERY_ERROR;
}

/* Sums the SKU's fulfilment over [first_day, last_day]. Returns 0, or VIEW_QUERY_ERROR. */
static int fulfilled_sum(sqlite3 *reader, sqlite3_stmt *statement, const char *sku, int64_t first_day,
                         int64_t last_day, int64_t *out, char *error, size_t error_bytes)
{
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(statement, 2, first_day);
    sqlite3_bind_int64(statement, 3, last_day);
    int status = query_step(reader, statement, error, error_bytes);
    *out = status == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    return status == SQLITE_ROW ? 0 : VIEW_QUERY_ERROR;
}

/* Whether a SKU goes on the reorder list: available / (fulfilled / window) < lead time, that is
 * available * window < fulfilled * lead time, in long double so that no product overflows. */
static bool reorder_needed(struct view_reorder_item *item, uint32_t window_days)
{
    if (item->fulfilled_in_window <= 0) return false;
    item->daily_fulfilment = (double)item->fulfilled_in_window / (double)window_days;
    item->days_of_cover = (double)item->available / item->daily_fulfilment;
    return (long double)item->available * window_days <
           (long double)item->fulfilled_in_window * item->lead_time_days;
}

/* Walks the SKUs with a lead time after `after`, filling out. Returns the item count or VIEW_QUERY_ERROR. */
static int reorder_scan(sqlite3 *reader, sqlite3_stmt *skus, sqlite3_stmt *sums, int64_t last_day,
                        uint32_t window_days, uint32_t limit, struct view_reorder_page *out, char *error,
                        size_t error_bytes)
{
    int64_t first_day = last_day - (int64_t)window_days + 1;
    uint32_t examined = 0;
    char last_sku[STOCKD_SKU_BYTES_MAX + 1] = "";
    int status = SQLITE_DONE;
    while (out->count < limit && (status = query_step(reader, skus, error, error_bytes)) == SQLITE_ROW) {
        struct view_reorder_item *item = &out->items[out->count];
        memset(item, 0, sizeof(*item));
        if (view_column_text(skus, 0, item->sku, sizeof(item->sku), "sku", error, error_bytes) != 0)
            return VIEW_QUERY_ERROR;
        item->lead_time_days = sqlite3_column_int64(skus, 1);
        item->available = sqlite3_column_int64(skus, 2);
        if (fulfilled_sum(reader, sums, item->sku, first_day, last_day, &item->fulfilled_in_window, error,
                          error_bytes) != 0)
            return VIEW_QUERY_ERROR;
        memcpy(last_sku, item->sku, sizeof(last_sku));
        examined++;
        if (reorder_needed(item, window_days)) out->count++;
    }
    if (out->count < limit && status != SQLITE_DONE) return VIEW_QUERY_ERROR;
    /* Stopped before the end (page full, or the scan bound reached): the next page starts after the last
     * SKU examined. */
    if (out->count == limit || examined == VIEW_REORDER_SCAN_MAX)
        view_cursor_encode(REORDER_CURSOR_KIND, last_sku, out->next_cursor);
    return (int)out->count;
}

int view_reorder_list(sqlite3 *reader, int64_t last_day, uint32_t window_days, const char *cursor,
                      uint32_t limit, struct view_reorder_page *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (view_limit_check(limit, error, error_bytes) != 0) return VIEW_QUERY_INVALID;
    if (window_days < 1 || window_days > VIEW_REORDER_WINDOW_DAYS_MAX) {
        snprintf(error, error_bytes, "window_days must be in [1, %d], got %u", VIEW_REORDER_WINDOW_DAYS_MAX,
                 window_days);
        return VIEW_QUERY_INVALID;
    }
    char after[STOCKD_SKU_BYTES_MAX + 1] = "";
    if (cursor != NULL && cursor[0] != '\0' &&
        view_cursor_decode(cursor, REORDER_CURSOR_KIND, after, sizeof(after), error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    sqlite3_stmt *skus =
        view_query_prepare(reader,
                           "SELECT sku, lead_time_days, on_hand - reserved FROM movement_skus"
                           " WHERE lead_time_days > 0 AND sku > ?1 ORDER BY sku LIMIT ?2",
                           error, error_bytes);
    if (skus == NULL) return VIEW_QUERY_ERROR;
    sqlite3_stmt *sums = view_query_prepare(reader,
                                            "SELECT COALESCE(SUM(fulfilled), 0) FROM movement_days"
                                            " WHERE sku = ?1 AND day BETWEEN ?2 AND ?3",
                                            error, error_bytes);
    if (sums == NULL) {
        view_query_finish(skus);
        return VIEW_QUERY_ERROR;
    }
    sqlite3_bind_text(skus, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(skus, 2, VIEW_REORDER_SCAN_MAX);
    int result = reorder_scan(reader, skus, sums, last_day, window_days, limit, out, error, error_bytes);
    view_query_finish(sums);
    view_query_finish(skus);
    return result;
}
