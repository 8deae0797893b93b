-- Users, roles, sessions and the append-only audit trail (SPEC §9, §10).

-- +goose Up
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{3,64}$'),
    full_name     TEXT NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    password_hash TEXT NOT NULL CHECK (password_hash <> ''),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id),
    role    TEXT NOT NULL CHECK (role IN ('admin', 'qc', 'qa', 'physician', 'pharmacist', 'nurse')),
    PRIMARY KEY (user_id, role)
);

-- Tokens are stored as their SHA-256 so that a copy of the table cannot be used to log in.
CREATE TABLE sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id);

-- before/after are TEXT, not JSONB: the hash covers their exact bytes, and JSONB would reorder keys.
-- prev_hash is UNIQUE so that two writers can never fork the chain, whatever the application does.
CREATE TABLE audit_entries (
    seq          BIGINT PRIMARY KEY CHECK (seq > 0),
    at           TIMESTAMPTZ NOT NULL,
    user_id      BIGINT REFERENCES users (id),
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
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

-- +goose Down
DROP TABLE audit_entries;
DROP FUNCTION audit_entries_append_only();
DROP TABLE sessions;
DROP TABLE user_roles;
DROP TABLE users;
