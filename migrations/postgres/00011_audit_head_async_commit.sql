-- Every write transaction that commits has appended to the audit chain (a write with no audit
-- entry is rolled back), so audit_chain_head also turns synchronous_commit off for the rest of
-- its transaction. This replaces the SET LOCAL that each write sent in a round trip of its own.
-- The service still acknowledges a write only once its commit is on disk: after committing it
-- waits for the WAL flush outside the lock (store.durable), on a connection whose own setting
-- is untouched (set_config(..., true) lasts until the end of this transaction only).

-- +goose Up
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

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_chain_head(lock_id BIGINT, OUT head_seq BIGINT, OUT head_hash TEXT) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_id);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_entries a ORDER BY a.seq DESC LIMIT 1;
END
$$;
-- +goose StatementEnd
