-- The audit chain's head, read under the chain's advisory lock in one round trip. Appends are
-- serialized by the lock, which is held until the commit, so every step between taking it and
-- committing is paid by every write in turn; this saves one of them. The function is VOLATILE,
-- so its SELECT takes a new snapshot after the lock is granted and sees the head committed by
-- the previous holder.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION audit_chain_head(lock_id BIGINT, OUT head_seq BIGINT, OUT head_hash TEXT) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_id);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_entries a ORDER BY a.seq DESC LIMIT 1;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION audit_chain_head(BIGINT);
