package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// BenchmarkVerifyAudit runs `audit verify` (the store's streaming VerifyAudit) over a PostgreSQL
// table of a million entries, or CORDTRACE_BENCH_AUDIT_ENTRIES. Loading the table (COPY) is
// not timed. Run: go test -run '^$' -bench VerifyAudit -benchtime 1x ./store (PostgreSQL env).
func BenchmarkVerifyAudit(b *testing.B) {
	if os.Getenv(storetest.EnvDatabaseURL) == "" {
		b.Skip("needs PostgreSQL: set " + storetest.EnvDatabaseURL)
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("CORDTRACE_BENCH_AUDIT_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
		ctx := context.Background()
		st := storetest.Open(b, storetest.Postgres, store.Options{})
		total := fillAudit(b, st.SQLDB(), n)
		b.ResetTimer()
		for b.Loop() {
			r, err := st.VerifyAudit(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !r.OK || r.Entries != total {
				b.Fatalf("report %+v, want %d entries, OK", r, total)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(total), "ns/entry")
	})
}

// fillAudit appends n sealed entries to the chain with COPY and returns the chain's length.
func fillAudit(b *testing.B, db *sql.DB, n int) int64 {
	ctx := context.Background()
	var prev *domain.AuditEntry
	var head struct {
		seq  sql.NullInt64
		hash sql.NullString
	}
	if err := db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1").Scan(&head.seq, &head.hash); err == nil {
		prev = &domain.AuditEntry{Seq: head.seq.Int64, Hash: head.hash.String}
	} else if err != sql.ErrNoRows {
		b.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, 0, n)
	for i := range n {
		e := domain.AuditEntry{At: start.Add(time.Duration(i) * time.Millisecond), UserName: "Load", Role: domain.RoleNurse,
			Action: "custody.scan", EntityType: "custody_scan", EntityID: strconv.Itoa(i + 1),
			After: `{"kind":"dispatch","accepted":true}`, RequestID: "bench"}
		e.Seal(prev)
		prev = &e
		rows = append(rows, []any{e.Seq, e.At, nil, e.UserName, string(e.Role), e.Action, e.EntityType, e.EntityID,
			e.Before, e.After, e.Reason, e.RequestID, e.PrevHash, e.Hash})
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		_, err := pc.CopyFrom(ctx, pgx.Identifier{"audit_entries"}, []string{"seq", "at", "user_id", "user_name", "role", "action",
			"entity_type", "entity_id", "before_value", "after_value", "reason", "request_id", "prev_hash", "hash"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return prev.Seq
}
