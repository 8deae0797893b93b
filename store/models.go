package store

import (
	"time"

	"cordtrace/domain"
)

// The row types mirror the SQL in migrations/; schema_test.go checks that they agree.

type userRow struct {
	ID           int64 `gorm:"primaryKey"`
	Username     string
	FullName     string
	PasswordHash string
	FailedLogins int
	LockedUntil  *time.Time
	// DisabledAt and DisabledReason are set together by an admin (migration 00026).
	DisabledAt     *time.Time
	DisabledReason *string
	CreatedAt      time.Time
	Roles          []userRoleRow `gorm:"foreignKey:UserID"`
}

func (userRow) TableName() string { return "users" }

func (r userRow) toDomain() domain.User {
	u := domain.User{
		ID: r.ID, Username: r.Username, FullName: r.FullName, PasswordHash: r.PasswordHash,
		FailedLogins: r.FailedLogins, LockedUntil: r.LockedUntil, CreatedAt: r.CreatedAt, DisabledAt: r.DisabledAt,
	}
	if r.DisabledReason != nil {
		u.DisabledReason = *r.DisabledReason
	}
	// Roles are shown in the canonical order, whatever order the database returns them in.
	for _, role := range domain.AllRoles {
		for _, rr := range r.Roles {
			if rr.Role == string(role) {
				u.Roles = append(u.Roles, role)
			}
		}
	}
	return u
}

type userRoleRow struct {
	UserID int64  `gorm:"primaryKey;autoIncrement:false"`
	Role   string `gorm:"primaryKey"`
}

func (userRoleRow) TableName() string { return "user_roles" }

type sessionRow struct {
	ID         int64 `gorm:"primaryKey"`
	TokenHash  string
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	EndedAt    *time.Time
	EndReason  *string // domain.SessionEnd*
}

func (sessionRow) TableName() string { return "sessions" }

type auditRow struct {
	Seq         int64 `gorm:"primaryKey;autoIncrement:false"`
	At          time.Time
	UserID      *int64
	UserName    string
	Role        string
	Action      string
	EntityType  string
	EntityID    string
	BeforeValue string
	AfterValue  string
	Reason      string
	RequestID   string
	PrevHash    string
	Hash        string
}

func (auditRow) TableName() string { return "audit_entries" }

func auditRowFrom(e domain.AuditEntry) auditRow {
	r := auditRow{
		Seq: e.Seq, At: e.At, UserName: e.UserName, Role: string(e.Role), Action: e.Action,
		EntityType: e.EntityType, EntityID: e.EntityID, BeforeValue: e.Before, AfterValue: e.After,
		Reason: e.Reason, RequestID: e.RequestID, PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if e.UserID != 0 {
		id := e.UserID
		r.UserID = &id
	}
	return r
}

func (r auditRow) toDomain() domain.AuditEntry {
	e := domain.AuditEntry{
		Seq: r.Seq, At: r.At.UTC(), UserName: r.UserName, Role: domain.Role(r.Role), Action: r.Action,
		EntityType: r.EntityType, EntityID: r.EntityID, Before: r.BeforeValue, After: r.AfterValue,
		Reason: r.Reason, RequestID: r.RequestID, PrevHash: r.PrevHash, Hash: r.Hash,
	}
	if r.UserID != nil {
		e.UserID = *r.UserID
	}
	return e
}
