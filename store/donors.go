package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type donorTestRow struct {
	ID         int64 `gorm:"primaryKey"`
	DonationID int64
	Test       string
	Result     string
	TestedAt   time.Time
	EnteredBy  int64
	EnteredAt  time.Time
}

func (donorTestRow) TableName() string { return "donor_tests" }

func (r donorTestRow) toDomain() domain.DonorTestResult {
	return domain.DonorTestResult{ID: r.ID, DonationID: r.DonationID, Test: domain.DonorTest(r.Test), Result: r.Result,
		TestedAt: r.TestedAt.UTC(), EnteredBy: r.EnteredBy, EnteredAt: r.EnteredAt.UTC()}
}

type donorScreeningRow struct {
	ID                    int64 `gorm:"primaryKey"`
	DonationID            int64
	QuestionnaireComplete bool
	Outcome               string
	Notes                 string
	ScreenedAt            time.Time
	EnteredBy             int64
	EnteredAt             time.Time
}

func (donorScreeningRow) TableName() string { return "donor_screenings" }

func (r donorScreeningRow) toDomain() domain.DonorScreening {
	return domain.DonorScreening{ID: r.ID, DonationID: r.DonationID, QuestionnaireComplete: r.QuestionnaireComplete,
		Outcome: r.Outcome, Notes: r.Notes, ScreenedAt: r.ScreenedAt.UTC(), EnteredBy: r.EnteredBy, EnteredAt: r.EnteredAt.UTC()}
}

type eligibilityDeterminationRow struct {
	ID            int64 `gorm:"primaryKey"`
	DonationID    int64
	Determination string
	Reason        string
	UserID        int64
	PrintedName   string
	Role          string
	Meaning       string
	Signed        bool
	SignedAt      time.Time
}

func (eligibilityDeterminationRow) TableName() string { return "eligibility_determinations" }

func (r eligibilityDeterminationRow) toDomain() domain.EligibilityDetermination {
	return domain.EligibilityDetermination{ID: r.ID, DonationID: r.DonationID, Determination: domain.Eligibility(r.Determination),
		Reason: r.Reason, UserID: r.UserID, PrintedName: r.PrintedName, Role: domain.Role(r.Role), Meaning: r.Meaning,
		Signed: r.Signed, SignedAt: r.SignedAt.UTC()}
}

// lockDonation reads a donation for update: determinations, and the holds they bring, queue
// behind each other.
func lockDonation(t *tx, id int64) (donationRow, error) {
	var row donationRow
	err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, domain.Errorf(domain.ENotFound, "there is no donation with id %d", id)
	}
	return row, err
}

// RecordDonorTest records one test result of the donation's maternal donor.
func (s *Store) RecordDonorTest(ctx context.Context, actor domain.Actor, donationID int64, r domain.DonorTestResult) (domain.DonorTestResult, error) {
	if err := r.Validate(s.now()); err != nil {
		return r, err
	}
	var out domain.DonorTestResult
	err := s.write(ctx, actor, func(t *tx) error {
		if _, err := lockDonation(t, donationID); err != nil {
			return err
		}
		row := donorTestRow{DonationID: donationID, Test: string(r.Test), Result: r.Result, TestedAt: r.TestedAt.UTC(),
			EnteredBy: actor.UserID, EnteredAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("insert donor test: %w", err)
		}
		out = row.toDomain()
		t.audit("donor_test.create", "donation", donationID, nil, out, "")
		return nil
	})
	return out, err
}

// RecordScreening records the donor's screening: the questionnaire and its outcome.
func (s *Store) RecordScreening(ctx context.Context, actor domain.Actor, donationID int64, sc domain.DonorScreening) (domain.DonorScreening, error) {
	sc.Notes = strings.TrimSpace(sc.Notes)
	if err := sc.Validate(s.now()); err != nil {
		return sc, err
	}
	var out domain.DonorScreening
	err := s.write(ctx, actor, func(t *tx) error {
		if _, err := lockDonation(t, donationID); err != nil {
			return err
		}
		row := donorScreeningRow{DonationID: donationID, QuestionnaireComplete: sc.QuestionnaireComplete, Outcome: sc.Outcome,
			Notes: sc.Notes, ScreenedAt: sc.ScreenedAt.UTC(), EnteredBy: actor.UserID, EnteredAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("insert donor screening: %w", err)
		}
		out = row.toDomain()
		t.audit("donor_screening.create", "donation", donationID, nil, out, "")
		return nil
	})
	return out, err
}

// DetermineEligibility signs the determination (the signer re-enters their password). An
// ineligible determination puts every released or quarantined lot of the donation on hold,
// each audited, in the same transaction, so that no unit or bag of it can be given from the
// moment it is signed.
func (s *Store) DetermineEligibility(ctx context.Context, actor domain.Actor, donationID int64, determination domain.Eligibility, password, reason string) (domain.DonationDetail, error) {
	if err := domain.ValidateDetermination(determination); err != nil {
		return domain.DonationDetail{}, err
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.DonationDetail{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		don, err := lockDonation(t, donationID)
		if err != nil {
			return err
		}
		var tests []donorTestRow
		if err := t.db.Where("donation_id = ?", donationID).Order("id").Find(&tests).Error; err != nil {
			return err
		}
		results := make([]domain.DonorTestResult, len(tests))
		for i, r := range tests {
			results[i] = r.toDomain()
		}
		facts := domain.DeterminationFacts{Current: domain.Eligibility(don.Eligibility), Determination: determination,
			Reason: reason, Latest: domain.LatestDonorTests(results)}
		var screenings []donorScreeningRow
		if err := t.db.Where("donation_id = ?", donationID).Order("id DESC").Limit(1).Find(&screenings).Error; err != nil {
			return err
		}
		if len(screenings) == 1 {
			sc := screenings[0].toDomain()
			facts.Screening = &sc
		}
		if err := domain.CheckDetermination(facts); err != nil {
			return err
		}
		row := eligibilityDeterminationRow{DonationID: donationID, Determination: string(determination), Reason: strings.TrimSpace(reason),
			UserID: actor.UserID, PrintedName: actor.FullName, Role: string(actor.Role), Meaning: domain.DeterminationMeaning(determination),
			Signed: true, SignedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("insert determination: %w", err)
		}
		before := don.toDomain()
		if err := t.db.Model(&donationRow{}).Where("id = ?", donationID).Update("eligibility", string(determination)).Error; err != nil {
			return err
		}
		don.Eligibility = string(determination)
		t.audit("donation.eligibility", "donation", donationID, before, don.toDomain(), row.Reason)
		t.audit("eligibility_determination.create", "eligibility_determination", row.ID, nil, row.toDomain(), row.Meaning)
		if determination != domain.Ineligible {
			return nil
		}
		var lots []lotRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("donation_id = ?", donationID).Order("id").Find(&lots).Error; err != nil {
			return err
		}
		for _, lot := range lots {
			if !domain.IneligibleDonorHolds(domain.LotStatus(lot.Status)) {
				continue
			}
			if err := s.holdLot(t, lot, domain.IneligibleHoldReason(don.DIN, row.Reason)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return domain.DonationDetail{}, err
	}
	return s.DonationDetail(ctx, donationID)
}

// holdLot puts a lot on hold without a signature of its own (a failing result, an ineligible
// donor), audited with the reason.
func (s *Store) holdLot(t *tx, lot lotRow, reason string) error {
	before := lot.Status
	if err := domain.LotTransition(domain.LotStatus(before), domain.LotOnHold); err != nil {
		return err
	}
	if err := t.db.Model(&lotRow{}).Where("id = ?", lot.ID).Updates(map[string]any{"status": string(domain.LotOnHold), "updated_at": t.now}).Error; err != nil {
		return err
	}
	t.audit("lot.hold", "lot", lot.ID, map[string]any{"status": before}, map[string]any{"status": domain.LotOnHold}, reason)
	return s.openRecall(t, lot.ID, domain.RecallCauseHold, reason)
}

// DonationDetail returns a donation with its donor's records and its look-back.
func (s *Store) DonationDetail(ctx context.Context, id int64) (domain.DonationDetail, error) {
	db := s.read(ctx)
	var don donationRow
	if err := db.Take(&don, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.DonationDetail{}, domain.Errorf(domain.ENotFound, "there is no donation with id %d", id)
	} else if err != nil {
		return domain.DonationDetail{}, classify(err)
	}
	d := domain.DonationDetail{Donation: don.toDomain(), Tests: []domain.DonorTestResult{}, Screenings: []domain.DonorScreening{},
		Determinations: []domain.EligibilityDetermination{}}
	var tests []donorTestRow
	if err := db.Where("donation_id = ?", id).Order("id").Find(&tests).Error; err != nil {
		return d, classify(err)
	}
	for _, r := range tests {
		d.Tests = append(d.Tests, r.toDomain())
	}
	latest := domain.LatestDonorTests(d.Tests)
	for _, t := range domain.DonorTests {
		req := domain.RequiredDonorTest{Test: t, Label: t.Label()}
		if r, ok := latest[t]; ok {
			req.Result = &r
		}
		d.Required = append(d.Required, req)
	}
	var screenings []donorScreeningRow
	if err := db.Where("donation_id = ?", id).Order("id").Find(&screenings).Error; err != nil {
		return d, classify(err)
	}
	for _, r := range screenings {
		d.Screenings = append(d.Screenings, r.toDomain())
	}
	var dets []eligibilityDeterminationRow
	if err := db.Where("donation_id = ?", id).Order("id").Find(&dets).Error; err != nil {
		return d, classify(err)
	}
	for _, r := range dets {
		d.Determinations = append(d.Determinations, r.toDomain())
	}
	lb, err := s.lookBack(db, don)
	if err != nil {
		return d, classify(fmt.Errorf("look-back of donation %d: %w", id, err))
	}
	d.LookBack = lb
	return d, nil
}

// lookBack follows a donation forward to every lot, unit, dose bag and patient, through the
// trace of its lots' bags.
func (s *Store) lookBack(db *gorm.DB, don donationRow) (domain.LookBack, error) {
	lb := domain.LookBack{Lots: []domain.Lot{}, Units: []domain.Unit{}, Bags: []domain.LookBackBag{}, Patients: []domain.LookBackPatient{}}
	var lots []lotRow
	if err := db.Where("donation_id = ?", don.ID).Order("id").Find(&lots).Error; err != nil {
		return lb, err
	}
	if len(lots) == 0 {
		return lb, nil
	}
	ids := make([]int64, len(lots))
	for i, l := range lots {
		ids[i] = l.ID
		lb.Lots = append(lb.Lots, l.toDomain(don.DIN))
	}
	var units []unitRow
	if err := db.Where("lot_id IN ?", ids).Order("lot_id, division").Find(&units).Error; err != nil {
		return lb, err
	}
	for _, u := range units {
		lb.Units = append(lb.Units, u.toDomain())
	}
	bags, err := s.bagTraces(db, "lot_id IN ?", ids)
	if err != nil {
		return lb, err
	}
	seen := map[int64]int{}
	for _, b := range bags {
		infused := b.Infusion != nil
		lb.Bags = append(lb.Bags, domain.LookBackBag{ID: b.Bag.ID, BagID: b.Bag.BagID, EyeReadable: b.Bag.EyeReadable, LotID: b.Bag.LotID,
			Status: b.Bag.Status, PatientID: b.Bag.PatientID, SubjectID: b.SubjectID, Infused: infused})
		if i, ok := seen[b.Bag.PatientID]; ok {
			lb.Patients[i].Infused = lb.Patients[i].Infused || infused
			continue
		}
		seen[b.Bag.PatientID] = len(lb.Patients)
		lb.Patients = append(lb.Patients, domain.LookBackPatient{ID: b.Bag.PatientID, SubjectID: b.SubjectID,
			ChainOfIdentity: b.ChainOfIdentity, Infused: infused})
	}
	return lb, nil
}
