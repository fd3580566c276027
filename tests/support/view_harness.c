/* view_harness.c - one view opened as the projector opens it (contract in view_harness.h). */
#include "view_harness.h"

#include <assert.h>
#include <stdio.h>

#include "store/sqlite_util.h"

int view_harness_open(struct view_harness *harness, const char *dir, const struct view_ops *ops)
{
    assert(harness != NULL && dir != NULL && ops != NULL);
    char path[512];
    char kind[64];
    snprintf(path, sizeof(path), "%s/%s.db", dir, ops->name);
    snprintf(kind, sizeof(kind), "views/%s", ops->name);
    harness->ops = ops;
    harness->db = sqlite_util_open(path, 1, harness->error, sizeof(harness->error));
    if (harness->db == NULL) return -1;
    if (sqlite_util_migrate(harness->db, kind, harness->error, sizeof(harness->error)) < 0) return -1;
    static struct stockd_config defaults; /* the built-in configuration: no test changes it */
    stockd_config_defaults(&defaults);
    harness->state = ops->open(harness->db, &defaults, harness->error, sizeof(harness->error));
    if (harness->state == NULL) return -1;
    if (sqlite3_open_v2(path, &harness->reader, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(harness->error, sizeof(harness->error), "%s: cannot open a reader", ops->name);
        return -1;
    }
    return 0;
}

int view_harness_begin(struct view_harness *harness)
{
    return sqlite_util_exec(harness->db, "BEGIN IMMEDIATE", harness->error, sizeof(harness->error));
}

int view_harness_commit(struct view_harness *harness)
{
    return sqlite_util_exec(harness->db, "COMMIT", harness->error, sizeof(harness->error));
}

int view_harness_apply(struct view_harness *harness, const struct event *event, struct view_position position,
                       struct view_json json)
{
    return harness->ops->apply(harness->state, event, position, json, harness->error, sizeof(harness->error));
}

void view_harness_close(struct view_harness *harness)
{
    if (harness->ops != NULL && harness->state != NULL) harness->ops->close(harness->state);
    if (harness->reader != NULL) sqlite_util_cached_close(harness->reader); /* queries cache statements */
    if (harness->db != NULL) sqlite3_close(harness->db);
    harness->state = NULL;
    harness->reader = NULL;
    harness->db = NULL;
}
