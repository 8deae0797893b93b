-- Custody scans of dose bags (SPEC §2, §7): every scan is kept, accepted or refused, so that
-- refused and manual scans can be reported per ward. A temperature outside the transport range
-- is an excursion that blocks the bag until QA records a disposition.

-- +goose Up
CREATE TABLE custody_scans (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('dispatch', 'receive')),
    dose_bag_id   BIGINT REFERENCES dose_bags (id),
    code          TEXT NOT NULL,
    code_kind     TEXT NOT NULL CHECK (code_kind IN ('qr', 'isbt', 'manual', 'unknown')),
    location      TEXT NOT NULL,
    temperature_c DOUBLE PRECISION,
    excursion     BOOLEAN NOT NULL DEFAULT FALSE,
    accepted      BOOLEAN NOT NULL,
    refusal       TEXT NOT NULL DEFAULT '',
    from_user     BIGINT REFERENCES users (id),
    scanned_by    BIGINT NOT NULL REFERENCES users (id),
    scanned_at    TIMESTAMPTZ NOT NULL,
    CHECK (accepted = (refusal = ''))
);
CREATE INDEX custody_scans_bag ON custody_scans (dose_bag_id, id);

CREATE TABLE excursion_dispositions (
    id          BIGSERIAL PRIMARY KEY,
    dose_bag_id BIGINT NOT NULL REFERENCES dose_bags (id),
    decision    TEXT NOT NULL CHECK (decision IN ('use', 'discard')),
    reason      TEXT NOT NULL CHECK (reason <> ''),
    decided_by  BIGINT NOT NULL REFERENCES users (id),
    decided_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE excursion_dispositions;
DROP TABLE custody_scans;
