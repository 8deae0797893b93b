package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"cordtrace/domain"
)

// auditLockID is the PostgreSQL transaction-level advisory lock that serializes appends to the
// chain across every process sharing the database. It is taken last in a write, so it is held
// only for the append and the commit.
const auditLockID = 0x6175646974 // "audit"

// appendAudit seals one entry per recorded change onto the end of the chain, in Go
// (domain.AuditEntry.Seal), and inserts them. The chain is locked first, so that no other
// transaction appends between the read of its head and the commit: on PostgreSQL by the
// advisory lock auditLockID, held until the transaction ends, its commit on disk included;
// SQLite's IMMEDIATE transaction already holds the database's single write lock. Every write
// queues on that lock, so the entries are encoded before it is taken: under it, only the
// head's read, the hashes, the insert and the commit. Custody scans, the busiest writes,
// share that queue's place (writeTogether).
func (s *Store) appendAudit(t *tx) error {
	entries, err := auditEntries(t)
	if err != nil {
		return err
	}
	if s.pg() {
		if err := t.db.Exec(`SELECT pg_advisory_xact_lock(?)`, int64(auditLockID)).Error; err != nil {
			return fmt.Errorf("lock the audit chain: %w", err)
		}
	}
	var prev *domain.AuditEntry
	var head []struct {
		Seq  int64
		Hash string
	}
	if err := t.db.Model(&auditRow{}).Select("seq, hash").Order("seq DESC").Limit(1).Scan(&head).Error; err != nil {
		return fmt.Errorf("read the audit chain head: %w", err)
	}
	if len(head) > 0 {
		prev = &domain.AuditEntry{Seq: head[0].Seq, Hash: head[0].Hash}
	}
	rows := make([]auditRow, 0, len(entries))
	for _, e := range entries {
		e.Seal(prev)
		prev = &e
		rows = append(rows, auditRowFrom(e))
	}
	if err := t.db.Create(&rows).Error; err != nil {
		return fmt.Errorf("append audit entries: %w", err)
	}
	return nil
}

// auditEntries are the transaction's changes as audit entries, each by the actor and at the
// time of the write that made it, not yet sealed.
func auditEntries(t *tx) ([]domain.AuditEntry, error) {
	out := make([]domain.AuditEntry, 0, len(t.changes))
	for _, c := range t.changes {
		before, err := auditJSON(c.before)
		if err != nil {
			return nil, err
		}
		after, err := auditJSON(c.after)
		if err != nil {
			return nil, err
		}
		out = append(out, domain.AuditEntry{
			At: c.at, UserID: c.actor.UserID, UserName: c.actor.FullName, Role: c.actor.Role,
			Action: c.action, EntityType: c.entityType, EntityID: c.entityID,
			Before: before, After: after, Reason: c.reason, RequestID: c.actor.RequestID,
		})
	}
	return out, nil
}

func auditJSON(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode audit value: %w", err)
	}
	return string(b), nil
}

// DefaultAuditPage is how many entries ListAudit returns when no limit is given.
const DefaultAuditPage = 100

// MaxAuditPage caps one page, so that one request cannot read the whole trail into memory.
const MaxAuditPage = 1000

// ListAudit returns entries in seq order.
func (s *Store) ListAudit(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditPage
	}
	if limit > MaxAuditPage {
		return nil, domain.FieldError("limit", "limit may be at most %d", MaxAuditPage)
	}
	q := s.read(ctx).Order("seq").Limit(limit).Where("seq > ?", f.AfterSeq)
	if f.EntityType != "" {
		q = q.Where("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		q = q.Where("entity_id = ?", f.EntityID)
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("list audit entries: %w", err))
	}
	out := make([]domain.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// auditVerifyRanges is how many stretches of the chain VerifyAudit reads at once, each on its
// own connection. With one stream the decoding in Go and the database's reading and sending
// wait on each other; with two, both sides of both stretches fill two cores.
const auditVerifyRanges = 2

// VerifyAudit recomputes the whole chain, streaming it so that memory stays flat however long
// the trail is. The chain is cut by seq into auditVerifyRanges stretches read concurrently;
// each checks its own links and the verifiers are joined in order, which checks the link at
// each cut (domain.ChainVerifier.Join). Entries appended while it runs are read by the last
// stretch or not at all; the earlier ones cannot change.
func (s *Store) VerifyAudit(ctx context.Context) (domain.ChainReport, error) {
	var lo, hi sql.NullInt64
	if err := s.sqlDB.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM audit_entries`).Scan(&lo, &hi); err != nil {
		return domain.ChainReport{}, classify(fmt.Errorf("read audit chain bounds: %w", err))
	}
	// Stretch k holds the seqs in (cuts[k], cuts[k+1]]; the last one is open-ended.
	cuts := make([]int64, auditVerifyRanges)
	for k := 1; k < auditVerifyRanges; k++ {
		cuts[k] = lo.Int64 - 1 + (hi.Int64-lo.Int64+1)*int64(k)/auditVerifyRanges
	}
	cuts[0] = math.MinInt64
	ctx, cancel := context.WithCancel(ctx) // a stretch that fails stops the others
	defer cancel()
	verifiers := make([]*domain.ChainVerifier, auditVerifyRanges)
	errs := make([]error, auditVerifyRanges)
	var wg sync.WaitGroup
	for k := range verifiers {
		if k == 0 {
			verifiers[k] = domain.NewChainVerifier()
		} else {
			verifiers[k] = domain.NewChainSegmentVerifier()
		}
		upper := int64(math.MaxInt64)
		if k+1 < auditVerifyRanges {
			upper = cuts[k+1]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[k] = s.verifyAuditRange(ctx, verifiers[k], cuts[k], upper); errs[k] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs { // the cause, not the cancellation it made in the others
		if err != nil && !errors.Is(err, context.Canceled) {
			return domain.ChainReport{}, classify(err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return domain.ChainReport{}, classify(err)
	}
	for _, v := range verifiers[1:] {
		verifiers[0].Join(v)
	}
	return verifiers[0].Report(), nil
}

// verifyAuditRange feeds v the entries with after < seq <= upTo, in seq order. Only the
// columns the hash covers are read, into one entry reused for every row.
func (s *Store) verifyAuditRange(ctx context.Context, v *domain.ChainVerifier, after, upTo int64) error {
	rows, err := s.sqlDB.QueryContext(ctx, `SELECT seq, at, user_id, user_name, role, action,
		entity_type, entity_id, before_value, after_value, reason, request_id, prev_hash, hash
		FROM audit_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq`, after, upTo)
	if err != nil {
		return fmt.Errorf("read audit chain: %w", err)
	}
	defer rows.Close()
	var e domain.AuditEntry
	var userID sql.NullInt64
	var role string
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.At, &userID, &e.UserName, &role, &e.Action, &e.EntityType,
			&e.EntityID, &e.Before, &e.After, &e.Reason, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("read audit entry: %w", err)
		}
		e.UserID, e.Role = userID.Int64, domain.Role(role)
		v.Add(e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit chain: %w", err)
	}
	return nil
}
