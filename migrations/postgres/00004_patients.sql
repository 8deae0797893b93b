-- Enrolled trial subjects and their weight history (SPEC §6). The chain-of-identity id is
-- stored, not derived, so that a later change of facility id never changes an existing one.

-- +goose Up
CREATE TABLE patients (
    id                BIGSERIAL PRIMARY KEY,
    subject_id        TEXT NOT NULL UNIQUE,
    mrn               TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    date_of_birth     TEXT NOT NULL,
    arm               TEXT NOT NULL CHECK (arm IN ('huc_msc', 'routine')),
    enrolled_at       TIMESTAMPTZ NOT NULL,
    chain_of_identity TEXT NOT NULL UNIQUE,
    created_by        BIGINT NOT NULL REFERENCES users (id),
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE patient_weights (
    id          BIGSERIAL PRIMARY KEY,
    patient_id  BIGINT NOT NULL REFERENCES patients (id),
    weight_kg   DOUBLE PRECISION NOT NULL CHECK (weight_kg BETWEEN 2 AND 350),
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX patient_weights_patient ON patient_weights (patient_id, id);

ALTER TABLE signatures ADD CONSTRAINT signatures_patient FOREIGN KEY (patient_id) REFERENCES patients (id);

-- +goose Down
ALTER TABLE signatures DROP CONSTRAINT signatures_patient;
DROP TABLE patient_weights;
DROP TABLE patients;
