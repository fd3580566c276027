/* view_harness.h - one view opened as the projector opens it, for tests that fold events by hand.
 *
 * A migrated database in a directory of the test's, the view's write state on a read-write connection, and
 * a read-only connection for its queries (src/views/query.h). Folds run in explicit batches, as the
 * projector's do. Test support: nothing in stockd uses it. */
#ifndef STOCKD_VIEW_HARNESS_H
#define STOCKD_VIEW_HARNESS_H

#include <sqlite3.h>
#include <stddef.h>

#include "views/view.h"

struct view_harness {
    const struct view_ops *ops;
    sqlite3 *db;     /* read-write, the projector's */
    void *state;     /* the view's statements */
    sqlite3 *reader; /* read-only, the queries' */
    char error[512];
};

/* Opens <dir>/<name>.db, migrated. Returns 0, or -1 with harness->error set. */
int view_harness_open(struct view_harness *harness, const char *dir, const struct view_ops *ops);

/* BEGIN IMMEDIATE, and COMMIT. Return 0, or -1 with harness->error set. */
int view_harness_begin(struct view_harness *harness);
int view_harness_commit(struct view_harness *harness);

/* Folds one event inside a batch. Returns 0, or -1 with harness->error set. */
int view_harness_apply(struct view_harness *harness, const struct event *event, struct view_position position,
                       struct view_json json);

/* Closes both connections. Accepts a harness never opened (zeroed). */
void view_harness_close(struct view_harness *harness);

#endif
