/* movements.h - the movements read model: units moved per SKU and UTC day, and the reorder listing.
 *
 * A view like the others (view.h), added without touching the write path: it folds the stock events
 * that already exist. Queries run inside a read transaction on a reader, as query.h says for every view. */
#ifndef STOCKD_VIEW_MOVEMENTS_H
#define STOCKD_VIEW_MOVEMENTS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "views/query.h"
#include "views/view.h"

extern const struct view_ops view_movements_ops;

/* Milliseconds of a UTC day: events are counted on the day of their time_ms. */
#define VIEW_MOVEMENTS_DAY_MS INT64_C(86400000)

/* A movements answer covers at most this many days (a year, leap or not): at 56 bytes a day the answer
 * stays ~20 KiB and one query reads at most that many rows. */
#define VIEW_MOVEMENTS_DAYS_MAX 366

/* The reorder listing averages fulfilment over at most this many days. */
#define VIEW_REORDER_WINDOW_DAYS_MAX 365

/* One page of the reorder listing examines at most this many SKUs with a lead time (each a bounded sum
 * over at most VIEW_REORDER_WINDOW_DAYS_MAX rows), so a page's cost is bounded however few SKUs qualify:
 * a page may then hold fewer items than asked, even none, with a cursor to go on. */
#define VIEW_REORDER_SCAN_MAX 1000

struct view_movement_day {
    int64_t day; /* days since 1970-01-01, UTC */
    int64_t received;
    int64_t reserved;
    int64_t fulfilled;
    int64_t released;
    int64_t expired;
    int64_t adjusted; /* net */
};

/* About 20 KiB: allocate it or keep it static, not on a small stack. */
struct view_movements {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    int64_t lead_time_days; /* 0: unknown */
    int64_t on_hand;
    int64_t reserved;
    uint32_t count; /* days, oldest first, every day of the range (zeros where nothing moved) */
    struct view_movement_day days[VIEW_MOVEMENTS_DAYS_MAX];
};

struct view_reorder_item {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    int64_t lead_time_days;
    int64_t available;           /* on-hand - reserved over all locations */
    int64_t fulfilled_in_window; /* units fulfilled over the window */
    double daily_fulfilment;     /* fulfilled_in_window / window days */
    double days_of_cover;        /* available / daily_fulfilment */
};

struct view_reorder_page {
    uint32_t count;
    struct view_reorder_item items[VIEW_PAGE_MAX]; /* in SKU order */
    char next_cursor[VIEW_CURSOR_BYTES_MAX + 1];   /* "" when this is the last page */
};

/* The UTC day of a Unix time in milliseconds (floor, so times before 1970 fall on earlier days). */
int64_t view_movements_day_of(int64_t time_ms);

/* Reads a SKU's movements of the day_count days (1 .. VIEW_MOVEMENTS_DAYS_MAX) ending with last_day. Returns
 * 1 and fills *out, 0 when the view has no such SKU, VIEW_QUERY_INVALID for a malformed sku or a day count
 * out of range, VIEW_QUERY_ERROR on a database error. */
int view_movements_get(sqlite3 *reader, const char *sku, int64_t last_day, uint32_t day_count,
                       struct view_movements *out, char *error, size_t error_bytes);

/* Lists, in SKU order from cursor, the SKUs with a known lead time whose available stock covers fewer days
 * than their lead time at the average daily fulfilment of the window_days (1 ..
 * VIEW_REORDER_WINDOW_DAYS_MAX) ending with last_day; SKUs that fulfilled nothing in the window are never
 * listed (their stock covers any lead time). At most limit items (1 .. VIEW_PAGE_MAX), and at most
 * VIEW_REORDER_SCAN_MAX SKUs examined. Returns the number of items with out->next_cursor set when more may
 * follow, VIEW_QUERY_INVALID for a malformed cursor or a parameter out of range, VIEW_QUERY_ERROR on a
 * database error. */
int view_reorder_list(sqlite3 *reader, int64_t last_day, uint32_t window_days, const char *cursor,
                      uint32_t limit, struct view_reorder_page *out, char *error, size_t error_bytes);

#endif
