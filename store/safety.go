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

type adverseEventRow struct {
	ID          int64 `gorm:"primaryKey"`
	PatientID   int64
	InfusionID  *int64
	LotID       *int64
	Serious     bool
	Severity    string
	Description string
	OnsetAt     time.Time
	ReportedBy  int64
	ReportedAt  time.Time
}

func (adverseEventRow) TableName() string { return "adverse_events" }

func (r adverseEventRow) toDomain() domain.AdverseEvent {
	a := domain.AdverseEvent{ID: r.ID, PatientID: r.PatientID, Serious: r.Serious, Severity: r.Severity,
		Description: r.Description, OnsetAt: r.OnsetAt.UTC(), ReportedAt: r.ReportedAt.UTC()}
	if r.InfusionID != nil {
		a.InfusionID = *r.InfusionID
	}
	if r.LotID != nil {
		a.LotID = *r.LotID
	}
	return a
}

// ReportAdverseEvent stores an AE or SAE, linked to the patient's infusion and its lot.
func (s *Store) ReportAdverseEvent(ctx context.Context, actor domain.Actor, a domain.AdverseEvent) (domain.AdverseEvent, error) {
	a.Description = strings.TrimSpace(a.Description)
	if err := a.Validate(s.now()); err != nil {
		return a, err
	}
	var out domain.AdverseEvent
	err := s.write(ctx, actor, func(t *tx) error {
		if _, err := patientByID(t.db, a.PatientID); err != nil {
			return domain.FieldError("patient_id", "there is no patient with id %d", a.PatientID)
		}
		row := adverseEventRow{PatientID: a.PatientID, Serious: a.Serious, Severity: a.Severity, Description: a.Description,
			OnsetAt: a.OnsetAt.UTC(), ReportedBy: actor.UserID, ReportedAt: t.now}
		var inf infusionRow
		if err := t.db.Where("patient_id = ?", a.PatientID).Take(&inf).Error; err == nil {
			var bag doseBagRow
			if err := t.db.Take(&bag, inf.DoseBagID).Error; err != nil {
				return err
			}
			row.InfusionID, row.LotID = &inf.ID, &bag.LotID
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("store adverse event: %w", err)
		}
		out = row.toDomain()
		t.audit("adverse_event.report", "adverse_event", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// lotAdverseEvents lists the events linked to a lot.
func lotAdverseEvents(db *gorm.DB, lotID int64) ([]domain.AdverseEvent, error) {
	var rows []adverseEventRow
	if err := db.Where("lot_id = ?", lotID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.AdverseEvent, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// DisposeExcursion records QA's decision on a bag's open temperature excursion.
func (s *Store) DisposeExcursion(ctx context.Context, actor domain.Actor, bagID int64, decision, reason string) (domain.DoseBag, error) {
	if decision != domain.DispositionUse && decision != domain.DispositionDiscard {
		return domain.DoseBag{}, domain.FieldError("decision", "decide use or discard")
	}
	if strings.TrimSpace(reason) == "" {
		return domain.DoseBag{}, domain.FieldError("reason", "give the reason for the decision (stability data, duration, reading)")
	}
	err := s.write(ctx, actor, func(t *tx) error {
		var bag doseBagRow
		if err := t.lockByID(&bag, bagID, "dose bag"); err != nil {
			return err
		}
		open, err := openExcursion(t.db, bag.ID)
		if err != nil {
			return err
		}
		if !open {
			return domain.Errorf(domain.EConflict, "bag %s has no open temperature excursion to decide on", bag.BagID)
		}
		row := excursionDispositionRow{DoseBagID: bag.ID, Decision: decision, Reason: strings.TrimSpace(reason), DecidedBy: actor.UserID, DecidedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return err
		}
		t.audit("excursion.dispose", "dose_bag", bag.ID, nil, map[string]any{"decision": decision}, row.Reason)
		if decision == domain.DispositionDiscard {
			if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), domain.BagDiscarded); err != nil {
				return err
			}
			if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", string(domain.BagDiscarded)).Error; err != nil {
				return err
			}
			t.audit("dose_bag.discard", "dose_bag", bag.ID, map[string]any{"status": bag.Status}, map[string]any{"status": domain.BagDiscarded}, row.Reason)
		}
		return nil
	})
	if err != nil {
		return domain.DoseBag{}, err
	}
	return s.DoseBag(ctx, bagID)
}
