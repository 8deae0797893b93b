-- Protocol deviations (SPEC §13): recorded by hand, or by cordtrace in the transaction of the
-- record that is one (cause and the entity it names, once per record), and signed off by a
-- physician with an electronic signature once the corrective action is recorded.

-- +goose Up
CREATE TABLE protocol_deviations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id        INTEGER REFERENCES patients (id),
    category          TEXT NOT NULL CHECK (category IN ('eligibility', 'informed_consent', 'investigational_product',
                          'identity_verification', 'assessment_schedule', 'safety_reporting', 'other')),
    description       TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    corrective_action TEXT NOT NULL DEFAULT '' CHECK (length(corrective_action) <= 4000),
    cause             TEXT CHECK (cause IN ('exceptional_release_infusion', 'typed_bedside_entry', 'missed_assessment')),
    entity_type       TEXT,
    entity_id         INTEGER,
    recorded_by       INTEGER NOT NULL REFERENCES users (id),
    recorded_at       DATETIME NOT NULL,
    signed_by         INTEGER REFERENCES users (id),
    printed_name      TEXT NOT NULL DEFAULT '',
    meaning           TEXT NOT NULL DEFAULT '',
    sign_reason       TEXT NOT NULL DEFAULT '',
    signed_at         DATETIME,
    UNIQUE (cause, entity_type, entity_id),
    CHECK ((cause IS NULL) = (entity_type IS NULL) AND (cause IS NULL) = (entity_id IS NULL)),
    CHECK ((signed_at IS NULL) = (signed_by IS NULL)),
    CHECK (signed_at IS NULL OR (corrective_action <> '' AND printed_name <> '' AND meaning <> '' AND sign_reason <> ''))
);
CREATE INDEX protocol_deviations_open ON protocol_deviations (recorded_at) WHERE signed_at IS NULL;

-- +goose Down
DROP TABLE protocol_deviations;
