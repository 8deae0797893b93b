-- Follow-up (SPEC §13): assessments at the protocol's days with the trial's measurements, each
-- within its plausible range (domain.Measurements), and outcomes: one discharge, and at most one
-- death, withdrawal or loss to follow-up, which ends follow-up. Dates are the site's calendar
-- dates (YYYY-MM-DD).

-- +goose Up
CREATE TABLE assessments (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id           INTEGER NOT NULL REFERENCES patients (id),
    day                  INTEGER NOT NULL CHECK (day BETWEEN 0 AND 90),
    taken_at             DATETIME NOT NULL,
    crp_mg_l             REAL CHECK (crp_mg_l BETWEEN 0 AND 600),
    il6_pg_ml            REAL CHECK (il6_pg_ml BETWEEN 0 AND 100000),
    pct_ng_ml            REAL CHECK (pct_ng_ml BETWEEN 0 AND 1000),
    viral_load_copies_ml REAL CHECK (viral_load_copies_ml BETWEEN 0 AND 1e12),
    pf_ratio_mmhg        REAL CHECK (pf_ratio_mmhg BETWEEN 20 AND 700),
    imaging_score        REAL CHECK (imaging_score BETWEEN 0 AND 25 AND imaging_score = CAST(imaging_score AS INTEGER)),
    recorded_by          INTEGER NOT NULL REFERENCES users (id),
    recorded_at          DATETIME NOT NULL,
    UNIQUE (patient_id, day),
    CHECK (COALESCE(crp_mg_l, il6_pg_ml, pct_ng_ml, viral_load_copies_ml, pf_ratio_mmhg, imaging_score) IS NOT NULL)
);

CREATE TABLE outcomes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id  INTEGER NOT NULL REFERENCES patients (id),
    kind        TEXT NOT NULL CHECK (kind IN ('discharge', 'death', 'withdrawal', 'lost')),
    date        TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    cause       TEXT NOT NULL DEFAULT '' CHECK (length(cause) <= 500 AND (kind <> 'death' OR length(cause) > 0)),
    reason      TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500 AND (kind NOT IN ('withdrawal', 'lost') OR length(reason) > 0)),
    recorded_by INTEGER NOT NULL REFERENCES users (id),
    recorded_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX outcomes_one_discharge ON outcomes (patient_id) WHERE kind = 'discharge';
CREATE UNIQUE INDEX outcomes_one_end ON outcomes (patient_id) WHERE kind IN ('death', 'withdrawal', 'lost');

-- +goose Down
DROP TABLE outcomes;
DROP TABLE assessments;
