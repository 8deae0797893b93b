package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type verificationRow struct {
	ID         int64 `gorm:"primaryKey"`
	DoseBagID  *int64
	PatientID  *int64
	Wristband  string
	Code       string
	CodeKind   string
	Pass       bool
	Checks     string
	Failed     string
	NurseID    int64
	WitnessID  *int64
	Ward       string
	VerifiedAt time.Time
}

func (verificationRow) TableName() string { return "verifications" }

// Verify gathers what the bedside checks look at, runs them and stores the attempt.
func (s *Store) Verify(ctx context.Context, actor domain.Actor, req domain.BedsideRequest) (domain.Verification, error) {
	req.Wristband = strings.TrimSpace(req.Wristband)
	if req.Wristband == "" {
		return domain.Verification{}, domain.FieldError("wristband", "scan the patient's wristband first")
	}
	if strings.TrimSpace(req.Scan.Code) == "" {
		return domain.Verification{}, domain.FieldError("code", "scan the dose bag's label")
	}
	var out domain.Verification
	err := s.write(ctx, actor, func(t *tx) error {
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		f := domain.BedsideFacts{Now: t.now, Site: s.opts.Site, WristbandMRN: req.Wristband, Protocol: spec.Protocol(),
			NurseUserID: actor.UserID, Witness: req.Witness, LabelAuthentic: req.Scan.LabelRefusal == "", LabelProblem: req.Scan.LabelRefusal}
		var patientRowID *int64
		var pr patientRow
		if err := t.db.Where("mrn = ?", req.Wristband).Take(&pr).Error; err == nil {
			p, err := patientWithWeight(t.db, pr)
			if err != nil {
				return err
			}
			f.Patient, patientRowID = &p, &p.ID
			if f.PatientInfused, err = patientInfused(t.db, p.ID); err != nil {
				return err
			}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		var bagRowID *int64
		var bag doseBagRow
		if req.Scan.BagID != "" {
			err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("bag_id = ?", req.Scan.BagID).Take(&bag).Error
			switch {
			case err == nil:
				bagRowID = &bag.ID
				if err := s.bagFacts(t, bag, req.Scan, &f); err != nil {
					return err
				}
			case errors.Is(err, gorm.ErrRecordNotFound):
				f.LabelAuthentic, f.LabelProblem = false, "no dose bag has the id "+req.Scan.BagID
			default:
				return err
			}
		} else if f.LabelAuthentic {
			f.LabelAuthentic, f.LabelProblem = false, "the scanned code names no dose bag"
		}

		verdict := domain.VerifyBedside(f)
		checks, _ := json.Marshal(verdict.Checks)
		row := verificationRow{DoseBagID: bagRowID, PatientID: patientRowID, Wristband: req.Wristband, Code: req.Scan.Code,
			CodeKind: req.Scan.CodeKind, Pass: verdict.Pass, Checks: string(checks), Failed: strings.Join(verdict.Failed(), ","),
			NurseID: actor.UserID, Ward: strings.TrimSpace(req.Ward), VerifiedAt: t.now}
		if req.Witness.Authenticated {
			row.WitnessID = &req.Witness.UserID
		}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("store verification: %w", err)
		}
		out = domain.Verification{ID: row.ID, Pass: verdict.Pass, Checks: verdict.Checks, CodeKind: row.CodeKind, VerifiedAt: t.now}
		if bagRowID != nil {
			out.DoseBagID = *bagRowID
		}
		if patientRowID != nil {
			out.PatientID = *patientRowID
		}
		t.audit("bedside.verify", "verification", row.ID, nil, out, row.Failed)
		if verdict.Pass {
			if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), domain.BagVerified); err == nil {
				if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", string(domain.BagVerified)).Error; err != nil {
					return err
				}
				t.audit("dose_bag.verify", "dose_bag", bag.ID, map[string]any{"status": bag.Status}, map[string]any{"status": domain.BagVerified}, "")
			}
		}
		return nil
	})
	return out, err
}

// bagFacts fills what the checks need to know of the scanned bag, its lot and its custody.
func (s *Store) bagFacts(t *tx, bag doseBagRow, scan domain.CustodyScan, f *domain.BedsideFacts) error {
	var owner domain.Patient
	if f.Patient != nil && f.Patient.ID == bag.PatientID {
		owner = *f.Patient // the wristband's patient, read already
	} else {
		var err error
		if owner, err = patientByID(t.db, bag.PatientID); err != nil {
			return err
		}
	}
	labelMRN := owner.MRN // a typed or ISBT-scanned id carries no MRN: the bag's record does
	if scan.CodeKind == domain.CodeQR && scan.LabelRefusal == "" {
		labelMRN = scan.MRN
	}
	b := &domain.BagFacts{BagID: bag.BagID, PatientID: bag.PatientID, LabelMRN: labelMRN, ExpiresAt: bag.ExpiresAt, ViableCells: bag.ViableCells}
	var kinds []string // the kinds of accepted scan the bag has had, in one query
	if err := t.db.Model(&custodyScanRow{}).Distinct("kind").Where("dose_bag_id = ? AND accepted", bag.ID).Pluck("kind", &kinds).Error; err != nil {
		return err
	}
	b.Dispatched, b.Received = slices.Contains(kinds, domain.ScanDispatch), slices.Contains(kinds, domain.ScanReceive)
	var n int64
	var err error
	if b.OpenExcursion, err = openExcursion(t.db, bag.ID); err != nil {
		return err
	}
	if err := t.db.Model(&infusionRow{}).Where("dose_bag_id = ?", bag.ID).Count(&n).Error; err != nil {
		return err
	}
	b.Infused = n > 0
	if f.LabelAuthentic && scan.PrintSerial > 0 {
		current, err := currentSerial(t.db, "dose_bag", bag.ID)
		if err != nil {
			return err
		}
		if current != scan.PrintSerial {
			f.LabelAuthentic, f.LabelProblem = false, fmt.Sprintf("this is print %d, but print %d replaced it", scan.PrintSerial, current)
		}
	}
	var lot lotRow
	if err := t.db.Take(&lot, bag.LotID).Error; err != nil {
		return err
	}
	var sigs []signatureRow
	if err := t.db.Where("lot_id = ?", lot.ID).Find(&sigs).Error; err != nil {
		return err
	}
	list := make([]domain.Signature, len(sigs))
	for i, sg := range sigs {
		list[i] = sg.toDomain()
	}
	lf := &domain.LotFacts{LotNumber: lot.LotNumber, Status: lot.Status, ExpiresAt: lot.ExpiresAt}
	for _, pid := range domain.ExceptionalPatients(list) {
		if pid == bag.PatientID {
			lf.ExceptionalForPatientID = pid
		}
	}
	f.Bag, f.Lot = b, lf
	return nil
}

// StartInfusion starts from a passing verification younger than the spec allows. The lot is
// checked again, since a recall may have come in between.
func (s *Store) StartInfusion(ctx context.Context, actor domain.Actor, verificationID int64) (domain.Infusion, error) {
	var out domain.Infusion
	err := s.write(ctx, actor, func(t *tx) error {
		var v verificationRow
		if err := t.db.Take(&v, verificationID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.FieldError("verification_id", "there is no verification %d", verificationID)
		} else if err != nil {
			return err
		}
		if !v.Pass || v.DoseBagID == nil || v.PatientID == nil {
			return domain.Errorf(domain.ERuleViolated, "verification %d did not pass (%s): an infusion needs a passing verification", v.ID, v.Failed)
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		if age := t.now.Sub(v.VerifiedAt); age >= spec.VerificationMaxAge() {
			return domain.Errorf(domain.ERuleViolated, "the verification is %d minutes old; verify again at the bedside (at most %d minutes before starting)",
				int(age.Minutes()), spec.VerificationMaxAgeMin)
		}
		var bag doseBagRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&bag, *v.DoseBagID).Error; err != nil {
			return err
		}
		var lot lotRow
		if err := t.db.Take(&lot, bag.LotID).Error; err != nil {
			return err
		}
		if err := s.lotUsableFor(t, lot, bag.PatientID); err != nil {
			return err
		}
		if !t.now.Before(bag.ExpiresAt) {
			return domain.Errorf(domain.ERuleViolated, "the bag expired at %s", bag.ExpiresAt.UTC().Format("15:04 UTC"))
		}
		if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), domain.BagInfused); err != nil {
			return err
		}
		row := infusionRow{VerificationID: v.ID, DoseBagID: bag.ID, PatientID: bag.PatientID, StartedBy: actor.UserID, StartedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "this patient or this bag has already been infused: do not infuse again")
			}
			return fmt.Errorf("start infusion: %w", err)
		}
		if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", string(domain.BagInfused)).Error; err != nil {
			return err
		}
		out = row.toDomain()
		t.audit("infusion.start", "infusion", row.ID, nil, out, "")
		t.audit("dose_bag.infuse", "dose_bag", bag.ID, map[string]any{"status": bag.Status}, map[string]any{"status": domain.BagInfused}, "")
		return nil
	})
	return out, err
}

func (r infusionRow) toDomain() domain.Infusion {
	return domain.Infusion{ID: r.ID, VerificationID: r.VerificationID, DoseBagID: r.DoseBagID, PatientID: r.PatientID,
		StartedAt: r.StartedAt.UTC(), EndedAt: r.EndedAt, VolumeML: r.VolumeML, Reactions: r.Reactions}
}

// EndInfusion records the end: volume infused and any reactions.
func (s *Store) EndInfusion(ctx context.Context, actor domain.Actor, infusionID int64, volumeML float64, reactions string) (domain.Infusion, error) {
	if volumeML < 0 || volumeML > 2000 || volumeML != volumeML {
		return domain.Infusion{}, domain.FieldError("volume_ml", "the volume infused is 0 to 2000 mL")
	}
	if len(reactions) > 2000 {
		return domain.Infusion{}, domain.FieldError("reactions", "describe reactions in at most 2000 characters")
	}
	var out domain.Infusion
	err := s.write(ctx, actor, func(t *tx) error {
		var row infusionRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, infusionID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.Errorf(domain.ENotFound, "there is no infusion %d", infusionID)
		} else if err != nil {
			return err
		}
		if row.EndedAt != nil {
			return domain.Errorf(domain.EConflict, "infusion %d already ended at %s", row.ID, row.EndedAt.UTC().Format("15:04 UTC"))
		}
		now := t.now
		row.EndedAt, row.VolumeML, row.Reactions = &now, &volumeML, strings.TrimSpace(reactions)
		if err := t.db.Save(&row).Error; err != nil {
			return err
		}
		out = row.toDomain()
		t.audit("infusion.end", "infusion", row.ID, nil, out, "")
		return nil
	})
	return out, err
}
