package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type doseOrderRow struct {
	ID                int64 `gorm:"primaryKey"`
	PatientID         int64
	WeightKg          float64
	TargetViableCells int64
	SpecVersion       int
	Status            string
	OrderedBy         int64
	OrderedAt         time.Time
	WeightID          *int64 // the weight record the order was computed from
}

func (doseOrderRow) TableName() string { return "dose_orders" }

func (r doseOrderRow) toDomain() domain.DoseOrder {
	return domain.DoseOrder{ID: r.ID, PatientID: r.PatientID, WeightKg: r.WeightKg, TargetViableCells: r.TargetViableCells,
		SpecVersion: r.SpecVersion, Status: r.Status, OrderedAt: r.OrderedAt.UTC()}
}

type doseBagRow struct {
	ID                   int64 `gorm:"primaryKey"`
	BagID                string
	DoseOrderID          int64
	PatientID            int64
	LotID                int64
	ThawedAt             time.Time
	PostThawViabilityPct float64
	ViableCells          int64
	VolumeML             float64 `gorm:"column:volume_ml"`
	VolumeToDrawML       float64 `gorm:"column:volume_to_draw_ml"`
	ExpiresAt            time.Time
	Status               string
	PreparedBy           int64
	PreparedAt           time.Time
	CheckedBy            *int64 // the second pharmacist (SPEC §6); nil until checked
	CheckedAt            *time.Time
}

func (doseBagRow) TableName() string { return "dose_bags" }

type doseBagUnitRow struct {
	DoseBagID int64 `gorm:"primaryKey;autoIncrement:false"`
	UnitID    int64 `gorm:"primaryKey;autoIncrement:false"`
}

func (doseBagUnitRow) TableName() string { return "dose_bag_units" }

type infusionRow struct {
	ID             int64 `gorm:"primaryKey"`
	VerificationID int64
	DoseBagID      int64
	PatientID      int64
	StartedBy      int64
	StartedAt      time.Time
	EndedAt        *time.Time
	VolumeML       *float64 `gorm:"column:volume_ml"`
	Reactions      string
}

func (infusionRow) TableName() string { return "infusions" }

func (r doseBagRow) toDomain(order doseOrderRow, units []int64) domain.DoseBag {
	u, _ := domain.ParseUnitID(r.BagID)
	bag := domain.DoseBag{ID: r.ID, BagID: r.BagID, Check: string(u.Check()), EyeReadable: u.EyeReadable(),
		DoseOrderID: r.DoseOrderID, PatientID: r.PatientID, LotID: r.LotID, ThawedAt: r.ThawedAt.UTC(),
		PostThawViabilityPct: r.PostThawViabilityPct, ViableCells: r.ViableCells, VolumeML: r.VolumeML,
		TargetViableCells: order.TargetViableCells, OrderWeightKg: order.WeightKg, VolumeToDrawML: r.VolumeToDrawML, ExpiresAt: r.ExpiresAt.UTC(),
		Status: domain.DoseBagStatus(r.Status), PreparedAt: r.PreparedAt.UTC(), UnitIDs: units, CheckedBy: r.CheckedBy}
	if r.CheckedAt != nil {
		at := r.CheckedAt.UTC()
		bag.CheckedAt = &at
	}
	return bag
}

func patientInfused(db *gorm.DB, patientID int64) (bool, error) {
	var n int64
	err := db.Model(&infusionRow{}).Where("patient_id = ?", patientID).Count(&n).Error
	return n > 0, err
}

// OrderDose orders a patient's dose: the protocol's cells per kg times their current weight.
func (s *Store) OrderDose(ctx context.Context, actor domain.Actor, patientID int64) (domain.DoseOrder, error) {
	var out domain.DoseOrder
	err := s.write(ctx, actor, func(t *tx) error {
		p, err := patientByID(t.db, patientID)
		if err != nil {
			return err
		}
		if p.Arm != domain.ArmHUCMSC {
			return domain.Errorf(domain.ERuleViolated, "subject %s is in the %s arm: no dose can be ordered", p.SubjectID, p.Arm)
		}
		if infused, err := patientInfused(t.db, patientID); err != nil {
			return err
		} else if infused {
			return domain.Errorf(domain.ERuleViolated, "subject %s has already received their one infusion", p.SubjectID)
		}
		// One infusion per patient: while a bag of theirs may still be given, a second order
		// would only thaw units for a bag the bedside must refuse. A returned or discarded bag
		// does not count, so the dose can be ordered again.
		var live int64
		if err := t.db.Model(&doseBagRow{}).Where("patient_id = ? AND status IN ?", patientID, domain.LiveBagStatuses).Count(&live).Error; err != nil {
			return err
		}
		if live > 0 {
			return domain.Errorf(domain.EConflict, "subject %s already has a dose bag on its way (prepared, dispatched, received or verified); return or discard it before ordering again", p.SubjectID)
		}
		spec, err := currentSpec(t.db)
		if err != nil {
			return err
		}
		// The order fixes the weight (this record), the target and the spec version (SPEC §6).
		var weight patientWeightRow
		if err := t.db.Where("patient_id = ?", patientID).Order("id DESC").Take(&weight).Error; err != nil {
			return classify(fmt.Errorf("read weight: %w", err))
		}
		row := doseOrderRow{PatientID: patientID, WeightKg: weight.WeightKg, TargetViableCells: domain.TargetDose(weight.WeightKg, spec.DoseCellsPerKg),
			SpecVersion: spec.Version, Status: domain.OrderOpen, OrderedBy: actor.UserID, OrderedAt: t.now, WeightID: &weight.ID}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "subject %s already has an open dose order", p.SubjectID)
			}
			return fmt.Errorf("insert dose order: %w", err)
		}
		out = row.toDomain()
		t.audit("dose_order.create", "dose_order", row.ID, nil, out, "")
		return nil
	})
	return out, err
}

// orderSpec is the specification version a dose order was made under: its protocol parameters
// (post-thaw viability, shelf life, tolerance) govern the order's bag. An unknown order gets the
// version in force, and the write that follows reports the order missing.
func (s *Store) orderSpec(ctx context.Context, orderID int64) (domain.ReleaseSpec, error) {
	db := s.read(ctx)
	var o doseOrderRow
	if err := db.Select("id", "spec_version").Take(&o, orderID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return currentSpec(db)
	} else if err != nil {
		return domain.ReleaseSpec{}, classify(err)
	}
	return s.specForVersion(db, o.SpecVersion)
}

// PrepareDoseBag records the thaw of units of one lot into the bag of an open order.
func (s *Store) PrepareDoseBag(ctx context.Context, actor domain.Actor, orderID int64, n domain.NewDoseBag) (domain.DoseBag, error) {
	spec, err := s.orderSpec(ctx, orderID)
	if err != nil {
		return domain.DoseBag{}, err
	}
	if err := n.Validate(spec, s.now()); err != nil {
		return domain.DoseBag{}, err
	}
	var out domain.DoseBag
	err = s.write(ctx, actor, func(t *tx) error {
		var order doseOrderRow
		if err := t.lockByID(&order, orderID, "dose order"); err != nil {
			return err
		}
		if order.Status != domain.OrderOpen {
			return domain.Errorf(domain.EConflict, "dose order %d is %s; only an open order can be prepared", orderID, order.Status)
		}
		var units []unitRow
		if err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id IN ?", n.UnitIDs).Find(&units).Error; err != nil {
			return err
		}
		if len(units) != len(n.UnitIDs) {
			return domain.FieldError("unit_ids", "some of these units do not exist")
		}
		for _, u := range units {
			if u.LotID != units[0].LotID {
				return domain.FieldError("unit_ids", "a dose bag is made from units of one lot only")
			}
			if err := domain.UnitTransition(domain.UnitStatus(u.Status), domain.UnitAllocated); err != nil {
				return domain.Errorf(domain.EConflict, "unit %s is %s and cannot be thawed for this order", u.UnitID, u.Status)
			}
		}
		lot, err := lockLot(t, units[0].LotID)
		if err != nil {
			return err
		}
		if err := s.lotUsableFor(t, lot, order.PatientID); err != nil {
			return err
		}
		orderSpec, err := s.specForVersion(t.db, order.SpecVersion)
		if err != nil {
			return err
		}
		unitCells := make([]int64, len(units))
		for i, u := range units {
			unitCells[i] = u.ViableCells
		}
		if err := domain.CheckPreparation(domain.PreparationFacts{BagViableCells: n.ViableCells, UnitViableCells: unitCells,
			TargetViableCells: order.TargetViableCells, TolerancePct: orderSpec.DoseTolerancePct}); err != nil {
			return err
		}
		don, err := s.donationDIN(t.db, lot.DonationID)
		if err != nil {
			return err
		}
		din, _ := domain.ParseDIN(don.DIN)
		var made int64
		if err := t.db.Model(&doseBagRow{}).Where("bag_id LIKE ?", din.String()+"%").Count(&made).Error; err != nil {
			return err
		}
		division, err := domain.BagDivision(int(made) + 1)
		if err != nil {
			return err
		}
		bagID := domain.UnitID{DIN: din, Product: domain.ProductCode{Description: s.opts.ProductCode, Donation: s.opts.CollectionType, Division: division}}
		bag := doseBagRow{BagID: bagID.String(), DoseOrderID: orderID, PatientID: order.PatientID, LotID: lot.ID,
			ThawedAt: n.ThawedAt.UTC(), PostThawViabilityPct: n.PostThawViabilityPct, ViableCells: n.ViableCells, VolumeML: n.VolumeML,
			VolumeToDrawML: domain.VolumeToDraw(order.TargetViableCells, n.ViableCells, n.VolumeML),
			ExpiresAt:      n.ThawedAt.UTC().Add(spec.BagShelfLife()), Status: string(domain.BagPrepared),
			PreparedBy: actor.UserID, PreparedAt: t.now}
		if err := t.db.Create(&bag).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "another bag was prepared for this order or donation at the same moment; reload and try again")
			}
			return fmt.Errorf("insert dose bag: %w", err)
		}
		for _, u := range units {
			if err := t.db.Create(&doseBagUnitRow{DoseBagID: bag.ID, UnitID: u.ID}).Error; err != nil {
				return fmt.Errorf("link unit: %w", err)
			}
			if err := t.db.Model(&unitRow{}).Where("id = ?", u.ID).Update("status", string(domain.UnitConsumed)).Error; err != nil {
				return err
			}
			t.audit("unit.consume", "unit", u.ID, map[string]any{"status": u.Status}, map[string]any{"status": domain.UnitConsumed, "dose_bag_id": bag.ID}, "")
		}
		out = bag.toDomain(order, n.UnitIDs)
		t.audit("dose_bag.prepare", "dose_bag", bag.ID, nil, out, "")
		return t.setStatus(&doseOrderRow{}, "dose_order", order.ID, order.Status, domain.OrderFilled, "dose_order.fill", "")
	})
	return out, err
}

// lotUsableFor refuses a lot that may not be given to the patient (domain.LotUsability).
func (s *Store) lotUsableFor(t *tx, lot lotRow, patientID int64) error {
	f, err := lotFactsFor(t, lot, patientID)
	if err != nil {
		return err
	}
	if use := domain.LotUsability(f, patientID, t.now); !use.Usable {
		return domain.Errorf(domain.ERuleViolated, "%s: its units may not be given to this patient", use.Capitalized())
	}
	return nil
}

// lotFactsFor gathers what domain.LotUsability looks at for lot and the patient patientID:
// its status, expiry and whether QA and a physician released it by exception for them.
func lotFactsFor(t *tx, lot lotRow, patientID int64) (domain.LotFacts, error) {
	f := domain.LotFacts{LotNumber: lot.LotNumber, Status: lot.Status, ExpiresAt: lot.ExpiresAt}
	var sigs []signatureRow
	if err := t.db.Where("lot_id = ? AND patient_id = ?", lot.ID, patientID).Find(&sigs).Error; err != nil {
		return f, err
	}
	list := make([]domain.Signature, len(sigs))
	for i, sg := range sigs {
		list[i] = sg.toDomain()
	}
	if slices.Contains(domain.ExceptionalPatients(list), patientID) {
		f.ExceptionalForPatientID = patientID
	}
	return f, nil
}

func (s *Store) doseBag(db *gorm.DB, q *gorm.DB) (domain.DoseBag, error) {
	var bag doseBagRow
	if err := q.Take(&bag).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.DoseBag{}, domain.Errorf(domain.ENotFound, "there is no such dose bag")
	} else if err != nil {
		return domain.DoseBag{}, classify(err)
	}
	var order doseOrderRow
	if err := db.Take(&order, bag.DoseOrderID).Error; err != nil {
		return domain.DoseBag{}, classify(err)
	}
	var links []doseBagUnitRow
	if err := db.Where("dose_bag_id = ?", bag.ID).Order("unit_id").Find(&links).Error; err != nil {
		return domain.DoseBag{}, classify(err)
	}
	units := make([]int64, len(links))
	for i, l := range links {
		units[i] = l.UnitID
	}
	return bag.toDomain(order, units), nil
}

// DoseBag returns a dose bag by id.
func (s *Store) DoseBag(ctx context.Context, id int64) (domain.DoseBag, error) {
	db := s.read(ctx)
	return s.doseBag(db, db.Where("id = ?", id))
}

// DoseBagByCode returns a dose bag by its 21-character bag id.
func (s *Store) DoseBagByCode(ctx context.Context, bagID string) (domain.DoseBag, error) {
	db := s.read(ctx)
	return s.doseBag(db, db.Where("bag_id = ?", bagID))
}

// CancelDoseOrder cancels an open dose order, with the physician's reason. The patient may
// be ordered a dose again afterwards.
func (s *Store) CancelDoseOrder(ctx context.Context, actor domain.Actor, orderID int64, reason string) (domain.DoseOrder, error) {
	if err := domain.ValidateReason(reason); err != nil {
		return domain.DoseOrder{}, err
	}
	var out domain.DoseOrder
	err := s.write(ctx, actor, func(t *tx) error {
		var order doseOrderRow
		if err := t.lockByID(&order, orderID, "dose order"); err != nil {
			return err
		}
		if err := domain.DoseOrderTransition(order.Status, domain.OrderCancelled); err != nil {
			if order.Status == domain.OrderFilled {
				return domain.Errorf(domain.EConflict, "dose order %d is filled: a bag was prepared for it; to stop the dose, have the bag returned or discarded", orderID)
			}
			return err
		}
		if err := t.setStatus(&doseOrderRow{}, "dose_order", order.ID, order.Status, domain.OrderCancelled, "dose_order.cancel", reason); err != nil {
			return err
		}
		order.Status = domain.OrderCancelled
		out = order.toDomain()
		return nil
	})
	return out, err
}

// TakeBackDoseBag returns or discards a dose bag that must not be given, with the reason.
func (s *Store) TakeBackDoseBag(ctx context.Context, actor domain.Actor, bagID int64, to domain.DoseBagStatus, reason string) (domain.DoseBag, error) {
	if to != domain.BagReturned && to != domain.BagDiscarded {
		return domain.DoseBag{}, fmt.Errorf("take back dose bag: %q is neither returned nor discarded", to)
	}
	if err := domain.ValidateReason(reason); err != nil {
		return domain.DoseBag{}, err
	}
	err := s.write(ctx, actor, func(t *tx) error {
		var bag doseBagRow
		if err := t.lockByID(&bag, bagID, "dose bag"); err != nil {
			return err
		}
		if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), to); err != nil {
			return err
		}
		action := "dose_bag.return"
		if to == domain.BagDiscarded {
			action = "dose_bag.discard"
			if _, _, err := closeRecallTask(t, actor, "dose_bag_id", bag.ID, domain.TaskDestroyed, "", "", reason); err != nil {
				return err
			}
		}
		return t.setStatus(&doseBagRow{}, "dose_bag", bag.ID, bag.Status, string(to), action, reason)
	})
	if err != nil {
		return domain.DoseBag{}, err
	}
	return s.DoseBag(ctx, bagID)
}

// CheckDoseBag records the second pharmacist's independent check of a prepared bag (SPEC §6).
// The checker types their own username and password on the device of the pharmacist logged
// in; a wrong password counts toward the checker's lockout. The check is audited as made by
// the checker, with who was logged in on the device.
func (s *Store) CheckDoseBag(ctx context.Context, actor domain.Actor, bagID int64, username, password string) (domain.DoseBag, error) {
	username = strings.TrimSpace(username)
	if username == "" {
		return domain.DoseBag{}, domain.FieldError("username", "the second pharmacist types their username")
	}
	if password == "" {
		return domain.DoseBag{}, domain.FieldError("password", "the second pharmacist types their password")
	}
	checker, err := s.CheckPassword(ctx, username, password, actor.RequestID)
	if err != nil {
		// The checker's credentials are input of this request, not the session of the one who
		// sends it: a failure names the field rather than ending that session.
		switch domain.ErrorCode(err) {
		case domain.EUnauthenticated:
			return domain.DoseBag{}, domain.FieldError("password", "the username or password of the second pharmacist is wrong, so nothing was checked; they type their own again")
		case domain.EAccountLocked:
			return domain.DoseBag{}, domain.FieldError("username", "%s", domain.ErrorMessage(err))
		}
		return domain.DoseBag{}, err
	}
	signer := checker.ActingAs(domain.RolePharmacist, actor.RequestID)
	err = s.write(ctx, signer, func(t *tx) error {
		var bag doseBagRow
		if err := t.lockByID(&bag, bagID, "dose bag"); err != nil {
			return err
		}
		if err := domain.CheckPharmacistCheck(domain.PharmacistCheckFacts{BagID: bag.BagID, Status: domain.DoseBagStatus(bag.Status),
			PreparedBy: bag.PreparedBy, CheckedBy: bag.CheckedBy, Checker: checker}); err != nil {
			return err
		}
		now := t.now
		res := t.db.Model(&doseBagRow{}).Where("id = ? AND checked_by IS NULL", bag.ID).
			Updates(map[string]any{"checked_by": checker.ID, "checked_at": now})
		if res.Error != nil {
			return fmt.Errorf("record the check: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return domain.Errorf(domain.EConflict, "bag %s has already been checked by a second pharmacist", bag.BagID)
		}
		t.audit("dose_bag.check", "dose_bag", bag.ID, map[string]any{"checked_by": nil},
			map[string]any{"checked_by": checker.ID, "checked_by_username": checker.Username, "checked_at": now,
				"prepared_by": bag.PreparedBy, "entered_on_device_of": actor.Username}, "")
		return nil
	})
	if err != nil {
		return domain.DoseBag{}, err
	}
	return s.DoseBag(ctx, bagID)
}
