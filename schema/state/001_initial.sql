-- state/001_initial.sql - one handler shard: the fold of one partition of <prefix>.events.
-- Written only by the handler that owns the partition; rebuilt from the topic when missing.

-- Key/value facts about the shard: partition, checkpoint (next offset of the events partition to fold).
CREATE TABLE shard_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per SKU key that has events (sequence counts rejections of unknown SKUs too). The aggregate
-- the handler loads for every decision is this one row: stock per location is a compact blob
-- (src/store/shard.c, stock_blob_*: version 1, count, then per location: name length, name, on-hand
-- and reserved as 64-bit little-endian), because a second table cost a second lookup per command.
CREATE TABLE skus (
    sku           TEXT PRIMARY KEY,
    created       INTEGER NOT NULL,           -- 0: only rejections so far
    name          TEXT NOT NULL,
    reorder_point INTEGER NOT NULL,
    sequence      INTEGER NOT NULL,           -- last event sequence of this key
    stock         BLOB NOT NULL               -- locations in order of first appearance
) WITHOUT ROWID;

CREATE TABLE reservations (
    sku            TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    location       TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    status         INTEGER NOT NULL,          -- 1 active, 2 released, 3 fulfilled, 4 expired
    expires_at_ms  INTEGER NOT NULL,          -- 0: never
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    PRIMARY KEY (sku, reservation_id)
) WITHOUT ROWID;

-- What the expiry punctuator scans: active reservations with a deadline, soonest first.
CREATE INDEX reservations_due ON reservations (expires_at_ms, sku)
    WHERE status = 1 AND expires_at_ms > 0;

-- Processed command ids with their outcome, for idempotency; pruned after the retention period.
CREATE TABLE commands (
    command_id     TEXT PRIMARY KEY,
    sku            TEXT NOT NULL,
    first_sequence INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    rejected       INTEGER NOT NULL,          -- 0 accepted, 1 rejected
    reason         TEXT NOT NULL,             -- reject reason code, '' when accepted
    decided_ms     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX commands_by_time ON commands (decided_ms);
