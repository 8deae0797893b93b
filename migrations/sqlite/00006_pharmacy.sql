-- Dose orders, dose bags and infusions (SPEC §6, §7). One open order per patient, each unit
-- in at most one bag, and at most one infusion per patient and per bag: the database
-- guarantees these, whatever any process does.

-- +goose Up
CREATE TABLE dose_orders (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id          INTEGER NOT NULL REFERENCES patients (id),
    weight_kg           REAL NOT NULL CHECK (weight_kg > 0),
    target_viable_cells INTEGER NOT NULL CHECK (target_viable_cells > 0),
    spec_version        INTEGER NOT NULL REFERENCES spec_versions (version),
    status              TEXT NOT NULL CHECK (status IN ('open', 'filled', 'cancelled')),
    ordered_by          INTEGER NOT NULL REFERENCES users (id),
    ordered_at          DATETIME NOT NULL
);
CREATE UNIQUE INDEX dose_orders_one_open ON dose_orders (patient_id) WHERE status = 'open';

CREATE TABLE dose_bags (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    bag_id                  TEXT NOT NULL UNIQUE CHECK (length(bag_id) = 21),
    dose_order_id           INTEGER NOT NULL UNIQUE REFERENCES dose_orders (id),
    patient_id              INTEGER NOT NULL REFERENCES patients (id),
    lot_id                  INTEGER NOT NULL REFERENCES lots (id),
    thawed_at               DATETIME NOT NULL,
    post_thaw_viability_pct REAL NOT NULL CHECK (post_thaw_viability_pct BETWEEN 0 AND 100),
    viable_cells            INTEGER NOT NULL CHECK (viable_cells > 0),
    volume_ml               REAL NOT NULL CHECK (volume_ml > 0),
    volume_to_draw_ml       REAL NOT NULL CHECK (volume_to_draw_ml > 0),
    expires_at              DATETIME NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN ('prepared', 'dispatched', 'received', 'verified', 'infused', 'returned', 'discarded')),
    prepared_by             INTEGER NOT NULL REFERENCES users (id),
    prepared_at             DATETIME NOT NULL,
    CHECK (expires_at > thawed_at)
);
CREATE INDEX dose_bags_lot ON dose_bags (lot_id);

CREATE TABLE dose_bag_units (
    dose_bag_id INTEGER NOT NULL REFERENCES dose_bags (id),
    unit_id     INTEGER NOT NULL UNIQUE REFERENCES units (id),
    PRIMARY KEY (dose_bag_id, unit_id)
);

CREATE TABLE infusions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    verification_id INTEGER NOT NULL,
    dose_bag_id     INTEGER NOT NULL UNIQUE REFERENCES dose_bags (id),
    patient_id      INTEGER NOT NULL UNIQUE REFERENCES patients (id),
    started_by      INTEGER NOT NULL REFERENCES users (id),
    started_at      DATETIME NOT NULL,
    ended_at        DATETIME,
    volume_ml       REAL CHECK (volume_ml IS NULL OR volume_ml >= 0),
    reactions       TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE infusions;
DROP TABLE dose_bag_units;
DROP TABLE dose_bags;
DROP TABLE dose_orders;
