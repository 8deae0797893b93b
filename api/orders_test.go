package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// orderedBag enrols subject (mrn, kg), orders their dose, prepares a bag of cells viable
// cells from two units of a released lot and returns the patient id, the order id, the bag's
// row id and the QR of its label. A bag whose count the preparation would refuse is written
// straight to the database after a valid preparation, as a mistyped count recorded before
// preparation limits existed would be.
// orderTeam creates the physician dr.cho, the pharmacist ph.eve and the nurses nurse.dee and
// nurse.fay (the witness); it returns the physician's, the nurse's and the witness's tokens.
func orderTeam(t *testing.T, ts *testServer, admin string) (doc, nurse, witness string) {
	t.Helper()
	doc = ts.userWith(admin, "dr.cho", domain.RolePhysician)
	ts.userWith(admin, "ph.eve", domain.RolePharmacist)
	return doc, ts.userWith(admin, "nurse.dee", domain.RoleNurse), ts.userWith(admin, "nurse.fay", domain.RoleNurse)
}

func orderedBag(t *testing.T, ts *testServer, admin, prefix, subject, mrn string, kg float64, cells int64) (patientID, orderID, bagRowID int64, code string) {
	t.Helper()
	_, units := releasedLot(t, ts, admin, prefix)
	doc := ts.login("dr.cho", "a good password")
	pharm := ts.login("ph.eve", "a good password")
	now := time.Now().UTC()
	p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Zhao Min",
		"date_of_birth": "1958-03-02", "weight_kg": kg, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)})
	if p.status != 201 {
		t.Fatalf("enrol: %d %s", p.status, p.body)
	}
	patientID = int64(p.json(t)["id"].(float64))
	o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", patientID), doc, nil)
	if o.status != 201 {
		t.Fatalf("order: %d %s", o.status, o.body)
	}
	orderID = int64(o.json(t)["id"].(float64))
	target := int64(o.json(t)["target_viable_cells"].(float64))
	bag := ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", orderID), pharm, map[string]any{
		"unit_ids": units[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": target, "volume_ml": 50})
	if bag.status != 201 {
		t.Fatalf("prepare: %d %s", bag.status, bag.body)
	}
	bagRowID = int64(bag.json(t)["id"].(float64))
	if cells != target {
		if _, err := ts.store.SQLDB().ExecContext(context.Background(), fmt.Sprintf("UPDATE dose_bags SET viable_cells = %d WHERE id = %d", cells, bagRowID)); err != nil {
			t.Fatal(err)
		}
	}
	checkBag(t, ts, admin, fmt.Sprintf("/api/v1/dose-bags/%d", bagRowID))
	code = scanQR(t, ts.do("GET", fmt.Sprintf("/api/v1/dose-bags/%d/label.png", bagRowID), pharm, nil).body)
	return patientID, orderID, bagRowID, code
}

// doseCheck verifies the bag at the bedside and returns the DOSE check's outcome and message.
func doseCheck(t *testing.T, ts *testServer, nurse, witness, mrn, code string) (bool, string) {
	t.Helper()
	r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": mrn, "code": code, "witness": map[string]string{"token": witness}})
	if r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	for _, c := range r.json(t)["checks"].([]any) {
		if c := c.(map[string]any); c["code"] == domain.CheckDose {
			return c["pass"] == true, c["message"].(string)
		}
	}
	t.Fatalf("no DOSE check: %s", r.body)
	return false, ""
}

// A bag of 9.0×10^7 cells for a 68 kg patient stops with WRONG DOSE; recording 90 kg does not
// make it pass: the order awaits the physician's review, and once confirmed the bag is still
// judged against the order's 68 kg.
func TestReweighingDoesNotPassTheBag(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc, nurse, witness := orderTeam(t, ts, admin)
		patientID, orderID, _, code := orderedBag(t, ts, admin, "w", "SVP-068", "MRN0068", 68, 90_000_000)

		pass, msg := doseCheck(t, ts, nurse, witness, "MRN0068", code)
		if pass || !strings.Contains(msg, "WRONG DOSE") || !strings.Contains(msg, "68.0 kg") || strings.Contains(msg, "review") {
			t.Fatalf("68 kg, 9.0×10^7 cells: DOSE %v %q", pass, msg)
		}

		weigh := func(body map[string]any) response {
			return ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/weights", patientID), nurse, body)
		}
		if r := weigh(map[string]any{"weight_kg": 90}); r.status != 400 || r.errorOf(t)["field"] != "reason" ||
			!strings.Contains(r.errorOf(t)["message"].(string), "more than 10 %") {
			t.Fatalf("+32 %% without a reason: %d %s", r.status, r.body)
		}
		if r := weigh(map[string]any{"weight_kg": 90, "reason": "re-weighed on the bed scale"}); r.status != 201 {
			t.Fatalf("weight with a reason: %d %s", r.status, r.body)
		}

		pass, msg = doseCheck(t, ts, nurse, witness, "MRN0068", code)
		if pass || !strings.Contains(msg, "awaits the physician's review") || !strings.Contains(msg, "90.0 kg") || !strings.Contains(msg, "68.0 kg") {
			t.Fatalf("after 90 kg: DOSE %v %q", pass, msg)
		}
		d, err := ts.store.PatientDetail(context.Background(), patientID)
		if err != nil || !d.OrderReview.NeedsReview || d.Order == nil || d.Order.ID != orderID || d.Weights[1].Reason != "re-weighed on the bed scale" {
			t.Fatalf("patient detail: %+v %v", d, err)
		}

		confirm := func(token string, body map[string]any) response {
			return ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/confirm", orderID), token, body)
		}
		if r := confirm(nurse, map[string]any{"password": "a good password", "reason": "x"}); r.status != 403 {
			t.Fatalf("confirm by a nurse: %d %s", r.status, r.body)
		}
		if r := confirm(doc, map[string]any{"password": "a good password"}); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("confirm without a reason: %d %s", r.status, r.body)
		}
		if r := confirm(doc, map[string]any{"password": "not my password", "reason": "x"}); r.status != 401 {
			t.Fatalf("confirm with a wrong password: %d %s", r.status, r.body)
		}
		if r := confirm(doc, map[string]any{"password": "a good password", "reason": "admission weight confirmed with the ward"}); r.status != 200 {
			t.Fatalf("confirm: %d %s", r.status, r.body)
		}
		if r := confirm(doc, map[string]any{"password": "a good password", "reason": "again"}); r.status != 409 {
			t.Fatalf("confirm twice: %d %s", r.status, r.body)
		}

		pass, msg = doseCheck(t, ts, nurse, witness, "MRN0068", code)
		if pass || !strings.Contains(msg, "WRONG DOSE") || !strings.Contains(msg, "target for 68.0 kg is 6.80×10^7") || strings.Contains(msg, "review") {
			t.Fatalf("after the confirmation: DOSE %v %q", pass, msg)
		}
		qa := ts.login("w.qa", "a good password")
		if r := ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=dose_order&entity_id=%d", orderID), qa, nil); !strings.Contains(string(r.body), "dose_order.confirm") {
			t.Fatalf("the confirmation is not audited: %s", r.body)
		}
	})
}

// A specification version proposed by QA is not in force until a physician, another person,
// co-signs it; orders keep the version they were made under, and the bedside judges by it.
func TestSpecVersionNeedsQAAndPhysician(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		doc, nurse, witness := orderTeam(t, ts, admin)
		both := ts.userWith(admin, "qa.doc", domain.RoleQA, domain.RolePhysician)
		patientID, _, _, code := orderedBag(t, ts, admin, "v", "SVP-070", "MRN0070", 70, 70_000_000)
		qa := ts.login("v.qa", "a good password")

		spec := ts.do("GET", "/api/v1/spec", qa, nil).json(t)
		spec["dose_cells_per_kg"] = 2e6
		spec["dose_tolerance_pct"] = 5
		r := ts.do("POST", "/api/v1/spec-versions", qa, map[string]any{"spec": spec, "password": "a good password", "reason": "protocol amendment 2"})
		if r.status != 201 || r.json(t)["status"] != "proposed" {
			t.Fatalf("QA proposes v2: %d %s", r.status, r.body)
		}
		if cur := ts.do("GET", "/api/v1/spec", qa, nil).json(t); cur["version"].(float64) != 1 {
			t.Fatalf("QA alone made v%v current", cur["version"])
		}
		sign := func(token string, version int, reason string) response {
			return ts.do("POST", fmt.Sprintf("/api/v1/spec-versions/%d/sign", version), token, map[string]any{"password": "a good password", "reason": reason})
		}
		if r := sign(qa, 2, "I agree with myself"); r.status != 403 {
			t.Fatalf("QA co-signs: %d %s", r.status, r.body)
		}
		// One person holding both roles cannot be both signers.
		if r := ts.do("POST", "/api/v1/spec-versions", both, map[string]any{"spec": spec, "password": "a good password", "reason": "amendment 2, again"}); r.status != 201 {
			t.Fatalf("v3 by qa.doc: %d %s", r.status, r.body)
		}
		if r := sign(both, 3, "mine"); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "different person") {
			t.Fatalf("the proposer co-signs: %d %s", r.status, r.body)
		}
		if r := sign(doc, 2, ""); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("co-sign without a reason: %d %s", r.status, r.body)
		}
		if r := sign(doc, 2, "amendment 2 approved by the investigators"); r.status != 200 || r.json(t)["status"] != "in_force" || r.json(t)["cosigner_printed_name"] != "Full dr.cho" {
			t.Fatalf("physician co-signs: %d %s", r.status, r.body)
		}
		if cur := ts.do("GET", "/api/v1/spec", qa, nil).json(t); cur["version"].(float64) != 2 {
			t.Fatalf("v2 is not in force after both signatures: v%v", cur["version"])
		}
		if r := sign(doc, 2, "again"); r.status != 409 {
			t.Fatalf("co-sign twice: %d %s", r.status, r.body)
		}

		// The order made under v1 keeps v1: its 7.0×10^7 bag is right at the bedside.
		if d, err := ts.store.PatientDetail(context.Background(), patientID); err != nil || d.Order.SpecVersion != 1 || d.SpecVersion != 2 || d.OrderTolerancePct != 10 {
			t.Fatalf("the order under v1 after v2: %+v %v", d, err)
		}
		pass, msg := doseCheck(t, ts, nurse, witness, "MRN0070", code)
		if !pass || !strings.Contains(msg, "specification v1") || !strings.Contains(msg, "±10 %") {
			t.Fatalf("an order under v1 judged: DOSE %v %q", pass, msg)
		}
		// A new order takes v2.
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-071", "mrn": "MRN0071", "name": "Sun Li",
			"date_of_birth": "1966-01-01", "weight_kg": 60, "arm": "huc_msc", "enrolled_at": time.Now().UTC().AddDate(0, 0, -1)}).json(t)
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)
		if o["spec_version"].(float64) != 2 || o["target_viable_cells"].(float64) != 120_000_000 {
			t.Fatalf("an order under v2: %v", o)
		}
	})
}
