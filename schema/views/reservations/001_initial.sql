-- views/reservations/001_initial.sql - the reservations read model: every reservation and its status.
-- A fold of <prefix>.events written only by the reservations projector (src/views/reservations.c);
-- reservation ids are unique per SKU only, so the key is (sku, reservation_id).

CREATE TABLE reservations (
    sku                TEXT NOT NULL,
    reservation_id     TEXT NOT NULL,
    status             INTEGER NOT NULL,       -- 1 active, 2 released, 3 fulfilled, 4 expired
    location           TEXT NOT NULL,
    quantity           INTEGER NOT NULL,
    expires_at_ms      INTEGER NOT NULL,       -- 0: never
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    created_command_id TEXT NOT NULL,          -- the ReserveStock that made it
    updated_command_id TEXT NOT NULL,          -- the last command that changed it
    PRIMARY KEY (sku, reservation_id)
) WITHOUT ROWID;

-- Lookup by id alone (GET /reservations/{id}): finds the one SKU holding it, or tells it is ambiguous.
CREATE INDEX reservations_by_id ON reservations (reservation_id);
