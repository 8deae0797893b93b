package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
	"cordtrace/migrations"
)

// sqlQuery is a query of the hottest paths (session check, bedside and custody facts), run
// with database/sql and scanned into plain variables instead of through gorm, whose
// reflection-based scanning was a quarter of a verification's CPU. It is written once with ?
// placeholders and kept also in PostgreSQL's $n form; the text must hold no other '?'.
type sqlQuery struct {
	sqlite, postgres string
	// many, when set, is the same statement for many rows (PostgreSQL), for execAtEnd in a
	// group of writes (writeTogether).
	many *manyRows
}

// manyRows is a statement of one row, such as an INSERT of a row or an UPDATE of a row by its
// id, for many rows at once: its $1, $2… are arrays holding, in turn, each row's value of the
// one-row statement's $1, $2… A group of writes runs each such statement of its writes once,
// instead of once a write; its text, and so PostgreSQL's prepared statement, is the same for
// any number of rows (a statement of many VALUES was prepared again for each number, which
// made short runs slower).
type manyRows struct {
	sql string
}

// mergeRows replaces the statements of the same manyRows by one, where the first of them was.
func mergeRows(atEnd []endStatement) []endStatement {
	out, slot, members := gather(atEnd, func(st endStatement) (*manyRows, bool) { return st.many, st.many != nil })
	for m, i := range slot {
		rows := make([][]any, len(members[m]))
		for r, st := range members[m] {
			rows[r] = st.args
		}
		var args []any
		for _, column := range columns(rows) {
			args = append(args, column)
		}
		out[i] = endStatement{sql: m.sql, args: args, many: m}
	}
	return out
}

// gather keeps items in order, except that the items with the same key take one slot, where
// the first of them was: out holds a zero item in each slot, slot says where each key's slot
// is and members holds each key's items in order. Items without a key (ok false) stay.
func gather[T any, K comparable](items []T, key func(T) (k K, ok bool)) (out []T, slot map[K]int, members map[K][]T) {
	slot, members = make(map[K]int), make(map[K][]T)
	for _, it := range items {
		k, ok := key(it)
		if !ok {
			out = append(out, it)
			continue
		}
		if _, seen := slot[k]; !seen {
			slot[k] = len(out)
			var zero T
			out = append(out, zero)
		}
		members[k] = append(members[k], it)
	}
	return out, slot, members
}

// columns turns rows of values, each as long as the first, into columns: column c holds each
// row's value c in turn.
func columns[T any](rows [][]T) [][]T {
	cs := make([][]T, len(rows[0]))
	for c := range cs {
		cs[c] = make([]T, len(rows))
		for r, row := range rows {
			cs[c][r] = row[c]
		}
	}
	return cs
}

func newSQLQuery(q string) sqlQuery {
	return sqlQuery{sqlite: q, postgres: dollarPlaceholders(q, 1)}
}

// writingMany is q that a group of writes runs once for all its rows as m.
func (q sqlQuery) writingMany(m *manyRows) sqlQuery {
	q.many = m
	return q
}

// dollarPlaceholders numbers q's ? placeholders $first, $first+1…
func dollarPlaceholders(q string, first int) string {
	var b strings.Builder
	n := first
	for _, r := range q {
		if r == '?' {
			b.WriteString("$" + strconv.Itoa(n))
			n++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (q sqlQuery) text(pg bool) string {
	if pg {
		return q.postgres
	}
	return q.sqlite
}

// queryRaw runs q on the store's pool, outside any transaction.
func (s *Store) queryRaw(ctx context.Context, q sqlQuery, args ...any) (*sql.Rows, error) {
	return s.sqlDB.QueryContext(ctx, q.text(s.pg()), args...)
}

func (s *Store) pg() bool { return s.dialect == migrations.Postgres }

// queryRaw runs q inside the transaction, on its connection.
func (t *tx) queryRaw(q sqlQuery, args ...any) (*sql.Rows, error) {
	return t.db.Statement.ConnPool.QueryContext(t.db.Statement.Context, q.text(t.pipeline), args...)
}

var _ gorm.ConnPool = (*sql.Conn)(nil)

// lockBagQuery reads a dose bag by its bag id and locks its row until the transaction ends
// (PostgreSQL; SQLite's writers are serialized by the database lock taken at BEGIN IMMEDIATE).
var lockBagQuery = sqlQuery{
	sqlite:   `SELECT ` + doseBagColumns + ` FROM dose_bags WHERE bag_id = ?`,
	postgres: `SELECT ` + doseBagColumns + ` FROM dose_bags WHERE bag_id = $1 FOR UPDATE`,
}

const doseBagColumns = `id, bag_id, dose_order_id, patient_id, lot_id, thawed_at, post_thaw_viability_pct, viable_cells,
	volume_ml, volume_to_draw_ml, expires_at, status, prepared_by, prepared_at, checked_by, checked_at`

// lockBagsTogether is lockBagQuery for a group's bags (readTogether), locked in the order of
// their ids, so that groups written at once cannot deadlock.
var lockBagsTogether = &readTogether{sql: `SELECT ($1::int[])[array_position($2::text[], bag_id)], ` + doseBagColumns + `
	FROM dose_bags WHERE bag_id = ANY ($2::text[]) ORDER BY bag_id FOR UPDATE`}

// lockBag reads the bag with bag id bagID into bag and locks it; found stays false when no bag
// has that id.
func lockBag(bagID string, bag *doseBagRow, found *bool) rowReader {
	*bag, *found = doseBagRow{}, false
	return rowReader{q: lockBagQuery, args: []any{bagID}, together: lockBagsTogether, each: []string{bagID}, row: func(scan func(...any) error) error {
		var checkedBy sql.NullInt64
		var checkedAt sql.NullTime
		if err := scan(&bag.ID, &bag.BagID, &bag.DoseOrderID, &bag.PatientID, &bag.LotID, &bag.ThawedAt,
			&bag.PostThawViabilityPct, &bag.ViableCells, &bag.VolumeML, &bag.VolumeToDrawML, &bag.ExpiresAt, &bag.Status,
			&bag.PreparedBy, &bag.PreparedAt, &checkedBy, &checkedAt); err != nil {
			return fmt.Errorf("lock dose bag %s: %w", bagID, err)
		}
		if checkedBy.Valid {
			bag.CheckedBy = &checkedBy.Int64
		}
		if checkedAt.Valid {
			bag.CheckedAt = &checkedAt.Time
		}
		*found = true
		return nil
	}}
}

// insertReturningID runs an INSERT … RETURNING id (PostgreSQL, and SQLite since 3.35) in the
// transaction and returns the new row's id.
func (t *tx) insertReturningID(q sqlQuery, args ...any) (int64, error) {
	var id int64
	err := t.db.Statement.ConnPool.QueryRowContext(t.db.Statement.Context, q.text(t.pipeline), args...).Scan(&id)
	return id, err
}

// setBagStatusQuery moves a locked dose bag to a new status (execAtEnd).
var setBagStatusQuery = newSQLQuery(`UPDATE dose_bags SET status = ? WHERE id = ?`).writingMany(&manyRows{
	sql: `UPDATE dose_bags SET status = v.status FROM unnest($1::text[], $2::bigint[]) AS v(status, id) WHERE dose_bags.id = v.id`})

var insertVerificationQuery = newInsertQuery("verifications", `dose_bag_id bigint, patient_id bigint, wristband text,
	code text, code_kind text, pass boolean, checks text, failed text, nurse_id bigint, witness_id bigint, ward text,
	verified_at timestamptz, wristband_entry text, code_entry text, witness_token_id bigint, entry_reason text,
	entry_reason_text text`)

var insertScanQuery = newInsertQuery("custody_scans", `kind text, dose_bag_id bigint, code text, code_kind text,
	location text, temperature_c float8, excursion boolean, accepted boolean, refusal text, from_user bigint,
	scanned_by bigint, scanned_at timestamptz, entry text`)

// lockByID reads the row with primary key id into dest and locks it until the transaction
// ends; no such row is ENotFound, naming it as what ("dose bag", "unit").
func (t *tx) lockByID(dest any, id int64, what string) error {
	err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(dest, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Errorf(domain.ENotFound, "there is no %s %d", what, id)
	}
	return err
}

// setStatus moves the row with primary key id of model's table (locked by lockByID) from
// status from to status to, and audits the change as action on entityType, with the reason
// (trimmed) that a person gave for it.
func (t *tx) setStatus(model any, entityType string, id int64, from, to, action, reason string) error {
	if err := t.db.Model(model).Where("id = ?", id).Update("status", to).Error; err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	t.audit(action, entityType, id, map[string]any{"status": from}, map[string]any{"status": to}, strings.TrimSpace(reason))
	return nil
}

// rowReader is a query whose rows are each handed to row, for writeAfterReads.
type rowReader struct {
	q    sqlQuery
	args []any
	row  func(scan func(dest ...any) error) error
	// together, when set, is the same read made for every write of a group at once, in one
	// statement (writeTogether); each is this write's values for it.
	together *readTogether
	each     []string
}

// readTogether is a read made for several writes in one statement (PostgreSQL): a group of
// writes starts PostgreSQL's executor once for it instead of once a write. Its statement takes
// the writes' ordinals as $1 (int[]), then one text[] for each of a write's values
// (rowReader.each), holding that value of every write in turn, then shared. Its first column
// is the ordinal of the write a row is for; the others are those of the write's own read.
// A write's own query joined LATERAL to the arrays keeps OFFSET 0, which keeps PostgreSQL
// from planning it as a join (a hash join reads all of a table that is small today) instead
// of the write's own lookups, each in turn.
type readTogether struct {
	sql    string
	shared []any
}

// readsTogether replaces the reads that have a readTogether by one read each, made where the
// first of them was (the writes' reads must keep the same order among themselves), after
// genericPlans.
func readsTogether(reads []rowReader) []rowReader {
	out, slot, members := gather(reads, func(r rowReader) (*readTogether, bool) { return r.together, r.together != nil })
	for rt, i := range slot {
		rs := rowsByOrdinal(members[rt])
		ordinals := make([]int32, len(rs))
		values := make([][]string, len(rs))
		for n, r := range rs {
			ordinals[n], values[n] = int32(n), r.each
		}
		args := []any{ordinals}
		for _, column := range columns(values) {
			args = append(args, column)
		}
		out[i] = rowReader{q: sqlQuery{postgres: rt.sql}, args: append(args, rt.shared...),
			row: func(scan func(...any) error) error { return scan(rs) }}
	}
	return append([]rowReader{genericPlans}, out...)
}

// genericPlans makes the transaction's prepared statements run their generic plans. Left to
// itself, PostgreSQL plans a readTogether again at each run: a plan for the run's own arrays
// is estimated cheaper than the generic one, which assumes arrays of 10, and planning a
// group's facts cost more than reading them.
var genericPlans = rowReader{q: sqlQuery{postgres: "SET LOCAL plan_cache_mode = force_generic_plan"}}

// rowsByOrdinal hands each row of a readTogether to the read of the write it is for (pgx
// scans a row into a pgx.RowScanner given alone).
type rowsByOrdinal []rowReader

func (rs rowsByOrdinal) ScanRow(rows pgx.Rows) error {
	dest := make([]any, len(rows.FieldDescriptions()))
	var n int32
	dest[0] = &n
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	if n < 0 || int(n) >= len(rs) {
		return fmt.Errorf("a read made together returned a row for write %d of %d", n, len(rs))
	}
	return rs[n].row(func(dest ...any) error { return rows.Scan(append([]any{nil}, dest...)...) })
}

// readRows runs r inside the transaction, on its connection.
func (t *tx) readRows(r rowReader) error {
	rows, err := t.queryRaw(r.q, r.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := r.row(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// beginWithReads sends BEGIN and the reads in one pipelined round trip on conn, and hands
// each read's rows to it in order. The pipeline stops at the first error.
func beginWithReads(ctx context.Context, conn *sql.Conn, reads []rowReader) error {
	if len(reads) == 0 {
		_, err := conn.ExecContext(ctx, "BEGIN")
		return err
	}
	return conn.Raw(func(driverConn any) error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		for _, r := range reads {
			b.Queue(r.q.postgres, r.args...)
		}
		br := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, r := range reads {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				if err := r.row(rows.Scan); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return br.Close()
	})
}

// reserveID reads the next value of the sequence of a table's BIGSERIAL id into id, so that a
// row can be inserted with its id known before the commit (insertRow). PostgreSQL only.
func (q insertQuery) reserveID(id *int64) rowReader {
	*id = 0
	return rowReader{q: sqlQuery{postgres: `SELECT nextval('` + q.table + `_id_seq')`}, together: q.reserveIDs,
		row: func(scan func(...any) error) error { return scan(id) }}
}

// insertQuery is an INSERT of a row with a BIGSERIAL id: returning ends in RETURNING id, and
// withID names id as its first column; reserveIDs is reserveID for a group.
type insertQuery struct {
	table      string
	returning  sqlQuery
	withID     sqlQuery
	reserveIDs *readTogether
}

// newInsertQuery is the insertQuery of table's columns, each given with its type ("name type,
// name type…").
func newInsertQuery(table, columnsWithTypes string) insertQuery {
	var names, arrays []string
	for i, c := range strings.Split(columnsWithTypes, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(c), " ")
		names = append(names, name)
		arrays = append(arrays, "$"+strconv.Itoa(i+2)+"::"+typ+"[]")
	}
	columns := strings.Join(names, ", ")
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	return insertQuery{
		table:     table,
		returning: newSQLQuery(`INSERT INTO ` + table + ` (` + columns + `) VALUES (` + ph + `) RETURNING id`),
		withID: newSQLQuery(`INSERT INTO ` + table + ` (id, ` + columns + `) VALUES (?, ` + ph + `)`).writingMany(&manyRows{
			sql: `INSERT INTO ` + table + ` (id, ` + columns + `) SELECT * FROM unnest($1::bigint[], ` + strings.Join(arrays, ", ") + `)`}),
		reserveIDs: &readTogether{sql: `SELECT n, nextval('` + table + `_id_seq') FROM unnest($1::int[]) AS n`},
	}
}

// insertRow inserts a row and returns its id. On PostgreSQL the id is reservedID (reserveID,
// read with the transaction's first statements) and the INSERT goes with the COMMIT
// (execAtEnd), so it costs no round trip of its own; elsewhere it runs at once.
func (t *tx) insertRow(q insertQuery, reservedID int64, args ...any) (int64, error) {
	if !t.pipeline {
		return t.insertReturningID(q.returning, args...)
	}
	if reservedID == 0 {
		return 0, errors.New("insert: no id was reserved for this row")
	}
	return reservedID, t.execAtEnd(q.withID, append([]any{reservedID}, args...)...)
}
