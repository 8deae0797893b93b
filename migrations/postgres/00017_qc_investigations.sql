-- Out-of-specification investigations (SPEC §4 v2): a failing QC result opens one on its
-- lot and test; while it is open the test's criterion is oos. QA closes it with an electronic
-- signature (printed name, time, meaning) and a conclusion. BV2 runs keep why they are invalid.

-- +goose Up
CREATE TABLE qc_investigations (
    id             BIGSERIAL PRIMARY KEY,
    lot_id         BIGINT NOT NULL REFERENCES lots (id),
    test           TEXT NOT NULL CHECK (test IN ('viability', 'viable_cell_count', 'sterility', 'mycoplasma', 'endotoxin', 'phenotype', 'bv2_potency')),
    result_id      BIGINT NOT NULL UNIQUE REFERENCES qc_results (id),
    status         TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at      TIMESTAMPTZ NOT NULL,
    conclusion     TEXT NOT NULL DEFAULT '' CHECK (conclusion IN ('', 'lab_error', 'confirmed')),
    reason         TEXT NOT NULL DEFAULT '',
    closed_by      BIGINT REFERENCES users (id),
    printed_name   TEXT NOT NULL DEFAULT '',
    meaning        TEXT NOT NULL DEFAULT '',
    closed_at      TIMESTAMPTZ,
    last_result_id BIGINT REFERENCES qc_results (id),
    CHECK ((status = 'open' AND conclusion = '' AND closed_by IS NULL AND closed_at IS NULL AND last_result_id IS NULL)
        OR (status = 'closed' AND conclusion <> '' AND reason <> '' AND closed_by IS NOT NULL AND printed_name <> ''
            AND meaning <> '' AND closed_at IS NOT NULL AND last_result_id >= result_id))
);
-- At most one open investigation per lot and test.
CREATE UNIQUE INDEX qc_investigations_open ON qc_investigations (lot_id, test) WHERE status = 'open';
CREATE INDEX qc_investigations_lot ON qc_investigations (lot_id, id);

ALTER TABLE qc_results ADD COLUMN invalid_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE qc_results DROP COLUMN invalid_reason;
DROP TABLE qc_investigations;
