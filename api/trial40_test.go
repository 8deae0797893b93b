package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// A 40-subject trial run end to end through the API, as the pages and devices call it, on a
// site eight hours ahead of UTC, on both databases:
//
//   - the lab: three donations worked up and determined eligible, lots A (8 units), B (18)
//     and C (16) released;
//   - QA loads and signs the allocation list, which alternates the arms (odd sequence numbers
//     huc_msc); subjects SVP-001…SVP-040 are enrolled in order at 02:00 site time on
//     2026-01-05 (18:00 UTC the day before: day 0 is the site's date), each taking the next
//     allocation;
//   - day 1: each huc_msc subject's dose is ordered, prepared from two units, checked,
//     labelled, dispatched, received and verified at the bedside: SVP-001 and SVP-003 are
//     infused from lot A, SVP-005's bag from lot A waits on the ward; SVP-007…SVP-039 are
//     infused from lots B and C, SVP-007 after a bedside verification with a typed wristband
//     (a deviation by itself);
//   - day 3: lot A's donor is found ineligible: the lot goes on hold and the look-back lists
//     its units, bags and patients; QA recalls it, the bag on the ward is scanned back, the
//     two units left in stock are destroyed, and the notices of the two infused subjects are
//     acknowledged by a physician;
//   - day 100: assessments, then discharges, deaths, withdrawals and losses are recorded;
//     adverse events, one SAE left past its 24-hour clock; a deviation recorded by hand and
//     signed off by a physician;
//   - the endpoints (JSON, CSV, page) and the trial export are checked against figures worked
//     out by hand in the comments.
func TestA40SubjectTrialEndToEnd(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			tr := newTrial40(t, backend)
			lotA := tr.releasedLot("A", 8)
			lotB := tr.releasedLot("B", 18)
			lotC := tr.releasedLot("C", 16)
			tr.randomizeAndEnrol()
			tr.infuse(lotA, lotB, lotC)
			tr.lateIneligibleDonorAndRecall(lotA)
			tr.followUp()
			tr.safety()
			tr.deviations()
			tr.checkEndpoints()
			tr.checkExport()
		})
	}
}

// trial40 is the trial's server, its clock and what the phases hand on to one another.
type trial40 struct {
	t        *testing.T
	ts       *testServer
	clock    *testClock
	site     *time.Location
	enrolled time.Time
	ids      map[string]int64 // patient id by subject id
	// SVP-005's bag, left on the ward; SVP-007's verification with a typed wristband.
	wardBag           bagOnWard
	typedVerification int64
}

// released is a released lot: its path, its donation's path and its units.
type released struct {
	path, donation string
	units          []int64
}

// bagOnWard is a bag received on the ward: its path and the QR of its label.
type bagOnWard struct {
	path, code string
}

func newTrial40(t *testing.T, backend string) *trial40 {
	site := time.FixedZone("UTC+8", 8*3600)
	enrolled := time.Date(2026, 1, 5, 2, 0, 0, 0, site) // 2026-01-04T18:00Z
	tr := &trial40{t: t, site: site, enrolled: enrolled, clock: &testClock{t: enrolled.Add(-6 * time.Hour)}, ids: map[string]int64{}}
	tr.ts = newTestServerWith(t, backend, store.Options{Site: site, Now: tr.clock.Now})
	registerWeb(t, tr.ts)
	admin := tr.ts.login("admin", adminPassword)
	for _, u := range []struct {
		name string
		role domain.Role
	}{{"qc.ann", domain.RoleQC}, {"qa.bob", domain.RoleQA}, {"dr.cho", domain.RolePhysician}, {"ph.eve", domain.RolePharmacist},
		{"ph.sam", domain.RolePharmacist}, {"nurse.dee", domain.RoleNurse}, {"nurse.fay", domain.RoleNurse}} {
		tr.ts.userWith(admin, u.name, u.role)
	}
	return tr
}

// on sets the clock to hh:mm site time on study day n.
func (tr *trial40) on(n, hh, mm int) {
	d := tr.enrolled.AddDate(0, 0, n)
	tr.clock.set(time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, tr.site))
}

// as logs username in now: sessions idle out after 15 minutes of the store's clock.
func (tr *trial40) as(username string) string {
	tr.t.Helper()
	return tr.ts.login(username, "a good password")
}

// must fails the test unless r succeeded (200 or 201).
func (tr *trial40) must(r response, what string) response {
	tr.t.Helper()
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		tr.t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	return r
}

func (tr *trial40) id(r response) int64 { return int64(r.json(tr.t)["id"].(float64)) }

// h(k) is the k-th huc_msc subject, SVP-(2k−1); r(k) the k-th routine one, SVP-(2k).
func (tr *trial40) h(k int) int64 { return tr.ids[fmt.Sprintf("SVP-%03d", 2*k-1)] }
func (tr *trial40) r(k int) int64 { return tr.ids[fmt.Sprintf("SVP-%03d", 2*k)] }

// date is the site calendar date of study day n.
func (tr *trial40) date(n int) string { return tr.enrolled.AddDate(0, 0, n).Format(time.DateOnly) }

// releasedLot records a donation, its donor's tests and screening and QA's signed
// determination that the donor is eligible, then a lot from it that passes every criterion,
// released by QA and divided into n units.
func (tr *trial40) releasedLot(name string, n int) released {
	t, ts := tr.t, tr.ts
	tr.on(-1, 20, 0)
	qc, qa := tr.as("qc.ann"), tr.as("qa.bob")
	collected := tr.enrolled.AddDate(0, 0, -10)
	don := tr.must(ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": collected}), "donation")
	out := released{donation: fmt.Sprintf("/api/v1/donations/%d", tr.id(don))}
	recordDonorWorkUp(t, ts, qc, out.donation, collected.Add(24*time.Hour))
	tr.must(ts.do("POST", out.donation+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "eligible"}), "eligible")
	lot := tr.must(ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": tr.id(don), "lot_number": "HUCMSC-2026-" + name,
		"manufactured_at": collected.AddDate(0, 0, 2), "expires_at": collected.AddDate(1, 0, 0)}), "lot")
	out.path = fmt.Sprintf("/api/v1/lots/%d", tr.id(lot))
	tr.must(ts.do("POST", out.path+"/quarantine", qc, nil), "quarantine")
	for _, body := range passingResults() {
		tr.must(ts.do("POST", out.path+"/qc-results", qc, body), "QC result")
	}
	tr.must(ts.do("POST", out.path+"/release", qa, map[string]string{"password": "a good password"}), "release")
	tr.must(ts.do("POST", out.path+"/units", qc, map[string]any{"count": n, "viable_cells": 40000000, "volume_ml": 25}), "units")
	for _, u := range ts.do("GET", out.path, qc, nil).json(t)["units"].([]any) {
		out.units = append(out.units, int64(u.(map[string]any)["id"].(float64)))
	}
	return out
}

// randomizeAndEnrol has QA load and sign the allocation list, then enrols the 40 subjects,
// each taking the next allocation.
func (tr *trial40) randomizeAndEnrol() {
	t, ts := tr.t, tr.ts
	tr.on(-1, 21, 0)
	var list strings.Builder
	list.WriteString("sequence,arm\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&list, "%d,%s\n", i, domain.Arms[(i+1)%2])
	}
	tr.must(ts.do(http.MethodPost, "/api/v1/trial/allocations", tr.as("qa.bob"), map[string]any{"password": "a good password", "csv": list.String()}), "list")
	tr.on(0, 2, 5)
	doc := tr.as("dr.cho")
	for i := 1; i <= 40; i++ {
		sid := fmt.Sprintf("SVP-%03d", i)
		r := tr.must(ts.do(http.MethodPost, "/api/v1/patients", doc, map[string]any{"subject_id": sid, "mrn": fmt.Sprintf("MRN%04d", i), "name": "Subject " + sid,
			"date_of_birth": "1960-01-01", "weight_kg": 70, "enrolled_at": tr.enrolled}), "enrol "+sid)
		if want := string(domain.Arms[(i+1)%2]); r.json(t)["arm"] != want || r.json(t)["allocation_sequence"] != float64(i) {
			t.Fatalf("%s allocated %v (sequence %v), want %s", sid, r.json(t)["arm"], r.json(t)["allocation_sequence"], want)
		}
		tr.ids[sid] = tr.id(r)
	}
	sum := tr.must(ts.do(http.MethodGet, "/api/v1/trial", tr.as("qa.bob"), nil), "trial")
	if !strings.Contains(string(sum.body), `{"arm":"huc_msc","enrolled":20,"randomized":20}`) || !strings.Contains(string(sum.body), `{"arm":"routine","enrolled":20,"randomized":20}`) {
		t.Fatalf("trial summary: %s", sum.body)
	}
}

// bagToWard orders subject's dose, prepares it from units, has the second pharmacist check
// it, prints and scans its label, dispatches it and receives it on the ward.
func (tr *trial40) bagToWard(subject string, units []int64) bagOnWard {
	t, ts := tr.t, tr.ts
	step := func() { tr.clock.Advance(time.Minute) }
	o := tr.must(ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", tr.ids[subject]), tr.as("dr.cho"), nil), "order "+subject).json(t)
	step()
	pharm := tr.as("ph.eve")
	bag := tr.must(ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64))), pharm, map[string]any{
		"unit_ids": units, "thawed_at": tr.clock.Now().Add(-5 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": o["target_viable_cells"], "volume_ml": 50}), "prepare "+subject)
	out := bagOnWard{path: fmt.Sprintf("/api/v1/dose-bags/%d", tr.id(bag))}
	step()
	tr.must(ts.do("POST", out.path+"/check", pharm, map[string]string{"username": "ph.sam", "password": "a good password"}), "second pharmacist's check")
	out.code = scanQR(t, ts.do("GET", out.path+"/label.png", pharm, nil).body)
	step()
	tr.must(ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": out.code, "to": "ICU-3", "temperature_c": 5}), "dispatch "+subject)
	step()
	tr.must(ts.do("POST", "/api/v1/scans/receive", tr.as("nurse.dee"), map[string]any{"code": out.code, "temperature_c": 4.5}), "receive "+subject)
	step()
	return out
}

// infuseBag verifies the bag at the bedside with a witness (extra adds to the verification's
// body), then starts and ends the infusion; it returns the verification.
func (tr *trial40) infuseBag(subject string, b bagOnWard, extra map[string]any) map[string]any {
	t, ts := tr.t, tr.ts
	nurse := tr.as("nurse.dee")
	// SVP-nnn wears the wristband MRN0nnn.
	body := map[string]any{"wristband": "MRN0" + strings.TrimPrefix(subject, "SVP-"), "code": b.code, "ward": "ICU-3",
		"witness": map[string]string{"username": "nurse.fay", "password": "a good password"}}
	for k, v := range extra {
		body[k] = v
	}
	v := tr.must(ts.do("POST", "/api/v1/bedside/verify", nurse, body), "verify "+subject).json(t)
	if v["pass"] != true {
		t.Fatalf("bedside verification of %s: %v", subject, v)
	}
	tr.clock.Advance(time.Minute)
	inf := tr.must(ts.do("POST", "/api/v1/infusions", nurse, map[string]any{"verification_id": v["id"]}), "start "+subject)
	tr.clock.Advance(10 * time.Minute)
	tr.must(ts.do("POST", fmt.Sprintf("/api/v1/infusions/%d/end", tr.id(inf)), nurse, map[string]any{"volume_ml": 48.5, "reactions": "none"}), "end "+subject)
	tr.clock.Advance(time.Minute)
	return v
}

// infuse runs day 1 on the ward: SVP-001 and SVP-003 infused from lot A, SVP-005's bag from
// lot A left on the ward; h4…h20 (SVP-007…SVP-039) infused from lot B (nine bags) and lot C
// (eight), SVP-007 with a typed wristband.
func (tr *trial40) infuse(lotA, lotB, lotC released) {
	t := tr.t
	tr.on(1, 9, 0)
	tr.infuseBag("SVP-001", tr.bagToWard("SVP-001", lotA.units[0:2]), nil)
	tr.infuseBag("SVP-003", tr.bagToWard("SVP-003", lotA.units[2:4]), nil)
	tr.wardBag = tr.bagToWard("SVP-005", lotA.units[4:6])
	// Lots B and C give 17 bags of two units, in order: h4…h12 from B, h13…h20 from C.
	units := append(append([]int64{}, lotB.units...), lotC.units...)
	typed := tr.infuseBag("SVP-007", tr.bagToWard("SVP-007", units[0:2]),
		map[string]any{"wristband_entry": "typed", "entry_reason": map[string]string{"code": "wristband_unreadable"}})
	if typed["wristband_entry"] != "typed" {
		t.Fatalf("typed verification: %v", typed)
	}
	tr.typedVerification = int64(typed["id"].(float64))
	for k := 5; k <= 20; k++ {
		sid := fmt.Sprintf("SVP-%03d", 2*k-1)
		tr.infuseBag(sid, tr.bagToWard(sid, units[2*(k-4):2*(k-3)]), nil)
	}
}

// lateIneligibleDonorAndRecall runs day 3: lot A's donor determined ineligible, its look-back,
// the recall of lot A and its tasks closed, the infused subjects' notices acknowledged.
func (tr *trial40) lateIneligibleDonorAndRecall(lotA released) {
	t, ts := tr.t, tr.ts
	tr.on(3, 10, 0)
	qa := tr.as("qa.bob")
	det := tr.must(ts.do("POST", lotA.donation+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "ineligible",
		"reason": "maternal HCV NAT reactive on the 7-day retest"}), "ineligible")
	// The look-back: lot A, on hold; its 8 units; the 3 bags made from it; their 3 patients.
	lb := det.json(t)["look_back"].(map[string]any)
	lots, units, bags, patients := lb["lots"].([]any), lb["units"].([]any), lb["dose_bags"].([]any), lb["patients"].([]any)
	if len(lots) != 1 || lots[0].(map[string]any)["status"] != "on_hold" || len(units) != 8 || len(bags) != 3 {
		t.Fatalf("look-back: lots %v, %d units, %d bags; want lot A on hold, 8 units, 3 bags", lots, len(units), len(bags))
	}
	var subjects []string
	for _, p := range patients {
		subjects = append(subjects, p.(map[string]any)["subject_id"].(string))
	}
	if strings.Join(subjects, " ") != "SVP-001 SVP-003 SVP-005" {
		t.Fatalf("look-back patients %v; want SVP-001 SVP-003 SVP-005", subjects)
	}
	if r := ts.do("POST", "/api/v1/scans/dispatch", tr.as("ph.eve"), map[string]any{"code": tr.wardBag.code, "to": "ICU-4", "temperature_c": 5}); r.status != 422 {
		t.Fatalf("a bag of the held lot moves on: %d %s; want 422", r.status, r.body)
	}

	// The recall: a task for each of the 2 units still in stock and for SVP-005's bag on the
	// ward; a notice for each infused subject, SVP-001 and SVP-003.
	tr.must(ts.do("POST", lotA.path+"/recall", qa, map[string]any{"password": "a good password", "reason": "donor ineligible: maternal HCV NAT reactive"}), "recall")
	pharm := tr.as("ph.eve")
	tasks := decodeList(t, tr.must(ts.do("GET", lotA.path+"/recall-tasks", pharm, nil), "recall tasks").body)
	var unitTasks []int64
	for _, task := range tasks {
		switch task["unit_or_bag"] {
		case "unit":
			unitTasks = append(unitTasks, int64(task["id"].(float64)))
		case "dose_bag":
			if task["location"] != "ward" || task["subject_id"] != "SVP-005" {
				t.Fatalf("bag task %v; want SVP-005's bag on the ward", task)
			}
		}
	}
	if len(tasks) != 3 || len(unitTasks) != 2 {
		t.Fatalf("recall tasks %v; want 2 units and 1 bag", tasks)
	}
	doc := tr.as("dr.cho")
	var notices []int64
	for _, sid := range []string{"SVP-001", "SVP-003", "SVP-005", "SVP-007"} {
		list := decodeList(t, ts.do("GET", fmt.Sprintf("/api/v1/patients/%d/recall-notices", tr.ids[sid]), doc, nil).body)
		if want := map[string]int{"SVP-001": 1, "SVP-003": 1}[sid]; len(list) != want {
			t.Fatalf("%s has %d recall notices; want %d", sid, len(list), want)
		}
		for _, n := range list {
			notices = append(notices, int64(n["id"].(float64)))
		}
	}

	// The tasks closed: the bag scanned back, the units destroyed.
	if r := tr.must(ts.do("POST", "/api/v1/scans/return", pharm, map[string]any{"code": tr.wardBag.code, "entry": "scanned"}), "return scan"); r.json(t)["status"] != "returned" {
		t.Fatalf("return scan: %s", r.body)
	}
	for _, id := range unitTasks {
		tr.must(ts.do("POST", fmt.Sprintf("/api/v1/recall-tasks/%d/destroy", id), pharm, map[string]any{"reason": "sent for incineration under the recall procedure"}), "destroy")
	}
	if open := tr.must(ts.do("GET", "/api/v1/recall-tasks", qa, nil), "open tasks").json(t)["tasks"].([]any); len(open) != 0 {
		t.Fatalf("open recall tasks left: %v", open)
	}
	closed := map[string]int{}
	for _, task := range decodeList(t, ts.do("GET", lotA.path+"/recall-tasks", qa, nil).body) {
		closed[task["status"].(string)]++
	}
	if closed["returned"] != 1 || closed["destroyed"] != 2 {
		t.Fatalf("lot A's recall tasks by status %v; want 1 returned, 2 destroyed", closed)
	}
	for _, id := range notices {
		tr.must(ts.do("POST", fmt.Sprintf("/api/v1/recall-notices/%d/acknowledge", id), doc, map[string]any{"note": "patient informed; HCV testing ordered"}), "acknowledge")
	}
	for _, sid := range []string{"SVP-001", "SVP-003"} {
		for _, n := range decodeList(t, ts.do("GET", fmt.Sprintf("/api/v1/patients/%d/recall-notices", tr.ids[sid]), doc, nil).body) {
			if n["acknowledged_by"] != "Full dr.cho" {
				t.Fatalf("%s notice after acknowledgement: %v", sid, n)
			}
		}
	}
}

// followUp records, on day 100, the assessments and then the outcomes, as a data manager
// catching up from the source notes would.
func (tr *trial40) followUp() {
	t, ts := tr.t, tr.ts
	tr.on(100, 10, 0)
	doc := tr.as("dr.cho")
	assess := func(id int64, day int, field string, v float64) {
		t.Helper()
		tr.must(ts.do(http.MethodPost, fmt.Sprintf("/api/v1/patients/%d/assessments", id), doc,
			map[string]any{"day": day, "taken_at": tr.enrolled.AddDate(0, 0, day).Add(time.Hour), field: v}), "assessment")
	}
	for k, v := range []float64{120, 80, 100, 60, 140} {
		assess(tr.h(6+k), 0, "crp_mg_l", v)
	}
	for k, v := range []float64{40, 30, 50, 20} {
		assess(tr.h(6+k), 7, "crp_mg_l", v)
	}
	for k, v := range []float64{90, 110, 70} {
		assess(tr.r(9+k), 0, "crp_mg_l", v)
	}
	assess(tr.h(11), 0, "pf_ratio_mmhg", 150)
	assess(tr.h(12), 0, "pf_ratio_mmhg", 250)

	outcome := func(id int64, kind string, day int) {
		t.Helper()
		body := map[string]any{"kind": kind, "date": tr.date(day)}
		switch kind {
		case "death":
			body["cause"] = "respiratory failure"
		case "withdrawal", "lost":
			body["reason"] = "recorded in the source notes"
		}
		tr.must(ts.do(http.MethodPost, fmt.Sprintf("/api/v1/patients/%d/outcomes", id), doc, body), kind)
	}
	// huc_msc: h1 dies in hospital on day 5, h3 on day 20; h2 is discharged on day 12
	// and dies on day 60; h4 is discharged on day 9 and withdraws on day 30; h5 is
	// discharged on day 11 and lost on day 45; h6…h20 are discharged on the days below
	// and followed to day 90.
	outcome(tr.h(1), "death", 5)
	outcome(tr.h(3), "death", 20)
	outcome(tr.h(2), "discharge", 12)
	outcome(tr.h(2), "death", 60)
	outcome(tr.h(4), "discharge", 9)
	outcome(tr.h(4), "withdrawal", 30)
	outcome(tr.h(5), "discharge", 11)
	outcome(tr.h(5), "lost", 45)
	for k, d := range []int{6, 7, 8, 8, 10, 10, 12, 14, 14, 15, 16, 18, 20, 25, 30} {
		outcome(tr.h(6+k), "discharge", d)
	}
	// routine: r1 dies in hospital on day 2, r2 and r3 on day 8, r4 on day 15; r5 is
	// discharged on day 20 and dies on day 70; r6 is discharged on day 7 and withdraws
	// on day 50; r7 is lost on day 10, in hospital; r8 is still in hospital; r9…r20
	// are discharged on the days below.
	outcome(tr.r(1), "death", 2)
	outcome(tr.r(2), "death", 8)
	outcome(tr.r(3), "death", 8)
	outcome(tr.r(4), "death", 15)
	outcome(tr.r(5), "discharge", 20)
	outcome(tr.r(5), "death", 70)
	outcome(tr.r(6), "discharge", 7)
	outcome(tr.r(6), "withdrawal", 50)
	outcome(tr.r(7), "lost", 10)
	for k, d := range []int{9, 10, 11, 12, 13, 14, 16, 18, 21, 24, 28, 35} {
		outcome(tr.r(9+k), "discharge", d)
	}
	// r8 (SVP-016), of whom nothing was recorded, is on the worklist from day 0, 100 days
	// late: no later record has shown cordtrace that the visits were missed.
	w := tr.must(ts.do(http.MethodGet, "/api/v1/follow-up/worklist", tr.as("nurse.dee"), nil), "follow-up worklist").body
	if !strings.Contains(string(w), `{"patient_id":`+fmt.Sprint(tr.r(8))+`,"subject_id":"SVP-016","day":0,"date":"2026-01-05","overdue":true,"days_late":100}`) {
		t.Errorf("follow-up worklist: %.300s", w)
	}
}

// safety records the adverse events on day 100 (r2's SAE in the first form), lets 25 hours
// pass, records h1's fatal SAE, and works the safety worklist: r2's report, past its 24-hour
// clock, comes first; h1's is sent to the sponsor in time.
func (tr *trial40) safety() {
	t, ts := tr.t, tr.ts
	tr.on(100, 10, 30)
	nurse := tr.as("nurse.dee")
	ae := func(token string, id int64, serious bool, severity string) int64 {
		t.Helper()
		return tr.id(tr.must(ts.do("POST", "/api/v1/adverse-events", token, map[string]any{"patient_id": id, "serious": serious, "severity": severity,
			"description": "event", "onset_at": tr.enrolled.Add(30 * time.Hour)}), "adverse event"))
	}
	ae(nurse, tr.r(2), true, "severe")
	ae(nurse, tr.h(7), false, "mild")
	ae(nurse, tr.h(7), false, "moderate")
	ae(nurse, tr.r(9), false, "mild")
	tr.clock.Advance(25 * time.Hour)
	fatal := ae(tr.as("dr.cho"), tr.h(1), true, "fatal")

	qa := tr.as("qa.bob")
	reports := tr.must(ts.do("GET", "/api/v1/safety/reports", qa, nil), "safety worklist").json(t)["reports"].([]any)
	if len(reports) != 2 {
		t.Fatalf("safety worklist: %v; want the two SAEs' 24-hour reports", reports)
	}
	first, second := reports[0].(map[string]any), reports[1].(map[string]any)
	// r2 is SVP-004; its report was due 24 hours after it was recorded, an hour ago.
	wantDue := tr.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if first["subject_id"] != "SVP-004" || first["kind"] != "sae_24h" || first["overdue"] != true || first["due_at"] != wantDue ||
		second["subject_id"] != "SVP-001" || second["overdue"] != false {
		t.Fatalf("safety worklist: %v; want SVP-004's overdue report (due %s) first, then SVP-001's", reports, wantDue)
	}
	sent := tr.must(ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/reported", fatal), qa, map[string]any{"sent_at": tr.clock.Now()}), "sent to sponsor").json(t)
	for _, rep := range sent["reports"].([]any) {
		if rep := rep.(map[string]any); rep["late"] != false || rep["sent_by_name"] != "Full qa.bob" {
			t.Fatalf("report sent in time: %v", rep)
		}
	}
	if reports := ts.do("GET", "/api/v1/safety/reports", qa, nil).json(t)["reports"].([]any); len(reports) != 1 || reports[0].(map[string]any)["subject_id"] != "SVP-004" {
		t.Fatalf("safety worklist after sending: %v", reports)
	}
}

// deviations records one deviation by hand, signed off by a physician, and checks those
// cordtrace recorded by itself: SVP-007's typed wristband, and every missed assessment.
func (tr *trial40) deviations() {
	t, ts := tr.t, tr.ts
	nurse := tr.as("nurse.dee")
	d := tr.must(ts.do("POST", "/api/v1/deviations", nurse, map[string]any{"patient_id": tr.h(10), "category": "informed_consent",
		"description": "Consent form version 2 signed two days after it came into use"}), "deviation by hand")
	path := fmt.Sprintf("/api/v1/deviations/%d", tr.id(d))
	doc := tr.as("dr.cho")
	sign := map[string]any{"password": "a good password", "reason": "reviewed with the site team"}
	if r := ts.do("POST", path+"/sign", doc, sign); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("signed before its corrective action: %d %s; want 422", r.status, r.body)
	}
	tr.must(ts.do("POST", path+"/corrective-action", nurse, map[string]any{"corrective_action": "Staff retrained; version check added to the consent visit"}), "corrective action")
	if r := tr.must(ts.do("POST", path+"/sign", doc, sign), "sign-off"); r.json(t)["printed_name"] != "Full dr.cho" {
		t.Fatalf("signed deviation: %s", r.body)
	}

	// Missed assessments, seen on day 100 as each subject's assessments (day order) and
	// outcomes were recorded: every protocol day (0 1 3 7 14 28 90) before the subject's
	// latest record, not assessed, within follow-up (all are past their day of grace).
	//   huc_msc: h1 (death d5) 0 1 3: 3; h3 (death d20) 0–14: 5; h2 (death d60), h4
	//   (withdrawal d30), h5 (lost d45) 0–28: 6 each, 18; h6, h7 (latest record the day 7
	//   assessment, 0 and 7 assessed) and h8, h9 (discharge d8, 0 and 7 assessed) 1 3: 2
	//   each, 8; h10, h11 (discharge d10), h12 (d12), 0 assessed: 1 3 7, 9; h13, h14 (d14)
	//   0–7: 8; h15–h19 (d15–d25) 0–14: 25; h20 (d30) 0–28: 6. 3+5+18+8+9+8+25+6 = 82.
	//   routine: r1 (death d2) 0 1: 2; r2, r3 (death d8) 0–7: 8; r4 (death d15) 0–14: 5;
	//   r5 (death d70), r6 (withdrawal d50) 0–28: 12; r7 (lost d10) 0–7: 4; r8 nothing
	//   recorded: 0; r9–r11 (d9–d11, 0 assessed) 1 3 7: 9; r12–r14 (d12–d14) 0–7: 12;
	//   r15–r19 (d16–d28) 0–14: 25; r20 (d35) 0–28: 6. 2+8+5+12+4+9+12+25+6 = 83.
	// 165 missed, SVP-007's typed wristband and the one by hand: 167, 166 open.
	list := tr.must(ts.do("GET", "/api/v1/deviations", doc, nil), "deviations").json(t)["deviations"].([]any)
	count := map[string]int{}
	missed := map[string][]string{}
	for _, d := range list {
		d := d.(map[string]any)
		trigger, _ := d["trigger"].(string)
		count[d["category"].(string)+"/"+trigger]++
		switch trigger {
		case domain.TriggerMissedAssessment:
			missed[d["subject_id"].(string)] = append(missed[d["subject_id"].(string)], d["entity_type"].(string))
		case domain.TriggerTypedBedsideEntry:
			if d["subject_id"] != "SVP-007" || d["entity_type"] != "verification" || d["entity_id"] != float64(tr.typedVerification) {
				t.Errorf("typed-entry deviation %v; want SVP-007's verification %d", d, tr.typedVerification)
			}
		}
	}
	want := map[string]int{"assessment_schedule/missed_assessment": 165, "identity_verification/typed_bedside_entry": 1, "informed_consent/": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) || len(list) != 167 {
		t.Errorf("deviations %v (%d); want %v", count, len(list), want)
	}
	// Newest first: h1's (SVP-001) days 3, 1, 0; h6's (SVP-011) 3, 1; none for r8 (SVP-016).
	for sid, w := range map[string]string{"SVP-001": "patient.day_3 patient.day_1 patient.day_0", "SVP-011": "patient.day_3 patient.day_1", "SVP-016": ""} {
		if got := strings.Join(missed[sid], " "); got != w {
			t.Errorf("%s missed %q; want %q", sid, got, w)
		}
	}
	if open := ts.do("GET", "/api/v1/deviations?open=true", doc, nil).json(t)["deviations"].([]any); len(open) != 166 {
		t.Errorf("%d open deviations; want 166", len(open))
	}
}

// checkEndpoints checks the endpoints as JSON, as CSV and on their page against the figures
// worked out by hand.
func (tr *trial40) checkEndpoints() {
	t, ts := tr.t, tr.ts
	qa, doc := tr.as("qa.bob"), tr.as("dr.cho")
	res := tr.must(ts.do(http.MethodGet, "/api/v1/trial/endpoints", qa, nil), "endpoints")
	var got domain.Endpoints
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.body), "SVP-") {
		t.Error("the endpoints name a subject")
	}
	hu, ro := got.Arms[0], got.Arms[1]
	near := func(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }
	// huc_msc: 3 deaths (h1, h3, h2) of 20 = 0.15.
	if hu.Arm != domain.ArmHUCMSC || hu.Randomized != 20 || hu.Deaths90d != 3 || !near(hu.Mortality90d, 0.15) {
		t.Errorf("huc_msc mortality: %d/%d %v", hu.Deaths90d, hu.Randomized, *hu.Mortality90d)
	}
	// KM (today is day 101, past day 90): day 5, 20 at risk, 1 death: 19/20 = 0.95; day 20,
	// 19 at risk: 0.95 × 18/19 = 0.9; day 30 and 45 censored (18, 17 at risk); day 60, 16 at
	// risk: 0.9 × 15/16 = 0.84375; day 90, the 15 others censored.
	wantKM := func(km []domain.KMPoint, want string) {
		t.Helper()
		var s []string
		for _, p := range km {
			s = append(s, fmt.Sprintf("%d:%d/%d/%d:%.6f", p.Day, p.AtRisk, p.Events, p.Censored, p.Survival))
		}
		if strings.Join(s, " ") != want {
			t.Errorf("KM %s, want %s", strings.Join(s, " "), want)
		}
	}
	wantKM(hu.KM, "0:20/0/0:1.000000 5:20/1/0:0.950000 20:19/1/0:0.900000 30:18/0/1:0.900000 45:17/0/1:0.900000 60:16/1/0:0.843750 90:15/0/15:0.843750")
	// LOS of the 18 discharged alive, sorted: 6 7 8 8 9 10 10 11 12 12 14 14 15 16 18 20
	// 25 30; sum 245, mean 245/18 = 13.6111…; median (12+12)/2 = 12; Q1 at position
	// 17 × 0.25 = 4.25: 9 + 0.25 × (10 − 9) = 9.25; Q3 at 12.75: 15 + 0.75 = 15.75.
	if hu.Discharged != 18 || hu.DeathsInHospital != 2 || hu.InHospital != 0 || !near(hu.LOSMean, 245.0/18) || !near(hu.LOSMedian, 12) || !near(hu.LOSQ1, 9.25) || !near(hu.LOSQ3, 15.75) {
		t.Errorf("huc_msc stay: %d %d %d %v %v %v %v", hu.Discharged, hu.DeathsInHospital, hu.InHospital, *hu.LOSMean, *hu.LOSMedian, *hu.LOSQ1, *hu.LOSQ3)
	}
	// AEs: h7's two; SAEs: h1's.
	if hu.AECount != 2 || hu.SAECount != 1 {
		t.Errorf("huc_msc AEs %d, SAEs %d", hu.AECount, hu.SAECount)
	}
	// CRP day 0: 60 80 100 120 140 → 100; day 7: 20 30 40 50 → 35. P/F day 0: 150, 250 → 200.
	if fmt.Sprint(hu.Trajectories[0].Points) != "[{0 5 100} {7 4 35}]" || fmt.Sprint(hu.Trajectories[4].Points) != "[{0 2 200}]" {
		t.Errorf("huc_msc medians: %v %v", hu.Trajectories[0].Points, hu.Trajectories[4].Points)
	}
	// routine: 5 deaths (r1–r5) of 20 = 0.25.
	if ro.Randomized != 20 || ro.Deaths90d != 5 || !near(ro.Mortality90d, 0.25) {
		t.Errorf("routine mortality: %d/%d", ro.Deaths90d, ro.Randomized)
	}
	// KM: day 2, 20 at risk: 0.95; day 8, 19 at risk, 2 deaths: 0.95 × 17/19 = 0.85; day
	// 10 censored (r7); day 15, 16 at risk: 0.85 × 15/16 = 0.796875; day 50 censored
	// (r6); day 70, 14 at risk: 0.796875 × 13/14 = 0.739955…; day 90, 13 censored.
	wantKM(ro.KM, "0:20/0/0:1.000000 2:20/1/0:0.950000 8:19/2/0:0.850000 10:17/0/1:0.850000 15:16/1/0:0.796875 50:15/0/1:0.796875 70:14/1/0:0.739955 90:13/0/13:0.739955")
	// LOS of the 14 discharged alive, sorted: 7 9 10 11 12 13 14 16 18 20 21 24 28 35;
	// sum 238, mean 17; median (14+16)/2 = 15; Q1 at 3.25: 11.25; Q3 at 9.75: 20.75.
	// Deaths in hospital: r1–r4; not discharged: r7 (lost) and r8.
	if ro.Discharged != 14 || ro.DeathsInHospital != 4 || ro.InHospital != 2 || !near(ro.LOSMean, 17) || !near(ro.LOSMedian, 15) || !near(ro.LOSQ1, 11.25) || !near(ro.LOSQ3, 20.75) {
		t.Errorf("routine stay: %d %d %d %v %v %v %v", ro.Discharged, ro.DeathsInHospital, ro.InHospital, *ro.LOSMean, *ro.LOSMedian, *ro.LOSQ1, *ro.LOSQ3)
	}
	// AEs: r9's; SAEs: r2's. CRP day 0: 70 90 110 → 90.
	if ro.AECount != 1 || ro.SAECount != 1 || fmt.Sprint(ro.Trajectories[0].Points) != "[{0 3 90}]" {
		t.Errorf("routine AEs %d SAEs %d CRP %v", ro.AECount, ro.SAECount, ro.Trajectories[0].Points)
	}

	// The CSV carries the same figures, one a row.
	c := tr.must(ts.do(http.MethodGet, "/api/v1/trial/endpoints.csv", doc, nil), "endpoints.csv")
	recs, err := csv.NewReader(strings.NewReader(string(c.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "arm,figure,day,value" {
		t.Errorf("CSV header %v", recs[0])
	}
	csvOf := map[string]string{}
	for _, rec := range recs[1:] {
		csvOf[rec[0]+" "+rec[1]+" "+rec[2]] = rec[3]
	}
	for key, want := range map[string]string{
		"huc_msc randomized ": "20", "huc_msc deaths_90d ": "3", "huc_msc mortality_90d ": "0.15", "routine mortality_90d ": "0.25",
		"huc_msc los_median_days ": "12", "huc_msc los_q1_days ": "9.25", "routine los_mean_days ": "17", "routine los_q3_days ": "20.75",
		"routine km_survival 15": "0.796875", "huc_msc km_at_risk 60": "16", "huc_msc km_censored 90": "15", "huc_msc median_crp_mg_l 7": "35",
		"huc_msc n_crp_mg_l 0": "5", "routine median_crp_mg_l 0": "90", "huc_msc median_pf_ratio_mmhg 0": "200",
		"huc_msc ae_count ": "2", "huc_msc sae_count ": "1", "routine ae_count ": "1", "routine sae_count ": "1",
		"huc_msc deaths_in_hospital ": "2", "routine in_hospital ": "2", "routine discharged_alive ": "14",
	} {
		if csvOf[key] != want {
			t.Errorf("CSV %s = %q, want %s", key, csvOf[key], want)
		}
	}

	// The page shows the same figures in its tables (mortality as a percentage, survival and
	// length of stay rounded: 0.84375 → 0.844, 0.739955 → 0.740, 245/18 → 13.6).
	page := webGet(t, ts, qa, "/trial/endpoints")
	for _, want := range []string{
		"<td>huc_msc</td><td>20</td><td>3</td><td>15.0 %</td><td>0.844</td>",
		"<td>routine</td><td>20</td><td>5</td><td>25.0 %</td><td>0.740</td>",
		"<td>huc_msc</td><td>18</td><td>13.6</td><td>12.0</td>",
		"<td>routine</td><td>14</td><td>17.0</td><td>15.0</td>",
		"<td>huc_msc</td><td>2</td><td>1</td>",
		"<td>routine</td><td>15</td><td>16</td><td>1</td><td>0</td><td>0.797</td>",
		"<td>huc_msc</td><td>7</td><td>4</td><td>35</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the endpoints page lacks %s", want)
		}
	}
	if strings.Contains(page, "SVP-") {
		t.Error("the endpoints page names a subject")
	}
}

// checkExport checks the trial export: the product's columns of an infused subject, and the
// randomization and follow-up columns after them.
func (tr *trial40) checkExport() {
	t, ts := tr.t, tr.ts
	x := tr.must(ts.do(http.MethodGet, "/api/v1/exports/trial.csv", tr.as("dr.cho"), nil), "trial export")
	rows, err := csv.NewReader(strings.NewReader(string(x.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != strings.Join(domain.TrialColumns, ",") {
		t.Errorf("export columns: %s", got)
	}
	bySubject := map[string][]string{}
	for _, row := range rows[1:] {
		bySubject[row[0]] = row
	}
	if len(bySubject) != 40 {
		t.Errorf("export has %d subjects; want 40", len(bySubject))
	}
	col := func(sid, name string) string {
		for i, c := range domain.TrialColumns {
			if c == name {
				return bySubject[sid][i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	// SVP-001 (h1): infused 48.5 mL from lot A on day 1; its SAE; SVP-005's bag was never
	// infused; SVP-039 (h20) was infused from lot C; SVP-002 (routine) has no bag.
	for _, c := range []struct{ sid, name, want string }{
		{"SVP-001", "lot_number", "HUCMSC-2026-A"}, {"SVP-001", "volume_infused_ml", "48.5"}, {"SVP-001", "sae_count", "1"},
		{"SVP-007", "lot_number", "HUCMSC-2026-B"}, {"SVP-039", "lot_number", "HUCMSC-2026-C"}, {"SVP-039", "volume_infused_ml", "48.5"},
		{"SVP-005", "infusion_start", ""}, {"SVP-002", "bag_id", ""},
		{"SVP-013", "ae_count", "2"},
	} {
		if got := col(c.sid, c.name); got != c.want {
			t.Errorf("export %s %s = %q, want %q", c.sid, c.name, got, c.want)
		}
	}
	// 19 infusions: every huc_msc subject but SVP-005, whose bag was recalled.
	var infused []string
	for sid := range bySubject {
		if col(sid, "infusion_start") != "" && col(sid, "infusion_end") != "" {
			infused = append(infused, sid)
		}
	}
	if len(infused) != 19 || col("SVP-005", "bag_id") == "" {
		t.Errorf("export: %d subjects infused %v; want 19, all huc_msc but SVP-005", len(infused), infused)
	}
	// h2 (SVP-003, sequence 3) discharged on day 12 and dead on day 60; h6 (SVP-011)
	// assessed on days 0 and 7 and discharged on day 6; r7 (SVP-014) lost on day 10.
	for sid, want := range map[string]string{
		"SVP-003": "3|2026-01-17|2026-03-06|respiratory failure||||12|",
		"SVP-011": "11|2026-01-11||||||6|0 7",
		"SVP-014": "14|||||2026-01-15|recorded in the source notes||",
	} {
		if got := strings.Join(bySubject[sid][16:], "|"); got != want {
			t.Errorf("export %s: %s, want %s", sid, got, want)
		}
	}
}
