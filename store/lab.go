package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

// CreateDonation records a donation, with its given DIN or the next DIN of the site.
func (s *Store) CreateDonation(ctx context.Context, actor domain.Actor, n domain.NewDonation) (domain.Donation, error) {
	if err := n.Validate(s.now()); err != nil {
		return domain.Donation{}, err
	}
	var out domain.Donation
	err := s.write(ctx, actor, func(t *tx) error {
		var din domain.DIN
		var err error
		if n.DIN != "" {
			din, _ = domain.ParseDIN(n.DIN)
		} else if din, err = s.nextDIN(t); err != nil {
			return err
		}
		row := donationRow{DIN: din.String(), CollectedAt: n.CollectedAt.UTC(), Eligibility: string(domain.Pending),
			CreatedBy: actor.UserID, CreatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "DIN %s is already recorded; check the number on the cord's paperwork", din.EyeReadable())
			}
			return fmt.Errorf("insert donation: %w", err)
		}
		out = row.toDomain()
		t.audit("donation.create", "donation", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// nextDIN allocates the next sequence number of the site's facility for this year. The upsert
// is atomic, so concurrent requests on any number of processes get different numbers; numbers
// already taken by DINs entered by hand are skipped.
func (s *Store) nextDIN(t *tx) (domain.DIN, error) {
	year := t.now.In(s.opts.Site).Year() % 100
	for range 1000 {
		var seq int
		err := t.db.Raw(`INSERT INTO din_sequences (facility, year, last_seq) VALUES (?, ?, 1)
			ON CONFLICT (facility, year) DO UPDATE SET last_seq = din_sequences.last_seq + 1
			RETURNING last_seq`, s.opts.FacilityID, year).Scan(&seq).Error
		if err != nil {
			return domain.DIN{}, fmt.Errorf("allocate DIN: %w", err)
		}
		din, err := domain.NewDIN(s.opts.FacilityID, year, seq)
		if err != nil {
			return domain.DIN{}, domain.Errorf(domain.ERuleViolated, "the DIN sequence of facility %s is exhausted for 20%02d", s.opts.FacilityID, year)
		}
		var taken int64
		if err := t.db.Model(&donationRow{}).Where("din = ?", din.String()).Count(&taken).Error; err != nil {
			return domain.DIN{}, err
		}
		if taken == 0 {
			return din, nil
		}
	}
	return domain.DIN{}, domain.Errorf(domain.EConflict, "could not find a free DIN; try again")
}

// CreateLot records a lot made from a donation; it starts in_process.
func (s *Store) CreateLot(ctx context.Context, actor domain.Actor, n domain.NewLot) (domain.Lot, error) {
	n.LotNumber = strings.TrimSpace(n.LotNumber)
	if err := n.Validate(s.now()); err != nil {
		return domain.Lot{}, err
	}
	var out domain.Lot
	err := s.write(ctx, actor, func(t *tx) error {
		var don donationRow
		if err := t.db.Take(&don, n.DonationID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.FieldError("donation_id", "there is no donation with id %d", n.DonationID)
		} else if err != nil {
			return err
		}
		row := lotRow{LotNumber: n.LotNumber, DonationID: n.DonationID, Status: string(domain.LotInProcess),
			ManufacturedAt: n.ManufacturedAt.UTC(), ExpiresAt: n.ExpiresAt.UTC(), CreatedBy: actor.UserID,
			CreatedAt: t.now, UpdatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "lot number %s already exists", n.LotNumber)
			}
			return fmt.Errorf("insert lot: %w", err)
		}
		out = row.toDomain(don.DIN)
		t.audit("lot.create", "lot", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// Lot list paging.
const (
	DefaultLotPage = 50
	MaxLotPage     = 200
)

// ListLots returns lots, newest first.
func (s *Store) ListLots(ctx context.Context, f domain.LotFilter) ([]domain.Lot, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLotPage
	}
	if limit < 0 || limit > MaxLotPage {
		return nil, domain.FieldError("limit", "limit must be 1 to %d", MaxLotPage)
	}
	q := s.read(ctx).Model(&lotRow{}).Select("lots.*").
		Joins("JOIN donations ON donations.id = lots.donation_id").Order("lots.id DESC").Limit(limit)
	if f.Status != "" {
		q = q.Where("lots.status = ?", string(f.Status))
	}
	if f.AfterID > 0 {
		q = q.Where("lots.id < ?", f.AfterID)
	}
	if qs := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(f.Query), " ", "")); qs != "" {
		like := "%" + strings.NewReplacer("%", "", "_", "").Replace(qs) + "%"
		q = q.Where("UPPER(lots.lot_number) LIKE ? OR donations.din LIKE ?", like, like)
	}
	var rows []lotRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("list lots: %w", err))
	}
	dins, err := s.dinsOf(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Lot, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain(dins[r.DonationID])
	}
	return out, nil
}

// dinsOf returns the DIN of each lot's donation, in one query for the whole page.
func (s *Store) dinsOf(ctx context.Context, lots []lotRow) (map[int64]string, error) {
	ids := make([]int64, len(lots))
	for i, l := range lots {
		ids[i] = l.DonationID
	}
	var dons []donationRow
	if len(ids) > 0 {
		if err := s.read(ctx).Select("id, din").Where("id IN ?", ids).Find(&dons).Error; err != nil {
			return nil, classify(fmt.Errorf("read DINs: %w", err))
		}
	}
	out := make(map[int64]string, len(dons))
	for _, d := range dons {
		out[d.ID] = d.DIN
	}
	return out, nil
}

// CurrentSpec returns the specification version in force: the latest.
func (s *Store) CurrentSpec(ctx context.Context) (domain.ReleaseSpec, error) {
	return currentSpec(s.read(ctx))
}

func currentSpec(db *gorm.DB) (domain.ReleaseSpec, error) {
	var row specVersionRow
	if err := db.Where("effective_at IS NOT NULL").Order("version DESC").Take(&row).Error; err != nil {
		return domain.ReleaseSpec{}, classify(fmt.Errorf("read specification: %w", err))
	}
	return decodeSpec(row)
}

// specForVersion is version of the specification, decoded once per process: a version, once
// stored, never changes (a change is a new version), so this cannot go stale. Callers read the
// result and must not modify its marker lists, which the cache shares.
func (s *Store) specForVersion(db *gorm.DB, version int) (domain.ReleaseSpec, error) {
	if spec, ok := s.specs.Load(version); ok {
		return spec.(domain.ReleaseSpec), nil
	}
	spec, err := specVersion(db, version)
	if err != nil {
		return spec, err
	}
	s.specs.Store(version, spec)
	return spec, nil
}

func specVersion(db *gorm.DB, version int) (domain.ReleaseSpec, error) {
	var row specVersionRow
	if err := db.Take(&row, version).Error; err != nil {
		return domain.ReleaseSpec{}, classify(fmt.Errorf("read specification v%d: %w", version, err))
	}
	return decodeSpec(row)
}

func decodeSpec(row specVersionRow) (domain.ReleaseSpec, error) {
	var spec domain.ReleaseSpec
	if err := json.Unmarshal([]byte(row.Spec), &spec); err != nil {
		return spec, fmt.Errorf("specification v%d is not readable: %w", row.Version, err)
	}
	spec.Version = row.Version
	return spec, nil
}

// lockLot reads a lot for update: concurrent changes to one lot queue behind each other.
func lockLot(t *tx, id int64) (lotRow, error) {
	var row lotRow
	err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, domain.Errorf(domain.ENotFound, "there is no lot with id %d", id)
	}
	return row, err
}

func lotResults(db *gorm.DB, lotID int64) ([]domain.QCResult, error) {
	var rows []qcResultRow
	if err := db.Where("lot_id = ?", lotID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read QC results: %w", err)
	}
	out := make([]domain.QCResult, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

func (s *Store) donationDIN(db *gorm.DB, id int64) (donationRow, error) {
	var d donationRow
	err := db.Take(&d, id).Error
	return d, err
}

// Quarantine marks manufacturing complete.
func (s *Store) Quarantine(ctx context.Context, actor domain.Actor, lotID int64) (domain.Lot, error) {
	var out domain.Lot
	err := s.write(ctx, actor, func(t *tx) error {
		row, err := lockLot(t, lotID)
		if err != nil {
			return err
		}
		if err := domain.LotTransition(domain.LotStatus(row.Status), domain.LotQuarantine); err != nil {
			return err
		}
		don, err := s.donationDIN(t.db, row.DonationID)
		if err != nil {
			return err
		}
		before := row.toDomain(don.DIN)
		row.Status, row.UpdatedAt = string(domain.LotQuarantine), t.now
		if err := t.db.Save(&row).Error; err != nil {
			return err
		}
		out = row.toDomain(don.DIN)
		t.audit("lot.quarantine", "lot", lotID, before, out, "manufacturing complete")
		return nil
	})
	return out, err
}

// AddQCResult records a result or a correction. A failing result opens an OOS investigation
// (SPEC §4), and one that fails after release or after an exceptional release puts the lot on
// hold (SPEC §5), each in the same transaction.
func (s *Store) AddQCResult(ctx context.Context, actor domain.Actor, lotID int64, r domain.QCResult) (domain.QCResult, error) {
	spec, err := s.CurrentSpec(ctx)
	if err != nil {
		return r, err
	}
	if err := r.Validate(spec); err != nil {
		return r, err
	}
	r.ID, r.LotID, r.EnteredBy = 0, lotID, actor.UserID
	r.Valid, r.InhibitionPct, r.InvalidReason = nil, nil, ""
	r.Complete(spec)
	err = s.write(ctx, actor, func(t *tx) error {
		lot, err := lockLot(t, lotID)
		if err != nil {
			return err
		}
		facts := domain.QCEntryFacts{LotStatus: domain.LotStatus(lot.Status), Result: r}
		action := "qc_result.create"
		if r.Corrects != nil {
			action = "qc_result.correct"
			var old qcResultRow
			err := t.db.Where("id = ? AND lot_id = ?", *r.Corrects, lotID).Take(&old).Error
			if err == nil {
				corrected := old.toDomain()
				facts.Corrected = &corrected
				var later int64
				if err := t.db.Model(&qcResultRow{}).Where("corrects_id = ?", old.ID).Count(&later).Error; err != nil {
					return err
				}
				facts.CorrectedAlready = later > 0
			} else if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		if err := domain.CheckQCEntry(facts); err != nil {
			return err
		}
		r.EnteredAt = t.now
		row := qcRowFrom(r)
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "result %d was already corrected; correct the latest version instead", *r.Corrects)
			}
			return fmt.Errorf("insert QC result: %w", err)
		}
		r.ID = row.ID
		t.audit(action, "lot", lotID, nil, r, r.Reason)
		if err := s.openInvestigations(t, spec, lotID); err != nil {
			return err
		}
		var exceptional int64
		if domain.LotStatus(lot.Status) == domain.LotQuarantine {
			if err := t.db.Model(&signatureRow{}).Where("lot_id = ? AND action IN ?", lotID,
				[]string{string(domain.SignExceptionalQA), string(domain.SignExceptionalPhysician)}).Count(&exceptional).Error; err != nil {
				return err
			}
		}
		hold := domain.FailureHoldsLot(domain.HoldFacts{Spec: spec, LotStatus: domain.LotStatus(lot.Status), ExceptionalSigned: exceptional > 0, Result: r})
		if hold != "" {
			return s.holdLot(t, lot, hold)
		}
		return nil
	})
	return r, err
}

// openInvestigations opens the OOS investigations the lot's results call for (OOSToOpen),
// each audited.
func (s *Store) openInvestigations(t *tx, spec domain.ReleaseSpec, lotID int64) error {
	results, err := lotResults(t.db, lotID)
	if err != nil {
		return err
	}
	invs, err := lotInvestigations(t.db, lotID)
	if err != nil {
		return err
	}
	for _, r := range domain.OOSToOpen(spec, results, invs) {
		row := qcInvestigationRow{LotID: lotID, Test: string(r.Test), ResultID: r.ID, Status: domain.InvestigationOpen, OpenedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "an OOS investigation of %s was opened at the same moment; record the result again", r.Test)
			}
			return fmt.Errorf("open OOS investigation: %w", err)
		}
		t.audit("qc_investigation.open", "lot", lotID, nil, row.toDomain(),
			fmt.Sprintf("QC result %d (%s) fails specification v%d", r.ID, r.Test, spec.Version))
	}
	return nil
}

func lotInvestigations(db *gorm.DB, lotID int64) ([]domain.Investigation, error) {
	var rows []qcInvestigationRow
	if err := db.Where("lot_id = ?", lotID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read OOS investigations: %w", err)
	}
	out := make([]domain.Investigation, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// CloseInvestigation closes an OOS investigation with QA's electronic signature: the signer
// re-enters their password; the record keeps printed name, time, meaning, conclusion and
// reason, and the results it reviewed.
func (s *Store) CloseInvestigation(ctx context.Context, actor domain.Actor, lotID, invID int64, req domain.CloseInvestigation) (domain.LotDetail, error) {
	if err := req.Validate(); err != nil {
		return domain.LotDetail{}, err
	}
	if err := s.reauthenticate(ctx, actor, req.Password); err != nil {
		return domain.LotDetail{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		if _, err := lockLot(t, lotID); err != nil {
			return err
		}
		var row qcInvestigationRow
		if err := t.db.Where("id = ? AND lot_id = ?", invID, lotID).Take(&row).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.Errorf(domain.ENotFound, "lot %d has no OOS investigation %d", lotID, invID)
		} else if err != nil {
			return err
		}
		var failing qcResultRow
		if err := t.db.Take(&failing, row.ResultID).Error; err != nil {
			return err
		}
		before := row.toDomain()
		if err := domain.CheckCloseInvestigation(domain.CloseFacts{Investigation: before, Request: req, SignerID: actor.UserID, FailingEnteredBy: failing.EnteredBy}); err != nil {
			return err
		}
		var last struct{ Max *int64 }
		if err := t.db.Model(&qcResultRow{}).Select("MAX(id) AS max").Where("lot_id = ? AND test = ?", lotID, row.Test).Scan(&last).Error; err != nil {
			return err
		}
		if last.Max == nil {
			return fmt.Errorf("OOS investigation %d: its failing result %d is missing", row.ID, row.ResultID)
		}
		uid, now := actor.UserID, t.now
		row.Status, row.Conclusion, row.Reason = domain.InvestigationClosed, req.Conclusion, strings.TrimSpace(req.Reason)
		row.ClosedBy, row.PrintedName, row.Meaning, row.ClosedAt, row.LastResultID = &uid, actor.FullName, domain.InvestigationMeaning(req.Conclusion, row.ResultID, *last.Max), &now, last.Max
		res := t.db.Model(&qcInvestigationRow{}).Where("id = ? AND status = ?", row.ID, domain.InvestigationOpen).Updates(map[string]any{
			"status": row.Status, "conclusion": row.Conclusion, "reason": row.Reason, "closed_by": uid, "printed_name": row.PrintedName,
			"meaning": row.Meaning, "closed_at": now, "last_result_id": row.LastResultID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return domain.Errorf(domain.EConflict, "OOS investigation %d was closed by someone else at the same moment; reload the lot", row.ID)
		}
		t.audit("qc_investigation.close", "lot", lotID, before, row.toDomain(), row.Reason)
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		return s.openInvestigations(t, spec, lotID)
	})
	if err != nil {
		return domain.LotDetail{}, err
	}
	return s.LotDetail(ctx, lotID)
}

// Evaluation judges the lot's standing results against the specification in force.
func (s *Store) Evaluation(ctx context.Context, lotID int64) (domain.Evaluation, error) {
	db := s.read(ctx)
	if err := db.Take(&lotRow{}, lotID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Evaluation{}, domain.Errorf(domain.ENotFound, "there is no lot with id %d", lotID)
	} else if err != nil {
		return domain.Evaluation{}, classify(err)
	}
	spec, err := currentSpec(db)
	if err != nil {
		return domain.Evaluation{}, err
	}
	results, err := lotResults(db, lotID)
	if err != nil {
		return domain.Evaluation{}, classify(err)
	}
	invs, err := lotInvestigations(db, lotID)
	if err != nil {
		return domain.Evaluation{}, classify(err)
	}
	return domain.EvaluateLot(spec, results, invs), nil
}

// LotDetail returns everything about one lot.
func (s *Store) LotDetail(ctx context.Context, id int64) (domain.LotDetail, error) {
	db := s.read(ctx)
	var lot lotRow
	if err := db.Take(&lot, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.LotDetail{}, domain.Errorf(domain.ENotFound, "there is no lot with id %d", id)
	} else if err != nil {
		return domain.LotDetail{}, classify(err)
	}
	don, err := s.donationDIN(db, lot.DonationID)
	if err != nil {
		return domain.LotDetail{}, classify(err)
	}
	d := domain.LotDetail{Lot: lot.toDomain(don.DIN), Donation: don.toDomain(), SignedEvaluationCurrent: true}
	d.Lot.DonorEligibility = domain.Eligibility(don.Eligibility)
	if d.Results, err = lotResults(db, id); err != nil {
		return d, classify(err)
	}
	spec, err := currentSpec(db)
	if err != nil {
		return d, err
	}
	if d.Investigations, err = lotInvestigations(db, id); err != nil {
		return d, classify(err)
	}
	d.Evaluation, d.Spec = domain.EvaluateLot(spec, d.Results, d.Investigations), spec
	var units []unitRow
	if err := db.Where("lot_id = ?", id).Order("division").Find(&units).Error; err != nil {
		return d, classify(err)
	}
	d.Units = make([]domain.Unit, len(units))
	for i, u := range units {
		d.Units[i] = u.toDomain()
	}
	var sigs []signatureRow
	if err := db.Where("lot_id = ?", id).Order("id").Find(&sigs).Error; err != nil {
		return d, classify(err)
	}
	d.Signatures = make([]domain.Signature, len(sigs))
	for i, sg := range sigs {
		d.Signatures[i] = sg.toDomain()
		if sg.Action == string(domain.SignRelease) && sg.SpecVersion != nil {
			signedSpec, err := specVersion(db, *sg.SpecVersion)
			if err != nil {
				return d, err
			}
			d.SignedEvaluationCurrent = domain.EvaluateLot(signedSpec, d.Results, d.Investigations).Hash == sg.EvaluationHash
		}
	}
	d.ExceptionalFor = domain.ExceptionalPatients(d.Signatures)
	d.InfusedPatients = []int64{}
	if err := db.Model(&infusionRow{}).Joins("JOIN dose_bags ON dose_bags.id = infusions.dose_bag_id").
		Where("dose_bags.lot_id = ?", id).Order("infusions.patient_id").Pluck("infusions.patient_id", &d.InfusedPatients).Error; err != nil {
		return d, classify(err)
	}
	if d.AdverseEvents, err = lotAdverseEvents(db, id); err != nil {
		return d, classify(err)
	}
	return d, nil
}

// reauthenticate is the password re-entry of an electronic signature (21 CFR 11.200): the
// signer proves again who they are, and a wrong password counts toward the lockout.
func (s *Store) reauthenticate(ctx context.Context, actor domain.Actor, password string) error {
	if password == "" {
		return domain.FieldError("password", "re-enter your password to sign")
	}
	if _, err := s.CheckPassword(ctx, actor.Username, password, actor.RequestID); err != nil {
		if domain.ErrorCode(err) == domain.EUnauthenticated {
			return domain.Errorf(domain.EUnauthenticated, "the password is wrong, so nothing was signed; re-enter your own password")
		}
		return err
	}
	return nil
}

// Sign applies an electronic signature: the signer re-enters their password, and the signature
// records printed name, time, meaning and the hash of the evaluation it was given on.
func (s *Store) Sign(ctx context.Context, actor domain.Actor, lotID int64, req domain.SignRequest) (domain.LotDetail, error) {
	target := req.Action.TargetStatus()
	if target == "" {
		return domain.LotDetail{}, domain.FieldError("action", "%q is not a lot signature", req.Action)
	}
	if req.Action != domain.SignRelease && strings.TrimSpace(req.Reason) == "" {
		return domain.LotDetail{}, domain.FieldError("reason", "say why: a %s needs a reason on the record", req.Action)
	}
	if err := s.reauthenticate(ctx, actor, req.Password); err != nil {
		return domain.LotDetail{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		lot, err := lockLot(t, lotID)
		if err != nil {
			return err
		}
		if err := domain.LotTransition(domain.LotStatus(lot.Status), target); err != nil {
			return err
		}
		results, err := lotResults(t.db, lotID)
		if err != nil {
			return err
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		invs, err := lotInvestigations(t.db, lotID)
		if err != nil {
			return err
		}
		eval := domain.EvaluateLot(spec, results, invs)
		don, err := s.donationDIN(t.db, lot.DonationID)
		if err != nil {
			return err
		}
		if req.Action == domain.SignRelease {
			if err := domain.CheckRelease(eval, domain.Eligibility(don.Eligibility)); err != nil {
				return err
			}
			if err := domain.CheckSeparationOfDuties(actor.UserID, results); err != nil {
				return err
			}
		}
		version := spec.Version
		sig := signatureRow{LotID: lotID, Action: string(req.Action), UserID: actor.UserID, PrintedName: actor.FullName,
			Role: string(actor.Role), Meaning: req.Action.Meaning(), Reason: strings.TrimSpace(req.Reason),
			SpecVersion: &version, EvaluationHash: eval.Hash, SignedAt: t.now}
		if err := t.db.Create(&sig).Error; err != nil {
			return fmt.Errorf("insert signature: %w", err)
		}
		before := lot.toDomain(don.DIN)
		lot.Status, lot.UpdatedAt = string(target), t.now
		if err := t.db.Save(&lot).Error; err != nil {
			return err
		}
		t.audit("lot."+string(req.Action), "lot", lotID, before, lot.toDomain(don.DIN), sig.Reason)
		t.audit("signature.create", "signature", sig.ID, nil, sig.toDomain(), sig.Meaning)
		switch {
		case req.Action == domain.SignHold:
			return s.openRecall(t, lotID, domain.RecallCauseHold, sig.Reason)
		case req.Action == domain.SignRecall:
			return s.openRecall(t, lotID, domain.RecallCauseRecall, sig.Reason)
		case req.Action == domain.SignRelease && before.Status == domain.LotOnHold:
			return s.cancelRecall(t, lotID, "hold lifted: lot released again")
		}
		return nil
	})
	if err != nil {
		return domain.LotDetail{}, err
	}
	return s.LotDetail(ctx, lotID)
}

// DiscardUnit discards a unit, with the reason, as the unit state machine allows.
func (s *Store) DiscardUnit(ctx context.Context, actor domain.Actor, unitID int64, reason string) (domain.Unit, error) {
	if err := domain.ValidateReason(reason); err != nil {
		return domain.Unit{}, err
	}
	var out domain.Unit
	err := s.write(ctx, actor, func(t *tx) error {
		var u unitRow
		if err := t.lockByID(&u, unitID, "unit"); err != nil {
			return err
		}
		if err := domain.UnitTransition(domain.UnitStatus(u.Status), domain.UnitDiscarded); err != nil {
			return err
		}
		if err := t.setStatus(&unitRow{}, "unit", u.ID, u.Status, string(domain.UnitDiscarded), "unit.discard", reason); err != nil {
			return err
		}
		if _, _, err := closeRecallTask(t, actor, "unit_id", u.ID, domain.TaskDestroyed, "", "", reason); err != nil {
			return err
		}
		u.Status = string(domain.UnitDiscarded)
		out = u.toDomain()
		return nil
	})
	return out, err
}

// CreateUnits divides a lot into units, numbering divisions after the ones it already has.
func (s *Store) CreateUnits(ctx context.Context, actor domain.Actor, lotID int64, n domain.NewUnits) ([]domain.Unit, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	var out []domain.Unit
	err := s.write(ctx, actor, func(t *tx) error {
		lot, err := lockLot(t, lotID)
		if err != nil {
			return err
		}
		switch domain.LotStatus(lot.Status) {
		case domain.LotRejected, domain.LotRecalled, domain.LotExpired:
			return domain.Errorf(domain.EConflict, "lot is %s; it cannot be divided into units", lot.Status)
		}
		don, err := s.donationDIN(t.db, lot.DonationID)
		if err != nil {
			return err
		}
		din, _ := domain.ParseDIN(don.DIN)
		var last struct{ Max *int }
		if err := t.db.Model(&unitRow{}).Select("MAX(division) AS max").Where("lot_id = ?", lotID).Scan(&last).Error; err != nil {
			return err
		}
		first := 1
		if last.Max != nil {
			first = *last.Max + 1
		}
		rows := make([]unitRow, 0, n.Count)
		total := first - 1 + n.Count
		for div := first; div <= total; div++ {
			code, divisions, err := domain.UnitDivision(div, total)
			if err != nil {
				return domain.FieldError("count", "lot %s already has %d units; at most %d are possible", lot.LotNumber, first-1, domain.MaxUnitsPerLot)
			}
			uid := domain.UnitID{DIN: din, Product: domain.ProductCode{Description: s.opts.ProductCode, Donation: s.opts.CollectionType, Division: code}, Divisions: divisions}
			rows = append(rows, unitRow{LotID: lotID, UnitID: uid.String(), Division: div, ViableCells: n.ViableCells,
				VolumeML: n.VolumeML, Status: string(domain.UnitAvailable), CreatedAt: t.now})
		}
		if err := t.db.Create(&rows).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "these unit ids already exist: two lots from one donation share a product code")
			}
			return fmt.Errorf("insert units: %w", err)
		}
		for _, r := range rows {
			u := r.toDomain()
			out = append(out, u)
			t.audit("unit.create", "unit", r.ID, nil, u, "")
		}
		return nil
	})
	return out, err
}

// ExpireLots moves every lot past its expiry to expired (SPEC §2), one audited transaction
// per lot. Any number of processes may run it at once: the status condition in the update
// lets exactly one of them win each lot.
func (s *Store) ExpireLots(ctx context.Context) (int, error) {
	var due []lotRow
	live := []string{string(domain.LotInProcess), string(domain.LotQuarantine), string(domain.LotReleased), string(domain.LotOnHold)}
	if err := s.read(ctx).Where("expires_at <= ? AND status IN ?", s.now(), live).Find(&due).Error; err != nil {
		return 0, classify(fmt.Errorf("find expired lots: %w", err))
	}
	expired := 0
	for _, lot := range due {
		err := s.write(ctx, domain.SystemActor("expiry"), func(t *tx) error {
			res := t.db.Model(&lotRow{}).Where("id = ? AND status = ?", lot.ID, lot.Status).
				Updates(map[string]any{"status": string(domain.LotExpired), "updated_at": t.now})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error // another process expired it first, or it changed: nothing to record
			}
			t.audit("lot.expire", "lot", lot.ID, map[string]any{"status": lot.Status},
				map[string]any{"status": domain.LotExpired}, "expiry date "+lot.ExpiresAt.UTC().Format(time.RFC3339)+" passed")
			expired++
			return nil
		})
		if err != nil {
			return expired, err
		}
	}
	return expired, nil
}

// CreateSpecVersion proposes a specification version, e-signed by QA: the signer re-enters their
// password, and the version records printed name, meaning and time. Versions are numbered in
// order and never changed; a version is in force once a physician co-signs it (SignSpecVersion),
// and lots and new orders follow the latest in force from then on.
func (s *Store) CreateSpecVersion(ctx context.Context, actor domain.Actor, spec domain.ReleaseSpec, password, reason string) (domain.SpecVersion, error) {
	spec.Version = 1 // validated as a version; the number itself is assigned below
	if err := spec.Validate(); err != nil {
		return domain.SpecVersion{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return domain.SpecVersion{}, domain.FieldError("reason", "say why the specification changes")
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.SpecVersion{}, err
	}
	var out domain.SpecVersion
	err := s.write(ctx, actor, func(t *tx) error {
		current, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		var last struct{ Max int }
		if err := t.db.Model(&specVersionRow{}).Select("COALESCE(MAX(version), 0) AS max").Scan(&last).Error; err != nil {
			return err
		}
		spec.Version = last.Max + 1
		body, _ := json.Marshal(spec)
		uid := actor.UserID
		row := specVersionRow{Version: spec.Version, Spec: string(body), CreatedBy: &uid, PrintedName: actor.FullName,
			Meaning: fmt.Sprintf("Specification v%d proposed by QA: %s", spec.Version, strings.TrimSpace(reason)), CreatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "another specification version was signed at the same moment; reload and sign again")
			}
			return fmt.Errorf("insert specification: %w", err)
		}
		out = row.toDomain(spec)
		t.audit("spec.create", "spec_version", spec.Version, current, out, reason)
		return nil
	})
	return out, err
}

// SignSpecVersion is a physician's co-signature of a version QA proposed: with it the version
// is in force. The two-person rule and the rest are domain.CheckSpecCoSignature's.
func (s *Store) SignSpecVersion(ctx context.Context, actor domain.Actor, version int, password, reason string) (domain.SpecVersion, error) {
	if strings.TrimSpace(reason) == "" {
		return domain.SpecVersion{}, domain.FieldError("reason", "say why the new specification version is approved")
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.SpecVersion{}, err
	}
	var out domain.SpecVersion
	err := s.write(ctx, actor, func(t *tx) error {
		var row specVersionRow
		if err := t.lockByID(&row, int64(version), "specification version"); err != nil {
			return err
		}
		current, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		var proposer int64
		if row.CreatedBy != nil {
			proposer = *row.CreatedBy
		}
		if err := domain.CheckSpecCoSignature(domain.SpecSignatureFacts{Version: row.Version, ProposedBy: proposer, Effective: row.EffectiveAt != nil,
			CurrentVersion: current.Version, SignerID: actor.UserID, SignerRoles: []domain.Role{actor.Role}, Reason: reason}); err != nil {
			return err
		}
		spec, err := decodeSpec(row)
		if err != nil {
			return err
		}
		before := row.toDomain(spec)
		uid, now := actor.UserID, t.now
		row.CosignedBy, row.CosignerPrintedName, row.EffectiveAt = &uid, actor.FullName, &now
		row.CosignMeaning = fmt.Sprintf("Specification v%d approved by a physician, in force from now: %s", row.Version, strings.TrimSpace(reason))
		res := t.db.Model(&specVersionRow{}).Where("version = ? AND effective_at IS NULL", row.Version).
			Updates(map[string]any{"cosigned_by": uid, "cosigner_printed_name": row.CosignerPrintedName, "cosign_meaning": row.CosignMeaning, "effective_at": now})
		if res.Error != nil {
			return fmt.Errorf("co-sign specification: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return domain.Errorf(domain.EConflict, "specification v%d was co-signed at the same moment; reload", row.Version)
		}
		out = row.toDomain(spec)
		t.audit("spec.cosign", "spec_version", row.Version, before, out, reason)
		return nil
	})
	return out, err
}

// SpecVersions lists every specification version, oldest first, proposed ones included.
func (s *Store) SpecVersions(ctx context.Context) ([]domain.SpecVersion, error) {
	var rows []specVersionRow
	if err := s.read(ctx).Order("version").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]domain.SpecVersion, 0, len(rows))
	for _, r := range rows {
		spec, err := decodeSpec(r)
		if err != nil {
			return nil, err
		}
		out = append(out, r.toDomain(spec))
	}
	return out, nil
}

// ExceptionalRelease records one half of the exceptional release of an out-of-spec lot for one
// patient: a QA person and the treating physician each sign, and they must be two different
// people (SPEC §2). The lot is usable for that patient once both halves exist.
func (s *Store) ExceptionalRelease(ctx context.Context, actor domain.Actor, lotID, patientID int64, password, reason string) (domain.LotDetail, error) {
	action := domain.SignExceptionalQA
	other := domain.SignExceptionalPhysician
	if actor.Role == domain.RolePhysician {
		action, other = other, action
	}
	// The other signer is not known yet: check the fields now, the two-person rule below.
	if err := domain.CheckExceptionalRelease(0, actor.UserID, reason, patientID); err != nil {
		return domain.LotDetail{}, err
	}
	if err := s.reauthenticate(ctx, actor, password); err != nil {
		return domain.LotDetail{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		lot, err := lockLot(t, lotID)
		if err != nil {
			return err
		}
		if domain.LotStatus(lot.Status) != domain.LotQuarantine {
			return domain.Errorf(domain.EConflict, "lot is %s; an exceptional release is only for a lot in quarantine", lot.Status)
		}
		patient, err := patientByID(t.db, patientID)
		if err != nil {
			return domain.FieldError("patient_id", "there is no patient with id %d", patientID)
		}
		if patient.Arm != domain.ArmHUCMSC {
			return domain.Errorf(domain.ERuleViolated, "subject %s is in the %s arm and receives no cells", patient.SubjectID, patient.Arm)
		}
		results, err := lotResults(t.db, lotID)
		if err != nil {
			return err
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		invs, err := lotInvestigations(t.db, lotID)
		if err != nil {
			return err
		}
		eval := domain.EvaluateLot(spec, results, invs)
		don, err := s.donationDIN(t.db, lot.DonationID)
		if err != nil {
			return err
		}
		if err := domain.CheckExceptionalReleaseFor(eval, domain.Eligibility(don.Eligibility)); err != nil {
			return err
		}
		var already int64
		t.db.Model(&signatureRow{}).Where("lot_id = ? AND patient_id = ? AND action = ? AND user_id = ?",
			lotID, patientID, string(action), actor.UserID).Count(&already)
		if already > 0 {
			return domain.Errorf(domain.EConflict, "you already signed this half of the exceptional release for this patient")
		}
		var counterpart signatureRow
		err = t.db.Where("lot_id = ? AND patient_id = ? AND action = ?", lotID, patientID, string(other)).Order("id DESC").Take(&counterpart).Error
		if err == nil {
			if err := domain.CheckExceptionalRelease(counterpart.UserID, actor.UserID, reason, patientID); err != nil {
				return err
			}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		version, pid := spec.Version, patientID
		sig := signatureRow{LotID: lotID, Action: string(action), UserID: actor.UserID, PrintedName: actor.FullName,
			Role: string(actor.Role), Meaning: action.Meaning(), Reason: strings.TrimSpace(reason), SpecVersion: &version,
			EvaluationHash: eval.Hash, PatientID: &pid, SignedAt: t.now}
		if err := t.db.Create(&sig).Error; err != nil {
			return fmt.Errorf("insert signature: %w", err)
		}
		t.audit("lot."+string(action), "lot", lotID, nil, sig.toDomain(), sig.Reason)
		return nil
	})
	if err != nil {
		return domain.LotDetail{}, err
	}
	return s.LotDetail(ctx, lotID)
}
