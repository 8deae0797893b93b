package store_test

import (
	"context"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Every request reads its session, user and roles from the database, so whatever one process
// changes (a logout, a role taken away, a lockout) the next request sees in every process.
func TestSessionChangesTakeEffectOnTheNextRequestInEveryProcess(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			stores := sharedStoresWith(t, b, 2, store.Options{Now: clk.Now})
			one, other := stores[0], stores[1]
			if _, err := one.CreateUser(ctx, admin, newUser("nurse.shared", domain.RoleNurse)); err != nil {
				t.Fatal(err)
			}
			login := func() domain.Session {
				t.Helper()
				sess, err := one.Login(ctx, domain.Credentials{Username: "nurse.shared", Password: "correct horse battery", RequestID: "r"})
				if err != nil {
					t.Fatal(err)
				}
				return sess
			}
			authenticated := func(st *store.Store, token string) domain.User {
				t.Helper()
				u, err := st.Authenticate(ctx, token)
				if err != nil {
					t.Fatalf("authenticate: %v", err)
				}
				return u
			}
			refused := func(st *store.Store, token, after string) {
				t.Helper()
				if _, err := st.Authenticate(ctx, token); domain.ErrorCode(err) != domain.EUnauthenticated {
					t.Fatalf("after %s: authenticate = %v, want %s", after, err, domain.EUnauthenticated)
				}
			}

			// Another process's logout.
			sess := login()
			authenticated(other, sess.Token)
			if err := one.Logout(ctx, domain.Actor{UserID: sess.User.ID, FullName: "x"}, sess.Token); err != nil {
				t.Fatal(err)
			}
			refused(other, sess.Token, "a logout in another process")
			refused(one, sess.Token, "a logout in this process")

			// A role taken away by another process (here straight in the database).
			sess = login()
			if u := authenticated(other, sess.Token); len(u.Roles) != 1 {
				t.Fatalf("roles %v, want nurse", u.Roles)
			}
			if err := one.Gorm().Exec(`DELETE FROM user_roles WHERE user_id = ?`, sess.User.ID).Error; err != nil {
				t.Fatal(err)
			}
			if u := authenticated(other, sess.Token); len(u.Roles) != 0 {
				t.Fatalf("after the role was removed: roles %v, want none", u.Roles)
			}

			// The keep-alive written by one process counts in the other.
			clk.Advance(14 * time.Minute)
			authenticated(one, sess.Token)
			clk.Advance(14 * time.Minute)
			authenticated(other, sess.Token)

			// A lockout by another process ends the session.
			for range domain.MaxFailedLogins {
				_, _ = one.CheckPassword(ctx, "nurse.shared", "wrong password!", "r")
			}
			refused(other, sess.Token, "the lockout in another process")
		})
	}
}

// The database keeps no function that seals audit entries and no trigger that tells processes
// of session changes: entries are sealed in Go, and sessions are read per request.
func TestNoSealingOrNoticesInTheDatabase(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	var n int
	if err := st.SQLDB().QueryRow(`SELECT count(*) FROM pg_proc WHERE proname IN ('audit_append', 'auth_changed')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var triggers int
	if err := st.SQLDB().QueryRow(`SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%auth_changed'`).Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if n != 0 || triggers != 0 {
		t.Fatalf("%d functions and %d triggers left, want none", n, triggers)
	}
}
