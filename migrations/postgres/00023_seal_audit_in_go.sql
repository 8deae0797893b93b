-- Audit entries are sealed in Go (domain.AuditEntry.Seal) under the chain's advisory lock, and
-- every request reads its session from the database: audit_append (00012) and the notices of
-- session and account changes (00016) have no caller. Stop every service process of an earlier
-- version before this migration runs: they seal entries with audit_append.

-- +goose Up
DROP TRIGGER IF EXISTS user_roles_auth_changed ON user_roles;
DROP TRIGGER IF EXISTS users_auth_changed ON users;
DROP TRIGGER IF EXISTS sessions_auth_changed ON sessions;
DROP FUNCTION IF EXISTS auth_changed();
DROP FUNCTION IF EXISTS audit_append(BIGINT, TEXT, TEXT, JSONB);

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION audit_append(lock_id BIGINT, genesis TEXT, version TEXT, entries JSONB) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq  BIGINT;
    head_hash TEXT;
    new_hash  TEXT;
    e         RECORD;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(lock_id);
    SELECT a.seq, a.hash INTO head_seq, head_hash FROM audit_entries a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := genesis;
    END IF;
    FOR e IN SELECT * FROM jsonb_to_recordset(entries) AS x(at TIMESTAMPTZ, user_id BIGINT, user_name TEXT, role TEXT,
            action TEXT, entity_type TEXT, entity_id TEXT, before_value TEXT, after_value TEXT, reason TEXT,
            request_id TEXT, content TEXT, ord INT) ORDER BY ord LOOP
        head_seq := head_seq + 1;
        new_hash := encode(sha256(convert_to(
            octet_length(version)::text || ':' || version ||
            length(head_seq::text)::text || ':' || head_seq::text ||
            e.content ||
            octet_length(head_hash)::text || ':' || head_hash, 'UTF8')), 'hex');
        INSERT INTO audit_entries (seq, at, user_id, user_name, role, action, entity_type, entity_id,
                before_value, after_value, reason, request_id, prev_hash, hash)
            VALUES (head_seq, e.at, e.user_id, e.user_name, e.role, e.action, e.entity_type, e.entity_id,
                e.before_value, e.after_value, e.reason, e.request_id, head_hash, new_hash);
        head_hash := new_hash;
    END LOOP;
    RETURN head_seq;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cordtrace_auth', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessions_auth_changed AFTER UPDATE OF ended_at, token_hash, user_id OR DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed();
CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed();
CREATE TRIGGER user_roles_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed();
