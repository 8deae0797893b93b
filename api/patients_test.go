package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

func TestPatientsAndExceptionalRelease(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		qc := ts.userWith(admin, "qc.ann", domain.RoleQC)
		qa := ts.userWith(admin, "qa.bob", domain.RoleQA)
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		both := ts.userWith(admin, "dr.qa", domain.RolePhysician, domain.RoleQA)
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		now := time.Now().UTC()

		enrol := func(subject, mrn, arm string) map[string]any {
			r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Li Wei",
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": arm, "enrolled_at": now.Add(-time.Hour)})
			if r.status != 201 {
				t.Fatalf("enrol %s: %d %s", subject, r.status, r.body)
			}
			return r.json(t)
		}
		p := enrol("SVP-001", "MRN0001", "huc_msc")
		routine := enrol("SVP-002", "MRN0002", "routine")
		if !strings.HasPrefix(p["chain_of_identity"].(string), "&/CHA9999") {
			t.Fatalf("chain of identity %v", p["chain_of_identity"])
		}
		if r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-003", "mrn": "MRN0001", "name": "X",
			"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now}); r.status != 409 {
			t.Fatalf("duplicate MRN: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/patients", nurse, map[string]any{}); r.status != 403 {
			t.Fatalf("enrol by a nurse: %d", r.status)
		}
		pid := int64(p["id"].(float64))
		if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/weights", pid), nurse, map[string]any{"weight_kg": 7000}); r.status != 400 || r.errorOf(t)["field"] != "weight_kg" {
			t.Fatalf("weight in grams: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/weights", pid), nurse, map[string]any{"weight_kg": 72.5}); r.status != 201 {
			t.Fatalf("weight: %d %s", r.status, r.body)
		}
		if got := ts.do("GET", fmt.Sprintf("/api/v1/patients/%d", pid), nurse, nil).json(t)["weight_kg"]; got != 72.5 {
			t.Fatalf("current weight %v", got)
		}
		// The name and MRN identify the patient: the lab does not read them.
		if r := ts.do("GET", fmt.Sprintf("/api/v1/patients/%d", pid), qc, nil); r.status != 403 {
			t.Fatalf("a patient read by QC: %d, want 403", r.status)
		}

		// An out-of-spec lot: viability 75 %.
		don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
		lotBody := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": "OOS-1",
			"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}).json(t)
		lot := fmt.Sprintf("/api/v1/lots/%d", int64(lotBody["id"].(float64)))
		ts.do("POST", lot+"/quarantine", qc, nil)
		ts.do("POST", lot+"/qc-results", qc, map[string]any{"test": "viability", "value": 75})

		sign := func(token string, patient any, reason string) response {
			return ts.do("POST", lot+"/exceptional-release", token, map[string]any{"patient_id": patient, "password": "a good password", "reason": reason})
		}
		if r := sign(doc, pid, ""); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("no justification: %d %s", r.status, r.body)
		}
		if r := sign(doc, routine["id"], "urgent"); r.status != 422 {
			t.Fatalf("routine arm: %d %s", r.status, r.body)
		}
		if r := sign(nurse, pid, "urgent"); r.status != 403 {
			t.Fatalf("nurse: %d", r.status)
		}
		r := sign(both, pid, "no other lot available; PI approved") // signs as physician (first role held)
		if r.status != 200 || len(r.json(t)["exceptional_for"].([]any)) != 0 {
			t.Fatalf("first half: %d %s", r.status, r.body)
		}
		// The same person cannot sign the other half, even holding the QA role.
		if r := sign(both, pid, "again"); r.status != 409 {
			t.Fatalf("same half twice: %d %s", r.status, r.body)
		}
		bothAsQA := ts.do("POST", lot+"/exceptional-release", both, map[string]any{"patient_id": pid, "password": "a good password", "reason": "x", "role": "qa"})
		if bothAsQA.status != 422 {
			t.Fatalf("one person, both halves: %d %s", bothAsQA.status, bothAsQA.body)
		}
		r = sign(qa, pid, "deviation DV-9 assessed; benefit outweighs risk")
		if r.status != 200 {
			t.Fatalf("second half: %d %s", r.status, r.body)
		}
		if ex := r.json(t)["exceptional_for"].([]any); len(ex) != 1 || int64(ex[0].(float64)) != pid {
			t.Fatalf("exceptional_for = %v, want [%d]", ex, pid)
		}
	})
}

// The list of patients: physicians and nurses read it, names and MRNs included; other roles
// are refused (the route matrix checks every role); the search takes the start of a subject
// id and refuses anything else.
func TestListPatientsOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		nurse := ts.userWith(admin, "rn.dee", domain.RoleNurse)
		pharm := ts.userWith(admin, "ph.eve", domain.RolePharmacist)
		now := time.Now().UTC()
		for _, s := range []string{"SVP-002", "SVP-001", "ABC-100"} {
			if r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": s, "mrn": "MRN" + s[4:] + s[:1], "name": "Name " + s,
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.Add(-time.Hour)}); r.status != 201 {
				t.Fatalf("enrol %s: %d %s", s, r.status, r.body)
			}
		}
		r := ts.do("GET", "/api/v1/patients?subject=svp", nurse, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		var got []map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0]["subject_id"] != "SVP-001" || got[1]["subject_id"] != "SVP-002" || got[0]["name"] != "Name SVP-001" || got[0]["infused"] != false {
			t.Fatalf("list svp: %s", r.body)
		}
		p1 := int64(got[0]["id"].(float64))
		if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", p1), doc, nil); r.status != 201 {
			t.Fatalf("order: %d %s", r.status, r.body)
		}
		r = ts.do("GET", "/api/v1/patients?limit=1", doc, nil)
		if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 1 || got[0]["subject_id"] != "ABC-100" {
			t.Fatalf("limit 1: %s", r.body)
		}
		r = ts.do("GET", "/api/v1/patients?subject=SVP-001", doc, nil)
		if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 1 || got[0]["dose_order"].(map[string]any)["status"] != "open" {
			t.Fatalf("with an order: %s", r.body)
		}
		if r := ts.do("GET", "/api/v1/patients?subject=SVP%25", doc, nil); r.status != 400 || r.errorOf(t)["field"] != "subject" {
			t.Fatalf("wildcard search: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/patients?limit=lots", doc, nil); r.status != 400 || r.errorOf(t)["field"] != "limit" {
			t.Fatalf("bad limit: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/patients", pharm, nil); r.status != 403 {
			t.Fatalf("pharmacist: %d, want 403: names and MRNs are not for the pharmacy", r.status)
		}
	})
}

// Reading patients' names and MRNs in the app is recorded like any disclosure: one
// patient.disclose entry per patient shown, naming the fields and the call, by the reader; when that cannot be
// recorded, nothing is shown.
func TestPatientReadsAreRecorded(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		nurse := ts.userWith(admin, "rn.dee", domain.RoleNurse)
		var ids []int64
		for _, s := range []string{"SVP-001", "SVP-002"} {
			r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": s, "mrn": "MRN" + s[4:], "name": "Name " + s,
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": time.Now().UTC().Add(-time.Hour)})
			if r.status != 201 {
				t.Fatalf("enrol %s: %d %s", s, r.status, r.body)
			}
			ids = append(ids, int64(r.json(t)["id"].(float64)))
		}
		disclosures := func(id int64) []map[string]any {
			t.Helper()
			audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d&limit=1000", id), admin, nil).json(t)
			var out []map[string]any
			for _, e := range audit["entries"].([]any) {
				if e := e.(map[string]any); e["action"] == "patient.disclose" {
					out = append(out, e)
				}
			}
			return out
		}
		if r := ts.do("GET", "/api/v1/patients", nurse, nil); r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", fmt.Sprintf("/api/v1/patients/%d", ids[0]), doc, nil); r.status != 200 {
			t.Fatalf("one patient: %d %s", r.status, r.body)
		}
		first, second := disclosures(ids[0]), disclosures(ids[1])
		if len(first) != 2 || len(second) != 1 {
			t.Fatalf("disclosures: %d of SVP-001, %d of SVP-002; want 2 (list, read) and 1 (list)", len(first), len(second))
		}
		for _, e := range append(first, second...) {
			if !strings.Contains(fmt.Sprint(e["after"]), `"fields":["name","mrn","date_of_birth","subject_id"]`) {
				t.Errorf("disclosure %v: want the fields name, mrn, date_of_birth and subject_id", e["after"])
			}
		}
		if first[0]["role"] != "nurse" || !strings.Contains(fmt.Sprint(first[0]["after"]), `"via":"api.patients"`) ||
			first[1]["role"] != "physician" || !strings.Contains(fmt.Sprint(first[1]["after"]), `"via":"api.patient"`) {
			t.Errorf("disclosures of SVP-001: %v", first)
		}

		refuseDisclosures(t, ts)
		for _, path := range []string{"/api/v1/patients", fmt.Sprintf("/api/v1/patients/%d", ids[1])} {
			if r := ts.do("GET", path, doc, nil); r.status != 500 || strings.Contains(string(r.body), "Name SVP") {
				t.Errorf("GET %s with the audit trail refusing disclosures: %d %s, want 500 and no name shown", path, r.status, r.body)
			}
		}
	})
}

// MRNs differ not by case: "AB123456" enrolled, "ab123456" is refused as the same MRN, and a
// wristband read with Caps Lock on finds the patient.
func TestMRNsAreComparedWithoutCase(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc := ts.userWith(admin, "dr.mrn", domain.RolePhysician)
		enrol := func(subject, mrn string) response {
			return ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Li Wei",
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": time.Now().UTC().Add(-time.Hour)})
		}
		if r := enrol("SVP-101", "AB123456"); r.status != 201 {
			t.Fatalf("enrol: %d %s", r.status, r.body)
		}
		if r := enrol("SVP-102", "ab123456"); r.status != 409 || !strings.Contains(r.errorOf(t)["message"].(string), "AB123456") {
			t.Fatalf("the same MRN in lower case: %d %s; want 409 naming AB123456", r.status, r.body)
		}
		// At the bedside, the wristband read in lower case is the same patient.
		_, code, _ := preparedBag(t, ts, admin)
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		ts.do("POST", "/api/v1/scans/dispatch", ts.login("ph.eve", "a good password"), map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5})
		ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": code, "temperature_c": 5})
		ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "mrn0001", "code": code,
			"witness": map[string]string{"username": "nurse.fay", "password": "a good password"}})
		if r.status != 200 || r.json(t)["pass"] != true {
			t.Fatalf("the wristband read in lower case: %d %s; want a PASS", r.status, r.body)
		}
	})
}
