package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

// CreateUser validates n and stores the user with its roles.
func (s *Store) CreateUser(ctx context.Context, actor domain.Actor, n domain.NewUser) (domain.User, error) {
	n.FullName = strings.TrimSpace(n.FullName)
	if err := n.Validate(); err != nil {
		return domain.User{}, err
	}
	hash, err := domain.HashPassword(n.Password, s.opts.PasswordCost)
	if err != nil {
		return domain.User{}, err
	}
	var created domain.User
	err = s.write(ctx, actor, func(t *tx) error {
		u, err := insertUser(t, n, hash)
		if err != nil {
			return err
		}
		created = u
		t.audit("user.create", "user", u.ID, nil, u, "")
		return nil
	})
	return created, err
}

func insertUser(t *tx, n domain.NewUser, hash string) (domain.User, error) {
	row := userRow{Username: n.Username, FullName: n.FullName, PasswordHash: hash, CreatedAt: t.now}
	if err := t.db.Omit(clause.Associations).Create(&row).Error; err != nil {
		if isUnique(err) {
			return domain.User{}, domain.Errorf(domain.EConflict, "username %q is taken; choose another", n.Username)
		}
		return domain.User{}, fmt.Errorf("insert user: %w", err)
	}
	for _, r := range n.Roles {
		row.Roles = append(row.Roles, userRoleRow{UserID: row.ID, Role: string(r)})
	}
	if err := t.db.Create(&row.Roles).Error; err != nil {
		return domain.User{}, fmt.Errorf("insert roles: %w", err)
	}
	return row.toDomain(), nil
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id int64) (domain.User, error) {
	var row userRow
	if err := s.read(ctx).Preload("Roles").Take(&row, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.User{}, domain.Errorf(domain.ENotFound, "no user with id %d", id)
		}
		return domain.User{}, classify(fmt.Errorf("read user %d: %w", id, err))
	}
	return row.toDomain(), nil
}

// EnsureAdmin creates the user "admin" with the given password when the database has no
// users at all, so that a new installation can be logged into. It reports whether it did.
func (s *Store) EnsureAdmin(ctx context.Context, password string) (bool, error) {
	n := domain.NewUser{Username: "admin", FullName: "Administrator", Password: password, Roles: []domain.Role{domain.RoleAdmin}}
	if err := n.Validate(); err != nil {
		return false, fmt.Errorf("CORDTRACE_ADMIN_PASSWORD: %w", err)
	}
	var count int64
	if err := s.read(ctx).Model(&userRow{}).Count(&count).Error; err != nil {
		return false, classify(err)
	}
	if count > 0 {
		return false, nil
	}
	hash, err := domain.HashPassword(password, s.opts.PasswordCost)
	if err != nil {
		return false, err
	}
	created := false
	err = s.write(ctx, domain.SystemActor(""), func(t *tx) error {
		// Re-count inside the transaction: another process may have just bootstrapped.
		if err := t.db.Model(&userRow{}).Count(&count).Error; err != nil || count > 0 {
			return err
		}
		u, err := insertUser(t, n, hash)
		if err != nil {
			return err
		}
		t.audit("user.create", "user", u.ID, nil, u, "first administrator of a new installation")
		created = true
		return nil
	})
	if domain.ErrorCode(err) == domain.EConflict {
		return false, nil // the other process won the race; its admin stands
	}
	return created, err
}

// dummyHashes holds, per bcrypt cost, a hash compared against when the username is unknown,
// so that a wrong username costs as much as a wrong password and response times do not tell
// which usernames exist. It is made at the cost the store hashes passwords with.
var dummyHashes sync.Map // cost → string

func dummyHash(cost int) string {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.(string)
	}
	h, _ := domain.HashPassword("cordtrace-no-such-user", cost)
	dummyHashes.Store(cost, h)
	return h
}

var errBadCredentials = domain.Errorf(domain.EUnauthenticated, "the username or password is wrong; check both and try again")

// CheckPassword re-authenticates username with password. Failures are counted and audited,
// and lock the account at the limit.
func (s *Store) CheckPassword(ctx context.Context, username, password, requestID string) (domain.User, error) {
	var row userRow
	err := s.read(ctx).Preload("Roles").Where("username = ?", username).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		domain.PasswordMatches(dummyHash(s.opts.PasswordCost), password)
		return domain.User{}, errBadCredentials
	}
	if err != nil {
		return domain.User{}, classify(fmt.Errorf("read user: %w", err))
	}
	u := row.toDomain()
	// The slow hash runs outside any transaction so that no lock is held while it works, and
	// for a locked account too: until the password is right, a locked account answers as a
	// wrong password does, in as much time, so that neither tells a guesser anything.
	matches := domain.PasswordMatches(u.PasswordHash, password)
	if u.Locked(s.now()) {
		if matches {
			return domain.User{}, lockedError(u)
		}
		return domain.User{}, errBadCredentials
	}
	if matches && u.FailedLogins == 0 {
		return u, nil
	}
	var outcome error
	actor := u.ActingAs("", requestID)
	err = s.write(ctx, actor, func(t *tx) error {
		var locked userRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Preload("Roles").Take(&locked, u.ID).Error; err != nil {
			return fmt.Errorf("lock user: %w", err)
		}
		current := locked.toDomain()
		// Guessers racing in parallel are refused once any of them has locked the account.
		if current.Locked(t.now) {
			outcome = errBadCredentials
			if matches {
				outcome = lockedError(current)
			}
			return nil
		}
		before := current
		if matches {
			current.RecordSuccessfulLogin()
			t.audit("user.failed_logins_reset", "user", u.ID, before, current, "")
		} else {
			if current.RecordFailedLogin(t.now) {
				// Answered as any wrong password: the lock shows only to the right one.
				t.audit("user.lock", "user", u.ID, before, current, fmt.Sprintf("%d failed logins", domain.MaxFailedLogins))
				outcome = errBadCredentials
			} else {
				t.audit("auth.login_failed", "user", u.ID, before, current, "wrong password")
				outcome = errBadCredentials
			}
		}
		u = current
		return t.db.Model(&userRow{}).Where("id = ?", u.ID).
			Updates(map[string]any{"failed_logins": current.FailedLogins, "locked_until": current.LockedUntil}).Error
	})
	if err != nil {
		return domain.User{}, err
	}
	if outcome != nil {
		return domain.User{}, outcome
	}
	return u, nil
}

func lockedError(u domain.User) error {
	return domain.Errorf(domain.EAccountLocked,
		"this account is locked after %d failed logins until %s UTC; wait until then or ask an admin",
		domain.MaxFailedLogins, u.LockedUntil.UTC().Format("15:04"))
}

// Login checks the password and opens a session. A client address with too many recent
// failures is refused before its password is looked at (domain.ThrottleLogin), and each
// failure is counted against it.
func (s *Store) Login(ctx context.Context, c domain.Credentials) (domain.Session, error) {
	username, password, requestID := c.Username, c.Password, c.RequestID
	if err := s.throttleLogin(ctx, c.ClientAddress); err != nil {
		return domain.Session{}, err
	}
	u, err := s.CheckPassword(ctx, username, password, requestID)
	if code := domain.ErrorCode(err); code == domain.EUnauthenticated || code == domain.EAccountLocked {
		if cerr := s.countLoginFailure(ctx, c.ClientAddress); cerr != nil {
			return domain.Session{}, cerr
		}
	}
	if err != nil {
		return domain.Session{}, err
	}
	token, err := newToken()
	if err != nil {
		return domain.Session{}, err
	}
	var sess domain.Session
	actor := u.ActingAs("", requestID)
	err = s.write(ctx, actor, func(t *tx) error {
		row := sessionRow{TokenHash: tokenHash(token), UserID: u.ID, CreatedAt: t.now, LastSeenAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		sess = domain.Session{ID: row.ID, Token: token, User: u, CreatedAt: row.CreatedAt}
		t.audit("auth.login", "session", row.ID, nil, map[string]any{"user_id": u.ID, "created_at": row.CreatedAt}, "")
		return nil
	})
	return sess, err
}

// loginFailureRow is one failed login from a client address (migration 00024).
type loginFailureRow struct {
	ID       int64 `gorm:"primaryKey"`
	Address  string
	FailedAt time.Time
}

func (loginFailureRow) TableName() string { return "login_failures" }

// throttleLogin refuses a login from an address that has failed too often lately.
func (s *Store) throttleLogin(ctx context.Context, address string) error {
	if address == "" {
		return nil
	}
	now := s.now()
	var failures []time.Time
	err := s.read(ctx).Model(&loginFailureRow{}).Where("address = ? AND failed_at > ?", address, now.Add(-domain.LoginThrottleWindow)).
		Order("failed_at").Pluck("failed_at", &failures).Error
	if err != nil {
		return classify(fmt.Errorf("read failed logins: %w", err))
	}
	return domain.ThrottleLogin(failures, now)
}

// countLoginFailure records a failed login from address and forgets the address's failures
// that no longer count.
func (s *Store) countLoginFailure(ctx context.Context, address string) error {
	if address == "" {
		return nil
	}
	now := s.now()
	err := s.transact(ctx, func(db *gorm.DB) error {
		if err := db.Where("address = ? AND failed_at <= ?", address, now.Add(-domain.LoginThrottleWindow)).Delete(&loginFailureRow{}).Error; err != nil {
			return err
		}
		return db.Create(&loginFailureRow{Address: address, FailedAt: now}).Error
	})
	if err != nil {
		return classify(fmt.Errorf("count the failed login: %w", err))
	}
	return nil
}

// touchEvery limits how often a session's last use is written: idle timeouts are in minutes,
// and a write on every request would double the load of the busiest calls.
const touchEvery = 30 * time.Second

var errSessionInvalid = domain.Errorf(domain.EUnauthenticated, "you are not logged in, or your session has ended; log in again")

// authSQL reads the open session of a token hash (sessions.token_hash is unique) with its user
// and roles, one row per role.
const authSQL = `SELECT s.id, s.last_seen_at, u.id, u.username, u.full_name,
	u.password_hash, u.failed_logins, u.locked_until, u.created_at, r.role
	FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN user_roles r ON r.user_id = u.id
	WHERE s.token_hash = ? AND s.ended_at IS NULL`

// Authenticate returns the user behind token and keeps the session alive. It reads the
// session from the database on every call, so a logout, a lockout or a role change takes
// effect on the next request in every process.
func (s *Store) Authenticate(ctx context.Context, token string) (domain.User, error) {
	if token == "" {
		return domain.User{}, errSessionInvalid
	}
	now := s.now()
	var sessionID int64
	var lastSeen time.Time
	var user userRow
	found := false
	err := queryRows(s.read(ctx), authSQL, []any{tokenHash(token)}, func(scan func(...any) error) error {
		var id int64
		var u userRow
		var lockedUntil sql.NullTime
		var role sql.NullString
		if err := scan(&id, &lastSeen, &u.ID, &u.Username, &u.FullName, &u.PasswordHash,
			&u.FailedLogins, &lockedUntil, &u.CreatedAt, &role); err != nil {
			return err
		}
		if !found {
			found, sessionID, user = true, id, u
			if lockedUntil.Valid {
				t := lockedUntil.Time
				user.LockedUntil = &t
			}
		}
		if role.Valid {
			user.Roles = append(user.Roles, userRoleRow{UserID: user.ID, Role: role.String})
		}
		return nil
	})
	if err != nil {
		return domain.User{}, classify(fmt.Errorf("read session: %w", err))
	}
	if !found {
		return domain.User{}, errSessionInvalid
	}
	if domain.SessionExpired(lastSeen, now, s.opts.SessionIdle) {
		return domain.User{}, domain.Errorf(domain.EUnauthenticated,
			"your session ended after %d minutes without activity; log in again", int(s.opts.SessionIdle.Minutes()))
	}
	if now.Sub(lastSeen) > touchEvery {
		// A conditional update: of two requests racing here, one writes and neither waits.
		err := s.transact(ctx, func(g *gorm.DB) error {
			return g.Model(&sessionRow{}).Where("id = ? AND last_seen_at < ?", sessionID, now.Add(-touchEvery)).
				Update("last_seen_at", now).Error
		})
		if err != nil {
			return domain.User{}, classify(fmt.Errorf("touch session: %w", err))
		}
	}
	return user.toDomain(), nil
}

// Logout ends the session of token.
func (s *Store) Logout(ctx context.Context, actor domain.Actor, token string) error {
	return s.write(ctx, actor, func(t *tx) error {
		res := t.db.Model(&sessionRow{}).
			Where("token_hash = ? AND user_id = ? AND ended_at IS NULL", tokenHash(token), actor.UserID).
			Update("ended_at", t.now)
		if res.Error != nil {
			return fmt.Errorf("end session: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return errSessionInvalid
		}
		t.audit("auth.logout", "user", actor.UserID, nil, nil, "")
		return nil
	})
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ChangePassword sets a new password for the acting user after checking the current one.
func (s *Store) ChangePassword(ctx context.Context, actor domain.Actor, current, next string) error {
	if err := domain.ValidatePassword(next); err != nil {
		return &domain.Error{Code: domain.EInvalid, Field: "new_password", Message: domain.ErrorMessage(err)}
	}
	u, err := s.User(ctx, actor.UserID)
	if err != nil {
		return err
	}
	if _, err := s.CheckPassword(ctx, u.Username, current, actor.RequestID); err != nil {
		return err
	}
	hash, err := domain.HashPassword(next, s.opts.PasswordCost)
	if err != nil {
		return err
	}
	return s.write(ctx, actor, func(t *tx) error {
		if err := t.db.Model(&userRow{}).Where("id = ?", u.ID).Update("password_hash", hash).Error; err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		t.audit("user.password_change", "user", u.ID, nil, nil, "")
		return nil
	})
}
