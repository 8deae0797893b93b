-- audit_chain_head (00010, 00011) has had no caller since audit_append (00012) seals entries in
-- one statement. It takes the audit chain's lock and turns synchronous_commit off for whatever
-- transaction calls it, a trap for a future caller, so it goes. audit_append stays: a service
-- of the version before this one may still be running during an upgrade.

-- +goose Up
DROP FUNCTION IF EXISTS audit_chain_head(BIGINT);

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_chain_head(lock_id BIGINT, OUT head_seq BIGINT, OUT head_hash TEXT) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(lock_id);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_entries a ORDER BY a.seq DESC LIMIT 1;
END
$$;
-- +goose StatementEnd
