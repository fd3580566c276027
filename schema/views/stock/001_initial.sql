-- views/stock/001_initial.sql - the stock read model: stock per (SKU, location) and totals per SKU.
-- A fold of <prefix>.events written only by the stock projector (src/views/stock.c) and rebuilt from the
-- topic at will; the projector's positions live beside these tables (schema/views/positions.sql).

-- One row per SKU: its definition (SkuCreated) and its totals over all locations, kept up to date by
-- every stock event so that listings and the below-reorder-point filter never sum. sequence and
-- updated_ms are those of the last event that changed the row (CommandRejected changes nothing).
CREATE TABLE stock_skus (
    sku           TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    reorder_point INTEGER NOT NULL,
    sequence      INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,            -- event time, Unix epoch milliseconds
    on_hand       INTEGER NOT NULL,            -- sum over the SKU's locations
    reserved      INTEGER NOT NULL             -- sum over the SKU's locations
) WITHOUT ROWID;

-- The below-reorder-point listing walks only the SKUs that are below, in SKU order (keyset pages). The
-- query repeats this WHERE term word for word: that is how SQLite knows it may use a partial index. The
-- column comes first on purpose: SQLite 3.40 commutes a term "expression < column" of a query, which then
-- no longer matches the index's term, and the index is never used (tests/test_views.c checks the plan).
CREATE INDEX stock_skus_below_reorder_point ON stock_skus (sku)
    WHERE reorder_point > on_hand - reserved;

-- Stock per location; a location stays once it has been used (as in the domain's fold), even at zero.
CREATE TABLE stock_locations (
    sku      TEXT NOT NULL,
    location TEXT NOT NULL,
    on_hand  INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    PRIMARY KEY (sku, location)
) WITHOUT ROWID;
