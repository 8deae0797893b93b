-- A label verifies only with a key that signed its print: each print records the keys that
-- signed its copies. A retired key's private half is destroyed; a revoked key voids every
-- label it signed until the label is reprinted (SPEC §8). SQLite cannot relax NOT NULL or add
-- a CHECK in place, so label_keys is rebuilt; no table refers to it yet.

-- +goose Up
CREATE TABLE label_keys_new (
    kid           TEXT PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 32 AND kid NOT GLOB '*[^A-Za-z0-9._-]*'),
    public_key    TEXT NOT NULL,
    private_key   TEXT,
    created_at    DATETIME NOT NULL,
    retired_at    DATETIME,
    revoked_at    DATETIME,
    revoke_reason TEXT NOT NULL DEFAULT '',
    CONSTRAINT label_keys_private_only_active CHECK ((retired_at IS NULL) = (private_key IS NOT NULL)),
    CONSTRAINT label_keys_revoked_retired CHECK (revoked_at IS NULL OR (retired_at IS NOT NULL AND revoke_reason <> ''))
);
-- One key signs at a time: any older key left active was superseded when the newest was made.
WITH newest AS (SELECT kid, created_at FROM label_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1)
INSERT INTO label_keys_new (kid, public_key, private_key, created_at, retired_at)
SELECT k.kid, k.public_key,
    CASE WHEN k.retired_at IS NULL AND k.kid = n.kid THEN k.private_key END,
    k.created_at,
    CASE WHEN k.retired_at IS NULL AND k.kid <> n.kid THEN n.created_at ELSE k.retired_at END
FROM label_keys k LEFT JOIN newest n ON 1 = 1;
DROP TABLE label_keys;
ALTER TABLE label_keys_new RENAME TO label_keys;
CREATE UNIQUE INDEX label_keys_one_active ON label_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- The keys that signed copies of each print, and when each first did. Prints made before this
-- table existed are credited to every key that was not retired when they were made.
CREATE TABLE label_print_keys (
    print_id  INTEGER NOT NULL REFERENCES label_prints (id),
    kid       TEXT NOT NULL REFERENCES label_keys (kid),
    signed_at DATETIME NOT NULL,
    PRIMARY KEY (print_id, kid)
);
CREATE INDEX label_print_keys_kid ON label_print_keys (kid);
INSERT INTO label_print_keys (print_id, kid, signed_at)
SELECT lp.id, k.kid, CASE WHEN k.created_at > lp.printed_at THEN k.created_at ELSE lp.printed_at END
FROM label_prints lp JOIN label_keys k ON k.retired_at IS NULL OR k.retired_at > lp.printed_at;

-- +goose Down
DROP TABLE label_print_keys;
CREATE TABLE label_keys_old (
    kid         TEXT PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 32 AND kid NOT GLOB '*[^A-Za-z0-9._-]*'),
    public_key  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    retired_at  DATETIME
);
INSERT INTO label_keys_old (kid, public_key, private_key, created_at, retired_at)
SELECT kid, public_key, COALESCE(private_key, ''), created_at, retired_at FROM label_keys;
DROP TABLE label_keys;
ALTER TABLE label_keys_old RENAME TO label_keys;
