-- views/movements/001_initial.sql - the movements read model: stock moved per SKU and UTC day, and what
-- GET /v1/reorder needs per SKU. A fold of <prefix>.events written only by the movements projector
-- (src/views/movements.c), rebuilt from the topic at will; positions beside it (schema/views/positions.sql).

-- Units moved per SKU and day (days since 1970-01-01, UTC, of the event's time_ms). A day without
-- movements has no row. adjusted is the net of the day's adjustments (may be negative).
CREATE TABLE movement_days (
    sku       TEXT NOT NULL,
    day       INTEGER NOT NULL,
    received  INTEGER NOT NULL,
    reserved  INTEGER NOT NULL,
    fulfilled INTEGER NOT NULL,
    released  INTEGER NOT NULL,
    expired   INTEGER NOT NULL,
    adjusted  INTEGER NOT NULL,
    PRIMARY KEY (sku, day)
) WITHOUT ROWID;

-- Per SKU: its lead time (SkuCreated version 2; 0 unknown) and its totals over all locations, so that the
-- reorder listing needs neither the stock view nor a sum over locations.
CREATE TABLE movement_skus (
    sku            TEXT PRIMARY KEY,
    lead_time_days INTEGER NOT NULL,
    on_hand        INTEGER NOT NULL,
    reserved       INTEGER NOT NULL
) WITHOUT ROWID;

-- The reorder listing walks only the SKUs with a known lead time, in SKU order (keyset pages); the query
-- repeats this WHERE term word for word so that SQLite may use the partial index.
CREATE INDEX movement_skus_with_lead_time ON movement_skus (sku) WHERE lead_time_days > 0;
