-- views/history/001_initial.sql - the history read model: every event of every SKU key, in sequence.
-- A fold of <prefix>.events written only by the history projector (src/views/history.c); rejections are
-- part of a SKU's history (they take a sequence number too), so the sequences of a SKU have no gaps.

-- An ordinary rowid table: rows carry the event's JSON (a few hundred bytes), too wide for WITHOUT ROWID
-- to pay off; the primary key's index serves the paging by (sku, sequence) both ways.
CREATE TABLE history (
    sku             TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    type            TEXT NOT NULL,              -- wire name: SkuCreated, StockReceived, ...
    command_id      TEXT NOT NULL,
    time_ms         INTEGER NOT NULL,
    event_partition INTEGER NOT NULL,           -- where the event is on <prefix>.events
    event_offset    INTEGER NOT NULL,
    data            TEXT NOT NULL,              -- the canonical event JSON (codec_event_encode)
    PRIMARY KEY (sku, sequence)
);
