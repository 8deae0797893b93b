-- Failed logins per client address, so that spraying a few passwords over many accounts is
-- throttled (domain.ThrottleLogin). Rows older than the throttle window no longer count and
-- are deleted as new ones arrive: this is a rate limit's state, not a record, and the failures
-- that concern an account stay in the audit trail (auth.login_failed, user.lock).

-- +goose Up
CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    address   TEXT NOT NULL CHECK (length(address) BETWEEN 1 AND 64),
    failed_at DATETIME NOT NULL
);
CREATE INDEX login_failures_address ON login_failures (address, failed_at);

-- +goose Down
DROP TABLE login_failures;
