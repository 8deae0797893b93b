-- Bedside verifications (SPEC §7): every attempt, passing or failing, with each check's code,
-- outcome and sentence, so that stops and manual entries can be reported per ward.

-- +goose Up
CREATE TABLE verifications (
    id          BIGSERIAL PRIMARY KEY,
    dose_bag_id BIGINT REFERENCES dose_bags (id),
    patient_id  BIGINT REFERENCES patients (id),
    wristband   TEXT NOT NULL,
    code        TEXT NOT NULL,
    code_kind   TEXT NOT NULL CHECK (code_kind IN ('qr', 'isbt', 'manual', 'unknown')),
    pass        BOOLEAN NOT NULL,
    checks      TEXT NOT NULL,
    failed      TEXT NOT NULL DEFAULT '',
    nurse_id    BIGINT NOT NULL REFERENCES users (id),
    witness_id  BIGINT REFERENCES users (id),
    ward        TEXT NOT NULL DEFAULT '',
    verified_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX verifications_bag ON verifications (dose_bag_id, id);
CREATE INDEX verifications_ward ON verifications (ward, verified_at);

-- +goose Down
DROP TABLE verifications;
