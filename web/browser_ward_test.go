package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"cordtrace/domain"
)

// infusing is a dose on its way into a patient, recorded straight in the store: a released
// lot, SVP-501 enrolled and ordered for, a bag prepared by ph.eve and checked by ph.sam,
// dispatched and received on Ward 4, a bedside PASS by rn.dee witnessed by rn.fay, and the
// infusion started by rn.dee.
type infusing struct {
	lot      domain.Lot
	patient  domain.Patient
	bag      domain.DoseBag
	infusion domain.Infusion
}

func (s *site) infusing(t *testing.T) infusing {
	t.Helper()
	ctx := context.Background()
	in := s.receivedBag(t)
	code := in.bag.BagID + in.bag.Check
	w := s.users["rn.fay"]
	v, err := s.store.Verify(ctx, s.actor("rn.dee"), domain.BedsideRequest{Wristband: in.patient.MRN, Ward: "Ward 4",
		Scan:        domain.CustodyScan{Code: code, CodeKind: domain.CodeManual, BagID: in.bag.BagID},
		Witness:     domain.WitnessFacts{Authenticated: true, UserID: w.ID, Name: w.FullName, Roles: w.Roles},
		EntryReason: &domain.EntryReason{Code: domain.ReasonLabelDamaged}})
	if err != nil || !v.Pass {
		t.Fatalf("verification: %+v %v", v, err)
	}
	if in.infusion, err = s.store.StartInfusion(ctx, s.actor("rn.dee"), v.ID); err != nil {
		t.Fatal(err)
	}
	return in
}

// receivedBag is infusing up to the ward's receipt of the bag: no bedside check yet.
func (s *site) receivedBag(t *testing.T) infusing {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC()
	var in infusing
	in.lot = s.newLot(t, "HUC-WARD-001")
	if _, err := s.store.Quarantine(ctx, s.actor("qc.ann"), in.lot.ID); err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	for _, r := range []domain.QCResult{
		{Test: domain.TestViability, Value: f(92)},
		{Test: domain.TestViableCellCount, Value: f(1.2e9)},
		{Test: domain.TestSterility, Result: "negative"},
		{Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: f(0.1)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
		{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}},
	} {
		if _, err := s.store.AddQCResult(ctx, s.actor("qc.ann"), in.lot.ID, r); err != nil {
			t.Fatalf("%s: %v", r.Test, err)
		}
	}
	if _, err := s.store.Sign(ctx, s.actor("qa.bob"), in.lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: password}); err != nil {
		t.Fatal(err)
	}
	units, err := s.store.CreateUnits(ctx, s.actor("qc.ann"), in.lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25})
	if err != nil {
		t.Fatal(err)
	}
	in.patient, err = s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-501", MRN: "MRN0501", Name: "Chen Jing", DateOfBirth: "1961-07-04",
		WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	order, err := s.store.OrderDose(ctx, s.actor("dr.cho"), in.patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	in.bag, err = s.store.PrepareDoseBag(ctx, s.actor("ph.eve"), order.ID, domain.NewDoseBag{UnitIDs: []int64{units[0].ID, units[1].ID},
		ThawedAt: now.Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 70_000_000, VolumeML: 50})
	if err != nil {
		t.Fatal(err)
	}
	if in.bag, err = s.store.CheckDoseBag(ctx, s.actor("ph.eve"), in.bag.ID, "ph.sam", password); err != nil {
		t.Fatal(err)
	}
	code := in.bag.BagID + in.bag.Check
	for _, sc := range []struct{ kind, who string }{{domain.ScanDispatch, "ph.eve"}, {domain.ScanReceive, "rn.dee"}} {
		c := 5.0
		if _, err := s.store.RecordScan(ctx, s.actor(sc.who), domain.CustodyScan{Kind: sc.kind, Code: code, CodeKind: domain.CodeManual,
			BagID: in.bag.BagID, Location: "Ward 4", TemperatureC: &c}); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// An infusion started at the bedside is shown on the ward's list of patients and on the
// patient's page (not on another patient's), where another nurse, in a fresh login, ends it
// with the volume and the reactions; after a reload it is gone from both and the patient's
// record holds its end.
func TestBrowserInfusionInProgressOnThePatientPages(t *testing.T) {
	s := newSite(t, browserBackend(t))
	in := s.infusing(t)
	other, err := s.store.Enrol(context.Background(), s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-502", MRN: "MRN0502", Name: "Wu Fang",
		DateOfBirth: "1970-01-02", WeightKg: 60, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.url)
	b.login("rn.fay")

	b.open(fmt.Sprintf("/patients/%d", other.ID))
	time.Sleep(500 * time.Millisecond) // the list is asked for after load
	var shown bool
	b.run(chromedp.Evaluate(`!document.getElementById("in-progress").hidden`, &shown))
	if shown {
		t.Errorf("SVP-502's page shows SVP-501's infusion: %q", b.text("#in-progress"))
	}

	b.open("/patients")
	b.waitFor(`!document.getElementById("in-progress").hidden`)
	if row := b.text("#in-progress-list li"); !strings.Contains(row, in.bag.BagID) || !strings.Contains(row, "SVP-501") || !strings.Contains(row, "Ward 4") {
		t.Errorf("the ward's list shows %q, want the bag, subject and ward of the infusion", row)
	}
	b.shot("ward-1-patients-infusion-in-progress")

	page := fmt.Sprintf("/patients/%d", in.patient.ID)
	b.open(page)
	b.waitFor(`!document.getElementById("in-progress").hidden`)
	if row := b.text("#in-progress-list li"); !strings.Contains(row, in.bag.BagID) {
		t.Errorf("the patient's page shows %q, want the infusion of bag %s", row, in.bag.BagID)
	}
	// More than the bag held is refused and said next to the field; nothing ends.
	b.run(chromedp.SendKeys(`#in-progress-list input[name="volume_ml"]`, "80"), chromedp.Click(`#in-progress-list button[type="submit"]`))
	if note := b.text(`#in-progress-list .field-note`); note == "" {
		t.Error("80 mL from a 50 mL bag shows no note")
	}
	b.run(chromedp.Evaluate(`document.querySelector('#in-progress-list input[name="volume_ml"]').value = ""`, nil),
		chromedp.SendKeys(`#in-progress-list input[name="volume_ml"]`, "48.5"),
		chromedp.SendKeys(`#in-progress-list input[name="reactions"]`, "mild chills at 20 minutes"))
	b.shot("ward-2-patient-infusion-in-progress")
	b.run(chromedp.Click(`#in-progress-list button[type="submit"]`))
	b.waitFor(`document.getElementById("in-progress").hidden`)
	if f := b.text("#flash"); !strings.Contains(f, in.bag.BagID) || !strings.Contains(f, "ended") {
		t.Errorf("after ending, the page says %q", f)
	}

	b.open(page)
	time.Sleep(300 * time.Millisecond)
	b.waitFor(`document.getElementById("in-progress").hidden`)
	if rec := b.text(".timeline"); !strings.Contains(rec, "48.5 mL") || !strings.Contains(rec, "mild chills") {
		t.Errorf("the patient's record reads %q, want the end with its volume and reactions", rec)
	}
	b.shot("ward-3-patient-infusion-ended")
	b.open("/patients")
	time.Sleep(300 * time.Millisecond)
	b.waitFor(`document.getElementById("in-progress").hidden`)

	list, err := s.store.InfusionsInProgress(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("in progress after the end: %+v %v", list, err)
	}
}
