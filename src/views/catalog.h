/* catalog.h - the read API of the catalog view: a SKU's merged entry and its sources, ranked full-text
 * search, probable duplicates by GTIN; and the quoting of user search terms into FTS5.
 *
 * Same contract as query.h: the caller holds a read transaction on a reader of the catalog projector;
 * return codes are counts (>= 0), 1/0 found, VIEW_QUERY_ERROR or VIEW_QUERY_INVALID with a message.
 * Merge precedence, per field and per attribute key: of the sources that have a value, the highest-ranked
 * in catalog.source_precedence wins, and among equally ranked ones (every source, when the list is empty)
 * the most recent (highest event sequence of the SKU). */
#ifndef STOCKD_VIEW_CATALOG_H
#define STOCKD_VIEW_CATALOG_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/domain.h"
#include "views/query.h"

/* A merged entry lists at most this many attributes (its sources may hold more keys between them; the
 * rest is flagged, never silently dropped): four sources' worth. */
#define VIEW_CATALOG_ATTRIBUTES_MAX (4 * STOCKD_CATALOG_ATTRIBUTES_MAX)

/* A SKU's answer lists at most this many of its sources, the most recent first. */
#define VIEW_CATALOG_SOURCES_MAX 8

/* A duplicate group lists at most this many (SKU, source) claims of its GTIN. */
#define VIEW_CATALOG_DUPLICATE_CLAIMS_MAX 16

/* The FTS5 query made from a user's query: every term quoted ("" inside doubled), space-separated. */
#define VIEW_CATALOG_FTS_QUERY_BYTES_MAX                                                                     \
    (2 * STOCKD_CATALOG_QUERY_BYTES_MAX + 3 * STOCKD_CATALOG_QUERY_TERMS_MAX)

struct view_catalog_attribute {
    char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
    char value[STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX + 1];
    char source[STOCKD_CATALOG_SOURCE_BYTES_MAX + 1]; /* merged entries: where the value came from */
};

/* What one source says (sources[]), or the merged entry (source ""). */
struct view_catalog_entry {
    char source[STOCKD_CATALOG_SOURCE_BYTES_MAX + 1];
    char name[STOCKD_NAME_BYTES_MAX + 1];
    char description[STOCKD_CATALOG_DESCRIPTION_BYTES_MAX + 1];
    char brand[STOCKD_CATALOG_BRAND_BYTES_MAX + 1];
    uint64_t sequence;
    int64_t updated_ms;
    uint32_t attribute_count; /* in key order */
    struct view_catalog_attribute attributes[VIEW_CATALOG_ATTRIBUTES_MAX];
    bool attributes_truncated;
};

/* About 110 KiB: allocate it. */
struct view_catalog_sku {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    struct view_catalog_entry merged;
    uint32_t source_count; /* the most recent first */
    struct view_catalog_entry sources[VIEW_CATALOG_SOURCES_MAX];
    bool sources_truncated;
};

struct view_catalog_hit {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    char name[STOCKD_NAME_BYTES_MAX + 1];
    char brand[STOCKD_CATALOG_BRAND_BYTES_MAX + 1];
    char description[STOCKD_CATALOG_DESCRIPTION_BYTES_MAX + 1];
    double score; /* FTS5 bm25, weighted: lower is better */
};

struct view_catalog_hits {
    uint32_t count;
    struct view_catalog_hit items[VIEW_PAGE_MAX]; /* best first; ties in SKU order */
    char next_cursor[VIEW_CURSOR_BYTES_MAX + 1];  /* "" when this is the last page */
};

struct view_catalog_duplicate {
    char gtin[16]; /* canonical 14 digits */
    uint32_t claim_count;
    struct {
        char sku[STOCKD_SKU_BYTES_MAX + 1];
        char source[STOCKD_CATALOG_SOURCE_BYTES_MAX + 1];
    } claims[VIEW_CATALOG_DUPLICATE_CLAIMS_MAX]; /* in (SKU, source) order */
    bool claims_truncated;
};

struct view_catalog_duplicates {
    uint32_t count;
    struct view_catalog_duplicate items[VIEW_PAGE_MAX]; /* in GTIN order */
    char next_cursor[VIEW_CURSOR_BYTES_MAX + 1];
};

extern const struct view_ops view_catalog_ops;

/* Turns a user's query into an FTS5 query that only ever means "all these words": the query is
 * normalised (catalog_text_normalise), split at spaces, and each term written as an FTS5 string. Refuses
 * (VIEW_QUERY_INVALID with a message for people) an empty query, one over STOCKD_CATALOG_QUERY_BYTES_MAX
 * bytes or STOCKD_CATALOG_QUERY_TERMS_MAX terms, invalid UTF-8, control characters, and FTS5 syntax
 * characters (" * ^ ( ) : { } +), which would mean something else to FTS5 than to the person typing.
 * Returns 0 with out (out_bytes >= VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1) filled. Pure. */
int view_catalog_fts_query(const char *query, size_t query_bytes, char *out, size_t out_bytes, char *error,
                           size_t error_bytes);

/* Reads a SKU's merged entry and its sources: the VIEW_CATALOG_SOURCES_MAX most recent, or only source
 * when it is not NULL (none when that source says nothing). Returns 1, 0 when no source says anything
 * about the SKU, VIEW_QUERY_INVALID for a malformed SKU or source, VIEW_QUERY_ERROR. */
int view_catalog_get(sqlite3 *reader, const char *sku, const char *source, struct view_catalog_sku *out,
                     char *error, size_t error_bytes);

/* Searches the merged entries (view_catalog_fts_query), best first, at most limit from cursor ("" or NULL:
 * the first page; a cursor holds the last hit's score and SKU, and the query it was made for). Pages
 * are exact within one snapshot; writes between pages may move hits (their scores depend on the whole
 * index). Returns the number of hits, VIEW_QUERY_INVALID, VIEW_QUERY_ERROR. */
int view_catalog_search(sqlite3 *reader, const char *query, const char *cursor, uint32_t limit,
                        struct view_catalog_hits *out, char *error, size_t error_bytes);

/* Lists GTINs claimed for more than one SKU, in GTIN order, at most limit from cursor. Returns the
 * number of groups, VIEW_QUERY_INVALID, VIEW_QUERY_ERROR. */
int view_catalog_duplicates_list(sqlite3 *reader, const char *cursor, uint32_t limit,
                                 struct view_catalog_duplicates *out, char *error, size_t error_bytes);

#endif
