-- Randomization (SPEC §13): a concealed allocation list, e-signed by QA with its SHA-256, from
-- which enrolment takes the next unused allocation. position numbers the lists, so that two
-- loads at once cannot both become the list in use. An allocation, once given to a patient,
-- never changes and no allocation is deleted: the arm a subject was randomized to is fixed.

-- +goose Up
CREATE TABLE allocation_lists (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    position     INTEGER NOT NULL UNIQUE CHECK (position > 0),
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
    row_count    INTEGER NOT NULL CHECK (row_count > 0),
    signed_by    INTEGER NOT NULL REFERENCES users (id),
    printed_name TEXT NOT NULL,
    meaning      TEXT NOT NULL,
    signed_at    DATETIME NOT NULL
);

CREATE TABLE allocations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id      INTEGER NOT NULL REFERENCES allocation_lists (id),
    sequence     INTEGER NOT NULL UNIQUE CHECK (sequence > 0),
    arm          TEXT NOT NULL CHECK (arm IN ('huc_msc', 'routine')),
    stratum      TEXT NOT NULL DEFAULT '' CHECK (length(stratum) <= 40),
    patient_id   INTEGER UNIQUE REFERENCES patients (id),
    allocated_at DATETIME,
    CHECK ((patient_id IS NULL) = (allocated_at IS NULL))
);
CREATE INDEX allocations_unused ON allocations (list_id, sequence) WHERE patient_id IS NULL;

-- +goose StatementBegin
CREATE TRIGGER allocations_fixed BEFORE UPDATE ON allocations
WHEN OLD.patient_id IS NOT NULL OR NEW.sequence <> OLD.sequence OR NEW.arm <> OLD.arm
     OR NEW.list_id <> OLD.list_id OR NEW.stratum <> OLD.stratum
BEGIN
    SELECT RAISE(ABORT, 'allocations are fixed once loaded: only an unused allocation may be given to a patient');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER allocations_no_delete BEFORE DELETE ON allocations
BEGIN
    SELECT RAISE(ABORT, 'allocations are fixed once loaded: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE allocations;
DROP TABLE allocation_lists;
