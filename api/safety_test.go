package api_test

import (
	"fmt"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The safety journey on both databases: an AE in the first form, an SAE in the ICH E2A form
// left past its 24-hour clock, a SUSAR opened by a follow-up, the worklist overdue first, and a
// report closed by recording that it was sent to the sponsor.
func TestSafetyReportingClocksAndWorklist(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			clock := &testClock{t: start}
			ts := newTestServerWith(t, backend, store.Options{Now: clock.Now})
			admin := ts.login("admin", adminPassword)
			ts.userWith(admin, "dr.cho", domain.RolePhysician)
			ts.userWith(admin, "nurse.dee", domain.RoleNurse)
			ts.userWith(admin, "qa.bob", domain.RoleQA)
			doc := ts.login("dr.cho", "a good password")
			nurse := ts.login("nurse.dee", "a good password")

			patient := func(subject, mrn string) int64 {
				r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Li Wei",
					"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "routine", "enrolled_at": start.Add(-24 * time.Hour)})
				if r.status != 201 {
					t.Fatalf("enrol: %d %s", r.status, r.body)
				}
				return int64(r.json(t)["id"].(float64))
			}
			p1, p2 := patient("SVP-001", "MRN0001"), patient("SVP-002", "MRN0002")

			// The first form keeps working: serious yes/no, severity, no term.
			old := ts.do("POST", "/api/v1/adverse-events", nurse, map[string]any{"patient_id": p1, "serious": true, "severity": "severe",
				"description": "transient hypotension", "onset_at": start.Add(-time.Hour)})
			if old.status != 201 {
				t.Fatalf("first form: %d %s", old.status, old.body)
			}
			ob := old.json(t)
			if ob["serious"] != true || ob["grade"] != float64(3) || ob["report_due_at"] != start.Add(24*time.Hour).Format(time.RFC3339) {
				t.Fatalf("first-form SAE: %s; want grade 3 and a report due 24 h after it was recorded", old.body)
			}
			if c := ob["serious_criteria"].([]any); len(c) != 1 || c[0] != "important_medical_event" {
				t.Fatalf("first-form SAE criteria %v", c)
			}
			ae := ts.do("POST", "/api/v1/adverse-events", nurse, map[string]any{"patient_id": p1, "serious": false, "severity": "mild",
				"description": "headache", "onset_at": start.Add(-time.Hour)})
			if ae.status != 201 || ae.json(t)["report_due_at"] != nil {
				t.Fatalf("an AE opens no report: %d %s", ae.status, ae.body)
			}

			// The ICH E2A form: an SAE whose investigator became aware 2 hours after onset.
			aware := start.Add(-30 * time.Minute)
			full := map[string]any{"patient_id": p2, "term": "Pneumonia", "description": "hospitalised with pneumonia on day 3",
				"onset_at": start.Add(-2 * time.Hour), "grade": 3, "serious_criteria": []string{"hospitalisation"},
				"relatedness": "unlikely", "outcome": "not_recovered", "action_taken": "not_applicable", "aware_at": aware}
			sae := ts.do("POST", "/api/v1/adverse-events", doc, full)
			if sae.status != 201 {
				t.Fatalf("SAE: %d %s", sae.status, sae.body)
			}
			sb := sae.json(t)
			if sb["susar"] != false || sb["expected"] != false || sb["report_due_at"] != aware.Add(24*time.Hour).Format(time.RFC3339) {
				t.Fatalf("SAE: %s; want unexpected, no SUSAR (unlikely), due 24 h after awareness", sae.body)
			}
			saeID := int64(sb["id"].(float64))

			// Rules name the field.
			for _, tc := range []struct {
				change map[string]any
				status int
				field  string
			}{
				{map[string]any{"grade": 7}, 400, "grade"},
				{map[string]any{"serious_criteria": []string{"scary"}}, 400, "serious_criteria"},
				{map[string]any{"relatedness": "maybe"}, 400, "relatedness"},
				{map[string]any{"aware_at": nil}, 400, "aware_at"},
				{map[string]any{"serious": false}, 400, "serious"},
				{map[string]any{"expected": true}, 422, "expected"},
			} {
				body := map[string]any{}
				for k, v := range full {
					body[k] = v
				}
				for k, v := range tc.change {
					if v == nil {
						delete(body, k)
					} else {
						body[k] = v
					}
				}
				if r := ts.do("POST", "/api/v1/adverse-events", doc, body); r.status != tc.status || r.errorOf(t)["field"] != tc.field {
					t.Fatalf("%v: %d %s; want %d naming %s", tc.change, r.status, r.body, tc.status, tc.field)
				}
			}

			// Time passes: 25 hours later both SAEs are past their 24-hour clocks.
			clock.Advance(25 * time.Hour)
			doc, nurse = ts.login("dr.cho", "a good password"), ts.login("nurse.dee", "a good password")
			qa := ts.login("qa.bob", "a good password")

			// A follow-up: the physician now judges it possibly related, which makes it a SUSAR
			// (unexpected, serious), with a 15-day clock from this version's awareness.
			fuAware := clock.Now().Add(-time.Hour)
			fu := map[string]any{}
			for k, v := range full {
				fu[k] = v
			}
			delete(fu, "patient_id")
			fu["relatedness"], fu["aware_at"] = "possible", fuAware
			r := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/follow-ups", saeID), doc, fu)
			if r.status != 201 || r.json(t)["version"] != float64(2) || r.json(t)["susar"] != true {
				t.Fatalf("follow-up: %d %s", r.status, r.body)
			}
			if r := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/follow-ups", saeID), doc, map[string]any{
				"serious": true, "severity": "severe", "description": "x", "onset_at": start}); r.status != 400 || r.errorOf(t)["field"] != "term" {
				t.Fatalf("a follow-up in the first form: %d %s; want 400 naming term", r.status, r.body)
			}

			// Nurses report but do not work the worklist.
			if r := ts.do("GET", "/api/v1/safety/reports", nurse, nil); r.status != 403 {
				t.Fatalf("worklist as nurse: %d", r.status)
			}
			list := ts.do("GET", "/api/v1/safety/reports", qa, nil)
			if list.status != 200 {
				t.Fatalf("worklist: %d %s", list.status, list.body)
			}
			reports := list.json(t)["reports"].([]any)
			if len(reports) != 3 {
				t.Fatalf("worklist: %s; want the two SAE reports and the SUSAR's", list.body)
			}
			first, second, third := reports[0].(map[string]any), reports[1].(map[string]any), reports[2].(map[string]any)
			if first["adverse_event_id"] != float64(saeID) || first["kind"] != "sae_24h" || first["overdue"] != true ||
				second["overdue"] != true || second["subject_id"] != "SVP-001" ||
				third["kind"] != "susar_15d" || third["overdue"] != false || third["due_at"] != fuAware.Add(15*24*time.Hour).Format(time.RFC3339) {
				t.Fatalf("worklist order: %s; want the overdue SAEs first (earliest due first), then the SUSAR", list.body)
			}

			// Sent to sponsor closes the event's open reports; late, since past 24 hours.
			sent := clock.Now().Add(-10 * time.Minute)
			if r := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/reported", saeID), qa, map[string]any{"sent_at": clock.Now().Add(time.Hour)}); r.status != 400 || r.errorOf(t)["field"] != "sent_at" {
				t.Fatalf("sent in the future: %d %s", r.status, r.body)
			}
			if r := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/reported", saeID), nurse, map[string]any{"sent_at": sent}); r.status != 403 {
				t.Fatalf("sent as nurse: %d", r.status)
			}
			done := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/reported", saeID), qa, map[string]any{"sent_at": sent})
			if done.status != 200 {
				t.Fatalf("sent: %d %s", done.status, done.body)
			}
			d := done.json(t)
			if d["report_due_at"] != nil || len(d["versions"].([]any)) != 2 || d["subject_id"] != "SVP-002" {
				t.Fatalf("after sending: %s", done.body)
			}
			for _, rep := range d["reports"].([]any) {
				rep := rep.(map[string]any)
				if rep["sent_by_name"] != "Full qa.bob" || rep["sent_version"] != float64(2) || rep["late"] != (rep["kind"] == "sae_24h") {
					t.Fatalf("report after sending: %v", rep)
				}
			}
			if r := ts.do("POST", fmt.Sprintf("/api/v1/adverse-events/%d/reported", saeID), qa, map[string]any{"sent_at": sent}); r.status != 409 {
				t.Fatalf("sent twice: %d %s", r.status, r.body)
			}
			if reports := ts.do("GET", "/api/v1/safety/reports", doc, nil).json(t)["reports"].([]any); len(reports) != 1 ||
				reports[0].(map[string]any)["subject_id"] != "SVP-001" {
				t.Fatalf("worklist after sending: %v", reports)
			}

			// Version 1 stands as it was; both versions are read back.
			v := ts.do("GET", fmt.Sprintf("/api/v1/adverse-events/%d", saeID), nurse, nil).json(t)["versions"].([]any)
			if v[0].(map[string]any)["relatedness"] != "unlikely" || v[1].(map[string]any)["relatedness"] != "possible" {
				t.Fatalf("versions: %v", v)
			}
			// Every read that named a patient was recorded.
			admin = ts.login("admin", adminPassword)
			audit := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=patient&entity_id=%d", p2), admin, nil)
			if !containsAll(string(audit.body), "api.safety_reports", "api.adverse_event") {
				t.Fatalf("disclosures of the SAE's patient: %s", audit.body)
			}
			audit = ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=adverse_event&entity_id=%d", saeID), admin, nil)
			if !containsAll(string(audit.body), "adverse_event.report", "adverse_event.follow_up", "safety_report.open", "safety_report.sent") {
				t.Fatalf("audit of the SAE: %s", audit.body)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !contains(s, sub) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
