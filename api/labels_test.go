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
	"cordtrace/labels"
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

func newTestLabelKey() (domain.LabelKey, error) {
	kid, pub, priv, err := labels.NewLabelKey(time.Now())
	return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
}

// bedsideLabelCheck verifies the bag at MRN0001's bedside with a code and returns the
// LABEL_AUTHENTIC check.
func bedsideLabelCheck(t *testing.T, ts *testServer, nurse, code string) map[string]any {
	t.Helper()
	r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": code,
		"witness": map[string]string{"username": "nurse.fay", "password": "a good password"}})
	if r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	for _, c := range r.json(t)["checks"].([]any) {
		if c := c.(map[string]any); c["code"] == domain.CheckLabelAuthentic {
			return c
		}
	}
	t.Fatalf("no %s check in %s", domain.CheckLabelAuthentic, r.body)
	return nil
}

// After a rotation, a code signed with the retired key (whose private half someone kept) for a
// print made after the rotation is refused everywhere; the print it signed before is genuine.
func TestRetiredLabelKeyVerifiesOnlyItsOwnPrints(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		admin := ts.login("admin", adminPassword)
		bag, code, _ := preparedBag(t, ts, admin)
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
		pharm := ts.login("ph.eve", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		keys, err := ts.store.LabelKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := labels.UnmarshalPrivateKey([]byte(keys[0].PrivatePEM))
		if err != nil {
			t.Fatal(err)
		}
		leaked, err := labels.NewSigner(keys[0].KID, priv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.store.RotateLabelKey(ctx, domain.Actor{UserID: 1, FullName: "Administrator"}, newTestLabelKey); err != nil {
			t.Fatal(err)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": code}).json(t); v["authentic"] != true || v["current"] != true {
			t.Fatalf("print signed before the rotation: %v", v)
		}
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
			t.Fatalf("dispatch of the print signed before the rotation: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "torn"}); r.status != 200 && r.status != 201 {
			t.Fatalf("reprint: %d %s", r.status, r.body)
		}
		current := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
		p, err := labels.Parse(current)
		if err != nil || p.PrintSerial != 2 || p.KeyID == keys[0].KID {
			t.Fatalf("reprint's code %q: %+v %v", current, p, err)
		}
		forged, err := leaked.Sign(p)
		if err != nil {
			t.Fatal(err)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": forged}).json(t); v["authentic"] != false || v["current"] != false || v["reason"] != domain.KeyReasonNotPrint {
			t.Fatalf("print made after the rotation, signed with the retired key: %v", v)
		}
		if r := ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": forged, "temperature_c": 5}); r.status != 422 ||
			!strings.Contains(r.errorOf(t)["message"].(string), "never signed this print") {
			t.Fatalf("receipt with the forged label: %d %s", r.status, r.body)
		}
		if c := bedsideLabelCheck(t, ts, nurse, forged); c["pass"] != false || !strings.Contains(c["message"].(string), "never signed this print") {
			t.Fatalf("bedside with the forged label: %v", c)
		}
		if r := ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": current, "temperature_c": 5}); r.status != 201 {
			t.Fatalf("receipt with the current label: %d %s", r.status, r.body)
		}
		if c := bedsideLabelCheck(t, ts, nurse, current); c["pass"] != true {
			t.Fatalf("bedside with the current label: %v", c)
		}
	})
}

// An emergency revocation stops every label the key signed at every scan, and drops the key
// from the published ones, until the label is reprinted with the new key.
func TestRevokedLabelKeyStopsItsLabelsUntilReprinted(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		admin := ts.login("admin", adminPassword)
		bag, code, _ := preparedBag(t, ts, admin)
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
		pharm := ts.login("ph.eve", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		p, _ := labels.Parse(code)
		rev, err := ts.store.RevokeLabelKey(ctx, domain.Actor{UserID: 1, FullName: "Administrator"}, p.KeyID, "key file copied to a laptop", newTestLabelKey)
		if err != nil || rev.NewKey == "" || len(rev.Reprint) != 1 || rev.Reprint[0].Code != bag["bag_id"] {
			t.Fatalf("revocation: %+v %v", rev, err)
		}
		published := string(ts.do("GET", "/api/v1/label-keys", "", nil).body)
		if strings.Contains(published, p.KeyID) || !strings.Contains(published, rev.NewKey) {
			t.Fatalf("published keys after the revocation: %s", published)
		}
		if v := ts.do("POST", "/api/v1/labels/verify", pharm, map[string]string{"code": code}).json(t); v["authentic"] != false || v["reason"] != domain.KeyReasonRevoked {
			t.Fatalf("verify a label of the revoked key: %v", v)
		}
		r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5})
		if msg, _ := r.errorOf(t)["message"].(string); r.status != 422 || !strings.Contains(msg, "revoked") || !strings.Contains(msg, "reprinted") {
			t.Fatalf("dispatch of a label of the revoked key: %d %s", r.status, r.body)
		}
		if c := bedsideLabelCheck(t, ts, nurse, code); c["pass"] != false || !strings.Contains(c["message"].(string), "key file copied to a laptop") {
			t.Fatalf("bedside with a label of the revoked key: %v", c)
		}
		if r := ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "signing key revoked"}); r.status != 200 && r.status != 201 {
			t.Fatalf("reprint: %d %s", r.status, r.body)
		}
		reprinted := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": reprinted, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
			t.Fatalf("dispatch of the reprint: %d %s", r.status, r.body)
		}
	})
}
