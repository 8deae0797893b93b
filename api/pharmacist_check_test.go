package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// SPEC §6: the bag's viable cells are bounded by the units thawed into it and by the order's
// tolerance of its target; a refusal is 422 naming both figures and writes nothing.
func TestPreparationLimitsOverTheAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		_, units := releasedLot(t, ts, admin, "p") // units of 4×10^7 viable cells
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		pharm := ts.userWith(admin, "ph.eve", domain.RolePharmacist)
		now := time.Now().UTC()
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
			"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.Add(-time.Hour)}).json(t)
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)
		orderPath := fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64)))
		bag := func(cells int64) map[string]any {
			return map[string]any{"unit_ids": units[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85,
				"viable_cells": cells, "volume_ml": 50}
		}
		for _, tc := range []struct {
			name  string
			cells int64
			wants []string
		}{
			{"two units of 4×10^7 recorded as a 9×10^7 bag", 90_000_000,
				[]string{"the bag's 9.00×10^7 viable cells exceed the 8.00×10^7 of the units thawed into it"}},
			{"a bag below the order's tolerance", 60_000_000, []string{"6.00×10^7", "7.00×10^7", "±10 %"}},
			{"a bag above the order's tolerance", 78_000_000, []string{"7.80×10^7", "7.00×10^7", "±10 %"}},
		} {
			r := ts.do("POST", orderPath, pharm, bag(tc.cells))
			if r.status != 422 || r.errorOf(t)["field"] != "viable_cells" {
				t.Fatalf("%s: %d %s, want 422 on viable_cells", tc.name, r.status, r.body)
			}
			for _, w := range tc.wants {
				if msg := r.errorOf(t)["message"].(string); !strings.Contains(msg, w) {
					t.Errorf("%s: %q does not say %q", tc.name, msg, w)
				}
			}
		}
		// Nothing was written: the order still waits and the units are still available.
		if orders := ts.do("GET", "/api/v1/dose-orders", pharm, nil); !strings.Contains(string(orders.body), `"id":`+fmt.Sprint(o["id"])) {
			t.Fatalf("the order after refused preparations: %s", orders.body)
		}
		var avail []map[string]any
		if err := json.Unmarshal(ts.do("GET", "/api/v1/units", pharm, nil).body, &avail); err != nil || len(avail) != len(units) {
			t.Fatalf("available units after refused preparations: %d %v", len(avail), err)
		}
		r := ts.do("POST", orderPath, pharm, bag(72_000_000))
		if r.status != 201 || r.json(t)["volume_to_draw_ml"] != 48.6 || r.json(t)["checked_by"] != nil {
			t.Fatalf("a bag within both limits: %d %s", r.status, r.body)
		}
	})
}

// SPEC §6 and §8: a second pharmacist, not the preparer, checks the bag with their own password
// before its label prints or it is dispatched; bag labels are printed by pharmacists, unit
// labels by QC and pharmacists; each print is an audit entry and the trace counts the copies.
func TestSecondPharmacistCheckAndLabelPrinting(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		bag, _, lotPath := unlabelledBag(t, ts, admin)
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
		pharm := ts.login("ph.eve", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		qc := ts.login("s.qc", "a good password")
		qa := ts.login("s.qa", "a good password")
		sam := ts.userWith(admin, "ph.sam", domain.RolePharmacist)

		// An unchecked bag is neither labelled nor dispatched.
		for _, f := range []string{"png", "pdf", "zpl"} {
			r := ts.do("GET", bagPath+"/label."+f, pharm, nil)
			if r.status != 409 || !strings.Contains(r.errorOf(t)["message"].(string), "a second pharmacist must check") {
				t.Fatalf("label.%s of an unchecked bag: %d %s, want 409", f, r.status, r.body)
			}
		}
		typed := bag["bag_id"].(string) + bag["check"].(string)
		r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": typed, "to": "ICU-3", "temperature_c": 5})
		if r.status != 409 || !strings.Contains(r.errorOf(t)["message"].(string), "cannot be dispatched yet: a second pharmacist must check") {
			t.Fatalf("dispatch of an unchecked bag: %d %s", r.status, r.body)
		}

		// Who may check: a pharmacist, not the preparer, with their own password.
		for _, tc := range []struct {
			name, username, password string
			status                   int
		}{
			{"the preparer checking their own bag", "ph.eve", "a good password", 422},
			{"a nurse as the checker", "nurse.dee", "a good password", 403},
			{"a wrong password", "ph.sam", "not the password", 400},
			{"no password", "ph.sam", "", 400},
		} {
			if r := ts.do("POST", bagPath+"/check", pharm, map[string]string{"username": tc.username, "password": tc.password}); r.status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
			}
		}
		if r := ts.do("POST", bagPath+"/check", nurse, map[string]string{"username": "ph.sam", "password": "a good password"}); r.status != 403 {
			t.Fatalf("a nurse sending the check: %d", r.status)
		}
		if b := ts.do("GET", bagPath, pharm, nil).json(t); b["checked_by"] != nil {
			t.Fatalf("refused checks left the bag checked: %v", b)
		}
		samID := ts.do("GET", "/api/v1/me", sam, nil).json(t)["id"]
		// ph.sam types their own username and password on ph.eve's device.
		checked := ts.do("POST", bagPath+"/check", pharm, map[string]string{"username": "ph.sam", "password": "a good password"}).json(t)
		if checked["checked_by"] != samID || checked["checked_at"] == nil {
			t.Fatalf("checked bag: %v, want checked_by %v", checked, samID)
		}
		if r := ts.do("POST", bagPath+"/check", pharm, map[string]string{"username": "ph.sam", "password": "a good password"}); r.status != 409 {
			t.Fatalf("a second check: %d %s", r.status, r.body)
		}
		audit := func(entityType string, id any, action string) []map[string]any {
			var out []map[string]any
			r := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=%s&entity_id=%v&limit=1000", entityType, id), admin, nil)
			for _, e := range r.json(t)["entries"].([]any) {
				if e := e.(map[string]any); e["action"] == action {
					out = append(out, e)
				}
			}
			return out
		}
		if checks := audit("dose_bag", bag["id"], "dose_bag.check"); len(checks) != 1 || checks[0]["user_id"] != samID || !strings.Contains(checks[0]["after"].(string), `"entered_on_device_of":"ph.eve"`) {
			t.Fatalf("dose_bag.check entries: %v", checks)
		}

		// Printing by role.
		for _, who := range []struct {
			name, token string
		}{{"nurse", nurse}, {"QC", qc}, {"QA", qa}, {"admin", admin}} {
			for _, f := range []string{"png", "pdf", "zpl"} {
				if r := ts.do("GET", bagPath+"/label."+f, who.token, nil); r.status != 403 {
					t.Errorf("bag label.%s printed by %s: %d, want 403", f, who.name, r.status)
				}
			}
		}
		unitPath := fmt.Sprintf("/api/v1/units/%d", int64(ts.do("GET", lotPath, qc, nil).json(t)["units"].([]any)[3].(map[string]any)["id"].(float64)))
		for _, who := range []struct {
			name, token string
			status      int
		}{{"nurse", nurse, 403}, {"admin", admin, 403}, {"QA", qa, 403}, {"QC", qc, 200}, {"pharmacist", pharm, 200}} {
			if r := ts.do("GET", unitPath+"/label.pdf", who.token, nil); r.status != who.status {
				t.Errorf("unit label printed by %s: %d, want %d", who.name, r.status, who.status)
			}
			if r := ts.do("GET", lotPath+"/labels.pdf", who.token, nil); r.status != who.status {
				t.Errorf("lot label sheet printed by %s: %d, want %d", who.name, r.status, who.status)
			}
		}

		// Each print is an audit entry, and the trace counts the copies of each serial.
		for _, f := range []string{"png", "pdf", "zpl"} {
			if r := ts.do("GET", bagPath+"/label."+f, pharm, nil); r.status != 200 {
				t.Fatalf("label.%s of the checked bag: %d %s", f, r.status, r.body)
			}
		}
		ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "label smudged"})
		ts.do("GET", bagPath+"/label.pdf", pharm, nil)
		prints := audit("dose_bag", bag["id"], "label.print")
		if len(prints) != 4 {
			t.Fatalf("label.print entries = %d, want 4: %v", len(prints), prints)
		}
		for i, want := range []string{`"format":"png"`, `"format":"pdf"`, `"format":"zpl"`, `"serial":2`} {
			if e := prints[i]; !strings.Contains(e["after"].(string), want) || e["user_name"] != "Full ph.eve" || e["at"] == nil {
				t.Errorf("print %d: %v, want %s by ph.eve", i+1, e, want)
			}
		}
		var trace struct {
			Bags []struct {
				LabelPrints []struct {
					Serial int    `json:"serial"`
					Copies int    `json:"copies"`
					Reason string `json:"reason"`
				} `json:"label_prints"`
			} `json:"dose_bags"`
		}
		if err := json.Unmarshal(ts.do("GET", lotPath+"/trace", qa, nil).body, &trace); err != nil || len(trace.Bags) != 1 {
			t.Fatalf("lot trace: %v", err)
		}
		got := fmt.Sprint(trace.Bags[0].LabelPrints)
		if got != "[{1 3 } {2 1 label smudged}]" {
			t.Fatalf("copies per serial in the trace = %s, want serial 1 ×3 and serial 2 ×1", got)
		}

		// Checked, the bag is dispatched.
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": typed, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
			t.Fatalf("dispatch of the checked bag: %d %s", r.status, r.body)
		}
	})
}

// unlabelledBag makes a released lot (of s.qc and s.qa), a patient enrolled yesterday, so that
// today is the protocol's infusion day, and their dose bag prepared by ph.eve: before the
// second pharmacist's check, never labelled.
func unlabelledBag(t *testing.T, ts *testServer, admin string) (map[string]any, int64, string) {
	t.Helper()
	lotPath, units := releasedLot(t, ts, admin, "s")
	doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
	pharm := ts.userWith(admin, "ph.eve", domain.RolePharmacist)
	now := time.Now().UTC()
	p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
		"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)}).json(t)
	o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)
	r := ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64))), pharm, map[string]any{
		"unit_ids": units[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": 70_000_000, "volume_ml": 50})
	if r.status != 201 {
		t.Fatalf("prepare: %d %s", r.status, r.body)
	}
	return r.json(t), int64(p["id"].(float64)), lotPath
}
