package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"cordtrace/domain"
)

// auditLockID is the PostgreSQL transaction-level advisory lock that serializes appends to the
// chain across every process sharing the database. It is taken last in a write, so it is held
// only for the append and the commit.
const auditLockID = 0x6175646974 // "audit"

// appendAudit seals one entry per recorded change onto the end of the chain.
// On PostgreSQL writes append with audit_append instead (writeOncePostgres).
func (s *Store) appendAudit(t *tx, actor domain.Actor) error {
	var prev *domain.AuditEntry
	var head []struct {
		Seq  int64
		Hash string
	}
	// SQLite: the IMMEDIATE transaction already holds the database's single write lock.
	if err := t.db.Model(&auditRow{}).Select("seq, hash").Order("seq DESC").Limit(1).Scan(&head).Error; err != nil {
		return fmt.Errorf("read the audit chain head: %w", err)
	}
	if len(head) > 0 {
		prev = &domain.AuditEntry{Seq: head[0].Seq, Hash: head[0].Hash}
	}

	entries, err := auditEntries(t, actor, t.now)
	if err != nil {
		return err
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

// auditAppendEntry is one entry for audit_append (migration 00012), which seals it.
type auditAppendEntry struct {
	At          time.Time `json:"at"`
	UserID      *int64    `json:"user_id"`
	UserName    string    `json:"user_name"`
	Role        string    `json:"role"`
	Action      string    `json:"action"`
	EntityType  string    `json:"entity_type"`
	EntityID    string    `json:"entity_id"`
	BeforeValue string    `json:"before_value"`
	AfterValue  string    `json:"after_value"`
	Reason      string    `json:"reason"`
	RequestID   string    `json:"request_id"`
	Content     string    `json:"content"` // domain.AuditEntry.CanonicalContent
	Ord         int       `json:"ord"`
}

// auditAppendJSON is the transaction's entries for audit_append, which locks the chain, reads
// its head, seals the entries onto it and inserts them in one statement (see writeOncePostgres).
func auditAppendJSON(t *tx, actor domain.Actor) (string, error) {
	entries, err := addAuditAppendEntries(nil, t, actor)
	if err != nil {
		return "", err
	}
	return encodeAuditAppend(entries)
}

// addAuditAppendEntries adds the transaction's entries by actor to entries, placed after those
// already there: a group of writes (writeGroup) appends all of theirs in one audit_append.
func addAuditAppendEntries(entries []auditAppendEntry, t *tx, actor domain.Actor) ([]auditAppendEntry, error) {
	list, err := auditEntries(t, actor, domain.AuditTime(t.now))
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		// The entries travel as JSON, which would replace invalid UTF-8 silently and so hash
		// other bytes than those stored; PostgreSQL refuses such text anyway.
		for _, f := range []string{e.UserName, string(e.Role), e.Action, e.EntityType, e.EntityID, e.Before, e.After, e.Reason, e.RequestID} {
			if !utf8.ValidString(f) {
				return nil, fmt.Errorf("append audit entry %s: a value is not valid UTF-8", e.Action)
			}
		}
		r := auditRowFrom(e)
		entries = append(entries, auditAppendEntry{At: r.At, UserID: r.UserID, UserName: r.UserName, Role: r.Role,
			Action: r.Action, EntityType: r.EntityType, EntityID: r.EntityID, BeforeValue: r.BeforeValue,
			AfterValue: r.AfterValue, Reason: r.Reason, RequestID: r.RequestID, Content: e.CanonicalContent(), Ord: len(entries)})
	}
	return entries, nil
}

func encodeAuditAppend(entries []auditAppendEntry) (string, error) {
	js, err := json.Marshal(entries)
	if err != nil {
		return "", fmt.Errorf("encode audit entries: %w", err)
	}
	return string(js), nil
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
