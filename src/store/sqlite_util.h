/* sqlite_util.h - small SQLite helpers shared by the handler's shards and the views.
 *
 * Opening with the pragmas stockd relies on (WAL, foreign keys off, busy timeout), applying the
 * numbered migrations of schema/<kind>/ in order, and running a statement with a clear error. */
#ifndef STOCKD_SQLITE_UTIL_H
#define STOCKD_SQLITE_UTIL_H

#include <sqlite3.h>
#include <stddef.h>

/* Process-wide SQLite settings; call before any other SQLite use (later calls change nothing). */
void sqlite_util_process_init(void);

/* Opens (creating when create is non-zero) a database in WAL mode with synchronous=NORMAL. Returns the
 * handle, or NULL with a message in error. */
sqlite3 *sqlite_util_open(const char *path, int create, char *error, size_t error_bytes);

/* Applies the migrations schema/<kind>/NNN_*.sql whose number is above PRAGMA user_version, each in its
 * own transaction, and sets user_version. Refuses a database newer than this binary. Returns the
 * resulting version, or -1 with a message in error. */
int sqlite_util_migrate(sqlite3 *db, const char *kind, char *error, size_t error_bytes);

/* The number of the newest migration of a kind (0 when there is none). */
int sqlite_util_schema_version(const char *kind);

/* Runs SQL without results. Returns 0, or -1 with a message in error. */
int sqlite_util_exec(sqlite3 *db, const char *sql, char *error, size_t error_bytes);

/* Prepares a statement (persistent: it is kept for the life of the connection). Returns it, or NULL with
 * a message in error (out of memory, or a database whose schema is not what this binary expects). */
sqlite3_stmt *sqlite_util_prepare(sqlite3 *db, const char *sql, char *error, size_t error_bytes);

/* ---- statements kept on a connection ---------------------------------------------------------------
 * For connections that one thread at a time runs the same few queries on (the views' pooled readers):
 * parsing was about a third of the CPU of GET /v1/skus/{sku}. A statement taken here is the caller's until
 * it gives it back with sqlite_util_cached_release, and the caller must give it back before it takes the
 * same SQL again on that connection (a taken statement that has not run yet looks free). Statements are kept
 * until sqlite_util_cached_close: one per distinct SQL text, which the callers must keep below
 * SQLITE_UTIL_CACHED_MAX (asserted; past it a take fails instead of keeping more). */
#define SQLITE_UTIL_CACHED_MAX 32

/* A statement for sql, reset and without bindings: a kept one when there is one free, else a new one.
 * Returns NULL with a message in error. */
sqlite3_stmt *sqlite_util_cached_take(sqlite3 *db, const char *sql, char *error, size_t error_bytes);

/* Gives a statement from sqlite_util_cached_take back: reset, bindings cleared (they may point into the
 * caller's memory), kept for the next taker. Accepts NULL. */
void sqlite_util_cached_release(sqlite3_stmt *statement);

/* Runs a statement without results (BEGIN, COMMIT) through the kept statements. Returns its SQLite
 * status: SQLITE_DONE on success. */
int sqlite_util_cached_run(sqlite3 *db, const char *sql);

/* Finalises every statement sqlite_util_cached_take made on the connection and closes it (statements a
 * virtual table such as FTS5 prepared are its own to finalise). Accepts NULL. */
void sqlite_util_cached_close(sqlite3 *db);

#endif
