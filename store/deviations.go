package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"cordtrace/domain"
)

type deviationRow struct {
	ID               int64 `gorm:"primaryKey"`
	PatientID        *int64
	Category         string
	Description      string
	CorrectiveAction string
	Cause            *string
	EntityType       *string
	EntityID         *int64
	RecordedBy       int64
	RecordedAt       time.Time
	SignedBy         *int64
	PrintedName      string
	Meaning          string
	SignReason       string
	SignedAt         *time.Time
}

func (deviationRow) TableName() string { return "protocol_deviations" }

func (r deviationRow) toDomain() domain.Deviation {
	d := domain.Deviation{ID: r.ID, NewDeviation: domain.NewDeviation{Category: r.Category, Description: r.Description,
		CorrectiveAction: r.CorrectiveAction}, RecordedBy: r.RecordedBy, RecordedAt: r.RecordedAt.UTC(),
		PrintedName: r.PrintedName, Meaning: r.Meaning, SignReason: r.SignReason}
	if r.PatientID != nil {
		d.PatientID = *r.PatientID
	}
	if r.Cause != nil && r.EntityType != nil && r.EntityID != nil {
		d.Trigger, d.EntityType, d.EntityID = *r.Cause, *r.EntityType, *r.EntityID
	}
	if r.SignedBy != nil {
		d.SignedBy = *r.SignedBy
	}
	if r.SignedAt != nil {
		at := r.SignedAt.UTC()
		d.SignedAt = &at
	}
	return d
}

// recordDeviation records d in the transaction of the record that caused it (or of the person
// who recorded it by hand), audited there. An automatic deviation is recorded once per record
// that caused it: a second call for the same record does nothing. It is the one way deviations
// are written; the follow-up schedule calls it with domain.MissedAssessmentDeviation.
func (t *tx) recordDeviation(d domain.NewDeviation, recordedBy int64) (domain.Deviation, error) {
	d.Description, d.CorrectiveAction = strings.TrimSpace(d.Description), strings.TrimSpace(d.CorrectiveAction)
	if err := d.Validate(); err != nil {
		return domain.Deviation{}, err
	}
	row := deviationRow{Category: d.Category, Description: d.Description, CorrectiveAction: d.CorrectiveAction,
		RecordedBy: recordedBy, RecordedAt: t.now}
	if d.PatientID != 0 {
		if _, err := patientByID(t.db, d.PatientID); err != nil {
			return domain.Deviation{}, domain.FieldError("patient_id", "there is no patient with id %d", d.PatientID)
		}
		row.PatientID = &d.PatientID
	}
	if d.Trigger != "" {
		var n int64
		if err := t.db.Model(&deviationRow{}).Where("cause = ? AND entity_type = ? AND entity_id = ?", d.Trigger, d.EntityType, d.EntityID).
			Count(&n).Error; err != nil {
			return domain.Deviation{}, err
		}
		if n > 0 {
			return domain.Deviation{}, nil
		}
		row.Cause, row.EntityType, row.EntityID = &d.Trigger, &d.EntityType, &d.EntityID
	}
	if err := t.db.Create(&row).Error; err != nil {
		return domain.Deviation{}, fmt.Errorf("record deviation: %w", err)
	}
	out := row.toDomain()
	t.audit("deviation.record", "protocol_deviation", row.ID, nil, out, "")
	return out, nil
}

// RecordDeviation records a deviation by hand.
func (s *Store) RecordDeviation(ctx context.Context, actor domain.Actor, d domain.NewDeviation) (domain.Deviation, error) {
	d.Trigger, d.EntityType, d.EntityID = "", "", 0
	var out domain.Deviation
	err := s.write(ctx, actor, func(t *tx) error {
		var err error
		out, err = t.recordDeviation(d, actor.UserID)
		return err
	})
	if err != nil {
		return out, err
	}
	return s.deviation(ctx, out.ID)
}

// SetCorrectiveAction records the corrective action of a deviation not yet signed off.
func (s *Store) SetCorrectiveAction(ctx context.Context, actor domain.Actor, id int64, action string) (domain.Deviation, error) {
	err := s.write(ctx, actor, func(t *tx) error {
		var row deviationRow
		if err := t.lockByID(&row, id, "deviation"); err != nil {
			return err
		}
		before := row.toDomain()
		if err := domain.CheckCorrectiveAction(before, action); err != nil {
			return err
		}
		action = strings.TrimSpace(action)
		if err := t.db.Model(&deviationRow{}).Where("id = ?", row.ID).Update("corrective_action", action).Error; err != nil {
			return fmt.Errorf("record corrective action: %w", err)
		}
		t.audit("deviation.corrective_action", "protocol_deviation", row.ID,
			map[string]any{"corrective_action": before.CorrectiveAction}, map[string]any{"corrective_action": action}, "")
		return nil
	})
	if err != nil {
		return domain.Deviation{}, err
	}
	return s.deviation(ctx, id)
}

// SignDeviation is the physician's sign-off: the password re-entered, printed name, meaning,
// reason and time.
func (s *Store) SignDeviation(ctx context.Context, actor domain.Actor, id int64, password, reason string) (domain.Deviation, error) {
	if strings.TrimSpace(reason) == "" {
		return domain.Deviation{}, domain.FieldError("reason", "give the reason for your signature (at most 500 characters)")
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.Deviation{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		var row deviationRow
		if err := t.lockByID(&row, id, "deviation"); err != nil {
			return err
		}
		before := row.toDomain()
		if err := domain.CheckDeviationSignOff(before, reason); err != nil {
			return err
		}
		now := t.now
		meaning := fmt.Sprintf("Protocol deviation %d reviewed and signed off by the investigator, with its corrective action", row.ID)
		if err := t.db.Model(&deviationRow{}).Where("id = ? AND signed_at IS NULL", row.ID).Updates(map[string]any{
			"signed_by": actor.UserID, "printed_name": actor.FullName, "meaning": meaning, "sign_reason": strings.TrimSpace(reason), "signed_at": now,
		}).Error; err != nil {
			return fmt.Errorf("sign deviation: %w", err)
		}
		row.SignedBy, row.PrintedName, row.Meaning, row.SignReason, row.SignedAt = &actor.UserID, actor.FullName, meaning, strings.TrimSpace(reason), &now
		t.audit("deviation.sign", "protocol_deviation", row.ID, before, row.toDomain(), row.SignReason)
		return nil
	})
	if err != nil {
		return domain.Deviation{}, err
	}
	return s.deviation(ctx, id)
}

// Deviations lists deviations, newest first, with their patients' subject ids and the names of
// those who recorded them.
func (s *Store) Deviations(ctx context.Context, f domain.DeviationFilter) ([]domain.Deviation, error) {
	return s.deviations(s.read(ctx), f, 0)
}

func (s *Store) deviation(ctx context.Context, id int64) (domain.Deviation, error) {
	list, err := s.deviations(s.read(ctx), domain.DeviationFilter{}, id)
	if err != nil {
		return domain.Deviation{}, err
	}
	if len(list) == 0 {
		return domain.Deviation{}, domain.Errorf(domain.ENotFound, "there is no deviation %d", id)
	}
	return list[0], nil
}

func (s *Store) deviations(db *gorm.DB, f domain.DeviationFilter, id int64) ([]domain.Deviation, error) {
	q := db.Order("id DESC").Limit(500)
	if f.Open {
		q = q.Where("signed_at IS NULL")
	}
	if id != 0 {
		q = q.Where("id = ?", id)
	}
	var rows []deviationRow
	if err := q.Find(&rows).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, classify(fmt.Errorf("list deviations: %w", err))
	}
	names, err := userNames(db)
	if err != nil {
		return nil, classify(err)
	}
	var pids []int64
	for _, r := range rows {
		if r.PatientID != nil {
			pids = append(pids, *r.PatientID)
		}
	}
	subjects := map[int64]string{}
	if len(pids) > 0 {
		var ps []patientRow
		if err := db.Select("id, subject_id").Where("id IN ?", pids).Find(&ps).Error; err != nil {
			return nil, classify(err)
		}
		for _, p := range ps {
			subjects[p.ID] = p.SubjectID
		}
	}
	out := make([]domain.Deviation, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
		out[i].RecordedByName = names[r.RecordedBy]
		out[i].SubjectID = subjects[out[i].PatientID]
	}
	return out, nil
}
