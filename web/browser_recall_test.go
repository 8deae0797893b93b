package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// A second patient is infused from the lot before the recall: the bedside through the API,
	// the bag's id typed with a reason, a witness with their password.
	more, err := s.store.CreateUnits(ctx, qc, lot.ID, domain.NewUnits{Count: 2, ViableCells: 40_000_000, VolumeML: 25})
	must(err)
	p2, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-002", MRN: "MRN0002", Name: "Wang Fang", DateOfBirth: "1961-07-09",
		WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)})
	must(err)
	o2, err := s.store.OrderDose(ctx, s.actor("dr.cho"), p2.ID)
	must(err)
	bag2, err := s.store.PrepareDoseBag(ctx, s.actor("ph.eve"), o2.ID, domain.NewDoseBag{UnitIDs: []int64{more[0].ID, more[1].ID},
		ThawedAt: now.Add(-10 * time.Minute), PostThawViabilityPct: 85, ViableCells: o2.TargetViableCells, VolumeML: 50})
	must(err)
	_, err = s.store.CheckDoseBag(ctx, s.actor("ph.eve"), bag2.ID, "ph.sam", password)
	must(err)
	for _, sc := range []struct {
		kind, who string
	}{{domain.ScanDispatch, "ph.eve"}, {domain.ScanReceive, "rn.dee"}} {
		_, err := s.store.RecordScan(ctx, s.actor(sc.who), domain.CustodyScan{Kind: sc.kind, Code: bag2.BagID, CodeKind: domain.CodeManual,
			BagID: bag2.BagID, Location: "ICU-3", TemperatureC: &temp})
		must(err)
	}
	nurse := apiLogin(t, s.url, "rn.dee")
	v := apiCall(t, s.url, nurse, "/api/v1/bedside/verify", map[string]any{"wristband": "MRN0002", "code": bag2.BagID + bag2.Check,
		"wristband_entry": "scanned", "code_entry": "typed", "entry_reason": map[string]string{"code": "label_damaged"},
		"witness": map[string]string{"username": "rn.fay", "password": password}, "ward": "ICU-3"})
	if v["pass"] != true {
		t.Fatalf("verification: %v", v)
	}
	apiCall(t, s.url, nurse, "/api/v1/infusions", map[string]any{"verification_id": v["id"]})

	_, err = s.store.Sign(ctx, s.actor("qa.bob"), lot.ID, domain.SignRequest{Action: domain.SignRecall, Password: password, Reason: "sterility positive on the retained sample"})
	must(err)

	// The infused patient's physician sees the notice until acknowledging it.
	b.login("dr.cho")
	b.open(fmt.Sprintf("/patients/%d", p2.ID))
	if got := b.text(".recall-notice"); !strings.Contains(got, "HUC-RC-001") || !strings.Contains(got, "recalled") {
		t.Fatalf("recall notice on the patient page: %q", got)
	}
	b.shot("53-patient-recall-notice")
	b.run(chromedp.SendKeys(`.recall-notice input[name="note"]`, "patient informed; blood cultures ordered"))
	b.submitAndReload(`.recall-notice button[type="submit"]`)
	var ack bool
	b.run(chromedp.Evaluate(`document.querySelector(".recall-notice") === null`, &ack))
	if got := b.text("main"); !ack || !strings.Contains(got, "acknowledged by Test dr.cho") {
		t.Fatalf("after acknowledging, the page shows: %q", got)
	}
	b.shot("54-patient-recall-acknowledged")
	b.logout()

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

// apiLogin logs in through the API and returns the bearer token.
func apiLogin(t *testing.T, base, username string) string {
	t.Helper()
	return apiCall(t, base, "", "/api/v1/auth/login", map[string]string{"username": username, "password": password})["token"].(string)
}

// apiCall posts body to path with the token and decodes the JSON answer, failing the test on
// an answer other than 200 or 201.
func apiCall(t *testing.T, base, token, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || (res.StatusCode != 200 && res.StatusCode != 201) {
		t.Fatalf("POST %s: %d %v %v", path, res.StatusCode, out, err)
	}
	return out
}
