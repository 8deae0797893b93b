package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cordtrace/domain"
)

// patientDisclosures are the patient.disclose entries of a patient, as "role via fields".
func patientDisclosures(t *testing.T, ts *testServer, auditor string, patientID int64) []string {
	t.Helper()
	audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d&limit=1000", patientID), auditor, nil).json(t)
	var out []string
	for _, e := range audit["entries"].([]any) {
		e := e.(map[string]any)
		if e["action"] != "patient.disclose" {
			continue
		}
		var d struct {
			Fields []string `json:"fields"`
			Via    string   `json:"via"`
		}
		if err := json.Unmarshal([]byte(e["after"].(string)), &d); err != nil {
			t.Fatalf("disclosure after %v: %v", e["after"], err)
		}
		out = append(out, fmt.Sprintf("%v %s %s", e["role"], d.Via, strings.Join(d.Fields, ",")))
	}
	return out
}

// SPEC §10 (v2): a lot or patient trace shows QC, admin and a pharmacist (no bag in hand) the
// subject id and chain of identity only; physicians, nurses and QA see the name, MRN and date of
// birth, and each such read is a patient.disclose entry of each patient shown, by the reader.
func TestTracesShowPatientIdentityOnlyToThoseWhoMay(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		_, _, lotPath := preparedBag(t, ts, admin)
		pw := "a good password"
		doc, qa, qc, pharm := ts.login("dr.cho", pw), ts.login("s.qa", pw), ts.login("s.qc", pw), ts.login("ph.eve", pw)
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		lot := ts.do("GET", lotPath+"/trace", qc, nil).json(t)
		bag := lot["dose_bags"].([]any)[0].(map[string]any)
		patientID := int64(bag["bag"].(map[string]any)["patient_id"].(float64))
		chain, _ := bag["chain_of_identity"].(string)
		if bag["subject_id"] != "SVP-001" || chain == "" {
			t.Fatalf("the lot trace names the bag's patient by subject id and chain of identity: %v", bag)
		}
		chainJSON, _ := json.Marshal(chain)
		patientPath := fmt.Sprintf("/api/v1/patients/%d/trace", patientID)
		identity := []string{"Li Wei", "MRN0001", "1960-05-01"}

		for _, who := range []struct {
			role  string
			token string
		}{{"qc", qc}, {"admin", admin}, {"pharmacist", pharm}} {
			for _, path := range []string{lotPath + "/trace", patientPath} {
				r := ts.do("GET", path, who.token, nil)
				if r.status != 200 {
					t.Fatalf("%s GET %s: %d %s", who.role, path, r.status, r.body)
				}
				for _, s := range identity {
					if strings.Contains(string(r.body), s) {
						t.Errorf("%s GET %s shows %q; want subject id and chain of identity only", who.role, path, s)
					}
				}
				if !strings.Contains(string(r.body), `"subject_id":"SVP-001"`) || !strings.Contains(string(r.body), `"chain_of_identity":`+string(chainJSON)) {
					t.Errorf("%s GET %s lacks the subject id or chain of identity: %s", who.role, path, r.body)
				}
			}
		}
		if got := patientDisclosures(t, ts, admin, patientID); len(got) != 0 {
			t.Fatalf("redacted reads recorded disclosures: %q", got)
		}

		for _, who := range []struct {
			role  string
			token string
		}{{"physician", doc}, {"qa", qa}, {"nurse", nurse}} {
			lt := ts.do("GET", lotPath+"/trace", who.token, nil)
			p, _ := lt.json(t)["dose_bags"].([]any)[0].(map[string]any)["patient"].(map[string]any)
			if lt.status != 200 || p["name"] != "Li Wei" || p["mrn"] != "MRN0001" || p["date_of_birth"] != "1960-05-01" {
				t.Errorf("%s lot trace: %d, patient %v; want name, MRN and date of birth", who.role, lt.status, p)
			}
			pt := ts.do("GET", patientPath, who.token, nil)
			p, _ = pt.json(t)["patient"].(map[string]any)
			if pt.status != 200 || p["name"] != "Li Wei" || p["mrn"] != "MRN0001" || p["date_of_birth"] != "1960-05-01" {
				t.Errorf("%s patient trace: %d, patient %v; want name, MRN and date of birth", who.role, pt.status, p)
			}
		}
		const fields = "name,mrn,date_of_birth,subject_id,clinical"
		want := []string{
			"physician api.lot_trace " + fields, "physician api.patient_trace " + fields,
			"qa api.lot_trace " + fields, "qa api.patient_trace " + fields,
			"nurse api.lot_trace " + fields, "nurse api.patient_trace " + fields,
		}
		if got := patientDisclosures(t, ts, admin, patientID); !slices.Equal(got, want) {
			t.Errorf("disclosures: %q, want %q", got, want)
		}

		// When the disclosure cannot be recorded, those who would see the identity see nothing;
		// those who see none are not affected.
		refuseDisclosures(t, ts)
		for _, path := range []string{lotPath + "/trace", patientPath} {
			if r := ts.do("GET", path, doc, nil); r.status != 500 || strings.Contains(string(r.body), "Li Wei") {
				t.Errorf("physician GET %s with disclosures refused: %d %s, want 500 and nothing shown", path, r.status, r.body)
			}
			if r := ts.do("GET", path, qc, nil); r.status != 200 {
				t.Errorf("qc GET %s with disclosures refused: %d, want the redacted trace", path, r.status)
			}
		}
	})
}

// The audit trail holds patients as enrolled and the MRNs a bedside verification quotes: an
// admin reading it sees those entries with their values withheld; QA sees them, and each
// patient shown is a patient.disclose entry (via api.audit).
func TestAuditTrailWithholdsPatientIdentityFromAdmins(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		preparedBag(t, ts, admin)
		qa := ts.login("s.qa", "a good password")
		r := ts.do("GET", "/api/v1/audit?entity_type=patient&limit=1000", admin, nil)
		if r.status != 200 || strings.Contains(string(r.body), "Li Wei") || strings.Contains(string(r.body), "MRN0001") {
			t.Fatalf("admin reads the patients' audit entries: %d %s; want no name or MRN", r.status, r.body)
		}
		var enrol map[string]any
		for _, e := range r.json(t)["entries"].([]any) {
			if e := e.(map[string]any); e["action"] == "patient.enrol" {
				enrol = e
			}
		}
		if enrol == nil || enrol["after"] != nil || enrol["withheld"] == nil || enrol["hash"] == "" {
			t.Fatalf("the enrolment as admin reads it: %v; want it listed with its values withheld", enrol)
		}
		patientID := enrol["entity_id"].(string)
		if got := patientDisclosures(t, ts, admin, mustAtoi(t, patientID)); len(got) != 0 {
			t.Fatalf("admin's withheld read recorded disclosures: %q", got)
		}
		r = ts.do("GET", "/api/v1/audit?entity_type=patient&limit=1000", qa, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "Li Wei") {
			t.Fatalf("QA reads the patients' audit entries: %d; want the enrolment with the name", r.status)
		}
		if got := patientDisclosures(t, ts, admin, mustAtoi(t, patientID)); !slices.Equal(got, []string{"qa api.audit name,mrn,date_of_birth"}) {
			t.Errorf("disclosures after QA's read: %q", got)
		}
		if r := ts.do("GET", "/api/v1/audit/verify", admin, nil); r.json(t)["ok"] != true {
			t.Fatalf("audit chain: %s", r.body)
		}
	})
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A dose bag's signed code carries its patient's MRN; checking the label shows it to those who
// may see it with the bag in hand (nurse, pharmacist), not to QC or admin.
func TestLabelCheckShowsTheMRNOnlyToThoseWhoMay(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		_, code, _ := preparedBag(t, ts, admin)
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		for _, who := range []struct {
			role  string
			token string
			shows bool
		}{{"qc", ts.login("s.qc", "a good password"), false}, {"admin", admin, false},
			{"pharmacist", ts.login("ph.eve", "a good password"), true}, {"nurse", nurse, true}} {
			r := ts.do("POST", "/api/v1/labels/verify", who.token, map[string]string{"code": code})
			v := r.json(t)
			if r.status != 200 || v["authentic"] != true {
				t.Fatalf("%s checks the label: %d %s", who.role, r.status, r.body)
			}
			if m := v["fields"].(map[string]any)["M"]; (m == "MRN0001") != who.shows {
				t.Errorf("%s checks the label: MRN %v, want shown %v", who.role, m, who.shows)
			}
		}
	})
}
