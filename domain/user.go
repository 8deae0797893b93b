package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a person is allowed to do in the trial (SPEC §9). A user may hold several roles;
// separation-of-duties rules still apply per person, not per role.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleQC         Role = "qc"
	RoleQA         Role = "qa"
	RolePhysician  Role = "physician"
	RolePharmacist Role = "pharmacist"
	RoleNurse      Role = "nurse"
)

// AllRoles lists every role in the order they are shown to people.
var AllRoles = []Role{RoleAdmin, RoleQC, RoleQA, RolePhysician, RolePharmacist, RoleNurse}

// ParseRole returns the role named s, or an error listing the roles that exist.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(AllRoles, r) {
		return r, nil
	}
	return "", FieldError("roles", "%q is not a role; use one of %s", s, joinRoles(AllRoles))
}

func joinRoles(roles []Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Login lockout and session rules (SPEC §10).
const (
	MaxFailedLogins    = 5
	LockoutDuration    = 15 * time.Minute
	DefaultSessionIdle = 15 * time.Minute
	// DefaultSessionLifetime bounds a session however busy it is: a login lasts a shift,
	// not until the device is lost.
	DefaultSessionLifetime = 12 * time.Hour
)

// DefaultDBTimeout is the longest a request waits for the database when the operator sets no
// other (CORDTRACE_DB_TIMEOUT): past it the request fails with 503.
const DefaultDBTimeout = 10 * time.Second

// Password limits: long enough to resist guessing, and at most what bcrypt actually hashes
// (it silently ignores bytes past 72, which would let two different passwords match).
const (
	MinPasswordLength = 10
	MaxPasswordBytes  = 72
)

// DefaultPasswordCost is bcrypt's work factor: slow enough that a stolen table is expensive
// to crack, fast enough for a login to stay under a quarter second on a small server.
const DefaultPasswordCost = 12

// User is a person who can log in. PasswordHash never leaves the server.
type User struct {
	ID           int64      `json:"id"`
	Username     string     `json:"username"`
	FullName     string     `json:"full_name"`
	Roles        []Role     `json:"roles"`
	PasswordHash string     `json:"-"`
	FailedLogins int        `json:"failed_logins"`
	LockedUntil  *time.Time `json:"locked_until,omitempty"`
	// DisabledAt is when an admin disabled the account, with DisabledReason; nil when enabled.
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
}

// HasRole reports whether the user holds role r.
func (u User) HasRole(r Role) bool { return slices.Contains(u.Roles, r) }

// Locked reports whether the account is locked at time now.
func (u User) Locked(now time.Time) bool {
	return u.LockedUntil != nil && now.Before(*u.LockedUntil)
}

// Disabled reports whether an admin has disabled the account.
func (u User) Disabled() bool { return u.DisabledAt != nil }

// AccountRefusal says why the account cannot act at now (log in, use a session, witness), or
// "" when it can.
func (u User) AccountRefusal(now time.Time) string {
	switch {
	case u.Disabled():
		return "the account of " + u.FullName + " is disabled (" + u.DisabledReason + "); an admin can enable it again"
	case u.Locked(now):
		return fmt.Sprintf("the account of %s is locked after %d failed logins until %s UTC", u.FullName, MaxFailedLogins,
			u.LockedUntil.UTC().Format("15:04"))
	}
	return ""
}

// RecordFailedLogin counts a wrong password and locks the account at the limit. It returns
// true when this failure is the one that locked it, so that the lock can be audited.
// A lock that has run out starts the count again, so an old lock never shortens a new one.
func (u *User) RecordFailedLogin(now time.Time) (lockedNow bool) {
	if u.LockedUntil != nil && !now.Before(*u.LockedUntil) {
		u.LockedUntil = nil
		u.FailedLogins = 0
	}
	u.FailedLogins++
	if u.FailedLogins >= MaxFailedLogins && u.LockedUntil == nil {
		until := now.Add(LockoutDuration)
		u.LockedUntil = &until
		return true
	}
	return false
}

// RecordSuccessfulLogin clears the failure count.
func (u *User) RecordSuccessfulLogin() {
	u.FailedLogins = 0
	u.LockedUntil = nil
}

// NewUser is the input for creating a user.
type NewUser struct {
	Username string `json:"username"`
	FullName string `json:"full_name"`
	Password string `json:"password"`
	Roles    []Role `json:"roles"`
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9._-]{3,64}$`)

// Validate checks every field of a new user and names the first one at fault.
func (n NewUser) Validate() error {
	if !usernamePattern.MatchString(n.Username) {
		return FieldError("username", "username must be 3 to 64 characters of lowercase letters, digits, '.', '_' or '-'")
	}
	name := strings.TrimSpace(n.FullName)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return FieldError("full_name", "full name is the printed name shown on signatures: give 1 to 200 characters")
	}
	if err := ValidatePassword(n.Password); err != nil {
		return err
	}
	return ValidateRoles(n.Roles)
}

// ValidateRoles checks a user's roles: at least one, each a role that exists, none twice.
func ValidateRoles(roles []Role) error {
	if len(roles) == 0 {
		return FieldError("roles", "give at least one role: %s", joinRoles(AllRoles))
	}
	seen := map[Role]bool{}
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
		if seen[r] {
			return FieldError("roles", "role %q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// ValidateRoleChange checks that admin may give user userID these roles: valid roles, and an
// admin never takes the admin role from themselves, which could leave nobody to give it back.
func ValidateRoleChange(admin Actor, userID int64, roles []Role) error {
	if err := ValidateRoles(roles); err != nil {
		return err
	}
	if admin.UserID == userID && !slices.Contains(roles, RoleAdmin) {
		return Errorf(ERuleViolated, "you cannot take the admin role from yourself; ask another admin")
	}
	return nil
}

// ValidatePassword checks the length rules for a new password.
func ValidatePassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return FieldError("password", "password must be at least %d characters", MinPasswordLength)
	}
	if len(pw) > MaxPasswordBytes {
		return FieldError("password", "password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// HashPassword returns a salted bcrypt hash of pw at the given cost.
func HashPassword(pw string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// PasswordMatches reports whether pw is the password behind hash.
func PasswordMatches(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// Why a session ended before it ran out (sessions.end_reason).
const (
	SessionEndLogout          = "logout"
	SessionEndLocked          = "locked"
	SessionEndDisabled        = "disabled"
	SessionEndPasswordChanged = "password_changed"
	SessionEndRolesChanged    = "roles_changed"
	SessionEndByAdmin         = "ended_by_admin"
)

var sessionEndMessages = map[string]string{
	SessionEndLogout:          "you logged out",
	SessionEndLocked:          "your account was locked after too many failed logins",
	SessionEndDisabled:        "an admin disabled your account",
	SessionEndPasswordChanged: "your password was changed",
	SessionEndRolesChanged:    "your roles were changed",
	SessionEndByAdmin:         "an admin ended your sessions",
}

// SessionLimits are how long a session lasts: Idle without a request, Lifetime at most
// from the login, however busy.
type SessionLimits struct {
	Idle     time.Duration
	Lifetime time.Duration
}

// StoredSession is a session as the database keeps it.
type StoredSession struct {
	CreatedAt  time.Time
	LastSeenAt time.Time
	EndedAt    *time.Time
	EndReason  string // SessionEnd*, when EndedAt is set by an event rather than a logout
}

// CheckSession decides whether session s of user u may be used at now: it has not been
// ended, the account is neither disabled nor locked, and it is within both limits. A refusal
// is an EUnauthenticated error that tells the person why, so that they know whether logging in
// again will help.
func CheckSession(s StoredSession, u User, now time.Time, lim SessionLimits) error {
	const again = "; log in again"
	switch {
	case s.EndedAt != nil:
		why, ok := sessionEndMessages[s.EndReason]
		if !ok {
			why = "it was ended"
		}
		return Errorf(EUnauthenticated, "your session has ended: %s%s", why, again)
	case u.Disabled():
		return Errorf(EUnauthenticated, "your session has ended: %s; ask an admin to enable it", sessionEndMessages[SessionEndDisabled])
	case u.Locked(now):
		return Errorf(EUnauthenticated, "your session has ended: your account is locked after %d failed logins until %s UTC",
			MaxFailedLogins, u.LockedUntil.UTC().Format("15:04"))
	case now.Sub(s.CreatedAt) > lim.Lifetime:
		return Errorf(EUnauthenticated, "your session has ended: a login lasts at most %s%s", hoursMinutes(lim.Lifetime), again)
	case now.Sub(s.LastSeenAt) > lim.Idle:
		return Errorf(EUnauthenticated, "your session ended after %s without activity%s", hoursMinutes(lim.Idle), again)
	}
	return nil
}

// hoursMinutes writes a duration as people say it: "12 hours", "15 minutes", "1 hour 30 minutes".
func hoursMinutes(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case h == 0:
		return plural(m, "minute")
	case m == 0:
		return plural(h, "hour")
	}
	return plural(h, "hour") + " " + plural(m, "minute")
}

// ValidateDisable checks that admin may disable user with reason: a reason is given, and an
// admin never disables their own account, which could leave nobody to enable it again.
func ValidateDisable(admin Actor, userID int64, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return FieldError("reason", "say why the account is disabled; the reason is kept in the audit trail")
	}
	if utf8.RuneCountInString(reason) > 500 {
		return FieldError("reason", "the reason must be at most 500 characters")
	}
	if admin.UserID == userID {
		return Errorf(ERuleViolated, "you cannot disable your own account; ask another admin")
	}
	return nil
}
