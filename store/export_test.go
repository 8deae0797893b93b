package store

import (
	"context"

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

// WriteTogetherForTest is WriteForTest through writeTogether, the path of custody scans.
func (s *Store) WriteTogetherForTest(ctx context.Context, actor domain.Actor, fn func(db *gorm.DB, audit func(action, entityType, entityID string)) error) error {
	return s.writeTogether(ctx, actor, func(t *tx) error {
		return fn(t.db, func(action, entityType, entityID string) {
			t.audit(action, entityType, entityID, nil, nil, "")
		})
	})
}

// RunningTogether is how many transactions writeTogether runs at once at most.
const RunningTogether = maxRunningTogether

// RunningTogetherNow is how many transactions writeTogether is running.
func (s *Store) RunningTogetherNow() int {
	s.together.mu.Lock()
	defer s.together.mu.Unlock()
	return s.together.running
}

// WaitingTogether is how many writes wait for writeTogether's next transaction.
func (s *Store) WaitingTogether() int {
	s.together.mu.Lock()
	defer s.together.mu.Unlock()
	return len(s.together.waiting)
}

// Models lists every row type, for the schema test.
func Models() []any {
	return []any{&userRow{}, &userRoleRow{}, &sessionRow{}, &auditRow{},
		&dinSequenceRow{}, &donationRow{}, &specVersionRow{}, &lotRow{}, &qcResultRow{}, &qcInvestigationRow{}, &signatureRow{}, &unitRow{},
		&patientRow{}, &patientWeightRow{}, &doseOrderConfirmationRow{}, &labelKeyRow{}, &labelPrintRow{}, &labelPrintKeyRow{}, &loginFailureRow{},
		&doseOrderRow{}, &doseBagRow{}, &doseBagUnitRow{}, &infusionRow{},
		&custodyScanRow{}, &excursionDispositionRow{}, &verificationRow{}, &adverseEventRow{},
		&witnessTokenRow{}, &donorTestRow{}, &donorScreeningRow{}, &eligibilityDeterminationRow{}, &recallTaskRow{}, &recallNoticeRow{},
		&aeVersionRow{}, &safetyReportRow{}, &deviationRow{},
		&allocationListRow{}, &allocationRow{}, &assessmentRow{}, &outcomeRow{}}
}

// Gorm exposes the gorm handle to tests in this package.
func (s *Store) Gorm() *gorm.DB { return s.db }

// RecordAutomaticDeviation records d as the write that caused it would, for tests of the
// deviations other writes record (a missed assessment).
func (s *Store) RecordAutomaticDeviation(ctx context.Context, actor domain.Actor, d domain.NewDeviation) error {
	return s.write(ctx, actor, func(t *tx) error {
		_, err := t.recordDeviation(d, actor.UserID)
		return err
	})
}
