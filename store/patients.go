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

type patientRow struct {
	ID              int64 `gorm:"primaryKey"`
	SubjectID       string
	MRN             string `gorm:"column:mrn"`
	Name            string
	DateOfBirth     string
	Arm             string
	EnrolledAt      time.Time
	ChainOfIdentity string
	CreatedBy       int64
	CreatedAt       time.Time
}

func (patientRow) TableName() string { return "patients" }

type patientWeightRow struct {
	ID         int64 `gorm:"primaryKey"`
	PatientID  int64
	WeightKg   float64
	RecordedBy int64
	RecordedAt time.Time
	Reason     string // why the weight changed by more than domain.WeightChangeReasonPct; may be empty otherwise
}

func (patientWeightRow) TableName() string { return "patient_weights" }

// doseOrderConfirmationRow is a physician's e-signature that a dose order stands as made,
// against the later weight that put it under review.
type doseOrderConfirmationRow struct {
	ID          int64 `gorm:"primaryKey"`
	DoseOrderID int64
	WeightID    int64
	SignedBy    int64
	PrintedName string
	Meaning     string
	Reason      string
	SignedAt    time.Time
}

func (doseOrderConfirmationRow) TableName() string { return "dose_order_confirmations" }

func (r patientRow) toDomain(weight float64) domain.Patient {
	return domain.Patient{ID: r.ID, SubjectID: r.SubjectID, MRN: r.MRN, Name: r.Name, DateOfBirth: r.DateOfBirth,
		WeightKg: weight, Arm: domain.Arm(r.Arm), EnrolledAt: r.EnrolledAt.UTC(), ChainID: r.ChainOfIdentity}
}

// Enrol records a trial subject with their first weight.
func (s *Store) Enrol(ctx context.Context, actor domain.Actor, p domain.Patient) (domain.Patient, error) {
	p.Name = strings.TrimSpace(p.Name)
	if err := p.ValidateExceptArm(s.now()); err != nil {
		return domain.Patient{}, err
	}
	var out domain.Patient
	err := s.write(ctx, actor, func(t *tx) error {
		// With a list in use the arm comes from it (allocate, below), never from the request.
		inUse, err := allocationInUse(t.db)
		if err != nil {
			return err
		}
		if err := domain.CheckEnrolmentArm(inUse, p.Arm); err != nil {
			return err
		}
		var clash patientRow
		if err := t.db.Where("subject_id = ? OR lower(mrn) = lower(?)", p.SubjectID, p.MRN).Take(&clash).Error; err == nil {
			if clash.SubjectID == p.SubjectID {
				return domain.Errorf(domain.EConflict, "subject %s is already enrolled", p.SubjectID)
			}
			return domain.Errorf(domain.EConflict, "a patient with MRN %s is already enrolled (subject %s; MRNs are compared without regard to case)", clash.MRN, clash.SubjectID)
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		row := patientRow{SubjectID: p.SubjectID, MRN: p.MRN, Name: p.Name, DateOfBirth: p.DateOfBirth, Arm: string(p.Arm),
			EnrolledAt: p.EnrolledAt.UTC(), ChainOfIdentity: "pending:" + p.SubjectID, CreatedBy: actor.UserID, CreatedAt: t.now}
		var alloc allocationRow
		if inUse {
			if alloc, err = t.nextAllocation(); err != nil {
				return err
			}
			row.Arm = alloc.Arm
		}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "subject %s or MRN %s is already enrolled", p.SubjectID, p.MRN)
			}
			return fmt.Errorf("insert patient: %w", err)
		}
		if inUse {
			if err := t.takeAllocation(alloc, row.ID); err != nil {
				return err
			}
		}
		// The chain-of-identity sequence is the patient's own id: unique without a counter.
		coi := domain.NewChainOfIdentity(s.opts.FacilityID, row.EnrolledAt.In(s.opts.Site).Year()%100, row.ID)
		row.ChainOfIdentity = coi.String()
		if err := t.db.Model(&row).Update("chain_of_identity", row.ChainOfIdentity).Error; err != nil {
			return err
		}
		if err := t.db.Create(&patientWeightRow{PatientID: row.ID, WeightKg: p.WeightKg, RecordedBy: actor.UserID, RecordedAt: t.now}).Error; err != nil {
			return err
		}
		out = row.toDomain(p.WeightKg)
		out.AllocationSequence = alloc.Sequence
		t.audit("patient.enrol", "patient", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// Patient returns a patient with their current (latest) weight.
func (s *Store) Patient(ctx context.Context, id int64) (domain.Patient, error) {
	return patientByID(s.read(ctx), id)
}

func patientByID(db *gorm.DB, id int64) (domain.Patient, error) {
	var row patientRow
	if err := db.Take(&row, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Patient{}, domain.Errorf(domain.ENotFound, "there is no patient with id %d", id)
	} else if err != nil {
		return domain.Patient{}, classify(err)
	}
	return patientWithWeight(db, row)
}

// patientWithWeight completes a patient row read already with their latest weight.
func patientWithWeight(db *gorm.DB, row patientRow) (domain.Patient, error) {
	var w patientWeightRow
	if err := db.Where("patient_id = ?", row.ID).Order("id DESC").Take(&w).Error; err != nil {
		return domain.Patient{}, classify(fmt.Errorf("read weight: %w", err))
	}
	return row.toDomain(w.WeightKg), nil
}

// PatientBySubject finds a patient by trial subject id, as typed or scanned (case does not matter).
func (s *Store) PatientBySubject(ctx context.Context, subjectID string) (domain.Patient, error) {
	db := s.read(ctx)
	var row patientRow
	err := db.Where("subject_id = ?", strings.ToUpper(strings.TrimSpace(subjectID))).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Patient{}, domain.Errorf(domain.ENotFound, "no patient has subject id %q: check it against the enrolment record", subjectID)
	} else if err != nil {
		return domain.Patient{}, classify(err)
	}
	return patientWithWeight(db, row)
}

// RecordWeight adds a weight; new orders are computed from the latest one, existing orders keep
// theirs (a later weight beyond an order's tolerance puts it under review: ReviewOrder). A
// change over domain.WeightChangeReasonPct needs a reason (domain.CheckWeightChange).
func (s *Store) RecordWeight(ctx context.Context, actor domain.Actor, patientID int64, kg float64, reason string) (domain.Patient, error) {
	if err := domain.CheckWeightChange(0, kg, reason); err != nil {
		return domain.Patient{}, err
	}
	reason = strings.TrimSpace(reason)
	var out domain.Patient
	err := s.write(ctx, actor, func(t *tx) error {
		var row patientRow
		if err := t.lockByID(&row, patientID, "patient"); err != nil {
			return err
		}
		before, err := patientWithWeight(t.db, row)
		if err != nil {
			return err
		}
		if err := domain.CheckWeightChange(before.WeightKg, kg, reason); err != nil {
			return err
		}
		if err := t.db.Create(&patientWeightRow{PatientID: patientID, WeightKg: kg, RecordedBy: actor.UserID, RecordedAt: t.now, Reason: reason}).Error; err != nil {
			return err
		}
		out = before
		out.WeightKg = kg
		t.audit("patient.weigh", "patient", patientID, map[string]any{"weight_kg": before.WeightKg}, map[string]any{"weight_kg": kg}, reason)
		return nil
	})
	return out, err
}

// orderReviewFacts gathers what domain.ReviewOrder looks at for an order: its weight, its spec
// version's tolerance, the latest weight recorded after it and the latest weight a physician
// confirmed it against.
func (s *Store) orderReviewFacts(db *gorm.DB, o doseOrderRow) (domain.OrderReviewFacts, error) {
	spec, err := s.specForVersion(db, o.SpecVersion)
	if err != nil {
		return domain.OrderReviewFacts{}, err
	}
	f := domain.OrderReviewFacts{OrderWeightKg: o.WeightKg, TolerancePct: spec.DoseTolerancePct}
	var after int64
	if o.WeightID != nil {
		after = *o.WeightID
	}
	var later patientWeightRow
	if err := db.Where("patient_id = ? AND id > ?", o.PatientID, after).Order("id DESC").Take(&later).Error; err == nil {
		f.LaterWeightID, f.LaterWeightKg = later.ID, later.WeightKg
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return f, fmt.Errorf("dose order %d: later weight: %w", o.ID, err)
	}
	var confirmed struct{ Max int64 }
	if err := db.Model(&doseOrderConfirmationRow{}).Select("COALESCE(MAX(weight_id), 0) AS max").Where("dose_order_id = ?", o.ID).Scan(&confirmed).Error; err != nil {
		return f, fmt.Errorf("dose order %d: confirmations: %w", o.ID, err)
	}
	f.ConfirmedWeightID = confirmed.Max
	return f, nil
}

// ConfirmDoseOrder records a physician's e-signature (password re-entered) that an order
// awaiting review after a later weight stands as made; domain.CheckOrderConfirmation decides.
func (s *Store) ConfirmDoseOrder(ctx context.Context, actor domain.Actor, orderID int64, password, reason string) (domain.DoseOrder, error) {
	// The reason is checked before the password, as if a review were waiting; the order's own
	// state is checked under its lock below.
	if err := domain.CheckOrderConfirmation(domain.OrderOpen, domain.OrderReview{NeedsReview: true}, reason); err != nil {
		return domain.DoseOrder{}, err
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.DoseOrder{}, err
	}
	var out domain.DoseOrder
	err := s.write(ctx, actor, func(t *tx) error {
		var o doseOrderRow
		if err := t.lockByID(&o, orderID, "dose order"); err != nil {
			return err
		}
		facts, err := s.orderReviewFacts(t.db, o)
		if err != nil {
			return err
		}
		review := domain.ReviewOrder(facts)
		if err := domain.CheckOrderConfirmation(o.Status, review, reason); err != nil {
			return err
		}
		row := doseOrderConfirmationRow{DoseOrderID: o.ID, WeightID: facts.LaterWeightID, SignedBy: actor.UserID, PrintedName: actor.FullName,
			Meaning: fmt.Sprintf("Dose order %d stands as made for %.1f kg despite the later weight of %.1f kg", o.ID, o.WeightKg, facts.LaterWeightKg),
			Reason:  strings.TrimSpace(reason), SignedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "this order was confirmed against this weight at the same moment; reload")
			}
			return fmt.Errorf("confirm dose order: %w", err)
		}
		out = o.toDomain()
		t.audit("dose_order.confirm", "dose_order", o.ID, review, row, row.Reason)
		return nil
	})
	return out, err
}

// ListPatients lists enrolled patients by subject id with their latest weight, latest dose
// order, that order's bag and whether they were infused: five queries, whatever the number
// of patients.
func (s *Store) ListPatients(ctx context.Context, f domain.PatientFilter) ([]domain.PatientSummary, error) {
	f, err := f.Normalize()
	if err != nil {
		return nil, err
	}
	db := s.read(ctx)
	q := db.Order("subject_id").Limit(f.Limit)
	if f.Subject != "" {
		// Normalize allows letters, digits and dashes only: nothing LIKE would read as a wildcard.
		q = q.Where("subject_id LIKE ?", f.Subject+"%")
	}
	var rows []patientRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("list patients: %w", err))
	}
	out, err := summarize(db, rows)
	return out, classify(err)
}

// summarize completes patient rows with their latest weight, order, bag and infusion.
func summarize(db *gorm.DB, rows []patientRow) ([]domain.PatientSummary, error) {
	if len(rows) == 0 {
		return []domain.PatientSummary{}, nil
	}
	ids := patientRowIDs(rows)
	var weights []patientWeightRow
	if err := db.Where("patient_id IN ?", ids).Order("id").Find(&weights).Error; err != nil {
		return nil, fmt.Errorf("list patients: weights: %w", err)
	}
	var orders []doseOrderRow
	if err := db.Where("patient_id IN ?", ids).Order("id").Find(&orders).Error; err != nil {
		return nil, fmt.Errorf("list patients: dose orders: %w", err)
	}
	// Oldest first, so the last one seen per patient is the latest.
	weight := map[int64]float64{}
	for _, w := range weights {
		weight[w.PatientID] = w.WeightKg
	}
	return summarizeWith(db, rows, weight, orders)
}

func patientRowIDs(rows []patientRow) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// summarizeWith is summarize with each patient's latest weight and their dose orders (oldest
// first) already read.
func summarizeWith(db *gorm.DB, rows []patientRow, weight map[int64]float64, orders []doseOrderRow) ([]domain.PatientSummary, error) {
	out := make([]domain.PatientSummary, 0, len(rows))
	ids := patientRowIDs(rows)
	order := map[int64]doseOrderRow{}
	for _, o := range orders {
		order[o.PatientID] = o
	}
	var bags []doseBagRow
	if err := db.Select("id", "dose_order_id", "patient_id", "status").Where("patient_id IN ?", ids).Order("id").Find(&bags).Error; err != nil {
		return nil, fmt.Errorf("list patients: dose bags: %w", err)
	}
	bagOf := map[int64]string{} // by dose order
	for _, b := range bags {
		bagOf[b.DoseOrderID] = b.Status
	}
	var infused []int64
	if err := db.Model(&infusionRow{}).Where("patient_id IN ?", ids).Pluck("patient_id", &infused).Error; err != nil {
		return nil, fmt.Errorf("list patients: infusions: %w", err)
	}
	wasInfused := map[int64]bool{}
	for _, id := range infused {
		wasInfused[id] = true
	}
	for _, r := range rows {
		sum := domain.PatientSummary{Patient: r.toDomain(weight[r.ID]), Infused: wasInfused[r.ID]}
		if o, ok := order[r.ID]; ok {
			d := o.toDomain()
			sum.Order = &d
			sum.BagStatus = domain.DoseBagStatus(bagOf[o.ID])
		}
		out = append(out, sum)
	}
	return out, nil
}

// PatientDetail is one patient with every weight and dose order, the infusion window of the
// current specification in the site's time zone, and the target an order placed now would get.
func (s *Store) PatientDetail(ctx context.Context, id int64) (domain.PatientDetail, error) {
	db := s.read(ctx)
	var row patientRow
	if err := db.Take(&row, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.PatientDetail{}, domain.Errorf(domain.ENotFound, "there is no patient with id %d; pick one from the list of patients", id)
	} else if err != nil {
		return domain.PatientDetail{}, classify(err)
	}
	var weights []struct {
		WeightKg   float64
		RecordedAt time.Time
		FullName   string
		Reason     string
	}
	if err := db.Table("patient_weights w").Select("w.weight_kg, w.recorded_at, COALESCE(u.full_name, '') AS full_name, w.reason").
		Joins("LEFT JOIN users u ON u.id = w.recorded_by").Where("w.patient_id = ?", id).Order("w.id").Scan(&weights).Error; err != nil {
		return domain.PatientDetail{}, classify(fmt.Errorf("patient %d: weights: %w", id, err))
	}
	var orders []doseOrderRow
	if err := db.Where("patient_id = ?", id).Order("id").Find(&orders).Error; err != nil {
		return domain.PatientDetail{}, classify(fmt.Errorf("patient %d: dose orders: %w", id, err))
	}
	latest := map[int64]float64{}
	if len(weights) > 0 {
		latest[id] = weights[len(weights)-1].WeightKg
	}
	sums, err := summarizeWith(db, []patientRow{row}, latest, orders)
	if err != nil {
		return domain.PatientDetail{}, classify(fmt.Errorf("patient %d: %w", id, err))
	}
	d := domain.PatientDetail{PatientSummary: sums[0], Weights: []domain.WeightRecord{}, Orders: []domain.DoseOrder{}}
	for _, w := range weights {
		d.Weights = append(d.Weights, domain.WeightRecord{WeightKg: w.WeightKg, RecordedBy: w.FullName, RecordedAt: w.RecordedAt.UTC(), Reason: w.Reason})
	}
	for _, o := range orders {
		d.Orders = append(d.Orders, o.toDomain())
	}
	spec, err := currentSpec(db)
	if err != nil {
		return d, classify(err)
	}
	// What an order placed now would get: the spec in force.
	d.CellsPerKg, d.TolerancePct, d.SpecVersion = spec.DoseCellsPerKg, spec.DoseTolerancePct, spec.Version
	d.TargetNow = domain.TargetDose(d.WeightKg, spec.DoseCellsPerKg)
	// The window is the latest order's, under the spec version it was made with.
	if n := len(orders); n > 0 && orders[n-1].Status != domain.OrderCancelled {
		last := orders[n-1]
		facts, err := s.orderReviewFacts(db, last)
		if err != nil {
			return d, classify(err)
		}
		d.OrderReview, d.OrderTolerancePct = domain.ReviewOrder(facts), facts.TolerancePct
		if spec, err = s.specForVersion(db, last.SpecVersion); err != nil {
			return d, classify(err)
		}
	}
	site := s.opts.Site
	d.SiteTimeZone = site.String()
	d.WindowFirst = domain.InfusionDay(d.EnrolledAt, site, spec.InfusionDayOffset-spec.InfusionWindowDays).Format(time.DateOnly)
	d.WindowLast = domain.InfusionDay(d.EnrolledAt, site, spec.InfusionDayOffset+spec.InfusionWindowDays).Format(time.DateOnly)
	d.InWindowNow = domain.InWindow(s.now(), d.EnrolledAt, site, spec.InfusionDayOffset, spec.InfusionWindowDays)
	return d, nil
}
