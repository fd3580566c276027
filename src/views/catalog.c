/* catalog.c - the catalog read model: sources, merged entries, FTS5 search, duplicate GTINs.
 *
 * Folds CatalogUpdated events into schema/views/catalog/: each replaces what its source said about the
 * SKU, then the SKU's merged entry and its search row are recomputed from all its sources (field by field
 * and key by key, the value of the highest-ranked source in catalog.source_precedence, the most recent
 * among equals). Ignores every other event. No Kafka here. */
#include "views/catalog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog.h"
#include "domain/codec.h"
#include "store/sqlite_util.h"
#include "views/view.h"
#include "views/view_util.h"

#define CATALOG_VIEW_NAME "catalog"

/* bm25 weights of the columns name, brand, description, attributes: a word in the name counts most. */
#define CATALOG_RANK_SQL "bm25(catalog_search, 10.0, 4.0, 1.0, 2.0)"

/* A source's rank for ORDER BY (catalog_sources as s): its place in catalog.source_precedence, which
 * catalog_open writes into a TEMP table of the projector's connection; unnamed sources rank below. */
#define CATALOG_RANK_OF_SOURCE_SQL                                                                           \
    "coalesce((SELECT p.rank FROM temp.catalog_precedence p WHERE p.source = s.source), 2147483647)"

/* Per field, the value of the source that wins: lowest rank, then highest sequence (unique per SKU). */
#define CATALOG_MERGED_SQL(column)                                                                           \
    "SELECT s." column " FROM catalog_sources s WHERE s.sku = ?1 AND s." column " <> ''"                     \
    " ORDER BY " CATALOG_RANK_OF_SOURCE_SQL ", s.sequence DESC LIMIT 1"

enum catalog_statement {
    CATALOG_SOURCE_DELETE,
    CATALOG_SOURCE_ATTRIBUTES_DELETE,
    CATALOG_SOURCE_UPSERT,
    CATALOG_SOURCE_ATTRIBUTE_INSERT,
    CATALOG_MERGED_NAME,
    CATALOG_MERGED_DESCRIPTION,
    CATALOG_MERGED_BRAND,
    CATALOG_ATTRIBUTES_DELETE,
    CATALOG_ATTRIBUTES_MERGE,
    CATALOG_SOURCE_ANY,
    CATALOG_SKU_UPSERT,
    CATALOG_SKU_DELETE,
    CATALOG_SEARCH_DELETE,
    CATALOG_SEARCH_INSERT,
    CATALOG_STATEMENT_COUNT
};

static const char *const catalog_statement_sql[CATALOG_STATEMENT_COUNT] = {
    [CATALOG_SOURCE_DELETE] = "DELETE FROM catalog_sources WHERE sku = ?1 AND source = ?2",
    [CATALOG_SOURCE_ATTRIBUTES_DELETE] =
        "DELETE FROM catalog_source_attributes WHERE sku = ?1 AND source = ?2",
    [CATALOG_SOURCE_UPSERT] =
        "INSERT OR REPLACE INTO catalog_sources (sku, source, name, description, brand, gtin, sequence,"
        " updated_ms, event_partition, event_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [CATALOG_SOURCE_ATTRIBUTE_INSERT] =
        "INSERT INTO catalog_source_attributes (sku, source, key, value) VALUES (?1, ?2, ?3, ?4)",
    [CATALOG_MERGED_NAME] = CATALOG_MERGED_SQL("name"),
    [CATALOG_MERGED_DESCRIPTION] = CATALOG_MERGED_SQL("description"),
    [CATALOG_MERGED_BRAND] = CATALOG_MERGED_SQL("brand"),
    [CATALOG_ATTRIBUTES_DELETE] = "DELETE FROM catalog_attributes WHERE sku = ?1",
    /* Per key, the value of the source that wins, as for the texts. */
    [CATALOG_ATTRIBUTES_MERGE] =
        "INSERT INTO catalog_attributes (sku, key, value, source)"
        " SELECT sku, key, value, source FROM (SELECT a.sku, a.key, a.value, a.source, row_number() OVER"
        "  (PARTITION BY a.key ORDER BY " CATALOG_RANK_OF_SOURCE_SQL ", s.sequence DESC) AS place"
        "  FROM catalog_source_attributes a JOIN catalog_sources s ON s.sku = a.sku AND s.source = a.source"
        "  WHERE a.sku = ?1) WHERE place = 1",
    [CATALOG_SOURCE_ANY] = "SELECT 1 FROM catalog_sources WHERE sku = ?1 LIMIT 1",
    [CATALOG_SKU_UPSERT] = "INSERT INTO catalog_skus (sku, name, description, brand, sequence, updated_ms)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (sku) DO UPDATE SET name = ?2,"
                           " description = ?3, brand = ?4, sequence = ?5, updated_ms = ?6 RETURNING id",
    [CATALOG_SKU_DELETE] = "DELETE FROM catalog_skus WHERE sku = ?1 RETURNING id",
    [CATALOG_SEARCH_DELETE] = "DELETE FROM catalog_search WHERE rowid = ?1",
    [CATALOG_SEARCH_INSERT] =
        "INSERT INTO catalog_search (rowid, name, brand, description, attributes)"
        " SELECT ?1, name, brand, description, (SELECT coalesce(group_concat(key || ' ' || value, ' '), '')"
        "  FROM catalog_attributes WHERE sku = ?2) FROM catalog_skus WHERE id = ?1",
};

struct catalog_view {
    sqlite3_stmt *statements[CATALOG_STATEMENT_COUNT];
    struct catalog_data merged; /* scratch for the merge: too big for the stack of every apply */
};

/* ---- fold ---------------------------------------------------------------------------------------------- */

static int catalog_error(sqlite3_stmt *statement, char *error, size_t error_bytes)
{
    snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(sqlite3_db_handle(statement)));
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return -1;
}

/* Replaces what the event's source says about its SKU (or removes it when the event says nothing). */
static int source_store(struct catalog_view *view, const struct event *event, struct view_position position,
                        char *error, size_t error_bytes)
{
    const struct catalog_data *data = &event->catalog;
    sqlite3_stmt *statement = view_statement_reset(view->statements[CATALOG_SOURCE_ATTRIBUTES_DELETE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, data->source, -1, SQLITE_STATIC);
    if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;
    bool empty = event->name[0] == '\0' && data->description[0] == '\0' && data->brand[0] == '\0' &&
                 data->attribute_count == 0;
    if (empty) {
        statement = view_statement_reset(view->statements[CATALOG_SOURCE_DELETE]);
        sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
        sqlite3_bind_text(statement, 2, data->source, -1, SQLITE_STATIC);
        return view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes);
    }
    const char *gtin = catalog_attribute_get(data, CATALOG_GTIN_KEY);
    char canonical[CATALOG_GTIN_DIGITS + 1];
    if (gtin != NULL) catalog_gtin_canonical(gtin, canonical); /* valid: the codec and evolve checked it */
    statement = view_statement_reset(view->statements[CATALOG_SOURCE_UPSERT]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, data->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, event->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 4, data->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 5, data->brand, -1, SQLITE_STATIC);
    if (gtin != NULL) sqlite3_bind_text(statement, 6, canonical, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 7, (sqlite3_int64)event->sequence);
    sqlite3_bind_int64(statement, 8, event->time_ms);
    sqlite3_bind_int(statement, 9, position.partition);
    sqlite3_bind_int64(statement, 10, position.offset);
    if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;
    for (uint32_t index = 0; index < data->attribute_count; index++) {
        statement = view_statement_reset(view->statements[CATALOG_SOURCE_ATTRIBUTE_INSERT]);
        sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
        sqlite3_bind_text(statement, 2, data->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(statement, 3, data->attributes[index].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(statement, 4, data->attributes[index].value, -1, SQLITE_STATIC);
        if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;
    }
    return 0;
}

/* Reads the one text column of a merge query into out ("" when no source has a value). */
static int merged_field(sqlite3_stmt *statement, const char *sku, char *out, size_t out_bytes, char *error,
                        size_t error_bytes)
{
    view_statement_reset(statement);
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    out[0] = '\0';
    int status = sqlite3_step(statement);
    if (status == SQLITE_ROW &&
        view_column_text(statement, 0, out, out_bytes, "merged field", error, error_bytes) != 0) {
        view_statement_reset(statement);
        return -1;
    }
    if (status != SQLITE_ROW && status != SQLITE_DONE) return catalog_error(statement, error, error_bytes);
    view_statement_reset(statement);
    return 0;
}

/* Steps a statement that returns at most one row holding an id. Returns 1 with *id, 0 without, or -1. */
static int step_id(sqlite3_stmt *statement, int64_t *id, char *error, size_t error_bytes)
{
    int status = sqlite3_step(statement);
    int found = status == SQLITE_ROW;
    if (found) {
        *id = sqlite3_column_int64(statement, 0);
        status = sqlite3_step(statement);
    }
    if (status != SQLITE_DONE) return catalog_error(statement, error, error_bytes);
    view_statement_reset(statement);
    return found;
}

/* Recomputes the SKU's merged entry, its attributes and its search row from all its sources. */
static int merged_store(struct catalog_view *view, const struct event *event, char *error, size_t error_bytes)
{
    struct catalog_data *merged = &view->merged;
    char name[STOCKD_NAME_BYTES_MAX + 1];
    if (merged_field(view->statements[CATALOG_MERGED_NAME], event->sku, name, sizeof(name), error,
                     error_bytes) != 0 ||
        merged_field(view->statements[CATALOG_MERGED_DESCRIPTION], event->sku, merged->description,
                     sizeof(merged->description), error, error_bytes) != 0 ||
        merged_field(view->statements[CATALOG_MERGED_BRAND], event->sku, merged->brand, sizeof(merged->brand),
                     error, error_bytes) != 0)
        return -1;
    sqlite3_stmt *statement = view_statement_reset(view->statements[CATALOG_ATTRIBUTES_DELETE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;
    statement = view_statement_reset(view->statements[CATALOG_ATTRIBUTES_MERGE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;

    /* The old entry and search row go in any case; a SKU no source speaks of any more gets no new one. */
    int64_t id = 0;
    statement = view_statement_reset(view->statements[CATALOG_SKU_DELETE]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    int found = step_id(statement, &id, error, error_bytes);
    if (found < 0) return -1;
    if (found == 1) {
        statement = view_statement_reset(view->statements[CATALOG_SEARCH_DELETE]);
        sqlite3_bind_int64(statement, 1, id);
        if (view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes) != 0) return -1;
    }
    statement = view_statement_reset(view->statements[CATALOG_SOURCE_ANY]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    found = step_id(statement, &id, error, error_bytes);
    if (found <= 0) return found;
    statement = view_statement_reset(view->statements[CATALOG_SKU_UPSERT]);
    sqlite3_bind_text(statement, 1, event->sku, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 3, merged->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 4, merged->brand, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 5, (sqlite3_int64)event->sequence);
    sqlite3_bind_int64(statement, 6, event->time_ms);
    found = step_id(statement, &id, error, error_bytes);
    if (found < 0) return -1;
    assert(found == 1);
    statement = view_statement_reset(view->statements[CATALOG_SEARCH_INSERT]);
    sqlite3_bind_int64(statement, 1, id);
    sqlite3_bind_text(statement, 2, event->sku, -1, SQLITE_STATIC);
    return view_step_done(statement, CATALOG_VIEW_NAME, error, error_bytes);
}

static int catalog_apply(void *state, const struct event *event, struct view_position position,
                         struct view_json json, char *error, size_t error_bytes)
{
    struct catalog_view *view = state;
    assert(view != NULL && event != NULL);
    (void)json;
    if (event->type != EVENT_CATALOG_UPDATED) return 0;
    if (source_store(view, event, position, error, error_bytes) != 0) return -1;
    return merged_store(view, event, error, error_bytes);
}

static void catalog_close(void *state)
{
    struct catalog_view *view = state;
    if (view == NULL) return;
    view_statements_finalize(view->statements, CATALOG_STATEMENT_COUNT);
    free(view);
}

/* Writes catalog.source_precedence into the connection's TEMP table catalog_precedence (source, rank),
 * which the merge statements read. Returns 0, or -1 with a message. */
static int precedence_store(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    struct catalog_precedence precedence;
    char reason[256];
    if (catalog_precedence_parse(config->catalog_source_precedence, &precedence, reason, sizeof(reason)) !=
        0) {
        snprintf(error, error_bytes, "%s: catalog.source_precedence: %s", CATALOG_VIEW_NAME, reason);
        return -1;
    }
    if (sqlite_util_exec(db,
                         "CREATE TEMP TABLE IF NOT EXISTS catalog_precedence (source TEXT PRIMARY KEY,"
                         " rank INTEGER NOT NULL); DELETE FROM temp.catalog_precedence",
                         error, error_bytes) != 0)
        return -1;
    sqlite3_stmt *insert = sqlite_util_prepare(
        db, "INSERT INTO temp.catalog_precedence (source, rank) VALUES (?1, ?2)", error, error_bytes);
    if (insert == NULL) return -1;
    int status = 0;
    for (uint32_t rank = 0; rank < precedence.count && status == 0; rank++) {
        view_statement_reset(insert);
        sqlite3_bind_text(insert, 1, precedence.sources[rank], -1, SQLITE_STATIC);
        sqlite3_bind_int(insert, 2, (int)rank);
        status = view_step_done(insert, CATALOG_VIEW_NAME, error, error_bytes);
    }
    sqlite3_finalize(insert);
    return status;
}

static void *catalog_open(sqlite3 *db, const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(db != NULL && config != NULL);
    if (precedence_store(db, config, error, error_bytes) != 0) return NULL;
    struct catalog_view *view = calloc(1, sizeof(*view));
    if (view == NULL) {
        snprintf(error, error_bytes, "%s: out of memory", CATALOG_VIEW_NAME);
        return NULL;
    }
    if (view_statements_prepare(db, CATALOG_VIEW_NAME, catalog_statement_sql, CATALOG_STATEMENT_COUNT,
                                view->statements, error, error_bytes) != 0) {
        catalog_close(view);
        return NULL;
    }
    return view;
}

const struct view_ops view_catalog_ops = {
    .name = CATALOG_VIEW_NAME,
    .open = catalog_open,
    .apply = catalog_apply,
    .close = catalog_close,
};

/* ---- search terms -------------------------------------------------------------------------------------- */

/* Bytes FTS5 reads as query syntax outside a string. Quoting would make them harmless, but a person who
 * types them means an operator FTS5 would not apply: refusing says so. */
#define CATALOG_FTS_SYNTAX_BYTES "\"*^():{}+"

int view_catalog_fts_query(const char *query, size_t query_bytes, char *out, size_t out_bytes, char *error,
                           size_t error_bytes)
{
    assert(query != NULL || query_bytes == 0);
    assert(out != NULL && out_bytes >= VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1);
    if (query_bytes > STOCKD_CATALOG_QUERY_BYTES_MAX) {
        snprintf(error, error_bytes, "q is longer than %d bytes", STOCKD_CATALOG_QUERY_BYTES_MAX);
        return VIEW_QUERY_INVALID;
    }
    char normal[STOCKD_CATALOG_QUERY_BYTES_MAX + 1];
    const char *problem = NULL;
    int length = catalog_text_normalise(query, query_bytes, normal, sizeof(normal), &problem);
    if (length < 0) {
        snprintf(error, error_bytes, "q is %s", problem);
        return VIEW_QUERY_INVALID;
    }
    if (length == 0) {
        snprintf(error, error_bytes, "q is empty: give at least one word");
        return VIEW_QUERY_INVALID;
    }
    size_t syntax = strcspn(normal, CATALOG_FTS_SYNTAX_BYTES);
    if (syntax < (size_t)length) {
        snprintf(error, error_bytes,
                 "q must not contain search syntax characters (%s): found '%c' at byte %zu; give plain words",
                 CATALOG_FTS_SYNTAX_BYTES, normal[syntax], syntax);
        return VIEW_QUERY_INVALID;
    }
    size_t used = 0;
    int terms = 0;
    for (char *term = normal; *term != '\0';) {
        size_t term_length = strcspn(term, " ");
        if (++terms > STOCKD_CATALOG_QUERY_TERMS_MAX) {
            snprintf(error, error_bytes, "q has more than %d words", STOCKD_CATALOG_QUERY_TERMS_MAX);
            return VIEW_QUERY_INVALID;
        }
        /* "term" with no '"' inside (refused above): 2 quotes and a separating space at most. */
        assert(used + term_length + 3 < out_bytes);
        if (used > 0) out[used++] = ' ';
        out[used++] = '"';
        memcpy(out + used, term, term_length);
        used += term_length;
        out[used++] = '"';
        term += term_length;
        if (*term == ' ') term++;
    }
    out[used] = '\0';
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------------------- */

#define CATALOG_CURSOR_SEARCH     's'
#define CATALOG_CURSOR_DUPLICATES 'g'

/* 32-bit FNV-1a: binds a search cursor to the query it was made for. */
static uint32_t query_hash(const char *text)
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *byte = (const unsigned char *)text; *byte != '\0'; byte++)
        hash = (hash ^ *byte) * 16777619u;
    return hash;
}

/* Reads an entry's attributes (merged: from catalog_attributes; a source's: catalog_source_attributes). */
static int attributes_read(sqlite3 *reader, const char *sku, const char *source,
                           struct view_catalog_entry *out, char *error, size_t error_bytes)
{
    const char *sql =
        source == NULL
            ? "SELECT key, value, source FROM catalog_attributes WHERE sku = ?1 ORDER BY key LIMIT ?3"
            : "SELECT key, value, source FROM catalog_source_attributes WHERE sku = ?1 AND source = ?2"
              " ORDER BY key LIMIT ?3";
    sqlite3_stmt *statement = view_query_prepare(reader, sql, error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    if (source != NULL) sqlite3_bind_text(statement, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 3, VIEW_CATALOG_ATTRIBUTES_MAX + 1);
    out->attribute_count = 0;
    out->attributes_truncated = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->attribute_count == VIEW_CATALOG_ATTRIBUTES_MAX) {
            out->attributes_truncated = true;
            break;
        }
        struct view_catalog_attribute *attribute = &out->attributes[out->attribute_count];
        if (view_column_text(statement, 0, attribute->key, sizeof(attribute->key), "key", error,
                             error_bytes) != 0 ||
            view_column_text(statement, 1, attribute->value, sizeof(attribute->value), "value", error,
                             error_bytes) != 0 ||
            view_column_text(statement, 2, attribute->source, sizeof(attribute->source), "source", error,
                             error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        out->attribute_count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    return result;
}

/* Reads name, description, brand, sequence, updated_ms from columns first.. of a row. */
static int entry_columns_read(sqlite3_stmt *statement, int first, struct view_catalog_entry *out, char *error,
                              size_t error_bytes)
{
    if (view_column_text(statement, first, out->name, sizeof(out->name), "name", error, error_bytes) != 0 ||
        view_column_text(statement, first + 1, out->description, sizeof(out->description), "description",
                         error, error_bytes) != 0 ||
        view_column_text(statement, first + 2, out->brand, sizeof(out->brand), "brand", error, error_bytes) !=
            0)
        return VIEW_QUERY_ERROR;
    out->sequence = (uint64_t)sqlite3_column_int64(statement, first + 3);
    out->updated_ms = sqlite3_column_int64(statement, first + 4);
    return 0;
}

static int sources_read(sqlite3 *reader, const char *source, struct view_catalog_sku *out, char *error,
                        size_t error_bytes)
{
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "SELECT source, name, description, brand, sequence, updated_ms FROM catalog_sources WHERE sku = ?1"
        " AND (?3 IS NULL OR source = ?3) ORDER BY sequence DESC LIMIT ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, out->sku, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, VIEW_CATALOG_SOURCES_MAX + 1);
    if (source != NULL) sqlite3_bind_text(statement, 3, source, -1, SQLITE_STATIC);
    out->source_count = 0;
    out->sources_truncated = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->source_count == VIEW_CATALOG_SOURCES_MAX) {
            out->sources_truncated = true;
            break;
        }
        struct view_catalog_entry *entry = &out->sources[out->source_count];
        if (view_column_text(statement, 0, entry->source, sizeof(entry->source), "source", error,
                             error_bytes) != 0 ||
            entry_columns_read(statement, 1, entry, error, error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        out->source_count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    for (uint32_t index = 0; result == 0 && index < out->source_count; index++)
        result = attributes_read(reader, out->sku, out->sources[index].source, &out->sources[index], error,
                                 error_bytes);
    return result;
}

int view_catalog_get(sqlite3 *reader, const char *sku, const char *source, struct view_catalog_sku *out,
                     char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_identifier_check(sku, STOCKD_SKU_BYTES_MAX, "sku", error, error_bytes) != 0 ||
        (source != NULL &&
         view_identifier_check(source, STOCKD_CATALOG_SOURCE_BYTES_MAX, "source", error, error_bytes) != 0))
        return VIEW_QUERY_INVALID;
    memset(out, 0, sizeof(*out));
    snprintf(out->sku, sizeof(out->sku), "%s", sku);
    sqlite3_stmt *statement = view_query_prepare(
        reader, "SELECT name, description, brand, sequence, updated_ms FROM catalog_skus WHERE sku = ?1",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, sku, -1, SQLITE_STATIC);
    int status = sqlite3_step(statement);
    int result = 0;
    if (status == SQLITE_ROW) {
        result =
            entry_columns_read(statement, 0, &out->merged, error, error_bytes) == 0 ? 1 : VIEW_QUERY_ERROR;
    } else if (status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result != 1) return result;
    if (attributes_read(reader, sku, NULL, &out->merged, error, error_bytes) != 0 ||
        sources_read(reader, source, out, error, error_bytes) != 0)
        return VIEW_QUERY_ERROR;
    return 1;
}

/* Decodes a search cursor: the query's hash, the last hit's score (its IEEE bits) and SKU. */
static int search_cursor_decode(const char *cursor, uint32_t hash, double *score, char *sku, char *error,
                                size_t error_bytes)
{
    char payload[8 + 16 + STOCKD_SKU_BYTES_MAX + 1];
    if (view_cursor_decode(cursor, CATALOG_CURSOR_SEARCH, payload, sizeof(payload), error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    unsigned cursor_hash = 0;
    unsigned long long bits = 0;
    int consumed = 0;
    size_t length = strlen(payload);
    if (length <= 24 || strspn(payload, "0123456789abcdef") < 24 ||
        sscanf(payload, "%8x%16llx%n", &cursor_hash, &bits, &consumed) != 2 || consumed != 24 ||
        !codec_identifier_valid(payload + 24, STOCKD_SKU_BYTES_MAX)) {
        snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
        return VIEW_QUERY_INVALID;
    }
    if (cursor_hash != hash) {
        snprintf(error, error_bytes, "cursor belongs to another query (use it with the same q)");
        return VIEW_QUERY_INVALID;
    }
    uint64_t bits64 = bits;
    memcpy(score, &bits64, sizeof(*score));
    strcpy(sku, payload + 24);
    return 0;
}

int view_catalog_search(sqlite3 *reader, const char *query, const char *cursor, uint32_t limit,
                        struct view_catalog_hits *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && query != NULL && out != NULL);
    char fts[VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1];
    if (view_catalog_fts_query(query, strlen(query), fts, sizeof(fts), error, error_bytes) != 0 ||
        view_limit_check(limit, error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    uint32_t hash = query_hash(fts);
    double after_score = -1e308;
    char after_sku[STOCKD_SKU_BYTES_MAX + 1] = "";
    bool from_cursor = cursor != NULL && cursor[0] != '\0';
    if (from_cursor && search_cursor_decode(cursor, hash, &after_score, after_sku, error, error_bytes) != 0)
        return VIEW_QUERY_INVALID;
    /* bm25() is only allowed where FTS5 runs the match: rank the hits in a materialised CTE, then page. */
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "WITH hits AS MATERIALIZED (SELECT rowid AS id, " CATALOG_RANK_SQL " AS score FROM catalog_search"
        " WHERE catalog_search MATCH ?1)"
        " SELECT s.sku, s.name, s.brand, s.description, hits.score FROM hits JOIN catalog_skus s ON s.id = "
        "hits.id"
        " WHERE ?2 = 0 OR hits.score > ?3 OR (hits.score = ?3 AND s.sku > ?4)"
        " ORDER BY hits.score, s.sku LIMIT ?5",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, fts, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, from_cursor ? 1 : 0);
    sqlite3_bind_double(statement, 3, after_score);
    sqlite3_bind_text(statement, 4, after_sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 5, (sqlite3_int64)limit + 1);
    out->count = 0;
    out->next_cursor[0] = '\0';
    bool more = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->count == limit) {
            more = true;
            break;
        }
        struct view_catalog_hit *hit = &out->items[out->count];
        if (view_column_text(statement, 0, hit->sku, sizeof(hit->sku), "sku", error, error_bytes) != 0 ||
            view_column_text(statement, 1, hit->name, sizeof(hit->name), "name", error, error_bytes) != 0 ||
            view_column_text(statement, 2, hit->brand, sizeof(hit->brand), "brand", error, error_bytes) !=
                0 ||
            view_column_text(statement, 3, hit->description, sizeof(hit->description), "description", error,
                             error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        hit->score = sqlite3_column_double(statement, 4);
        out->count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    if (result != 0) return result;
    if (more) {
        const struct view_catalog_hit *last = &out->items[out->count - 1];
        uint64_t bits;
        memcpy(&bits, &last->score, sizeof(bits));
        char payload[8 + 16 + STOCKD_SKU_BYTES_MAX + 1];
        snprintf(payload, sizeof(payload), "%08" PRIx32 "%016" PRIx64 "%s", hash, bits, last->sku);
        view_cursor_encode(CATALOG_CURSOR_SEARCH, payload, out->next_cursor);
    }
    return (int)out->count;
}

/* Reads the claims of one GTIN into group. */
static int claims_read(sqlite3 *reader, struct view_catalog_duplicate *group, char *error, size_t error_bytes)
{
    sqlite3_stmt *statement = view_query_prepare(
        reader, "SELECT sku, source FROM catalog_sources WHERE gtin = ?1 ORDER BY sku, source LIMIT ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, group->gtin, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, VIEW_CATALOG_DUPLICATE_CLAIMS_MAX + 1);
    group->claim_count = 0;
    group->claims_truncated = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (group->claim_count == VIEW_CATALOG_DUPLICATE_CLAIMS_MAX) {
            group->claims_truncated = true;
            break;
        }
        if (view_column_text(statement, 0, group->claims[group->claim_count].sku,
                             sizeof(group->claims[0].sku), "sku", error, error_bytes) != 0 ||
            view_column_text(statement, 1, group->claims[group->claim_count].source,
                             sizeof(group->claims[0].source), "source", error, error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        group->claim_count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    return result;
}

int view_catalog_duplicates_list(sqlite3 *reader, const char *cursor, uint32_t limit,
                                 struct view_catalog_duplicates *out, char *error, size_t error_bytes)
{
    assert(reader != NULL && out != NULL);
    if (view_limit_check(limit, error, error_bytes) != 0) return VIEW_QUERY_INVALID;
    char after[CATALOG_GTIN_DIGITS + 2] = "";
    if (cursor != NULL && cursor[0] != '\0') {
        if (view_cursor_decode(cursor, CATALOG_CURSOR_DUPLICATES, after, sizeof(after), error, error_bytes) !=
                0 ||
            strlen(after) != CATALOG_GTIN_DIGITS || strspn(after, "0123456789") != CATALOG_GTIN_DIGITS) {
            snprintf(error, error_bytes, "cursor is malformed (use the next_cursor of a previous page)");
            return VIEW_QUERY_INVALID;
        }
    }
    sqlite3_stmt *statement = view_query_prepare(
        reader,
        "SELECT gtin FROM catalog_sources WHERE gtin IS NOT NULL AND gtin > ?1 GROUP BY gtin"
        " HAVING count(DISTINCT sku) > 1 ORDER BY gtin LIMIT ?2",
        error, error_bytes);
    if (statement == NULL) return VIEW_QUERY_ERROR;
    sqlite3_bind_text(statement, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, (sqlite3_int64)limit + 1);
    out->count = 0;
    out->next_cursor[0] = '\0';
    bool more = false;
    int status;
    int result = 0;
    while ((status = sqlite3_step(statement)) == SQLITE_ROW) {
        if (out->count == limit) {
            more = true;
            break;
        }
        if (view_column_text(statement, 0, out->items[out->count].gtin, sizeof(out->items[0].gtin), "gtin",
                             error, error_bytes) != 0) {
            result = VIEW_QUERY_ERROR;
            break;
        }
        out->count++;
    }
    if (result == 0 && status != SQLITE_ROW && status != SQLITE_DONE) {
        snprintf(error, error_bytes, "%s: %s", CATALOG_VIEW_NAME, sqlite3_errmsg(reader));
        result = VIEW_QUERY_ERROR;
    }
    view_query_finish(statement);
    for (uint32_t index = 0; result == 0 && index < out->count; index++)
        result = claims_read(reader, &out->items[index], error, error_bytes);
    if (result != 0) return result;
    if (more)
        view_cursor_encode(CATALOG_CURSOR_DUPLICATES, out->items[out->count - 1].gtin, out->next_cursor);
    return (int)out->count;
}
