package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

func failedChecks(t *testing.T, v map[string]any) []string {
	t.Helper()
	var failed []string
	for _, c := range v["checks"].([]any) {
		if c.(map[string]any)["pass"] != true {
			failed = append(failed, c.(map[string]any)["code"].(string))
		}
	}
	return failed
}

// The whole journey: enrol → order → prepare → print → dispatch → receive → verify (pass) →
// infuse → end, with a wrong-patient STOP on the way that names exactly its failed check.
func TestBedsideJourney(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		bag, code, lotPath := preparedBag(t, ts, admin)
		pharm := ts.login("ph.eve", "a good password")
		doc := ts.login("dr.cho", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		now := time.Now().UTC()
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
			t.Fatalf("dispatch: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": code, "temperature_c": 4.5}); r.status != 201 {
			t.Fatalf("receive: %d %s", r.status, r.body)
		}
		other := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-003", "mrn": "MRN0003", "name": "Wang Fang",
			"date_of_birth": "1970-01-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)})
		if other.status != 201 {
			t.Fatalf("enrol: %d %s", other.status, other.body)
		}
		byToken := func() map[string]string { return witnessToken(t, ts, nurse, "nurse.fay") }
		verify := func(wristband string, w map[string]string) map[string]any {
			r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": wristband, "code": code, "witness": w, "ward": "ICU-3"})
			if r.status != 200 {
				t.Fatalf("verify: %d %s", r.status, r.body)
			}
			return r.json(t)
		}

		stop := verify("MRN0003", byToken())
		if stop["pass"] != false || !slices.Equal(failedChecks(t, stop), []string{"PATIENT_MATCH"}) {
			t.Fatalf("wrong patient: failed %v", failedChecks(t, stop))
		}
		// How the page got each code is kept (one more verification in the trace below); a way it
		// cannot have is refused, naming the field.
		typed := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0003", "code": code, "witness": byToken(),
			"wristband_entry": "typed", "code_entry": "camera", "entry_reason": map[string]string{"code": "wristband_unreadable"}})
		if tj := typed.json(t); typed.status != 200 || tj["wristband_entry"] != "typed" || tj["code_entry"] != "camera" {
			t.Fatalf("verify with entries: %d %s", typed.status, typed.body)
		}
		if r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0003", "code": code, "witness": byToken(),
			"code_entry": "guessed"}); r.status != 400 || r.errorOf(t)["field"] != "code_entry" {
			t.Fatalf("verify with an unknown entry: %d %s; want 400 naming code_entry", r.status, r.body)
		}
		badWitness := verify("MRN0001", map[string]string{"username": "nurse.fay", "password": "not the password"})
		if !slices.Equal(failedChecks(t, badWitness), []string{"WITNESS"}) {
			t.Fatalf("bad witness: failed %v", failedChecks(t, badWitness))
		}
		// Sending the bag back is offered from a STOP about the bag (here, for another
		// patient), never from one put right at the bedside (a witness's typo).
		if stop["return_offered"] != true || badWitness["return_offered"] != false {
			t.Fatalf("return offered: wrong patient %v, witness typo %v; want true, false", stop["return_offered"], badWitness["return_offered"])
		}
		if r := ts.do("POST", "/api/v1/infusions", nurse, map[string]any{"verification_id": stop["id"]}); r.status != 422 {
			t.Fatalf("infusion from a failed verification: %d %s", r.status, r.body)
		}

		pass := verify("MRN0001", byToken())
		if pass["pass"] != true || len(pass["checks"].([]any)) != 10 {
			t.Fatalf("verification: %v", pass)
		}
		r := ts.do("POST", "/api/v1/infusions", nurse, map[string]any{"verification_id": pass["id"]})
		if r.status != 201 {
			t.Fatalf("start: %d %s", r.status, r.body)
		}
		infusion := fmt.Sprintf("/api/v1/infusions/%d", int64(r.json(t)["id"].(float64)))
		if r := ts.do("POST", "/api/v1/infusions", nurse, map[string]any{"verification_id": pass["id"]}); r.status != 409 {
			t.Fatalf("second start: %d %s", r.status, r.body)
		}
		again := verify("MRN0001", byToken())
		if !slices.Contains(failedChecks(t, again), "NOT_INFUSED") {
			t.Fatalf("verification after the infusion: failed %v", failedChecks(t, again))
		}
		if r := ts.do("POST", infusion+"/end", nurse, map[string]any{"reactions": "none"}); r.status != 400 {
			t.Fatalf("end without volume: %d", r.status)
		}
		// More than the bag held (50 mL) was never infused.
		if r := ts.do("POST", infusion+"/end", nurse, map[string]any{"volume_ml": 2000, "reactions": "none"}); r.status != 400 || r.errorOf(t)["field"] != "volume_ml" {
			t.Fatalf("2000 mL from a 50 mL bag: %d %s; want 400 naming volume_ml", r.status, r.body)
		}
		if r := ts.do("POST", infusion+"/end", nurse, map[string]any{"volume_ml": 48.5, "reactions": "none"}); r.status != 200 {
			t.Fatalf("end: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", infusion+"/end", nurse, map[string]any{"volume_ml": 48.5}); r.status != 409 {
			t.Fatalf("second end: %d", r.status)
		}
		b := ts.do("GET", fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64))), nurse, nil).json(t)
		if b["status"] != "infused" {
			t.Fatalf("bag status %v", b["status"])
		}
		if r := ts.do("POST", "/api/v1/adverse-events", nurse, map[string]any{"patient_id": pass["patient_id"], "serious": false,
			"severity": "mild", "description": "rash", "onset_at": "1000-01-01T00:00:00Z"}); r.status != 400 || r.errorOf(t)["field"] != "onset_at" {
			t.Fatalf("onset in the year 1000: %d %s; want 400 naming onset_at", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/adverse-events", nurse, map[string]any{"patient_id": pass["patient_id"], "serious": false,
			"severity": "fatal", "description": "x", "onset_at": now}); r.status != 400 || r.errorOf(t)["field"] != "serious" {
			t.Fatalf("fatal but not serious: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/adverse-events", nurse, map[string]any{"patient_id": pass["patient_id"], "serious": true,
			"severity": "severe", "description": "transient hypotension 20 min after start", "onset_at": now}); r.status != 201 || r.json(t)["lot_id"] == nil {
			t.Fatalf("SAE: %d %s", r.status, r.body)
		}
		lot := ts.do("GET", lotPath, nurse, nil).json(t)
		if ip := lot["infused_patients"].([]any); len(ip) != 1 {
			t.Fatalf("infused patients of the lot: %v", ip)
		}
		if aes := lot["adverse_events"].([]any); len(aes) != 1 || aes[0].(map[string]any)["serious"] != true || lot["lot"].(map[string]any)["status"] != "released" {
			t.Fatalf("lot after an SAE: events %v, status %v (an SAE holds nothing by itself)", aes, lot["lot"].(map[string]any)["status"])
		}
		// Trace both ways: the lot reaches the patient, the patient reaches the donation.
		tr := ts.do("GET", lotPath+"/trace", nurse, nil)
		if tr.status != 200 {
			t.Fatalf("lot trace: %d %s", tr.status, tr.body)
		}
		bags := tr.json(t)["dose_bags"].([]any)
		if len(bags) != 1 {
			t.Fatalf("lot trace bags: %s", tr.body)
		}
		bt := bags[0].(map[string]any)
		if bt["subject_id"] != "SVP-001" || bt["infusion"] == nil || len(bt["custody"].([]any)) != 2 || len(bt["verifications"].([]any)) != 5 {
			t.Fatalf("bag trace: %v", bt)
		}
		if qcTrace := ts.do("GET", lotPath+"/trace", ts.login("s.qc", "a good password"), nil); strings.Contains(string(qcTrace.body), "Li Wei") {
			t.Fatal("the lot trace shows QC the patient's name; it must tie product and patient without it")
		}
		pt := ts.do("GET", fmt.Sprintf("/api/v1/patients/%d/trace", int64(pass["patient_id"].(float64))), nurse, nil).json(t)
		if dons := pt["donations"].([]any); len(dons) != 1 || dons[0].(map[string]any)["din"] != lot["lot"].(map[string]any)["din"] {
			t.Fatalf("patient trace donations: %v", pt["donations"])
		}
		metrics := string(ts.do("GET", "/metrics", testMetricsToken, nil).body)
		for _, want := range []string{
			`cordtrace_bedside_verifications_total{verdict="pass"} 1`,
			`cordtrace_bedside_verifications_total{verdict="stop"} 4`,
			`cordtrace_bedside_failed_checks_total{check="PATIENT_MATCH"} 2`,
			`cordtrace_bedside_failed_checks_total{check="WITNESS"} 1`,
			`cordtrace_custody_scans_total{code_kind="qr",kind="dispatch",outcome="accepted"} 1`,
			`cordtrace_label_prints_total{entity="dose_bag",format="png"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if r := ts.do("GET", "/api/v1/audit/verify", admin, nil); r.json(t)["ok"] != true {
			t.Fatalf("audit chain: %s", r.body)
		}
	})
}
