package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// bagTraces returns the full history of the bags selected by where.
func (s *Store) bagTraces(db *gorm.DB, where string, arg any) ([]domain.BagTrace, error) {
	var bags []doseBagRow
	if err := db.Where(where, arg).Order("id").Find(&bags).Error; err != nil {
		return nil, err
	}
	out := make([]domain.BagTrace, 0, len(bags))
	for _, b := range bags {
		bag, err := s.doseBag(db, db.Where("id = ?", b.ID))
		if err != nil {
			return nil, err
		}
		var p patientRow
		if err := db.Take(&p, b.PatientID).Error; err != nil {
			return nil, err
		}
		// The identity goes with the trace; the reader's page or handler removes it for those
		// who may not see it (domain.MaySeePatientIdentity) and records the disclosure otherwise.
		bt := domain.BagTrace{Bag: bag, SubjectID: p.SubjectID, ChainOfIdentity: p.ChainOfIdentity,
			Patient: &domain.PatientIdentity{ID: p.ID, Name: p.Name, MRN: p.MRN, DateOfBirth: p.DateOfBirth},
			Custody: []domain.CustodyEvent{}, Verifications: []domain.VerificationSummary{}}
		if bt.LabelPrints, err = labelPrints(db, "dose_bag", b.ID); err != nil {
			return nil, err
		}
		var scans []custodyScanRow
		if err := db.Where("dose_bag_id = ?", b.ID).Order("id").Find(&scans).Error; err != nil {
			return nil, err
		}
		for _, sc := range scans {
			bt.Custody = append(bt.Custody, sc.event(b.BagID))
		}
		var vs []verificationRow
		if err := db.Where("dose_bag_id = ?", b.ID).Order("id").Find(&vs).Error; err != nil {
			return nil, err
		}
		for _, v := range vs {
			failed := []string{}
			if v.Failed != "" {
				failed = strings.Split(v.Failed, ",")
			}
			bt.Verifications = append(bt.Verifications, domain.VerificationSummary{ID: v.ID, Pass: v.Pass, Failed: failed,
				CodeKind: v.CodeKind, Ward: v.Ward, VerifiedAt: v.VerifiedAt.UTC(), WristbandEntry: v.WristbandEntry, CodeEntry: v.CodeEntry})
		}
		var inf infusionRow
		if err := db.Where("dose_bag_id = ?", b.ID).Take(&inf).Error; err == nil {
			i := inf.toDomain()
			bt.Infusion = &i
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, err
		}
		out = append(out, bt)
	}
	return out, nil
}

// LotTrace follows a lot forward to every bag and patient.
func (s *Store) LotTrace(ctx context.Context, lotID int64) (domain.LotTrace, error) {
	d, err := s.LotDetail(ctx, lotID)
	if err != nil {
		return domain.LotTrace{}, err
	}
	bags, err := s.bagTraces(s.read(ctx), "lot_id = ?", lotID)
	if err != nil {
		return domain.LotTrace{}, classify(fmt.Errorf("trace lot: %w", err))
	}
	return domain.LotTrace{Donation: d.Donation, Lot: d.Lot, Units: d.Units, Bags: bags,
		InfusedPatients: d.InfusedPatients, AdverseEvents: d.AdverseEvents}, nil
}

// PatientTrace follows a patient back to their lots and donations.
func (s *Store) PatientTrace(ctx context.Context, patientID int64) (domain.PatientTrace, error) {
	db := s.read(ctx)
	p, err := patientByID(db, patientID)
	if err != nil {
		return domain.PatientTrace{}, err
	}
	care, err := s.patientCare(db, patientID)
	if err != nil {
		return domain.PatientTrace{}, err
	}
	t := domain.PatientTrace{Patient: p, Bags: care.Bags, Lots: []domain.Lot{}, Donations: []domain.Donation{}, AdverseEvents: care.AdverseEvents}
	seen := map[int64]bool{}
	for _, b := range care.Bags {
		if seen[b.Bag.LotID] {
			continue
		}
		seen[b.Bag.LotID] = true
		d, err := s.LotDetail(ctx, b.Bag.LotID)
		if err != nil {
			return t, err
		}
		t.Lots, t.Donations = append(t.Lots, d.Lot), append(t.Donations, d.Donation)
	}
	return t, nil
}

// PatientCare is the patient's dose bags, each with its custody, and adverse events, without
// following them back to lots and donations (the patient page). A patient with none, or no
// such patient, has empty lists.
func (s *Store) PatientCare(ctx context.Context, patientID int64) (domain.PatientCare, error) {
	return s.patientCare(s.read(ctx), patientID)
}

func (s *Store) patientCare(db *gorm.DB, patientID int64) (domain.PatientCare, error) {
	bags, err := s.bagTraces(db, "patient_id = ?", patientID)
	if err != nil {
		return domain.PatientCare{}, classify(fmt.Errorf("trace patient: %w", err))
	}
	care := domain.PatientCare{Bags: bags, AdverseEvents: []domain.AdverseEvent{}}
	var aes []adverseEventRow
	if err := db.Where("patient_id = ?", patientID).Order("id").Find(&aes).Error; err != nil {
		return care, classify(fmt.Errorf("trace patient: adverse events: %w", err))
	}
	for _, a := range aes {
		care.AdverseEvents = append(care.AdverseEvents, a.toDomain())
	}
	return care, nil
}
