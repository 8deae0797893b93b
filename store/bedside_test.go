package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// bedside is a bag prepared from a released lot for a patient, with the people who handle it.
type bedside struct {
	st                         *store.Store
	bag                        domain.DoseBag
	lot                        domain.Lot
	patient                    domain.Patient
	doc, pharm, nurse, witness domain.Actor
}

// preparedBag takes a released lot through order and preparation of a bag for MRN0001.
func preparedBag(t *testing.T, st *store.Store) bedside {
	t.Helper()
	return preparedBags(t, st, 1)[0]
}

// preparedBags is preparedBag for n patients, MRN0001 to MRN000n, with the same users and lot;
// a second pharmacist, ph.k, has checked each bag.
func preparedBags(t testing.TB, st *store.Store, n int) []bedside {
	t.Helper()
	return preparedBagsChecked(t, st, n, true)
}

// preparedBagsChecked is preparedBags, the bags checked by ph.k only when checked is set.
func preparedBagsChecked(t testing.TB, st *store.Store, n int, checked bool) []bedside {
	t.Helper()
	ctx := context.Background()
	l := newLab(t, st)
	// A lot is divided into at most 99 units: two a bag, a new lot every 49 bags.
	const bagsPerLot = 49
	var lots []domain.Lot
	var units []domain.Unit
	for i := 0; i < n; i += bagsPerLot {
		lot := l.lot(domain.Eligible)
		lots = append(lots, lot)
		units = append(units, l.releasedUnits(lot, 2*min(bagsPerLot, n-i))...)
	}
	lot := lots[0]
	mk := func(name string, role domain.Role) domain.Actor {
		u, err := st.CreateUser(ctx, admin, newUser(name, role))
		if err != nil {
			t.Fatal(err)
		}
		return actorFor(u, role)
	}
	b := bedside{st: st, lot: lot, doc: mk("dr.a", domain.RolePhysician), pharm: mk("ph.b", domain.RolePharmacist),
		nurse: mk("rn.c", domain.RoleNurse), witness: mk("rn.d", domain.RoleNurse)}
	checker := mk("ph.k", domain.RolePharmacist)
	var out []bedside
	for i := range n {
		b := b
		b.lot = lots[i/bagsPerLot]
		var err error
		b.patient, err = st.Enrol(ctx, b.doc, domain.Patient{SubjectID: fmt.Sprintf("SVP-%03d", i+1), MRN: fmt.Sprintf("MRN%04d", i+1),
			Name: "Li Wei", DateOfBirth: "1960-05-01", WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
		if err != nil {
			t.Fatal(err)
		}
		order, err := st.OrderDose(ctx, b.doc, b.patient.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.bag, err = st.PrepareDoseBag(ctx, b.pharm, order.ID, domain.NewDoseBag{UnitIDs: []int64{units[2*i].ID, units[2*i+1].ID},
			ThawedAt: time.Now().Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 70_000_000, VolumeML: 50})
		if err != nil {
			t.Fatal(err)
		}
		if !checked {
			out = append(out, b)
			continue
		}
		if b.bag, err = st.CheckDoseBag(ctx, b.pharm, b.bag.ID, checker.Username, "correct horse battery"); err != nil {
			t.Fatalf("second pharmacist's check: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// scan records an accepted custody scan of the bag at temperature c.
func (b bedside) scan(t *testing.T, kind string, c float64) {
	t.Helper()
	actor := b.pharm
	if kind == domain.ScanReceive {
		actor = b.nurse
	}
	if _, err := b.st.RecordScan(context.Background(), actor, b.custodyScan(kind, c)); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
}

// custodyScan is a custody scan of the bag's typed label at temperature c.
func (b bedside) custodyScan(kind string, c float64) domain.CustodyScan {
	return domain.CustodyScan{Kind: kind, Code: b.bag.BagID + b.bag.Check, CodeKind: domain.CodeManual,
		BagID: b.bag.BagID, Location: "ICU", TemperatureC: &c}
}

// bedsideRequest is a verification at the bedside of the wristband's patient of what sc
// scanned (the bag's typed label when sc is empty), witnessed by the second nurse.
func (b bedside) bedsideRequest(wristband string, sc domain.CustodyScan) domain.BedsideRequest {
	if sc.Code == "" {
		sc = domain.CustodyScan{Code: b.bag.BagID + b.bag.Check, CodeKind: domain.CodeManual, BagID: b.bag.BagID}
	}
	req := domain.BedsideRequest{Wristband: wristband, Scan: sc,
		Witness: domain.WitnessFacts{Authenticated: true, UserID: b.witness.UserID, Name: b.witness.FullName, Roles: []domain.Role{domain.RoleNurse}}}
	if sc.CodeKind != domain.CodeQR {
		req.EntryReason = &domain.EntryReason{Code: domain.ReasonLabelDamaged}
	}
	return req
}

// verify verifies the bag at the bedside of the wristband's patient, as scanned.
func (b bedside) verify(t *testing.T, wristband string, sc domain.CustodyScan) domain.Verification {
	t.Helper()
	v, err := b.st.Verify(context.Background(), b.nurse, b.bedsideRequest(wristband, sc))
	if err != nil {
		t.Fatalf("verification: %v", err)
	}
	return v
}

// verifiedBag takes a bag from a released lot through order, preparation, dispatch, receipt and
// a passing bedside verification, and returns the verification id.
func verifiedBag(t *testing.T, st *store.Store) int64 {
	t.Helper()
	b := preparedBag(t, st)
	b.scan(t, domain.ScanDispatch, 5)
	b.scan(t, domain.ScanReceive, 5)
	v := b.verify(t, "MRN0001", domain.CustodyScan{})
	if !v.Pass {
		t.Fatalf("verification: %+v", v)
	}
	return v.ID
}

// Concurrent infusion starts for one bag, from two stores standing in for two serve processes:
// exactly one succeeds, every other gets a conflict.
func TestOneInfusionPerBagUnderConcurrency(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			stores := sharedStores(t, b, 2)
			vid := verifiedBag(t, stores[0])
			nurse := domain.Actor{UserID: 1, Username: "admin", FullName: "Test", Role: domain.RoleNurse}
			var ok, conflict atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					_, err := stores[i%2].StartInfusion(context.Background(), nurse, vid)
					switch domain.ErrorCode(err) {
					case "":
						ok.Add(1)
					case domain.EConflict:
						conflict.Add(1)
					default:
						t.Errorf("start %d: %v", i, err)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			if ok.Load() != 1 || conflict.Load() != 15 {
				t.Fatalf("%d infusions started, %d conflicts; want exactly 1 and 15", ok.Load(), conflict.Load())
			}
			mustVerify(t, stores[0])
		})
	}
}

// An infusion starts only from a verification younger than the spec's 30 minutes.
func TestInfusionNeedsARecentVerification(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			clk := newClock()
			clk.t = time.Now().UTC()
			st := storetest.Open(t, b, store.Options{Now: clk.Now})
			vid := verifiedBag(t, st)
			nurse := domain.Actor{UserID: 1, Username: "admin", FullName: "Test", Role: domain.RoleNurse}
			clk.Advance(30 * time.Minute)
			_, err := st.StartInfusion(context.Background(), nurse, vid)
			if domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(domain.ErrorMessage(err), "verify again") {
				t.Fatalf("start from a 30-minute-old verification: %v", err)
			}
			clk.Advance(-time.Second)
			if _, err := st.StartInfusion(context.Background(), nurse, vid); err != nil {
				t.Fatalf("start from a verification just under 30 minutes old: %v", err)
			}
		})
	}
}

// A verification reads each fact of the bag, its lot, its custody and the patient from the
// database (in one query besides the bag's lock); each step here changes one fact and checks
// that the verdict follows it.
func TestVerifyReadsEveryFact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		failed := func(v domain.Verification) (codes []string, messages string) {
			for _, c := range v.Checks {
				if !c.Pass {
					codes = append(codes, c.Code)
					messages += c.Message + " "
				}
			}
			return codes, messages
		}
		expect := func(step string, v domain.Verification, want []string, inMessage string) {
			t.Helper()
			codes, messages := failed(v)
			if !slices.Equal(codes, want) || !strings.Contains(messages, inMessage) {
				t.Fatalf("%s: failed %v (%s), want %v with %q", step, codes, messages, want, inMessage)
			}
		}
		custody := []string{domain.CheckCustody}

		v := b.verify(t, "MRN0001", domain.CustodyScan{})
		expect("prepared", v, custody, "never scanned out")
		if v.PatientID != b.patient.ID || v.DoseBagID != b.bag.ID {
			t.Fatalf("verification names patient %d and bag %d, want %d and %d", v.PatientID, v.DoseBagID, b.patient.ID, b.bag.ID)
		}
		b.scan(t, domain.ScanDispatch, 5)
		expect("dispatched", b.verify(t, "MRN0001", domain.CustodyScan{}), custody, "not scanned in")
		b.scan(t, domain.ScanReceive, 12) // out of 2–8 °C
		expect("received warm", b.verify(t, "MRN0001", domain.CustodyScan{}), custody, "temperature left")
		if _, err := st.DisposeExcursion(ctx, b.doc, b.bag.ID, domain.DispositionUse, "stability data cover 30 minutes at 12 °C"); err != nil {
			t.Fatal(err)
		}
		expect("excursion cleared", b.verify(t, "MRN0001", domain.CustodyScan{}), nil, "")

		v = b.verify(t, "MRN9999", domain.CustodyScan{})
		expect("unknown wristband", v, []string{domain.CheckPatientMatch, domain.CheckArm, domain.CheckDose, domain.CheckWindow, domain.CheckNotInfused}, "")
		if v.PatientID != 0 {
			t.Fatalf("unknown wristband: verification names patient %d", v.PatientID)
		}

		// A code naming no known bag: the patient's facts are still read.
		v = b.verify(t, "MRN0001", domain.CustodyScan{Code: "A9999 26 999999 S1234 0", CodeKind: domain.CodeManual, BagID: "A999926999999S12340A0"})
		if codes, _ := failed(v); !slices.Contains(codes, domain.CheckLabelAuthentic) || slices.Contains(codes, domain.CheckArm) ||
			v.PatientID != b.patient.ID || v.DoseBagID != 0 {
			t.Fatalf("unknown bag: failed %v, patient %d, bag %d", codes, v.PatientID, v.DoseBagID)
		}

		// Label prints: a scan of a replaced print is refused.
		kid := labelKey(t, st)
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", kid); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reprint(ctx, b.pharm, "dose_bag", b.bag.ID, "smudged"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", kid); err != nil {
			t.Fatal(err)
		}
		qr := func(serial int64) domain.CustodyScan {
			return domain.CustodyScan{Code: "CT1-test", CodeKind: domain.CodeQR, BagID: b.bag.BagID, PrintSerial: serial, MRN: "MRN0001", KeyID: kid}
		}
		expect("print 1 of 2", b.verify(t, "MRN0001", qr(1)), []string{domain.CheckLabelAuthentic}, "print 2 replaced it")
		expect("print 2 of 2", b.verify(t, "MRN0001", qr(2)), nil, "")

		// The lot: not released, then released by exception for another patient, then for this one.
		db := st.Gorm()
		if err := db.Exec(`UPDATE lots SET status = 'quarantine' WHERE id = ?`, b.lot.ID).Error; err != nil {
			t.Fatal(err)
		}
		lotFails := []string{domain.CheckLotReleased}
		expect("lot in quarantine", b.verify(t, "MRN0001", domain.CustodyScan{}), lotFails, "not released")
		sign := func(action domain.SignatureAction, by domain.Actor, patientID int64) {
			t.Helper()
			if err := db.Exec(`INSERT INTO signatures (lot_id, action, user_id, printed_name, role, meaning, patient_id, signed_at)
				VALUES (?, ?, ?, 'Test', 'qa', 'test', ?, ?)`, b.lot.ID, string(action), by.UserID, patientID, time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
		}
		other, err := st.Enrol(ctx, b.doc, domain.Patient{SubjectID: "SVP-002", MRN: "MRN0002", Name: "Ana Souza", DateOfBirth: "1958-02-11",
			WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
		if err != nil {
			t.Fatal(err)
		}
		sign(domain.SignExceptionalQA, b.pharm, other.ID)
		sign(domain.SignExceptionalPhysician, b.doc, other.ID)
		expect("exception for another patient", b.verify(t, "MRN0001", domain.CustodyScan{}), lotFails, "not released")
		sign(domain.SignExceptionalQA, b.pharm, b.patient.ID)
		expect("QA's half of an exception", b.verify(t, "MRN0001", domain.CustodyScan{}), lotFails, "not released")
		sign(domain.SignExceptionalPhysician, b.doc, b.patient.ID)
		v = b.verify(t, "MRN0001", domain.CustodyScan{})
		expect("exception for this patient", v, nil, "")

		// Infused: the patient, and the bag when another patient's wristband is scanned.
		if _, err := st.StartInfusion(ctx, b.nurse, v.ID); err != nil {
			t.Fatal(err)
		}
		expect("patient infused", b.verify(t, "MRN0001", domain.CustodyScan{}), []string{domain.CheckNotInfused}, "already received their one infusion")
		expect("bag infused", b.verify(t, "MRN0002", domain.CustodyScan{}), []string{domain.CheckPatientMatch, domain.CheckLotReleased, domain.CheckNotInfused}, "has already been infused")
		mustVerify(t, st)
	})
}

// A passing verification of a bag verified already records the verification and its audit
// entry, and does not write the bag again.
func TestVerifyAgainDoesNotRewriteTheBag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		b := preparedBag(t, st)
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		for i := range 3 {
			if v := b.verify(t, "MRN0001", domain.CustodyScan{}); !v.Pass {
				t.Fatalf("verification %d: %+v", i, v)
			}
		}
		entries, err := st.ListAudit(context.Background(), domain.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range entries {
			count[e.Action]++
		}
		if count["bedside.verify"] != 3 || count["dose_bag.verify"] != 1 {
			t.Fatalf("audit: %d bedside.verify, %d dose_bag.verify; want 3 and 1", count["bedside.verify"], count["dose_bag.verify"])
		}
		bag, err := st.DoseBag(context.Background(), b.bag.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bag.Status != domain.BagVerified {
			t.Fatalf("bag is %s, want verified", bag.Status)
		}
		mustVerify(t, st)
	})
}

// A custody scan reads the bag's lot, its current print, its last accepted scan and the current
// specification (in one query besides the bag's lock); each step changes one of them.
func TestRecordScanReadsEveryFact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		db := st.Gorm()
		temp := func(c float64) *float64 { return &c }
		kid := labelKey(t, st)
		scan := func(kind string, by domain.Actor, serial int64, c float64) (domain.CustodyEvent, error) {
			return st.RecordScan(ctx, by, domain.CustodyScan{Kind: kind, Code: "CT1-test", CodeKind: domain.CodeQR,
				BagID: b.bag.BagID, PrintSerial: serial, MRN: "MRN0001", KeyID: kid, Location: "ICU", TemperatureC: temp(c)})
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "zpl", kid); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reprint(ctx, b.pharm, "dose_bag", b.bag.ID, "wet"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "zpl", kid); err != nil {
			t.Fatal(err)
		}
		if _, err := scan(domain.ScanDispatch, b.pharm, 1, 5); domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(err.Error(), "print 2 replaced it") {
			t.Fatalf("scan of a replaced print: %v", err)
		}
		if err := db.Exec(`UPDATE lots SET status = 'on_hold' WHERE id = ?`, b.lot.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := scan(domain.ScanDispatch, b.pharm, 2, 5); domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(err.Error(), "on hold") {
			t.Fatalf("scan of a bag whose lot is on hold: %v", err)
		}
		if err := db.Exec(`UPDATE lots SET status = 'released' WHERE id = ?`, b.lot.ID).Error; err != nil {
			t.Fatal(err)
		}
		ev, err := scan(domain.ScanDispatch, b.pharm, 2, 5)
		if err != nil || ev.Excursion || ev.BagStatus != domain.BagDispatched {
			t.Fatalf("dispatch: %+v %v", ev, err)
		}
		ev, err = scan(domain.ScanReceive, b.nurse, 2, 9) // above 8 °C
		if err != nil || !ev.Excursion || ev.BagStatus != domain.BagReceived {
			t.Fatalf("receipt: %+v %v", ev, err)
		}
		var from []struct{ FromUser *int64 }
		if err := db.Raw(`SELECT from_user FROM custody_scans WHERE dose_bag_id = ? AND accepted ORDER BY id`, b.bag.ID).Scan(&from).Error; err != nil {
			t.Fatal(err)
		}
		if len(from) != 2 || from[0].FromUser != nil || from[1].FromUser == nil || *from[1].FromUser != b.pharm.UserID {
			t.Fatalf("custody passed from %+v, want nobody then the pharmacist %d", from, b.pharm.UserID)
		}
		mustVerify(t, st)
	})
}

// A scan naming no known bag, and a wristband naming no patient, are read as such by the
// verification's and the custody scan's queries (database/sql, not gorm) on both backends.
// A refused scan is still recorded.
func TestUnknownBagAndPatient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		const unknown = "W9999269999990000000Z"
		v := b.verify(t, "MRN0001", domain.CustodyScan{Code: unknown, CodeKind: domain.CodeManual, BagID: unknown})
		if v.Pass || v.DoseBagID != 0 || v.PatientID != b.patient.ID || !failedWith(v, "no dose bag has the id "+unknown) {
			t.Fatalf("unknown bag: %+v", v)
		}
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		v = b.verify(t, "MRN9999", domain.CustodyScan{})
		if v.Pass || v.PatientID != 0 || v.DoseBagID != b.bag.ID {
			t.Fatalf("unknown wristband: %+v", v)
		}
		if v = b.verify(t, "MRN0001", domain.CustodyScan{}); !v.Pass {
			t.Fatalf("the right bag and patient: %+v", v)
		}
		c := 5.0
		ev, err := st.RecordScan(ctx, b.pharm, domain.CustodyScan{Kind: domain.ScanDispatch, Code: unknown, CodeKind: domain.CodeManual,
			BagID: unknown, Location: "ICU", TemperatureC: &c})
		if domain.ErrorCode(err) != domain.ENotFound || ev.ID == 0 || ev.Accepted || ev.DoseBagID != 0 {
			t.Fatalf("scan of an unknown bag: %+v, %v", ev, err)
		}
		mustVerify(t, st)
	})
}

func failedWith(v domain.Verification, message string) bool {
	for _, c := range v.Checks {
		if !c.Pass && strings.Contains(c.Message, message) {
			return true
		}
	}
	return false
}

// A dose that must not be given is stopped with a reason: an open order is cancelled; a bag is
// returned or discarded, then fails CUSTODY at the bedside and cannot move on; either way the
// patient's dose can be ordered again.
func TestStopADose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		order := b.bag.DoseOrderID

		// The order is filled by the bag: cancelling it would leave the bag live.
		if _, err := st.CancelDoseOrder(ctx, b.doc, order, "patient deteriorated"); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("cancel a filled order: %v, want a conflict", err)
		}
		if _, err := st.TakeBackDoseBag(ctx, b.pharm, b.bag.ID, domain.BagReturned, "not needed"); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("return a bag that never left the pharmacy: %v, want a conflict", err)
		}
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		if _, err := st.TakeBackDoseBag(ctx, b.nurse, b.bag.ID, domain.BagReturned, " "); domain.ErrorField(err) != "reason" {
			t.Fatalf("return without a reason: %v, want a field error on reason", err)
		}
		bag, err := st.TakeBackDoseBag(ctx, b.nurse, b.bag.ID, domain.BagReturned, "patient moved to ICU, infusion postponed")
		if err != nil || bag.Status != domain.BagReturned {
			t.Fatalf("return a received bag: %+v %v", bag, err)
		}
		v := b.verify(t, "MRN0001", domain.CustodyScan{})
		if v.Pass || !slices.Equal(domain.Verdict{Pass: v.Pass, Checks: v.Checks}.Failed(), []string{domain.CheckCustody}) {
			t.Fatalf("verification of a returned bag: %+v, want a STOP on CUSTODY alone", v)
		}
		if _, err := st.RecordScan(ctx, b.nurse, b.custodyScan(domain.ScanReceive, 5)); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("receive a returned bag: %v, want a refusal", err)
		}
		ungiven := func() []domain.BagNotGiven {
			t.Helper()
			bags, err := st.UngivenDoseBags(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return bags
		}
		if bags := ungiven(); len(bags) != 1 || bags[0].ID != b.bag.ID || bags[0].Status != domain.BagReturned || bags[0].SubjectID != "SVP-001" {
			t.Fatalf("bags not given after the return: %+v, want the returned bag of SVP-001", bags)
		}
		if bag, err = st.TakeBackDoseBag(ctx, b.pharm, b.bag.ID, domain.BagDiscarded, "returned bag past use"); err != nil || bag.Status != domain.BagDiscarded {
			t.Fatalf("discard the returned bag: %+v %v", bag, err)
		}
		if bags := ungiven(); len(bags) != 0 {
			t.Fatalf("bags not given after the discard: %+v, want none", bags)
		}

		// The bag is gone: a new order may be placed, and cancelled while open.
		again, err := st.OrderDose(ctx, b.doc, b.patient.ID)
		if err != nil {
			t.Fatalf("order again after the bag was discarded: %v", err)
		}
		if _, err := st.CancelDoseOrder(ctx, b.doc, again.ID, ""); domain.ErrorField(err) != "reason" {
			t.Fatalf("cancel without a reason: %v, want a field error on reason", err)
		}
		cancelled, err := st.CancelDoseOrder(ctx, b.doc, again.ID, "consent withdrawn")
		if err != nil || cancelled.Status != domain.OrderCancelled {
			t.Fatalf("cancel an open order: %+v %v", cancelled, err)
		}
		if _, err := st.CancelDoseOrder(ctx, b.doc, again.ID, "again"); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("cancel a cancelled order: %v, want a conflict", err)
		}
		if _, err := st.OpenDoseOrder(ctx, again.ID); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("a cancelled order still waits at the pharmacy: %v", err)
		}
		if _, err := st.CancelDoseOrder(ctx, b.doc, again.ID+1000, "no such order"); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("cancel an order that does not exist: %v, want not found", err)
		}
		// Each stop is in the audit trail with its reason.
		entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "dose_order", EntityID: strconv.FormatInt(again.ID, 10)})
		if err != nil {
			t.Fatal(err)
		}
		if last := entries[len(entries)-1]; last.Action != "dose_order.cancel" || last.Reason != "consent withdrawn" ||
			last.Before != `{"status":"open"}` || last.After != `{"status":"cancelled"}` {
			t.Fatalf("last audit entry of the order: %+v", last)
		}
		mustVerify(t, st)
	})
}

// Concurrent scans and verifications of one bag, from two stores standing in for two serve
// processes. The bag's row lock goes out with the transaction's first statements and its
// facts are read after the lock is granted (RecordScan): of 16 dispatch scans exactly one
// is accepted and every one is kept; of 8 passing verifications every one is stored, and the
// bag becomes verified once.
func TestOneBagUnderConcurrentScansAndVerifications(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			stores := sharedStores(t, backend, 2)
			b := preparedBag(t, stores[0])
			ctx := context.Background()
			all := func(n int, fn func(i int) error) (ok, conflict int32) {
				var oks, conflicts atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						<-start
						switch err := fn(i); domain.ErrorCode(err) {
						case "":
							oks.Add(1)
						case domain.EConflict:
							conflicts.Add(1)
						default:
							t.Errorf("%d: %v", i, err)
						}
					}(i)
				}
				close(start)
				wg.Wait()
				return oks.Load(), conflicts.Load()
			}
			ok, conflict := all(16, func(i int) error {
				_, err := stores[i%2].RecordScan(ctx, b.pharm, b.custodyScan(domain.ScanDispatch, 5))
				return err
			})
			if ok != 1 || conflict != 15 {
				t.Fatalf("dispatch scans: %d accepted, %d refused as conflicts; want 1 and 15", ok, conflict)
			}
			var kept, accepted int
			if err := stores[0].SQLDB().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE accepted) FROM custody_scans WHERE dose_bag_id = `+strconv.FormatInt(b.bag.ID, 10)).Scan(&kept, &accepted); err != nil {
				t.Fatal(err)
			}
			if kept != 16 || accepted != 1 {
				t.Fatalf("custody scans kept: %d, accepted %d; want 16 and 1", kept, accepted)
			}

			b.scan(t, domain.ScanReceive, 5)
			ok, _ = all(8, func(i int) error {
				v, err := stores[i%2].Verify(ctx, b.nurse, b.bedsideRequest("MRN0001", domain.CustodyScan{}))
				if err == nil && !v.Pass {
					t.Errorf("verification %d: %+v", i, v)
				}
				return err
			})
			if ok != 8 {
				t.Fatalf("%d of 8 verifications stored", ok)
			}
			entries, err := stores[0].ListAudit(ctx, domain.AuditFilter{EntityType: "dose_bag", EntityID: strconv.FormatInt(b.bag.ID, 10)})
			if err != nil {
				t.Fatal(err)
			}
			verifies := 0
			for _, e := range entries {
				if e.Action == "dose_bag.verify" {
					verifies++
				}
			}
			if verifies != 1 {
				t.Fatalf("the bag became verified %d times; want once", verifies)
			}
			mustVerify(t, stores[0])
		})
	}
}
