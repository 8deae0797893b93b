package api_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"cordtrace/domain"
	"cordtrace/labels"
)

// passingResults are QC result bodies that meet every criterion of specification v1.
func passingResults() []map[string]any {
	return []map[string]any{
		{"test": "viability", "value": 91.5}, {"test": "viable_cell_count", "value": 1.2e9},
		{"test": "sterility", "result": "negative"}, {"test": "mycoplasma", "result": "not_detected"},
		{"test": "endotoxin", "value": 0.12},
		{"test": "phenotype", "markers": map[string]float64{"CD73": 99, "CD90": 99, "CD105": 99, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
		{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 105, 95}, "lps": []float64{1000, 1050, 950}, "treated": []float64{500, 520, 480}},
	}
}

// releasedLot makes a lot that passes every criterion, releases it and divides it into units;
// it returns the lot path and the unit ids.
func releasedLot(t *testing.T, ts *testServer, admin, prefix string) (string, []int64) {
	t.Helper()
	qc := ts.userWith(admin, prefix+".qc", domain.RoleQC)
	qa := ts.userWith(admin, prefix+".qa", domain.RoleQA)
	now := time.Now().UTC()
	don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
	lot := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": prefix + "-LOT",
		"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}).json(t)
	path := fmt.Sprintf("/api/v1/lots/%d", int64(lot["id"].(float64)))
	ts.do("POST", path+"/quarantine", qc, nil)
	for _, body := range passingResults() {
		if r := ts.do("POST", path+"/qc-results", qc, body); r.status != 201 {
			t.Fatalf("result: %d %s", r.status, r.body)
		}
	}
	if r := ts.do("POST", path+"/release", qa, map[string]string{"password": "a good password"}); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	ts.do("POST", path+"/units", qc, map[string]any{"count": 4, "viable_cells": 40000000, "volume_ml": 25})
	var ids []int64
	for _, u := range ts.do("GET", path, qc, nil).json(t)["units"].([]any) {
		ids = append(ids, int64(u.(map[string]any)["id"].(float64)))
	}
	return path, ids
}

// scanQR reads a label's QR as a scanner aimed at it does: the symbol's box, with a white margin
// around it. Searching a whole label full of bars, the decoder now and then misplaces the symbol
// (the symbols themselves always decode: labels tests check the matrices), so the tests aim too.
// Both layouts place the QR at fixed coordinates; which layout is told by the label's size of
// patient block is not needed: the two QR boxes are tried in turn.
func scanQR(t *testing.T, png []byte) string {
	t.Helper()
	code, err := labels.ReadQR(png)
	if err != nil {
		path := filepath.Join(os.TempDir(), "cordtrace-unscannable.png")
		os.WriteFile(path, png, 0o644)
		t.Fatalf("QR: %v (label saved as %s)", err, path)
	}
	return code
}

func TestDoseOrderBagAndLabel(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		_, units := releasedLot(t, ts, admin, "a")
		_, otherUnits := releasedLot(t, ts, admin, "b")
		doc := ts.userWith(admin, "dr.cho", domain.RolePhysician)
		pharm := ts.userWith(admin, "ph.eve", domain.RolePharmacist)
		now := time.Now().UTC()
		patient := func(subject, mrn, arm string) int64 {
			r := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": subject, "mrn": mrn, "name": "Li Wei",
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": arm, "enrolled_at": now.Add(-time.Hour)})
			return int64(r.json(t)["id"].(float64))
		}
		p, routine := patient("SVP-001", "MRN0001", "huc_msc"), patient("SVP-002", "MRN0002", "routine")

		if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", routine), doc, map[string]any{}); r.status != 422 {
			t.Fatalf("order for the routine arm: %d %s", r.status, r.body)
		}
		r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", p), doc, map[string]any{})
		if r.status != 201 || r.json(t)["target_viable_cells"].(float64) != 70_000_000 {
			t.Fatalf("order: %d %s", r.status, r.body)
		}
		order := fmt.Sprintf("/api/v1/dose-orders/%d/dose-bags", int64(r.json(t)["id"].(float64)))
		if r := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", p), doc, nil); r.status != 409 {
			t.Fatalf("second open order: %d", r.status)
		}

		bag := map[string]any{"unit_ids": units[:2], "thawed_at": now.Add(-10 * time.Minute), "post_thaw_viability_pct": 85,
			"viable_cells": 72_000_000, "volume_ml": 50}
		bad := func(edit func(map[string]any)) map[string]any {
			b := map[string]any{}
			for k, v := range bag {
				b[k] = v
			}
			edit(b)
			return b
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"viability below 70 %", bad(func(b map[string]any) { b["post_thaw_viability_pct"] = 69.9 }), 422},
			{"thawed over 4 h ago", bad(func(b map[string]any) { b["thawed_at"] = now.Add(-4*time.Hour - time.Minute) }), 422},
			{"units of two lots", bad(func(b map[string]any) { b["unit_ids"] = []int64{units[0], otherUnits[0]} }), 400},
			{"unknown unit", bad(func(b map[string]any) { b["unit_ids"] = []int64{999999} }), 400},
		} {
			if r := ts.do("POST", order, pharm, tc.body); r.status != tc.status {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		if r := ts.do("POST", order, doc, bag); r.status != 403 {
			t.Fatalf("prepared by a physician: %d", r.status)
		}
		r = ts.do("POST", order, pharm, bag)
		if r.status != 201 {
			t.Fatalf("prepare: %d %s", r.status, r.body)
		}
		b := r.json(t)
		if b["volume_to_draw_ml"].(float64) < 48.6 || b["volume_to_draw_ml"].(float64) > 48.7 || !strings.HasSuffix(b["bag_id"].(string), "VAa") || b["status"] != "prepared" {
			t.Fatalf("bag %s", r.body)
		}
		thawed, _ := time.Parse(time.RFC3339, b["thawed_at"].(string))
		expires, _ := time.Parse(time.RFC3339, b["expires_at"].(string))
		if expires.Sub(thawed) != 4*time.Hour {
			t.Fatalf("expiry %v after thaw, want 4 h", expires.Sub(thawed))
		}
		if r := ts.do("POST", order, pharm, bag); r.status != 409 {
			t.Fatalf("second bag for a filled order: %d", r.status)
		}
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(b["id"].(float64)))
		checkBag(t, ts, admin, bagPath)

		code := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
		if !strings.Contains(code, "|T=B|") || !strings.Contains(code, "|M=MRN0001|") || !strings.Contains(code, "|P=1|") {
			t.Fatalf("bag code %s", code)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": code}).json(t); v["authentic"] != true || v["current"] != true {
			t.Fatalf("verify: %v", v)
		}
		if r := ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": " "}); r.status != 400 {
			t.Fatalf("reprint without reason: %d", r.status)
		}
		if r := ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "label smudged"}); r.status != 200 || r.json(t)["serial"].(float64) != 2 {
			t.Fatalf("reprint: %d %s", r.status, r.body)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": code}).json(t); v["current"] != false || v["reason"] != "superseded" {
			t.Fatalf("old print after reprint: %v", v)
		}
		if code2 := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body); !strings.Contains(code2, "|P=2|") {
			t.Fatalf("new print %s", code2)
		}
		pdfBody := ts.do("GET", bagPath+"/label.pdf", pharm, nil).body
		rd, err := pdf.NewReader(bytes.NewReader(pdfBody), int64(len(pdfBody)))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := rd.Page(1).GetPlainText(nil)
		for _, want := range []string{"PATIENT Li Wei", "MRN0001", "SVP-001", "Weight used 70.0 kg", "Do not irradiate", "Do not use a leukocyte-reduction filter"} {
			if !strings.Contains(text, want) {
				t.Errorf("bag label lacks %q", want)
			}
		}
	})
}

// checkBag has a second pharmacist, ph.sam (made on first use), check the bag at bagPath
// (SPEC §6), as every bag must be before its label prints.
func checkBag(t *testing.T, ts *testServer, admin, bagPath string) map[string]any {
	t.Helper()
	if r := ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "ph.sam", "password": "a good password"}); r.status != 200 {
		ts.userWith(admin, "ph.sam", domain.RolePharmacist)
	}
	r := ts.do("POST", bagPath+"/check", ts.login("ph.sam", "a good password"), map[string]string{"username": "ph.sam", "password": "a good password"})
	if r.status != 200 {
		t.Fatalf("second pharmacist's check: %d %s", r.status, r.body)
	}
	return r.json(t)
}
