package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// On PostgreSQL each process keeps the sessions it found valid, and drops them as soon as any
// process ends a session or changes a user or a role: its own writes at once, the others' by
// PostgreSQL's notice (migration 00016). The stores' clock stands still, so no entry grows
// too old to be used: what ends one is the change. On SQLite nothing is kept.
func TestSessionCacheFollowsChangesInEveryProcess(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			stores := sharedStoresWith(t, b, 2, store.Options{Now: clk.Now})
			one, other := stores[0], stores[1]
			pg := b == storetest.Postgres
			if pg {
				waitUntil(t, "both stores listen", func() bool {
					return one.SessionCacheForTest().Live && other.SessionCacheForTest().Live
				})
			}
			if _, err := one.CreateUser(ctx, admin, newUser("nurse.cache", domain.RoleNurse)); err != nil {
				t.Fatal(err)
			}
			login := func() domain.Session {
				t.Helper()
				sess, err := one.Login(ctx, domain.Credentials{Username: "nurse.cache", Password: "correct horse battery", RequestID: "r"})
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
			kept := func(st *store.Store, want int) {
				t.Helper()
				if !pg {
					want = 0
				}
				if got := st.SessionCacheForTest(); got.Sessions != want || got.Live != pg {
					t.Fatalf("cache %+v, want %d sessions, live %v", got, want, pg)
				}
			}
			// moved waits for st's listener to act on a notice, after gen was read.
			moved := func(st *store.Store, gen uint64, why string) {
				t.Helper()
				if pg {
					waitUntil(t, why+" reaches the other process", func() bool { return st.SessionCacheForTest().Generation != gen })
				}
			}

			// Another process's logout.
			sess := login()
			authenticated(other, sess.Token)
			kept(other, 1)
			gen := other.SessionCacheForTest().Generation
			if err := one.Logout(ctx, domain.Actor{UserID: sess.User.ID, FullName: "x"}, sess.Token); err != nil {
				t.Fatal(err)
			}
			moved(other, gen, "the logout")
			refused(other, sess.Token, "a logout in another process")
			kept(other, 0)

			// This process's own logout is seen at once, before any notice.
			sess = login()
			authenticated(one, sess.Token)
			kept(one, 1)
			release := one.HoldNoticesForTest()
			err := one.Logout(ctx, domain.Actor{UserID: sess.User.ID, FullName: "x"}, sess.Token)
			refused(one, sess.Token, "a logout in this process, with its notice held")
			release()
			if err != nil {
				t.Fatal(err)
			}

			// A role taken away by another process (here straight in the database).
			sess = login()
			if u := authenticated(other, sess.Token); len(u.Roles) != 1 {
				t.Fatalf("roles %v, want nurse", u.Roles)
			}
			gen = other.SessionCacheForTest().Generation
			if err := one.Gorm().Exec(`DELETE FROM user_roles WHERE user_id = ?`, sess.User.ID).Error; err != nil {
				t.Fatal(err)
			}
			moved(other, gen, "the role's removal")
			if u := authenticated(other, sess.Token); len(u.Roles) != 0 {
				t.Fatalf("after the role was removed: roles %v, want none", u.Roles)
			}

			// A session's last use, written every 30 s, sends no notice (it would empty every
			// process's cache twice a minute per user): it is checked in the database anyway.
			// Notices arrive in commit order, so the first one after the write must be the
			// test's own.
			if pg {
				firstNotice := listenFor(t, one, func() {
					clk.Advance(31 * time.Second)
					authenticated(one, sess.Token) // writes last_seen_at
					if err := one.Gorm().Exec(`SELECT pg_notify('cordtrace_auth', 'test')`).Error; err != nil {
						t.Fatal(err)
					}
				})
				if firstNotice != "test" {
					t.Fatalf("the keep-alive write sent a notice (%q)", firstNotice)
				}
			}
		})
	}
}

// While its listener is not connected a store keeps no session; it connects again by itself.
func TestSessionCacheIsOffWithoutItsListener(t *testing.T) {
	storetest.PostgresOnly(t)
	ctx := context.Background()
	st := storetest.Open(t, storetest.Postgres, store.Options{Now: newClock().Now})
	waitUntil(t, "the store listens", func() bool { return st.SessionCacheForTest().Live })
	if _, err := st.CreateUser(ctx, admin, newUser("nurse.cache", domain.RoleNurse)); err != nil {
		t.Fatal(err)
	}
	sess, err := st.Login(ctx, domain.Credentials{Username: "nurse.cache", Password: "correct horse battery", RequestID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	before := st.SessionCacheForTest()
	if before.Sessions != 1 {
		t.Fatalf("cache %+v, want 1 session", before)
	}
	if err := st.Gorm().Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN cordtrace_auth'`).Error; err != nil {
		t.Fatal(err)
	}
	// Off (one drop), then on again (another): nothing kept from before.
	waitUntil(t, "the listener reconnects", func() bool {
		c := st.SessionCacheForTest()
		return c.Live && c.Generation >= before.Generation+2
	})
	if c := st.SessionCacheForTest(); c.Sessions != 0 {
		t.Fatalf("after the listener reconnected: %+v, want no session kept from before", c)
	}
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
}

// listenFor listens on the session notices' channel while do runs, and returns the first
// notice's payload.
func listenFor(t *testing.T, st *store.Store, do func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := st.SQLDB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var payload string
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN cordtrace_auth"); err != nil {
			return err
		}
		defer pc.Exec(context.Background(), "UNLISTEN *")
		do()
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		payload = n.Payload
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// A store opened without KeepSessions (a one-off command) opens no listener and keeps nothing.
func TestSessionsAreKeptOnlyWhenAsked(t *testing.T) {
	storetest.PostgresOnly(t)
	ctx := context.Background()
	opts := storetest.Options(t, storetest.Postgres, store.Options{})
	opts.KeepSessions = false
	st := storetest.OpenWith(t, opts)
	if _, err := st.CreateUser(ctx, admin, newUser("nurse.once", domain.RoleNurse)); err != nil {
		t.Fatal(err)
	}
	sess, err := st.Login(ctx, domain.Credentials{Username: "nurse.once", Password: "correct horse battery", RequestID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	var listeners int
	if err := st.SQLDB().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN cordtrace_auth'`).Scan(&listeners); err != nil {
		t.Fatal(err)
	}
	if c := st.SessionCacheForTest(); c.Live || c.Sessions != 0 || listeners != 0 {
		t.Fatalf("cache %+v with %d listeners, want none kept and no listener", c, listeners)
	}
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
