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

// A write returns once its commit is on disk. On PostgreSQL this checks that its commit record
// is in the WAL flushed to disk (read with pg_walinspect, which reads only flushed WAL): a
// commit that did not wait for the disk would leave it to the WAL writer, up to 200 ms later,
// so some of these writes would return unflushed.
func TestAcknowledgedWritesAreOnDisk(t *testing.T) {
	storetest.PostgresOnly(t)
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	ctx := context.Background()
	if _, err := st.SQLDB().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`); err != nil {
		t.Fatalf("pg_walinspect (in PostgreSQL's own package since 15): %v", err)
	}
	for i := range 30 {
		var before, xid string
		write := st.WriteForTest
		if i%2 == 1 {
			write = st.WriteTogetherForTest // the custody scans' path
		}
		err := write(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
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

// Go seals audit entries and checks them, and the bytes it hashes are the bytes the database
// keeps. Entries with text in many scripts, quotes, JSON-looking and empty values, several per
// write and with no user, verify; on PostgreSQL a value that is not UTF-8 is refused and
// nothing of its write is kept.
func TestAuditEntriesSealedInGoVerify(t *testing.T) {
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

// Whatever way a write fails, its changes are gone and its connection goes back to the pool
// outside any transaction: with a pool of one connection, each next write works and commits.
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
		mustVerify(t, st)
	})
}

// Each statement of a write runs when it is issued, on both databases: a read placed after a
// write in the same transaction sees it, and so does the write's own audit entry.
func TestAReadAfterAWriteInATransactionSeesIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
			if err := db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES ('seen.1', 'Before', 'x', ?)`, time.Now()).Error; err != nil {
				return err
			}
			if err := db.Exec(`UPDATE users SET full_name = 'After' WHERE username = 'seen.1'`).Error; err != nil {
				return err
			}
			var full string
			if err := db.Raw(`SELECT full_name FROM users WHERE username = 'seen.1'`).Scan(&full).Error; err != nil {
				return err
			}
			if full != "After" {
				return fmt.Errorf("the read after the insert and the update saw %q, want After", full)
			}
			audit("user.create", "user", "seen.1")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(t, st)
	})
}
