/* outcomes.c - the outcomes read model: what became of each command id, and where its events are.
 *
 * Folds every event into schema/views/outcomes/: an accepted command with the positions and sequences of
 * its events (ExpireReservations has several), a rejected one with its reason. The API reads it for a
 * command's status and for read-your-writes tokens (query.h), and can wait for an outcome to appear
 * (through the projector's reader pool and commit signal). No Kafka here. */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "views/query.h"
#include "views/view.h"
#include "views/view_util.h"

#define OUTCOMES_VIEW_NAME "outcomes"

enum outcomes_statement {
    OUTCOMES_FIRST,
    OUTCOMES_GET,
    OUTCOMES_DECIDE,
    OUTCOMES_EXTEND,
    OUTCOMES_EVENTS_CLEAR,
    OUTCOMES_EVENT_ADD,
    OUTCOMES_STATEMENT_COUNT
};

static const char *const outcomes_statement_sql[OUTCOMES_STATEMENT_COUNT] = {
    /* The first decision of an id (nearly every event): one statement where a later one takes three. */
    [OUTCOMES_FIRST] =
        "INSERT INTO outcomes (command_id, sku, command_type, accepted, reason, detail, decided_ms,"
        " last_sequence, decision_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)"
        " ON CONFLICT (command_id) DO NOTHING",
    [OUTCOMES_GET] = "SELECT sku, accepted, decided_ms, last_sequence FROM outcomes WHERE command_id = ?1",
    /* A new decision of an id replaces the previous one and counts it. */
    [OUTCOMES_DECIDE] =
        "INSERT INTO outcomes (command_id, sku, command_type, accepted, reason, detail, decided_ms,"
        " last_sequence, decision_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)"
        " ON CONFLICT (command_id) DO UPDATE SET sku = excluded.sku,"
        " command_type = excluded.command_type, accepted = excluded.accepted,"
        " reason = excluded.reason, detail = excluded.detail, decided_ms = excluded.decided_ms,"
        " last_sequence = excluded.last_sequence, decision_count = decision_count + 1",
    [OUTCOMES_EXTEND] = "UPDATE outcomes SET last_sequence = ?2 WHERE command_id = ?1",
    [OUTCOMES_EVENTS_CLEAR] = "DELETE FROM outcome_events WHERE command_id = ?1",
    [OUTCOMES_EVENT_ADD] =
        "INSERT INTO outcome_events (command_id, sequence, type, event_partition, event_offset)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
};

struct outcomes_view {
    sqlite3_stmt *statements[OUTCOMES_STATEMENT_COUNT];
};

/* ---- fold ---------------------------------------------------------------------------------------------- */

/* Whether the event is the next one of the decision the view holds for its command id: the events of one
 * decision are consecutive on one SKU, share the decision time, and only accepted decisions have more
 * than one. Returns 1, 0 (a first or a new decision), or -1 with a message. */
static int outcomes_continues(struct outcomes_view *view, const struct event *event, char *error,
                              size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[OUTCOMES_GET]);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    int result = 0;
    if (status == SQLITE_ROW) {
        const unsigned char *sku = sqlite3_column_text(statement, 0);
        result = event->type != EVENT_COMMAND_REJECTED && sqlite3_column_int(statement, 1) == 1 &&
                 sku != NULL && strcmp((const char *)sku, event->sku) == 0 &&
                 sqlite3_column_int64(statement, 2) == event->time_ms &&
                 sqlite3_column_int64(statement, 3) + 1 == (sqlite3_int64)event->sequence;
    } else if (status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", OUTCOMES_VIEW_NAME,
                 sqlite3_errmsg(sqlite3_db_handle(statement)));
        result = -1;
    }
    view_statement_reset(statement);
    return result;
}

/* Binds the outcome of the event's decision to OUTCOMES_FIRST or OUTCOMES_DECIDE (same parameters) and
 * runs it. Returns 0, or -1 with a message. */
static int outcomes_record(struct outcomes_view *view, enum outcomes_statement kind,
                           const struct event *event, char *error, size_t error_bytes)
{
    assert(kind == OUTCOMES_FIRST || kind == OUTCOMES_DECIDE);
    bool accepted = event->type != EVENT_COMMAND_REJECTED;
    const char *command_type = domain_command_type_name(domain_event_command_type(event));
    const char *reason = accepted ? "" : domain_reject_reason_code(event->reject_reason);
    sqlite3_stmt *statement = view_statement_reset(view->statements[kind]);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, command_type != NULL ? command_type : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 4, accepted ? 1 : 0);
    sqlite3_bind_text(statement, 5, reason != NULL ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 6, accepted ? "" : event->detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 7, event->time_ms);
    sqlite3_bind_int64(statement, 8, (sqlite3_int64)event->sequence);
    return view_step_done(statement, OUTCOMES_VIEW_NAME, error, error_bytes);
}

/* Records the event's decision as the command id's first outcome. Returns 1 recorded, 0 when the id has
 * one already (nothing changed), or -1 with a message. */
static int outcomes_first(struct outcomes_view *view, const struct event *event, char *error,
                          size_t error_bytes)
{
    if (outcomes_record(view, OUTCOMES_FIRST, event, error, error_bytes) != 0) return -1;
    return sqlite3_changes(sqlite3_db_handle(view->statements[OUTCOMES_FIRST])) > 0 ? 1 : 0;
}

/* Records the event's decision as the command id's outcome, dropping the events of a previous one. */
static int outcomes_decide(struct outcomes_view *view, const struct event *event, char *error,
                           size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[OUTCOMES_EVENTS_CLEAR]);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    if (view_step_done(statement, OUTCOMES_VIEW_NAME, error, error_bytes) != 0) return -1;
    return outcomes_record(view, OUTCOMES_DECIDE, event, error, error_bytes);
}

static int outcomes_extend(struct outcomes_view *view, const struct event *event, char *error,
                           size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[OUTCOMES_EXTEND]);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, (sqlite3_int64)event->sequence);
    return view_step_done(statement, OUTCOMES_VIEW_NAME, error, error_bytes);
}

static int outcomes_event_add(struct outcomes_view *view, const struct event *event,
                              struct view_position position, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = view_statement_reset(view->statements[OUTCOMES_EVENT_ADD]);
    sqlite3_bind_text(statement, 1, event->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, (sqlite3_int64)event->sequence);
    sqlite3_bind_text(statement, 3, domain_event_type_name(event->type), -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 4, position.partition);
    sqlite3_bind_int64(statement, 5, position.offset);
    return view_step_done(statement, OUTCOMES_VIEW_NAME, error, error_bytes);
}

static int outcomes_apply(void *state, const struct event *event, struct view_position position,
                          struct view_json json, char *error, size_t error_bytes)
{
    struct outcomes_view *view = state;
    assert(view != NULL && event != NULL);
    (void)json;
    if (event->type <= EVENT_NONE || event->type >= EVENT_TYPE_COUNT) return 0; /* no command to speak of */
    int first = outcomes_first(view, event, error, error_bytes);
    if (first < 0) return -1;
    if (first == 0) { /* the id has an outcome: this event continues that decision or replaces it */
        int continues = outcomes_continues(view, event, error, error_bytes);
        if (continues < 0) return -1;
        int recorded = continues ? outcomes_extend(view, event, error, error_bytes)
                                 : outcomes_decide(view, event, error, error_bytes);
        if (recorded != 0) return -1;
    }
    return outcomes_event_add(view, event, position, error, error_bytes);
}

static void outcomes_close(void *state)
{
    struct outcomes_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, OUTCOMES_STATEMENT_COUNT);
    free(view);
}

static void *outcomes_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(db != NULL);
    (void)config;
    struct outcomes_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", OUTCOMES_VIEW_NAME);
        return NULL;
    }
    if (view_statements_prepare(db, OUTCOMES_VIEW_NAME, outcomes_statement_sql, OUTCOMES_STATEMENT_COUNT,
                                view->statements, error, error_bytes) != 0) {
        outcomes_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_outcomes_ops = {
    .name = OUTCOMES_VIEW_NAME,
    .open = outcomes_open,
    .apply = outcomes_apply,
    .close = outcomes_close,
};

/* ---- queries ------------------------------------------------------------------------------------------- */

/* Reads the outcome row's columns (see view_outcome_get). Returns 0, or VIEW_QUERY_ERROR with a message. */
static int outcome_read(sqlite3_stmt *statement, struct view_outcome *out, char *error, size_t error_bytes)
{
    char command_type[32];
    char reason[32];
    if (view_column_text(statement, 0, out->sku, sizeof(out->sku), "sku", error, error_bytes) != 0 ||
        view_column_text(statement, 1, command_type, sizeof(command_type), "command type", error,
                         error_bytes) != 0 ||
        view_column_text(statement, 3, reason, sizeof(reason), "reason", error, error_bytes) != 0 ||
        view_column_text(statement, 4, out->detail, sizeof(out->detail), "detail", error, error_bytes) != 0)
        return VIEW_QUERY_ERROR;
    out->command_type = domain_command_type_parse(command_type);
    out->accepted = sqlite3_column_int(statement, 2) == 1;
    out->reason = out->accepted ? REJECT_NONE : domain_reject_reason_parse(reason);
    out->decided_ms = sqlite3_column_int64(statement, 5);
    sqlite3_int64 decisions = sqlite3_column_int64(statement, 6);
    out->decision_count = decisions < 1 ? 1 : decisions > UINT32_MAX ? UINT32_MAX : (uint32_t)decisions;
    if (out->command_type == COMMAND_NONE || (!out->accepted && out->reason == REJECT_NONE)) {
        snprintf(error, error_bytes, "stored outcome has an unknown command type (%s) or reason (%s)",
                 command_type, reason);
        return VIEW_QUERY_ERROR;
    }
    return 0;
}

/* Reads the events of the outcome's decision, in sequence order, at most STOCKD_DECISION_EVENTS_MAX. */
static int outcome_events_read(sqlite3 *reader, struct view_outcome *out, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement =
        view_query_prepare(reader,
                           "SELECT sequence, type, event_partition, event_offset FROM outcome_events"
                           " WHERE command_id = ?1 ORDER BY sequence LIMIT ?2",
                           error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, out->command_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, STOCKD_DECISION_EVENTS_MAX + 1);
    int status = SQLITE_DONE;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->event_count == STOCKD_DECISION_EVENTS_MAX) {
            out->events_truncated = true;
            break;
        }
        struct view_outcome_event *event = &out->events[out->event_count++];
        char type_name[32];
        if (view_column_text(statement, 1, type_name, sizeof(type_name), "event type", error, error_bytes) !=
            0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        event->sequence = (uint64_t)sqlite3_column_int64(statement, 0);
        event->type = domain_event_type_parse(type_name);
        event->position.partition = (int32_t)sqlite3_column_int(statement, 2);
        event->position.offset = sqlite3_column_int64(statement, 3);
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "outcome events: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    return result;
}

int view_outcome_get(sqlite3 *reader, const char *command_id, struct view_outcome *out, char *error,
                     size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_identifier_check(command_id, STOCKD_ID_BYTES_MAX, "command_id", error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    sqlite3_stmt *statement =
        view_query_prepare(reader,
                           "SELECT sku, command_type, accepted, reason, detail, decided_ms,"
                           " decision_count FROM outcomes WHERE command_id = ?1",
                           error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, command_id, -1, SQLITE_STATIC);
    memset(out, 0, sizeof(*out));
    snprintf(out->command_id, sizeof(out->command_id), "%s", command_id);
    int status = sqlite3_step(statement);
    int result;
    if (status == SQLITE_ROW) {
        result = outcome_read(statement, out, error, error_bytes) == 0 ? 1 : VIEW_QUERY_ERROR;
    } else if (status == SQLITE_DONE) {
        result = 0;
    } else {
        snprintf(error, error_bytes, "outcomes: %s", sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result == 1 && outcome_events_read(reader, out, error, error_bytes) != 0) result = VIEW_QUERY_ERROR;
    return result;
}
