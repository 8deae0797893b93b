-- A label verifies only with a key that signed its print: each print records the keys that
-- signed its copies. A retired key's private half is destroyed; a revoked key voids every
-- label it signed until the label is reprinted (SPEC §8).

-- +goose Up
ALTER TABLE label_keys ALTER COLUMN private_key DROP NOT NULL;
ALTER TABLE label_keys ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE label_keys ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
-- One key signs at a time: any older key left active was superseded when the newest was made.
UPDATE label_keys k SET retired_at = n.created_at
FROM (SELECT kid, created_at FROM label_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1) n
WHERE k.retired_at IS NULL AND k.kid <> n.kid;
UPDATE label_keys SET private_key = NULL WHERE retired_at IS NOT NULL;
CREATE UNIQUE INDEX label_keys_one_active ON label_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
ALTER TABLE label_keys ADD CONSTRAINT label_keys_private_only_active
    CHECK ((retired_at IS NULL) = (private_key IS NOT NULL));
ALTER TABLE label_keys ADD CONSTRAINT label_keys_revoked_retired
    CHECK (revoked_at IS NULL OR (retired_at IS NOT NULL AND revoke_reason <> ''));

-- The keys that signed copies of each print, and when each first did. Prints made before this
-- table existed are credited to every key that was not retired when they were made.
CREATE TABLE label_print_keys (
    print_id  BIGINT NOT NULL REFERENCES label_prints (id),
    kid       TEXT NOT NULL REFERENCES label_keys (kid),
    signed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (print_id, kid)
);
CREATE INDEX label_print_keys_kid ON label_print_keys (kid);
INSERT INTO label_print_keys (print_id, kid, signed_at)
SELECT lp.id, k.kid, CASE WHEN k.created_at > lp.printed_at THEN k.created_at ELSE lp.printed_at END
FROM label_prints lp JOIN label_keys k ON k.retired_at IS NULL OR k.retired_at > lp.printed_at;

-- +goose Down
DROP TABLE label_print_keys;
DROP INDEX label_keys_one_active;
ALTER TABLE label_keys DROP CONSTRAINT label_keys_revoked_retired;
ALTER TABLE label_keys DROP CONSTRAINT label_keys_private_only_active;
ALTER TABLE label_keys DROP COLUMN revoke_reason;
ALTER TABLE label_keys DROP COLUMN revoked_at;
UPDATE label_keys SET private_key = '' WHERE private_key IS NULL;
ALTER TABLE label_keys ALTER COLUMN private_key SET NOT NULL;
