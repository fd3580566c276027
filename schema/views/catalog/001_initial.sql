-- views/catalog/001_initial.sql - the catalog read model: what each source says about a SKU, the merged
-- entry, an FTS5 index over it for search, and GTINs for probable duplicates. A fold of <prefix>.events
-- (CatalogUpdated only) written by the catalog projector (src/views/catalog.c), rebuilt at will.

-- What one source last said about one SKU (its last CatalogUpdated replaces the row; a CatalogUpdated
-- with no field at all removes it). "" means the source has no value for the field.
CREATE TABLE catalog_sources (
    sku             TEXT NOT NULL,
    source          TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    brand           TEXT NOT NULL,
    gtin            TEXT,                      -- canonical 14 digits of the gtin attribute, or NULL
    sequence        INTEGER NOT NULL,          -- of the event: the merge's "most recent"
    updated_ms      INTEGER NOT NULL,
    event_partition INTEGER NOT NULL,
    event_offset    INTEGER NOT NULL,
    PRIMARY KEY (sku, source)
) WITHOUT ROWID;

-- Probable duplicates: SKUs whose sources name one GTIN.
CREATE INDEX catalog_sources_gtin ON catalog_sources (gtin, sku) WHERE gtin IS NOT NULL;

CREATE TABLE catalog_source_attributes (
    sku    TEXT NOT NULL,
    source TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (sku, source, key)
) WITHOUT ROWID;

-- The merged entry of a SKU: each field from the most recent source that has a value for it. The rowid
-- is the FTS5 row's.
CREATE TABLE catalog_skus (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    brand       TEXT NOT NULL,
    sequence    INTEGER NOT NULL,              -- of the last CatalogUpdated folded for the SKU
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE catalog_attributes (
    sku    TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    source TEXT NOT NULL,                      -- the source the value came from
    PRIMARY KEY (sku, key)
) WITHOUT ROWID;

-- Full-text index of the merged entries, rowid = catalog_skus.id. unicode61 folds case and (2) removes
-- diacritics, so "cafe" also finds the word written with an accent. The index keeps its own copy of the text: the view is small
-- beside the history, and SQLite 3.40 has no contentless-delete.
CREATE VIRTUAL TABLE catalog_search USING fts5(
    name, brand, description, attributes,
    tokenize = 'unicode61 remove_diacritics 2'
);
