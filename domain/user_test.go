package domain

import (
	"strings"
	"testing"
	"time"
)

func TestNewUserValidate(t *testing.T) {
	ok := NewUser{Username: "qc.anna-1_b", FullName: "Anna B", Password: "0123456789", Roles: []Role{RoleQC}}
	cases := []struct {
		name  string
		edit  func(*NewUser)
		field string
	}{
		{"valid", func(*NewUser) {}, ""},
		{"username too short", func(n *NewUser) { n.Username = "ab" }, "username"},
		{"username 3 chars", func(n *NewUser) { n.Username = "abc" }, ""},
		{"username 64 chars", func(n *NewUser) { n.Username = strings.Repeat("a", 64) }, ""},
		{"username 65 chars", func(n *NewUser) { n.Username = strings.Repeat("a", 65) }, "username"},
		{"username upper case", func(n *NewUser) { n.Username = "Anna" }, "username"},
		{"username with space", func(n *NewUser) { n.Username = "an na" }, "username"},
		{"blank full name", func(n *NewUser) { n.FullName = "   " }, "full_name"},
		{"full name 200 runes", func(n *NewUser) { n.FullName = strings.Repeat("é", 200) }, ""},
		{"full name 201 runes", func(n *NewUser) { n.FullName = strings.Repeat("é", 201) }, "full_name"},
		{"password 9 chars", func(n *NewUser) { n.Password = "012345678" }, "password"},
		{"password 72 bytes", func(n *NewUser) { n.Password = strings.Repeat("p", 72) }, ""},
		{"password 73 bytes", func(n *NewUser) { n.Password = strings.Repeat("p", 73) }, "password"},
		{"no roles", func(n *NewUser) { n.Roles = nil }, "roles"},
		{"unknown role", func(n *NewUser) { n.Roles = []Role{"surgeon"} }, "roles"},
		{"duplicate role", func(n *NewUser) { n.Roles = []Role{RoleQA, RoleQA} }, "roles"},
		{"several roles", func(n *NewUser) { n.Roles = []Role{RoleQA, RoleQC, RoleNurse} }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := ok
			tc.edit(&n)
			err := n.Validate()
			if tc.field == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.field != "" && (ErrorField(err) != tc.field || ErrorCode(err) != EInvalid) {
				t.Fatalf("error = %v, want invalid field %s", err, tc.field)
			}
		})
	}
}

func TestLockout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var u User
	for i := 1; i < MaxFailedLogins; i++ {
		if u.RecordFailedLogin(t0) || u.Locked(t0) {
			t.Fatalf("locked after %d failures", i)
		}
	}
	if !u.RecordFailedLogin(t0) || !u.Locked(t0) {
		t.Fatalf("not locked after %d failures", MaxFailedLogins)
	}
	if u.RecordFailedLogin(t0.Add(time.Minute)) {
		t.Fatal("a failure while locked reported a new lock")
	}
	if !u.Locked(t0.Add(LockoutDuration - time.Nanosecond)) {
		t.Fatal("lock ended early")
	}
	if u.Locked(t0.Add(LockoutDuration)) {
		t.Fatal("lock outlasted its duration")
	}
	// After the lock runs out, the count starts again: one failure does not re-lock.
	if u.RecordFailedLogin(t0.Add(LockoutDuration)) || u.FailedLogins != 1 {
		t.Fatalf("after lock expiry: failed=%d locked=%v", u.FailedLogins, u.Locked(t0.Add(LockoutDuration)))
	}
	u.RecordSuccessfulLogin()
	if u.FailedLogins != 0 || u.LockedUntil != nil {
		t.Fatal("success did not clear the count")
	}
}

func TestCheckSession(t *testing.T) {
	login := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	lim := SessionLimits{Idle: DefaultSessionIdle, Lifetime: DefaultSessionLifetime}
	lockedUntil := login.Add(time.Hour)
	ended := login.Add(time.Minute)
	for _, tc := range []struct {
		name     string
		s        StoredSession
		u        User
		at       time.Duration // after the login
		wantPart string        // "" for a usable session
	}{
		{"fresh", StoredSession{CreatedAt: login, LastSeenAt: login}, User{}, 0, ""},
		{"idle to the limit", StoredSession{CreatedAt: login, LastSeenAt: login}, User{}, DefaultSessionIdle, ""},
		{"idle past the limit", StoredSession{CreatedAt: login, LastSeenAt: login}, User{}, DefaultSessionIdle + time.Second, "after 15 minutes without activity"},
		{"busy to the lifetime", StoredSession{CreatedAt: login, LastSeenAt: login.Add(DefaultSessionLifetime)}, User{}, DefaultSessionLifetime, ""},
		{"busy past the lifetime", StoredSession{CreatedAt: login, LastSeenAt: login.Add(DefaultSessionLifetime)}, User{}, DefaultSessionLifetime + time.Second, "at most 12 hours"},
		{"logged out", StoredSession{CreatedAt: login, LastSeenAt: login, EndedAt: &ended, EndReason: SessionEndLogout}, User{}, 2 * time.Minute, "you logged out"},
		{"ended by a password change", StoredSession{CreatedAt: login, LastSeenAt: login, EndedAt: &ended, EndReason: SessionEndPasswordChanged}, User{}, 2 * time.Minute, "password was changed"},
		{"ended without a reason", StoredSession{CreatedAt: login, LastSeenAt: login, EndedAt: &ended}, User{}, 2 * time.Minute, "it was ended"},
		{"account locked", StoredSession{CreatedAt: login, LastSeenAt: login}, User{LockedUntil: &lockedUntil}, time.Minute, "locked after 5 failed logins"},
		{"lock run out", StoredSession{CreatedAt: login, LastSeenAt: login.Add(time.Hour)}, User{LockedUntil: &lockedUntil}, time.Hour, ""},
		{"account disabled", StoredSession{CreatedAt: login, LastSeenAt: login}, User{DisabledAt: &ended, DisabledReason: "left"}, time.Minute, "disabled your account"},
	} {
		err := CheckSession(tc.s, tc.u, login.Add(tc.at), lim)
		if tc.wantPart == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		if ErrorCode(err) != EUnauthenticated || !strings.Contains(ErrorMessage(err), tc.wantPart) {
			t.Errorf("%s: %v, want %s saying %q", tc.name, err, EUnauthenticated, tc.wantPart)
		}
	}
}

func TestAccountRefusal(t *testing.T) {
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	later := now.Add(time.Minute)
	if r := (User{FullName: "A"}).AccountRefusal(now); r != "" {
		t.Errorf("an account in order refused: %s", r)
	}
	if r := (User{FullName: "A", LockedUntil: &later}).AccountRefusal(now); !strings.Contains(r, "locked") {
		t.Errorf("locked account: %q", r)
	}
	if r := (User{FullName: "A", LockedUntil: &now}).AccountRefusal(later); r != "" {
		t.Errorf("a lock that ran out still refuses: %q", r)
	}
	if r := (User{FullName: "A", DisabledAt: &now, DisabledReason: "left the ward"}).AccountRefusal(now); !strings.Contains(r, "disabled (left the ward)") {
		t.Errorf("disabled account: %q", r)
	}
}

func TestValidateRoleChange(t *testing.T) {
	admin := Actor{UserID: 1}
	for _, tc := range []struct {
		user  int64
		roles []Role
		want  string
	}{
		{2, []Role{RoleNurse, RolePhysician}, ""},
		{2, nil, EInvalid},
		{2, []Role{"chef"}, EInvalid},
		{2, []Role{RoleNurse, RoleNurse}, EInvalid},
		{1, []Role{RoleAdmin, RoleQA}, ""},
		{1, []Role{RoleQA}, ERuleViolated},
	} {
		if got := ErrorCode(ValidateRoleChange(admin, tc.user, tc.roles)); got != tc.want {
			t.Errorf("user %d roles %v: %q, want %q", tc.user, tc.roles, got, tc.want)
		}
	}
}

func TestValidateDisable(t *testing.T) {
	admin := Actor{UserID: 1}
	for _, tc := range []struct {
		user   int64
		reason string
		want   string
	}{
		{2, "left the trial", ""},
		{2, "  ", EInvalid},
		{2, strings.Repeat("x", 501), EInvalid},
		{1, "testing", ERuleViolated},
	} {
		if got := ErrorCode(ValidateDisable(admin, tc.user, tc.reason)); got != tc.want {
			t.Errorf("user %d reason %.10q: %q, want %q", tc.user, tc.reason, got, tc.want)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse", 4)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse", 4)
	if h == h2 {
		t.Fatal("hashes are not salted")
	}
	if !PasswordMatches(h, "correct horse") || PasswordMatches(h, "correct horsE") || PasswordMatches(h, "") {
		t.Fatal("PasswordMatches is wrong")
	}
}

func TestAuthorize(t *testing.T) {
	multi := User{Username: "m", Roles: []Role{RoleNurse, RoleQA}}
	cases := []struct {
		user User
		perm Permission
		role Role // "" means refused
	}{
		{User{Roles: []Role{RoleAdmin}}, PermManageUsers, RoleAdmin},
		{User{Roles: []Role{RoleQA}}, PermManageUsers, ""},
		{User{Roles: []Role{RoleQC}}, PermSignLot, ""},
		{User{Roles: []Role{RoleQA}}, PermSignLot, RoleQA},
		{User{Roles: []Role{RolePharmacist}}, PermDispatch, RolePharmacist},
		{User{Roles: []Role{RoleNurse}}, PermDispatch, ""},
		{User{Roles: []Role{RoleNurse}}, PermReceive, RoleNurse},
		{User{Roles: []Role{RoleNurse}}, PermRecordWeight, RoleNurse},
		{User{Roles: []Role{RolePharmacist}}, PermBedside, ""},
		{multi, PermReadAudit, RoleQA},
		{multi, PermBedside, RoleNurse},
		{multi, PermAnyUser, RoleQA}, // canonical role order decides
		{User{}, PermAnyUser, ""},
	}
	for _, tc := range cases {
		role, err := Authorize(tc.user, tc.perm)
		if role != tc.role {
			t.Errorf("%v %s: role %q, want %q (err %v)", tc.user.Roles, tc.perm, role, tc.role, err)
		}
		if tc.role == "" && (ErrorCode(err) != EForbidden || !strings.Contains(ErrorMessage(err), "needs the role")) {
			t.Errorf("%v %s: err %v, want forbidden naming the role", tc.user.Roles, tc.perm, err)
		}
	}
	if _, err := Authorize(multi, "no.such"); err == nil || ErrorCode(err) != EInternal {
		t.Errorf("unknown permission: %v", err)
	}
	for _, p := range Permissions() {
		if len(RolesFor(p)) == 0 {
			t.Errorf("permission %s is held by nobody", p)
		}
	}
}
