-- The GMP lab: donations, lots, QC results, the versioned release specification, signatures
-- and units (SPEC §2–§5).

-- Times are stored as text by the driver; every time the service writes is UTC.

-- +goose Up
-- The last DIN sequence number allocated per facility and year; allocation is one atomic
-- upsert, so concurrent requests on several processes never get the same number.
CREATE TABLE din_sequences (
    facility TEXT NOT NULL,
    year     INTEGER NOT NULL CHECK (year BETWEEN 0 AND 99),
    last_seq INTEGER NOT NULL CHECK (last_seq BETWEEN 0 AND 999999),
    PRIMARY KEY (facility, year)
);

CREATE TABLE donations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    din          TEXT NOT NULL UNIQUE CHECK (length(din) = 13),
    collected_at DATETIME NOT NULL,
    eligibility  TEXT NOT NULL CHECK (eligibility IN ('eligible', 'ineligible', 'pending')),
    created_by   INTEGER NOT NULL REFERENCES users (id),
    created_at   DATETIME NOT NULL
);

-- Each version is a complete specification as JSON; versions are never changed, only added.
CREATE TABLE spec_versions (
    version      INTEGER PRIMARY KEY CHECK (version > 0),
    spec         TEXT NOT NULL,
    created_by   INTEGER REFERENCES users (id),
    printed_name TEXT NOT NULL,
    meaning      TEXT NOT NULL,
    created_at   DATETIME NOT NULL
);

CREATE TABLE lots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_number      TEXT NOT NULL UNIQUE CHECK (length(lot_number) BETWEEN 1 AND 40),
    donation_id     INTEGER NOT NULL REFERENCES donations (id),
    status          TEXT NOT NULL CHECK (status IN ('in_process', 'quarantine', 'released', 'rejected', 'on_hold', 'recalled', 'expired')),
    manufactured_at DATETIME NOT NULL,
    expires_at      DATETIME NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES users (id),
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    CHECK (expires_at > manufactured_at)
);
CREATE INDEX lots_status ON lots (status, id);
CREATE INDEX lots_donation ON lots (donation_id);

-- Results are never overwritten: a correction is a new row naming the one it corrects, and a
-- result can be corrected only once (the correction itself can be corrected in turn).
CREATE TABLE qc_results (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id         INTEGER NOT NULL REFERENCES lots (id),
    test           TEXT NOT NULL CHECK (test IN ('viability', 'viable_cell_count', 'sterility', 'mycoplasma', 'endotoxin', 'phenotype', 'bv2_potency')),
    value          REAL,
    result         TEXT NOT NULL DEFAULT '',
    markers        TEXT NOT NULL DEFAULT '',
    analyte        TEXT NOT NULL DEFAULT '',
    baseline       TEXT NOT NULL DEFAULT '',
    lps            TEXT NOT NULL DEFAULT '',
    treated        TEXT NOT NULL DEFAULT '',
    valid          BOOLEAN,
    inhibition_pct REAL,
    corrects_id    INTEGER UNIQUE REFERENCES qc_results (id),
    reason         TEXT NOT NULL DEFAULT '',
    entered_by     INTEGER NOT NULL REFERENCES users (id),
    entered_at     DATETIME NOT NULL,
    CHECK (corrects_id IS NULL OR reason <> '')
);
CREATE INDEX qc_results_lot ON qc_results (lot_id, id);

-- Electronic signatures (21 CFR Part 11): who, printed name, when, what it means, and the
-- hash of the evaluated results it is bound to.
CREATE TABLE signatures (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id           INTEGER NOT NULL REFERENCES lots (id),
    action           TEXT NOT NULL CHECK (action IN ('release', 'reject', 'hold', 'recall', 'exceptional_release', 'exceptional_release_physician', 'spec_version')),
    user_id          INTEGER NOT NULL REFERENCES users (id),
    printed_name     TEXT NOT NULL,
    role             TEXT NOT NULL,
    meaning          TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    spec_version     INTEGER REFERENCES spec_versions (version),
    evaluation_hash  TEXT NOT NULL DEFAULT '',
    patient_id       INTEGER,
    signed_at        DATETIME NOT NULL
);
CREATE INDEX signatures_lot ON signatures (lot_id, id);

CREATE TABLE units (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id       INTEGER NOT NULL REFERENCES lots (id),
    unit_id      TEXT NOT NULL UNIQUE,
    division     INTEGER NOT NULL CHECK (division > 0),
    viable_cells INTEGER NOT NULL CHECK (viable_cells > 0),
    volume_ml    REAL NOT NULL CHECK (volume_ml > 0),
    status       TEXT NOT NULL CHECK (status IN ('available', 'allocated', 'consumed', 'discarded')),
    created_at   DATETIME NOT NULL,
    UNIQUE (lot_id, division)
);

-- +goose Down
DROP TABLE units;
DROP TABLE signatures;
DROP TABLE qc_results;
DROP TABLE lots;
DROP TABLE spec_versions;
DROP TABLE donations;
DROP TABLE din_sequences;
