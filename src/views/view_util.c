/* view_util.c - helpers shared by the view modules: statements, bounded reads, cursors, page limits.
 *
 * Cursors are base64url (RFC 4648 section 5, no padding) of a kind byte and a payload, decoded strictly:
 * one cursor per position, anything else is the caller's error, never a crash. */
#include "views/view_util.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "domain/codec.h"
#include "store/sqlite_util.h"
#include "views/query.h"

int view_statements_prepare(sqlite3 *db, const char *view_name, const char *const *sql, int count,
                            sqlite3_stmt **statements, char *error, size_t error_bytes)
{
    assert(db != NULL && view_name != NULL && sql != NULL && statements != NULL);
    for (int i = 0; i < count; i++) {
        assert(statements[i] == NULL && sql[i] != NULL);
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &statements[i], NULL) !=
            SQLITE_OK) {
            snprintf(error, error_bytes, "%s: prepare failed (is the view migrated?): %s", view_name,
                     sqlite3_errmsg(db));
            sqlite3_finalize(statements[i]);
            statements[i] = NULL;
            return -1;
        }
    }
    return 0;
}

void view_statements_finalize(sqlite3_stmt **statements, int count)
{
    for (int i = 0; i < count; i++) {
        sqlite3_finalize(statements[i]);
        statements[i] = NULL;
    }
}

sqlite3_stmt *view_statement_reset(sqlite3_stmt *statement)
{
    assert(statement != NULL);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return statement;
}

int view_step_done(sqlite3_stmt *statement, const char *view_name, char *error, size_t error_bytes)
{
    assert(statement != NULL && view_name != NULL);
    int status = sqlite3_step(statement);
    if (status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", view_name, sqlite3_errmsg(sqlite3_db_handle(statement)));
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement); /* the bound strings are the caller's: keep no pointer to them */
    return status == SQLITE_DONE ? 0 : -1;
}

sqlite3_stmt *view_query_prepare(sqlite3 *reader, const char *sql, char *error, size_t error_bytes)
{
    assert(reader != NULL && sql != NULL);
    assert(!sqlite3_get_autocommit(reader) && "view queries run inside the caller's read transaction");
    char reason[256];
    sqlite3_stmt *statement = sqlite_util_cached_take(reader, sql, reason, sizeof(reason));
    if (statement == NULL) snprintf(error, error_bytes, "query failed to prepare: %s", reason);
    return statement;
}

void view_query_finish(sqlite3_stmt *statement)
{
    sqlite_util_cached_release(statement);
}

int view_column_text(sqlite3_stmt *statement, int column, char *out, size_t out_bytes, const char *what,
                     char *error, size_t error_bytes)
{
    assert(statement != NULL && out != NULL && out_bytes > 0);
    const unsigned char *text = sqlite3_column_text(statement, column);
    size_t length = (size_t)sqlite3_column_bytes(statement, column);
    if (text == NULL) length = 0;
    if (length >= out_bytes || (length > 0 && memchr(text, '\0', length) != NULL)) {
        snprintf(error, error_bytes, "stored %s is not a string of at most %zu bytes", what, out_bytes - 1);
        return -1;
    }
    if (length > 0) memcpy(out, text, length);
    out[length] = '\0';
    return 0;
}

int view_limit_check(uint32_t limit, char *error, size_t error_bytes)
{
    if (limit >= 1 && limit <= VIEW_PAGE_MAX) return 0;
    snprintf(error, error_bytes, "limit must be in [1, %d], got %lu", VIEW_PAGE_MAX, (unsigned long)limit);
    return VIEW_QUERY_INVALID;
}

int view_identifier_check(const char *text, size_t max_bytes, const char *what, char *error,
                          size_t error_bytes)
{
    assert(what != NULL);
    if (text != NULL && codec_identifier_valid(text, max_bytes)) return 0;
    snprintf(error, error_bytes,
             "%s must be 1 to %zu characters of [A-Za-z0-9._:-], starting with a letter or digit", what,
             max_bytes);
    return VIEW_QUERY_INVALID;
}

/* ---- cursors ------------------------------------------------------------------------------------------- */

static const char base64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of a base64url character, or -1. */
static int base64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Encodes bytes as base64url without padding; out must hold 4 * ceil(length / 3) + 1 bytes. */
static void base64url_encode(const unsigned char *bytes, size_t length, char *out)
{
    size_t written = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t group = (uint32_t)bytes[i] << 16;
        if (i + 1 < length) group |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < length) group |= bytes[i + 2];
        size_t characters = length - i >= 3 ? 4 : length - i + 1;
        for (size_t k = 0; k < characters; k++)
            out[written++] = base64url_alphabet[(group >> (18 - 6 * k)) & 0x3F];
    }
    out[written] = '\0';
}

/* Decodes canonical base64url without padding into out (out_bytes at least). Returns the number of bytes,
 * or -1: a character outside the alphabet, a length that no encoding has (4n + 1), non-zero unused bits
 * in the last character (so that each byte string has exactly one cursor), or too many bytes. */
static long base64url_decode(const char *text, size_t length, unsigned char *out, size_t out_bytes)
{
    if (length % 4 == 1) return -1;
    size_t written = 0;
    uint32_t bits = 0;
    int bit_count = 0;
    for (size_t i = 0; i < length; i++) {
        int value = base64url_value(text[i]);
        if (value < 0) return -1;
        bits = (bits << 6) | (uint32_t)value;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (written == out_bytes) return -1;
            out[written++] = (unsigned char)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    if (bits != 0) return -1;
    return (long)written;
}

void view_cursor_encode(char kind, const char *payload, char out[])
{
    assert(payload != NULL);
    unsigned char raw[(VIEW_CURSOR_BYTES_MAX / 4) * 3];
    size_t length = strlen(payload);
    assert(1 + length <= sizeof(raw) && "cursor payload fits VIEW_CURSOR_BYTES_MAX");
    raw[0] = (unsigned char)kind;
    memcpy(raw + 1, payload, length);
    base64url_encode(raw, 1 + length, out);
}

int view_cursor_decode(const char *cursor, char kind, char *payload, size_t payload_bytes, char *error,
                       size_t error_bytes)
{
    assert(cursor != NULL && payload != NULL && payload_bytes > 0);
    size_t length = strnlen(cursor, VIEW_CURSOR_BYTES_MAX + 1);
    if (length > VIEW_CURSOR_BYTES_MAX) {
        snprintf(error, error_bytes, "cursor is longer than %d characters", VIEW_CURSOR_BYTES_MAX);
        return VIEW_QUERY_INVALID;
    }
    unsigned char raw[(VIEW_CURSOR_BYTES_MAX / 4) * 3];
    long raw_length = base64url_decode(cursor, length, raw, sizeof(raw));
    if (raw_length < 1) {
        snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
        return VIEW_QUERY_INVALID;
    }
    if (raw[0] != (unsigned char)kind) {
        snprintf(error, error_bytes, "cursor belongs to another listing or order");
        return VIEW_QUERY_INVALID;
    }
    size_t payload_length = (size_t)raw_length - 1;
    if (payload_length >= payload_bytes || memchr(raw + 1, '\0', payload_length) != NULL) {
        snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
        return VIEW_QUERY_INVALID;
    }
    memcpy(payload, raw + 1, payload_length);
    payload[payload_length] = '\0';
    return 0;
}
