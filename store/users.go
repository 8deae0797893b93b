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
	"slices"
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
	// for a locked or disabled account too: until the password is right, such an account
	// answers as a wrong password does, in as much time, so that neither tells a guesser
	// anything.
	matches := domain.PasswordMatches(u.PasswordHash, password)
	if u.Disabled() {
		if matches {
			return domain.User{}, disabledError(u)
		}
		return domain.User{}, errBadCredentials
	}
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
		if current.Disabled() {
			outcome = errBadCredentials
			if matches {
				outcome = disabledError(current)
			}
			return nil
		}
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
				// Whoever guessed the password may already hold a session: the lock ends them all.
				ended, err := endSessions(t, u.ID, domain.SessionEndLocked, "")
				if err != nil {
					return err
				}
				// Answered as any wrong password: the lock shows only to the right one.
				t.audit("user.lock", "user", u.ID, before, current,
					fmt.Sprintf("%d failed logins; %d sessions ended", domain.MaxFailedLogins, ended))
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

func disabledError(u domain.User) error {
	return domain.Errorf(domain.EAccountDisabled, "this account is disabled (%s); ask an admin to enable it", u.DisabledReason)
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
		// The password was checked before this transaction: a password change, a lock or a
		// disable that committed since then must not be outlived by a session opened now.
		var fresh userRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&fresh, u.ID).Error; err != nil {
			return fmt.Errorf("lock user: %w", err)
		}
		switch current := fresh.toDomain(); {
		case current.PasswordHash != u.PasswordHash:
			return errBadCredentials
		case current.Disabled():
			return disabledError(current)
		case current.Locked(t.now):
			return lockedError(current)
		}
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

// authSQL reads the session of a token hash (sessions.token_hash is unique), ended or not,
// with its user and roles, one row per role.
const authSQL = `SELECT s.id, s.created_at, s.last_seen_at, s.ended_at, s.end_reason, u.id, u.username, u.full_name,
	u.password_hash, u.failed_logins, u.locked_until, u.disabled_at, u.disabled_reason, u.created_at, r.role
	FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN user_roles r ON r.user_id = u.id
	WHERE s.token_hash = ?`

// Authenticate returns the user behind token and keeps the session alive. It reads the
// session and its user from the database on every call, so a logout, a lockout, a disabled
// account, a password or role change takes effect on the next request in every process;
// whether the session may still be used is domain.CheckSession's decision.
func (s *Store) Authenticate(ctx context.Context, token string) (domain.User, error) {
	if token == "" {
		return domain.User{}, errSessionInvalid
	}
	now := s.now()
	var sessionID int64
	var sess domain.StoredSession
	var user userRow
	found := false
	err := queryRows(s.read(ctx), authSQL, []any{tokenHash(token)}, func(scan func(...any) error) error {
		var id int64
		var st domain.StoredSession
		var endedAt, lockedUntil, disabledAt sql.NullTime
		var endReason, disabledReason, role sql.NullString
		var u userRow
		if err := scan(&id, &st.CreatedAt, &st.LastSeenAt, &endedAt, &endReason, &u.ID, &u.Username, &u.FullName, &u.PasswordHash,
			&u.FailedLogins, &lockedUntil, &disabledAt, &disabledReason, &u.CreatedAt, &role); err != nil {
			return err
		}
		if !found {
			found, sessionID = true, id
			st.EndedAt, st.EndReason = nullTime(endedAt), endReason.String
			u.LockedUntil, u.DisabledAt = nullTime(lockedUntil), nullTime(disabledAt)
			if disabledReason.Valid {
				u.DisabledReason = &disabledReason.String
			}
			sess, user = st, u
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
	u := user.toDomain()
	if err := domain.CheckSession(sess, u, now, domain.SessionLimits{Idle: s.opts.SessionIdle, Lifetime: s.opts.SessionLifetime}); err != nil {
		return domain.User{}, err
	}
	if now.Sub(sess.LastSeenAt) > touchEvery {
		// A conditional update: of two requests racing here, one writes and neither waits.
		err := s.transact(ctx, func(g *gorm.DB) error {
			return g.Model(&sessionRow{}).Where("id = ? AND last_seen_at < ?", sessionID, now.Add(-touchEvery)).
				Update("last_seen_at", now).Error
		})
		if err != nil {
			return domain.User{}, classify(fmt.Errorf("touch session: %w", err))
		}
	}
	return u, nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// endSessions ends the open sessions of user userID, except the one whose token hash is
// keepHash, saying why (domain.SessionEnd*), and returns how many it ended. It runs in the
// transaction of the change that ends them, so the change and the ending commit together.
func endSessions(t *tx, userID int64, why, keepHash string) (int64, error) {
	q := t.db.Model(&sessionRow{}).Where("user_id = ? AND ended_at IS NULL", userID)
	if keepHash != "" {
		q = q.Where("token_hash <> ?", keepHash)
	}
	res := q.Updates(map[string]any{"ended_at": t.now, "end_reason": why})
	if res.Error != nil {
		return 0, fmt.Errorf("end sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Logout ends the session of token.
func (s *Store) Logout(ctx context.Context, actor domain.Actor, token string) error {
	return s.write(ctx, actor, func(t *tx) error {
		res := t.db.Model(&sessionRow{}).
			Where("token_hash = ? AND user_id = ? AND ended_at IS NULL", tokenHash(token), actor.UserID).
			Updates(map[string]any{"ended_at": t.now, "end_reason": domain.SessionEndLogout})
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

// ChangePassword sets a new password for the acting user after checking the current one,
// and ends the user's other sessions: whoever knew the old password is logged out everywhere
// but on the device of keepToken, where the change was made.
func (s *Store) ChangePassword(ctx context.Context, actor domain.Actor, keepToken, current, next string) error {
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
		keep := ""
		if keepToken != "" {
			keep = tokenHash(keepToken)
		}
		ended, err := endSessions(t, u.ID, domain.SessionEndPasswordChanged, keep)
		if err != nil {
			return err
		}
		t.audit("user.password_change", "user", u.ID, nil, nil, fmt.Sprintf("%d other sessions ended", ended))
		return nil
	})
}

// ListUsers returns every user, by username.
func (s *Store) ListUsers(ctx context.Context) ([]domain.User, error) {
	var rows []userRow
	if err := s.read(ctx).Preload("Roles").Order("username").Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("list users: %w", err))
	}
	out := make([]domain.User, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// UserByUsername returns the user who logs in as username.
func (s *Store) UserByUsername(ctx context.Context, username string) (domain.User, error) {
	var row userRow
	if err := s.read(ctx).Preload("Roles").Where("username = ?", username).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.User{}, domain.Errorf(domain.ENotFound, "no user is named %q", username)
		}
		return domain.User{}, classify(fmt.Errorf("read user %q: %w", username, err))
	}
	return row.toDomain(), nil
}

// changeUser runs change on user id, read and locked in actor's transaction, then stores the
// account fields it changed.
func (s *Store) changeUser(ctx context.Context, actor domain.Actor, id int64, change func(t *tx, u *domain.User) error) (domain.User, error) {
	var out domain.User
	err := s.write(ctx, actor, func(t *tx) error {
		var row userRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Preload("Roles").Take(&row, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return domain.Errorf(domain.ENotFound, "no user with id %d", id)
			}
			return fmt.Errorf("lock user %d: %w", id, err)
		}
		u := row.toDomain()
		if err := change(t, &u); err != nil {
			return err
		}
		var reason *string
		if u.Disabled() {
			reason = &u.DisabledReason
		}
		out = u
		return t.db.Model(&userRow{}).Where("id = ?", id).Updates(map[string]any{
			"disabled_at": u.DisabledAt, "disabled_reason": reason, "failed_logins": u.FailedLogins, "locked_until": u.LockedUntil,
		}).Error
	})
	return out, err
}

// DisableUser disables the account of user id, with the reason, and ends its sessions.
func (s *Store) DisableUser(ctx context.Context, actor domain.Actor, id int64, reason string) (domain.User, error) {
	reason = strings.TrimSpace(reason)
	if err := domain.ValidateDisable(actor, id, reason); err != nil {
		return domain.User{}, err
	}
	return s.changeUser(ctx, actor, id, func(t *tx, u *domain.User) error {
		if u.Disabled() {
			return domain.Errorf(domain.EConflict, "the account of %s is disabled already (%s)", u.Username, u.DisabledReason)
		}
		before := *u
		now := t.now
		u.DisabledAt, u.DisabledReason = &now, reason
		ended, err := endSessions(t, u.ID, domain.SessionEndDisabled, "")
		if err != nil {
			return err
		}
		t.audit("user.disable", "user", u.ID, before, *u, fmt.Sprintf("%s (%d sessions ended)", reason, ended))
		return nil
	})
}

// EnableUser enables the account of user id again, and lifts a lock after failed logins.
func (s *Store) EnableUser(ctx context.Context, actor domain.Actor, id int64) (domain.User, error) {
	return s.changeUser(ctx, actor, id, func(t *tx, u *domain.User) error {
		if !u.Disabled() && !u.Locked(t.now) {
			return domain.Errorf(domain.EConflict, "the account of %s is neither disabled nor locked", u.Username)
		}
		before := *u
		u.DisabledAt, u.DisabledReason = nil, ""
		u.RecordSuccessfulLogin()
		t.audit("user.enable", "user", u.ID, before, *u, "")
		return nil
	})
}

// SetRoles replaces the roles of user id and ends the user's sessions, so that no session
// keeps acting under a role it was given at its login.
func (s *Store) SetRoles(ctx context.Context, actor domain.Actor, id int64, roles []domain.Role) (domain.User, error) {
	if err := domain.ValidateRoleChange(actor, id, roles); err != nil {
		return domain.User{}, err
	}
	return s.changeUser(ctx, actor, id, func(t *tx, u *domain.User) error {
		before := *u
		var rows []userRoleRow
		after := *u
		after.Roles = nil
		for _, r := range domain.AllRoles { // in the canonical order, as toDomain gives them
			if slices.Contains(roles, r) {
				rows = append(rows, userRoleRow{UserID: u.ID, Role: string(r)})
				after.Roles = append(after.Roles, r)
			}
		}
		if slices.Equal(before.Roles, after.Roles) {
			return domain.Errorf(domain.EConflict, "%s holds these roles already", u.Username)
		}
		if err := t.db.Where("user_id = ?", u.ID).Delete(&userRoleRow{}).Error; err != nil {
			return fmt.Errorf("remove roles: %w", err)
		}
		if err := t.db.Create(&rows).Error; err != nil {
			return fmt.Errorf("insert roles: %w", err)
		}
		ended, err := endSessions(t, u.ID, domain.SessionEndRolesChanged, "")
		if err != nil {
			return err
		}
		*u = after
		t.audit("user.roles_change", "user", u.ID, before, after, fmt.Sprintf("%d sessions ended", ended))
		return nil
	})
}

// EndUserSessions ends every open session of user id and returns how many it ended.
func (s *Store) EndUserSessions(ctx context.Context, actor domain.Actor, id int64) (int64, error) {
	var ended int64
	_, err := s.changeUser(ctx, actor, id, func(t *tx, u *domain.User) error {
		var err error
		if ended, err = endSessions(t, u.ID, domain.SessionEndByAdmin, ""); err != nil {
			return err
		}
		t.audit("user.sessions_end", "user", u.ID, nil, map[string]any{"sessions_ended": ended}, "")
		return nil
	})
	return ended, err
}
