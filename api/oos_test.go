package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// oosLab is a QC analyst, a QA person and a lot in quarantine with every passing result except
// the tests named in skip.
type oosLab struct {
	ts      *testServer
	qc, qa  string
	lot     string
	results map[string]int64 // the latest result id per test
}

func newOOSLab(t *testing.T, ts *testServer, admin, prefix string, skip ...string) *oosLab {
	t.Helper()
	l := &oosLab{ts: ts, qc: ts.userWith(admin, prefix+".qc", domain.RoleQC), qa: ts.userWith(admin, prefix+".qa", domain.RoleQA),
		results: map[string]int64{}}
	now := time.Now().UTC()
	don := ts.do("POST", "/api/v1/donations", l.qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
	lot := ts.do("POST", "/api/v1/lots", l.qc, map[string]any{"donation_id": don["id"], "lot_number": prefix + "-LOT",
		"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}).json(t)
	l.lot = fmt.Sprintf("/api/v1/lots/%d", int64(lot["id"].(float64)))
	ts.do("POST", l.lot+"/quarantine", l.qc, nil)
	for _, body := range passingResults() {
		if !slices.Contains(skip, body["test"].(string)) {
			l.record(t, body)
		}
	}
	return l
}

func (l *oosLab) record(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	r := l.ts.do("POST", l.lot+"/qc-results", l.qc, body)
	if r.status != 201 {
		t.Fatalf("result %v: %d %s", body, r.status, r.body)
	}
	out := r.json(t)
	l.results[out["test"].(string)] = int64(out["id"].(float64))
	return out
}

func (l *oosLab) criterion(t *testing.T, name string) map[string]any {
	t.Helper()
	ev := l.ts.do("GET", l.lot+"/evaluation", l.qc, nil).json(t)
	for _, c := range ev["criteria"].([]any) {
		if c := c.(map[string]any); c["name"] == name {
			return c
		}
	}
	t.Fatalf("no criterion %s in %v", name, ev)
	return nil
}

// investigations returns the lot's investigations as GET /lots/{id} lists them.
func (l *oosLab) investigations(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, inv := range l.ts.do("GET", l.lot, l.qc, nil).json(t)["investigations"].([]any) {
		out = append(out, inv.(map[string]any))
	}
	return out
}

func (l *oosLab) close(inv map[string]any, token string, body map[string]any) response {
	return l.ts.do("POST", fmt.Sprintf("%s/investigations/%d/close", l.lot, int64(inv["id"].(float64))), token, body)
}

func (l *oosLab) release(t *testing.T) response {
	t.Helper()
	return l.ts.do("POST", l.lot+"/release", l.qa, map[string]string{"password": "a good password"})
}

// A positive sterility result followed by a negative one (or the analyst's correction of it)
// does not make the lot releasable: the criterion is oos and release is refused until QA
// closes the investigation; closed as lab_error, a result recorded after the closing counts.
func TestOOSSterilityCannotBeTestedIntoCompliance(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		l := newOOSLab(t, ts, admin, "st", "sterility")
		positive := l.record(t, map[string]any{"test": "sterility", "result": "positive"})
		l.record(t, map[string]any{"test": "sterility", "result": "negative"})
		l.record(t, map[string]any{"test": "sterility", "result": "negative", "corrects": positive["id"], "reason": "typed positive for negative"})

		if c := l.criterion(t, "sterility"); c["status"] != "oos" || c["result_id"] != positive["id"] {
			t.Fatalf("sterility after a positive then negatives: %v", c)
		}
		r := l.release(t)
		if r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "sterility oos") ||
			!strings.Contains(r.errorOf(t)["message"].(string), "release is refused while an OOS investigation is open") {
			t.Fatalf("release with an open OOS: %d %s", r.status, r.body)
		}
		invs := l.investigations(t)
		if len(invs) != 1 || invs[0]["test"] != "sterility" || invs[0]["result_id"] != positive["id"] || invs[0]["status"] != "open" || invs[0]["conclusion"] != "" {
			t.Fatalf("investigations: %v", invs)
		}
		inv := invs[0]
		ok := map[string]any{"password": "a good password", "conclusion": "lab_error", "reason": "plate contaminated during reading; deviation DV-12"}
		if r := l.close(inv, l.qc, ok); r.status != 403 {
			t.Fatalf("closed by QC: %d %s", r.status, r.body)
		}
		if r := l.close(inv, l.qa, map[string]any{"password": "a good password", "conclusion": "retest", "reason": "x"}); r.status != 400 || r.errorOf(t)["field"] != "conclusion" {
			t.Fatalf("unknown conclusion: %d %s", r.status, r.body)
		}
		if r := l.close(inv, l.qa, map[string]any{"password": "a good password", "conclusion": "lab_error"}); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("no reason: %d %s", r.status, r.body)
		}
		if r := l.close(inv, l.qa, map[string]any{"password": "not my password", "conclusion": "lab_error", "reason": "x"}); r.status != 401 {
			t.Fatalf("wrong password: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", l.lot+"/investigations/999999/close", l.qa, ok); r.status != 404 {
			t.Fatalf("no such investigation: %d %s", r.status, r.body)
		}
		r = l.close(inv, l.qa, ok)
		if r.status != 200 {
			t.Fatalf("close: %d %s", r.status, r.body)
		}
		closed := r.json(t)["investigations"].([]any)[0].(map[string]any)
		if closed["status"] != "closed" || closed["conclusion"] != "lab_error" || closed["signed_by"] != "Full st.qa" || closed["closed_at"] == nil {
			t.Fatalf("closed investigation: %v", closed)
		}
		if r := l.close(inv, l.qa, ok); r.status != 409 {
			t.Fatalf("second close: %d %s", r.status, r.body)
		}
		// The results the investigation reviewed no longer count: a new result is needed.
		if c := l.criterion(t, "sterility"); c["status"] != "pending" {
			t.Fatalf("sterility after lab_error, nothing new: %v", c)
		}
		if r := l.release(t); r.status != 422 {
			t.Fatalf("release with sterility pending: %d %s", r.status, r.body)
		}
		fresh := l.record(t, map[string]any{"test": "sterility", "result": "negative"})
		if c := l.criterion(t, "sterility"); c["status"] != "pass" || c["result_id"] != fresh["id"] {
			t.Fatalf("new result after lab_error: %v", c)
		}
		if r := l.release(t); r.status != 200 || r.json(t)["lot"].(map[string]any)["status"] != "released" {
			t.Fatalf("release after lab_error and a new result: %d %s", r.status, r.body)
		}
		// The certificate shows the OOS, its conclusion and who signed it.
		if text := pdfText(t, ts.do("GET", l.lot+"/coa.pdf", l.qa, nil).body); !strings.Contains(text, "OOS investigation") ||
			!strings.Contains(text, "lab_error") || !strings.Contains(text, "Full st.qa") {
			t.Fatalf("certificate lacks the OOS: %s", text)
		}
		audit := ts.do("GET", "/api/v1/audit?entity_type=lot&entity_id="+strings.TrimPrefix(l.lot, "/api/v1/lots/"), admin, nil)
		if !strings.Contains(string(audit.body), "qc_investigation.open") || !strings.Contains(string(audit.body), "qc_investigation.close") {
			t.Fatalf("investigation not audited: %s", audit.body)
		}
	})
}

// A failing BV2 run then a passing one: oos, release refused. Closed as confirmed, the failure
// stands: release is refused, rejection is allowed.
func TestOOSBV2ConfirmedFailureStands(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		l := newOOSLab(t, ts, admin, "bv", "bv2_potency")
		low := l.record(t, map[string]any{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 100}, "lps": []float64{1100, 1100}, "treated": []float64{1000, 1000}})
		if low["valid"] != true || low["inhibition_pct"] != 10.0 {
			t.Fatalf("low run: %v", low)
		}
		l.record(t, map[string]any{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 100}, "lps": []float64{1100, 1100}, "treated": []float64{500, 500}})
		if c := l.criterion(t, "bv2_potency"); c["status"] != "oos" || c["result_id"] != low["id"] {
			t.Fatalf("BV2 after a failing then a passing run: %v", c)
		}
		if r := l.release(t); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "bv2_potency oos") {
			t.Fatalf("release with BV2 oos: %d %s", r.status, r.body)
		}
		invs := l.investigations(t)
		if len(invs) != 1 || invs[0]["test"] != "bv2_potency" {
			t.Fatalf("investigations: %v", invs)
		}
		if r := l.close(invs[0], l.qa, map[string]any{"password": "a good password", "conclusion": "confirmed", "reason": "reagent and cells checked; the low potency is real"}); r.status != 200 {
			t.Fatalf("close confirmed: %d %s", r.status, r.body)
		}
		// Later passing runs do not replace a confirmed failure.
		l.record(t, map[string]any{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 100}, "lps": []float64{1100, 1100}, "treated": []float64{400, 400}})
		if c := l.criterion(t, "bv2_potency"); c["status"] != "fail" || c["result_id"] != low["id"] || !strings.Contains(c["detail"].(string), "confirmed") {
			t.Fatalf("BV2 after a confirmed OOS: %v", c)
		}
		if r := l.release(t); r.status != 422 {
			t.Fatalf("release after a confirmed OOS: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", l.lot+"/reject", l.qa, map[string]string{"password": "a good password", "reason": "potency OOS confirmed"}); r.status != 200 ||
			r.json(t)["lot"].(map[string]any)["status"] != "rejected" {
			t.Fatalf("reject after a confirmed OOS: %d %s", r.status, r.body)
		}
	})
}

// A BV2 run whose inhibition is above 100 % (treated below baseline) or below 0 % (treated
// above the LPS control) is invalid, says why, opens no investigation and never counts.
func TestBV2ImplausibleRunIsInvalid(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		l := newOOSLab(t, ts, admin, "im", "bv2_potency")
		for _, treated := range [][]float64{{50, 50}, {1300, 1300}} {
			run := l.record(t, map[string]any{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 100}, "lps": []float64{1100, 1100}, "treated": treated})
			if run["valid"] != false || !strings.HasPrefix(run["invalid_reason"].(string), "implausible") {
				t.Fatalf("treated %v: %v", treated, run)
			}
		}
		if c := l.criterion(t, "bv2_potency"); c["status"] != "pending" || !strings.Contains(c["detail"].(string), "none valid") {
			t.Fatalf("BV2 with only implausible runs: %v", c)
		}
		d := ts.do("GET", l.lot, l.qc, nil).json(t)
		if len(d["investigations"].([]any)) != 0 {
			t.Fatalf("an invalid run opened an investigation: %v", d["investigations"])
		}
		for _, r := range d["results"].([]any) {
			if r := r.(map[string]any); r["test"] == "bv2_potency" && !strings.HasPrefix(r["invalid_reason"].(string), "implausible") {
				t.Fatalf("stored run lost its reason: %v", r)
			}
		}
		if r := l.release(t); r.status != 422 {
			t.Fatalf("release with no valid BV2 run: %d %s", r.status, r.body)
		}
	})
}

// A sterility positive recorded after both exceptional-release signatures puts the lot on hold
// at once, and the bag prepared from it fails LOT_RELEASED at the bedside.
func TestFailureAfterExceptionalReleaseHoldsTheLot(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		l := newOOSLab(t, ts, admin, "ex", "viability")
		l.record(t, map[string]any{"test": "viability", "value": 75})
		if r := ts.do("POST", l.lot+"/units", l.qc, map[string]any{"count": 2, "viable_cells": 40000000, "volume_ml": 25}); r.status != 201 {
			t.Fatalf("units: %d %s", r.status, r.body)
		}
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		pharm := ts.userWith(admin, "ph.eve", domain.RolePharmacist)
		nurse := ts.userWith(admin, "rn.dee", domain.RoleNurse)
		witness := ts.userWith(admin, "rn.fay", domain.RoleNurse)
		now := time.Now().UTC()
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
			"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)}).json(t)
		for _, token := range []string{doc, l.qa} {
			if r := ts.do("POST", l.lot+"/exceptional-release", token, map[string]any{"patient_id": p["id"], "password": "a good password",
				"reason": "no other lot; PI approved"}); r.status != 200 {
				t.Fatalf("exceptional release: %d %s", r.status, r.body)
			}
		}
		var units []int64
		for _, u := range ts.do("GET", l.lot, l.qc, nil).json(t)["units"].([]any) {
			units = append(units, int64(u.(map[string]any)["id"].(float64)))
		}
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)
		bagR := ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64))), pharm, map[string]any{
			"unit_ids": units[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": 70_000_000, "volume_ml": 50})
		if bagR.status != 201 {
			t.Fatalf("bag from the exceptional lot: %d %s", bagR.status, bagR.body)
		}
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bagR.json(t)["id"].(float64)))
		checkBag(t, ts, admin, bagPath)
		code := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
		verify := func() []string {
			r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": code, "witness": map[string]string{"token": witness}})
			if r.status != 200 {
				t.Fatalf("verify: %d %s", r.status, r.body)
			}
			return failedChecks(t, r.json(t))
		}
		if failed := verify(); slices.Contains(failed, domain.CheckLotReleased) {
			t.Fatalf("before the failure, LOT_RELEASED fails: %v", failed)
		}

		l.record(t, map[string]any{"test": "sterility", "result": "positive"})
		d := ts.do("GET", l.lot, l.qc, nil).json(t)
		if d["lot"].(map[string]any)["status"] != "on_hold" {
			t.Fatalf("lot after a positive sterility following an exceptional release: %v", d["lot"])
		}
		if failed := verify(); !slices.Contains(failed, domain.CheckLotReleased) {
			t.Fatalf("bag of a held lot: failed %v, want LOT_RELEASED", failed)
		}
		audit := string(ts.do("GET", "/api/v1/audit?entity_type=lot&entity_id="+strings.TrimPrefix(l.lot, "/api/v1/lots/"), admin, nil).body)
		if !strings.Contains(audit, "lot.hold") || !strings.Contains(audit, "after an exceptional release was signed") {
			t.Fatalf("hold not audited: %s", audit)
		}
		// QA decides: the held lot can be rejected.
		if r := ts.do("POST", l.lot+"/reject", l.qa, map[string]string{"password": "a good password", "reason": "sterility positive"}); r.status != 200 {
			t.Fatalf("reject a held lot: %d %s", r.status, r.body)
		}
	})
}
