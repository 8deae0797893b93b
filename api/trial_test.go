package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// The allocation list through the API: a bad list is refused with its line, a good one is
// signed and hashed, enrolment then takes the arm from it (an arm in the body is 422), and the
// trial's figures count the arms without naming anyone.
func TestAllocationListAndEnrolment(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		adm := ts.login("admin", adminPassword)
		qa := ts.userWith(adm, "qa.alloc", domain.RoleQA)
		doc := ts.userWith(adm, "dr.alloc", domain.RolePhysician)
		bad := ts.do(http.MethodPost, "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "csv": "sequence,arm\n1,huc_msc\n1,routine\n"})
		if bad.status != http.StatusBadRequest || !strings.Contains(string(bad.body), "line 3: sequence 1 appears twice") {
			t.Fatalf("duplicate sequence: %d %s", bad.status, bad.body)
		}
		if r := ts.do(http.MethodPost, "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "rows": []any{}}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "empty") {
			t.Fatalf("empty list: %d %s", r.status, r.body)
		}
		if r := ts.do(http.MethodPost, "/api/v1/trial/allocations", doc, map[string]any{"password": "a good password", "csv": "1,huc_msc\n"}); r.status != http.StatusForbidden {
			t.Fatalf("physician loads a list: %d", r.status)
		}
		ok := ts.do(http.MethodPost, "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "csv": "sequence,arm,stratum\n1,routine,A\n2,huc_msc,A\n"})
		if ok.status != http.StatusCreated {
			t.Fatalf("load: %d %s", ok.status, ok.body)
		}
		if got := ok.json(t); got["sha256"] != domain.AllocationSHA256([]domain.Allocation{{Sequence: 1, Arm: domain.ArmRoutine, Stratum: "A"}, {Sequence: 2, Arm: domain.ArmHUCMSC, Stratum: "A"}}) || got["count"] != 2.0 {
			t.Fatalf("list: %v", got)
		}
		if r := ts.do(http.MethodPost, "/api/v1/trial/allocations", qa, map[string]any{"password": "a good password", "rows": []map[string]any{{"sequence": 3, "arm": "routine"}}}); r.status != http.StatusConflict {
			t.Fatalf("second list: %d %s", r.status, r.body)
		}
		body := map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "A Patient", "date_of_birth": "1970-01-01", "weight_kg": 70, "enrolled_at": "2026-01-01T10:00:00Z", "arm": "huc_msc"}
		if r := ts.do(http.MethodPost, "/api/v1/patients", doc, body); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"field":"arm"`) {
			t.Fatalf("arm in the body: %d %s", r.status, r.body)
		}
		delete(body, "arm")
		r := ts.do(http.MethodPost, "/api/v1/patients", doc, body)
		if p := r.json(t); r.status != http.StatusCreated || p["arm"] != "routine" || p["allocation_sequence"] != 1.0 {
			t.Fatalf("enrol: %d %s", r.status, r.body)
		}
		sum := ts.do(http.MethodGet, "/api/v1/trial", qa, nil)
		if sum.status != http.StatusOK || !strings.Contains(string(sum.body), `{"arm":"routine","enrolled":1,"randomized":1}`) || strings.Contains(string(sum.body), "SVP-001") {
			t.Fatalf("trial: %d %s", sum.status, sum.body)
		}
	})
}

// Follow-up through the API: an implausible value is refused naming the field and the range,
// the worklist and the follow-up read are recorded as disclosures, and outcomes are the
// physician's.
func TestFollowUpAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		adm := ts.login("admin", adminPassword)
		doc := ts.userWith(adm, "dr.fu", domain.RolePhysician)
		nurse := ts.userWith(adm, "rn.fu", domain.RoleNurse)
		enrolled := time.Now().UTC().AddDate(0, 0, -3)
		r := ts.do(http.MethodPost, "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "A Patient", "date_of_birth": "1970-01-01",
			"weight_kg": 70, "enrolled_at": enrolled, "arm": "routine"})
		if r.status != http.StatusCreated {
			t.Fatalf("enrol: %d %s", r.status, r.body)
		}
		id := int64(r.json(t)["id"].(float64))
		path := fmt.Sprintf("/api/v1/patients/%d", id)
		if r := ts.do(http.MethodPost, path+"/assessments", nurse, map[string]any{"day": 0, "taken_at": enrolled, "crp_mg_l": 900}); r.status != http.StatusBadRequest ||
			r.errorOf(t)["field"] != "crp_mg_l" || !strings.Contains(string(r.body), "from 0 to 600 mg/L") {
			t.Fatalf("CRP 900: %d %s", r.status, r.body)
		}
		if r := ts.do(http.MethodPost, path+"/assessments", nurse, map[string]any{"day": 0, "taken_at": enrolled, "crp_mg_l": 80, "pf_ratio_mmhg": 180, "imaging_score": 12}); r.status != http.StatusCreated {
			t.Fatalf("assessment: %d %s", r.status, r.body)
		}
		if r := ts.do(http.MethodPost, path+"/outcomes", nurse, map[string]any{"kind": "discharge", "date": time.Now().UTC().Format(time.DateOnly)}); r.status != http.StatusForbidden {
			t.Fatalf("a nurse records an outcome: %d", r.status)
		}
		if r := ts.do(http.MethodPost, path+"/outcomes", doc, map[string]any{"kind": "discharge", "date": time.Now().UTC().Format(time.DateOnly)}); r.status != http.StatusCreated {
			t.Fatalf("discharge: %d %s", r.status, r.body)
		}
		w := ts.do(http.MethodGet, "/api/v1/follow-up/worklist", nurse, nil)
		if w.status != http.StatusOK || !strings.Contains(string(w.body), `"subject_id":"SVP-001","day":1,`) {
			t.Fatalf("worklist: %d %s", w.status, w.body)
		}
		f := ts.do(http.MethodGet, path+"/follow-up", doc, nil)
		if f.status != http.StatusOK || !strings.Contains(string(f.body), `"kind":"discharge"`) {
			t.Fatalf("follow-up: %d %s", f.status, f.body)
		}
		audit := ts.do(http.MethodGet, "/api/v1/audit?entity_type=patient&entity_id="+fmt.Sprint(id), adm, nil)
		for _, via := range []string{domain.ViaAPIFollowUp, domain.ViaAPIFollowUpWorklist} {
			if !strings.Contains(string(audit.body), via) {
				t.Errorf("no disclosure via %s in %s", via, audit.body)
			}
		}
	})
}
