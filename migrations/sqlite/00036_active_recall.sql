-- Active recall: a task for every unit and dose bag of a held or recalled lot not yet infused,
-- open until it is scanned back or recorded destroyed, and a notice for each patient already
-- infused, until a physician acknowledges it.

-- +goose Up
CREATE TABLE recall_tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id      INTEGER NOT NULL REFERENCES lots (id),
    unit_id     INTEGER REFERENCES units (id),
    dose_bag_id INTEGER REFERENCES dose_bags (id),
    cause       TEXT NOT NULL CHECK (cause IN ('hold', 'recall')),
    status      TEXT NOT NULL CHECK (status IN ('open', 'returned', 'destroyed', 'cancelled')),
    opened_at   DATETIME NOT NULL,
    closed_at   DATETIME,
    closed_by   INTEGER REFERENCES users (id),
    printed_name TEXT NOT NULL DEFAULT '',
    code_kind   TEXT NOT NULL DEFAULT '',
    entry       TEXT NOT NULL DEFAULT '' CHECK (entry IN ('', 'scanned', 'typed', 'camera')),
    reason      TEXT NOT NULL DEFAULT '',
    CHECK ((unit_id IS NULL) <> (dose_bag_id IS NULL)),
    CHECK ((status = 'open') = (closed_at IS NULL)),
    CHECK (status <> 'destroyed' OR reason <> '')
);
CREATE INDEX recall_tasks_lot ON recall_tasks (lot_id, id);
CREATE INDEX recall_tasks_open ON recall_tasks (status, id);
-- At most one open task per unit and per bag, whatever number of holds and recalls.
CREATE UNIQUE INDEX recall_tasks_open_unit ON recall_tasks (unit_id) WHERE status = 'open';
CREATE UNIQUE INDEX recall_tasks_open_bag ON recall_tasks (dose_bag_id) WHERE status = 'open';

CREATE TABLE recall_notices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id          INTEGER NOT NULL REFERENCES lots (id),
    patient_id      INTEGER NOT NULL REFERENCES patients (id),
    cause           TEXT NOT NULL CHECK (cause IN ('hold', 'recall')),
    reason          TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    acknowledged_by INTEGER REFERENCES users (id),
    printed_name    TEXT NOT NULL DEFAULT '',
    acknowledged_at DATETIME,
    note            TEXT NOT NULL DEFAULT '',
    CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE INDEX recall_notices_patient ON recall_notices (patient_id, id);
CREATE UNIQUE INDEX recall_notices_open ON recall_notices (lot_id, patient_id) WHERE acknowledged_at IS NULL;

-- +goose Down
DROP TABLE recall_notices;
DROP TABLE recall_tasks;
