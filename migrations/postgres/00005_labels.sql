-- Label signing keys and the record of every label print (SPEC §8). Keys live in the database
-- so that every serve process signs and verifies with the same ones; retired keys stay to
-- verify labels already printed.

-- +goose Up
CREATE TABLE label_keys (
    kid         TEXT PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._-]{1,32}$'),
    public_key  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ
);

-- Each print of a label has a serial; a scan of any serial but the latest is refused.
CREATE TABLE label_prints (
    id          BIGSERIAL PRIMARY KEY,
    entity_type TEXT NOT NULL CHECK (entity_type IN ('unit', 'dose_bag')),
    entity_id   BIGINT NOT NULL,
    serial      INTEGER NOT NULL CHECK (serial > 0),
    reason      TEXT NOT NULL DEFAULT '',
    printed_by  BIGINT NOT NULL REFERENCES users (id),
    printed_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (entity_type, entity_id, serial),
    CHECK (serial = 1 OR reason <> '')
);

-- +goose Down
DROP TABLE label_prints;
DROP TABLE label_keys;
