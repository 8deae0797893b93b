package domain

import (
	"context"
	"time"
)

// The services below are implemented by the store; the API depends on these interfaces only.
// Unless a method says otherwise, its errors are *Error values with the codes in errors.go, or
// an EUnavailable error when the database cannot be reached.

// Session is a logged-in user's bearer token. Token is only known at login; the store keeps
// its hash.
type Session struct {
	ID        int64     `json:"-"`
	Token     string    `json:"token"`
	User      User      `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}

// AuthService logs people in and checks who is asking.
type AuthService interface {
	// Login checks the password and opens a session. Wrong username or password, or a locked
	// account with a wrong password: EUnauthenticated (the failure is counted and audited);
	// locked account with the right password: EAccountLocked; disabled account with the right
	// password: EAccountDisabled; too many failures from the
	// client's address: ETooManyRequests (Error.RetryAfter says how long to wait).
	Login(ctx context.Context, c Credentials) (Session, error)
	// Authenticate returns the user behind a session token and keeps the session alive.
	// Unknown or ended token, or one CheckSession refuses: EUnauthenticated.
	Authenticate(ctx context.Context, token string) (User, error)
	// Logout ends the session of token.
	Logout(ctx context.Context, actor Actor, token string) error
	// CheckPassword re-authenticates a person for an electronic signature or as a witness.
	// Failures count toward the lockout like failed logins.
	CheckPassword(ctx context.Context, username, password, requestID string) (User, error)
	// IssueWitnessToken checks the password of the witness username, entered on the device of
	// actor (a nurse or physician), and issues a token that confirms them as the witness of
	// one verification by actor within WitnessTokenLife. Wrong password: EUnauthenticated;
	// a witness who cannot witness for actor: ERuleViolated.
	IssueWitnessToken(ctx context.Context, actor Actor, username, password string) (WitnessToken, error)
}

// WitnessToken is a witness's one-time confirmation (SPEC §7); the store keeps its hash.
type WitnessToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UserService manages accounts.
type UserService interface {
	// CreateUser validates and stores a user. Invalid field: EInvalid; username taken: EConflict.
	CreateUser(ctx context.Context, actor Actor, n NewUser) (User, error)
	// ChangePassword replaces the acting user's password after checking the current one, and
	// ends the user's sessions but the one of keepToken.
	ChangePassword(ctx context.Context, actor Actor, keepToken, current, next string) error
	// User returns one user. Unknown id: ENotFound.
	User(ctx context.Context, id int64) (User, error)
	// ListUsers returns every user, by username.
	ListUsers(ctx context.Context) ([]User, error)
	// DisableUser disables an account and ends its sessions (ValidateDisable: EInvalid,
	// ERuleViolated). Unknown id: ENotFound; disabled already: EConflict.
	DisableUser(ctx context.Context, actor Actor, id int64, reason string) (User, error)
	// EnableUser enables an account again and lifts a lock after failed logins. Unknown id:
	// ENotFound; neither disabled nor locked: EConflict.
	EnableUser(ctx context.Context, actor Actor, id int64) (User, error)
	// SetRoles replaces a user's roles and ends their sessions (ValidateRoleChange: EInvalid,
	// ERuleViolated). Unknown id: ENotFound; the same roles: EConflict.
	SetRoles(ctx context.Context, actor Actor, id int64, roles []Role) (User, error)
	// EndUserSessions ends every open session of a user and returns how many. Unknown id:
	// ENotFound.
	EndUserSessions(ctx context.Context, actor Actor, id int64) (int64, error)
}

// AuditFilter selects audit entries. Zero values select everything.
type AuditFilter struct {
	EntityType string
	EntityID   string
	AfterSeq   int64 // entries with a larger seq only, for paging
	Limit      int   // at most this many; 0 means the default page size
}

// AuditService reads the trail. Writing to it is not a service: every store write appends its
// own entries in the same transaction.
type AuditService interface {
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	VerifyAudit(ctx context.Context) (ChainReport, error)
}
