package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// fuzzBody has a field of each kind request bodies use.
type fuzzBody struct {
	Name    string             `json:"name"`
	Count   int64              `json:"count"`
	Value   *float64           `json:"value"`
	At      time.Time          `json:"at"`
	Tags    []string           `json:"tags"`
	Markers map[string]float64 `json:"markers"`
	Witness *struct {
		Token string `json:"token"`
	} `json:"witness"`
}

// The strict JSON reader never panics; it refuses with an "invalid" error that says something,
// or accepts a body holding no NUL character, whose value encodes and reads back unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"Li Wei","count":3,"value":91.5,"at":"2026-11-25T08:30:00Z","tags":["a"],"markers":{"CD73":99.2},"witness":{"token":"t"}}`,
		`{"name":"x","at":"2026-11-25T08:30:00+08:00"}`, `{}`, `null`, `[]`, `{"name":5}`, `{"nmae":"x"}`, `{"at":"yesterday"}`,
		`{"name":"a\u0000b"}`, `{"witness":{"tokn":"x"}}`, `{"count":1e400}`, `{} {}`, `{"name":"`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzBody
		if err := decodeBytes(body, &v); err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Message == "" {
				t.Fatalf("%q refused with %v, not an invalid-input error with a message", body, err)
			}
			return
		}
		strs := append([]string{v.Name}, v.Tags...)
		for k := range v.Markers {
			strs = append(strs, k)
		}
		if v.Witness != nil {
			strs = append(strs, v.Witness.Token)
		}
		for _, s := range strs {
			if strings.ContainsRune(s, 0) {
				t.Fatalf("%q accepted with a NUL character in %q", body, s)
			}
		}
		once, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var again fuzzBody
		if err := decodeBytes(once, &again); err != nil {
			t.Fatalf("%q accepted, but its own encoding %s is refused: %v", body, once, err)
		}
		if twice, _ := json.Marshal(again); string(twice) != string(once) {
			t.Fatalf("%q reads as %s, then as %s", body, once, twice)
		}
	})
}

// The reader of scanned and typed codes never panics and never fails while the database is
// up: every code either names a bag, as a valid unit id, or is refused with a reason a person
// can act on; and a QR names a bag only when it verifies as a dose-bag label.
func FuzzReadScanCode(f *testing.F) {
	ctx := context.Background()
	st := storetest.Open(f, storetest.SQLite, store.Options{})
	if _, err := st.EnsureLabelKey(ctx, func() (domain.LabelKey, error) {
		kid, pub, priv, err := labels.NewLabelKey(time.Now())
		return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
	}); err != nil {
		f.Fatal(err)
	}
	s := New(Services{Labels: st}, Config{})
	signer, err := s.signingKey(ctx)
	if err != nil {
		f.Fatal(err)
	}
	ring := &labels.KeyRing{}
	if err := ring.Add(signer.KeyID(), signer.PublicKey()); err != nil {
		f.Fatal(err)
	}
	din, err := domain.NewDIN("A9999", 26, 11)
	if err != nil {
		f.Fatal(err)
	}
	unit := domain.UnitID{DIN: din, Product: domain.ProductCode{Description: "S1234", Donation: '0', Division: "01"}}
	expiry := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, kind := range []labels.Kind{labels.KindDoseBag, labels.KindUnit} {
		p := labels.Payload{Kind: kind, ID: unit.String(), ViableCells: 70_000_000, Expiry: expiry, PrintSerial: 2}
		if kind == labels.KindDoseBag {
			p.MRN = "10000001"
		}
		code, err := signer.Sign(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(code)
		f.Add(" " + code + "\r\n")
		f.Add(strings.Replace(code, "N=70000000", "N=80000000", 1))
	}
	typed := unit.String() + string(unit.Check())
	for _, s := range []string{
		typed, strings.ToLower(typed[:8]) + " " + typed[8:], unit.String() + "X", typed[:10],
		din.DINBarcode() + unit.Product.ProductBarcode() + domain.ExpiryBarcode(expiry, time.UTC), din.DINBarcode(),
		domain.CompoundMessage(append(unit.Barcodes(), domain.ExpiryBarcode(expiry, time.UTC))...),
		"=", "CT", "CT2|T=B", "", "   ", "\x00", strings.Repeat("=<", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		sc, err := s.readScanCode(ctx, code)
		if err != nil {
			t.Fatalf("%q: %v (the database is up: a code is read or refused, never an error)", code, err)
		}
		switch sc.CodeKind {
		case domain.CodeQR, domain.CodeISBT, domain.CodeManual:
		default:
			t.Fatalf("%q: code kind %q", code, sc.CodeKind)
		}
		if (sc.BagID == "") == (sc.LabelRefusal == "") {
			t.Fatalf("%q: bag %q and refusal %q; want exactly one", code, sc.BagID, sc.LabelRefusal)
		}
		if sc.BagID == "" {
			return
		}
		if sc.CodeKind == domain.CodeQR {
			p, err := labels.Verify(strings.TrimSpace(code), ring)
			if err != nil || p.Kind != labels.KindDoseBag || p.ID != sc.BagID || p.PrintSerial != sc.PrintSerial || p.MRN != sc.MRN || p.KeyID != sc.KeyID {
				t.Fatalf("%q names bag %q without verifying as that dose-bag label: %+v %v", code, sc.BagID, p, err)
			}
			return
		}
		if u, err := domain.ParseUnitID(sc.BagID); err != nil || u.String() != sc.BagID {
			t.Fatalf("%q read as bag %q, which is not a unit id: %v", code, sc.BagID, err)
		}
	})
}
