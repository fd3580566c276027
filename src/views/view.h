/* view.h - what a read model (projection) is: a schema, a fold of events into its own SQLite database, and
 * queries over it. The projector (src/projector.c) runs the fold; a view module knows nothing of Kafka.
 *
 * A view lives in <data_dir>/views/<name>.db (WAL), its DDL in schema/views/<name>/NNN_*.sql (compiled in,
 * applied with sqlite_util_migrate(db, "views/<name>")). The projector owns the one write connection; every
 * query runs on a read-only connection of its own, so readers never block the writer nor see half a batch. */
#ifndef STOCKD_VIEW_H
#define STOCKD_VIEW_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "domain/domain.h"

/* Where an event is on the events topic: partition and offset. Tokens are "partition:offset". */
struct view_position {
    int32_t partition;
    int64_t offset;
};

/* An event's canonical JSON (codec_event_encode's bytes, not NUL-terminated) when the projector has it at
 * hand: the record on the topic was in that form (codec_event_decode_compact read it). text NULL: a view
 * that needs the JSON encodes the event itself. */
struct view_json {
    const char *text;
    size_t bytes;
};

/* The write side of a view, driven by the projector. All callbacks run on the projector's thread, inside a
 * transaction the projector opened (and commits together with the view's positions). */
struct view_ops {
    const char *name; /* "stock", "reservations", "history", "outcomes": file and schema directory name */
    /* Prepares the view's statements on the projector's read-write connection (already migrated), for the
     * instance's configuration (which outlives the state; the catalog reads catalog.source_precedence).
     * Returns the view's private state, or NULL with a message in error. */
    void *(*open)(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes);
    /* Folds one event (which may be of a type the view ignores: then it does nothing and returns 0).
     * Returns 0, or -1 with a message on a SQLite error (the projector then rolls the batch back). */
    int (*apply)(void *state, const struct event *event, struct view_position position, struct view_json json,
                 char *error, size_t error_bytes);
    /* Finalises the statements. Accepts NULL. */
    void (*close)(void *state);
};

/* The four built-in views, each defined in src/views/<name>.c. */
extern const struct view_ops view_stock_ops;
extern const struct view_ops view_reservations_ops;
extern const struct view_ops view_history_ops;
extern const struct view_ops view_outcomes_ops;

#endif
