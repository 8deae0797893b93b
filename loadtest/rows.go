package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"cordtrace/migrations"
)

// table is rows waiting to be inserted into one table, in the order they were made.
type table struct {
	name string
	cols []string
	rows [][]any
}

// rowWriter buffers rows for many tables and inserts them in batches, one transaction per
// batch, tables in the order given so that a row's foreign keys are inserted before it (in the
// same batch or an earlier one).
type rowWriter struct {
	db      *sql.DB
	dialect string
	tables  []*table
	byName  map[string]*table
	pending int
	// consumed are units used up since the last batch; they were inserted available.
	consumed []int64
	written  int64
}

func newRowWriter(db *sql.DB, dialect string) *rowWriter {
	return &rowWriter{db: db, dialect: dialect, byName: map[string]*table{}}
}

// define adds a table; tables are inserted in the order they are defined.
func (w *rowWriter) define(name string, cols ...string) {
	t := &table{name: name, cols: cols}
	w.tables = append(w.tables, t)
	w.byName[name] = t
}

// add buffers one row of table name, its values in the order of its columns.
func (w *rowWriter) add(name string, vals ...any) {
	t := w.byName[name]
	if len(vals) != len(t.cols) {
		panic(fmt.Sprintf("%s: %d values for %d columns", name, len(vals), len(t.cols)))
	}
	t.rows = append(t.rows, vals)
	w.pending++
}

// maxParams bounds the parameters of one statement. Both databases take far more (65,535 and
// 32,766), but inserts ran fastest with a few thousand: against 30,000, three times as fast on
// SQLite and a third faster on PostgreSQL.
const maxParams = 2000

// flush inserts every buffered row in one transaction.
func (w *rowWriter) flush(ctx context.Context) error {
	if w.pending == 0 && len(w.consumed) == 0 {
		return nil
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range w.tables {
		per := max(1, maxParams/len(t.cols))
		for start := 0; start < len(t.rows); start += per {
			chunk := t.rows[start:min(len(t.rows), start+per)]
			if _, err := tx.ExecContext(ctx, w.insert(t, len(chunk)), flatten(chunk)...); err != nil {
				return fmt.Errorf("insert into %s: %w", t.name, err)
			}
		}
	}
	for start := 0; start < len(w.consumed); start += maxParams {
		ids := w.consumed[start:min(len(w.consumed), start+maxParams)]
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := "UPDATE units SET status = 'consumed' WHERE id IN (" + w.placeholders(0, len(ids)) + ")"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("mark units consumed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, t := range w.tables {
		t.rows = t.rows[:0]
	}
	w.written += int64(w.pending)
	w.pending, w.consumed = 0, w.consumed[:0]
	return nil
}

func (w *rowWriter) insert(t *table, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + w.placeholders(r*len(t.cols), len(t.cols)) + ")")
	}
	return b.String()
}

// placeholders are n parameters numbered from first+1: $1, $2 … on PostgreSQL, ? on SQLite.
func (w *rowWriter) placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if w.dialect == migrations.Postgres {
			b.WriteString("$" + strconv.Itoa(first+i+1))
		} else {
			b.WriteString("?")
		}
	}
	return b.String()
}

func flatten(rows [][]any) []any {
	out := make([]any, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
