-- The witness is present (SPEC §7): a witness token is issued on the bedside device to a nurse or
-- physician who entered their password there, is valid for 2 minutes and for one verification:
-- the verification that used it names it, and no two verifications may name the same token.
-- What only the signed QR proves: a typed or ISBT-scanned code is accepted with an entry reason,
-- kept on the verification.

-- +goose Up
CREATE TABLE witness_tokens (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    witness_id BIGINT NOT NULL REFERENCES users (id),
    issued_to  BIGINT NOT NULL REFERENCES users (id),
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    CHECK (expires_at > issued_at),
    CHECK (witness_id <> issued_to)
);
ALTER TABLE verifications ADD COLUMN witness_token_id BIGINT REFERENCES witness_tokens (id);
CREATE UNIQUE INDEX verifications_witness_token ON verifications (witness_token_id);
ALTER TABLE verifications ADD COLUMN entry_reason TEXT NOT NULL DEFAULT ''
    CHECK (entry_reason IN ('', 'label_damaged', 'scanner_down', 'wristband_unreadable', 'other'));
ALTER TABLE verifications ADD COLUMN entry_reason_text TEXT NOT NULL DEFAULT ''
    CHECK (length(entry_reason_text) <= 500 AND (entry_reason <> 'other' OR entry_reason_text <> ''));

-- +goose Down
ALTER TABLE verifications DROP COLUMN entry_reason_text;
ALTER TABLE verifications DROP COLUMN entry_reason;
DROP INDEX verifications_witness_token;
ALTER TABLE verifications DROP COLUMN witness_token_id;
DROP TABLE witness_tokens;
