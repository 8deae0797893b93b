package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a settable time source shared by a test and its store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var admin = domain.Actor{Username: "test", FullName: "Test Harness", Role: domain.RoleAdmin, RequestID: "req-test"}

func newUser(name string, roles ...domain.Role) domain.NewUser {
	return domain.NewUser{Username: name, FullName: "Full " + name, Password: "correct horse battery", Roles: roles}
}

func mustVerify(t *testing.T, st *store.Store) domain.ChainReport {
	t.Helper()
	rep, err := st.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("audit chain broken at %v: %s", *rep.FirstBad, rep.Problem)
	}
	return rep
}

func TestCreateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		u, err := st.CreateUser(ctx, admin, newUser("qc.anna", domain.RoleQC, domain.RoleQA))
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.FullName != "Full qc.anna" || len(u.Roles) != 2 {
			t.Fatalf("created user = %+v", u)
		}
		got, err := st.User(ctx, u.ID)
		if err != nil || got.Username != "qc.anna" || !got.HasRole(domain.RoleQA) {
			t.Fatalf("User() = %+v, %v", got, err)
		}

		_, err = st.CreateUser(ctx, admin, newUser("qc.anna", domain.RoleQC))
		if domain.ErrorCode(err) != domain.EConflict || !strings.Contains(domain.ErrorMessage(err), "taken") {
			t.Fatalf("duplicate username: err = %v, want conflict saying it is taken", err)
		}
		bad := newUser("x", domain.RoleQC)
		if _, err = st.CreateUser(ctx, admin, bad); domain.ErrorField(err) != "username" {
			t.Fatalf("short username: err = %v, want field username", err)
		}
		if _, err = st.User(ctx, 999999); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("unknown user: err = %v", err)
		}

		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "user", EntityID: fmt.Sprint(u.ID)})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "user.create" || entries[0].UserName != "Test Harness" ||
			entries[0].RequestID != "req-test" || entries[0].Role != domain.RoleAdmin {
			t.Fatalf("audit = %+v", entries)
		}
		if strings.Contains(entries[0].After, "$2a$") || strings.Contains(entries[0].After, "password") {
			t.Fatalf("password hash leaked into the audit trail: %s", entries[0].After)
		}
		rep := mustVerify(t, st)
		if rep.Entries != 1 {
			t.Fatalf("entries = %d, want 1 (failed creates must write nothing)", rep.Entries)
		}
	})
}

func TestLoginLockoutAndSessions(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			st := storetest.Open(t, b, store.Options{Now: clk.Now, SessionIdle: 15 * time.Minute})
			if _, err := st.CreateUser(ctx, admin, newUser("nurse.ben", domain.RoleNurse)); err != nil {
				t.Fatal(err)
			}

			sess, err := st.Login(ctx, domain.Credentials{Username: "nurse.ben", Password: "correct horse battery", RequestID: "r1"})
			if err != nil || sess.Token == "" || sess.User.Username != "nurse.ben" {
				t.Fatalf("login = %+v, %v", sess, err)
			}
			if _, err := st.Login(ctx, domain.Credentials{Username: "nobody", Password: "correct horse battery", RequestID: "r2"}); domain.ErrorCode(err) != domain.EUnauthenticated {
				t.Fatalf("unknown user: %v", err)
			}

			// Idle timeout: use keeps the session alive; 15 idle minutes end it.
			for i := 0; i < 3; i++ {
				clk.Advance(14 * time.Minute)
				if _, err := st.Authenticate(ctx, sess.Token); err != nil {
					t.Fatalf("after %d×14 min of activity: %v", i+1, err)
				}
			}
			clk.Advance(15*time.Minute + time.Second)
			_, err = st.Authenticate(ctx, sess.Token)
			if domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), "without activity") {
				t.Fatalf("idle session: %v", err)
			}
			if _, err := st.Authenticate(ctx, "forged-token"); domain.ErrorCode(err) != domain.EUnauthenticated {
				t.Fatalf("forged token: %v", err)
			}

			// Four wrong passwords are counted; the fifth locks, even against the right password.
			for i := 1; i < domain.MaxFailedLogins; i++ {
				if _, err := st.Login(ctx, domain.Credentials{Username: "nurse.ben", Password: "wrong password!", RequestID: "r3"}); domain.ErrorCode(err) != domain.EUnauthenticated {
					t.Fatalf("wrong password %d: %v", i, err)
				}
			}
			// The fifth, and any wrong password while locked, answers as a wrong password for
			// an unknown user: only the right password learns of the lock.
			_, unknown := st.Login(ctx, domain.Credentials{Username: "nobody.here", Password: "wrong password!", RequestID: "r4"})
			for _, attempt := range []string{"fifth wrong password", "wrong password while locked"} {
				_, err := st.Login(ctx, domain.Credentials{Username: "nurse.ben", Password: "wrong password!", RequestID: "r4"})
				if domain.ErrorCode(err) != domain.EUnauthenticated || domain.ErrorMessage(err) != domain.ErrorMessage(unknown) {
					t.Fatalf("%s: %v, want the unknown user's answer %v", attempt, err, unknown)
				}
			}
			if _, err := st.Login(ctx, domain.Credentials{Username: "nurse.ben", Password: "correct horse battery", RequestID: "r5"}); domain.ErrorCode(err) != domain.EAccountLocked {
				t.Fatalf("right password while locked: %v, want account_locked", err)
			}
			clk.Advance(domain.LockoutDuration)
			sess2, err := st.Login(ctx, domain.Credentials{Username: "nurse.ben", Password: "correct horse battery", RequestID: "r6"})
			if err != nil {
				t.Fatalf("login after the lock ran out: %v", err)
			}
			if sess2.User.FailedLogins != 0 {
				t.Fatalf("failed count not reset: %d", sess2.User.FailedLogins)
			}

			if err := st.Logout(ctx, domain.Actor{UserID: sess2.User.ID, FullName: "x"}, sess2.Token); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Authenticate(ctx, sess2.Token); domain.ErrorCode(err) != domain.EUnauthenticated {
				t.Fatalf("token after logout: %v", err)
			}

			entries, err := st.ListAudit(ctx, domain.AuditFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action)
			}
			want := "user.create auth.login auth.login_failed auth.login_failed auth.login_failed auth.login_failed user.lock user.failed_logins_reset auth.login auth.logout"
			if got := strings.Join(actions, " "); got != want {
				t.Fatalf("audited actions:\n got %s\nwant %s", got, want)
			}
			mustVerify(t, st)
		})
	}
}

func TestWriteWithoutAuditEntryCommitsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		err := st.WriteForTest(ctx, admin, func(db *gorm.DB, _ func(string, string, string)) error {
			return db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES ('ghost', 'Ghost', 'x', ?)`, time.Now()).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username = 'ghost'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("a write that recorded no audit entry was committed")
		}
	})
}

func TestAuditTrailIsAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if _, err := st.CreateUser(ctx, admin, newUser(fmt.Sprintf("user%d", i), domain.RoleQC)); err != nil {
				t.Fatal(err)
			}
		}
		for _, stmt := range []string{
			`UPDATE audit_entries SET reason = 'edited' WHERE seq = 2`,
			`DELETE FROM audit_entries WHERE seq = 3`,
		} {
			_, err := st.SQLDB().ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the database to refuse it", stmt, err)
			}
		}
		if st.Dialect() == storetest.Postgres {
			if _, err := st.SQLDB().ExecContext(ctx, `TRUNCATE audit_entries`); err == nil {
				t.Error("TRUNCATE of the audit trail was allowed")
			}
		}
		mustVerify(t, st)
	})
}

// disableAuditGuard lets a test play an attacker with direct database access.
func disableAuditGuard(t *testing.T, st *store.Store) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_entries_no_update`, `DROP TRIGGER audit_entries_no_delete`}
	if st.Dialect() == storetest.Postgres {
		stmts = []string{`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete`}
	}
	for _, s := range stmts {
		if _, err := st.SQLDB().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditVerifyNamesFirstBrokenEntry(t *testing.T) {
	tampers := []struct {
		name, sql   string
		firstBad    int64
		problemPart string
	}{
		{"altered reason", `UPDATE audit_entries SET reason = 'nothing to see' WHERE seq = 3`, 3, "altered"},
		{"altered actor", `UPDATE audit_entries SET user_name = 'Someone Else' WHERE seq = 2`, 2, "altered"},
		{"deleted entry", `DELETE FROM audit_entries WHERE seq = 4`, 5, "missing"},
		{"deleted tail is not a break", `DELETE FROM audit_entries WHERE seq = 6`, 0, ""},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				for i := 0; i < 6; i++ {
					if _, err := st.CreateUser(ctx, admin, newUser(fmt.Sprintf("user%d", i), domain.RoleQC)); err != nil {
						t.Fatal(err)
					}
				}
				disableAuditGuard(t, st)
				if _, err := st.SQLDB().Exec(tc.sql); err != nil {
					t.Fatal(err)
				}
				rep, err := st.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tc.firstBad == 0 {
					// Removing the newest entry leaves a valid shorter chain; the count shows it.
					if !rep.OK || rep.Entries != 5 {
						t.Fatalf("report = %+v", rep)
					}
					return
				}
				if rep.OK || rep.FirstBad == nil || *rep.FirstBad != tc.firstBad || !strings.Contains(rep.Problem, tc.problemPart) {
					t.Fatalf("report = %+v, want first bad %d (%s)", rep, tc.firstBad, tc.problemPart)
				}
			})
		})
	}
}

// VerifyAudit reads the chain in stretches at once; a break is found and named the same
// wherever it lies, in the first stretch, in a later one or at a cut between them: every
// entry of the chain is tampered with in turn (and put back), so every cut is covered
// whatever the number of stretches.
func TestAuditVerifyFindsBreaksInEveryStretchAndAtTheCuts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for i := 0; i < 9; i++ {
			if _, err := st.CreateUser(ctx, admin, newUser(fmt.Sprintf("user%d", i), domain.RoleQC)); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := st.ListAudit(ctx, domain.AuditFilter{Limit: store.MaxAuditPage})
		if err != nil {
			t.Fatal(err)
		}
		n := int64(len(entries))
		disableAuditGuard(t, st)
		db := st.SQLDB()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`CREATE TABLE audit_copy AS SELECT * FROM audit_entries`)
		restore := func(seq int64) {
			exec(`DELETE FROM audit_entries WHERE seq = $1`, seq)
			exec(`INSERT INTO audit_entries SELECT * FROM audit_copy WHERE seq = $1`, seq)
		}
		for _, e := range entries {
			k := e.Seq
			rehashed := e
			rehashed.Reason = "rewritten"
			rehashed.Hash = rehashed.ComputeHash()
			tampers := []struct {
				name     string
				sql      string
				args     []any
				firstBad int64 // 0: what is left is a valid chain
				problem  string
				entries  int64
			}{
				{"altered", `UPDATE audit_entries SET reason = 'edited' WHERE seq = $1`, []any{k}, k, "altered", n},
				{"altered and re-hashed", `UPDATE audit_entries SET reason = $1, hash = $2 WHERE seq = $3`,
					[]any{rehashed.Reason, rehashed.Hash, k}, k + 1, "removed or reordered", n},
				{"deleted", `DELETE FROM audit_entries WHERE seq = $1`, []any{k}, k + 1, "missing", n - 1},
			}
			for _, tc := range tampers {
				if tc.firstBad > n { // the newest entry: what is left is a valid, shorter chain
					tc.firstBad = 0
				}
				exec(tc.sql, tc.args...)
				rep, err := st.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				restore(k)
				if rep.Entries != tc.entries {
					t.Errorf("entry %d %s: %d entries read, want %d", k, tc.name, rep.Entries, tc.entries)
				}
				if tc.firstBad == 0 {
					if !rep.OK {
						t.Errorf("entry %d %s: report %+v, want a valid chain", k, tc.name, rep)
					}
					continue
				}
				if rep.OK || rep.FirstBad == nil || *rep.FirstBad != tc.firstBad || !strings.Contains(rep.Problem, tc.problem) {
					t.Errorf("entry %d %s: report %+v, want first bad %d (%s)", k, tc.name, rep, tc.firstBad, tc.problem)
				}
			}
		}
		mustVerify(t, st)
	})
}

// Two stores on one database stand in for two serve processes: their connections, pools and
// transactions are separate, only the database is shared.
func TestConcurrentWritersKeepOneChain(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			stores := sharedStores(t, b, 2)
			const writers, each = 8, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					st := stores[w%2]
					for i := 0; i < each; i++ {
						if _, err := st.CreateUser(ctx, admin, newUser(fmt.Sprintf("w%d.u%d", w, i), domain.RoleNurse)); err != nil {
							errs <- err
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			rep := mustVerify(t, stores[0])
			if rep.Entries != writers*each {
				t.Fatalf("entries = %d, want %d", rep.Entries, writers*each)
			}
		})
	}
}

// sharedStores opens n stores on one fresh database, standing in for n serve processes: their
// connections, pools and transactions are separate, only the database is shared.
func sharedStores(t *testing.T, backend string, n int) []*store.Store {
	t.Helper()
	return sharedStoresWith(t, backend, n, store.Options{})
}

// sharedStoresWith is sharedStores with the stores' options.
func sharedStoresWith(t *testing.T, backend string, n int, base store.Options) []*store.Store {
	t.Helper()
	opts := storetest.Options(t, backend, base)
	var stores []*store.Store
	for i := 0; i < n; i++ {
		stores = append(stores, storetest.OpenWith(t, opts))
	}
	return stores
}
