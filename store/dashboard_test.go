package store_test

import (
	"context"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The lab's aggregates: lots counted per status, the quarantine queue, and each lot's
// effective viability and BV2 inhibition against the current specification's limits.
func TestDashboardLab(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		start := time.Now().UTC().Add(-time.Minute)
		waiting := l.lot(domain.Eligible)
		released := l.lot(domain.Eligible)
		l.record(l.qc, released.ID, passingResults()...)
		if _, err := st.Sign(ctx, l.qa, released.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
		// A low viability corrected to a passing one: only the correction counts. An invalid
		// BV2 run (LPS did not stimulate) has no inhibition and is left out.
		wrong := l.record(l.qc, waiting.ID, domain.QCResult{Test: domain.TestViability, Value: f64(70)})[0]
		l.record(l.qc, waiting.ID, domain.QCResult{Test: domain.TestViability, Value: f64(85), Corrects: &wrong.ID, Reason: "typed 70 for 85"},
			domain.QCResult{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{110, 100, 105}, Treated: []float64{100, 100, 100}})

		ov, err := st.LotOverview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ov.ByStatus) != len(domain.LotStatuses) {
			t.Fatalf("statuses = %+v, want every status", ov.ByStatus)
		}
		for _, c := range ov.ByStatus {
			want := map[domain.LotStatus]int{domain.LotQuarantine: 1, domain.LotReleased: 1}[c.Status]
			if c.Lots != want {
				t.Errorf("%s: %d lots, want %d", c.Status, c.Lots, want)
			}
		}
		if len(ov.Quarantined) != 1 || ov.Quarantined[0].LotNumber != waiting.LotNumber || ov.Quarantined[0].Days < 0 || ov.Quarantined[0].Days > 1 {
			t.Fatalf("quarantined = %+v, want %s since just now", ov.Quarantined, waiting.LotNumber)
		}

		tr, err := st.QCTrend(ctx, start)
		if err != nil {
			t.Fatal(err)
		}
		if tr.SpecVersion != 1 || tr.MinViabilityPct != 80 || tr.MinInhibitionPct != 30 {
			t.Errorf("limits = v%d %g %g, want spec v1's 80 and 30", tr.SpecVersion, tr.MinViabilityPct, tr.MinInhibitionPct)
		}
		if len(tr.Viability) != 2 || tr.Viability[0].LotNumber != released.LotNumber || tr.Viability[0].Value != 92 ||
			tr.Viability[1].LotNumber != waiting.LotNumber || tr.Viability[1].Value != 85 {
			t.Errorf("viability = %+v, want 92 for %s then the corrected 85 for %s", tr.Viability, released.LotNumber, waiting.LotNumber)
		}
		if len(tr.Inhibition) != 1 || tr.Inhibition[0].LotNumber != released.LotNumber || tr.Inhibition[0].Value < 55 || tr.Inhibition[0].Value > 56 {
			t.Errorf("inhibition = %+v, want only the valid run of %s (55.6 %%)", tr.Inhibition, released.LotNumber)
		}
		if tr, err = st.QCTrend(ctx, time.Now().Add(time.Hour)); err != nil || len(tr.Viability)+len(tr.Inhibition) != 0 {
			t.Errorf("trend since a later time = %+v %v, want nothing", tr, err)
		}
	})
}

// The stock: units of lots expiring within the horizon, and bags out of the pharmacy and
// not yet infused, with where they went and when.
func TestDashboardStock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		soon := l.lot(domain.Eligible)
		if _, err := st.CreateUnits(ctx, l.qc, soon.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25}); err != nil {
			t.Fatal(err)
		}
		// The lot expires in a year: within 400 days, not within 90.
		if got, err := st.ExpiringUnits(ctx, 90*24*time.Hour); err != nil || len(got) != 0 {
			t.Fatalf("expiring within 90 days = %+v %v, want none", got, err)
		}
		got, err := st.ExpiringUnits(ctx, 400*24*time.Hour)
		if err != nil || len(got) != 1 || got[0].LotNumber != soon.LotNumber || got[0].Available != 2 || got[0].Allocated != 0 ||
			got[0].DaysLeft < 360 || got[0].DaysLeft > 367 {
			t.Fatalf("expiring within 400 days = %+v %v, want %s with 2 units in about 365 days", got, err, soon.LotNumber)
		}

		if bags, err := st.BagsInTransit(ctx); err != nil || len(bags) != 0 {
			t.Fatalf("bags in transit before any dispatch = %+v %v", bags, err)
		}
		j := dashboardJourney(t, st, "ICU-3")
		bags, err := st.BagsInTransit(ctx)
		if err != nil || len(bags) != 1 || bags[0].BagID != j.bag.BagID || bags[0].Location != "ICU-3" ||
			bags[0].DispatchedAt.IsZero() || bags[0].Hours < 0 || bags[0].Hours > 1 {
			t.Fatalf("bags in transit after dispatch and receipt = %+v %v", bags, err)
		}
		if bags[0].Status != domain.BagVerified || bags[0].LotNumber == "" {
			t.Errorf("bag = %+v, want verified with its lot", bags[0])
		}
		if _, err := st.StartInfusion(ctx, j.nurse, j.verification); err != nil {
			t.Fatal(err)
		}
		if bags, err := st.BagsInTransit(ctx); err != nil || len(bags) != 0 {
			t.Fatalf("bags in transit after the infusion = %+v %v, want none", bags, err)
		}
	})
}

// Bedside compliance: per ward and day, passes, stops by check code, and manual entries.
func TestDashboardScanCompliance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		j := dashboardJourney(t, st, "ICU-3")
		// A wristband nobody wears and a code that names no bag, on another ward, typed.
		v, err := st.Verify(ctx, j.nurse, domain.BedsideRequest{Wristband: "MRN-NOBODY", Ward: "Ward 7",
			Scan: domain.CustodyScan{Code: "not a bag", CodeKind: domain.CodeManual}, WristbandEntry: domain.EntryTyped, CodeEntry: domain.EntryScanned,
			EntryReason: &domain.EntryReason{Code: domain.ReasonScannerDown}})
		if err != nil {
			t.Fatal(err)
		}
		if v.WristbandEntry != domain.EntryTyped || v.CodeEntry != domain.EntryScanned {
			t.Errorf("verification entries = %q, %q; want typed, scanned", v.WristbandEntry, v.CodeEntry)
		}
		got, err := st.ScanCompliance(ctx, time.Now().AddDate(0, 0, -7), domain.PeriodDay)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Ward != "ICU-3" || got[1].Ward != "Ward 7" {
			t.Fatalf("buckets = %+v, want one day for ICU-3 and one for Ward 7", got)
		}
		icu, w7 := got[0], got[1]
		if icu.Verifications != 2 || icu.Passes != 1 || icu.Stops != 1 || icu.StopsByCheck[domain.CheckPatientMatch] != 1 || icu.QR != 2 || icu.Manual != 0 {
			t.Errorf("ICU-3 = %+v, want a STOP on PATIENT_MATCH and a PASS, both scanned", icu)
		}
		if w7.Verifications != 1 || w7.Stops != 1 || w7.Manual != 1 || w7.StopsByCheck[domain.CheckLabelAuthentic] != 1 || w7.StopsByCheck[domain.CheckPatientMatch] != 1 {
			t.Errorf("Ward 7 = %+v, want one typed STOP on LABEL_AUTHENTIC and PATIENT_MATCH", w7)
		}
		if len(icu.EntryReasons) != 0 || w7.EntryReasons[domain.ReasonScannerDown] != 1 {
			t.Errorf("entry reasons: ICU-3 %v, Ward 7 %v; want none and one scanner_down", icu.EntryReasons, w7.EntryReasons)
		}
		if icu.Typed != 0 || w7.Typed != 1 {
			t.Errorf("typed: ICU-3 %d, Ward 7 %d; want 0 and 1 (the wristband typed by hand)", icu.Typed, w7.Typed)
		}
		if !icu.Start.Equal(domain.PeriodDay.Start(time.Now(), time.UTC)) {
			t.Errorf("bucket starts %v, want today's midnight", icu.Start)
		}
		if got, err := st.ScanCompliance(ctx, time.Now().AddDate(0, 0, 8), domain.PeriodWeek); err != nil || len(got) != 0 {
			t.Errorf("from a later week = %+v %v, want nothing", got, err)
		}
	})
}

type journey struct {
	bag          domain.DoseBag
	nurse        domain.Actor
	verification int64
}

// dashboardJourney takes a bag from a released lot to the ward: dispatched and received at
// ward, a STOP for the wrong patient's wristband, then a PASS. Codes are read as QR codes.
func dashboardJourney(t *testing.T, st *store.Store, ward string) journey {
	t.Helper()
	ctx := context.Background()
	mk := func(name string, role domain.Role) domain.Actor {
		u, err := st.CreateUser(ctx, admin, newUser(name, role))
		if err != nil {
			t.Fatal(err)
		}
		return actorFor(u, role)
	}
	qc, qa := mk("j.qc", domain.RoleQC), mk("j.qa", domain.RoleQA)
	doc, pharm, nurse, witness := mk("j.dr", domain.RolePhysician), mk("j.ph", domain.RolePharmacist), mk("j.rn", domain.RoleNurse), mk("j.rn2", domain.RoleNurse)
	d, err := st.CreateDonation(ctx, qc, domain.NewDonation{CollectedAt: time.Now().Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	storetest.DetermineEligible(t, st, d.ID)
	lot, err := st.CreateLot(ctx, qc, domain.NewLot{DonationID: d.ID, LotNumber: "J-1", ManufacturedAt: time.Now().Add(-24 * time.Hour), ExpiresAt: time.Now().AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Quarantine(ctx, qc, lot.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range passingResults() {
		if _, err := st.AddQCResult(ctx, qc, lot.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Sign(ctx, qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	units, err := st.CreateUnits(ctx, qc, lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25})
	if err != nil {
		t.Fatal(err)
	}
	enrol := func(subject, mrn string) domain.Patient {
		p, err := st.Enrol(ctx, doc, domain.Patient{SubjectID: subject, MRN: mrn, Name: "Patient " + subject, DateOfBirth: "1960-05-01",
			WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := enrol("SVP-001", "MRN0001")
	enrol("SVP-002", "MRN0002")
	order, err := st.OrderDose(ctx, doc, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	bag, err := st.PrepareDoseBag(ctx, pharm, order.ID, domain.NewDoseBag{UnitIDs: []int64{units[0].ID, units[1].ID},
		ThawedAt: time.Now().Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 70_000_000, VolumeML: 50})
	if err != nil {
		t.Fatal(err)
	}
	checker := mk("j.ph2", domain.RolePharmacist)
	if bag, err = st.CheckDoseBag(ctx, pharm, bag.ID, checker.Username, "correct horse battery"); err != nil {
		t.Fatalf("second pharmacist's check: %v", err)
	}
	kid := labelKey(t, st)
	if _, err := st.Print(ctx, pharm, "dose_bag", bag.ID, "png", kid); err != nil {
		t.Fatal(err)
	}
	temp := 5.0
	scan := domain.CustodyScan{Code: bag.BagID + bag.Check, CodeKind: domain.CodeQR, BagID: bag.BagID, PrintSerial: 1, KeyID: kid,
		Location: ward, TemperatureC: &temp}
	scan.Kind = domain.ScanDispatch
	if _, err := st.RecordScan(ctx, pharm, scan); err != nil {
		t.Fatal(err)
	}
	scan.Kind = domain.ScanReceive
	if _, err := st.RecordScan(ctx, nurse, scan); err != nil {
		t.Fatal(err)
	}
	w := domain.WitnessFacts{Authenticated: true, UserID: witness.UserID, Name: witness.FullName, Roles: []domain.Role{domain.RoleNurse}}
	var v domain.Verification
	for _, mrn := range []string{"MRN0002", "MRN0001"} {
		if v, err = st.Verify(ctx, nurse, domain.BedsideRequest{Wristband: mrn, Ward: ward, Witness: w,
			Scan: domain.CustodyScan{Code: scan.Code, CodeKind: domain.CodeQR, BagID: bag.BagID, MRN: "MRN0001", PrintSerial: 1, KeyID: kid}}); err != nil {
			t.Fatal(err)
		}
		if v.Pass != (mrn == "MRN0001") {
			t.Fatalf("verification with %s: pass=%v %+v", mrn, v.Pass, v.Checks)
		}
	}
	return journey{bag: bag, nurse: nurse, verification: v.ID}
}
