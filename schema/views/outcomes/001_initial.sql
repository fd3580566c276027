-- views/outcomes/001_initial.sql - the outcomes read model: what became of each command id.
-- A fold of <prefix>.events written only by the outcomes projector (src/views/outcomes.c); the API reads
-- it for GET /commands/{id} and for synchronous submissions (Prefer: wait).

-- One row per command id: its latest decision. Accepted commands have one or more events (an
-- ExpireReservations has one per reservation), a rejection has exactly one (CommandRejected).
CREATE TABLE outcomes (
    command_id     TEXT PRIMARY KEY,
    sku            TEXT NOT NULL,
    command_type   TEXT NOT NULL,               -- wire name: CreateSku, ..., ExpireReservations
    accepted       INTEGER NOT NULL,            -- 1 accepted, 0 rejected
    reason         TEXT NOT NULL,               -- reject reason code, '' when accepted
    detail         TEXT NOT NULL,               -- rejection detail, '' when accepted
    decided_ms     INTEGER NOT NULL,
    last_sequence  INTEGER NOT NULL,            -- sequence of the decision's last event so far
    decision_count INTEGER NOT NULL             -- > 1: the id was decided again; the row is the latest
) WITHOUT ROWID;

-- The events of each outcome's decision: the read-your-writes tokens (partition:offset).
CREATE TABLE outcome_events (
    command_id      TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    type            TEXT NOT NULL,
    event_partition INTEGER NOT NULL,
    event_offset    INTEGER NOT NULL,
    PRIMARY KEY (command_id, sequence)
) WITHOUT ROWID;
