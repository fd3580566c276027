/* history.c - the history read model: every event of every SKU key, as canonical JSON, in sequence.
 *
 * Folds all events (rejections too: they are numbered in the SKU's sequence) into schema/views/history/
 * with where each one is on the topic, and pages through a SKU's events both ways (query.h). No Kafka
 * here; the JSON is re-encoded from the decoded event, so it is the codec's canonical form. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/number.h"
#include "domain/codec.h"
#include "views/query.h"
#include "views/view.h"
#include "views/view_util.h"

#define HISTORY_VIEW_NAME "history"

enum history_statement { HISTORY_INSERT, HISTORY_STATEMENT_COUNT };

/* A plain INSERT: two events with one (sku, sequence) cannot both be true, and the history is an audit
 * trail, so a stream that holds them stops the fold with an error rather than losing either silently. */
static const char *const history_statement_sql[HISTORY_STATEMENT_COUNT] = {
    [HISTORY_INSERT] =
        "INSERT INTO history (sku, sequence, type, command_id, time_ms, event_partition, event_offset,"
        " data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

struct history_view {
    sqlite3_stmt *statements[HISTORY_STATEMENT_COUNT];
};

/* ---- fold ---------------------------------------------------------------------------------------------- */

/* Stores the record's own bytes when they are the canonical JSON (the projector says so), and encodes the
 * event otherwise: encoding was a quarter of this view's fold. */
static int history_apply(void *state, const struct event *event, struct view_position position,
                         struct view_json canonical, char *error, size_t error_bytes)
{
    struct history_view *view = state;
    assert(view != NULL && event != NULL);
    const char *type_name = domain_event_type_name(event->type);
    if (type_name == NULL) return 0; /* no wire form: nothing to record */
    char *encoded = canonical.text == NULL ? codec_event_encode(event) : NULL;
    if (canonical.text == NULL && encoded == NULL) {
        snprintf(error, error_bytes, "%s: out of memory encoding an event", HISTORY_VIEW_NAME);
        return -1;
    }
    const char *json = encoded != NULL ? encoded : canonical.text;
    size_t json_length = encoded != NULL ? strlen(encoded) : canonical.bytes;
    assert(json_length <= VIEW_EVENT_JSON_BYTES_MAX && "VIEW_EVENT_JSON_BYTES_MAX covers every event");
    sqlite3_stmt *statement = view_statement_reset(view->statements[HISTORY_INSERT]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, (sqlite3_int64)event->sequence);
    sqlite3_bind_text(statement, 3, type_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 4, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 5, event->time_ms);
    sqlite3_bind_int(statement, 6, position.partition);
    sqlite3_bind_int64(statement, 7, position.offset);
    sqlite3_bind_text(statement, 8, json, (int)json_length, SQLITE_STATIC);
    int result = view_step_done(statement, HISTORY_VIEW_NAME, error, error_bytes);
    free(encoded);
    return result;
}

static void history_close(void *state)
{
    struct history_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, HISTORY_STATEMENT_COUNT);
    free(view);
}

static void *history_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(db != NULL);
    (void)config;
    struct history_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", HISTORY_VIEW_NAME);
        return NULL;
    }
    if (view_statements_prepare(db, HISTORY_VIEW_NAME, history_statement_sql, HISTORY_STATEMENT_COUNT,
                                view->statements, error, error_bytes) != 0) {
        history_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_history_ops = {
    .name = HISTORY_VIEW_NAME,
    .open = history_open,
    .apply = history_apply,
    .close = history_close,
};

/* ---- queries ------------------------------------------------------------------------------------------- */

/* Cursor kinds: a cursor continues the order it was made for. The payload is the last sequence, in
 * decimal without leading zeros. */
#define HISTORY_CURSOR_OLDEST_FIRST 'a'
#define HISTORY_CURSOR_NEWEST_FIRST 'd'

/* Decimal digits of the largest sequence (STOCKD_JSON_INTEGER_MAX, 2^53 - 1). */
#define HISTORY_SEQUENCE_DIGITS_MAX 16

/* The sequence a page starts after (oldest first) or before (newest first). Returns 0, or
 * VIEW_QUERY_INVALID with a message. */
static int history_cursor_sequence(const char *cursor, enum view_order order, int64_t *sequence, char *error,
                                   size_t error_bytes)
{
    *sequence = order == VIEW_ORDER_OLDEST_FIRST ? 0 : INT64_MAX;
    if (cursor == NULL || cursor[0] == '\0') return 0;
    char kind = order == VIEW_ORDER_OLDEST_FIRST ? HISTORY_CURSOR_OLDEST_FIRST : HISTORY_CURSOR_NEWEST_FIRST;
    char digits[HISTORY_SEQUENCE_DIGITS_MAX + 1];
    if (view_cursor_decode(cursor, kind, digits, sizeof(digits), error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    int64_t value = 0;
    if (number_integer_parse_string(digits, 1, STOCKD_JSON_INTEGER_MAX, &value) != NUMBER_OK) {
        snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
        return VIEW_QUERY_INVALID;
    }
    *sequence = value;
    return 0;
}

/* Reads one row of the listing into *out. Returns 0, or VIEW_QUERY_ERROR with a message. */
static int history_event_read(sqlite3_stmt *statement, struct view_history_event *out, char *error,
                              size_t error_bytes)
{
    char type_name[32];
    if (view_column_text(statement, 1, type_name, sizeof(type_name), "event type", error, error_bytes) != 0 ||
        view_column_text(statement, 2, out->command_id, sizeof(out->command_id), "command_id", error,
                         error_bytes) != 0 ||
        view_column_text(statement, 6, out->data, sizeof(out->data), "event JSON", error, error_bytes) != 0)
        return VIEW_QUERY_ERROR;
    out->type = domain_event_type_parse(type_name);
    if (out->type == EVENT_NONE) {
        snprintf(error, error_bytes, "stored event type %s is unknown", type_name);
        return VIEW_QUERY_ERROR;
    }
    out->sequence = (uint64_t)sqlite3_column_int64(statement, 0);
    out->time_ms = sqlite3_column_int64(statement, 3);
    out->position.partition = (int32_t)sqlite3_column_int(statement, 4);
    out->position.offset = sqlite3_column_int64(statement, 5);
    return 0;
}

int view_history_list(sqlite3 *reader, const char *sku, enum view_order order, const char *cursor,
                      uint32_t limit, struct view_history_page *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    assert(order == VIEW_ORDER_OLDEST_FIRST || order == VIEW_ORDER_NEWEST_FIRST);
    int64_t from_sequence = 0;
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0 ||
        view_limit_check(limit, error, error_bytes) != 0 ||
        history_cursor_sequence(cursor, order, &from_sequence, error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    const char *sql = order == VIEW_ORDER_OLDEST_FIRST
                          ? "SELECT sequence, type, command_id, time_ms, event_partition, event_offset, data"
                            " FROM history WHERE sku = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3"
                          : "SELECT sequence, type, command_id, time_ms, event_partition, event_offset, data"
                            " FROM history WHERE sku = ?1 AND sequence < ?2 ORDER BY sequence DESC LIMIT ?3";
    sqlite3_stmt *statement = view_query_prepare(reader, sql, error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, from_sequence);
    sqlite3_bind_int64(statement, 3,
                       (sqlite3_int64)limit + 1); /* one more tells whether a next page exists */
    out->count = 0;
    out->next_cursor[0] = '\0';
    bool more = false;
    int status = SQLITE_DONE;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->count == limit) {
            more = true;
            break;
        }
        if (history_event_read(statement, &out->events[out->count], error, error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        out->count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "history: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result != 0) return result;
    if (more) {
        char digits[HISTORY_SEQUENCE_DIGITS_MAX + 8];
        snprintf(digits, sizeof(digits), "%" PRIu64, out->events[out->count - 1].sequence);
        view_cursor_encode(order == VIEW_ORDER_OLDEST_FIRST ? HISTORY_CURSOR_OLDEST_FIRST
                                                            : HISTORY_CURSOR_NEWEST_FIRST,
                           digits, out->next_cursor);
    }
    return (int)out->count;
}
