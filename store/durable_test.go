package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"cordtrace/store"
	"cordtrace/store/storetest"
)

// On PostgreSQL a write commits without waiting for the disk and waits afterwards, outside the
// audit lock (store.durable). This checks the wait: when a write returns, the WAL is flushed
// past its commit. Without the wait the WAL writer flushes up to 200 ms later, so some of these
// writes would return unflushed.
func TestAcknowledgedWritesAreOnDisk(t *testing.T) {
	if len(storetest.Backends(t)) < 2 {
		t.Skip("PostgreSQL only: set CORDTRACE_TEST_DATABASE_URL")
	}
	st := storetest.Open(t, storetest.Postgres, store.Options{})
	ctx := context.Background()
	for i := range 30 {
		var before string
		err := st.WriteForTest(ctx, admin, func(db *gorm.DB, audit func(string, string, string)) error {
			name := fmt.Sprintf("durable%d", i)
			if err := db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'D', 'x', ?)`, name, time.Now()).Error; err != nil {
				return err
			}
			audit("user.create", "user", name)
			// The commit record goes into the WAL after this point.
			return db.Raw(`SELECT pg_current_wal_insert_lsn()::text`).Scan(&before).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		var flushed bool
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn`, before).Scan(&flushed); err != nil {
			t.Fatal(err)
		}
		if !flushed {
			t.Fatalf("write %d returned before its commit was on disk", i)
		}
	}
}

// audit_chain_head makes the transaction that appends to the chain commit asynchronously (the
// wait for the disk comes after, see above), and only that transaction: the connection's own
// setting, used by the wait, stays on.
func TestAuditChainHeadCommitsAsynchronouslyForItsTransactionOnly(t *testing.T) {
	if len(storetest.Backends(t)) < 2 {
		t.Skip("PostgreSQL only: set CORDTRACE_TEST_DATABASE_URL")
	}
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
		t.Fatalf("before the audit head: synchronous_commit = %s, want on", got)
	}
	if _, err := conn.ExecContext(ctx, `SELECT * FROM audit_chain_head(1)`); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "off" {
		t.Fatalf("after the audit head: synchronous_commit = %s, want off", got)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if got := show(); got != "on" {
		t.Fatalf("after the commit: synchronous_commit = %s, want on", got)
	}
}
