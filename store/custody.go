package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

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
	Entry        string // domain.Entry*, or empty when not said
}

func (custodyScanRow) TableName() string { return "custody_scans" }

// event is the scan as the API shows it; bagID is the scanned bag's 21-character id.
func (r custodyScanRow) event(bagID string) domain.CustodyEvent {
	ev := domain.CustodyEvent{ID: r.ID, Kind: r.Kind, BagID: bagID, CodeKind: r.CodeKind, Location: r.Location,
		TemperatureC: r.TemperatureC, Excursion: r.Excursion, Accepted: r.Accepted, Refusal: r.Refusal,
		ScannedAt: r.ScannedAt.UTC(), Entry: r.Entry}
	if r.DoseBagID != nil {
		ev.DoseBagID = *r.DoseBagID
	}
	return ev
}

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
	var ev domain.CustodyEvent
	var refusal error
	lookUp := sc.LabelRefusal == "" && sc.BagID != ""
	err := s.writeTogether(ctx, actor, func(t *tx) error {
		// The bag is locked first, and its facts are read after the lock was granted, so they
		// include every scan and print committed before then.
		var bag doseBagRow
		var found, haveFacts bool
		var facts scanFacts
		if lookUp {
			var err error
			if found, err = t.lockBag(sc.BagID, &bag); err != nil {
				return err
			}
			if facts, haveFacts, err = readScanFacts(t, sc); err != nil {
				return err
			}
		}
		refusal = nil
		refuse := func(code, format string, args ...any) {
			if refusal == nil {
				refusal = domain.Errorf(code, format, args...)
			}
		}
		switch {
		case sc.LabelRefusal != "":
			refuse(domain.ERuleViolated, "%s", sc.LabelRefusal)
		case sc.BagID == "":
			refuse(domain.ERuleViolated, "the scanned code names no dose bag: scan the bag's QR code")
		case !found:
			refuse(domain.ENotFound, "no dose bag has the id %s: check the label", sc.BagID)
		case !haveFacts:
			return fmt.Errorf("read the bag's lot, prints and custody: %w", gorm.ErrRecordNotFound)
		default:
			checkBagForScan(t, bag, facts, sc, target, refuse)
		}
		row := custodyScanRow{Kind: sc.Kind, Code: sc.Code, CodeKind: sc.CodeKind, Location: sc.Location,
			TemperatureC: sc.TemperatureC, Accepted: refusal == nil, ScannedBy: actor.UserID, ScannedAt: t.now, Entry: sc.Entry}
		if refusal != nil {
			row.Refusal = domain.ErrorMessage(refusal)
		}
		if found {
			row.DoseBagID = &bag.ID
		}
		if row.Accepted {
			spec, err := s.specForVersion(t.db, facts.SpecVersion)
			if err != nil {
				return err
			}
			row.Excursion = domain.Excursion(spec, *sc.TemperatureC)
			row.FromUser = facts.LastScannedBy // custody passes from the last person who scanned it
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
		ev = row.event(sc.BagID)
		if found {
			ev.BagStatus = domain.DoseBagStatus(bag.Status)
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

// scanFacts is what a custody scan of a known bag looks at besides the bag itself.
type scanFacts struct {
	LotNumber    string
	LotStatus    string
	LotExpiresAt time.Time
	// ExceptionalQA and ExceptionalPhysician: who signed the lot's exceptional release for
	// the bag's patient (0 for no one).
	ExceptionalQA, ExceptionalPhysician int64
	PrintSerial                         *int64 // the bag's current label print; nil if never printed
	LastScannedBy                       *int64 // who made the bag's last accepted scan; nil before the first
	SpecVersion                         int    // the current specification
	// Key is what the records say of the key a signed QR names, for the print it names
	// (unknown for other codes).
	Key domain.PrintKey
}

// readScanFacts reads the lot, current print serial and last accepted scan of the bag sc
// names, the current specification's version and the key its QR names, in one query; found
// stays false when no bag has that id.
func readScanFacts(t *tx, sc domain.CustodyScan) (f scanFacts, found bool, err error) {
	kid := ""
	if sc.CodeKind == domain.CodeQR {
		kid = sc.KeyID
	}
	err = t.queryRows(scanFactsSQL, []any{kid, "dose_bag", sc.PrintSerial, sc.BagID}, func(scan func(...any) error) error {
		var printSerial, lastScannedBy, specVersion, qa, doc sql.NullInt64
		var key printKeyRow
		dest := append([]any{&f.LotNumber, &f.LotStatus, &f.LotExpiresAt, &qa, &doc, &printSerial, &lastScannedBy, &specVersion}, key.dest()...)
		if err := scan(dest...); err != nil {
			return fmt.Errorf("read the bag's lot, prints and custody: %w", err)
		}
		f.Key = key.key(kid)
		if printSerial.Valid {
			f.PrintSerial = &printSerial.Int64
		}
		if lastScannedBy.Valid {
			f.LastScannedBy = &lastScannedBy.Int64
		}
		f.SpecVersion = int(specVersion.Int64)
		f.ExceptionalQA, f.ExceptionalPhysician = qa.Int64, doc.Int64
		found = true
		return nil
	})
	return f, found, err
}

// bagPrintSerialSQL is the serial of the current label of dose bag b (NULL before its first
// print): a scanned label with another serial was replaced by a reprint.
const bagPrintSerialSQL = `(SELECT MAX(lp.serial) FROM label_prints lp WHERE lp.entity_type = 'dose_bag' AND lp.entity_id = b.id)`

// currentSpecVersionSQL is the version of the specification in force: the latest signed by QA
// and a physician.
const currentSpecVersionSQL = `(SELECT MAX(sv.version) FROM spec_versions sv WHERE sv.effective_at IS NOT NULL)`

// scanFactsSQL is the query of readScanFacts; its arguments are the QR's key id, "dose_bag",
// the QR's print serial and the bag id.
var scanFactsSQL = `SELECT l.lot_number, l.status, l.expires_at,
		(SELECT MIN(s.user_id) FROM signatures s WHERE s.lot_id = b.lot_id AND s.patient_id = b.patient_id
			AND s.action = '` + string(domain.SignExceptionalQA) + `'),
		(SELECT MAX(s.user_id) FROM signatures s WHERE s.lot_id = b.lot_id AND s.patient_id = b.patient_id
			AND s.action = '` + string(domain.SignExceptionalPhysician) + `'),
		` + bagPrintSerialSQL + `,
		(SELECT c.scanned_by FROM custody_scans c WHERE c.dose_bag_id = b.id AND c.accepted ORDER BY c.id DESC LIMIT 1),
		` + currentSpecVersionSQL + `,
		` + printKeyColumns + `
	FROM dose_bags b JOIN lots l ON l.id = b.lot_id` + printKeyJoins("b.id") + `
	WHERE b.bag_id = ?`

// checkBagForScan applies the rules a scan of a known bag must pass, reporting the first that
// fails through refuse.
func checkBagForScan(t *tx, bag doseBagRow, f scanFacts, sc domain.CustodyScan, target domain.DoseBagStatus, refuse func(string, string, ...any)) {
	if sc.PrintSerial > 0 {
		var current int64
		if f.PrintSerial != nil {
			current = *f.PrintSerial
		}
		if current != sc.PrintSerial {
			refuse(domain.ERuleViolated, "this label is print %d, but print %d replaced it: use the newest label and destroy this one", sc.PrintSerial, current)
		}
	}
	if sc.CodeKind == domain.CodeQR {
		if _, problem := domain.LabelKeyProblem(f.Key); problem != "" {
			refuse(domain.ERuleViolated, "label not trusted: %s; call the pharmacy", problem)
		}
	}
	if sc.Kind == domain.ScanDispatch {
		if err := domain.BagChecked(bag.BagID, bag.CheckedBy, "dispatched"); err != nil {
			refuse(domain.ErrorCode(err), "%s", domain.ErrorMessage(err))
		}
	}
	lot := domain.LotFacts{LotNumber: f.LotNumber, Status: f.LotStatus, ExpiresAt: f.LotExpiresAt}
	var sigs []domain.Signature
	if f.ExceptionalQA != 0 {
		sigs = append(sigs, domain.Signature{Action: domain.SignExceptionalQA, UserID: f.ExceptionalQA, PatientID: bag.PatientID})
	}
	if f.ExceptionalPhysician != 0 {
		sigs = append(sigs, domain.Signature{Action: domain.SignExceptionalPhysician, UserID: f.ExceptionalPhysician, PatientID: bag.PatientID})
	}
	if slices.Contains(domain.ExceptionalPatients(sigs), bag.PatientID) {
		lot.ExceptionalForPatientID = bag.PatientID
	}
	if use := domain.LotUsability(lot, bag.PatientID, t.now); use.Blocked {
		refuse(domain.ERuleViolated, "%s: this bag is blocked; return it to the pharmacy", use.Reason)
	} else if !use.Usable {
		refuse(domain.ERuleViolated, "%s: this bag may not leave the pharmacy or be given", use.Reason)
	}
	if !t.now.Before(bag.ExpiresAt) {
		refuse(domain.ERuleViolated, "the bag expired at %s: do not use it", bag.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if err := domain.DoseBagTransition(domain.DoseBagStatus(bag.Status), target); err != nil {
		refuse(domain.EConflict, "%s", domain.ErrorMessage(err))
	}
}

// openExcursionSQL is true when dose bag b (the query's alias) has an open temperature
// excursion (SPEC §6): its latest accepted scan with an excursion has no 'use' decision by QA
// made since. The bedside facts and the excursion decision both ask it, so the rule is
// written once.
const openExcursionSQL = `EXISTS (SELECT 1 FROM custody_scans e
				WHERE e.id = (SELECT MAX(x.id) FROM custody_scans x WHERE x.dose_bag_id = b.id AND x.accepted AND x.excursion)
				AND NOT EXISTS (SELECT 1 FROM excursion_dispositions d
					WHERE d.dose_bag_id = b.id AND d.decision = 'use' AND d.decided_at >= e.scanned_at))`

// openExcursion reports whether a bag had a temperature excursion that QA has not yet
// dispositioned (openExcursionSQL).
func openExcursion(db *gorm.DB, bagID int64) (bool, error) {
	var open bool
	err := db.Raw(`SELECT `+openExcursionSQL+` FROM dose_bags b WHERE b.id = ?`, bagID).Scan(&open).Error
	return open, err
}
