/* verify_catalog.c - stockctl verify's independent fold of the catalog, compared with the catalog view.
 *
 * Keeps one partition's CatalogUpdated events (bounded), sorts them by (SKU, source, sequence), takes the
 * last word of each source, merges them by the documented precedence (docs/catalog.md: per field and per
 * attribute key, the source with a value ranked highest by catalog.source_precedence, the most recent
 * among equals) and asks the view the same questions. */
#include "verify_catalog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog.h"
#include "views/catalog.h"

struct kept {
    char sku[STOCKD_SKU_BYTES_MAX + 1];
    uint64_t sequence;
    char name[STOCKD_NAME_BYTES_MAX + 1];
    struct catalog_data data;
};

#define KEPT_MAX (VERIFY_CATALOG_BYTES_MAX / sizeof(struct kept))

struct verify_catalog {
    struct kept *kept;
    size_t count;
    size_t capacity;
    bool overflowed;
    struct view_catalog_sku *got; /* the view's answer, ~110 KiB: not on the stack */
    struct catalog_precedence precedence;
};

struct verify_catalog *verify_catalog_create(const struct catalog_precedence *precedence)
{
    assert(precedence != NULL && precedence->count <= STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX);
    struct verify_catalog *catalog = calloc(1, sizeof(*catalog));
    if (catalog == NULL) return NULL;
    catalog->precedence = *precedence;
    catalog->got = malloc(sizeof(*catalog->got));
    if (catalog->got == NULL) {
        free(catalog);
        return NULL;
    }
    return catalog;
}

int verify_catalog_add(struct verify_catalog *catalog, const struct event *event)
{
    assert(catalog != NULL && event != NULL);
    if (event->type != EVENT_CATALOG_UPDATED) return 0;
    if (catalog->overflowed) return -1;
    if (catalog->count == catalog->capacity) {
        size_t capacity = catalog->capacity ? catalog->capacity * 2 : 256;
        struct kept *grown = capacity <= KEPT_MAX ? realloc(catalog->kept, capacity * sizeof(*grown)) : NULL;
        if (grown == NULL) {
            catalog->overflowed = true;
            return -1;
        }
        catalog->kept = grown;
        catalog->capacity = capacity;
    }
    struct kept *kept = &catalog->kept[catalog->count++];
    memcpy(kept->sku, event->sku, sizeof(kept->sku));
    kept->sequence = event->sequence;
    memcpy(kept->name, event->name, sizeof(kept->name));
    kept->data = event->catalog;
    return 0;
}

bool verify_catalog_overflowed(const struct verify_catalog *catalog)
{
    return catalog->overflowed;
}

void verify_catalog_reset(struct verify_catalog *catalog)
{
    catalog->count = 0;
    catalog->overflowed = false;
}

void verify_catalog_destroy(struct verify_catalog *catalog)
{
    if (catalog == NULL) return;
    free(catalog->kept);
    free(catalog->got);
    free(catalog);
}

static int kept_order(const void *left_pointer, const void *right_pointer)
{
    const struct kept *left = left_pointer, *right = right_pointer;
    int order = strcmp(left->sku, right->sku);
    if (order == 0) order = strcmp(left->data.source, right->data.source);
    if (order == 0) order = left->sequence < right->sequence ? -1 : left->sequence > right->sequence;
    return order;
}

static bool kept_empty(const struct kept *kept)
{
    return kept->name[0] == '\0' && kept->data.description[0] == '\0' && kept->data.brand[0] == '\0' &&
           kept->data.attribute_count == 0;
}

/* Whether the view's entry says exactly what the source's last event says. */
static bool entry_equal(const struct view_catalog_entry *entry, const struct kept *kept)
{
    if (strcmp(entry->name, kept->name) != 0 || strcmp(entry->description, kept->data.description) != 0 ||
        strcmp(entry->brand, kept->data.brand) != 0 || entry->sequence != kept->sequence ||
        entry->attribute_count != kept->data.attribute_count)
        return false;
    for (uint32_t index = 0; index < entry->attribute_count; index++) {
        if (strcmp(entry->attributes[index].key, kept->data.attributes[index].key) != 0 ||
            strcmp(entry->attributes[index].value, kept->data.attributes[index].value) != 0)
            return false;
    }
    return true;
}

/* Whether the last word of one source wins over another's (NULL: none yet) by the precedence. */
static bool kept_wins(const struct catalog_precedence *precedence, const struct kept *candidate,
                      const struct kept *best)
{
    return best == NULL || catalog_precedence_wins(precedence, candidate->data.source, candidate->sequence,
                                                   best->data.source, best->sequence);
}

/* The value of a merged text field: that of the winning source (latest[] in any order) with one. */
static const char *merged_text(const struct catalog_precedence *precedence, struct kept *const *latest,
                               size_t count, size_t offset)
{
    const struct kept *best = NULL;
    for (size_t index = 0; index < count; index++) {
        const char *text = (const char *)latest[index] + offset;
        if (text[0] != '\0' && kept_wins(precedence, latest[index], best)) best = latest[index];
    }
    return best == NULL ? "" : (const char *)best + offset;
}

/* Compares the merged entry: texts, then every merged attribute the view lists. Returns a description of
 * the first disagreement, or NULL. */
static const char *merged_compare(const struct catalog_precedence *precedence, struct kept *const *latest,
                                  size_t count, uint64_t sequence, const struct view_catalog_entry *merged)
{
    if (strcmp(merged->name, merged_text(precedence, latest, count, offsetof(struct kept, name))) != 0)
        return "name";
    if (strcmp(merged->description,
               merged_text(precedence, latest, count,
                           offsetof(struct kept, data) + offsetof(struct catalog_data, description))) != 0)
        return "description";
    if (strcmp(merged->brand,
               merged_text(precedence, latest, count,
                           offsetof(struct kept, data) + offsetof(struct catalog_data, brand))) != 0)
        return "brand";
    if (merged->sequence != sequence) return "sequence";
    size_t keys = 0; /* distinct keys over the sources: the view lists them all unless truncated */
    for (size_t index = 0; index < count; index++) {
        for (uint32_t a = 0; a < latest[index]->data.attribute_count; a++) {
            const char *key = latest[index]->data.attributes[a].key;
            const struct kept *best = NULL;
            const char *value = NULL;
            bool first = true; /* counted once: at the first source (in latest[] order) that has it */
            for (size_t other = 0; other < count; other++) {
                const char *candidate = catalog_attribute_get(&latest[other]->data, key);
                if (candidate == NULL) continue;
                if (other < index) first = false;
                if (kept_wins(precedence, latest[other], best)) {
                    best = latest[other];
                    value = candidate;
                }
            }
            if (first) keys++;
            bool listed = false;
            for (uint32_t g = 0; g < merged->attribute_count; g++) {
                if (strcmp(merged->attributes[g].key, key) != 0) continue;
                listed = true;
                if (strcmp(merged->attributes[g].value, value) != 0 ||
                    strcmp(merged->attributes[g].source, best->data.source) != 0)
                    return "an attribute's value or source";
            }
            if (!listed && !merged->attributes_truncated) return "an attribute is missing";
        }
    }
    if (!merged->attributes_truncated && merged->attribute_count != keys) return "attribute count";
    return NULL;
}

/* Compares one SKU's events kept[0..count) (sorted by source, then sequence) with the view. */
static int sku_compare(struct verify_catalog *catalog, sqlite3 *view, struct kept *kept, size_t count,
                       void (*difference)(void *, const char *), void *context, char *error,
                       size_t error_bytes)
{
    struct kept **latest = calloc(count, sizeof(*latest));
    if (latest == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return -1;
    }
    size_t present = 0;
    uint64_t sequence = 0;
    char text[256];
    int status = 0;
    for (size_t index = 0; index < count && status == 0; index++) {
        if (kept[index].sequence > sequence) sequence = kept[index].sequence;
        bool last_of_source =
            index + 1 == count || strcmp(kept[index + 1].data.source, kept[index].data.source) != 0;
        if (!last_of_source) continue;
        int found = view_catalog_get(view, kept[index].sku, kept[index].data.source, catalog->got, error,
                                     error_bytes);
        if (found < 0) {
            status = -1;
            break;
        }
        bool empty = kept_empty(&kept[index]);
        if (!empty) latest[present++] = &kept[index];
        bool listed = found == 1 && catalog->got->source_count == 1;
        if (empty ? listed : !listed || !entry_equal(&catalog->got->sources[0], &kept[index])) {
            snprintf(text, sizeof(text), "view catalog: SKU %s source %s: %s", kept[index].sku,
                     kept[index].data.source,
                     empty    ? "withdrawn but listed"
                     : listed ? "differs from its last event"
                              : "missing");
            difference(context, text);
        }
    }
    if (status == 0) {
        int found = view_catalog_get(view, kept[0].sku, NULL, catalog->got, error, error_bytes);
        const char *problem = NULL;
        if (found < 0) {
            status = -1;
        } else if ((found == 1) != (present > 0)) {
            problem = present > 0 ? "no merged entry" : "a merged entry, but every source withdrew";
        } else if (found == 1) {
            problem = merged_compare(&catalog->precedence, latest, present, sequence, &catalog->got->merged);
        }
        if (problem != NULL) {
            snprintf(text, sizeof(text), "view catalog: SKU %s: merged entry differs from the fold: %s",
                     kept[0].sku, problem);
            difference(context, text);
        }
    }
    free(latest);
    return status;
}

int verify_catalog_compare(struct verify_catalog *catalog, sqlite3 *view,
                           void (*difference)(void *context, const char *text), void *context, char *error,
                           size_t error_bytes)
{
    assert(catalog != NULL && view != NULL && difference != NULL);
    assert(!catalog->overflowed);
    if (catalog->count == 0) return 0;
    qsort(catalog->kept, catalog->count, sizeof(*catalog->kept), kept_order);
    size_t start = 0;
    for (size_t index = 1; index <= catalog->count; index++) {
        if (index < catalog->count && strcmp(catalog->kept[index].sku, catalog->kept[start].sku) == 0)
            continue;
        if (sku_compare(catalog, view, &catalog->kept[start], index - start, difference, context, error,
                        error_bytes) != 0)
            return -1;
        start = index;
    }
    return 0;
}
