/* order_store.c - the order stage's SQLite shard for one partition of <prefix>.orders.
 *
 * Prepared statements over schema/orders/; one transaction per batch; the checkpoint is a row of the same
 * transaction, so the orders and their checkpoint always agree. No Kafka here. */
#include "store/order_store.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "domain/order_codec.h"
#include "store/sqlite_util.h"

enum order_statement {
    STATEMENT_META_GET,
    STATEMENT_META_PUT,
    STATEMENT_ORDER_GET,
    STATEMENT_ORDER_PUT,
    STATEMENT_DUE,
    STATEMENT_DEADLINE_CLEAR,
    STATEMENT_EACH,
    STATEMENT_COUNT
};

static const char *const statement_sql[STATEMENT_COUNT] = {
    [STATEMENT_META_GET] = "SELECT value FROM order_meta WHERE key = ?1",
    [STATEMENT_META_PUT] = "INSERT OR REPLACE INTO order_meta (key, value) VALUES (?1, ?2)",
    [STATEMENT_ORDER_GET] = "SELECT state FROM orders WHERE order_id = ?1",
    /* A new placing order gets its deadline; an existing one keeps what it has unless it stops placing. */
    [STATEMENT_ORDER_PUT] = "INSERT INTO orders (order_id, status, state, deadline_ms, offset)"
                            " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (order_id) DO UPDATE SET"
                            " status = excluded.status, state = excluded.state, offset = excluded.offset,"
                            " deadline_ms = CASE WHEN excluded.deadline_ms IS NULL THEN NULL"
                            " ELSE orders.deadline_ms END",
    [STATEMENT_DUE] = "SELECT order_id FROM orders WHERE deadline_ms IS NOT NULL AND deadline_ms <= ?1"
                      " ORDER BY deadline_ms LIMIT ?2",
    [STATEMENT_DEADLINE_CLEAR] = "UPDATE orders SET deadline_ms = NULL WHERE order_id = ?1",
    [STATEMENT_EACH] = "SELECT state, order_id, status, offset FROM orders ORDER BY order_id",
};

#define ORDER_META_CHECKPOINT "checkpoint"
#define ORDER_META_PARTITION  "partition"

struct order_store {
    sqlite3 *db;
    int32_t partition;
    int64_t checkpoint; /* committed value */
    bool in_transaction;
    sqlite3_stmt *statements[STATEMENT_COUNT];
};

int order_store_path(const char *data_dir, int32_t partition, char *path, size_t path_bytes)
{
    assert(data_dir != NULL && partition >= 0);
    int written = snprintf(path, path_bytes, "%s/orders/orders-%04d.db", data_dir, (int)partition);
    return written < 0 || (size_t)written >= path_bytes ? -1 : 0;
}

/* mkdir -p for the parent directories of path. */
static int directories_create(const char *path, char *error, size_t error_bytes)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof(buffer), "%s", path) >= (int)sizeof(buffer)) {
        snprintf(error, error_bytes, "path too long: %s", path);
        return -1;
    }
    for (char *slash = strchr(buffer + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(buffer, 0750) != 0 && errno != EEXIST) {
            snprintf(error, error_bytes, "cannot create %s: %s", buffer, strerror(errno));
            return -1;
        }
        *slash = '/';
    }
    return 0;
}

static sqlite3_stmt *statement_get(struct order_store *store, enum order_statement which)
{
    sqlite3_stmt *statement = store->statements[which];
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return statement;
}

static int sqlite_fail(struct order_store *store, char *error, size_t error_bytes)
{
    snprintf(error, error_bytes, "orders shard %d: %s", (int)store->partition, sqlite3_errmsg(store->db));
    return -1;
}

static int step_done(struct order_store *store, sqlite3_stmt *statement, char *error, size_t error_bytes)
{
    int status = sqlite3_step(statement);
    sqlite3_reset(statement);
    return status == SQLITE_DONE ? 0 : sqlite_fail(store, error, error_bytes);
}

static int meta_get(struct order_store *store, const char *key, int64_t *value, char *error,
                    size_t error_bytes)
{
    sqlite3_stmt *statement = statement_get(store, STATEMENT_META_GET);
    sqlite3_bind_text(statement, 1, key, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW) *value = sqlite3_column_int64(statement, 0);
    sqlite3_reset(statement);
    if (status == SQLITE_ROW) return 1;
    return status == SQLITE_DONE ? 0 : sqlite_fail(store, error, error_bytes);
}

static int meta_put(struct order_store *store, const char *key, int64_t value, char *error,
                    size_t error_bytes)
{
    sqlite3_stmt *statement = statement_get(store, STATEMENT_META_PUT);
    sqlite3_bind_text(statement, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, value);
    return step_done(store, statement, error, error_bytes);
}

static int store_prepare(struct order_store *store, char *error, size_t error_bytes)
{
    for (int i = 0; i < STATEMENT_COUNT; i++) {
        store->statements[i] = sqlite_util_prepare(store->db, statement_sql[i], error, error_bytes);
        if (store->statements[i] == NULL) return -1;
    }
    int64_t partition = -1;
    int found = meta_get(store, ORDER_META_PARTITION, &partition, error, error_bytes);
    if (found < 0) return -1;
    if (found == 0) {
        if (meta_put(store, ORDER_META_PARTITION, store->partition, error, error_bytes) != 0) return -1;
    } else if (partition != store->partition) {
        snprintf(error, error_bytes, "orders shard file of partition %lld opened as partition %d",
                 (long long)partition, (int)store->partition);
        return -1;
    }
    store->checkpoint = 0;
    return meta_get(store, ORDER_META_CHECKPOINT, &store->checkpoint, error, error_bytes) < 0 ? -1 : 0;
}

struct order_store *order_store_open(const char *data_dir, int32_t partition, char *error, size_t error_bytes)
{
    assert(data_dir != NULL && partition >= 0);
    char path[4096];
    if (order_store_path(data_dir, partition, path, sizeof(path)) != 0) {
        snprintf(error, error_bytes, "data_dir too long: %s", data_dir);
        return NULL;
    }
    if (directories_create(path, error, error_bytes) != 0) return NULL;
    struct order_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    store->partition = partition;
    store->db = sqlite_util_open(path, 1, error, error_bytes);
    if (store->db == NULL || sqlite_util_migrate(store->db, "orders", error, error_bytes) < 0 ||
        store_prepare(store, error, error_bytes) != 0) {
        order_store_close(store);
        return NULL;
    }
    return store;
}

void order_store_close(struct order_store *store)
{
    if (store == NULL) return;
    order_store_rollback(store);
    for (int i = 0; i < STATEMENT_COUNT; i++)
        sqlite3_finalize(store->statements[i]);
    sqlite3_close(store->db);
    free(store);
}

int32_t order_store_partition(const struct order_store *store)
{
    return store->partition;
}

int64_t order_store_checkpoint(const struct order_store *store)
{
    return store->checkpoint;
}

int order_store_begin(struct order_store *store, char *error, size_t error_bytes)
{
    assert(store != NULL);
    if (store->in_transaction) return 0;
    if (sqlite_util_exec(store->db, "BEGIN IMMEDIATE", error, error_bytes) != 0) return -1;
    store->in_transaction = true;
    return 0;
}

int order_store_commit(struct order_store *store, int64_t checkpoint, char *error, size_t error_bytes)
{
    assert(store != NULL && store->in_transaction && checkpoint >= 0);
    if (meta_put(store, ORDER_META_CHECKPOINT, checkpoint, error, error_bytes) != 0 ||
        sqlite_util_exec(store->db, "COMMIT", error, error_bytes) != 0) {
        order_store_rollback(store);
        return -1;
    }
    store->in_transaction = false;
    store->checkpoint = checkpoint;
    return 0;
}

void order_store_rollback(struct order_store *store)
{
    if (store == NULL || !store->in_transaction) return;
    char ignored[128];
    sqlite_util_exec(store->db, "ROLLBACK", ignored, sizeof(ignored));
    store->in_transaction = false;
}

/* Decodes the state column of the current row. */
static int state_column(sqlite3_stmt *statement, struct order_state *out, char *error, size_t error_bytes)
{
    const char *json = (const char *)sqlite3_column_text(statement, 0);
    int json_bytes = sqlite3_column_bytes(statement, 0);
    struct codec_error codec_error;
    if (json == NULL || order_codec_state_decode(json, (size_t)json_bytes, out, &codec_error) != 0) {
        snprintf(error, error_bytes, "stored order is not valid: %s", json ? codec_error.message : "NULL");
        return -1;
    }
    return 1;
}

int order_store_load(struct order_store *store, const char *order_id, struct order_state *out, char *error,
                     size_t error_bytes)
{
    assert(store != NULL && order_id != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *statement = statement_get(store, STATEMENT_ORDER_GET);
    sqlite3_bind_text(statement, 1, order_id, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    int result = status == SQLITE_ROW    ? state_column(statement, out, error, error_bytes)
                 : status == SQLITE_DONE ? 0
                                         : sqlite_fail(store, error, error_bytes);
    sqlite3_reset(statement);
    return result;
}

int order_store_save(struct order_store *store, const struct order_state *state, int64_t offset,
                     int64_t saga_timeout_ms, char *error, size_t error_bytes)
{
    assert(store != NULL && store->in_transaction && state != NULL);
    assert(state->status != ORDER_STATUS_NONE && offset >= 0);
    char *json = order_codec_state_encode(state);
    if (json == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return -1;
    }
    sqlite3_stmt *statement = statement_get(store, STATEMENT_ORDER_PUT);
    sqlite3_bind_text(statement, 1, state->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, order_status_name(state->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, json, -1, SQLITE_STATIC);
    if (state->status == ORDER_STATUS_PLACING)
        sqlite3_bind_int64(statement, 4, state->submitted_ms + saga_timeout_ms);
    else
        sqlite3_bind_null(statement, 4);
    sqlite3_bind_int64(statement, 5, offset);
    int status = step_done(store, statement, error, error_bytes);
    free(json);
    return status;
}

int order_store_due(struct order_store *store, int64_t now_ms,
                    char (*order_ids)[STOCKD_ORDER_ID_BYTES_MAX + 1], int max, char *error,
                    size_t error_bytes)
{
    assert(store != NULL && order_ids != NULL && max > 0);
    sqlite3_stmt *statement = statement_get(store, STATEMENT_DUE);
    sqlite3_bind_int64(statement, 1, now_ms);
    sqlite3_bind_int(statement, 2, max);
    int count = 0;
    int status;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW && count < max) {
        const char *order_id = (const char *)sqlite3_column_text(statement, 0);
        snprintf(order_ids[count++], STOCKD_ORDER_ID_BYTES_MAX + 1, "%s", order_id ? order_id : "");
    }
    sqlite3_reset(statement);
    return status == SQLITE_DONE || status == SQLITE_ROW ? count : sqlite_fail(store, error, error_bytes);
}

int order_store_deadline_sent(struct order_store *store, const char *order_id, char *error,
                              size_t error_bytes)
{
    assert(store != NULL && store->in_transaction && order_id != NULL);
    sqlite3_stmt *statement = statement_get(store, STATEMENT_DEADLINE_CLEAR);
    sqlite3_bind_text(statement, 1, order_id, -1, SQLITE_STATIC);
    return step_done(store, statement, error, error_bytes);
}

/* Opens a partition's shard read-only with a read transaction begun (a snapshot), its path in path. Returns
 * 1, 0 when the stage has not created it yet, or -1 with a message. */
static int snapshot_open(const char *data_dir, int32_t partition, char *path, size_t path_bytes, sqlite3 **db,
                         char *error, size_t error_bytes)
{
    *db = NULL;
    if (order_store_path(data_dir, partition, path, path_bytes) != 0) {
        snprintf(error, error_bytes, "data_dir too long: %s", data_dir);
        return -1;
    }
    if (access(path, F_OK) != 0) return 0; /* the stage has not opened this partition yet */
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, 5000);
    if (sqlite_util_exec(*db, "BEGIN", error, error_bytes) != 0) {
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 1;
}

int order_store_read(const char *data_dir, int32_t partition, const char *order_id, struct order_state *out,
                     int64_t *checkpoint, char *error, size_t error_bytes)
{
    assert(data_dir != NULL && order_id != NULL && out != NULL && checkpoint != NULL);
    memset(out, 0, sizeof(*out));
    *checkpoint = 0;
    char path[4096];
    sqlite3 *db = NULL;
    int opened = snapshot_open(data_dir, partition, path, sizeof(path), &db, error, error_bytes);
    if (opened <= 0) return opened;
    int result = -1;
    sqlite3_stmt *state_statement = NULL;
    sqlite3_stmt *meta_statement = NULL;
    if (sqlite3_prepare_v2(db, statement_sql[STATEMENT_ORDER_GET], -1, &state_statement, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, statement_sql[STATEMENT_META_GET], -1, &meta_statement, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%s: %s", path, sqlite3_errmsg(db));
        goto out_close;
    }
    sqlite3_bind_text(meta_statement, 1, ORDER_META_CHECKPOINT, -1, SQLITE_STATIC);
    int status = sqlite3_step(meta_statement);
    if (status == SQLITE_ROW) *checkpoint = sqlite3_column_int64(meta_statement, 0);
    sqlite3_bind_text(state_statement, 1, order_id, -1, SQLITE_STATIC);
    if (status == SQLITE_ROW || status == SQLITE_DONE) status = sqlite3_step(state_statement);
    if (status == SQLITE_ROW)
        result = state_column(state_statement, out, error, error_bytes);
    else if (status == SQLITE_DONE)
        result = 0;
    else
        snprintf(error, error_bytes, "%s: %s", path, sqlite3_errmsg(db));
out_close:
    sqlite3_finalize(state_statement);
    sqlite3_finalize(meta_statement);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return result;
}

/* Visits every order of a scan's snapshot (db has its transaction open). Returns 0 or -1 with a message. */
static int scan_orders(sqlite3 *db, const char *path, order_store_visit_fn visit, void *context, char *error,
                       size_t error_bytes)
{
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2(db, statement_sql[STATEMENT_EACH], -1, &statement, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    struct order_state *state = malloc(sizeof(*state)); /* tens of KB: not on the stack */
    int status = state == NULL ? SQLITE_NOMEM : SQLITE_ROW;
    while (status == SQLITE_ROW && (status = sqlite3_step(statement)) == SQLITE_ROW) {
        char decoded[256] = "";
        bool valid = state_column(statement, state, decoded, sizeof(decoded)) == 1;
        const char *order_id = (const char *)sqlite3_column_text(statement, 1);
        const char *status_name = (const char *)sqlite3_column_text(statement, 2);
        if (visit(context, order_id ? order_id : "", status_name ? status_name : "", valid ? state : NULL,
                  decoded, sqlite3_column_int64(statement, 3)) != 0) {
            snprintf(error, error_bytes, "%s: stopped by its reader", path);
            status = SQLITE_ABORT;
        }
    }
    if (status != SQLITE_DONE && status != SQLITE_ABORT)
        snprintf(error, error_bytes, "%s: %s", path, state == NULL ? "out of memory" : sqlite3_errmsg(db));
    free(state);
    sqlite3_finalize(statement);
    return status == SQLITE_DONE ? 0 : -1;
}

int order_store_scan(const char *data_dir, int32_t partition, int64_t *checkpoint, order_store_visit_fn visit,
                     void *context, char *error, size_t error_bytes)
{
    assert(data_dir != NULL && partition >= 0 && checkpoint != NULL);
    *checkpoint = 0;
    char path[4096];
    sqlite3 *db = NULL;
    int opened = snapshot_open(data_dir, partition, path, sizeof(path), &db, error, error_bytes);
    if (opened <= 0) return opened;
    int result = -1;
    sqlite3_stmt *meta_statement = NULL;
    if (sqlite3_prepare_v2(db, statement_sql[STATEMENT_META_GET], -1, &meta_statement, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%s: %s", path, sqlite3_errmsg(db));
        goto out_rollback;
    }
    sqlite3_bind_text(meta_statement, 1, ORDER_META_CHECKPOINT, -1, SQLITE_STATIC);
    int status = sqlite3_step(meta_statement);
    if (status == SQLITE_ROW) *checkpoint = sqlite3_column_int64(meta_statement, 0);
    if (status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", path, sqlite3_errmsg(db));
        goto out_rollback;
    }
    result = visit == NULL || scan_orders(db, path, visit, context, error, error_bytes) == 0 ? 1 : -1;
out_rollback:
    sqlite3_finalize(meta_statement);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return result;
}
