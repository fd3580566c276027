/* view_util.h - what the four views share: statement sets, bounded column reads, cursors, page limits.
 *
 * Internal to src/views/: the projector and the API use view.h and query.h only. */
#ifndef STOCKD_VIEW_UTIL_H
#define STOCKD_VIEW_UTIL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Prepares count persistent statements from sql[] into statements[] (all NULL on entry). Returns 0, or
 * -1 with a message naming the view in error; the statements prepared so far are left for
 * view_statements_finalize. */
int view_statements_prepare(sqlite3 *db, const char *view_name, const char *const *sql, int count,
                            sqlite3_stmt **statements, char *error, size_t error_bytes);

/* Finalises count statements (NULL ones are skipped). */
void view_statements_finalize(sqlite3_stmt **statements, int count);

/* Resets a statement and clears its bindings, for its next use. Returns it. */
sqlite3_stmt *view_statement_reset(sqlite3_stmt *statement);

/* Steps a statement that returns no row, then resets it and clears its bindings (which may point into
 * the caller's event). Returns 0, or -1 with "<view>: <sqlite error>" in error. */
int view_step_done(sqlite3_stmt *statement, const char *view_name, char *error, size_t error_bytes);

/* Takes a query statement for sql on a reader, which must be inside a transaction (asserted: see query.h).
 * Statements are kept on the reader and reused (sqlite_util_cached_take): give it back with
 * view_query_finish before taking the same SQL again. Returns it, or NULL with a message in error. */
sqlite3_stmt *view_query_prepare(sqlite3 *reader, const char *sql, char *error, size_t error_bytes);

/* Gives a statement from view_query_prepare back to its reader (reset, bindings cleared). */
void view_query_finish(sqlite3_stmt *statement);

/* Copies a text column into out (out_bytes includes the NUL). Returns 0, or -1 with a message naming
 * what when the stored value is NULL-free text too long for out (a file that is not what we wrote). */
int view_column_text(sqlite3_stmt *statement, int column, char *out, size_t out_bytes, const char *what,
                     char *error, size_t error_bytes);

/* Refuses a page limit of 0 or above VIEW_PAGE_MAX. Returns 0, or VIEW_QUERY_INVALID with a message. */
int view_limit_check(uint32_t limit, char *error, size_t error_bytes);

/* Refuses what cannot be an identifier of at most max_bytes (codec_identifier_valid). Returns 0, or
 * VIEW_QUERY_INVALID with a message naming what. */
int view_identifier_check(const char *text, size_t max_bytes, const char *what, char *error,
                          size_t error_bytes);

/* Encodes a cursor: kind (one byte telling which listing it belongs to) then payload, as base64url without
 * padding into out (VIEW_CURSOR_BYTES_MAX + 1 bytes). The result always fits (asserted). */
void view_cursor_encode(char kind, const char *payload, char out[]);

/* Decodes a cursor made by view_cursor_encode for the listing kind. Writes the payload, NUL-terminated,
 * into payload (payload_bytes includes the NUL). Returns 0, or VIEW_QUERY_INVALID with a message when the
 * cursor is too long, not canonical base64url, of another listing, or its payload does not fit. */
int view_cursor_decode(const char *cursor, char kind, char *payload, size_t payload_bytes, char *error,
                       size_t error_bytes);

#endif
