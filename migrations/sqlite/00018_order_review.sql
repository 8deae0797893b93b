-- The dose order fixes the weight it was made with; a later weight beyond the order's tolerance
-- waits for a physician's signed confirmation (SPEC §6). A weight change over 10 % carries a
-- reason. A specification version is proposed and signed by QA and becomes current only when a
-- physician, another person, co-signs it; versions signed before count as in force.

-- +goose Up
ALTER TABLE patient_weights ADD COLUMN reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500);

ALTER TABLE dose_orders ADD COLUMN weight_id INTEGER REFERENCES patient_weights (id);
UPDATE dose_orders SET weight_id = (SELECT MAX(w.id) FROM patient_weights w
    WHERE w.patient_id = dose_orders.patient_id AND w.recorded_at <= dose_orders.ordered_at);

CREATE TABLE dose_order_confirmations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    dose_order_id INTEGER NOT NULL REFERENCES dose_orders (id),
    weight_id     INTEGER NOT NULL REFERENCES patient_weights (id),
    signed_by     INTEGER NOT NULL REFERENCES users (id),
    printed_name  TEXT NOT NULL,
    meaning       TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    signed_at     DATETIME NOT NULL,
    UNIQUE (dose_order_id, weight_id)
);

-- SQLite cannot add a table constraint to an existing table: the two-person rule and "co-signed
-- means in force" are column checks here.
ALTER TABLE spec_versions ADD COLUMN cosigned_by INTEGER REFERENCES users (id)
    CHECK (cosigned_by IS NULL OR created_by IS NULL OR cosigned_by <> created_by);
ALTER TABLE spec_versions ADD COLUMN cosigner_printed_name TEXT NOT NULL DEFAULT '';
ALTER TABLE spec_versions ADD COLUMN cosign_meaning TEXT NOT NULL DEFAULT '';
ALTER TABLE spec_versions ADD COLUMN effective_at DATETIME
    CHECK (cosigned_by IS NULL OR effective_at IS NOT NULL);
UPDATE spec_versions SET effective_at = created_at;
CREATE INDEX spec_versions_in_force ON spec_versions (version) WHERE effective_at IS NOT NULL;

-- +goose Down
DROP INDEX spec_versions_in_force;
ALTER TABLE spec_versions DROP COLUMN effective_at;
ALTER TABLE spec_versions DROP COLUMN cosign_meaning;
ALTER TABLE spec_versions DROP COLUMN cosigner_printed_name;
ALTER TABLE spec_versions DROP COLUMN cosigned_by;
DROP TABLE dose_order_confirmations;
ALTER TABLE dose_orders DROP COLUMN weight_id;
ALTER TABLE patient_weights DROP COLUMN reason;
