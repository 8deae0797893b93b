package api_test

import (
	"fmt"
	"strings"
	"testing"

	"cordtrace/domain"
	"cordtrace/labels"
)

// The DataMatrix of a printed dose-bag label is an ISBT 128 compound message that every
// scanner of the service reads (custody scans, bedside verification, label verification); the
// older form, structures without the compound message header, is refused with what to do.
func TestISBTDataMatrixScans(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		bag, _, _ := preparedBag(t, ts, admin)
		pharm := ts.login("ph.eve", "a good password")
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		bagID := bag["bag_id"].(string)
		labelPath := fmt.Sprintf("/api/v1/dose-bags/%d/label", int64(bag["id"].(float64)))

		m, err := labels.ReadDataMatrix(ts.do("GET", labelPath+".png", pharm, nil).body)
		if err != nil || m.Unit.String() != bagID || m.ChainOfIdentity == nil || m.ExpiryBarcode == "" {
			t.Fatalf("the label's DataMatrix: %+v %v; want bag %s with the chain of identity", m, err, bagID)
		}
		dm := domain.CompoundMessage(append(m.Unit.Barcodes(), m.ExpiryBarcode, m.ChainOfIdentity.String())...)
		if zpl := string(ts.do("GET", labelPath+".zpl", pharm, nil).body); !strings.Contains(zpl, "^FD"+dm+"^FS") {
			t.Fatalf("the ZPL label does not carry the compound message %s", dm)
		}
		old := m.Unit.DIN.DINBarcode() + m.Unit.Product.ProductBarcode() + m.ExpiryBarcode

		// /labels/verify reads the compound message (it proves nothing: no signature) and refuses
		// the old form.
		v := ts.do("POST", "/api/v1/labels/verify", nurse, map[string]string{"code": dm}).json(t)
		if v["authentic"] != false || v["reason"] != "isbt_unsigned" || v["fields"].(map[string]any)["unit_id"] != bagID ||
			v["fields"].(map[string]any)["chain_of_identity"] != m.ChainOfIdentity.String() {
			t.Fatalf("verify the DataMatrix: %v", v)
		}
		v = ts.do("POST", "/api/v1/labels/verify", nurse, map[string]string{"code": old}).json(t)
		if v["authentic"] != false || v["reason"] != "isbt_refused" || !strings.Contains(v["message"].(string), "compound message header") {
			t.Fatalf("verify the old DataMatrix: %v", v)
		}

		// Custody scans: the old form is refused, the compound message names the bag.
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": old, "to": "ICU-3", "temperature_c": 5}); r.status != 422 ||
			!strings.Contains(r.errorOf(t)["message"].(string), "reprint the label") {
			t.Fatalf("dispatch with the old DataMatrix: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/scans/dispatch", pharm, map[string]any{"code": dm, "to": "ICU-3", "temperature_c": 5}); r.status != 201 ||
			r.json(t)["code_kind"] != "isbt" || r.json(t)["bag_status"] != "dispatched" {
			t.Fatalf("dispatch with the DataMatrix: %d %s", r.status, r.body)
		}

		// Bedside verification reads the same scan codes: the old form's refusal reaches the nurse.
		// An ISBT 128 code proves no label: it needs an entry reason (SPEC §7), and then the old
		// form is still refused.
		reason := map[string]string{"code": "other", "text": "QR code torn"}
		r := ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": old, "entry_reason": reason})
		if !strings.Contains(string(r.body), "compound message header") {
			t.Fatalf("bedside verification with the old DataMatrix: %d %s", r.status, r.body)
		}
		r = ts.do("POST", "/api/v1/bedside/verify", nurse, map[string]any{"wristband": "MRN0001", "code": dm, "entry_reason": reason})
		if r.status != 200 || strings.Contains(string(r.body), "compound message") || r.json(t)["code_kind"] != "isbt" ||
			r.json(t)["dose_bag_id"] != bag["id"] {
			t.Fatalf("bedside verification with the DataMatrix: %d %s", r.status, r.body)
		}
	})
}
