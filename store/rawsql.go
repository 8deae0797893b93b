package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

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
	return t.db.Statement.ConnPool.QueryContext(t.db.Statement.Context, q.text(t.pg), args...)
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

// lockBag is the bag with bag id bagID, locked; found is false when no bag has that id.
func (t *tx) lockBag(bagID string) (bag doseBagRow, found bool, err error) {
	rows, err := t.queryRaw(lockBagQuery, bagID)
	if err != nil {
		return bag, false, fmt.Errorf("lock dose bag %s: %w", bagID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return bag, false, rows.Err()
	}
	if err := rows.Scan(&bag.ID, &bag.BagID, &bag.DoseOrderID, &bag.PatientID, &bag.LotID, &bag.ThawedAt,
		&bag.PostThawViabilityPct, &bag.ViableCells, &bag.VolumeML, &bag.VolumeToDrawML, &bag.ExpiresAt, &bag.Status,
		&bag.PreparedBy, &bag.PreparedAt); err != nil {
		return bag, false, fmt.Errorf("lock dose bag %s: %w", bagID, err)
	}
	return bag, true, rows.Close()
}

// insertReturningID runs an INSERT … RETURNING id (PostgreSQL, and SQLite since 3.35) in the
// transaction and returns the new row's id.
func (t *tx) insertReturningID(q sqlQuery, args ...any) (int64, error) {
	var id int64
	err := t.db.Statement.ConnPool.QueryRowContext(t.db.Statement.Context, q.text(t.pg), args...).Scan(&id)
	return id, err
}

var insertVerificationQuery = newSQLQuery(`INSERT INTO verifications (dose_bag_id, patient_id, wristband, code, code_kind,
	pass, checks, failed, nurse_id, witness_id, ward, verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)

var insertScanQuery = newSQLQuery(`INSERT INTO custody_scans (kind, dose_bag_id, code, code_kind, location, temperature_c,
	excursion, accepted, refusal, from_user, scanned_by, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
