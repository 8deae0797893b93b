package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
	// WristbandEntry and CodeEntry: domain.Entry*, or empty when not said.
	WristbandEntry string
	CodeEntry      string
	// WitnessTokenID is the witness token the witness confirmed with; the database lets one
	// verification use it.
	WitnessTokenID *int64
	// EntryReason and EntryReasonText: why a code was typed or not a signed QR (domain.Reason*).
	EntryReason     string
	EntryReasonText string
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
	if err := domain.ValidateEntry("wristband_entry", req.WristbandEntry); err != nil {
		return domain.Verification{}, err
	}
	if err := domain.ValidateEntry("code_entry", req.CodeEntry); err != nil {
		return domain.Verification{}, err
	}
	if req.EntryReason != nil {
		r := domain.EntryReason{Code: strings.TrimSpace(req.EntryReason.Code), Text: strings.TrimSpace(req.EntryReason.Text)}
		req.EntryReason = &r
	}
	label := domain.LabelFacts{CodeKind: req.Scan.CodeKind, Refusal: req.Scan.LabelRefusal, ScannedSerial: req.Scan.PrintSerial,
		CodeEntry: req.CodeEntry, WristbandEntry: req.WristbandEntry, Reason: req.EntryReason}
	if err := domain.ValidateEntryReason(label); err != nil {
		return domain.Verification{}, err
	}
	witnessHash := ""
	if req.WitnessToken != "" {
		witnessHash = tokenHash(req.WitnessToken)
	}
	var out domain.Verification
	err := s.write(ctx, actor, func(t *tx) error {
		// The bag is locked first, and the facts are read after the lock was granted, so they
		// include every scan, print and infusion committed before then.
		var bag doseBagRow
		found := false
		if req.Scan.BagID != "" {
			var err error
			if found, err = t.lockBag(req.Scan.BagID, &bag); err != nil {
				return err
			}
		}
		facts, err := readBedsideFacts(t, req.Wristband, req.Scan.BagID, witnessHash)
		if err != nil {
			return err
		}
		f := domain.BedsideFacts{Now: t.now, Site: s.opts.Site, WristbandMRN: req.Wristband, NurseUserID: actor.UserID,
			Witness: req.Witness, Label: label}
		var bagRowID *int64
		switch {
		case found:
			bagRowID = &bag.ID
		case f.Label.Refusal != "":
		case req.Scan.BagID != "":
			f.Label.Refusal = "no dose bag has the id " + req.Scan.BagID
		default:
			f.Label.Refusal = "the scanned code names no dose bag"
		}
		if err := s.bedsideFacts(t, facts, found, bag, req.Scan, &f); err != nil {
			return err
		}
		if found && req.Scan.CodeKind == domain.CodeQR && f.Label.Refusal == "" {
			if f.Label.Key, err = printKey(t.db, "dose_bag", bag.ID, req.Scan.PrintSerial, req.Scan.KeyID); err != nil {
				return err
			}
		}
		if req.WitnessToken != "" {
			f.Witness = domain.WitnessFromToken(witnessTokenFacts(facts), actor.UserID, t.now)
		}
		var patientRowID *int64
		if f.Patient != nil {
			patientRowID = &f.Patient.ID
		}

		verdict := domain.VerifyBedside(f)
		checks, _ := json.Marshal(verdict.Checks)
		row := verificationRow{DoseBagID: bagRowID, PatientID: patientRowID, Wristband: req.Wristband, Code: req.Scan.Code,
			CodeKind: req.Scan.CodeKind, Pass: verdict.Pass, Checks: string(checks), Failed: strings.Join(verdict.Failed(), ","),
			NurseID: actor.UserID, Ward: strings.TrimSpace(req.Ward), VerifiedAt: t.now,
			WristbandEntry: req.WristbandEntry, CodeEntry: req.CodeEntry}
		if f.Witness.Authenticated {
			row.WitnessID = &f.Witness.UserID
		}
		if f.Witness.TokenID != 0 {
			row.WitnessTokenID = &f.Witness.TokenID
		}
		if req.EntryReason != nil {
			row.EntryReason, row.EntryReasonText = req.EntryReason.Code, req.EntryReason.Text
		}
		if err := t.db.Create(&row).Error; isUnique(err) {
			return domain.Errorf(domain.EConflict, "the witness token was used by another verification at the same moment; the witness must enter their password again")
		} else if err != nil {
			return fmt.Errorf("store verification: %w", err)
		}
		out = domain.Verification{ID: row.ID, Pass: verdict.Pass, Checks: verdict.Checks, CodeKind: row.CodeKind, VerifiedAt: t.now,
			WristbandEntry: row.WristbandEntry, CodeEntry: row.CodeEntry, EntryReason: req.EntryReason}
		if p := f.Patient; p != nil {
			out.Patient = &domain.PatientIdent{Name: p.Name, DateOfBirth: p.DateOfBirth, MRN: p.MRN, SubjectID: p.SubjectID}
		}
		out.Message = domain.VerdictMessage(verdict.Pass, verdict.Failed(), out.Patient)
		out.ReturnOffered = verdict.ReturnOffered
		if bagRowID != nil {
			out.DoseBagID = *bagRowID
		}
		if patientRowID != nil {
			out.PatientID = *patientRowID
		}
		t.audit("bedside.verify", "verification", row.ID, nil, verificationAudit(out), row.Failed)
		if out.Patient != nil {
			t.audit("patient.disclose", "patient", out.PatientID, nil,
				map[string]any{"fields": domain.PatientDisclosedFields, "via": "bedside.verify", "verification_id": row.ID}, "")
		}
		var devPatient int64
		if patientRowID != nil {
			devPatient = *patientRowID
		}
		if d := domain.TypedEntryDeviation(devPatient, row.ID, label); d != nil {
			if _, err := t.recordDeviation(*d, actor.UserID); err != nil {
				return err
			}
		}
		if row.WitnessTokenID != nil {
			t.audit("witness_token.use", "witness_token", *row.WitnessTokenID, nil,
				map[string]any{"verification_id": row.ID, "witness_id": f.Witness.UserID, "used_at": t.now}, "")
		}
		// A bag verified again stays verified: nothing changes, so nothing is written for it
		// (the verification itself is recorded and audited above).
		if verdict.Pass && bag.Status != string(domain.BagVerified) {
			if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), domain.BagVerified); err == nil {
				if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", string(domain.BagVerified)).Error; err != nil {
					return err
				}
				t.audit("dose_bag.verify", "dose_bag", bag.ID, map[string]any{"status": bag.Status}, map[string]any{"status": domain.BagVerified}, "")
			}
		}
		return nil
	})
	if isUnique(err) {
		// Two verifications named one witness token at the same moment; the database let one
		// of them record it.
		return domain.Verification{}, domain.Errorf(domain.EConflict, "the witness token was used for another verification at the same moment: the witness must confirm again")
	}
	return out, err
}

// bedsideFactsSQL is the query of readBedsideFacts.
const bedsideFactsSQL = `SELECT sv.version AS spec_version,
			p.id, p.subject_id, p.mrn, p.name, p.date_of_birth, p.arm, p.enrolled_at, p.chain_of_identity,
			(SELECT w.weight_kg FROM patient_weights w WHERE w.patient_id = p.id ORDER BY w.id DESC LIMIT 1) AS weight_kg,
			EXISTS (SELECT 1 FROM infusions i WHERE i.patient_id = p.id) AS patient_infused,
			o.mrn AS owner_mrn, l.lot_number, l.status AS lot_status, l.expires_at AS lot_expires_at,
			EXISTS (SELECT 1 FROM custody_scans c WHERE c.dose_bag_id = b.id AND c.accepted AND c.kind = ?) AS dispatched,
			EXISTS (SELECT 1 FROM custody_scans c WHERE c.dose_bag_id = b.id AND c.accepted AND c.kind = ?) AS received,
			` + openExcursionSQL + ` AS open_excursion,
			EXISTS (SELECT 1 FROM infusions i WHERE i.dose_bag_id = b.id) AS bag_infused,
			` + bagPrintSerialSQL + ` AS print_serial,
			s.action AS sign_action, s.user_id AS sign_user_id,
			d.weight_kg AS order_weight_kg, d.target_viable_cells AS order_target, d.spec_version AS order_spec_version,
			lw.id AS later_weight_id, lw.weight_kg AS later_weight_kg,
			(SELECT MAX(dc.weight_id) FROM dose_order_confirmations dc WHERE dc.dose_order_id = d.id) AS confirmed_weight_id,
			wt.id AS wt_id, wt.witness_id AS wt_witness_id, wt.issued_to AS wt_issued_to, wt.expires_at AS wt_expires_at,
			EXISTS (SELECT 1 FROM verifications v WHERE v.witness_token_id = wt.id) AS wt_used,
			wu.full_name AS wt_witness_name, wu.locked_until AS wt_locked_until, wu.disabled_at AS wt_disabled_at,
			wu.disabled_reason AS wt_disabled_reason,
			EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = wt.witness_id AND r.role = '` + string(domain.RoleNurse) + `') AS wt_nurse,
			EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = wt.witness_id AND r.role = '` + string(domain.RolePhysician) + `') AS wt_physician
		FROM (SELECT ` + currentSpecVersionSQL + ` AS version) sv
			LEFT JOIN patients p ON lower(p.mrn) = lower(?)
			LEFT JOIN dose_bags b ON b.bag_id = ?
			LEFT JOIN patients o ON o.id = b.patient_id
			LEFT JOIN lots l ON l.id = b.lot_id
			LEFT JOIN signatures s ON s.lot_id = b.lot_id AND s.patient_id = b.patient_id AND s.action IN (?, ?)
			LEFT JOIN dose_orders d ON d.id = b.dose_order_id
			LEFT JOIN patient_weights lw ON lw.id = (SELECT MAX(w.id) FROM patient_weights w
				WHERE w.patient_id = d.patient_id AND w.id > COALESCE(d.weight_id, 0))
			LEFT JOIN witness_tokens wt ON wt.token_hash = ?
			LEFT JOIN users wu ON wu.id = wt.witness_id`

// bedsideFactsRow is one row of bedsideFactsQuery.
type bedsideFactsRow struct {
	SpecVersion     sql.NullInt64
	ID              sql.NullInt64
	SubjectID       sql.NullString
	MRN             sql.NullString
	Name            sql.NullString
	DateOfBirth     sql.NullString
	Arm             sql.NullString
	EnrolledAt      sql.NullTime
	ChainOfIdentity sql.NullString
	WeightKg        sql.NullFloat64
	PatientInfused  bool
	OwnerMRN        sql.NullString
	LotNumber       sql.NullString
	LotStatus       sql.NullString
	LotExpiresAt    sql.NullTime
	Dispatched      bool
	Received        bool
	OpenExcursion   bool
	BagInfused      bool
	PrintSerial     sql.NullInt64
	SignAction      sql.NullString
	SignUserID      sql.NullInt64
	// The bag's dose order: its weight, target and spec version, the latest weight recorded
	// after it and the latest weight a physician confirmed it against.
	OrderWeightKg     sql.NullFloat64
	OrderTarget       sql.NullInt64
	OrderSpecVersion  sql.NullInt64
	LaterWeightID     sql.NullInt64
	LaterWeightKg     sql.NullFloat64
	ConfirmedWeightID sql.NullInt64
	// The witness token named by the verification, if any.
	TokenID          sql.NullInt64
	TokenWitnessID   sql.NullInt64
	TokenIssuedTo    sql.NullInt64
	TokenExpiresAt   sql.NullTime
	TokenUsed        bool
	TokenWitnessName sql.NullString
	TokenLockedUntil sql.NullTime
	TokenDisabledAt  sql.NullTime
	TokenDisabledWhy sql.NullString
	TokenNurse       bool
	TokenPhysician   bool
}

// witnessTokenFacts reads the witness token from the rows of readBedsideFacts.
func witnessTokenFacts(rows []bedsideFactsRow) domain.WitnessTokenFacts {
	if len(rows) == 0 || !rows[0].TokenID.Valid {
		return domain.WitnessTokenFacts{}
	}
	r := rows[0]
	f := domain.WitnessTokenFacts{Found: true, ID: r.TokenID.Int64, UserID: r.TokenWitnessID.Int64, Name: r.TokenWitnessName.String,
		IssuedTo: r.TokenIssuedTo.Int64, ExpiresAt: r.TokenExpiresAt.Time, Used: r.TokenUsed,
		LockedUntil: nullTime(r.TokenLockedUntil), DisabledAt: nullTime(r.TokenDisabledAt), DisabledReason: r.TokenDisabledWhy.String}
	if r.TokenNurse {
		f.Roles = append(f.Roles, domain.RoleNurse)
	}
	if r.TokenPhysician {
		f.Roles = append(f.Roles, domain.RolePhysician)
	}
	return f
}

// readBedsideFacts reads what the checks look at in one query: the current specification,
// the patient wearing the wristband (their latest weight, whether they were infused) and,
// when bagID names a bag, its owner's MRN, lot, custody (dispatched, received, open
// excursion), infusion, current print serial, dose order (weight, target, spec version, the
// latest weight after it and its confirmation) and the lot's exceptional-release signatures
// for the bag's patient, one a row; and the witness token whose hash is tokenHash ("" for
// none): its witness, device, expiry and whether a verification used it.
func readBedsideFacts(t *tx, mrn, bagID, tokenHash string) ([]bedsideFactsRow, error) {
	var rows []bedsideFactsRow
	args := []any{domain.ScanDispatch, domain.ScanReceive, mrn, bagID,
		string(domain.SignExceptionalQA), string(domain.SignExceptionalPhysician), tokenHash}
	err := t.queryRows(bedsideFactsSQL, args, func(scan func(...any) error) error {
		var r bedsideFactsRow
		if err := scan(&r.SpecVersion, &r.ID, &r.SubjectID, &r.MRN, &r.Name, &r.DateOfBirth, &r.Arm, &r.EnrolledAt,
			&r.ChainOfIdentity, &r.WeightKg, &r.PatientInfused, &r.OwnerMRN, &r.LotNumber, &r.LotStatus, &r.LotExpiresAt,
			&r.Dispatched, &r.Received, &r.OpenExcursion, &r.BagInfused, &r.PrintSerial, &r.SignAction, &r.SignUserID,
			&r.OrderWeightKg, &r.OrderTarget, &r.OrderSpecVersion, &r.LaterWeightID, &r.LaterWeightKg, &r.ConfirmedWeightID,
			&r.TokenID, &r.TokenWitnessID, &r.TokenIssuedTo, &r.TokenExpiresAt, &r.TokenUsed, &r.TokenWitnessName,
			&r.TokenLockedUntil, &r.TokenDisabledAt, &r.TokenDisabledWhy, &r.TokenNurse, &r.TokenPhysician); err != nil {
			return fmt.Errorf("read the facts of the verification: %w", err)
		}
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// bedsideFacts fills f from the rows of readBedsideFacts; found tells whether the scan named
// a bag, which is bag.
func (s *Store) bedsideFacts(t *tx, rows []bedsideFactsRow, found bool, bag doseBagRow, scan domain.CustodyScan, f *domain.BedsideFacts) error {
	if len(rows) == 0 || !rows[0].SpecVersion.Valid {
		return classify(fmt.Errorf("read specification: %w", gorm.ErrRecordNotFound))
	}
	r := rows[0]
	spec, err := s.specForVersion(t.db, int(r.SpecVersion.Int64))
	if err != nil {
		return err
	}
	f.Protocol = spec.Protocol()
	str := func(p sql.NullString) string { return p.String }
	if r.ID.Valid {
		if !r.WeightKg.Valid {
			return classify(fmt.Errorf("read weight: %w", gorm.ErrRecordNotFound))
		}
		pr := patientRow{ID: r.ID.Int64, SubjectID: str(r.SubjectID), MRN: str(r.MRN), Name: str(r.Name), DateOfBirth: str(r.DateOfBirth),
			Arm: str(r.Arm), ChainOfIdentity: str(r.ChainOfIdentity)}
		if r.EnrolledAt.Valid {
			pr.EnrolledAt = r.EnrolledAt.Time
		}
		p := pr.toDomain(r.WeightKg.Float64)
		f.Patient, f.PatientInfused = &p, r.PatientInfused
	}
	if !found {
		return nil
	}
	if !r.LotStatus.Valid || !r.LotExpiresAt.Valid {
		return fmt.Errorf("read the bag's lot: %w", gorm.ErrRecordNotFound)
	}
	if !r.OrderWeightKg.Valid || !r.OrderTarget.Valid || !r.OrderSpecVersion.Valid {
		return fmt.Errorf("read the bag's dose order: %w", gorm.ErrRecordNotFound)
	}
	// The bag is judged by the spec version its order was made under (dose, tolerance,
	// infusion day), never by a later one.
	orderSpec, err := s.specForVersion(t.db, int(r.OrderSpecVersion.Int64))
	if err != nil {
		return err
	}
	f.Protocol = orderSpec.Protocol()
	f.Order = &domain.OrderFacts{TargetViableCells: r.OrderTarget.Int64, SpecVersion: int(r.OrderSpecVersion.Int64),
		OrderReviewFacts: domain.OrderReviewFacts{OrderWeightKg: r.OrderWeightKg.Float64, TolerancePct: orderSpec.DoseTolerancePct,
			LaterWeightID: r.LaterWeightID.Int64, LaterWeightKg: r.LaterWeightKg.Float64, ConfirmedWeightID: r.ConfirmedWeightID.Int64}}
	labelMRN := str(r.OwnerMRN) // a typed or ISBT-scanned id carries no MRN: the bag's record does
	if scan.CodeKind == domain.CodeQR && scan.LabelRefusal == "" {
		labelMRN = scan.MRN
	}
	f.Bag = &domain.BagFacts{BagID: bag.BagID, PatientID: bag.PatientID, LabelMRN: labelMRN, ExpiresAt: bag.ExpiresAt,
		ViableCells: bag.ViableCells, Dispatched: r.Dispatched, Received: r.Received, OpenExcursion: r.OpenExcursion, Infused: r.BagInfused}
	if st := domain.DoseBagStatus(bag.Status); st == domain.BagReturned || st == domain.BagDiscarded {
		f.Bag.TakenBack = st
	}
	if r.PrintSerial.Valid {
		f.Label.CurrentSerial = r.PrintSerial.Int64
	}
	var sigs []domain.Signature
	for _, r := range rows {
		if r.SignAction.Valid && r.SignUserID.Valid {
			sigs = append(sigs, domain.Signature{Action: domain.SignatureAction(r.SignAction.String), UserID: r.SignUserID.Int64, PatientID: bag.PatientID})
		}
	}
	f.Lot = &domain.LotFacts{LotNumber: str(r.LotNumber), Status: r.LotStatus.String, ExpiresAt: r.LotExpiresAt.Time}
	for _, pid := range domain.ExceptionalPatients(sigs) {
		if pid == bag.PatientID {
			f.Lot.ExceptionalForPatientID = pid
		}
	}
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
		f := domain.InfusionStartFacts{Now: t.now, VerificationID: v.ID, Pass: v.Pass, Failed: v.Failed,
			Complete: v.DoseBagID != nil && v.PatientID != nil, VerifiedAt: v.VerifiedAt}
		if !f.Complete {
			return domain.CanStartInfusion(f)
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		f.MaxAge = spec.VerificationMaxAge()
		var bag doseBagRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&bag, *v.DoseBagID).Error; err != nil {
			return err
		}
		var lot lotRow
		if err := t.db.Take(&lot, bag.LotID).Error; err != nil {
			return err
		}
		if f.Lot, err = lotFactsFor(t, lot, bag.PatientID); err != nil {
			return err
		}
		f.PatientID, f.BagExpires, f.BagStatus = bag.PatientID, bag.ExpiresAt, domain.DoseBagStatus(bag.Status)
		if err := domain.CanStartInfusion(f); err != nil {
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
		if domain.LotUsability(f.Lot, f.PatientID, t.now).Exceptional {
			if _, err := t.recordDeviation(domain.ExceptionalInfusionDeviation(bag.PatientID, row.ID, lot.LotNumber, bag.BagID), actor.UserID); err != nil {
				return err
			}
		}
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
	if len(reactions) > 2000 {
		return domain.Infusion{}, domain.FieldError("reactions", "describe reactions in at most 2000 characters")
	}
	var out domain.Infusion
	err := s.write(ctx, actor, func(t *tx) error {
		var row infusionRow
		if err := t.lockByID(&row, infusionID, "infusion"); err != nil {
			return err
		}
		if row.EndedAt != nil {
			return domain.Errorf(domain.EConflict, "infusion %d already ended at %s", row.ID, row.EndedAt.UTC().Format("15:04 UTC"))
		}
		var bag doseBagRow
		if err := t.db.Select("volume_ml").Take(&bag, row.DoseBagID).Error; err != nil {
			return fmt.Errorf("read the infused bag: %w", err)
		}
		if err := domain.CheckInfusedVolume(volumeML, bag.VolumeML); err != nil {
			return err
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

// verificationAudit is a verification as its audit entry keeps it: without the patient's name
// and date of birth, whose showing is its own entry (patient.disclose).
func verificationAudit(v domain.Verification) domain.Verification {
	v.Patient, v.Message = nil, ""
	return v
}
