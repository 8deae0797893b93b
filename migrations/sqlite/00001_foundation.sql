-- Users, roles, sessions and the append-only audit trail (SPEC §9, §10).
-- Times are stored as text by the driver; every time the service writes is UTC.

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE
                  CHECK (length(username) BETWEEN 3 AND 64 AND username NOT GLOB '*[^a-z0-9._-]*'),
    full_name     TEXT NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    password_hash TEXT NOT NULL CHECK (password_hash <> ''),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  DATETIME,
    created_at    DATETIME NOT NULL
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id),
    role    TEXT NOT NULL CHECK (role IN ('admin', 'qc', 'qa', 'physician', 'pharmacist', 'nurse')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    ended_at     DATETIME
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit_entries (
    seq          INTEGER PRIMARY KEY CHECK (seq > 0),
    at           DATETIME NOT NULL,
    user_id      INTEGER REFERENCES users (id),
    user_name    TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action <> ''),
    entity_type  TEXT NOT NULL CHECK (entity_type <> ''),
    entity_id    TEXT NOT NULL,
    before_value TEXT NOT NULL DEFAULT '',
    after_value  TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT '',
    prev_hash    TEXT NOT NULL UNIQUE CHECK (length(prev_hash) = 64),
    hash         TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
);
CREATE INDEX audit_entries_entity ON audit_entries (entity_type, entity_id, seq);

-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_entries;
DROP TABLE sessions;
DROP TABLE user_roles;
DROP TABLE users;
