-- Tells every service process, at the commit, that a session may have ended or a user or their
-- roles changed, so that the sessions each keeps in memory (store.sessionCache) are dropped.
-- Statement-level and without a payload: PostgreSQL sends one notice per transaction. A
-- session's last use (last_seen_at, written every 30 s) and a new login need no notice: the
-- first is checked in the database anyway, and no process has kept a session not yet made.

-- +goose Up
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

-- +goose Down
DROP TRIGGER user_roles_auth_changed ON user_roles;
DROP TRIGGER users_auth_changed ON users;
DROP TRIGGER sessions_auth_changed ON sessions;
DROP FUNCTION auth_changed();
