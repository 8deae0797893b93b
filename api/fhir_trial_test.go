package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/fhir/fhirtest"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// progressCodes lists a ResearchSubject's progress as code@startDate[-endDate], e.g.
// on-study@2026-03-01T02:00:00Z, Randomized@….
func progressCodes(rs map[string]any) []string {
	var out []string
	for _, p := range asSlice(rs["progress"]) {
		p := p.(map[string]any)
		cc, _ := p["subjectState"].(map[string]any)
		if cc == nil {
			cc, _ = p["milestone"].(map[string]any)
		}
		s := fmt.Sprint(cc["coding"].([]any)[0].(map[string]any)["code"], "@", p["startDate"])
		if e, ok := p["endDate"]; ok {
			s += fmt.Sprint("-", e)
		}
		out = append(out, s)
	}
	return out
}

// The trial in FHIR: the study with its arms, each subject's arm and progress, each follow-up
// measurement as an Observation with its LOINC or local code and UCUM unit; all valid R5, every
// read of a subject recorded as a disclosure, and only for those who may disclose patient data.
func TestFHIRTrial(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			clock := &testClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
			ts := newTestServerWith(t, backend, store.Options{Now: clock.Now})
			adm := ts.login("admin", adminPassword)
			qa := ts.userWith(adm, "qa.fhir", domain.RoleQA)
			doc := ts.userWith(adm, "dr.fhir", domain.RolePhysician)
			nurse := ts.userWith(adm, "rn.fhir", domain.RoleNurse)
			if r := ts.do("POST", "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "csv": "1,huc_msc\n2,routine\n3,huc_msc\n"}); r.status != http.StatusCreated {
				t.Fatalf("allocation list: %d %s", r.status, r.body)
			}
			var ids []int64
			for i := 1; i <= 3; i++ {
				r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": fmt.Sprintf("SVP-%03d", i), "mrn": fmt.Sprintf("MRN%04d", i), "name": "Subject " + fmt.Sprint(i),
					"date_of_birth": "1965-04-02", "weight_kg": 70, "enrolled_at": "2026-03-01T02:00:00Z"})
				if r.status != http.StatusCreated {
					t.Fatalf("enrol: %d %s", r.status, r.body)
				}
				ids = append(ids, int64(r.json(t)["id"].(float64)))
			}
			p1, p2, p3 := ids[0], ids[1], ids[2]
			if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/assessments", p1), nurse, map[string]any{"day": 0, "taken_at": "2026-03-01T06:00:00Z",
				"crp_mg_l": 85.5, "il6_pg_ml": 120, "pct_ng_ml": 0.8, "viral_load_copies_ml": 250000, "pf_ratio_mmhg": 180, "imaging_score": 12}); r.status != http.StatusCreated {
				t.Fatalf("day 0: %d %s", r.status, r.body)
			}
			clock.set(time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC))
			nurse, doc, qa, adm = ts.login("rn.fhir", "a good password"), ts.login("dr.fhir", "a good password"), ts.login("qa.fhir", "a good password"), ts.login("admin", adminPassword)
			if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/assessments", p1), nurse, map[string]any{"day": 3, "taken_at": "2026-03-04T07:30:00Z",
				"crp_mg_l": 40, "pf_ratio_mmhg": 260}); r.status != http.StatusCreated {
				t.Fatalf("day 3: %d %s", r.status, r.body)
			}
			if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/outcomes", p2), doc, map[string]any{"kind": "death", "date": "2026-03-05", "cause": "respiratory failure"}); r.status != http.StatusCreated {
				t.Fatalf("death: %d %s", r.status, r.body)
			}

			// The study: both arms as comparison groups, the subjects counted, nobody named;
			// reading it is no disclosure.
			before := ts.auditCount(adm)
			study := fhirGet(t, ts, "/fhir/ResearchStudy/huc-msc-trial", qa, 200)
			if after := ts.auditCount(adm); after != before {
				t.Errorf("reading the study wrote %d audit entries, want none", after-before)
			}
			var groups []string
			for _, g := range asSlice(study["comparisonGroup"]) {
				g := g.(map[string]any)
				groups = append(groups, fmt.Sprint(g["linkId"], ":", g["type"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]))
			}
			if fmt.Sprint(groups) != "[huc-msc:experimental routine:no-intervention]" || study["status"] != "active" ||
				study["recruitment"].(map[string]any)["actualNumber"] != 3.0 || strings.Contains(fmt.Sprint(study), "SVP-") {
				t.Errorf("study: groups %v, %v", groups, study)
			}
			fhirGet(t, ts, "/fhir/ResearchStudy/another-trial", qa, 404)

			// Subjects: the arm as assigned and actual comparison group; on study from enrolment,
			// randomized from the list; a death takes the subject off study.
			search := fhirGet(t, ts, fmt.Sprintf("/fhir/ResearchSubject?patient=%d", p1), doc, 200)
			byType := entriesByType(t, search)
			if search["type"] != "searchset" || search["total"] != 1.0 || len(byType["ResearchSubject"]) != 1 || len(byType["Patient"]) != 1 || len(byType["ResearchStudy"]) != 1 {
				t.Fatalf("ResearchSubject search: %s", mustJSON(t, search))
			}
			rs := byType["ResearchSubject"][0]
			if rs["status"] != "active" || rs["assignedComparisonGroup"] != "huc-msc" || rs["actualComparisonGroup"] != "huc-msc" ||
				rs["study"].(map[string]any)["reference"] != "ResearchStudy/huc-msc-trial" || rs["subject"].(map[string]any)["reference"] != fmt.Sprintf("Patient/%d", p1) ||
				!strings.Contains(fmt.Sprint(rs["identifier"]), "SVP-001") {
				t.Errorf("subject 1: %v", rs)
			}
			if got := fmt.Sprint(progressCodes(rs)); got != "[on-study@2026-03-01T02:00:00Z Randomized@2026-03-01T02:00:00Z]" {
				t.Errorf("subject 1 progress %s", got)
			}
			if got := fhirGet(t, ts, fmt.Sprintf("/fhir/ResearchSubject/%d", p1), doc, 200); fmt.Sprint(got) != fmt.Sprint(rs) {
				t.Errorf("the read differs from the search:\n%v\n%v", got, rs)
			}
			dead := fhirGet(t, ts, fmt.Sprintf("/fhir/ResearchSubject?patient=Patient/%d", p2), doc, 200)
			rs2 := entriesByType(t, dead)["ResearchSubject"][0]
			if got := fmt.Sprint(progressCodes(rs2)); rs2["assignedComparisonGroup"] != "routine" || got != "[on-study@2026-03-01T02:00:00Z-2026-03-05 Randomized@2026-03-01T02:00:00Z off-study@2026-03-05]" ||
				!strings.Contains(fmt.Sprint(rs2["progress"]), "respiratory failure") || rs2["period"].(map[string]any)["end"] != "2026-03-05" {
				t.Errorf("subject 2 after death: %s %v", got, rs2)
			}

			// Observations: one per measurement taken, coded, in UCUM units, at the time taken.
			obs := fhirGet(t, ts, fmt.Sprintf("/fhir/Observation?subject=%d", p1), doc, 200)
			obsTypes := entriesByType(t, obs)
			if obs["total"] != 8.0 || len(obsTypes["Observation"]) != 8 || len(obsTypes["Patient"]) != 1 {
				t.Fatalf("Observation search: total %v, %d observations, %d patients", obs["total"], len(obsTypes["Observation"]), len(obsTypes["Patient"]))
			}
			want := map[string]string{ // day 0, by local code: LOINC code, value, UCUM code, unit
				"crp_mg_l":             "1988-5 85.5 mg/L mg/L",
				"il6_pg_ml":            "26881-3 120 pg/mL pg/mL",
				"pct_ng_ml":            "33959-8 0.8 ng/mL ng/mL",
				"viral_load_copies_ml": "- 250000 {copies}/mL copies/mL",
				"pf_ratio_mmhg":        "50984-4 180 mm[Hg] mmHg",
				"imaging_score":        "- 12 {score} points",
			}
			got := map[string]string{}
			for _, o := range obsTypes["Observation"] {
				if o["status"] != "final" || o["subject"].(map[string]any)["reference"] != fmt.Sprintf("Patient/%d", p1) {
					t.Errorf("observation %v", o)
				}
				local, loinc := "", "-"
				for _, c := range o["code"].(map[string]any)["coding"].([]any) {
					c := c.(map[string]any)
					switch c["system"] {
					case "urn:cordtrace:follow-up-measurement":
						local = c["code"].(string)
					case "http://loinc.org":
						loinc = c["code"].(string)
					}
				}
				q := o["valueQuantity"].(map[string]any)
				if q["system"] != "http://unitsofmeasure.org" {
					t.Errorf("%s: unit system %v", o["id"], q["system"])
				}
				if o["effectiveDateTime"] == "2026-03-01T06:00:00Z" {
					got[local] = fmt.Sprint(loinc, " ", q["value"], " ", q["code"], " ", q["unit"])
				} else if o["effectiveDateTime"] != "2026-03-04T07:30:00Z" || (local != "crp_mg_l" && local != "pf_ratio_mmhg") {
					t.Errorf("day 3 observation %s at %v", local, o["effectiveDateTime"])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("day 0 observations\n got %v\nwant %v", got, want)
			}
			var singles []string
			for _, o := range obsTypes["Observation"] {
				path := fmt.Sprintf("/fhir/Observation/%s", o["id"])
				if got := fhirGet(t, ts, path, doc, 200); fmt.Sprint(got) != fmt.Sprint(o) {
					t.Errorf("GET %s differs from its entry in the search:\n%v\n%v", path, got, o)
				}
				singles = append(singles, path)
			}
			for _, e := range obs["entry"].([]any) {
				e := e.(map[string]any)
				res := e["resource"].(map[string]any)
				if want := fmt.Sprintf("%s/fhir/%s/%s", ts.url, res["resourceType"], res["id"]); e["fullUrl"] != want {
					t.Errorf("fullUrl %v, want %s", e["fullUrl"], want)
				}
			}
			if none := fhirGet(t, ts, fmt.Sprintf("/fhir/Observation?subject=%d", p2), doc, 200); none["total"] != 0.0 {
				t.Errorf("subject without assessments: %v", none)
			}

			// Bad searches and unknown ids are OperationOutcomes; permission patient_data.disclose.
			for path, status := range map[string]int{
				"/fhir/Observation": 400, "/fhir/Observation?subject=abc": 400, "/fhir/Observation?subject=999999": 404,
				"/fhir/ResearchSubject": 400, "/fhir/ResearchSubject?patient=Device/1": 400, "/fhir/ResearchSubject/999999": 404,
				"/fhir/Observation/assessment-999999-crp-mg-l": 404, "/fhir/Observation/crp": 404,
				strings.Replace(singles[0], "-crp-mg-l", "-colour", 1): 404,
			} {
				fhirGet(t, ts, path, doc, status)
			}
			for _, path := range []string{"/fhir/ResearchStudy/huc-msc-trial", fmt.Sprintf("/fhir/ResearchSubject?patient=%d", p1), fmt.Sprintf("/fhir/Observation?subject=%d", p1), singles[0]} {
				fhirGet(t, ts, path, nurse, 403)
				fhirGet(t, ts, path, "", 401)
			}

			// Every read of a subject is a disclosure of that subject, by the reader.
			audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d&limit=1000", p1), adm, nil).json(t)
			count := map[string]int{}
			for _, e := range audit["entries"].([]any) {
				e := e.(map[string]any)
				if e["action"] != "patient.disclose" {
					continue
				}
				var d struct{ Via string }
				if err := json.Unmarshal([]byte(e["after"].(string)), &d); err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(d.Via, "fhir.") {
					if e["role"] != "physician" {
						t.Errorf("disclosure via %s as %v", d.Via, e["role"])
					}
					count[d.Via]++
				}
			}
			if fmt.Sprint(count) != "map[fhir.Observation:9 fhir.ResearchSubject:2]" {
				t.Errorf("FHIR disclosures of subject 1: %v, want 2 ResearchSubject reads and 9 Observation reads", count)
			}

			// Past day 90 follow-up is over: the subject is off study from day 90.
			clock.set(time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC))
			doc = ts.login("dr.fhir", "a good password")
			rs3 := fhirGet(t, ts, fmt.Sprintf("/fhir/ResearchSubject/%d", p3), doc, 200)
			if got := fmt.Sprint(progressCodes(rs3)); got != "[on-study@2026-03-01T02:00:00Z-2026-05-30 Randomized@2026-03-01T02:00:00Z off-study@2026-05-30]" ||
				!strings.Contains(fmt.Sprint(rs3["progress"]), "Follow-up completed (day 90)") || rs3["assignedComparisonGroup"] != "huc-msc" {
				t.Errorf("subject 3 after day 90: %s %v", got, rs3)
			}

			// When the disclosure cannot be recorded, nothing is shown.
			refuseDisclosures(t, ts)
			for _, path := range []string{fmt.Sprintf("/fhir/ResearchSubject?patient=%d", p1), fmt.Sprintf("/fhir/ResearchSubject/%d", p1), fmt.Sprintf("/fhir/Observation?subject=%d", p1), singles[0]} {
				r := ts.do("GET", path, doc, nil)
				if r.status != 500 || strings.Contains(string(r.body), "Patient/") || strings.Contains(string(r.body), "SVP-") {
					t.Errorf("GET %s with disclosures refused: %d %s", path, r.status, r.body)
				}
				if err := fhirtest.Validate(r.body); err != nil {
					t.Errorf("GET %s: %v", path, err)
				}
			}
		})
	}
}
