-- orders/001_initial.sql - one order stage shard: the fold of one partition of <prefix>.orders.
-- Written only by the order stage that owns the partition; rebuilt from the topic when missing.

-- Key/value facts about the shard: partition, checkpoint (next offset of the orders partition to fold).
CREATE TABLE order_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per order: its whole state as JSON (src/domain/order_codec.c, what GET /v1/orders/{id}
-- answers), loaded and stored whole for every input of the order.
CREATE TABLE orders (
    order_id    TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    state       TEXT NOT NULL,
    deadline_ms INTEGER,            -- placing and no OrderDeadline sent yet: when to send it
    offset      INTEGER NOT NULL    -- orders offset of the last input that changed it
) WITHOUT ROWID;

-- What the deadline punctuator scans: placing orders, soonest deadline first.
CREATE INDEX orders_due ON orders (deadline_ms) WHERE deadline_ms IS NOT NULL;
