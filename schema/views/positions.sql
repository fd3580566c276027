-- positions.sql - where a view's fold stands on <prefix>.events: the consumer's next offset per partition.
-- Not a numbered migration: the projector runs it on every view database it opens (src/projector.c), and
-- writes it in the same transaction as the rows each batch of events produced.
CREATE TABLE IF NOT EXISTS view_positions (
    partition_id INTEGER PRIMARY KEY, -- partition of <prefix>.events
    next_offset  INTEGER NOT NULL CHECK (next_offset >= 0) -- every event below it is folded
);
