package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"cordtrace/domain"
)

// A lot goes from creation through every QC test to released, and its certificate shows the
// results and the signature.
func TestLabJourney(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		qc := ts.userWith(admin, "qc.ann", domain.RoleQC)
		qa := ts.userWith(admin, "qa.bob", domain.RoleQA)
		now := time.Now().UTC()

		r := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)})
		if r.status != 201 {
			t.Fatalf("donation: %d %s", r.status, r.body)
		}
		don := r.eligible(t, ts)
		if len(don["din"].(string)) != 13 || don["check"] == "" {
			t.Fatalf("donation %v", don)
		}
		r = ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": "HUC-2026-001",
			"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)})
		if r.status != 201 || r.json(t)["status"] != "in_process" {
			t.Fatalf("lot: %d %s", r.status, r.body)
		}
		lotID := int64(r.json(t)["id"].(float64))
		lot := fmt.Sprintf("/api/v1/lots/%d", lotID)

		if r := ts.do("POST", lot+"/release", qa, map[string]string{"password": "a good password"}); r.status != 409 ||
			!strings.Contains(r.errorOf(t)["message"].(string), "lot is in_process") {
			t.Fatalf("release from in_process: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", lot+"/quarantine", qc, nil); r.status != 200 || r.json(t)["status"] != "quarantine" {
			t.Fatalf("quarantine: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", lot+"/release", qa, map[string]string{"password": "a good password"}); r.status != 422 {
			t.Fatalf("release with criteria pending: %d %s", r.status, r.body)
		}
		results := []map[string]any{
			{"test": "viability", "value": 91.5},
			{"test": "viable_cell_count", "value": 1.2e9},
			{"test": "sterility", "result": "negative"},
			{"test": "mycoplasma", "result": "not_detected"},
			{"test": "endotoxin", "value": 0.12},
			{"test": "phenotype", "markers": map[string]float64{"CD73": 99.2, "CD90": 98.7, "CD105": 97.1, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
			{"test": "bv2_potency", "analyte": "TNF-alpha", "baseline": []float64{100, 105, 95}, "lps": []float64{1000, 1050, 950}, "treated": []float64{500, 520, 480}},
		}
		for _, body := range results {
			r := ts.do("POST", lot+"/qc-results", qc, body)
			if r.status != 201 {
				t.Fatalf("result %v: %d %s", body["test"], r.status, r.body)
			}
			if body["test"] == "bv2_potency" {
				out := r.json(t)
				if out["valid"] != true || out["inhibition_pct"].(float64) < 55.5 || out["inhibition_pct"].(float64) > 55.6 {
					t.Fatalf("BV2 answer %s", r.body)
				}
			}
		}
		if r := ts.do("POST", lot+"/qc-results", qc, map[string]any{"test": "viability", "value": 90, "valid": true}); r.status != 400 ||
			r.errorOf(t)["field"] != "valid" {
			t.Fatalf("computed field sent by a client: %d %s", r.status, r.body)
		}
		ev := ts.do("GET", lot+"/evaluation", qc, nil).json(t)
		if ev["releasable"] != true || ev["spec_version"].(float64) != 1 || len(ev["criteria"].([]any)) != 14 {
			t.Fatalf("evaluation %v", ev)
		}
		if r := ts.do("POST", lot+"/release", qa, map[string]string{"password": "wrong password"}); r.status != 401 {
			t.Fatalf("release with a wrong password: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", lot+"/release", qc, map[string]string{"password": "a good password"}); r.status != 403 {
			t.Fatalf("release by qc: %d", r.status)
		}
		r = ts.do("POST", lot+"/release", qa, map[string]string{"password": "a good password"})
		if r.status != 200 {
			t.Fatalf("release: %d %s", r.status, r.body)
		}
		d := r.json(t)
		sigs := d["signatures"].([]any)
		if d["lot"].(map[string]any)["status"] != "released" || len(sigs) != 1 || sigs[0].(map[string]any)["printed_name"] != "Full qa.bob" {
			t.Fatalf("released lot %s", r.body)
		}
		if ip, ok := d["infused_patients"].([]any); !ok || len(ip) != 0 {
			t.Fatalf("infused_patients = %v, want an empty list", d["infused_patients"])
		}
		if r := ts.do("POST", lot+"/units", qc, map[string]any{"count": 2, "viable_cells": 100000000, "volume_ml": 50}); r.status != 201 {
			t.Fatalf("units: %d %s", r.status, r.body)
		}

		r = ts.do("GET", lot+"/coa.pdf", qa, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("coa: %d %s", r.status, r.header)
		}
		rd, err := pdf.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
		if err != nil {
			t.Fatalf("certificate does not parse: %v", err)
		}
		text, _ := rd.Page(1).GetPlainText(nil)
		for _, want := range []string{"Certificate of Analysis", "HUC-2026-001", "viability", "91.5", "bv2_potency", "Full qa.bob", "Released for clinical use", "PASS", "specification v1"} {
			if !strings.Contains(text, want) {
				t.Errorf("certificate lacks %q", want)
			}
		}

		list := ts.do("GET", "/api/v1/lots?status=released", qc, nil).json(t)
		if lots := list["lots"].([]any); len(lots) != 1 {
			t.Fatalf("released lots: %v", list)
		}
		if r := ts.do("GET", "/api/v1/lots?status=done", qc, nil); r.status != 400 || r.errorOf(t)["field"] != "status" {
			t.Fatalf("bad status filter: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/lots/999999", qc, nil); r.status != 404 {
			t.Fatalf("unknown lot: %d", r.status)
		}
		if r := ts.do("GET", "/api/v1/lots/abc", qc, nil); r.status != 400 || r.errorOf(t)["field"] != "id" {
			t.Fatalf("bad id: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/donations", qc, map[string]any{"din": "G123498654321X", "collected_at": now}); r.status != 400 || r.errorOf(t)["field"] != "din" {
			t.Fatalf("wrong check character: %d %s", r.status, r.body)
		}
		// QA signs a stricter specification: the released lot's evaluation now fails viability,
		// and the signature shows it was given on another evaluation.
		spec := ts.do("GET", "/api/v1/spec", qa, nil).json(t)
		spec["min_viability_pct"] = 95
		if r := ts.do("POST", "/api/v1/spec-versions", qa, map[string]any{"spec": spec, "password": "a good password"}); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("spec without reason: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/spec-versions", qc, map[string]any{"spec": spec, "password": "a good password", "reason": "x"}); r.status != 403 {
			t.Fatalf("spec by qc: %d", r.status)
		}
		r = ts.do("POST", "/api/v1/spec-versions", qa, map[string]any{"spec": spec, "password": "a good password", "reason": "tighter viability after deviation DV-7"})
		if r.status != 201 || r.json(t)["spec"].(map[string]any)["version"].(float64) != 2 || r.json(t)["printed_name"] != "Full qa.bob" {
			t.Fatalf("spec v2: %d %s", r.status, r.body)
		}
		// A version QA proposed is in force once a physician co-signs it.
		doc := ts.userWith(admin, "dr.lab", domain.RolePhysician)
		if r := ts.do("POST", "/api/v1/spec-versions/2/sign", doc, map[string]any{"password": "a good password", "reason": "agreed with the lab"}); r.status != 200 || r.json(t)["status"] != "in_force" {
			t.Fatalf("co-sign v2: %d %s", r.status, r.body)
		}
		ev = ts.do("GET", lot+"/evaluation", qc, nil).json(t)
		if ev["spec_version"].(float64) != 2 || ev["releasable"] != false {
			t.Fatalf("evaluation under v2: %v", ev)
		}
		if vs := ts.do("GET", "/api/v1/spec-versions", qc, nil); len(vs.body) == 0 || !strings.Contains(string(vs.body), `"version":2`) {
			t.Fatalf("versions: %s", vs.body)
		}
		if r := ts.do("GET", "/api/v1/audit/verify", admin, nil); r.json(t)["ok"] != true {
			t.Fatalf("audit chain: %s", r.body)
		}
	})
}
