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

// An active recall in a real browser: QA recalls a released lot with two units in stock and
// a bag on the ward. The pharmacy's worklist shows the three tasks; the ward's bedside page
// shows the bag, and the nurse sends it back; the pharmacist scans a unit back by its typed
// id, records the other destroyed and scans the bag back; the lot page reads 3 of 3.
func TestBrowserActiveRecall(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx, qc, now := context.Background(), s.actor("qc.ann"), time.Now().UTC()
	lot := s.newLot(t, "HUC-RC-001")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.store.Quarantine(ctx, qc, lot.ID)
	must(err)
	f64 := func(v float64) *float64 { return &v }
	for _, r := range []domain.QCResult{
		{Test: domain.TestViability, Value: f64(92)}, {Test: domain.TestViableCellCount, Value: f64(1.2e9)},
		{Test: domain.TestSterility, Result: "negative"}, {Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: f64(0.1)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
		{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}},
	} {
		_, err := s.store.AddQCResult(ctx, qc, lot.ID, r)
		must(err)
	}
	_, err = s.store.Sign(ctx, s.actor("qa.bob"), lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: password})
	must(err)
	units, err := s.store.CreateUnits(ctx, qc, lot.ID, domain.NewUnits{Count: 4, ViableCells: 40_000_000, VolumeML: 25})
	must(err)
	p, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-001", MRN: "MRN0001", Name: "Zhao Min", DateOfBirth: "1958-03-02",
		WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)})
	must(err)
	o, err := s.store.OrderDose(ctx, s.actor("dr.cho"), p.ID)
	must(err)
	bag, err := s.store.PrepareDoseBag(ctx, s.actor("ph.eve"), o.ID, domain.NewDoseBag{UnitIDs: []int64{units[0].ID, units[1].ID},
		ThawedAt: now.Add(-10 * time.Minute), PostThawViabilityPct: 85, ViableCells: o.TargetViableCells, VolumeML: 50})
	must(err)
	_, err = s.store.CheckDoseBag(ctx, s.actor("ph.eve"), bag.ID, "ph.sam", password)
	must(err)
	temp := 5.0
	for _, sc := range []struct {
		kind, who string
	}{{domain.ScanDispatch, "ph.eve"}, {domain.ScanReceive, "rn.dee"}} {
		_, err := s.store.RecordScan(ctx, s.actor(sc.who), domain.CustodyScan{Kind: sc.kind, Code: bag.BagID, CodeKind: domain.CodeManual,
			BagID: bag.BagID, Location: "ICU-3", TemperatureC: &temp})
		must(err)
	}
	_, err = s.store.Sign(ctx, s.actor("qa.bob"), lot.ID, domain.SignRequest{Action: domain.SignRecall, Password: password, Reason: "sterility positive on the retained sample"})
	must(err)

	b.login("ph.eve")
	b.open("/pharmacy")
	if got := b.text("#recall-title"); !strings.Contains(got, "3 unit(s) and bag(s)") {
		t.Fatalf("pharmacy recall heading: %q", got)
	}
	b.shot("50-pharmacy-recall")
	typed := units[2].UnitID + units[2].Check
	b.run(chromedp.SendKeys(`#return-scan input[name="code"]`, typed))
	b.submitAndReload(`#return-scan button[type="submit"]`)
	destroy := `#recall-tasks li:first-child form[data-url$="/destroy"]`
	b.run(chromedp.SendKeys(destroy+` input[name="reason"]`, "incinerated under the recall procedure"))
	b.submitAndReload(destroy + ` button[type="submit"]`)
	b.logout()

	b.login("rn.dee")
	b.open("/bedside")
	if got := b.text("#ward-recall"); !strings.Contains(got, "SVP-001") || !strings.Contains(got, "HUC-RC-001") {
		t.Fatalf("ward recall list: %q", got)
	}
	b.shot("51-bedside-ward-recall")
	b.submitAndReload(`#ward-recall button[type="submit"]`)
	var gone bool
	b.run(chromedp.Evaluate(`document.querySelector("#ward-recall") === null`, &gone))
	if !gone {
		t.Fatalf("the bag sent back is still on the ward's list")
	}
	b.logout()

	b.login("ph.eve")
	b.open("/pharmacy")
	if got := b.text("#recall-tasks"); !strings.Contains(got, "SVP-001") || !strings.Contains(got, "in the pharmacy") {
		t.Fatalf("pharmacy recall list after the ward sent the bag back: %q", got)
	}
	b.run(chromedp.SendKeys(`#return-scan input[name="code"]`, bag.BagID+bag.Check))
	b.submitAndReload(`#return-scan button[type="submit"]`)
	var none bool
	b.run(chromedp.Evaluate(`document.querySelector("#recall") === null`, &none))
	if !none {
		t.Fatalf("recall tasks left on the pharmacy's worklist: %q", b.text("#recall"))
	}
	b.open(fmt.Sprintf("/lots/%d", lot.ID))
	if got := b.text("#recall-progress"); !strings.Contains(got, "3 of 3") {
		t.Fatalf("lot recall progress: %q", got)
	}
	b.shot("52-lot-recall-progress")
	tasks, err := s.store.LotRecallTasks(ctx, lot.ID)
	must(err)
	if pr := domain.Progress(tasks); pr.Total != 3 || pr.Closed != 3 {
		t.Fatalf("progress in the store %+v", pr)
	}
}
