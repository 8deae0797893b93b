-- Adverse events per ICH E2A (SPEC §13): every version of an event's report, append-only, and
-- the reports to the sponsor its clocks call for (domain.ReportingClocks). adverse_events
-- keeps the event's identity and its latest version's summary, which the trace, FHIR and the
-- trial export read.

-- +goose Up
ALTER TABLE adverse_events ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);

-- A report from the first reporting form names no term: no relatedness, expectedness,
-- outcome or action either, until a follow-up gives them all.
CREATE TABLE adverse_event_versions (
    id                                INTEGER PRIMARY KEY AUTOINCREMENT,
    adverse_event_id                  INTEGER NOT NULL REFERENCES adverse_events (id),
    version                           INTEGER NOT NULL CHECK (version >= 1),
    term                              TEXT CHECK (length(term) BETWEEN 1 AND 200),
    description                       TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    onset_at                          DATETIME NOT NULL,
    grade                             INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 5),
    criterion_death                   BOOLEAN NOT NULL,
    criterion_life_threatening        BOOLEAN NOT NULL,
    criterion_hospitalisation         BOOLEAN NOT NULL,
    criterion_persistent_disability   BOOLEAN NOT NULL,
    criterion_congenital_anomaly      BOOLEAN NOT NULL,
    criterion_important_medical_event BOOLEAN NOT NULL,
    relatedness                       TEXT CHECK (relatedness IN ('not_related', 'unlikely', 'possible', 'probable', 'definite')),
    expected                          BOOLEAN,
    spec_version                      INTEGER REFERENCES spec_versions (version),
    outcome                           TEXT CHECK (outcome IN ('recovered', 'recovering', 'not_recovered', 'recovered_with_sequelae', 'fatal', 'unknown')),
    action_taken                      TEXT CHECK (action_taken IN ('none', 'infusion_slowed', 'infusion_interrupted', 'infusion_stopped', 'not_applicable', 'unknown')),
    aware_at                          DATETIME NOT NULL,
    reported_by                       INTEGER NOT NULL REFERENCES users (id),
    reported_at                       DATETIME NOT NULL,
    UNIQUE (adverse_event_id, version),
    CHECK ((term IS NULL) = (relatedness IS NULL) AND (term IS NULL) = (expected IS NULL) AND (term IS NULL) = (spec_version IS NULL)
        AND (term IS NULL) = (outcome IS NULL) AND (term IS NULL) = (action_taken IS NULL)),
    CHECK ((grade = 5) = criterion_death),
    CHECK (outcome IS NULL OR (outcome = 'fatal') = criterion_death),
    CHECK (grade < 4 OR criterion_death OR criterion_life_threatening OR criterion_hospitalisation
        OR criterion_persistent_disability OR criterion_congenital_anomaly OR criterion_important_medical_event)
);

-- +goose StatementBegin
CREATE TRIGGER adverse_event_versions_no_update BEFORE UPDATE ON adverse_event_versions
BEGIN
    SELECT RAISE(ABORT, 'adverse_event_versions is append-only: UPDATE refused');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER adverse_event_versions_no_delete BEFORE DELETE ON adverse_event_versions
BEGIN
    SELECT RAISE(ABORT, 'adverse_event_versions is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- One report of each kind per event; open until someone records it was sent to the sponsor.
CREATE TABLE safety_reports (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    adverse_event_id INTEGER NOT NULL REFERENCES adverse_events (id),
    kind             TEXT NOT NULL CHECK (kind IN ('sae_24h', 'susar_7d', 'susar_15d')),
    due_at           DATETIME NOT NULL,
    opened_version   INTEGER NOT NULL,
    sent_at          DATETIME,
    sent_by          INTEGER REFERENCES users (id),
    sent_version     INTEGER,
    UNIQUE (adverse_event_id, kind),
    FOREIGN KEY (adverse_event_id, opened_version) REFERENCES adverse_event_versions (adverse_event_id, version),
    CHECK ((sent_at IS NULL) = (sent_by IS NULL) AND (sent_at IS NULL) = (sent_version IS NULL))
);
CREATE INDEX safety_reports_open ON safety_reports (due_at) WHERE sent_at IS NULL;

-- Events reported before versions existed become version 1, as the first reporting form
-- gives them (domain.BuildReport); a serious one opens its 24-hour report.
INSERT INTO adverse_event_versions (adverse_event_id, version, description, onset_at, grade,
    criterion_death, criterion_life_threatening, criterion_hospitalisation, criterion_persistent_disability,
    criterion_congenital_anomaly, criterion_important_medical_event, aware_at, reported_by, reported_at)
SELECT id, 1, description, onset_at,
    CASE severity WHEN 'mild' THEN 1 WHEN 'moderate' THEN 2 WHEN 'severe' THEN 3 WHEN 'life_threatening' THEN 4 ELSE 5 END,
    serious AND severity = 'fatal', serious AND severity = 'life_threatening', FALSE, FALSE, FALSE,
    serious AND severity NOT IN ('fatal', 'life_threatening'), reported_at, reported_by, reported_at
FROM adverse_events;
INSERT INTO safety_reports (adverse_event_id, kind, due_at, opened_version)
SELECT id, 'sae_24h', strftime('%Y-%m-%d %H:%M:%f+00:00', reported_at, '+24 hours'), 1 FROM adverse_events WHERE serious;

-- +goose Down
DROP TABLE safety_reports;
DROP TABLE adverse_event_versions;
ALTER TABLE adverse_events DROP COLUMN version;
