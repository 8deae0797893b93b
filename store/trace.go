package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// bagTraces returns the full history of the bags selected by where. Each kind of record is
// read for all the bags at once, so that a lot's trace costs the same few queries whether it
// has one bag or hundreds.
func (s *Store) bagTraces(db *gorm.DB, where string, arg any) ([]domain.BagTrace, error) {
	var bags []doseBagRow
	if err := db.Where(where, arg).Order("id").Find(&bags).Error; err != nil {
		return nil, err
	}
	out := make([]domain.BagTrace, 0, len(bags))
	if len(bags) == 0 {
		return out, nil
	}
	ids, orderIDs, patientIDs := make([]int64, len(bags)), make([]int64, len(bags)), make([]int64, len(bags))
	for i, b := range bags {
		ids[i], orderIDs[i], patientIDs[i] = b.ID, b.DoseOrderID, b.PatientID
	}
	orders := map[int64]doseOrderRow{}
	var orderRows []doseOrderRow
	if err := db.Where("id IN ?", orderIDs).Find(&orderRows).Error; err != nil {
		return nil, err
	}
	for _, o := range orderRows {
		orders[o.ID] = o
	}
	patients := map[int64]patientRow{}
	var patientRows []patientRow
	if err := db.Where("id IN ?", patientIDs).Find(&patientRows).Error; err != nil {
		return nil, err
	}
	for _, p := range patientRows {
		patients[p.ID] = p
	}
	units := map[int64][]int64{}
	var links []doseBagUnitRow
	if err := db.Where("dose_bag_id IN ?", ids).Order("dose_bag_id, unit_id").Find(&links).Error; err != nil {
		return nil, err
	}
	for _, l := range links {
		units[l.DoseBagID] = append(units[l.DoseBagID], l.UnitID)
	}
	prints := map[int64][]domain.LabelPrint{}
	var printRows []labelPrintRow
	if err := db.Where("entity_type = ? AND entity_id IN ?", "dose_bag", ids).Order("entity_id, serial").Find(&printRows).Error; err != nil {
		return nil, fmt.Errorf("read label prints: %w", err)
	}
	for _, r := range printRows {
		prints[r.EntityID] = append(prints[r.EntityID], r.toDomain())
	}
	scans := map[int64][]custodyScanRow{}
	var scanRows []custodyScanRow
	if err := db.Where("dose_bag_id IN ?", ids).Order("id").Find(&scanRows).Error; err != nil {
		return nil, err
	}
	for _, sc := range scanRows {
		scans[*sc.DoseBagID] = append(scans[*sc.DoseBagID], sc)
	}
	verifications := map[int64][]verificationRow{}
	var vRows []verificationRow
	if err := db.Where("dose_bag_id IN ?", ids).Order("id").Find(&vRows).Error; err != nil {
		return nil, err
	}
	for _, v := range vRows {
		verifications[*v.DoseBagID] = append(verifications[*v.DoseBagID], v)
	}
	infusions := map[int64]infusionRow{}
	var infRows []infusionRow
	if err := db.Where("dose_bag_id IN ?", ids).Find(&infRows).Error; err != nil {
		return nil, err
	}
	for _, inf := range infRows {
		infusions[inf.DoseBagID] = inf
	}
	for _, b := range bags {
		order, ok := orders[b.DoseOrderID]
		p, found := patients[b.PatientID]
		if !ok || !found {
			return nil, fmt.Errorf("dose bag %d: its order or patient is missing", b.ID)
		}
		// The identity goes with the trace; the reader's page or handler removes it for those
		// who may not see it (domain.MaySeePatientIdentity) and records the disclosure otherwise.
		bt := domain.BagTrace{Bag: b.toDomain(order, units[b.ID]), SubjectID: p.SubjectID, ChainOfIdentity: p.ChainOfIdentity,
			Patient:     &domain.PatientIdentity{ID: p.ID, Name: p.Name, MRN: p.MRN, DateOfBirth: p.DateOfBirth},
			LabelPrints: prints[b.ID], Custody: []domain.CustodyEvent{}, Verifications: []domain.VerificationSummary{}}
		if bt.LabelPrints == nil {
			bt.LabelPrints = []domain.LabelPrint{}
		}
		for _, sc := range scans[b.ID] {
			bt.Custody = append(bt.Custody, sc.event(b.BagID))
		}
		for _, v := range verifications[b.ID] {
			failed := []string{}
			if v.Failed != "" {
				failed = strings.Split(v.Failed, ",")
			}
			bt.Verifications = append(bt.Verifications, domain.VerificationSummary{ID: v.ID, Pass: v.Pass, Failed: failed,
				CodeKind: v.CodeKind, Ward: v.Ward, VerifiedAt: v.VerifiedAt.UTC(), WristbandEntry: v.WristbandEntry, CodeEntry: v.CodeEntry})
		}
		if inf, ok := infusions[b.ID]; ok {
			i := inf.toDomain()
			bt.Infusion = &i
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
