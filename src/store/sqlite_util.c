/* sqlite_util.c - opening, migrating and running statements on stockd's SQLite databases.
 *
 * Every database is one file in WAL mode; migrations come from schema/<kind>/NNN_*.sql compiled into
 * the binary (store/schema_files.h) and are tracked with PRAGMA user_version. */
#include "store/sqlite_util.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/schema_files.h"

int sqlite_util_exec(sqlite3 *db, const char *sql, char *error, size_t error_bytes)
{
    assert(db != NULL && sql != NULL);
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) == SQLITE_OK) return 0;
    snprintf(error, error_bytes, "%s", message ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    return -1;
}

sqlite3_stmt *sqlite_util_prepare(sqlite3 *db, const char *sql, char *error, size_t error_bytes)
{
    assert(db != NULL && sql != NULL);
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "prepare failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(statement);
        return NULL;
    }
    return statement;
}

/* ---- statements kept on a connection ---------------------------------------------------------------- */

/* Every statement sqlite_util_cached_take prepares starts with this comment: a connection also holds
 * statements it did not prepare (FTS5 prepares its own on the connection and finalises them itself when
 * the table disconnects), and only the marked ones are this module's to reuse, count and finalise. */
#define CACHED_MARK       "/* stockd cached */ "
#define CACHED_MARK_BYTES (sizeof(CACHED_MARK) - 1)

/* Whether a statement is one of ours: marked, and (when sql is not NULL) for this SQL text. */
static bool cached_is_ours(sqlite3_stmt *statement, const char *sql)
{
    const char *text = sqlite3_sql(statement);
    if (text == NULL || strncmp(text, CACHED_MARK, CACHED_MARK_BYTES) != 0) return false;
    return sql == NULL || strcmp(text + CACHED_MARK_BYTES, sql) == 0;
}

sqlite3_stmt *sqlite_util_cached_take(sqlite3 *db, const char *sql, char *error, size_t error_bytes)
{
    assert(db != NULL && sql != NULL);
    int kept = 0;
    for (sqlite3_stmt *statement = sqlite3_next_stmt(db, NULL); statement != NULL;
         statement = sqlite3_next_stmt(db, statement)) {
        if (!cached_is_ours(statement, NULL)) continue;
        kept++;
        if (!sqlite3_stmt_busy(statement) && cached_is_ours(statement, sql)) return statement;
    }
    /* Each distinct SQL text (all of them constants in the views) is kept once, so more means statements
     * that were never given back: a bug, caught by tests; a release build refuses rather than grow. */
    assert(kept < SQLITE_UTIL_CACHED_MAX);
    if (kept >= SQLITE_UTIL_CACHED_MAX) {
        snprintf(error, error_bytes, "%d statements kept on one connection already", SQLITE_UTIL_CACHED_MAX);
        return NULL;
    }
    size_t sql_bytes = strlen(sql);
    char *marked = malloc(CACHED_MARK_BYTES + sql_bytes + 1);
    if (marked == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    memcpy(marked, CACHED_MARK, CACHED_MARK_BYTES);
    memcpy(marked + CACHED_MARK_BYTES, sql, sql_bytes + 1);
    sqlite3_stmt *statement = sqlite_util_prepare(db, marked, error, error_bytes);
    free(marked);
    return statement;
}

void sqlite_util_cached_release(sqlite3_stmt *statement)
{
    if (statement == NULL) return;
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
}

int sqlite_util_cached_run(sqlite3 *db, const char *sql)
{
    char error[256];
    sqlite3_stmt *statement = sqlite_util_cached_take(db, sql, error, sizeof(error));
    if (statement == NULL) return SQLITE_ERROR;
    int status = sqlite3_step(statement);
    sqlite_util_cached_release(statement);
    return status;
}

void sqlite_util_cached_close(sqlite3 *db)
{
    if (db == NULL) return;
    /* Ours first, one at a time from the start (finalising unlinks it); then the close disconnects the
     * virtual tables, which finalise theirs. */
    for (bool found = true; found;) {
        found = false;
        for (sqlite3_stmt *statement = sqlite3_next_stmt(db, NULL); statement != NULL;
             statement = sqlite3_next_stmt(db, statement)) {
            if (!cached_is_ours(statement, NULL)) continue;
            sqlite3_finalize(statement);
            found = true;
            break;
        }
    }
    sqlite3_close_v2(db);
}

void sqlite_util_process_init(void)
{
    /* Memory statistics take SQLite's global mutex on every allocation: with 64 HTTP threads reading views
     * that mutex was the hottest lock of GET /v1/skus/{sku}. stockd never reads the statistics. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

sqlite3 *sqlite_util_open(const char *path, int create, char *error, size_t error_bytes)
{
    assert(path != NULL);
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(error, error_bytes, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    /* WAL: readers never block the writer. synchronous=NORMAL: a power cut may lose the last commits, never
     * consistency; whatever is lost is restored from Kafka, the source of truth. */
    if (sqlite_util_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
                         error, error_bytes) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* The migration number of a schema file path "<kind>/NNN_name.sql", or 0 when it is not of that kind. */
static int migration_number(const char *path, const char *kind)
{
    size_t kind_length = strlen(kind);
    if (strncmp(path, kind, kind_length) != 0 || path[kind_length] != '/') return 0;
    const char *name = path + kind_length + 1;
    if (strchr(name, '/') != NULL) return 0;
    return atoi(name);
}

int sqlite_util_schema_version(const char *kind)
{
    int newest = 0;
    for (const struct schema_file *file = schema_files; file->path != NULL; file++) {
        int number = migration_number(file->path, kind);
        if (number > newest) newest = number;
    }
    return newest;
}

static int user_version_get(sqlite3 *db)
{
    sqlite3_stmt *statement = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, NULL) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW)
        version = sqlite3_column_int(statement, 0);
    sqlite3_finalize(statement);
    return version;
}

/* Applies one migration and records its number, atomically. */
static int migration_apply(sqlite3 *db, const struct schema_file *file, int number, char *error,
                           size_t error_bytes)
{
    char sql[64];
    if (sqlite_util_exec(db, "BEGIN IMMEDIATE", error, error_bytes) != 0) return -1;
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", number);
    char detail[256];
    if (sqlite_util_exec(db, file->sql, detail, sizeof(detail)) != 0 ||
        sqlite_util_exec(db, sql, detail, sizeof(detail)) != 0) {
        snprintf(error, error_bytes, "migration %s failed: %s", file->path, detail);
        sqlite_util_exec(db, "ROLLBACK", detail, sizeof(detail));
        return -1;
    }
    return sqlite_util_exec(db, "COMMIT", error, error_bytes);
}

int sqlite_util_migrate(sqlite3 *db, const char *kind, char *error, size_t error_bytes)
{
    assert(db != NULL && kind != NULL);
    int version = user_version_get(db);
    int newest = sqlite_util_schema_version(kind);
    if (version < 0) {
        snprintf(error, error_bytes, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version > newest) {
        snprintf(error, error_bytes, "schema version %d is newer than this stockd knows (%d) for %s", version,
                 newest, kind);
        return -1;
    }
    /* schema_files is sorted by path, so numbered files of a kind come in order. */
    for (const struct schema_file *file = schema_files; file->path != NULL; file++) {
        int number = migration_number(file->path, kind);
        if (number <= version) continue;
        if (migration_apply(db, file, number, error, error_bytes) != 0) return -1;
        version = number;
    }
    return version;
}
