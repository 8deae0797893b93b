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

type labelKeyRow struct {
	KID        string `gorm:"primaryKey;column:kid"`
	PublicKey  string
	PrivateKey string
	CreatedAt  time.Time
	RetiredAt  *time.Time
}

func (labelKeyRow) TableName() string { return "label_keys" }

type labelPrintRow struct {
	ID         int64 `gorm:"primaryKey"`
	EntityType string
	EntityID   int64
	Serial     int64
	Reason     string
	PrintedBy  int64
	PrintedAt  time.Time
	Copies     int // the copies printed of this serial
}

func (labelPrintRow) TableName() string { return "label_prints" }

// bagLabelPrintable locks a dose bag and refuses to label it before a second pharmacist has
// checked it (domain.BagChecked). Other entities need no check.
func bagLabelPrintable(t *tx, entityType string, entityID int64) error {
	if entityType != "dose_bag" {
		return nil
	}
	var bag doseBagRow
	if err := t.lockByID(&bag, entityID, "dose bag"); err != nil {
		return err
	}
	return domain.BagChecked(bag.BagID, bag.CheckedBy, "labelled")
}

// LabelKeys returns every signing key, newest first.
func (s *Store) LabelKeys(ctx context.Context) ([]domain.LabelKey, error) {
	var rows []labelKeyRow
	if err := s.read(ctx).Order("created_at DESC, kid DESC").Find(&rows).Error; err != nil {
		return nil, classify(fmt.Errorf("read label keys: %w", err))
	}
	out := make([]domain.LabelKey, len(rows))
	for i, r := range rows {
		out[i] = domain.LabelKey{KID: r.KID, PublicKey: r.PublicKey, PrivatePEM: r.PrivateKey, CreatedAt: r.CreatedAt.UTC(), RetiredAt: r.RetiredAt}
	}
	return out, nil
}

// EnsureLabelKey returns the newest active key, creating one when there is none.
func (s *Store) EnsureLabelKey(ctx context.Context, generate func() (domain.LabelKey, error)) (domain.LabelKey, error) {
	active := func() (domain.LabelKey, bool, error) {
		keys, err := s.LabelKeys(ctx)
		for _, k := range keys {
			if k.RetiredAt == nil {
				return k, true, err
			}
		}
		return domain.LabelKey{}, false, err
	}
	if k, ok, err := active(); err != nil || ok {
		return k, err
	}
	k, err := generate()
	if err != nil {
		return k, err
	}
	err = s.write(ctx, domain.SystemActor("label-key"), func(t *tx) error {
		var n int64
		if err := t.db.Model(&labelKeyRow{}).Where("retired_at IS NULL").Count(&n).Error; err != nil || n > 0 {
			return err // another process created one first: use it
		}
		row := labelKeyRow{KID: k.KID, PublicKey: k.PublicKey, PrivateKey: k.PrivatePEM, CreatedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("store label key: %w", err)
		}
		// The private key never goes into the audit trail.
		t.audit("label_key.create", "label_key", k.KID, nil, map[string]string{"kid": k.KID, "public_key": k.PublicKey}, "")
		return nil
	})
	if err != nil {
		return domain.LabelKey{}, err
	}
	k, _, err = active()
	return k, err
}

func currentSerial(db *gorm.DB, entityType string, entityID int64) (int64, error) {
	var last struct{ Max *int64 }
	if err := db.Model(&labelPrintRow{}).Select("MAX(serial) AS max").
		Where("entity_type = ? AND entity_id = ?", entityType, entityID).Scan(&last).Error; err != nil {
		return 0, fmt.Errorf("read print serial: %w", err)
	}
	if last.Max == nil {
		return 0, nil
	}
	return *last.Max, nil
}

// labelPrints lists every serial of an entity's label, oldest first, with its copies.
func labelPrints(db *gorm.DB, entityType string, entityID int64) ([]domain.LabelPrint, error) {
	var rows []labelPrintRow
	if err := db.Where("entity_type = ? AND entity_id = ?", entityType, entityID).Order("serial").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read label prints: %w", err)
	}
	out := make([]domain.LabelPrint, len(rows))
	for i, r := range rows {
		out[i] = domain.LabelPrint{EntityType: r.EntityType, EntityID: r.EntityID, Serial: r.Serial, Reason: r.Reason,
			PrintedAt: r.PrintedAt.UTC(), Copies: r.Copies}
	}
	return out, nil
}

// CurrentSerial is the latest print serial of an entity, 0 if never printed.
func (s *Store) CurrentSerial(ctx context.Context, entityType string, entityID int64) (int64, error) {
	n, err := currentSerial(s.read(ctx), entityType, entityID)
	return n, classify(err)
}

// Print records a print of the current label, one more copy of its serial; the first print
// makes serial 1. A dose bag no second pharmacist has checked is not labelled (EConflict).
// Each print is an audit entry: format, serial and copy, by the actor, at the time.
func (s *Store) Print(ctx context.Context, actor domain.Actor, entityType string, entityID int64, format string) (domain.LabelPrint, error) {
	var out domain.LabelPrint
	err := s.write(ctx, actor, func(t *tx) error {
		if err := bagLabelPrintable(t, entityType, entityID); err != nil {
			return err
		}
		serial, err := currentSerial(t.db, entityType, entityID)
		if err != nil {
			return err
		}
		if serial == 0 {
			serial = 1
			row := labelPrintRow{EntityType: entityType, EntityID: entityID, Serial: 1, PrintedBy: actor.UserID, PrintedAt: t.now}
			if err := t.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return fmt.Errorf("record print: %w", err)
			}
		}
		where := t.db.Model(&labelPrintRow{}).Where("entity_type = ? AND entity_id = ? AND serial = ?", entityType, entityID, serial)
		if err := where.Update("copies", gorm.Expr("copies + 1")).Error; err != nil {
			return fmt.Errorf("count the copy: %w", err)
		}
		var copies int
		if err := t.db.Model(&labelPrintRow{}).Select("copies").
			Where("entity_type = ? AND entity_id = ? AND serial = ?", entityType, entityID, serial).Scan(&copies).Error; err != nil {
			return fmt.Errorf("count the copy: %w", err)
		}
		out = domain.LabelPrint{EntityType: entityType, EntityID: entityID, Serial: serial, PrintedAt: t.now, Copies: copies}
		t.audit("label.print", entityType, entityID, nil, map[string]any{"serial": serial, "format": format, "copy": copies}, "")
		return nil
	})
	return out, err
}

// Reprint makes a new serial with a reason; older prints are refused at every scan after it.
func (s *Store) Reprint(ctx context.Context, actor domain.Actor, entityType string, entityID int64, reason string) (domain.LabelPrint, error) {
	if strings.TrimSpace(reason) == "" {
		return domain.LabelPrint{}, domain.FieldError("reason", "a reprint needs a reason (damaged, smudged, lost…)")
	}
	var out domain.LabelPrint
	err := s.write(ctx, actor, func(t *tx) error {
		if err := bagLabelPrintable(t, entityType, entityID); err != nil {
			return err
		}
		serial, err := currentSerial(t.db, entityType, entityID)
		if err != nil {
			return err
		}
		row := labelPrintRow{EntityType: entityType, EntityID: entityID, Serial: serial + 1, Reason: strings.TrimSpace(reason),
			PrintedBy: actor.UserID, PrintedAt: t.now}
		if err := t.db.Create(&row).Error; err != nil {
			if isUnique(err) {
				return domain.Errorf(domain.EConflict, "someone reprinted this label at the same moment; reload and check the latest print")
			}
			return fmt.Errorf("record reprint: %w", err)
		}
		out = domain.LabelPrint{EntityType: entityType, EntityID: entityID, Serial: row.Serial, Reason: row.Reason, PrintedAt: t.now}
		t.audit("label.reprint", entityType, entityID, map[string]any{"serial": serial}, map[string]any{"serial": row.Serial}, row.Reason)
		return nil
	})
	return out, err
}

func (s *Store) unitWithLot(db *gorm.DB, q *gorm.DB) (domain.Unit, domain.Lot, error) {
	var u unitRow
	if err := q.Take(&u).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Unit{}, domain.Lot{}, domain.Errorf(domain.ENotFound, "there is no such unit")
	} else if err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	var lot lotRow
	if err := db.Take(&lot, u.LotID).Error; err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	don, err := s.donationDIN(db, lot.DonationID)
	if err != nil {
		return domain.Unit{}, domain.Lot{}, classify(err)
	}
	l := lot.toDomain(don.DIN)
	l.DonorEligibility = domain.Eligibility(don.Eligibility)
	return u.toDomain(), l, nil
}

// UnitForLabel returns a unit and its lot.
func (s *Store) UnitForLabel(ctx context.Context, id int64) (domain.Unit, domain.Lot, error) {
	db := s.read(ctx)
	return s.unitWithLot(db, db.Where("id = ?", id))
}

// UnitByCode returns a unit by its unit id (21 characters, 27 with Product Divisions), and its lot.
func (s *Store) UnitByCode(ctx context.Context, unitID string) (domain.Unit, domain.Lot, error) {
	db := s.read(ctx)
	return s.unitWithLot(db, db.Where("unit_id = ?", unitID))
}

// LotUnits returns a lot's units in division order, and the lot.
func (s *Store) LotUnits(ctx context.Context, lotID int64) ([]domain.Unit, domain.Lot, error) {
	d, err := s.LotDetail(ctx, lotID)
	if err != nil {
		return nil, domain.Lot{}, err
	}
	return d.Units, d.Lot, nil
}

// RotateLabelKey retires every active signing key and creates a new one, in one transaction.
// Retired keys still verify the labels printed under them; new prints use the new key.
func (s *Store) RotateLabelKey(ctx context.Context, actor domain.Actor, generate func() (domain.LabelKey, error)) (domain.LabelKey, error) {
	k, err := generate()
	if err != nil {
		return k, err
	}
	err = s.write(ctx, actor, func(t *tx) error {
		var active []labelKeyRow
		if err := t.db.Where("retired_at IS NULL").Find(&active).Error; err != nil {
			return err
		}
		for _, a := range active {
			if err := t.db.Model(&labelKeyRow{}).Where("kid = ?", a.KID).Update("retired_at", t.now).Error; err != nil {
				return err
			}
			t.audit("label_key.retire", "label_key", a.KID, nil, map[string]string{"kid": a.KID}, "rotation")
		}
		if err := t.db.Create(&labelKeyRow{KID: k.KID, PublicKey: k.PublicKey, PrivateKey: k.PrivatePEM, CreatedAt: t.now}).Error; err != nil {
			return fmt.Errorf("store label key: %w", err)
		}
		t.audit("label_key.create", "label_key", k.KID, nil, map[string]string{"kid": k.KID, "public_key": k.PublicKey}, "rotation")
		return nil
	})
	return k, err
}
