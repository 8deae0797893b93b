-- Accounts an admin disables (domain.User.Disabled, with the reason), and why each session
-- ended (domain.SessionEnd*), so that a person whose session was ended is told why. The rule
-- that decides whether a session may still be used is domain.CheckSession.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled_at DATETIME;
ALTER TABLE users ADD COLUMN disabled_reason TEXT CHECK (
    (disabled_at IS NULL AND disabled_reason IS NULL)
    OR (disabled_at IS NOT NULL AND disabled_reason IS NOT NULL AND length(trim(disabled_reason)) BETWEEN 1 AND 500));
ALTER TABLE sessions ADD COLUMN end_reason TEXT CHECK (
    (end_reason IS NULL OR ended_at IS NOT NULL)
    AND end_reason IN ('logout', 'locked', 'disabled', 'password_changed', 'roles_changed', 'ended_by_admin'));
CREATE INDEX sessions_user_open ON sessions (user_id) WHERE ended_at IS NULL;

-- +goose Down
DROP INDEX sessions_user_open;
ALTER TABLE sessions DROP COLUMN end_reason;
ALTER TABLE users DROP COLUMN disabled_reason;
ALTER TABLE users DROP COLUMN disabled_at;
