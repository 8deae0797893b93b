package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"cordtrace/domain"
)

// PatientRecords gathers one patient's slice of the chain for outside systems.
func (s *Store) PatientRecords(ctx context.Context, patientID int64) (domain.Records, error) {
	db := s.read(ctx)
	if _, err := patientByID(db, patientID); err != nil {
		return domain.Records{}, err
	}
	return s.records(db, []int64{patientID}, 0, "patient_id = ?", patientID)
}

// LotRecords gathers one lot's slice of the chain: everything made from it and who got it.
func (s *Store) LotRecords(ctx context.Context, lotNumber string) (domain.Records, error) {
	db := s.read(ctx)
	var lot lotRow
	if err := db.Where("lot_number = ?", lotNumber).Take(&lot).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Records{}, domain.Errorf(domain.ENotFound, "there is no lot numbered %q; check the lot number", lotNumber)
	} else if err != nil {
		return domain.Records{}, classify(err)
	}
	return s.records(db, nil, lot.ID, "lot_id = ?", lot.ID)
}

// AllRecords gathers every enrolled patient's records.
func (s *Store) AllRecords(ctx context.Context) (domain.Records, error) {
	db := s.read(ctx)
	var ids []int64
	if err := db.Model(&patientRow{}).Order("id").Pluck("id", &ids).Error; err != nil {
		return domain.Records{}, classify(err)
	}
	return s.records(db, ids, 0, "1 = 1")
}

// records loads the bags selected by where, and everything they and the named patients and
// lot point to. Adverse events follow the same selection (by patient or by lot).
func (s *Store) records(db *gorm.DB, patientIDs []int64, lotID int64, where string, args ...any) (domain.Records, error) {
	r, err := s.loadRecords(db, patientIDs, lotID, where, args...)
	return r, classify(err)
}

func (s *Store) loadRecords(db *gorm.DB, patientIDs []int64, lotID int64, where string, args ...any) (domain.Records, error) {
	r := domain.Records{Patients: []domain.Patient{}, Donations: []domain.Donation{}, Lots: []domain.Lot{}, Units: []domain.Unit{},
		Bags: []domain.DoseBag{}, Dispatches: []domain.DispatchRecord{}, Infusions: []domain.InfusionRecord{}, AdverseEvents: []domain.AdverseEventRecord{},
		Assessments: []domain.Assessment{}, Outcomes: []domain.Outcome{}}
	var err error
	if r.Spec, err = currentSpec(db); err != nil {
		return r, err
	}
	var bagRows []doseBagRow
	if err := db.Where(where, args...).Order("id").Find(&bagRows).Error; err != nil {
		return r, fmt.Errorf("records: bags: %w", err)
	}
	patients := slices.Clone(patientIDs)
	lots := []int64{}
	if lotID != 0 {
		lots = append(lots, lotID)
	}
	var unitIDs, bagIDs []int64
	bags, err := bagsOfRows(db, bagRows)
	if err != nil {
		return r, err
	}
	for _, bag := range bags {
		r.Bags = append(r.Bags, bag)
		bagIDs = append(bagIDs, bag.ID)
		patients = append(patients, bag.PatientID)
		lots = append(lots, bag.LotID)
		unitIDs = append(unitIDs, bag.UnitIDs...)
	}
	if r.Patients, err = patientsByID(db, sortedUnique(patients)); err != nil {
		return r, err
	}
	var lotRows []lotRow
	if err := db.Where("id IN ?", append(sortedUnique(lots), 0)).Order("id").Find(&lotRows).Error; err != nil {
		return r, fmt.Errorf("records: lots: %w", err)
	}
	var donationIDs []int64
	for _, l := range lotRows {
		donationIDs = append(donationIDs, l.DonationID)
	}
	var donationRows []donationRow
	if err := db.Where("id IN ?", append(sortedUnique(donationIDs), 0)).Find(&donationRows).Error; err != nil {
		return r, fmt.Errorf("records: donations: %w", err)
	}
	donations := map[int64]donationRow{}
	for _, d := range donationRows {
		donations[d.ID] = d
		r.Donations = append(r.Donations, d.toDomain())
	}
	for _, l := range lotRows {
		don, ok := donations[l.DonationID]
		if !ok {
			return r, fmt.Errorf("records: lot %d: donation %d: %w", l.ID, l.DonationID, gorm.ErrRecordNotFound)
		}
		r.Lots = append(r.Lots, l.toDomain(don.DIN))
	}
	slices.SortFunc(r.Donations, func(a, b domain.Donation) int { return int(a.ID - b.ID) })
	var units []unitRow
	q := db.Where("id IN ?", append(sortedUnique(unitIDs), 0))
	if lotID != 0 {
		q = q.Or("lot_id = ?", lotID)
	}
	if err := q.Order("id").Find(&units).Error; err != nil {
		return r, fmt.Errorf("records: units: %w", err)
	}
	for _, u := range units {
		r.Units = append(r.Units, u.toDomain())
	}

	var scans []custodyScanRow
	if err := db.Where("dose_bag_id IN ? AND accepted = ?", append(bagIDs, 0), true).Order("id").Find(&scans).Error; err != nil {
		return r, fmt.Errorf("records: scans: %w", err)
	}
	var infusions []infusionRow
	if err := db.Where("dose_bag_id IN ?", append(bagIDs, 0)).Order("id").Find(&infusions).Error; err != nil {
		return r, fmt.Errorf("records: infusions: %w", err)
	}
	var aes []adverseEventRow
	aq := db.Where("patient_id IN ?", append(sortedUnique(patientIDs), 0))
	if lotID != 0 {
		aq = db.Where("lot_id = ?", lotID)
	}
	if err := aq.Order("id").Find(&aes).Error; err != nil {
		return r, fmt.Errorf("records: adverse events: %w", err)
	}
	var userIDs []int64
	for _, sc := range scans {
		userIDs = append(userIDs, sc.ScannedBy)
	}
	for _, inf := range infusions {
		userIDs = append(userIDs, inf.StartedBy)
	}
	for _, a := range aes {
		userIDs = append(userIDs, a.ReportedBy)
	}
	var users []userRow
	if err := db.Where("id IN ?", append(sortedUnique(userIDs), 0)).Find(&users).Error; err != nil {
		return r, fmt.Errorf("records: users: %w", err)
	}
	people := map[int64]domain.Person{}
	for _, u := range users {
		people[u.ID] = domain.Person{Username: u.Username, FullName: u.FullName}
	}
	person := func(id int64) (domain.Person, error) {
		p, ok := people[id]
		if !ok {
			return domain.Person{}, fmt.Errorf("records: user %d: %w", id, gorm.ErrRecordNotFound)
		}
		return p, nil
	}

	bagCode := map[int64]string{}
	for _, b := range r.Bags {
		bagCode[b.ID] = b.BagID
	}
	open := map[int64]int{} // bag id → index in r.Dispatches of its latest dispatch without receipt
	for _, sc := range scans {
		ev := sc.event(bagCode[*sc.DoseBagID])
		by, err := person(sc.ScannedBy)
		if err != nil {
			return r, err
		}
		switch sc.Kind {
		case domain.ScanDispatch:
			r.Dispatches = append(r.Dispatches, domain.DispatchRecord{Dispatch: ev, DispatchedBy: by})
			open[ev.DoseBagID] = len(r.Dispatches)
		case domain.ScanReceive:
			if i := open[ev.DoseBagID]; i > 0 {
				r.Dispatches[i-1].Receipt, r.Dispatches[i-1].ReceivedBy = &ev, &by
				delete(open, ev.DoseBagID)
			}
		}
	}
	for _, inf := range infusions {
		by, err := person(inf.StartedBy)
		if err != nil {
			return r, err
		}
		r.Infusions = append(r.Infusions, domain.InfusionRecord{Infusion: inf.toDomain(), StartedBy: by})
	}
	for _, a := range aes {
		by, err := person(a.ReportedBy)
		if err != nil {
			return r, err
		}
		r.AdverseEvents = append(r.AdverseEvents, domain.AdverseEventRecord{AdverseEvent: a.toDomain(), ReportedBy: by})
	}
	return r, s.addFollowUp(db, &r)
}

// addFollowUp completes r with its patients' allocation sequence numbers, assessments and
// outcomes.
func (s *Store) addFollowUp(db *gorm.DB, r *domain.Records) error {
	r.Site, r.Assessments, r.Outcomes = s.opts.Site, []domain.Assessment{}, []domain.Outcome{}
	ids := make([]int64, len(r.Patients))
	for i, p := range r.Patients {
		ids[i] = p.ID
	}
	var allocs []allocationRow
	if err := db.Where("patient_id IN ?", append(ids, 0)).Find(&allocs).Error; err != nil {
		return fmt.Errorf("records: allocations: %w", err)
	}
	seq := map[int64]int{}
	for _, a := range allocs {
		seq[*a.PatientID] = a.Sequence
	}
	for i := range r.Patients {
		r.Patients[i].AllocationSequence = seq[r.Patients[i].ID]
	}
	recs, err := readFollowUp(db, append(ids, 0))
	if err != nil {
		return err
	}
	for _, id := range ids {
		r.Assessments = append(r.Assessments, recs.assessments[id]...)
		r.Outcomes = append(r.Outcomes, recs.outcomes[id]...)
	}
	return nil
}

func sortedUnique(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// RecordDisclosure writes one patient.disclose entry per patient shown (entity patient, after
// {"fields", "via"}), all in one transaction. One entry per patient, not one listing the ids,
// so that an auditor finds every showing of a patient's data by that patient alone
// (GET /audit?entity_type=patient&entity_id=N). A disclosure of nobody records nothing.
func (s *Store) RecordDisclosure(ctx context.Context, actor domain.Actor, d domain.Disclosure) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.write(ctx, actor, func(t *tx) error { return t.disclose(d) })
}

// disclose adds the patient.disclose entries of d to t: the one way they are written. A write
// whose answer shows patient data (the bedside verification, a dose-bag label) calls it inside
// its own transaction, so the showing and the change are recorded together.
func (t *tx) disclose(d domain.Disclosure) error {
	if err := d.Validate(); err != nil {
		return err
	}
	after := map[string]any{"fields": d.Fields, "via": d.Via}
	for _, id := range sortedUnique(d.PatientIDs) {
		t.audit("patient.disclose", "patient", id, nil, after, "")
	}
	return nil
}

// RecordPatient is the patient a dispatch, infusion, adverse event or assessment belongs to. A dispatch is
// an accepted dispatch scan of a dose bag (as in Records.Dispatches): a receipt or a refused
// scan is not one.
func (s *Store) RecordPatient(ctx context.Context, kind domain.RecordKind, id int64) (int64, error) {
	db := s.read(ctx)
	var q *gorm.DB
	what, col := "", "patient_id"
	switch kind {
	case domain.RecordDispatch:
		q = db.Table("custody_scans").Joins("JOIN dose_bags ON dose_bags.id = custody_scans.dose_bag_id").
			Where("custody_scans.id = ? AND custody_scans.kind = ? AND custody_scans.accepted = ?", id, domain.ScanDispatch, true)
		what, col = "dispatch", "dose_bags.patient_id"
	case domain.RecordInfusion:
		q, what = db.Table("infusions").Where("id = ?", id), "infusion"
	case domain.RecordAdverseEvent:
		q, what = db.Table("adverse_events").Where("id = ?", id), "adverse event"
	case domain.RecordAssessment:
		q, what = db.Table("assessments").Where("id = ?", id), "assessment"
	default:
		return 0, domain.Errorf(domain.EInvalid, "records of kind %q cannot be read by id", kind)
	}
	var ids []int64
	if err := q.Limit(1).Pluck(col, &ids).Error; err != nil {
		return 0, classify(fmt.Errorf("record patient: %s %d: %w", what, id, err))
	}
	if len(ids) == 0 {
		return 0, domain.Errorf(domain.ENotFound, "there is no %s with id %d; check the id", what, id)
	}
	return ids[0], nil
}

// bagsOfRows completes dose bag rows with their orders and units, in two queries for all of
// them (doseBag does one bag).
func bagsOfRows(db *gorm.DB, rows []doseBagRow) ([]domain.DoseBag, error) {
	orderIDs, bagIDs := []int64{0}, []int64{0}
	for _, b := range rows {
		orderIDs, bagIDs = append(orderIDs, b.DoseOrderID), append(bagIDs, b.ID)
	}
	var orders []doseOrderRow
	if err := db.Where("id IN ?", orderIDs).Find(&orders).Error; err != nil {
		return nil, classify(fmt.Errorf("records: dose orders: %w", err))
	}
	orderOf := make(map[int64]doseOrderRow, len(orders))
	for _, o := range orders {
		orderOf[o.ID] = o
	}
	var links []doseBagUnitRow
	if err := db.Where("dose_bag_id IN ?", bagIDs).Order("unit_id").Find(&links).Error; err != nil {
		return nil, classify(fmt.Errorf("records: units of the bags: %w", err))
	}
	unitsOf := map[int64][]int64{}
	for _, l := range links {
		unitsOf[l.DoseBagID] = append(unitsOf[l.DoseBagID], l.UnitID)
	}
	out := make([]domain.DoseBag, 0, len(rows))
	for _, b := range rows {
		order, ok := orderOf[b.DoseOrderID]
		if !ok {
			return nil, classify(fmt.Errorf("records: dose order %d of bag %s: %w", b.DoseOrderID, b.BagID, gorm.ErrRecordNotFound))
		}
		units := unitsOf[b.ID]
		if units == nil {
			units = []int64{}
		}
		out = append(out, b.toDomain(order, units))
	}
	return out, nil
}

// patientsByID reads the patients with ids (sorted), each with their latest weight, in two
// queries (patientByID does one patient).
func patientsByID(db *gorm.DB, ids []int64) ([]domain.Patient, error) {
	out := []domain.Patient{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []patientRow
	if err := db.Where("id IN ?", ids).Order("id").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	found := make(map[int64]patientRow, len(rows))
	for _, p := range rows {
		found[p.ID] = p
	}
	var weights []patientWeightRow // oldest first, so the last one seen per patient is the latest
	if err := db.Where("patient_id IN ?", ids).Order("id").Find(&weights).Error; err != nil {
		return nil, classify(fmt.Errorf("read weight: %w", err))
	}
	weight := map[int64]float64{}
	for _, w := range weights {
		weight[w.PatientID] = w.WeightKg
	}
	for _, id := range ids {
		p, ok := found[id]
		if !ok {
			return nil, domain.Errorf(domain.ENotFound, "there is no patient with id %d", id)
		}
		kg, ok := weight[id]
		if !ok {
			return nil, classify(fmt.Errorf("read weight: %w", gorm.ErrRecordNotFound))
		}
		out = append(out, p.toDomain(kg))
	}
	return out, nil
}
