-- Dose orders, dose bags and infusions (SPEC §6, §7). One open order per patient, each unit
-- in at most one bag, and at most one infusion per patient and per bag: the database
-- guarantees these, whatever any process does.

-- +goose Up
CREATE TABLE dose_orders (
    id                  BIGSERIAL PRIMARY KEY,
    patient_id          BIGINT NOT NULL REFERENCES patients (id),
    weight_kg           DOUBLE PRECISION NOT NULL CHECK (weight_kg > 0),
    target_viable_cells BIGINT NOT NULL CHECK (target_viable_cells > 0),
    spec_version        INTEGER NOT NULL REFERENCES spec_versions (version),
    status              TEXT NOT NULL CHECK (status IN ('open', 'filled', 'cancelled')),
    ordered_by          BIGINT NOT NULL REFERENCES users (id),
    ordered_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX dose_orders_one_open ON dose_orders (patient_id) WHERE status = 'open';

CREATE TABLE dose_bags (
    id                      BIGSERIAL PRIMARY KEY,
    bag_id                  TEXT NOT NULL UNIQUE CHECK (length(bag_id) = 21),
    dose_order_id           BIGINT NOT NULL UNIQUE REFERENCES dose_orders (id),
    patient_id              BIGINT NOT NULL REFERENCES patients (id),
    lot_id                  BIGINT NOT NULL REFERENCES lots (id),
    thawed_at               TIMESTAMPTZ NOT NULL,
    post_thaw_viability_pct DOUBLE PRECISION NOT NULL CHECK (post_thaw_viability_pct BETWEEN 0 AND 100),
    viable_cells            BIGINT NOT NULL CHECK (viable_cells > 0),
    volume_ml               DOUBLE PRECISION NOT NULL CHECK (volume_ml > 0),
    volume_to_draw_ml       DOUBLE PRECISION NOT NULL CHECK (volume_to_draw_ml > 0),
    expires_at              TIMESTAMPTZ NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN ('prepared', 'dispatched', 'received', 'verified', 'infused', 'returned', 'discarded')),
    prepared_by             BIGINT NOT NULL REFERENCES users (id),
    prepared_at             TIMESTAMPTZ NOT NULL,
    CHECK (expires_at > thawed_at)
);
CREATE INDEX dose_bags_lot ON dose_bags (lot_id);

CREATE TABLE dose_bag_units (
    dose_bag_id BIGINT NOT NULL REFERENCES dose_bags (id),
    unit_id     BIGINT NOT NULL UNIQUE REFERENCES units (id),
    PRIMARY KEY (dose_bag_id, unit_id)
);

CREATE TABLE infusions (
    id              BIGSERIAL PRIMARY KEY,
    verification_id BIGINT NOT NULL,
    dose_bag_id     BIGINT NOT NULL UNIQUE REFERENCES dose_bags (id),
    patient_id      BIGINT NOT NULL UNIQUE REFERENCES patients (id),
    started_by      BIGINT NOT NULL REFERENCES users (id),
    started_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ,
    volume_ml       DOUBLE PRECISION CHECK (volume_ml IS NULL OR volume_ml >= 0),
    reactions       TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE infusions;
DROP TABLE dose_bag_units;
DROP TABLE dose_bags;
DROP TABLE dose_orders;
