package store

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"cordtrace/domain"
)

// WriteForTest exposes the write path so that tests can check its guarantees directly.
func (s *Store) WriteForTest(ctx context.Context, actor domain.Actor, fn func(db *gorm.DB, audit func(action, entityType, entityID string)) error) error {
	return s.write(ctx, actor, func(t *tx) error {
		return fn(t.db, func(action, entityType, entityID string) {
			t.audit(action, entityType, entityID, nil, nil, "")
		})
	})
}

// Models lists every row type, for the schema test.
func Models() []any {
	return []any{&userRow{}, &userRoleRow{}, &sessionRow{}, &auditRow{},
		&dinSequenceRow{}, &donationRow{}, &specVersionRow{}, &lotRow{}, &qcResultRow{}, &qcInvestigationRow{}, &signatureRow{}, &unitRow{},
		&patientRow{}, &patientWeightRow{}, &doseOrderConfirmationRow{}, &labelKeyRow{}, &labelPrintRow{}, &loginFailureRow{},
		&doseOrderRow{}, &doseBagRow{}, &doseBagUnitRow{}, &infusionRow{},
		&custodyScanRow{}, &excursionDispositionRow{}, &verificationRow{}, &adverseEventRow{},
		&witnessTokenRow{}}
}

// Gorm exposes the gorm handle to tests in this package.
func (s *Store) Gorm() *gorm.DB { return s.db }

// WriteAtEndForTest is a write that inserts a user named name and runs query with
// execAtEnd, for tests of statements sent with the COMMIT.
func (s *Store) WriteAtEndForTest(ctx context.Context, actor domain.Actor, name, query string, args ...any) error {
	return s.write(ctx, actor, func(t *tx) error {
		if err := t.db.Exec(`INSERT INTO users (username, full_name, password_hash, created_at) VALUES (?, 'F', 'x', ?)`, name, t.now).Error; err != nil {
			return err
		}
		t.audit("user.create", "user", name, nil, nil, "")
		return t.execAtEnd(newSQLQuery(query), args...)
	})
}

// SessionCacheState is what the store keeps of sessions in memory (sessionCache).
type SessionCacheState struct {
	Live       bool
	Generation uint64
	Sessions   int
}

// SessionCacheForTest reports the session cache's state.
func (s *Store) SessionCacheForTest() SessionCacheState {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	return SessionCacheState{Live: s.sessions.live, Generation: s.sessions.gen, Sessions: len(s.sessions.entries)}
}

// HoldNoticesForTest makes the store's listener wait before it acts on a notice, until
// release is called, so that a test can tell what the store does without notices.
func (s *Store) HoldNoticesForTest() (release func()) {
	held := make(chan struct{})
	s.sessions.mu.Lock()
	s.sessions.held = held
	s.sessions.mu.Unlock()
	return func() {
		s.sessions.mu.Lock()
		s.sessions.held = nil
		s.sessions.mu.Unlock()
		close(held)
	}
}

// HoldGroupsForTest keeps the group writers from taking writes (writeBag) until release, so
// that the writes started meanwhile are written as groups of a test's choosing; queued tells
// how many wait. PostgreSQL only.
func (s *Store) HoldGroupsForTest() (queued func() int, release func()) {
	g := s.groups
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
	queued = func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue)
	}
	release = func() {
		g.mu.Lock()
		g.held = false
		g.arrived.Broadcast()
		g.mu.Unlock()
	}
	return queued, release
}

// BagWriteForTest is a write of the group path (writeBag) whose work is fn, on the
// transaction's handle.
func (s *Store) BagWriteForTest(ctx context.Context, actor domain.Actor, bagID string, fn func(db *gorm.DB, audit func(action, entityType, entityID string)) error) error {
	return s.writeBag(ctx, actor, bagID, nil, func(t *tx) error {
		return fn(t.db, func(action, entityType, entityID string) {
			t.audit(action, entityType, entityID, nil, nil, "")
		})
	})
}

// GroupWritersStartedForTest tells whether the group writers were started. PostgreSQL only.
func (s *Store) GroupWritersStartedForTest() bool {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	return s.groups.started
}

// connForTest is a connection of the pool for a test that changes its settings or prepared
// statements; discard closes it instead of handing it back.
func (s *Store) connForTest(ctx context.Context) (conn *sql.Conn, discard func(), err error) {
	if conn, err = s.sqlDB.Conn(ctx); err != nil {
		return nil, nil, err
	}
	return conn, func() {
		_ = conn.Raw(func(driverConn any) error { return driverConn.(*stdlib.Conn).Close() })
		_ = conn.Close()
	}, nil
}

// LockBagsTogetherForTest makes a group's bag locks (lockBagsTogether) for bagIDs times over on
// one connection, each in a transaction rolled back, as a group's BEGIN makes them (with
// readsTogether). It returns the bag ids in the order the last run locked their rows, and how
// many of the runs PostgreSQL planned for their own arrays (custom) or ran the statement's
// generic plan. With seqScan, the connection reads tables in their stored order, as PostgreSQL
// may choose to. PostgreSQL only.
func (s *Store) LockBagsTogetherForTest(ctx context.Context, bagIDs []string, times int, seqScan bool) (order []string, custom, generic int64, err error) {
	conn, discard, err := s.connForTest(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	defer discard()
	if seqScan {
		if _, err := conn.ExecContext(ctx, "SET enable_indexscan = off; SET enable_bitmapscan = off"); err != nil {
			return nil, 0, 0, err
		}
	}
	for range times {
		order = order[:0]
		var reads []rowReader
		for _, id := range bagIDs {
			var bag doseBagRow
			var found bool
			r := lockBag(id, &bag, &found)
			read := r.row
			r.row = func(scan func(...any) error) error {
				err := read(scan)
				order = append(order, bag.BagID)
				return err
			}
			reads = append(reads, r)
		}
		if err := beginWithReads(ctx, conn, readsTogether(reads)); err != nil {
			return nil, 0, 0, err
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			return nil, 0, 0, err
		}
	}
	err = conn.QueryRowContext(ctx, `SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1`,
		lockBagsTogether.sql).Scan(&custom, &generic)
	return order, custom, generic, err
}

// GroupFactsPlansForTest returns PostgreSQL's plan (EXPLAIN, JSON) of each facts query of a
// group whose members are the bags bagIDs at the bedsides of mrns (bagIDs[i] at mrns[i]),
// built as readsTogether builds them: the bedside facts and the custody scans' facts, by name.
// Nested loops are priced out (enable_nestloop off), as larger tables would price them for a
// planner free to choose: only a query that must run per member then keeps one.
func (s *Store) GroupFactsPlansForTest(ctx context.Context, mrns, bagIDs []string) (map[string]string, error) {
	conn, discard, err := s.connForTest(ctx)
	if err != nil {
		return nil, err
	}
	defer discard()
	if _, err := conn.ExecContext(ctx, "SET enable_nestloop = off"); err != nil {
		return nil, err
	}
	var bedside []bedsideFactsRow
	var scan scanFacts
	var found bool
	var reads []rowReader
	for i := range bagIDs {
		reads = append(reads, readBedsideFacts(mrns[i], bagIDs[i], "", &bedside), readScanFacts(bagIDs[i], &scan, &found))
	}
	names := map[string]string{bedsideFactsTogether.sql: "bedside facts", scanFactsTogether.sql: "scan facts"}
	plans := map[string]string{}
	for _, r := range readsTogether(reads) {
		name, ok := names[r.q.postgres]
		if !ok {
			continue // genericPlans
		}
		var plan string
		if err := conn.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+r.q.postgres, r.args...).Scan(&plan); err != nil {
			return nil, err
		}
		plans[name] = plan
	}
	return plans, nil
}
