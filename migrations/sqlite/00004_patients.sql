-- Enrolled trial subjects and their weight history (SPEC §6). The chain-of-identity id is
-- stored, not derived, so that a later change of facility id never changes an existing one.

-- +goose Up
CREATE TABLE patients (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id        TEXT NOT NULL UNIQUE,
    mrn               TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    date_of_birth     TEXT NOT NULL,
    arm               TEXT NOT NULL CHECK (arm IN ('huc_msc', 'routine')),
    enrolled_at       DATETIME NOT NULL,
    chain_of_identity TEXT NOT NULL UNIQUE,
    created_by        INTEGER NOT NULL REFERENCES users (id),
    created_at        DATETIME NOT NULL
);

CREATE TABLE patient_weights (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id  INTEGER NOT NULL REFERENCES patients (id),
    weight_kg   REAL NOT NULL CHECK (weight_kg BETWEEN 2 AND 350),
    recorded_by INTEGER NOT NULL REFERENCES users (id),
    recorded_at DATETIME NOT NULL
);
CREATE INDEX patient_weights_patient ON patient_weights (patient_id, id);

-- SQLite cannot add a foreign key to an existing table; the store checks the patient exists.

-- +goose Down
DROP TABLE patient_weights;
DROP TABLE patients;
