package api_test

import (
	"bytes"
	"context"
	"fmt"
	_ "image/png"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
)

// A unit label served by the API scans back to a code that /labels/verify accepts as genuine
// and current; a reprint makes the old print superseded; an altered code is refused.
func TestUnitLabelsScanAndVerify(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		qc := ts.userWith(admin, "qc.ann", domain.RoleQC)
		now := time.Now().UTC()
		don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
		lot := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": "LBL-1",
			"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)}).json(t)
		lotPath := fmt.Sprintf("/api/v1/lots/%d", int64(lot["id"].(float64)))
		if r := ts.do("GET", lotPath+"/labels.pdf", qc, nil); r.status != 409 {
			t.Fatalf("sheet with no units: %d", r.status)
		}
		if r := ts.do("POST", lotPath+"/units", qc, map[string]any{"count": 3, "viable_cells": 100000000, "volume_ml": 50}); r.status != 201 {
			t.Fatalf("units: %d", r.status)
		}
		units := ts.do("GET", lotPath, qc, nil).json(t)["units"].([]any)
		u := units[0].(map[string]any)
		unitPath := fmt.Sprintf("/api/v1/units/%d", int64(u["id"].(float64)))

		png := ts.do("GET", unitPath+"/label.png", qc, nil)
		if png.status != 200 || png.header.Get("Content-Type") != "image/png" {
			t.Fatalf("png: %d", png.status)
		}
		code := scanQR(t, png.body)
		if !strings.Contains(code, "|ID="+u["unit_id"].(string)+"|") || !strings.Contains(code, "|P=1|") {
			t.Fatalf("code %s", code)
		}
		v := ts.do("POST", "/api/v1/labels/verify", qc, map[string]string{"code": code + "\r\n"}).json(t)
		if v["authentic"] != true || v["current"] != true || v["fields"].(map[string]any)["ID"] != u["unit_id"] {
			t.Fatalf("verify: %v", v)
		}
		altered := strings.Replace(code, "N=100000000", "N=900000000", 1)
		if v := ts.do("POST", "/api/v1/labels/verify", qc, map[string]string{"code": altered}).json(t); v["authentic"] != false || v["reason"] != "bad_signature" {
			t.Fatalf("altered code: %v", v)
		}
		if _, err := ts.store.Reprint(context.Background(), domain.Actor{UserID: 1, FullName: "Administrator"}, "unit", int64(u["id"].(float64)), "smudged"); err != nil {
			t.Fatal(err)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", qc, map[string]string{"code": code}).json(t); v["authentic"] != true || v["current"] != false || v["reason"] != "superseded" {
			t.Fatalf("superseded print: %v", v)
		}

		if r := ts.do("GET", unitPath+"/label.zpl?dpi=300", qc, nil); r.status != 200 || !strings.HasPrefix(string(r.body), "^XA") || !strings.Contains(string(r.body), "^PW1200") {
			t.Fatalf("zpl: %d %.40s", r.status, r.body)
		}
		if r := ts.do("GET", unitPath+"/label.zpl?dpi=600", qc, nil); r.status != 400 || r.errorOf(t)["field"] != "dpi" {
			t.Fatalf("600 dpi: %d", r.status)
		}
		if r := ts.do("GET", unitPath+"/label.pdf", qc, nil); r.status != 200 || !bytes.HasPrefix(r.body, []byte("%PDF")) {
			t.Fatalf("pdf: %d", r.status)
		}
		if r := ts.do("GET", lotPath+"/labels.pdf", qc, nil); r.status != 200 || bytes.Count(r.body, []byte("/Type /Page\n")) != 3 {
			t.Fatalf("sheet: %d, %d pages", r.status, bytes.Count(r.body, []byte("/Type /Page\n")))
		}
		keys := ts.do("GET", "/api/v1/label-keys", "", nil)
		if keys.status != 200 || !strings.Contains(string(keys.body), `"alg":"Ed25519"`) {
			t.Fatalf("label keys: %d %s", keys.status, keys.body)
		}
		prints, _ := ts.store.ListAudit(context.Background(), domain.AuditFilter{EntityType: "unit", EntityID: fmt.Sprint(int64(u["id"].(float64))), Limit: 100})
		var printed int
		for _, e := range prints {
			if e.Action == "label.print" {
				printed++
			}
		}
		if printed != 4 { // png, zpl, pdf, sheet
			t.Fatalf("recorded prints = %d, want 4", printed)
		}
	})
}
