/* query.h - the read API of the views stock, reservations, history (and a SKU as of any point), outcomes.
 *
 * Pure SQLite over a view's database, on a read-only connection the caller got from the projector
 * (projector_reader_acquire). No Kafka, no HTTP: the API maps the results and return codes to responses.
 *
 * Transactions: the query functions do NOT begin or commit. The caller opens one read transaction
 * (projector_reader_begin), runs the query and, when it needs them, projector_reader_positions_read(),
 * then projector_reader_commit: rows and positions come from the same snapshot. Calling a query outside a
 * transaction is a programmer error (asserted), because a query of several statements would otherwise mix
 * snapshots.
 *
 * Return codes: 1 found / 0 not found (lists: the number of items, >= 0), VIEW_QUERY_ERROR when the
 * database failed, VIEW_QUERY_INVALID when the caller's input is refused (malformed cursor, limit out of
 * range, an identifier that cannot exist); both negative, both with a message in error. Results go into
 * caller-provided structs; every string and list in them is bounded (limits.h and below). */
#ifndef STOCKD_VIEW_QUERY_H
#define STOCKD_VIEW_QUERY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"
#include "limits.h"
#include "views/view.h"

/* A page of a listing holds at most this many items: a response stays small (a stock page is ~40 KiB, a
 * history page ~220 KiB of structs) and one query reads a bounded number of rows, so a reader holds its
 * snapshot (and so the WAL) only briefly. Limits of 0 or above it are refused, never clamped silently. */
#define VIEW_PAGE_MAX 100

/* Cursors are opaque, URL-safe (base64url, no padding) and at most this long: a kind byte and a SKU (or
 * a sequence number) encoded, 4 characters per 3 bytes. Longer input is refused before decoding. */
#define VIEW_CURSOR_BYTES_MAX 128

/* An event's canonical JSON (codec_event_encode) is at most this long: the free text (each byte at most
 * 2 when escaped: the codec refuses control characters), the identifiers, and under 400 bytes of keys,
 * punctuation and numbers. CatalogUpdated is the longest (name, description, brand and attributes: about
 * 7 KiB at worst). Checked when stored and when read. */
#define VIEW_EVENT_JSON_BYTES_MAX 8192

/* When a reservation id is held by several SKUs, at most this many of them are listed. */
#define VIEW_AMBIGUOUS_SKUS_MAX 8

#define VIEW_QUERY_ERROR     (-1) /* the database failed (a 5xx) */
#define VIEW_QUERY_INVALID   (-2) /* the caller's input is refused (a 400) */
#define VIEW_QUERY_AMBIGUOUS 2    /* view_reservation_find: several SKUs hold the id */

_Static_assert(VIEW_CURSOR_BYTES_MAX >= 4 * ((1 + STOCKD_SKU_BYTES_MAX + 2) / 3), "a SKU cursor fits");
_Static_assert(VIEW_EVENT_JSON_BYTES_MAX >= 2 * STOCKD_REASON_BYTES_MAX + STOCKD_SKU_BYTES_MAX +
                                                3 * STOCKD_ID_BYTES_MAX + 2 * STOCKD_LOCATION_BYTES_MAX + 400,
               "the longest event JSON fits");
_Static_assert(VIEW_EVENT_JSON_BYTES_MAX >=
                   2 * (STOCKD_NAME_BYTES_MAX + STOCKD_CATALOG_DESCRIPTION_BYTES_MAX +
                        STOCKD_CATALOG_BRAND_BYTES_MAX +
                        STOCKD_CATALOG_ATTRIBUTES_MAX * (STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 6 +
                                                         STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX)) +
                       STOCKD_SKU_BYTES_MAX + STOCKD_ID_BYTES_MAX + STOCKD_CATALOG_SOURCE_BYTES_MAX + 400,
               "the longest CatalogUpdated JSON fits");
_Static_assert(STOCKD_NAME_BYTES_MAX <= STOCKD_REASON_BYTES_MAX &&
                   STOCKD_DETAIL_BYTES_MAX <= STOCKD_REASON_BYTES_MAX,
               "the free-text bound above covers every free-text field");

/* ---- stock --------------------------------------------------------------------------------------------- */

struct view_stock_location {
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t on_hand;
    int64_t reserved;
    int64_t available; /* on_hand - reserved */
};

/* A SKU's definition and its totals over all locations. sequence and updated_ms are those of the last
 * event that changed the SKU's row (rejections change nothing). */
struct view_stock_summary {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char name[STOCKD_NAME_BYTES_MAX + 1];
    int64_t reorder_point;
    int64_t lead_time_days; /* 0: unknown */
    uint64_t sequence;
    int64_t updated_ms; /* event time, Unix epoch milliseconds */
    int64_t on_hand;
    int64_t reserved;
    int64_t available;
    bool below_reorder_point; /* available < reorder_point */
};

struct view_stock_sku {
    struct view_stock_summary summary;
    uint32_t location_count; /* locations in location order, each location once */
    struct view_stock_location locations[STOCKD_LOCATIONS_PER_SKU_MAX];
    bool locations_truncated; /* the view holds more than STOCKD_LOCATIONS_PER_SKU_MAX (a corrupt stream) */
};

struct view_stock_page {
    uint32_t count;
    struct view_stock_summary items[VIEW_PAGE_MAX]; /* in SKU order (bytewise) */
    char next_cursor[VIEW_CURSOR_BYTES_MAX + 1];    /* "" when this is the last page */
};

/* Reads one SKU with its locations. Returns 1 and fills *out, 0 when the view has no such SKU,
 * VIEW_QUERY_INVALID when sku is not an identifier, VIEW_QUERY_ERROR on a database error. */
int view_stock_get(sqlite3 *reader, const char *sku, struct view_stock_sku *out, char *error,
                   size_t error_bytes);

/* Lists SKUs in SKU order from cursor ("" or NULL: the first page), at most limit of them (1 ..
 * VIEW_PAGE_MAX), all of them or only those below their reorder point. Keyset pagination: the cursor
 * is the last SKU of the previous page, so SKUs added or changed between pages are never repeated and
 * no SKU present throughout is skipped. Returns the number of items (0 .. limit) with out->next_cursor
 * set when more may follow, VIEW_QUERY_INVALID for a malformed cursor or a limit out of range,
 * VIEW_QUERY_ERROR on a database error. */
int view_stock_list(sqlite3 *reader, bool below_reorder_point_only, const char *cursor, uint32_t limit,
                    struct view_stock_page *out, char *error, size_t error_bytes);

/* ---- reservations -------------------------------------------------------------------------------------- */

struct view_reservation {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char reservation_id[STOCKD_ID_BYTES_MAX + 1];
    enum reservation_status status;
    char location[STOCKD_LOCATION_BYTES_MAX + 1];
    int64_t quantity;
    int64_t expires_at_ms; /* 0: never */
    int64_t created_ms;
    int64_t updated_ms;
    char created_command_id[STOCKD_ID_BYTES_MAX + 1]; /* the ReserveStock that made it */
    char updated_command_id[STOCKD_ID_BYTES_MAX + 1]; /* the last command that changed it */
};

/* The SKUs that hold one reservation id, when there are several. */
struct view_reservation_skus {
    uint32_t count;
    char skus[VIEW_AMBIGUOUS_SKUS_MAX][STOCKD_SKU_BYTES_MAX + 1]; /* in SKU order */
    bool truncated;                                               /* more SKUs than listed */
};

/* Reads the reservation (sku, reservation_id): ids are unique per SKU only. Returns 1 and fills *out, 0
 * when there is none, VIEW_QUERY_INVALID for a malformed identifier, VIEW_QUERY_ERROR on a database
 * error. */
int view_reservation_get(sqlite3 *reader, const char *sku, const char *reservation_id,
                         struct view_reservation *out, char *error, size_t error_bytes);

/* Finds a reservation by id alone. Returns 1 and fills *out when exactly one SKU holds the id, 0 when
 * none does, VIEW_QUERY_AMBIGUOUS and fills *ambiguous (out untouched) when several do (the caller
 * then asks with view_reservation_get), VIEW_QUERY_INVALID or VIEW_QUERY_ERROR as above. */
int view_reservation_find(sqlite3 *reader, const char *reservation_id, struct view_reservation *out,
                          struct view_reservation_skus *ambiguous, char *error, size_t error_bytes);

/* ---- history ------------------------------------------------------------------------------------------- */

enum view_order {
    VIEW_ORDER_OLDEST_FIRST = 1, /* ascending sequence */
    VIEW_ORDER_NEWEST_FIRST,     /* descending sequence */
};

struct view_history_event {
    uint64_t sequence;
    enum event_type type;
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    int64_t time_ms;
    struct view_position position;
    char data[VIEW_EVENT_JSON_BYTES_MAX + 1]; /* the whole event as canonical JSON (codec_event_encode) */
};

/* About 220 KiB: allocate it, do not put it on a thread's stack. */
struct view_history_page {
    uint32_t count;
    struct view_history_event events[VIEW_PAGE_MAX];
    char next_cursor[VIEW_CURSOR_BYTES_MAX + 1]; /* "" when this is the last page */
};

/* Lists the events of one SKU (every event of its key, rejections included) in the given order, from
 * cursor ("" or NULL: the oldest or newest first; otherwise the events after, or before, the last
 * sequence of the previous page), at most limit (1 .. VIEW_PAGE_MAX). A cursor is bound to its order:
 * one from the other order is refused. Returns the number of events with out->next_cursor set when
 * more may follow, VIEW_QUERY_INVALID for a malformed sku, cursor or limit, VIEW_QUERY_ERROR on a
 * database error. A SKU without events gives 0. */
int view_history_list(sqlite3 *reader, const char *sku, enum view_order order, const char *cursor,
                      uint32_t limit, struct view_history_page *out, char *error, size_t error_bytes);

/* ---- a SKU as of a point in its history (history_as_of.c) ---------------------------------------------- */

/* One as-of fold reads at most this many events of the SKU (a few seconds of decoding at most) and holds at
 * most this many reservations active at once (~250 bytes each): past either it answers VIEW_QUERY_LIMIT
 * rather than work or allocate without bound. */
#define VIEW_AS_OF_EVENTS_MAX       200000
#define VIEW_AS_OF_RESERVATIONS_MAX 10000

#define VIEW_QUERY_LIMIT (-3) /* the answer needs more than a bound allows (a 422) */

enum view_as_of_kind {
    VIEW_AS_OF_POSITION = 1, /* the SKU's events up to and including this position of <prefix>.events */
    VIEW_AS_OF_TIME,         /* the SKU's events up to the first one decided after time_ms */
};

struct view_as_of {
    enum view_as_of_kind kind;
    struct view_position position; /* VIEW_AS_OF_POSITION */
    int64_t time_ms;               /* VIEW_AS_OF_TIME: Unix epoch milliseconds */
};

/* A SKU's state right after a point, and the event the fold stopped at. */
struct view_sku_as_of {
    struct sku_state state;    /* domain_evolve's fold; state.sequence is the last event's */
    uint64_t changed_sequence; /* the last event that changed the state (rejections do not) */
    int64_t changed_ms;
    enum event_type last_type; /* the last event folded */
    int64_t last_time_ms;
    struct view_position last_position;
    uint64_t event_count; /* events folded */
};

/* Folds the SKU's events from the history view, oldest first, through domain_evolve (the same code as the
 * handler's shards), stopping before the first event past the point. A SKU lives on one partition: a
 * position on another one cannot be placed in its history and is refused. Returns 1 with *out filled, 0
 * when the SKU has no event at or before the point, VIEW_QUERY_INVALID for a malformed sku or a position of
 * another partition, VIEW_QUERY_LIMIT past VIEW_AS_OF_EVENTS_MAX or VIEW_AS_OF_RESERVATIONS_MAX,
 * VIEW_QUERY_ERROR on a database error or a stored event that does not decode or follow (each with a
 * message). */
int view_history_as_of(sqlite3 *reader, const char *sku, const struct view_as_of *point,
                       struct view_sku_as_of *out, char *error, size_t error_bytes);

/* ---- outcomes ------------------------------------------------------------------------------------------ */

struct view_outcome_event {
    uint64_t sequence;
    enum event_type type;
    struct view_position position; /* the read-your-writes token "partition:offset" */
};

struct view_outcome {
    char command_id[STOCKD_ID_BYTES_MAX + 1];
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    enum command_type command_type;
    bool accepted;
    enum reject_reason reason;                /* REJECT_NONE when accepted */
    char detail[STOCKD_DETAIL_BYTES_MAX + 1]; /* "" when accepted */
    int64_t decided_ms;
    /* How many decisions this command id has had. Above 1 only when an id was reused: decided again after
     * the handler's deduplication retention, or sent for SKUs on different partitions. This outcome is
     * the latest decision. */
    uint32_t decision_count;
    uint32_t event_count; /* events of this decision (a rejection is one event); in sequence order */
    struct view_outcome_event events[STOCKD_DECISION_EVENTS_MAX];
    bool events_truncated; /* more events than STOCKD_DECISION_EVENTS_MAX (a corrupt stream) */
};

/* Reads the outcome of a command. Returns 1 and fills *out, 0 when the view has none (yet),
 * VIEW_QUERY_INVALID for a malformed command id, VIEW_QUERY_ERROR on a database error. */
int view_outcome_get(sqlite3 *reader, const char *command_id, struct view_outcome *out, char *error,
                     size_t error_bytes);

#endif
