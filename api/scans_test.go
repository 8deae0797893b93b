package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cordtrace/domain"
	"cordtrace/labels"
)

// preparedBag makes a released lot, a patient and their prepared dose bag; it returns the
// bag, its scanned QR code and the lot path.
func preparedBag(t *testing.T, ts *testServer, admin string) (map[string]any, string, string) {
	t.Helper()
	bag, _, lotPath := unlabelledBag(t, ts, admin)
	pharm := ts.login("ph.eve", "a good password")
	checkBag(t, ts, admin, fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64))))
	code := scanQR(t, ts.do("GET", fmt.Sprintf("/api/v1/dose-bags/%d/label.png", int64(bag["id"].(float64))), pharm, nil).body)
	return bag, code, lotPath
}

func TestCustodyScans(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		bag, code, lotPath := preparedBag(t, ts, admin)
		pharm := ts.login("ph.eve", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		qa := ts.login("s.qa", "a good password")
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
		dispatch := func(token, code string, temp float64) response {
			return ts.do("POST", "/api/v1/scans/dispatch", token, map[string]any{"code": code, "to": "ICU-3", "temperature_c": temp})
		}
		receive := func(code string, temp float64) response {
			return ts.do("POST", "/api/v1/scans/receive", nurse, map[string]any{"code": code, "temperature_c": temp, "location": "ICU-3"})
		}

		altered := strings.Replace(code, "N=70000000", "N=80000000", 1)
		if r := dispatch(pharm, altered, 5); r.status != 422 || !strings.Contains(strings.ToLower(r.errorOf(t)["message"].(string)), "call the pharmacy") {
			t.Fatalf("altered label: %d %s", r.status, r.body)
		}
		foreign, _, _ := labels.GenerateKey("k-foreign")
		p, _ := labels.Parse(code)
		forged, _ := foreign.Sign(p)
		if r := dispatch(pharm, forged, 5); r.status != 422 {
			t.Fatalf("label signed with an unknown key: %d %s", r.status, r.body)
		}
		if r := dispatch(nurse, code, 5); r.status != 403 {
			t.Fatalf("dispatch by a nurse: %d", r.status)
		}
		// How the page got the code is kept with the scan; a way it cannot have is refused first.
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5, "entry": "guessed"}); r.status != 400 || r.errorOf(t)["field"] != "entry" {
			t.Fatalf("dispatch with an unknown entry: %d %s; want 400 naming entry", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": altered, "to": "ICU-3", "temperature_c": 5, "entry": "typed"}); r.status != 422 {
			t.Fatalf("a typed altered label: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": code, "to": "ICU-3", "temperature_c": 5, "entry": "scanned"}); r.status != 201 ||
			r.json(t)["bag_status"] != "dispatched" || r.json(t)["code_kind"] != "qr" || r.json(t)["entry"] != "scanned" {
			t.Fatalf("dispatch: %d %s", r.status, r.body)
		}
		if r := dispatch(pharm, code, 5); r.status != 409 || !strings.Contains(r.errorOf(t)["message"].(string), "dose bag is dispatched") {
			t.Fatalf("second dispatch: %d %s", r.status, r.body)
		}
		// The DIN barcode alone names a donation, not a bag; the bag id typed without its check
		// character is refused; with it, the receipt is accepted and marked manual.
		bagID := bag["bag_id"].(string)
		u, _ := domain.ParseUnitID(bagID)
		if r := receive(u.DIN.DINBarcode(), 5); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "not the bag") {
			t.Fatalf("DIN barcode alone: %d %s", r.status, r.body)
		}
		if r := receive(bagID, 5); r.status != 422 {
			t.Fatalf("typed id without check character: %d %s", r.status, r.body)
		}
		r := receive(strings.ToLower(u.EyeReadable())+" "+string(u.Check()), 9.5)
		if r.status != 201 || r.json(t)["code_kind"] != "manual" || r.json(t)["excursion"] != true || r.json(t)["bag_status"] != "received" {
			t.Fatalf("manual receipt with an excursion: %d %s", r.status, r.body)
		}

		// The open excursion blocks the bedside until QA decides.
		ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		witness := map[string]string{"username": "nurse.fay", "password": "a good password"}
		v := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": code, "witness": witness}).json(t)
		if v["pass"] != false || !slices.Contains(failedChecks(t, v), "CUSTODY") {
			t.Fatalf("verification with an open excursion: %v", failedChecks(t, v))
		}
		if r := ts.do("POST", bagPath+"/excursion-disposition", pharm, map[string]string{"decision": "use", "reason": "x"}); r.status != 403 {
			t.Fatalf("disposition by a pharmacist: %d", r.status)
		}
		if r := ts.do("POST", bagPath+"/excursion-disposition", qa, map[string]string{"decision": "use", "reason": "9.5 °C for under 10 min; within stability data"}); r.status != 200 {
			t.Fatalf("disposition: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", bagPath+"/excursion-disposition", qa, map[string]string{"decision": "use", "reason": "again"}); r.status != 409 {
			t.Fatalf("disposition without an open excursion: %d", r.status)
		}
		v = ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": code, "witness": witness}).json(t)
		if slices.Contains(failedChecks(t, v), "CUSTODY") {
			t.Fatalf("CUSTODY still fails after QA cleared the excursion: %v", v["checks"])
		}
		// A reprint supersedes the old print at its next scan; a recall blocks the bag.
		ts.do("POST", bagPath+"/reprint", pharm, map[string]string{"reason": "wet label"})
		if r := receive(code, 5); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "replaced") {
			t.Fatalf("superseded print: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", lotPath+"/recall", qa, map[string]string{"password": "a good password", "reason": "sterility positive on retest"}); r.status != 200 {
			t.Fatalf("recall: %d %s", r.status, r.body)
		}
		// The DataMatrix is an ISBT 128 compound message; the older form, data structures one
		// after another without its header, is refused with what to do.
		old := u.DIN.DINBarcode() + u.Product.ProductBarcode() + "&>0000010000"
		if r := receive(old, 5); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "without the compound message header") {
			t.Fatalf("old DataMatrix form: %d %s", r.status, r.body)
		}
		dm := domain.CompoundMessage(append(u.Barcodes(), "&>0000010000")...)
		if r := receive(dm, 5); r.status != 422 || !strings.Contains(r.errorOf(t)["message"].(string), "recalled") {
			t.Fatalf("scan after recall: %d %s", r.status, r.body)
		}

		var stored, refused, manual int
		row := ts.store.SQLDB().QueryRowContext(context.Background(),
			`SELECT count(*), sum(CASE WHEN accepted THEN 0 ELSE 1 END), sum(CASE WHEN code_kind = 'manual' THEN 1 ELSE 0 END) FROM custody_scans`)
		if err := row.Scan(&stored, &refused, &manual); err != nil {
			t.Fatal(err)
		}
		// The scan with an unknown entry was refused before anything was stored.
		if stored != 11 || refused != 9 || manual != 2 {
			t.Fatalf("stored scans %d (refused %d, manual %d); want every scan kept: 11, 9, 2", stored, refused, manual)
		}
		if r := ts.do("GET", "/api/v1/audit/verify", admin, nil); r.json(t)["ok"] != true {
			t.Fatalf("audit chain: %s", r.body)
		}
	})
}

// Stopping a dose over the API: a bag is discarded with a reason (a missing one is a 400
// naming the field), its patient's dose can then be ordered again, and that open order
// cancelled by the physician.
func TestStopADoseOverTheAPI(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		bag, _, _ := preparedBag(t, ts, admin)
		pharm := ts.login("ph.eve", "a good password")
		doc := ts.login("dr.cho", "a good password")
		bagPath := fmt.Sprintf("/api/v1/dose-bags/%d", int64(bag["id"].(float64)))
		if r := ts.do("POST", bagPath+"/discard", pharm, map[string]any{"reason": ""}); r.status != 400 || r.errorOf(t)["field"] != "reason" {
			t.Fatalf("discard without a reason: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", bagPath+"/return", pharm, map[string]any{"reason": "not needed"}); r.status != 409 {
			t.Fatalf("return a bag that never left the pharmacy: %d %s", r.status, r.body)
		}
		r := ts.do("POST", bagPath+"/discard", pharm, map[string]any{"reason": "dropped on the floor"})
		if r.status != 200 || r.json(t)["status"] != "discarded" {
			t.Fatalf("discard: %d %s", r.status, r.body)
		}
		o := ts.do("POST", fmt.Sprintf("/api/v1/patients/%d/dose-orders", int64(bag["patient_id"].(float64))), doc, nil)
		if o.status != 201 {
			t.Fatalf("order again after the discard: %d %s", o.status, o.body)
		}
		orderPath := fmt.Sprintf("/api/v1/dose-orders/%d", int64(o.json(t)["id"].(float64)))
		if r := ts.do("POST", orderPath+"/cancel", doc, map[string]any{"reason": "consent withdrawn"}); r.status != 200 || r.json(t)["status"] != "cancelled" {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", orderPath+"/cancel", doc, map[string]any{"reason": "again"}); r.status != 409 {
			t.Fatalf("cancel twice: %d %s", r.status, r.body)
		}
	})
}
