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
}

func newSQLQuery(q string) sqlQuery {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return sqlQuery{sqlite: q, postgres: b.String()}
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
	volume_ml, volume_to_draw_ml, expires_at, status, prepared_by, prepared_at`

// lockBag reads the bag with bag id bagID into bag and locks it; found stays false when no bag
// has that id.
func lockBag(bagID string, bag *doseBagRow, found *bool) rowReader {
	*bag, *found = doseBagRow{}, false
	return rowReader{q: lockBagQuery, args: []any{bagID}, row: func(scan func(...any) error) error {
		if err := scan(&bag.ID, &bag.BagID, &bag.DoseOrderID, &bag.PatientID, &bag.LotID, &bag.ThawedAt,
			&bag.PostThawViabilityPct, &bag.ViableCells, &bag.VolumeML, &bag.VolumeToDrawML, &bag.ExpiresAt, &bag.Status,
			&bag.PreparedBy, &bag.PreparedAt); err != nil {
			return fmt.Errorf("lock dose bag %s: %w", bagID, err)
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
var setBagStatusQuery = newSQLQuery(`UPDATE dose_bags SET status = ? WHERE id = ?`)

var insertVerificationQuery = newInsertQuery("verifications", `dose_bag_id, patient_id, wristband, code, code_kind,
	pass, checks, failed, nurse_id, witness_id, ward, verified_at, wristband_entry, code_entry`)

var insertScanQuery = newInsertQuery("custody_scans", `kind, dose_bag_id, code, code_kind, location, temperature_c,
	excursion, accepted, refusal, from_user, scanned_by, scanned_at, entry`)

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
	return rowReader{q: sqlQuery{postgres: `SELECT nextval('` + q.table + `_id_seq')`},
		row: func(scan func(...any) error) error { return scan(id) }}
}

// insertQuery is an INSERT of a row with a BIGSERIAL id: returning ends in RETURNING id, and
// withID names id as its first column.
type insertQuery struct {
	table     string
	returning sqlQuery
	withID    sqlQuery
}

func newInsertQuery(table, columns string) insertQuery {
	n := strings.Count(columns, ",") + 1
	ph := strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	return insertQuery{
		table:     table,
		returning: newSQLQuery(`INSERT INTO ` + table + ` (` + columns + `) VALUES (` + ph + `) RETURNING id`),
		withID:    newSQLQuery(`INSERT INTO ` + table + ` (id, ` + columns + `) VALUES (?, ` + ph + `)`),
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
