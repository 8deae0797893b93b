package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// donorPath is the address of the donation a lot was made from.
func donorPath(t *testing.T, ts *testServer, token, lotPath string) string {
	t.Helper()
	lot := ts.do("GET", lotPath, token, nil).json(t)["lot"].(map[string]any)
	return fmt.Sprintf("/api/v1/donations/%d", int64(lot["donation_id"].(float64)))
}

// recordDonorWorkUp records every required test non-reactive and an acceptable screening.
func recordDonorWorkUp(t *testing.T, ts *testServer, qc, path string, at time.Time) {
	t.Helper()
	for _, test := range domain.DonorTests {
		if r := ts.do("POST", path+"/tests", qc, map[string]any{"test": test, "result": "non_reactive", "tested_at": at}); r.status != 201 {
			t.Fatalf("donor test %s: %d %s", test, r.status, r.body)
		}
	}
	if r := ts.do("POST", path+"/screening", qc, map[string]any{"questionnaire_complete": true, "outcome": "acceptable", "screened_at": at}); r.status != 201 {
		t.Fatalf("screening: %d %s", r.status, r.body)
	}
}

// A lot from a donor whose eligibility is pending is refused a normal release; an
// exceptional release for one patient (urgent medical need) goes through, and every label of
// the lot carries the statements of 21 CFR 1271.60(d)(2) while the QR payload keeps its form.
// Once QA determines the donor eligible, the statements go.
func TestPendingDonorOnlyByExceptionalRelease(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		qc := ts.userWith(admin, "qc.ann", domain.RoleQC)
		qa := ts.userWith(admin, "qa.bob", domain.RoleQA)
		doc, _, _ := orderTeam(t, ts, admin)
		pharm := ts.login("ph.eve", "a good password")
		now := time.Now().UTC()

		if r := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour), "eligibility": "eligible"}); r.status != 422 || r.errorOf(t)["field"] != "eligibility" {
			t.Fatalf("donation recorded eligible: %d %s; want 422 naming eligibility", r.status, r.body)
		}
		don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).json(t)
		if don["eligibility"] != "pending" {
			t.Fatalf("a new donation is %v; want pending", don["eligibility"])
		}
		donPath := fmt.Sprintf("/api/v1/donations/%d", int64(don["id"].(float64)))
		lot := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": "PEND-1",
			"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}).json(t)
		lotPath := fmt.Sprintf("/api/v1/lots/%d", int64(lot["id"].(float64)))
		ts.do("POST", lotPath+"/quarantine", qc, nil)
		for _, body := range passingResults() {
			if r := ts.do("POST", lotPath+"/qc-results", qc, body); r.status != 201 {
				t.Fatalf("result: %d %s", r.status, r.body)
			}
		}
		r := ts.do("POST", lotPath+"/release", qa, map[string]string{"password": "a good password"})
		if r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "exceptional release") {
			t.Fatalf("release from a pending donor: %d %s; want 422 pointing to the exceptional release", r.status, r.body)
		}

		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Zhao Min",
			"date_of_birth": "1958-03-02", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)}).json(t)
		patientID := int64(p["id"].(float64))
		for _, signer := range []string{qa, doc} {
			if r := ts.do("POST", lotPath+"/exceptional-release", signer, map[string]any{"patient_id": patientID, "password": "a good password",
				"reason": "urgent medical need: no other lot available, donor work-up pending"}); r.status != 200 {
				t.Fatalf("exceptional release: %d %s", r.status, r.body)
			}
		}
		units := ts.do("POST", lotPath+"/units", qc, map[string]any{"count": 4, "viable_cells": 40000000, "volume_ml": 25})
		if units.status != 201 {
			t.Fatalf("units: %d %s", units.status, units.body)
		}
		unitPath := fmt.Sprintf("/api/v1/units/%d", int64(ts.do("GET", lotPath, qc, nil).json(t)["units"].([]any)[0].(map[string]any)["id"].(float64)))
		zpl := string(ts.do("GET", unitPath+"/label.zpl", qc, nil).body)
		for _, want := range domain.DonorLabelStatements(domain.Pending) {
			if !strings.Contains(zpl, want) {
				t.Errorf("the unit label of a pending donor's lot lacks %q", want)
			}
		}
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", patientID), doc, nil).json(t)
		var unitIDs []int64
		for _, u := range ts.do("GET", lotPath, qc, nil).json(t)["units"].([]any) {
			unitIDs = append(unitIDs, int64(u.(map[string]any)["id"].(float64)))
		}
		bag := ts.do("POST", fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(o["id"].(float64))), pharm, map[string]any{
			"unit_ids": unitIDs[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85, "viable_cells": o["target_viable_cells"], "volume_ml": 50})
		if bag.status != 201 {
			t.Fatalf("prepare from the exceptionally released lot: %d %s", bag.status, bag.body)
		}
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag.json(t)["id"].(float64)))
		checkBag(t, ts, admin, bagPath)
		bagZPL := string(ts.do("GET", bagPath+"/label.zpl", pharm, nil).body)
		for _, want := range domain.DonorLabelStatements(domain.Pending) {
			if !strings.Contains(bagZPL, want) {
				t.Errorf("the dose-bag label of a pending donor's lot lacks %q", want)
			}
		}
		code := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
		if !strings.HasPrefix(code, "CT1|T=B|ID="+bag.json(t)["bag_id"].(string)+"|M=MRN0001|N=") || !strings.Contains(code, "|S=") {
			t.Fatalf("QR payload %q is not the SPEC §8 form", code)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": code}).json(t); v["authentic"] != true || v["current"] != true {
			t.Fatalf("the bag's QR does not verify: %v", v)
		}

		// The determination: refused without the work-up, by the lab, or with a wrong password.
		if r := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "eligible"}); r.status != 422 {
			t.Fatalf("eligible without tests: %d %s; want 422", r.status, r.body)
		}
		if r := ts.do("POST", donPath+"/tests", qc, map[string]any{"test": "hiv", "result": "non_reactive", "tested_at": now}); r.status != 400 || r.errorOf(t)["field"] != "test" {
			t.Fatalf("unknown test: %d %s; want 400 naming test", r.status, r.body)
		}
		recordDonorWorkUp(t, ts, qc, donPath, now.Add(-70*time.Hour))
		if r := ts.do("POST", donPath+"/eligibility", qc, map[string]any{"password": "a good password", "determination": "eligible"}); r.status != 403 {
			t.Fatalf("determination by the lab: %d %s; want 403", r.status, r.body)
		}
		if r := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "wrong", "determination": "eligible"}); r.status != 401 {
			t.Fatalf("determination with a wrong password: %d %s; want 401", r.status, r.body)
		}
		d := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "eligible"})
		if d.status != 200 {
			t.Fatalf("eligible: %d %s", d.status, d.body)
		}
		dets := d.json(t)["determinations"].([]any)
		if det := dets[len(dets)-1].(map[string]any); det["signed"] != true || det["printed_name"] != "Full qa.bob" || det["determination"] != "eligible" {
			t.Fatalf("determination %v", det)
		}
		if zpl := string(ts.do("GET", unitPath+"/label.zpl", qc, nil).body); strings.Contains(zpl, domain.StatementNotEvaluated) {
			t.Errorf("an eligible donor's unit label still says %q", domain.StatementNotEvaluated)
		}
		if n := auditActions(t, ts, admin, "donation")["donation.eligibility"]; n != 1 {
			t.Errorf("donation.eligibility audited %d times; want 1", n)
		}
	})
}

// A donor determined ineligible after the lot was released and a bag made: the lot goes on
// hold in the same transaction (audited), the bag is refused at dispatch, and the donation
// lists every lot, unit, bag and patient made from it.
func TestLateIneligibleDonorHoldsLotsAndLooksBack(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		orderTeam(t, ts, admin)
		_, _, bagRowID, code := orderedBag(t, ts, admin, "lb", "SVP-001", "MRN0001", 70, 70_000_000)
		qa := ts.login("lb.qa", "a good password")
		qc := ts.login("lb.qc", "a good password")
		pharm := ts.login("ph.eve", "a good password")
		bag := ts.do("GET", fmt.Sprintf("/api/v1/dose-bags/%d", bagRowID), pharm, nil).json(t)
		lotPath := fmt.Sprintf("/api/v1/lots/%d", int64(bag["lot_id"].(float64)))
		donPath := donorPath(t, ts, qc, lotPath)

		if r := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "ineligible"}); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("ineligible without a reason: %d %s; want 400 naming reason", r.status, r.body)
		}
		r := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "ineligible",
			"reason": "maternal HCV NAT reactive on the 7-day retest"})
		if r.status != 200 {
			t.Fatalf("ineligible: %d %s", r.status, r.body)
		}
		lb := r.json(t)["look_back"].(map[string]any)
		lots, units, bags, patients := lb["lots"].([]any), lb["units"].([]any), lb["dose_bags"].([]any), lb["patients"].([]any)
		if len(lots) != 1 || lots[0].(map[string]any)["status"] != "on_hold" {
			t.Fatalf("look-back lots %v; want the one lot, on hold", lots)
		}
		if len(units) != 4 || len(bags) != 1 || bags[0].(map[string]any)["bag_id"] != bag["bag_id"] || len(patients) != 1 || patients[0].(map[string]any)["subject_id"] != "SVP-001" {
			t.Fatalf("look-back: %d units, bags %v, patients %v; want 4 units, the bag and SVP-001", len(units), bags, patients)
		}
		if _, named := patients[0].(map[string]any)["name"]; named {
			t.Fatalf("the look-back names the patient: %v", patients[0])
		}
		if got := ts.do("GET", lotPath, qc, nil).json(t)["lot"].(map[string]any)["status"]; got != "on_hold" {
			t.Fatalf("lot is %v after the ineligible determination; want on_hold", got)
		}
		holds := 0
		for _, e := range ts.do("GET", "/api/v1/audit?entity_type=lot&entity_id="+strings.TrimPrefix(lotPath, "/api/v1/lots/"), admin, nil).json(t)["entries"].([]any) {
			e := e.(map[string]any)
			if e["action"] == "lot.hold" && strings.Contains(e["reason"].(string), "ineligible") {
				holds++
			}
		}
		if holds != 1 {
			t.Fatalf("%d lot.hold entries naming the ineligible donor; want 1", holds)
		}
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}); r.status != 422 {
			t.Fatalf("dispatch of a bag of the held lot: %d %s; want 422", r.status, r.body)
		}
		if r := ts.do("POST", donPath+"/eligibility", qa, map[string]any{"password": "a good password", "determination": "eligible"}); r.status != 409 {
			t.Fatalf("eligible after ineligible: %d %s; want 409", r.status, r.body)
		}
		if r := ts.do("GET", donPath, pharm, nil); r.status != 200 || len(r.json(t)["determinations"].([]any)) != 2 {
			t.Fatalf("donation page: %d %s", r.status, r.body)
		}
	})
}
