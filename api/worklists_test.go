package api_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"cordtrace/domain"
)

// The pharmacy's worklists and the BV2 preview the lab form calls as the analyst types.
func TestWorklistsAndBV2Preview(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		_, units := releasedLot(t, ts, admin, "w")
		doc := ts.userWith(admin, "dr.wu", domain.RolePhysician)
		pharm := ts.userWith(admin, "ph.wu", domain.RolePharmacist)
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-020", "mrn": "MRN0020", "name": "Zhao Min",
			"date_of_birth": "1955-01-01", "weight_kg": 64.5, "arm": "huc_msc", "enrolled_at": time.Now().UTC().AddDate(0, 0, -1)}).json(t)
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(p["id"].(float64))), doc, nil).json(t)

		r := ts.do("GET", "/api/v1/dose-orders?status=open", pharm, nil)
		var orders []map[string]any
		if err := json.Unmarshal(r.body, &orders); err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || len(orders) != 1 || orders[0]["id"] != o["id"] || orders[0]["subject_id"] != "SVP-020" {
			t.Fatalf("dose orders: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/dose-orders?status=filled", pharm, nil); r.status != 400 || r.errorOf(t)["field"] != "status" {
			t.Fatalf("dose orders by an unlisted status: %d %s", r.status, r.body)
		}
		r = ts.do("GET", "/api/v1/units?status=available", pharm, nil)
		var avail []map[string]any
		if err := json.Unmarshal(r.body, &avail); err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || len(avail) != len(units) || avail[0]["lot_number"] == "" {
			t.Fatalf("available units: %d %s", r.status, r.body)
		}

		qc := ts.login("w.qc", "a good password")
		grid := map[string]any{"analyte": "TNF-alpha", "baseline": []float64{100, 105, 95}, "lps": []float64{1000, 1050, 950}, "treated": []float64{400, 420, 380}}
		r = ts.do("POST", "/api/v1/qc/bv2-preview", qc, grid)
		pv := r.json(t)
		if r.status != 200 || pv["valid"] != true || pv["inhibition_pct"].(float64) < 66 || pv["inhibition_pct"].(float64) > 67 {
			t.Fatalf("preview: %d %s", r.status, r.body)
		}
		grid["lps"] = []float64{150, 150, 150}
		if pv := ts.do("POST", "/api/v1/qc/bv2-preview", qc, grid).json(t); pv["valid"] != false || pv["invalid_reason"] == "" {
			t.Fatalf("preview of a weak LPS response: %v", pv)
		}
		if r := ts.do("POST", "/api/v1/qc/bv2-preview", pharm, grid); r.status != 403 {
			t.Fatalf("preview by a pharmacist: %d", r.status)
		}
	})
}
