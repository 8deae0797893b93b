package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"cordtrace/domain"
)

// auditLockID is the PostgreSQL transaction-level advisory lock that serializes appends to the
// chain across every process sharing the database. It is taken last in a write, so it is held
// only for the append and the commit.
const auditLockID = 0x6175646974 // "audit"

// appendAudit seals one entry per recorded change onto the end of the chain, in Go
// (domain.AuditEntry.Seal), and inserts them. The chain is locked first, so that no other
// transaction appends between the read of its head and the commit: on PostgreSQL by the
// advisory lock auditLockID, held until the transaction ends, whose commit is then made
// asynchronous (Store.waitForDisk waits for the disk after it); SQLite's IMMEDIATE
// transaction already holds the database's single write lock. Every write queues on that
// lock, so the entries are encoded before it is taken: under it, only the head's read, the
// hashes, the insert and the commit.
func (s *Store) appendAudit(t *tx, actor domain.Actor) error {
	entries, err := auditEntries(t, actor, t.now)
	if err != nil {
		return err
	}
	if s.pg() {
		if err := t.db.Exec(`SELECT pg_advisory_xact_lock(?), set_config('synchronous_commit', 'off', true)`, int64(auditLockID)).Error; err != nil {
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

// auditEntries are the transaction's changes as audit entries by actor at at, not yet sealed.
func auditEntries(t *tx, actor domain.Actor, at time.Time) ([]domain.AuditEntry, error) {
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
			At: at, UserID: actor.UserID, UserName: actor.FullName, Role: actor.Role,
			Action: c.action, EntityType: c.entityType, EntityID: c.entityID,
			Before: before, After: after, Reason: c.reason, RequestID: actor.RequestID,
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

// VerifyAudit recomputes the whole chain, streaming it so that memory stays flat however long
// the trail is.
func (s *Store) VerifyAudit(ctx context.Context) (domain.ChainReport, error) {
	rows, err := s.sqlDB.QueryContext(ctx, `SELECT seq, at, user_id, user_name, role, action,
		entity_type, entity_id, before_value, after_value, reason, request_id, prev_hash, hash
		FROM audit_entries ORDER BY seq`)
	if err != nil {
		return domain.ChainReport{}, classify(fmt.Errorf("read audit chain: %w", err))
	}
	defer rows.Close()
	v := domain.NewChainVerifier()
	for rows.Next() {
		var e domain.AuditEntry
		var userID sql.NullInt64
		var role string
		if err := rows.Scan(&e.Seq, &e.At, &userID, &e.UserName, &role, &e.Action, &e.EntityType,
			&e.EntityID, &e.Before, &e.After, &e.Reason, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return domain.ChainReport{}, classify(fmt.Errorf("read audit entry: %w", err))
		}
		e.UserID, e.Role = userID.Int64, domain.Role(role)
		v.Add(e)
	}
	if err := rows.Err(); err != nil {
		return domain.ChainReport{}, classify(fmt.Errorf("read audit chain: %w", err))
	}
	return v.Report(), nil
}
