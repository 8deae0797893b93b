-- Adverse events (SPEC §1, §12), linked to the patient and, when there is one, to their
-- infusion and its lot, so that serious events show on the lot's page and in its trace.

-- +goose Up
CREATE TABLE adverse_events (
    id          BIGSERIAL PRIMARY KEY,
    patient_id  BIGINT NOT NULL REFERENCES patients (id),
    infusion_id BIGINT REFERENCES infusions (id),
    lot_id      BIGINT REFERENCES lots (id),
    serious     BOOLEAN NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe', 'life_threatening', 'fatal')),
    description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    onset_at    TIMESTAMPTZ NOT NULL,
    reported_by BIGINT NOT NULL REFERENCES users (id),
    reported_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX adverse_events_lot ON adverse_events (lot_id, id);
CREATE INDEX adverse_events_patient ON adverse_events (patient_id, id);

-- +goose Down
DROP TABLE adverse_events;
