package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
	"cordtrace/migrations"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// On PostgreSQL a write commits without waiting for the disk and waits afterwards, outside the
// audit lock (store.durable). This checks the wait: when a write returns, its commit record is
// in the WAL flushed to disk (read with pg_walinspect, which reads only flushed WAL). Without
// the wait the WAL writer flushes up to 200 ms later, so some of these writes would return
// unflushed.
func TestAcknowledgedWritesAreOnDisk(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	ctx := context.Background()
	if _, err := st.SQLDB().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`); err != nil {
		t.Fatalf("pg_walinspect (in PostgreSQL's own package since 15): %v", err)
	}
	for i := range 30 {
		var before, xid string
		err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
			name := fmt.Sprintf("durable%d", i)
			if err := db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'D', 'x', ?)`, name, time.Now()).Error; err != nil {
				return err
			}
			audit("user.create", "user", name)
			// The commit record goes into the WAL after this point.
			return db.Raw(`SELECT pg_current_wal_insert_lsn()::text, xid(pg_current_xact_id())::text`).Row().Scan(&before, &xid)
		})
		if err != nil {
			t.Fatal(err)
		}
		var flushed string
		var past bool
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT pg_current_wal_flush_lsn()::text, pg_current_wal_flush_lsn() > $1::pg_lsn`,
			before).Scan(&flushed, &past); err != nil {
			t.Fatal(err)
		}
		if !past {
			t.Fatalf("write %d returned before its commit was on disk: the WAL is flushed up to %s, and the write was still writing at %s", i, flushed, before)
		}
		var commits int
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT count(*) FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
			WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT' AND xid = $3::xid`, before, flushed, xid).Scan(&commits); err != nil {
			t.Fatalf("write %d: read the flushed WAL from %s to %s: %v", i, before, flushed, err)
		}
		if commits != 1 {
			t.Fatalf("write %d returned before its commit (transaction %s) was on disk: %d commit records in the flushed WAL", i, xid, commits)
		}
	}
}

// audit_append makes the transaction that appends to the chain commit asynchronously (the wait
// for the disk comes after, see above), and only that transaction: the connection's own
// setting, used by the wait, stays on.
func TestAuditAppendCommitsAsynchronouslyForItsTransactionOnly(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	ctx := context.Background()
	conn, err := st.SQLDB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	show := func() string {
		var v string
		if err := conn.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "on" {
		t.Fatalf("before the append: synchronous_commit = %s, want on", got)
	}
	if _, err := conn.ExecContext(ctx, `SELECT audit_append(1, $1, 'v', '[]'::jsonb)`, strings.Repeat("0", 64)); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "off" {
		t.Fatalf("after the append: synchronous_commit = %s, want off", got)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "on" {
		t.Fatalf("after the commit: synchronous_commit = %s, want on", got)
	}
}

// On PostgreSQL the database seals audit entries (audit_append); Go checks them. Entries with
// text in many scripts, quotes, JSON-looking and empty values, several per write and with no
// user, verify; on PostgreSQL a value that is not UTF-8 is refused and nothing of its write is
// kept.
func TestAuditEntriesSealedByTheDatabaseVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		actors := []domain.Actor{admin, {FullName: "Zoë Ångström-O'Brien 日本語 <b>&amp;</b>", Role: domain.RoleQA, RequestID: "r:1.2-3"}, {}}
		ids := []string{"", "42", `{"x":"y\"z"}`, "línea\nnueva\ttab", "emoji 🧪", strings.Repeat("é", 300)}
		for i, a := range actors {
			err := st.WriteForTest(ctx, a, func(db *gorm.DB, audit func(string, string, string)) error {
				for _, id := range ids {
					audit(fmt.Sprintf("test.%d", i), "thing", id)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if rep := mustVerify(t, st); rep.Entries < int64(len(actors)*len(ids)) {
			t.Fatalf("%d entries, want at least %d", rep.Entries, len(actors)*len(ids))
		}
		if st.Dialect() != migrations.Postgres {
			return // SQLite stores any bytes, and Go seals them
		}
		before := mustVerify(t, st).Entries
		err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
			audit("test.good", "thing", "fine")
			audit("test.bad", "thing", "not utf-8 \xff")
			return nil
		})
		if err == nil {
			t.Fatal("an entry that is not UTF-8 was accepted")
		}
		if after := mustVerify(t, st).Entries; after != before {
			t.Fatalf("%d entries after a refused write, want %d", after, before)
		}
	})
}

// On PostgreSQL a write runs its transaction by hand on one connection (so that the audit
// append and the COMMIT travel together). Whatever way a write fails, its changes are gone and
// its connection goes back to the pool outside any transaction: with a pool of one connection,
// each next write works and commits.
func TestFailedWritesLeaveNoOpenTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		st.SQLDB().SetMaxOpenConns(1)
		ctx := context.Background()
		insert := func(db *gorm.DB, name string) error {
			return db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'F', 'x', ?)`, name, time.Now()).Error
		}
		errBoom := errors.New("boom")
		failures := map[string]func() error{
			"fn fails": func() error {
				return st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
					if err := insert(db, "f.fn"); err != nil {
						return err
					}
					audit("user.create", "user", "f.fn")
					return errBoom
				})
			},
			"a statement fails": func() error {
				return st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
					if err := insert(db, "f.stmt"); err != nil {
						return err
					}
					audit("user.create", "user", "f.stmt")
					return db.Exec(`SELECT no_such_column FROM users`).Error
				})
			},
			"the audit append fails": func() error { // PostgreSQL refuses a NUL in text
				return st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
					if err := insert(db, "f.audit"); err != nil {
						return err
					}
					audit("user.create", "user", "f.audit\x00")
					return nil
				})
			},
			"a statement sent with the commit fails": func() error {
				return st.WriteAtEndForTest(ctx, admin, "f.end", "UPDATE users SET no_such_column = ? WHERE username = ?", 1, "f.end")
			},
			"nothing recorded": func() error {
				err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
					return insert(db, "f.none")
				})
				if err == nil {
					err = errBoom // committed nothing, as it should
				}
				return err
			},
			"the context ends": func() error {
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				return st.WriteForTest(cctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
					if err := insert(db, "f.ctx"); err != nil {
						return err
					}
					audit("user.create", "user", "f.ctx")
					cancel()
					return insert(db, "f.ctx2")
				})
			},
		}
		for name, fail := range failures {
			if st.Dialect() != migrations.Postgres && name == "the audit append fails" {
				continue // SQLite stores a NUL
			}
			if err := fail(); err == nil {
				t.Fatalf("%s: the write succeeded", name)
			}
			ok := "ok." + strings.ReplaceAll(name, " ", ".")
			err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
				if err := insert(db, ok); err != nil {
					return err
				}
				audit("user.create", "user", ok)
				return nil
			})
			if err != nil {
				t.Fatalf("the write after %q: %v", name, err)
			}
		}
		var names []string
		if err := st.Gorm().Raw(`SELECT username FROM users WHERE username LIKE 'f.%' OR username LIKE 'ok.%' ORDER BY username`).Scan(&names).Error; err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, "f.") {
				t.Fatalf("a failed write kept %s (users: %v)", n, names)
			}
		}
		want := len(failures)
		if st.Dialect() != migrations.Postgres {
			want--
		}
		if len(names) != want {
			t.Fatalf("users %v, want one ok.* per failure", names)
		}
		// A statement sent with the commit takes effect with it.
		if err := st.WriteAtEndForTest(ctx, admin, "ok.end", "UPDATE users SET full_name = ? WHERE username = ?", "Changed At End", "ok.end"); err != nil {
			t.Fatal(err)
		}
		var full string
		if err := st.Gorm().Raw(`SELECT full_name FROM users WHERE username = 'ok.end'`).Scan(&full).Error; err != nil || full != "Changed At End" {
			t.Fatalf("the statement sent with the commit: full name %q, %v", full, err)
		}
		mustVerify(t, st)
	})
}
