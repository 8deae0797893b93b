package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store/storetest"
)

// call makes one API request and decodes the JSON answer.
func call(t *testing.T, base, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func mustCall(t *testing.T, want int, base, token, method, path string, body any) map[string]any {
	t.Helper()
	status, out := call(t, base, token, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
	}
	return out
}

// Two serve processes on one database, concurrent infusion starts for the same bag on both:
// exactly one succeeds and the others get 409.
func TestTwoProcessesStartOneInfusion(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			a, c := startProcess(t, vars), startProcess(t, vars)
			admin := login(t, a, "admin", "admin password 1")
			users := map[string]string{}
			for name, role := range map[string]string{"qc": "qc", "qa": "qa", "doc": "physician", "ph": "pharmacist", "ph2": "pharmacist", "rn1": "nurse", "rn2": "nurse"} {
				mustCall(t, 201, a, admin, "POST", "/users", map[string]any{"username": "u." + name, "full_name": "User " + name, "password": "a long password", "roles": []string{role}})
				users[name] = login(t, a, "u."+name, "a long password")
			}
			now := time.Now().UTC()
			don := mustCall(t, 201, a, users["qc"], "POST", "/donations", map[string]any{"collected_at": now.Add(-72 * time.Hour)})
			donPath := fmt.Sprintf("/donations/%d", int64(don["id"].(float64)))
			for _, test := range domain.DonorTests {
				mustCall(t, 201, a, users["qc"], "POST", donPath+"/tests", map[string]any{"test": test, "result": domain.NonReactive, "tested_at": now.Add(-72 * time.Hour)})
			}
			mustCall(t, 201, a, users["qc"], "POST", donPath+"/screening", map[string]any{"questionnaire_complete": true, "outcome": domain.ScreeningAcceptable, "screened_at": now.Add(-72 * time.Hour)})
			mustCall(t, 200, a, users["qa"], "POST", donPath+"/eligibility", map[string]any{"password": "a long password", "determination": "eligible"})
			lot := mustCall(t, 201, a, users["qc"], "POST", "/lots", map[string]any{"donation_id": don["id"], "lot_number": "TWO-1",
				"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)})
			lotPath := fmt.Sprintf("/lots/%d", int64(lot["id"].(float64)))
			mustCall(t, 200, c, users["qc"], "POST", lotPath+"/quarantine", nil)
			for _, r := range []map[string]any{
				{"test": "viability", "value": 91.5}, {"test": "viable_cell_count", "value": 1.2e9},
				{"test": "sterility", "result": "negative"}, {"test": "mycoplasma", "result": "not_detected"}, {"test": "endotoxin", "value": 0.12},
				{"test": "phenotype", "markers": map[string]float64{"CD73": 99, "CD90": 99, "CD105": 99, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
				{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 105, 95}, "lps": []float64{1000, 1050, 950}, "treated": []float64{500, 520, 480}},
			} {
				mustCall(t, 201, a, users["qc"], "POST", lotPath+"/qc-results", r)
			}
			mustCall(t, 200, c, users["qa"], "POST", lotPath+"/release", map[string]string{"password": "a long password"})
			mustCall(t, 201, a, users["qc"], "POST", lotPath+"/units", map[string]any{"count": 2, "viable_cells": 35000000, "volume_ml": 25})
			detail := mustCall(t, 200, a, users["qc"], "GET", lotPath, nil)
			var unitIDs []int64
			for _, u := range detail["units"].([]any) {
				unitIDs = append(unitIDs, int64(u.(map[string]any)["id"].(float64)))
			}
			p := mustCall(t, 201, a, users["doc"], "POST", "/patients", map[string]any{"subject_id": "SVP-001", "mrn": "MRN0001", "name": "Li Wei",
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.AddDate(0, 0, -1)})
			order := mustCall(t, 201, c, users["doc"], "POST", fmt.Sprintf("/patients/%d/dose-orders", int64(p["id"].(float64))), nil)
			bag := mustCall(t, 201, a, users["ph"], "POST", fmt.Sprintf("/dose-orders/%d/dose-bags", int64(order["id"].(float64))), map[string]any{
				"unit_ids": unitIDs, "thawed_at": now.Add(-5 * time.Minute), "post_thaw_viability_pct": 88, "viable_cells": 70000000, "volume_ml": 50})
			mustCall(t, 200, c, users["ph"], "POST", fmt.Sprintf("/dose-bags/%d/check", int64(bag["id"].(float64))),
				map[string]string{"username": "u.ph2", "password": "a long password"})
			code := bag["bag_id"].(string) + bag["check"].(string) // typed at the bedside: no scanner needed here
			mustCall(t, 201, a, users["ph"], "POST", "/scans/dispatch", map[string]any{"code": code, "to": "ICU", "temperature_c": 5})
			mustCall(t, 201, c, users["rn1"], "POST", "/scans/receive", map[string]any{"code": code, "temperature_c": 5})
			// The witness enters their password on the nurse's device (served by one process); the
			// verification goes to the other.
			w := mustCall(t, 201, a, users["rn1"], "POST", "/auth/witness", map[string]string{"username": "u.rn2", "password": "a long password"})
			v := mustCall(t, 200, c, users["rn1"], "POST", "/bedside/verify", map[string]any{"wristband": "MRN0001", "code": code,
				"witness": map[string]any{"token": w["token"]}, "entry_reason": map[string]string{"code": "scanner_down"}})
			if v["pass"] != true {
				t.Fatalf("verification did not pass: %v", v["checks"])
			}

			const starts = 10
			statuses := make(chan int, starts)
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i := 0; i < starts; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-gate
					base := a
					if i%2 == 1 {
						base = c
					}
					status, _ := call(t, base, users["rn1"], "POST", "/infusions", map[string]any{"verification_id": v["id"]})
					statuses <- status
				}(i)
			}
			close(gate)
			wg.Wait()
			close(statuses)
			counts := map[int]int{}
			for s := range statuses {
				counts[s]++
			}
			if counts[201] != 1 || counts[409] != starts-1 {
				t.Fatalf("infusion starts answered %v; want exactly one 201 and %d × 409", counts, starts-1)
			}
			if n := auditEntries(t, vars); n == 0 {
				t.Fatal("empty audit chain")
			}
		})
	}
}
