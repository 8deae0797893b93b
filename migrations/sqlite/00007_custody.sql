-- Custody scans of dose bags (SPEC §2, §7): every scan is kept, accepted or refused, so that
-- refused and manual scans can be reported per ward. A temperature outside the transport range
-- is an excursion that blocks the bag until QA records a disposition.

-- +goose Up
CREATE TABLE custody_scans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL CHECK (kind IN ('dispatch', 'receive')),
    dose_bag_id   INTEGER REFERENCES dose_bags (id),
    code          TEXT NOT NULL,
    code_kind     TEXT NOT NULL CHECK (code_kind IN ('qr', 'isbt', 'manual', 'unknown')),
    location      TEXT NOT NULL,
    temperature_c REAL,
    excursion     BOOLEAN NOT NULL DEFAULT 0,
    accepted      BOOLEAN NOT NULL,
    refusal       TEXT NOT NULL DEFAULT '',
    from_user     INTEGER REFERENCES users (id),
    scanned_by    INTEGER NOT NULL REFERENCES users (id),
    scanned_at    DATETIME NOT NULL,
    CHECK (accepted = (refusal = ''))
);
CREATE INDEX custody_scans_bag ON custody_scans (dose_bag_id, id);

CREATE TABLE excursion_dispositions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    dose_bag_id INTEGER NOT NULL REFERENCES dose_bags (id),
    decision    TEXT NOT NULL CHECK (decision IN ('use', 'discard')),
    reason      TEXT NOT NULL CHECK (reason <> ''),
    decided_by  INTEGER NOT NULL REFERENCES users (id),
    decided_at  DATETIME NOT NULL
);

-- +goose Down
DROP TABLE excursion_dispositions;
DROP TABLE custody_scans;
