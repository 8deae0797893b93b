package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"cordtrace/domain"
)

type custodyScanRow struct {
	ID           int64 `gorm:"primaryKey"`
	Kind         string
	DoseBagID    *int64
	Code         string
	CodeKind     string
	Location     string
	TemperatureC *float64 `gorm:"column:temperature_c"`
	Excursion    bool
	Accepted     bool
	Refusal      string
	FromUser     *int64
	ScannedBy    int64
	ScannedAt    time.Time
}

func (custodyScanRow) TableName() string { return "custody_scans" }

type excursionDispositionRow struct {
	ID        int64 `gorm:"primaryKey"`
	DoseBagID int64
	Decision  string
	Reason    string
	DecidedBy int64
	DecidedAt time.Time
}

func (excursionDispositionRow) TableName() string { return "excursion_dispositions" }

// RecordScan stores a custody scan and, if it is accepted, moves the bag along. Every scan is
// kept: a refused one is committed first and its refusal returned after.
func (s *Store) RecordScan(ctx context.Context, actor domain.Actor, sc domain.CustodyScan) (domain.CustodyEvent, error) {
	if err := sc.Validate(); err != nil {
		return domain.CustodyEvent{}, err
	}
	target := domain.BagDispatched
	if sc.Kind == domain.ScanReceive {
		target = domain.BagReceived
	}
	spec, err := s.CurrentSpec(ctx)
	if err != nil {
		return domain.CustodyEvent{}, err
	}
	var ev domain.CustodyEvent
	var refusal error
	err = s.write(ctx, actor, func(t *tx) error {
		refusal = nil
		refuse := func(code, format string, args ...any) {
			if refusal == nil {
				refusal = domain.Errorf(code, format, args...)
			}
		}
		var bag doseBagRow
		found := false
		switch {
		case sc.LabelRefusal != "":
			refuse(domain.ERuleViolated, "%s", sc.LabelRefusal)
		case sc.BagID == "":
			refuse(domain.ERuleViolated, "the scanned code names no dose bag: scan the bag's QR code")
		default:
			err := t.db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("bag_id = ?", sc.BagID).Take(&bag).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
				refuse(domain.ENotFound, "no dose bag has the id %s: check the label", sc.BagID)
			case err != nil:
				return err
			default:
				found = true
			}
		}
		if found {
			if err := s.checkBagForScan(t, bag, sc, target, refuse); err != nil {
				return err
			}
		}
		row := custodyScanRow{Kind: sc.Kind, Code: sc.Code, CodeKind: sc.CodeKind, Location: sc.Location,
			TemperatureC: sc.TemperatureC, Accepted: refusal == nil, ScannedBy: actor.UserID, ScannedAt: t.now}
		if refusal != nil {
			row.Refusal = domain.ErrorMessage(refusal)
		}
		if found {
			row.DoseBagID = &bag.ID
		}
		if row.Accepted {
			row.Excursion = domain.Excursion(spec, *sc.TemperatureC)
			var last custodyScanRow
			if err := t.db.Where("dose_bag_id = ? AND accepted", bag.ID).Order("id DESC").Take(&last).Error; err == nil {
				row.FromUser = &last.ScannedBy // custody passes from the last person who scanned it
			}
		}
		before := bag.Status
		if row.Accepted {
			bag.Status = string(target)
			if err := t.db.Model(&doseBagRow{}).Where("id = ?", bag.ID).Update("status", bag.Status).Error; err != nil {
				return err
			}
		}
		if err := t.db.Create(&row).Error; err != nil {
			return fmt.Errorf("record scan: %w", err)
		}
		ev = domain.CustodyEvent{ID: row.ID, Kind: row.Kind, BagID: sc.BagID, CodeKind: row.CodeKind, Location: row.Location,
			TemperatureC: row.TemperatureC, Excursion: row.Excursion, Accepted: row.Accepted, Refusal: row.Refusal, ScannedAt: row.ScannedAt}
		if found {
			ev.DoseBagID, ev.BagStatus = bag.ID, domain.DoseBagStatus(bag.Status)
		}
		t.audit("custody.scan", "custody_scan", row.ID, nil, ev, row.Refusal)
		if row.Accepted {
			t.audit("dose_bag."+sc.Kind, "dose_bag", bag.ID, map[string]any{"status": before}, map[string]any{"status": bag.Status, "excursion": row.Excursion}, "")
		}
		return nil
	})
	if err != nil {
		return domain.CustodyEvent{}, err
	}
	return ev, refusal
}

// checkBagForScan applies the rules a scan of a known bag must pass, reporting the first that
// fails through refuse.
func (s *Store) checkBagForScan(t *tx, bag doseBagRow, sc domain.CustodyScan, target domain.DoseBagStatus, refuse func(string, string, ...any)) error {
	if sc.PrintSerial > 0 {
		current, err := currentSerial(t.db, "dose_bag", bag.ID)
		if err != nil {
			return err
		}
		if current != sc.PrintSerial {
			refuse(domain.ERuleViolated, "this label is print %d, but print %d replaced it: use the newest label and destroy this one", sc.PrintSerial, current)
		}
	}
	var lot lotRow
	if err := t.db.Take(&lot, bag.LotID).Error; err != nil {
		return err
	}
	switch domain.LotStatus(lot.Status) {
	case domain.LotRecalled, domain.LotOnHold, domain.LotRejected, domain.LotExpired:
		refuse(domain.ERuleViolated, "lot %s is %s: this bag is blocked; return it to the pharmacy", lot.LotNumber, lot.Status)
	}
	if !t.now.Before(bag.ExpiresAt) {
		refuse(domain.ERuleViolated, "the bag expired at %s: do not use it", bag.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), target); err != nil {
		refuse(domain.EConflict, "%s", domain.ErrorMessage(err))
	}
	return nil
}

// openExcursion reports whether a bag had a temperature excursion that QA has not yet
// dispositioned.
func openExcursion(db *gorm.DB, bagID int64) (bool, error) {
	var exc custodyScanRow
	err := db.Where("dose_bag_id = ? AND accepted AND excursion", bagID).Order("id DESC").Take(&exc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var n int64
	err = db.Model(&excursionDispositionRow{}).Where("dose_bag_id = ? AND decided_at >= ? AND decision = 'use'", bagID, exc.ScannedAt).Count(&n).Error
	return n == 0, err
}
