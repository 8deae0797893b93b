package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Each way a session ends (a lock after failed logins, a password change, an admin disabling
// the account or ending its sessions, the absolute lifetime) is made in one process and seen
// by the other on its next request.
func TestSessionsEndInEveryProcess(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			stores := sharedStoresWith(t, b, 2, store.Options{Now: clk.Now})
			one, other := stores[0], stores[1]
			nurse, err := one.CreateUser(ctx, admin, newUser("nurse.ends", domain.RoleNurse))
			if err != nil {
				t.Fatal(err)
			}
			boss, err := one.CreateUser(ctx, admin, newUser("admin.ends", domain.RoleAdmin))
			if err != nil {
				t.Fatal(err)
			}
			by := actorFor(boss, domain.RoleAdmin)
			password := "correct horse battery"
			login := func() string {
				t.Helper()
				sess, err := one.Login(ctx, domain.Credentials{Username: "nurse.ends", Password: password, RequestID: "r"})
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if _, err := other.Authenticate(ctx, sess.Token); err != nil {
					t.Fatalf("a fresh session refused: %v", err)
				}
				return sess.Token
			}
			refused := func(token, because, want string) {
				t.Helper()
				for i, st := range stores {
					_, err := st.Authenticate(ctx, token)
					if domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), want) {
						t.Fatalf("after %s, process %d: authenticate = %v; want refused saying %q", because, i+1, err, want)
					}
				}
			}

			// Five wrong passwords lock the account and end its sessions.
			a, b2 := login(), login()
			for range domain.MaxFailedLogins {
				_, _ = one.CheckPassword(ctx, "nurse.ends", "wrong password!", "r")
			}
			refused(a, "the lock", "locked after too many failed logins")
			refused(b2, "the lock", "locked after too many failed logins")
			if _, err := one.EnableUser(ctx, by, nurse.ID); err != nil {
				t.Fatalf("an admin lifts the lock: %v", err)
			}
			if _, err := other.Authenticate(ctx, a); err == nil {
				t.Fatal("lifting the lock brought an ended session back")
			}

			// A lock made straight in the database (no session ended) still refuses them.
			a = login()
			if err := one.Gorm().Exec(`UPDATE users SET locked_until = ? WHERE id = ?`, clk.Now().Add(time.Hour), nurse.ID).Error; err != nil {
				t.Fatal(err)
			}
			refused(a, "a lock in the database", "account is locked")
			if err := one.Gorm().Exec(`UPDATE users SET locked_until = NULL WHERE id = ?`, nurse.ID).Error; err != nil {
				t.Fatal(err)
			}

			// A password change ends every other session (the one left open above too); the one
			// that made it stays.
			kept, gone := login(), login()
			if err := one.ChangePassword(ctx, actorFor(nurse, domain.RoleNurse), kept, password, "a new battery staple"); err != nil {
				t.Fatal(err)
			}
			password = "a new battery staple"
			refused(gone, "a password change", "your password was changed")
			if _, err := other.Authenticate(ctx, kept); err != nil {
				t.Fatalf("the session that changed the password: %v", err)
			}

			// Disabled by an admin: sessions end, and the right password no longer logs in,
			// nor confirms a signature or a witness.
			a = login()
			if _, err := one.DisableUser(ctx, by, nurse.ID, "left the ward"); err != nil {
				t.Fatal(err)
			}
			refused(a, "disabling the account", "an admin disabled your account")
			refused(kept, "disabling the account", "an admin disabled your account")
			if _, err := other.Login(ctx, domain.Credentials{Username: "nurse.ends", Password: password}); domain.ErrorCode(err) != domain.EAccountDisabled {
				t.Fatalf("login to a disabled account: %v, want %s", err, domain.EAccountDisabled)
			}
			if _, err := other.CheckPassword(ctx, "nurse.ends", "wrong password!", "r"); domain.ErrorCode(err) != domain.EUnauthenticated {
				t.Fatalf("a wrong password on a disabled account: %v, want it answered as any wrong password", err)
			}
			if _, err := one.EnableUser(ctx, by, nurse.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := other.Authenticate(ctx, a); err == nil {
				t.Fatal("enabling the account brought an ended session back")
			}

			// An admin ends the user's sessions.
			a, b2 = login(), login()
			n, err := other.EndUserSessions(ctx, by, nurse.ID)
			if err != nil || n != 2 {
				t.Fatalf("end sessions: %d, %v; want 2 ended", n, err)
			}
			refused(a, "an admin ended them", "an admin ended your sessions")
			refused(b2, "an admin ended them", "an admin ended your sessions")

			// However busy, a session lasts at most the lifetime from its login.
			a = login()
			for range 12 * 4 {
				clk.Advance(15 * time.Minute)
				if _, err := other.Authenticate(ctx, a); err != nil {
					t.Fatalf("%v after the login: %v", clk.Now().Sub(newClock().Now()), err)
				}
			}
			clk.Advance(time.Second)
			refused(a, "12 hours of use", "at most 12 hours")

			// Each change is audited with the sessions it ended.
			var reasons []string
			if err := one.Gorm().Raw(`SELECT action || ': ' || reason FROM audit_entries WHERE entity_type = 'user' AND entity_id = ? AND action IN ('user.lock', 'user.disable', 'user.enable', 'user.sessions_end', 'user.password_change') ORDER BY seq`,
				fmt.Sprint(nurse.ID)).Scan(&reasons).Error; err != nil {
				t.Fatal(err)
			}
			want := []string{"user.lock: 5 failed logins; 2 sessions ended", "user.enable: ", "user.password_change: 2 other sessions ended",
				"user.disable: left the ward (2 sessions ended)", "user.enable: ", "user.sessions_end: "}
			if strings.Join(reasons, "|") != strings.Join(want, "|") {
				t.Fatalf("audit:\n  %q\nwant\n  %q", reasons, want)
			}
			mustVerify(t, one)
		})
	}
}

// Disabling is refused without a reason, for one's own account, twice, or for nobody; the
// database refuses a disabled account without a reason whatever the application does.
func TestDisableUserRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		boss, err := st.CreateUser(ctx, admin, newUser("admin.rules", domain.RoleAdmin))
		if err != nil {
			t.Fatal(err)
		}
		nurse, err := st.CreateUser(ctx, admin, newUser("nurse.rules", domain.RoleNurse))
		if err != nil {
			t.Fatal(err)
		}
		by := actorFor(boss, domain.RoleAdmin)
		for _, tc := range []struct {
			name   string
			id     int64
			reason string
			code   string
		}{
			{"no reason", nurse.ID, " ", domain.EInvalid},
			{"own account", boss.ID, "testing", domain.ERuleViolated},
			{"nobody", 99999, "gone", domain.ENotFound},
		} {
			if _, err := st.DisableUser(ctx, by, tc.id, tc.reason); domain.ErrorCode(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		if _, err := st.EnableUser(ctx, by, nurse.ID); domain.ErrorCode(err) != domain.EConflict {
			t.Errorf("enable an enabled account: %v, want %s", err, domain.EConflict)
		}
		u, err := st.DisableUser(ctx, by, nurse.ID, "  on leave  ")
		if err != nil || !u.Disabled() || u.DisabledReason != "on leave" {
			t.Fatalf("disable: %+v, %v", u, err)
		}
		if _, err := st.DisableUser(ctx, by, nurse.ID, "again"); domain.ErrorCode(err) != domain.EConflict {
			t.Errorf("disable twice: %v, want %s", err, domain.EConflict)
		}
		if err := st.Gorm().Exec(`UPDATE users SET disabled_reason = NULL WHERE id = ?`, nurse.ID).Error; err == nil {
			t.Error("the database kept a disabled account without a reason")
		}
		if err := st.Gorm().Exec(`UPDATE sessions SET end_reason = 'because' WHERE user_id = ?`, nurse.ID).Error; err != nil {
			t.Fatal(err) // no session of the user yet: nothing to refuse
		}
		if err := st.Gorm().Exec(`INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, end_reason) VALUES ('x', ?, ?, ?, 'logout')`,
			nurse.ID, time.Now(), time.Now()).Error; err == nil {
			t.Error("the database kept an end reason on an open session")
		}
	})
}

// A witness whose account is locked or disabled confirms nothing: neither with their password
// nor with a witness token issued before.
func TestLockedOrDisabledWitnessConfirmsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		bag := preparedBag(t, st)
		bag.scan(t, domain.ScanDispatch, 5)
		bag.scan(t, domain.ScanReceive, 5)
		boss, err := st.CreateUser(ctx, admin, newUser("admin.w", domain.RoleAdmin))
		if err != nil {
			t.Fatal(err)
		}
		by := actorFor(boss, domain.RoleAdmin)
		witnessWithToken := func(because string) {
			t.Helper()
			tok, err := st.IssueWitnessToken(ctx, bag.nurse, bag.witness.Username, "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			switch because {
			case "disabled":
				if _, err := st.DisableUser(ctx, by, bag.witness.UserID, "left"); err != nil {
					t.Fatal(err)
				}
			case "locked":
				for range domain.MaxFailedLogins {
					_, _ = st.CheckPassword(ctx, bag.witness.Username, "wrong password!", "r")
				}
			}
			req := bag.bedsideRequest(bag.patient.MRN, domain.CustodyScan{})
			req.Witness, req.WitnessToken = domain.WitnessFacts{}, tok.Token
			v, err := st.Verify(ctx, bag.nurse, req)
			if err != nil {
				t.Fatal(err)
			}
			if v.Pass || !strings.Contains(v.Checks[len(v.Checks)-1].Message, "is "+because) {
				t.Fatalf("witness %s since the token: pass=%v %+v", because, v.Pass, v.Checks[len(v.Checks)-1])
			}
			if _, err := st.IssueWitnessToken(ctx, bag.nurse, bag.witness.Username, "correct horse battery"); err == nil {
				t.Fatalf("a %s witness got a token with their password", because)
			}
			if _, err := st.CheckPassword(ctx, bag.witness.Username, "correct horse battery", "r"); err == nil {
				t.Fatalf("a %s witness confirmed with their password", because)
			}
			if _, err := st.EnableUser(ctx, by, bag.witness.UserID); err != nil {
				t.Fatal(err)
			}
		}
		witnessWithToken("disabled")
		witnessWithToken("locked")
	})
}

// A role change made in one process ends the user's sessions in the other: no session keeps
// acting under roles it no longer has, or without roles it was just given.
func TestRoleChangeEndsSessionsInEveryProcess(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			stores := sharedStores(t, b, 2)
			one, other := stores[0], stores[1]
			nurse, err := one.CreateUser(ctx, admin, newUser("nurse.roles", domain.RoleNurse))
			if err != nil {
				t.Fatal(err)
			}
			boss, err := one.CreateUser(ctx, admin, newUser("admin.roles", domain.RoleAdmin))
			if err != nil {
				t.Fatal(err)
			}
			by := actorFor(boss, domain.RoleAdmin)
			sess, err := one.Login(ctx, domain.Credentials{Username: "nurse.roles", Password: "correct horse battery"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.SetRoles(ctx, by, nurse.ID, []domain.Role{domain.RoleNurse}); domain.ErrorCode(err) != domain.EConflict {
				t.Fatalf("the same roles: %v, want %s", err, domain.EConflict)
			}
			if _, err := other.SetRoles(ctx, by, boss.ID, []domain.Role{domain.RoleQA}); domain.ErrorCode(err) != domain.ERuleViolated {
				t.Fatalf("an admin drops their own admin role: %v, want %s", err, domain.ERuleViolated)
			}
			u, err := other.SetRoles(ctx, by, nurse.ID, []domain.Role{domain.RolePhysician, domain.RoleNurse})
			if err != nil || !slices.Equal(u.Roles, []domain.Role{domain.RolePhysician, domain.RoleNurse}) {
				t.Fatalf("set roles: %+v, %v", u.Roles, err)
			}
			if _, err := one.Authenticate(ctx, sess.Token); domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), "your roles were changed") {
				t.Fatalf("the session after the role change: %v", err)
			}
			again, err := one.Login(ctx, domain.Credentials{Username: "nurse.roles", Password: "correct horse battery"})
			if err != nil || !again.User.HasRole(domain.RolePhysician) {
				t.Fatalf("a new login: %+v, %v", again.User, err)
			}
			var reason string
			if err := one.Gorm().Raw(`SELECT reason FROM audit_entries WHERE action = 'user.roles_change' AND entity_id = ?`, fmt.Sprint(nurse.ID)).Scan(&reason).Error; err != nil || reason != "1 sessions ended" {
				t.Fatalf("audit reason %q, %v", reason, err)
			}
		})
	}
}
