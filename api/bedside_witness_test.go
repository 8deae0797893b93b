package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// witnessToken has the witness username enter their password on the device of nurse (a
// session token) and returns the witness part of a verification that uses the token.
func witnessToken(t *testing.T, ts *testServer, nurse, username string) map[string]string {
	t.Helper()
	r := ts.do("POST", "/api/v1/auth/witness", nurse, map[string]string{"username": username, "password": "a good password"})
	if r.status != 201 {
		t.Fatalf("witness token: %d %s", r.status, r.body)
	}
	j := r.json(t)
	if j["token"] == "" || j["expires_at"] == nil {
		t.Fatalf("witness token: %s", r.body)
	}
	return map[string]string{"token": j["token"].(string)}
}

// check returns the check code of verification v.
func check(t *testing.T, v map[string]any, code string) map[string]any {
	t.Helper()
	for _, c := range v["checks"].([]any) {
		if c := c.(map[string]any); c["code"] == code {
			return c
		}
	}
	t.Fatalf("no check %s in %v", code, v)
	return nil
}

// auditActions counts the audit entries of entityType by action.
func auditActions(t *testing.T, ts *testServer, admin, entityType string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range ts.do("GET", "/api/v1/audit?entity_type="+entityType+"&limit=1000", admin, nil).json(t)["entries"].([]any) {
		out[e.(map[string]any)["action"].(string)]++
	}
	return out
}

// bagAtTheWard is a bag dispatched and received, its label reprinted: the code of its first
// print, of its current print, its typed id with the check character and its DataMatrix.
type bagAtTheWard struct {
	oldQR, newQR, typed, dataMatrix string
	nurse, admin                    string
}

func wardBag(t *testing.T, ts *testServer) bagAtTheWard {
	t.Helper()
	admin := ts.login("admin", adminPassword)
	bag, code, _ := preparedBag(t, ts, admin)
	pharm := ts.login("ph.eve", "a good password")
	nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
	ts.userWith(admin, "nurse.fay", domain.RoleNurse)
	if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5}); r.status != 201 {
		t.Fatalf("dispatch: %d %s", r.status, r.body)
	}
	if r := ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": code, "temperature_c": 4.5}); r.status != 201 {
		t.Fatalf("receive: %d %s", r.status, r.body)
	}
	bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
	if r := ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "label smudged"}); r.status != 200 {
		t.Fatalf("reprint: %d %s", r.status, r.body)
	}
	newQR := scanQR(t, ts.do("GET", bagPath+"/label.png", pharm, nil).body)
	u, err := domain.ParseUnitID(bag["bag_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return bagAtTheWard{oldQR: code, newQR: newQR, typed: u.String() + string(u.Check()),
		dataMatrix: domain.CompoundMessage(u.Barcodes()...), nurse: nurse, admin: admin}
}

// After a reprint, a typed bag id and wristband, or the old label's DataMatrix, never pass as
// a genuine, current label: without an entry reason the verification is refused (400 naming
// entry_reason); with one, LABEL_AUTHENTIC says what was not proven, and the reason is kept
// and counted.
func TestTypedOrISBTCodesAreNotProvenLabels(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		b := wardBag(t, ts)
		verify := func(body map[string]any) response {
			body["witness"] = witnessToken(t, ts, b.nurse, "nurse.fay")
			body["ward"] = "ICU-3"
			return ts.do("POST", "/api/v1/bedside/verify", b.nurse, body)
		}
		for name, body := range map[string]map[string]any{
			"typed bag id and wristband":   {"wristband": "MRN0001", "code": b.typed, "wristband_entry": "typed", "code_entry": "typed"},
			"typed bag id, entry not said": {"wristband": "MRN0001", "code": b.typed},
			"old label's DataMatrix":       {"wristband": "MRN0001", "code": b.dataMatrix, "code_entry": "scanned"},
			"typed wristband":              {"wristband": "MRN0001", "code": b.newQR, "wristband_entry": "typed"},
			"other without text":           {"wristband": "MRN0001", "code": b.typed, "entry_reason": map[string]string{"code": "other"}},
			"unknown reason":               {"wristband": "MRN0001", "code": b.typed, "entry_reason": map[string]string{"code": "hurry"}},
		} {
			if r := verify(body); r.status != 400 || r.errorOf(t)["field"] != "entry_reason" {
				t.Errorf("%s: %d %s; want 400 naming entry_reason", name, r.status, r.body)
			}
		}
		for name, c := range map[string]struct {
			body map[string]any
			say  string
		}{
			"typed": {map[string]any{"wristband": "MRN0001", "code": b.typed, "wristband_entry": "typed", "code_entry": "typed",
				"entry_reason": map[string]string{"code": "label_damaged"}}, "typed by hand (reason: label damaged): the label's signature and print were not checked"},
			"DataMatrix": {map[string]any{"wristband": "MRN0001", "code": b.dataMatrix,
				"entry_reason": map[string]string{"code": "other", "text": "QR code torn"}}, "ISBT 128 code scanned (reason: other: QR code torn)"},
		} {
			r := verify(c.body)
			if r.status != 200 {
				t.Fatalf("%s with a reason: %d %s", name, r.status, r.body)
			}
			v := r.json(t)
			label := check(t, v, "LABEL_AUTHENTIC")
			msg := label["message"].(string)
			if label["pass"] != true || !strings.Contains(msg, c.say) || strings.Contains(msg, "genuine") || v["pass"] != true {
				t.Fatalf("%s: LABEL_AUTHENTIC %v (verdict %v); want a pass saying %q, never genuine", name, label, v["pass"], c.say)
			}
			if v["entry_reason"] == nil {
				t.Fatalf("%s: the entry reason is not kept: %s", name, r.body)
			}
		}
		// The old print's QR is refused; the current one is genuine and current.
		if v := verify(map[string]any{"wristband": "MRN0001", "code": b.oldQR}).json(t); !strings.Contains(check(t, v, "LABEL_AUTHENTIC")["message"].(string), "print 2 replaced it") {
			t.Fatalf("old QR: %v", v)
		}
		v := verify(map[string]any{"wristband": "MRN0001", "code": b.newQR}).json(t)
		if c := check(t, v, "LABEL_AUTHENTIC"); c["pass"] != true || !strings.Contains(c["message"].(string), "genuine and is the bag's current print") {
			t.Fatalf("current QR: %v", c)
		}
		// The compliance dashboard counts the reasons.
		page := ts.do("GET", "/dashboards/compliance?days=7", b.admin, nil)
		_ = page // the API has no dashboard; the store's counts are checked in store and web tests
	})
}

// The witness is present: a witness token is for one verification within 2 minutes, on the
// device it was issued on; a login (session) token is never a witness; the issue and the use
// are audited.
func TestWitnessTokenIsForOneVerification(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			clk := &testClock{t: time.Now().UTC()}
			ts := newTestServerWith(t, backend, store.Options{Now: clk.Now})
			b := wardBag(t, ts)
			witnessFails := func(w map[string]string) string {
				t.Helper()
				r := ts.do("POST", "/api/v1/bedside/verify", b.nurse, map[string]any{"wristband": "MRN0001", "code": b.newQR, "witness": w})
				if r.status != 200 {
					t.Fatalf("verify: %d %s", r.status, r.body)
				}
				c := check(t, r.json(t), "WITNESS")
				if c["pass"] == true {
					return ""
				}
				return c["message"].(string)
			}
			tok := witnessToken(t, ts, b.nurse, "nurse.fay")
			if msg := witnessFails(tok); msg != "" {
				t.Fatalf("a fresh witness token failed: %s", msg)
			}
			if msg := witnessFails(tok); !strings.Contains(msg, "already used") {
				t.Fatalf("a witness token used twice: %q; want WITNESS to fail", msg)
			}
			old := witnessToken(t, ts, b.nurse, "nurse.fay")
			clk.set(clk.Now().Add(2*time.Minute + time.Second))
			if msg := witnessFails(old); !strings.Contains(msg, "expired") {
				t.Fatalf("a witness token older than 2 minutes: %q; want WITNESS to fail", msg)
			}
			session := ts.login("nurse.fay", "a good password")
			if msg := witnessFails(map[string]string{"token": session}); !strings.Contains(msg, "never a witness") {
				t.Fatalf("the witness's session token: %q; want WITNESS to fail", msg)
			}
			// Issued on another nurse's device.
			other := ts.userWith(b.admin, "nurse.gus", domain.RoleNurse)
			if msg := witnessFails(witnessToken(t, ts, other, "nurse.fay")); !strings.Contains(msg, "another user's device") {
				t.Fatalf("a token issued on another device: %q", msg)
			}
			// The password entered there still works.
			if msg := witnessFails(map[string]string{"username": "nurse.fay", "password": "a good password"}); msg != "" {
				t.Fatalf("witness by password: %s", msg)
			}
			// Issue: a wrong password, the nurse themselves, a pharmacist, a QC analyst's device.
			for name, c := range map[string]struct {
				by, username, password string
				status                 int
			}{
				"wrong password":    {b.nurse, "nurse.fay", "not the password", 401},
				"the nurse":         {b.nurse, "nurse.dee", "a good password", 422},
				"a pharmacist":      {b.nurse, "ph.eve", "a good password", 422},
				"no password":       {b.nurse, "nurse.fay", "", 400},
				"a pharmacist asks": {ts.login("ph.eve", "a good password"), "nurse.fay", "a good password", 403},
			} {
				if r := ts.do("POST", "/api/v1/auth/witness", c.by, map[string]string{"username": c.username, "password": c.password}); r.status != c.status {
					t.Errorf("witness token, %s: %d %s; want %d", name, r.status, r.body, c.status)
				}
			}
			acts := auditActions(t, ts, b.admin, "witness_token")
			if acts["witness_token.issue"] != 3 || acts["witness_token.use"] != 1 {
				t.Fatalf("witness token audit: %v; want 3 issued, 1 used (only the first verification used its token)", acts)
			}
		})
	}
}

// Two identifiers: a PASS names the patient (name and date of birth beside the MRN and subject
// id), and showing them is recorded as a disclosure in the verification's transaction.
func TestPassShowsNameAndDateOfBirth(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		b := wardBag(t, ts)
		r := ts.do("POST", "/api/v1/bedside/verify", b.nurse, map[string]any{"wristband": "MRN0001", "code": b.newQR,
			"witness": witnessToken(t, ts, b.nurse, "nurse.fay")})
		v := r.json(t)
		if r.status != 200 || v["pass"] != true {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		p, _ := v["patient"].(map[string]any)
		if p["name"] != "Li Wei" || p["date_of_birth"] != "1960-05-01" || p["mrn"] != "MRN0001" || p["subject_id"] != "SVP-001" {
			t.Fatalf("patient = %v", v["patient"])
		}
		if msg, _ := v["message"].(string); !strings.HasPrefix(msg, "PASS") || !strings.Contains(msg, "Li Wei") || !strings.Contains(msg, "1960-05-01") {
			t.Fatalf("the PASS message %q does not name the person", msg)
		}
		entries := ts.do("GET", "/api/v1/audit?entity_type=patient&limit=1000", b.admin, nil).json(t)["entries"].([]any)
		found := false
		for _, e := range entries {
			e := e.(map[string]any)
			if e["action"] != "patient.disclose" {
				continue
			}
			var after struct {
				Fields []string `json:"fields"`
				Via    string   `json:"via"`
			}
			raw, _ := e["after"].(string)
			if raw == "" {
				bs, _ := json.Marshal(e["after"])
				raw = string(bs)
			}
			if err := json.Unmarshal([]byte(raw), &after); err != nil {
				t.Fatalf("disclosure after: %v %v", e["after"], err)
			}
			if after.Via == "bedside.verify" && slices.Contains(after.Fields, "name") && slices.Contains(after.Fields, "date_of_birth") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no patient.disclose entry via bedside.verify in %v", entries)
		}
		// A verification audit entry keeps no name.
		for _, e := range ts.do("GET", "/api/v1/audit?entity_type=verification&limit=1000", b.admin, nil).json(t)["entries"].([]any) {
			if bs, _ := json.Marshal(e); strings.Contains(string(bs), "Li Wei") {
				t.Fatalf("the verification's audit entry shows the patient's name: %s", bs)
			}
		}
	})
}
