-- Randomization (SPEC §13): a concealed allocation list, e-signed by QA with its SHA-256, from
-- which enrolment takes the next unused allocation. position numbers the lists, so that two
-- loads at once cannot both become the list in use. An allocation, once given to a patient,
-- never changes and no allocation is deleted: the arm a subject was randomized to is fixed.

-- +goose Up
CREATE TABLE allocation_lists (
    id           BIGSERIAL PRIMARY KEY,
    position     INTEGER NOT NULL UNIQUE CHECK (position > 0),
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
    row_count    INTEGER NOT NULL CHECK (row_count > 0),
    signed_by    BIGINT NOT NULL REFERENCES users (id),
    printed_name TEXT NOT NULL,
    meaning      TEXT NOT NULL,
    signed_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE allocations (
    id           BIGSERIAL PRIMARY KEY,
    list_id      BIGINT NOT NULL REFERENCES allocation_lists (id),
    sequence     INTEGER NOT NULL UNIQUE CHECK (sequence > 0),
    arm          TEXT NOT NULL CHECK (arm IN ('huc_msc', 'routine')),
    stratum      TEXT NOT NULL DEFAULT '' CHECK (length(stratum) <= 40),
    patient_id   BIGINT UNIQUE REFERENCES patients (id),
    allocated_at TIMESTAMPTZ,
    CHECK ((patient_id IS NULL) = (allocated_at IS NULL))
);
CREATE INDEX allocations_unused ON allocations (list_id, sequence) WHERE patient_id IS NULL;

-- +goose StatementBegin
CREATE FUNCTION allocations_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.patient_id IS NOT NULL
       OR NEW.sequence <> OLD.sequence OR NEW.arm <> OLD.arm OR NEW.list_id <> OLD.list_id OR NEW.stratum <> OLD.stratum THEN
        RAISE EXCEPTION 'allocations are fixed once loaded: only an unused allocation may be given to a patient'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER allocations_fixed BEFORE UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_fixed();

-- +goose Down
DROP TABLE allocations;
DROP FUNCTION allocations_fixed();
DROP TABLE allocation_lists;
