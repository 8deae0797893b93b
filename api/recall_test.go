package api_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// An active recall: recalling a lot opens a task for every unit and bag not yet infused (two
// units in stock, a bag on the ward) and a notice for the patient already infused. The bag is
// scanned back, a unit is returned by its typed id, the other recorded destroyed; the lot's
// tasks then read 3 of 3 closed; a physician acknowledges the notice.
func TestActiveRecall(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc, nurse, _ := orderTeam(t, ts, admin)
		lotPath, units := releasedLot(t, ts, admin, "rc")
		qc, qa := ts.login("rc.qc", "a good password"), ts.login("rc.qa", "a good password")
		pharm := ts.login("ph.eve", "a good password")
		now := time.Now().UTC()

		bagFor := func(subject, mrn string, unitIDs []int64) (int64, string, string) {
			p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Patient " + subject,
				"date_of_birth": "1960-01-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)}).json(t)
			o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)
			bag := ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64))), pharm, map[string]any{
				"unit_ids": unitIDs, "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": o["target_viable_cells"], "volume_ml": 50})
			if bag.status != 201 {
				t.Fatalf("prepare: %d %s", bag.status, bag.body)
			}
			bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag.json(t)["id"].(float64)))
			checkBag(t, ts, admin, bagPath)
			code := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
			if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
				t.Fatalf("dispatch: %d %s", r.status, r.body)
			}
			if r := ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": code, "temperature_c": 4.5}); r.status != 201 {
				t.Fatalf("receive: %d %s", r.status, r.body)
			}
			return int64(p["id"].(float64)), bagPath, code
		}
		infusedPatient, _, codeA := bagFor("SVP-001", "MRN0001", units[:2])
		v := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": codeA,
			"witness": witnessToken(t, ts, nurse, "nurse.fay"), "ward": "ICU-3"}).json(t)
		if r := ts.do("POST", "/api/v1/infusions", nurse, map[string]any{"verification_id": v["id"]}); r.status != 201 {
			t.Fatalf("infusion: %d %s", r.status, r.body)
		}
		wardPatient, bagPathB, codeB := bagFor("SVP-002", "MRN0002", units[2:])
		ts.do("POST", lotPath+"/units", qc, map[string]any{"count": 2, "viable_cells": 40000000, "volume_ml": 25})

		if r := ts.do("POST", lotPath+"/recall", qa, map[string]any{"password": "a good password", "reason": "sterility positive on the retained sample"}); r.status != 200 {
			t.Fatalf("recall: %d %s", r.status, r.body)
		}
		tasks := ts.do("GET", lotPath+"/recall-tasks", pharm, nil)
		list := decodeList(t, tasks.body)
		if tasks.status != 200 || len(list) != 3 {
			t.Fatalf("recall tasks: %d %s; want 3 (two units in stock, the bag on the ward)", tasks.status, tasks.body)
		}
		var unitTasks []map[string]any
		for _, task := range list {
			if task["status"] != "open" {
				t.Fatalf("a new task is %v", task["status"])
			}
			switch task["unit_or_bag"] {
			case "unit":
				unitTasks = append(unitTasks, task)
			case "dose_bag":
				if task["location"] != "ward" || task["subject_id"] != "SVP-002" {
					t.Fatalf("bag task %v; want SVP-002's bag on the ward", task)
				}
			}
		}
		open := ts.do("GET", "/api/v1/recall-tasks", qa, nil).json(t)
		if p := open["progress"].(map[string]any); p["total"] != 3.0 || p["closed"] != 0.0 {
			t.Fatalf("open worklist progress %v", p)
		}
		if r := ts.do("GET", "/api/v1/recall-tasks", nurse, nil); r.status != 403 {
			t.Fatalf("recall tasks as nurse: %d", r.status)
		}
		notices := decodeList(t, ts.do("GET", fmt.Sprintf("/api/v1/patients/%d/recall-notices", infusedPatient), doc, nil).body)
		if len(notices) != 1 || notices[0]["acknowledged_at"] != nil {
			t.Fatalf("infused patient's notices: %v; want one, unacknowledged", notices)
		}
		if n := decodeList(t, ts.do("GET", fmt.Sprintf("/api/v1/patients/%d/recall-notices", wardPatient), doc, nil).body); len(n) != 0 {
			t.Fatalf("a patient not infused has notices: %v", n)
		}

		// The bag comes back: scanned at the pharmacy by its QR.
		r := ts.do("POST", "/api/v1/scans/return", pharm, map[string]any{"code": codeB, "entry": "scanned"})
		if r.status != 201 || r.json(t)["status"] != "returned" || r.json(t)["closed_by"] != "Full ph.eve" {
			t.Fatalf("return scan of the bag: %d %s", r.status, r.body)
		}
		if st := ts.do("GET", bagPathB, pharm, nil).json(t)["status"]; st != "returned" {
			t.Fatalf("bag after its return scan is %v", st)
		}
		if r := ts.do("POST", "/api/v1/scans/return", pharm, map[string]any{"code": codeB}); r.status != 404 {
			t.Fatalf("second return scan: %d %s; want 404", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/return", nurse, map[string]any{"code": codeB}); r.status != 403 {
			t.Fatalf("return scan by a nurse: %d; want 403", r.status)
		}
		// A unit by its id typed with the check character.
		lot := ts.do("GET", lotPath, qc, nil).json(t)
		unitCode := map[float64]string{}
		for _, u := range lot["units"].([]any) {
			u := u.(map[string]any)
			unitCode[u["id"].(float64)] = u["unit_id"].(string) + u["check"].(string)
		}
		typed := unitCode[unitTasks[0]["unit_id"].(float64)]
		if r := ts.do("POST", "/api/v1/scans/return", pharm, map[string]any{"code": typed[:len(typed)-1] + "?", "entry": "typed"}); r.status != 400 {
			t.Fatalf("typed id with a wrong check character: %d %s; want 400", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/return", pharm, map[string]any{"code": typed, "entry": "typed"}); r.status != 201 {
			t.Fatalf("return of a unit by its typed id: %d %s", r.status, r.body)
		}
		// The other unit is destroyed, with the reason.
		destroy := fmt.Sprintf("/api/v1/recall-tasks/%d/destroy", int64(unitTasks[1]["id"].(float64)))
		if r := ts.do("POST", destroy, pharm, map[string]any{"reason": " "}); r.status != 400 {
			t.Fatalf("destroy without a reason: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", destroy, pharm, map[string]any{"reason": "thawed by the recall procedure and sent for incineration"}); r.status != 200 || r.json(t)["status"] != "destroyed" {
			t.Fatalf("destroy: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", destroy, qa, map[string]any{"reason": "again"}); r.status != 409 {
			t.Fatalf("destroy twice: %d %s; want 409", r.status, r.body)
		}
		for _, u := range ts.do("GET", lotPath, qc, nil).json(t)["units"].([]any) {
			if u := u.(map[string]any); u["id"] == unitTasks[1]["unit_id"] && u["status"] != "discarded" {
				t.Fatalf("destroyed unit is %v", u["status"])
			}
		}
		open = ts.do("GET", "/api/v1/recall-tasks", qa, nil).json(t)
		if len(open["tasks"].([]any)) != 0 {
			t.Fatalf("open tasks left: %v", open["tasks"])
		}
		closed := 0
		for _, task := range decodeList(t, ts.do("GET", lotPath+"/recall-tasks", qa, nil).body) {
			if task["status"] == "returned" || task["status"] == "destroyed" {
				closed++
			}
		}
		if closed != 3 {
			t.Fatalf("%d of 3 tasks closed", closed)
		}

		// The notice stays until a physician acknowledges it.
		ack := fmt.Sprintf("/api/v1/recall-notices/%d/acknowledge", int64(notices[0]["id"].(float64)))
		if r := ts.do("POST", ack, nurse, map[string]any{}); r.status != 403 {
			t.Fatalf("acknowledged by a nurse: %d; want 403", r.status)
		}
		if r := ts.do("POST", ack, doc, map[string]any{"note": "patient informed; follow-up cultures ordered"}); r.status != 200 || r.json(t)["acknowledged_by"] != "Full dr.cho" {
			t.Fatalf("acknowledge: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", ack, doc, map[string]any{}); r.status != 409 {
			t.Fatalf("acknowledged twice: %d %s; want 409", r.status, r.body)
		}
		acts := auditActions(t, ts, admin, "lot")
		if acts["recall_task.open"] != 3 || acts["recall_task.return"] != 2 || acts["recall_task.destroy"] != 1 {
			t.Fatalf("recall audit entries: %v", acts)
		}
		if n := auditActions(t, ts, admin, "patient")["recall_notice.acknowledge"]; n != 1 {
			t.Fatalf("%d acknowledgements audited; want 1", n)
		}
	})
}

func decodeList(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("not a JSON list: %v: %s", err, body)
	}
	return out
}
