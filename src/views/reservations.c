/* reservations.c - the reservations read model: every reservation of every SKU with its status.
 *
 * Folds StockReserved and the events that end a reservation (released, fulfilled, expired) into
 * schema/views/reservations/, keyed by (sku, reservation_id) because ids are unique per SKU only, and
 * answers the reservation queries of query.h. No Kafka here. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "views/query.h"
#include "views/view.h"
#include "views/view_util.h"

#define RESERVATIONS_VIEW_NAME "reservations"

enum reservations_statement { RESERVATIONS_CREATE, RESERVATIONS_SETTLE, RESERVATIONS_STATEMENT_COUNT };

/* A second StockReserved of the same (sku, id) cannot come from the domain (ids are never reused within
 * a SKU); if a stream holds one anyway, the later fact replaces the earlier, as a fold would. An event
 * that ends a reservation the view never saw changes nothing. */
static const char *const reservations_statement_sql[RESERVATIONS_STATEMENT_COUNT] = {
    [RESERVATIONS_CREATE] =
        "INSERT OR REPLACE INTO reservations (sku, reservation_id, status, location, quantity,"
        " expires_at_ms, created_ms, updated_ms, created_command_id, updated_command_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8)",
    [RESERVATIONS_SETTLE] = "UPDATE reservations SET status = ?3, updated_ms = ?4, updated_command_id = ?5"
                            " WHERE sku = ?1 AND reservation_id = ?2",
};

struct reservations_view {
    sqlite3_stmt *statements[RESERVATIONS_STATEMENT_COUNT];
};

/* ---- fold ---------------------------------------------------------------------------------------------- */

static int reservations_create(struct reservations_view *view, const struct event *event, char *error,
                               size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[RESERVATIONS_CREATE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 3, RESERVATION_ACTIVE);
    sqlite3_bind_text(statement, 4, event->location, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 5, event->quantity);
    sqlite3_bind_int64(statement, 6, event->expires_at_ms);
    sqlite3_bind_int64(statement, 7, event->time_ms);
    sqlite3_bind_text(statement, 8, event->command_id, -1, SQLITE_STATIC);
    return view_step_done(statement, RESERVATIONS_VIEW_NAME, error, error_bytes);
}

static int reservations_settle(struct reservations_view *view, const struct event *event,
                               enum reservation_status status, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[RESERVATIONS_SETTLE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 3, (int)status);
    sqlite3_bind_int64(statement, 4, event->time_ms);
    sqlite3_bind_text(statement, 5, event->command_id, -1, SQLITE_STATIC);
    return view_step_done(statement, RESERVATIONS_VIEW_NAME, error, error_bytes);
}

static int reservations_apply(void *state, const struct event *event, struct view_position position,
                              struct view_json json, char *error, size_t error_bytes)
{
    struct reservations_view *view = state;
    assert(view != NULL && event != NULL);
    (void)position;
    (void)json;
    switch (event->type) {
    case EVENT_STOCK_RESERVED:
        return reservations_create(view, event, error, error_bytes);
    case EVENT_RESERVATION_RELEASED:
        return reservations_settle(view, event, RESERVATION_RELEASED, error, error_bytes);
    case EVENT_RESERVATION_FULFILLED:
        return reservations_settle(view, event, RESERVATION_FULFILLED, error, error_bytes);
    case EVENT_RESERVATION_EXPIRED:
        return reservations_settle(view, event, RESERVATION_EXPIRED, error, error_bytes);
    default:
        return 0; /* other stock events, CommandRejected and unknown types: no reservation changes */
    }
}

static void reservations_close(void *state)
{
    struct reservations_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, RESERVATIONS_STATEMENT_COUNT);
    free(view);
}

static void *reservations_open(sqlite3 *db, const struct stockd_config *config, char *error,
                               size_t error_bytes)
{
    assert(db != NULL);
    (void)config;
    struct reservations_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", RESERVATIONS_VIEW_NAME);
        return NULL;
    }
    if (view_statements_prepare(db, RESERVATIONS_VIEW_NAME, reservations_statement_sql,
                                RESERVATIONS_STATEMENT_COUNT, view->statements, error, error_bytes) != 0) {
        reservations_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_reservations_ops = {
    .name = RESERVATIONS_VIEW_NAME,
    .open = reservations_open,
    .apply = reservations_apply,
    .close = reservations_close,
};

/* ---- queries ------------------------------------------------------------------------------------------- */

#define RESERVATION_COLUMNS                                                                                  \
    "sku, reservation_id, status, location, quantity, expires_at_ms, created_ms, updated_ms,"                \
    " created_command_id, updated_command_id"

/* Reads the columns of RESERVATION_COLUMNS. Returns 0, or VIEW_QUERY_ERROR with a message. */
static int reservation_read(sqlite3_stmt *statement, struct view_reservation *out, char *error,
                            size_t error_bytes)
{
    memset(out, 0, sizeof(*out));
    int status = sqlite3_column_int(statement, 2);
    if (status < RESERVATION_ACTIVE || status > RESERVATION_EXPIRED) {
        snprintf(error, error_bytes, "stored reservation status %d is unknown", status);
        return VIEW_QUERY_ERROR;
    }
    out->status = (enum reservation_status)status;
    if (view_column_text(statement, 0, out->sku, sizeof(out->sku), "sku", error, error_bytes) != 0 ||
        view_column_text(statement, 1, out->reservation_id, sizeof(out->reservation_id), "reservation_id",
                         error, error_bytes) != 0 ||
        view_column_text(statement, 3, out->location, sizeof(out->location), "location", error,
                         error_bytes) != 0 ||
        view_column_text(statement, 8, out->created_command_id, sizeof(out->created_command_id),
                         "created_command_id", error, error_bytes) != 0 ||
        view_column_text(statement, 9, out->updated_command_id, sizeof(out->updated_command_id),
                         "updated_command_id", error, error_bytes) != 0)
        return VIEW_QUERY_ERROR;
    out->quantity = sqlite3_column_int64(statement, 4);
    out->expires_at_ms = sqlite3_column_int64(statement, 5);
    out->created_ms = sqlite3_column_int64(statement, 6);
    out->updated_ms = sqlite3_column_int64(statement, 7);
    return 0;
}

int view_reservation_get(sqlite3 *reader, const char *sku, const char *reservation_id,
                         struct view_reservation *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0 ||
        view_identifier_check(reservation_id, STOCKD_ID_BYTES_MAX, "reservation_id", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    sqlite3_stmt *statement = view_query_prepare(
        reader, "SELECT " RESERVATION_COLUMNS " FROM reservations WHERE sku = ?1 AND reservation_id = ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, reservation_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    int result;
    if (status == SQLITE_ROW) {
        result = reservation_read(statement, out, error, error_bytes) == 0 ? 1 : VIEW_QUERY_ERROR;
    } else if (status == SQLITE_DONE) {
        result = 0;
    } else {
        snprintf(error, error_bytes, "reservations: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    return result;
}

/* Adds the SKU of the current row to the ambiguous list, or marks the list truncated when full. */
static int reservation_sku_add(sqlite3_stmt *statement, struct view_reservation_skus *ambiguous, char *error,
                               size_t error_bytes)
{
    if (ambiguous->count == VIEW_AMBIGUOUS_SKUS_MAX) {
        ambiguous->truncated = true;
        return 0;
    }
    char *sku = ambiguous->skus[ambiguous->count++];
    return view_column_text(statement, 0, sku, STOCKD_SKU_BYTES_MAX + 1, "sku", error, error_bytes);
}

int view_reservation_find(sqlite3 *reader, const char *reservation_id, struct view_reservation *out,
                          struct view_reservation_skus *ambiguous, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL && ambiguous != NULL);
    if (view_identifier_check(reservation_id, STOCKD_ID_BYTES_MAX, "reservation_id", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "SELECT " RESERVATION_COLUMNS " FROM reservations WHERE reservation_id = ?1 ORDER BY sku LIMIT ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, VIEW_AMBIGUOUS_SKUS_MAX + 1);
    memset(ambiguous, 0, sizeof(*ambiguous));
    struct view_reservation first;
    int rows = 0;
    int status = SQLITE_DONE;
    int result = 0;
    while (result == 0 && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (rows++ == 0) result = reservation_read(statement, &first, error, error_bytes);
        if (result == 0) result = reservation_sku_add(statement, ambiguous, error, error_bytes);
    }
    if (result == 0 && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "reservations: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result != 0) return VIEW_QUERY_ERROR;
    if (rows > 1) return VIEW_QUERY_AMBIGUOUS;
    memset(ambiguous, 0, sizeof(*ambiguous));
    if (rows == 0) return 0;
    *out = first;
    return 1;
}
