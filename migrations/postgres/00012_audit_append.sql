-- Appends entries to the audit chain in one round trip: locks the chain, reads its head, seals
-- each entry onto it and inserts it. The lock is held until the commit, so every round trip
-- between taking it and committing is paid by every write in turn; this leaves only the
-- commit. The hash is the SHA-256 of the same bytes domain.AuditEntry.ComputeHash hashes: the
-- service sends the part that does not depend on the entry's place (domain
-- AuditEntry.CanonicalContent), this adds the version, seq and previous hash around it, each
-- field as its length in bytes, ':', the field. audit verify recomputes every hash in Go.
-- Like audit_chain_head (00011) it makes its transaction commit asynchronously; the service
-- waits for the disk after the commit.

-- +goose Up
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

-- +goose Down
DROP FUNCTION audit_append(BIGINT, TEXT, TEXT, JSONB);
