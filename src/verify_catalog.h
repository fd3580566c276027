/* verify_catalog.h - stockctl verify's own fold of CatalogUpdated, compared with the catalog view.
 *
 * Independent of src/views/catalog.c: the events of one partition are kept in memory (bounded), the last
 * word of each (SKU, source) and the merged entry (per field and per attribute key, the value of the
 * source that wins by catalog.source_precedence, then recency) are computed here in C, then each is
 * compared with what the view answers. No Kafka, no SQL of its own. */
#ifndef STOCKD_VERIFY_CATALOG_H
#define STOCKD_VERIFY_CATALOG_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "domain/catalog.h"
#include "domain/domain.h"

/* The catalog events of one partition are held in memory at most up to this many bytes (the text they
 * carry, a few hundred bytes an event); past it the catalog is not compared, and the report says so. */
#define VERIFY_CATALOG_BYTES_MAX (256 * 1024 * 1024)

struct verify_catalog;

/* Merges by precedence (copied: stockd's catalog.source_precedence, parsed). NULL when out of memory. */
struct verify_catalog *verify_catalog_create(const struct catalog_precedence *precedence);

/* Keeps a CatalogUpdated (other events are ignored). Returns 0, or -1 when the bound is passed or memory
 * ran out (the fold then no longer keeps anything and verify_catalog_overflowed says so). */
int verify_catalog_add(struct verify_catalog *catalog, const struct event *event);

bool verify_catalog_overflowed(const struct verify_catalog *catalog);

/* Compares the kept events with the catalog view (a reader inside a read transaction), calling difference
 * for each disagreement. Returns 0, or -1 with a message when the view cannot be read. */
int verify_catalog_compare(struct verify_catalog *catalog, sqlite3 *view,
                           void (*difference)(void *context, const char *text), void *context, char *error,
                           size_t error_bytes);

/* Forgets every kept event (next partition). */
void verify_catalog_reset(struct verify_catalog *catalog);

/* Accepts NULL. */
void verify_catalog_destroy(struct verify_catalog *catalog);

#endif
