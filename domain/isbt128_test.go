package domain

import (
	"strings"
	"testing"
	"time"
)

func TestMod37_2PublicExamples(t *testing.T) {
	for in, want := range map[string]byte{"G123498654321": 'H', "A999915000001": 'M', "G123489654321": 'Y'} {
		got, err := Mod37_2(in)
		if err != nil || got != want {
			t.Errorf("Mod37_2(%s) = %c, %v; want %c", in, got, err, want)
		}
	}
	if _, err := Mod37_2("a1"); err == nil {
		t.Error("lower case accepted")
	}
}

// The check character catches every single substitution and every adjacent transposition.
func TestMod37_2CatchesTypos(t *testing.T) {
	base := "A999926000011"
	k, _ := Mod37_2(base)
	for i := 0; i < len(base); i++ {
		for _, c := range mod37Alphabet[:36] {
			if byte(c) == base[i] {
				continue
			}
			typo := base[:i] + string(c) + base[i+1:]
			if k2, _ := Mod37_2(typo); k2 == k {
				t.Errorf("substitution %s not caught", typo)
			}
		}
		if i+1 < len(base) && base[i] != base[i+1] {
			swapped := base[:i] + string(base[i+1]) + string(base[i]) + base[i+2:]
			if k2, _ := Mod37_2(swapped); k2 == k {
				t.Errorf("transposition %s not caught", swapped)
			}
		}
	}
}

func TestValidateFacilityID(t *testing.T) {
	for fin, ok := range map[string]bool{
		"A9999": true, "G1234": true, "N0000": true, "P1234": true, "Z9999": true, "19999": true,
		"O1234": false, "01234": false, "a1234": false, "A123": false, "A12345": false, "AB123": false, "A12B4": false,
	} {
		if err := ValidateFacilityID(fin); (err == nil) != ok {
			t.Errorf("%s: err = %v, want ok=%v", fin, err, ok)
		}
	}
}

func TestParseDIN(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		errPart string
	}{
		{"G123498654321", "G123498654321", ""},
		{"G123498654321H", "G123498654321", ""},
		{" g1234 98 654321 h ", "G123498654321", ""},
		{"G123498654321X", "", "check character X"},
		{"A999915000001M", "A999915000001", ""},
		{"A999915000001N", "", "mistyped"},
		{"G12349865432", "", "13 characters"},
		{"G1234986543210AB", "", "13 characters"},
		{"O123498654321", "", "never O or 0"},
		{"G12349865432A", "", "8 digits"},
		{"G123498000000", "", "000001"},
	}
	for _, tc := range cases {
		d, err := ParseDIN(tc.in)
		if tc.errPart != "" {
			if err == nil || ErrorField(err) != "din" || !strings.Contains(ErrorMessage(err), tc.errPart) {
				t.Errorf("ParseDIN(%q) = %v, %v; want error on din saying %q", tc.in, d, err, tc.errPart)
			}
			continue
		}
		if err != nil || d.String() != tc.want {
			t.Errorf("ParseDIN(%q) = %v, %v; want %s", tc.in, d, err, tc.want)
		}
	}
	d, _ := ParseDIN("A999926000011")
	if d.EyeReadable() != "A9999 26 000011" {
		t.Errorf("eye-readable %q", d.EyeReadable())
	}
}

func TestDINBarcode(t *testing.T) {
	d, _ := ParseDIN("A999915000001") // check character M = 22
	if got := d.DINBarcode(); got != "=A99991500000182" {
		t.Fatalf("DINBarcode = %s, want =A99991500000182 (flags 60 + 22)", got)
	}
	back, err := ParseDINBarcode(d.DINBarcode())
	if err != nil || back != d {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"=A99991500000183", "A999915000001820", "=<S12340001", "=A9999150000018"} {
		if _, err := ParseDINBarcode(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := ParseDINBarcode("=A99991500000100"); err != nil {
		t.Errorf("flags 00 (no check flag) refused: %v", err)
	}
}

func TestProductAndUnitID(t *testing.T) {
	p, err := ParseProductBarcode("=<S1234001")
	if err != nil || p.Description != "S1234" || p.Donation != '0' || p.Division != "01" {
		t.Fatalf("product = %+v, %v", p, err)
	}
	for _, bad := range []string{"=<s1234001", "=<S12X4001", "=<S1234-01", "=<S12340A", "S1234001", "=<S12340A0"} {
		if _, err := ParseProductBarcode(bad); err == nil && bad != "=<S12340A0" {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := ParseProductBarcode("=<S12340A0"); err != nil {
		t.Errorf("letter division refused: %v", err)
	}
	d, _ := ParseDIN("A999926000011")
	u := UnitID{DIN: d, Product: p}
	if u.String() != "A999926000011S1234001" || len(u.String()) != 21 {
		t.Fatalf("unit id %s", u)
	}
	typed := u.String() + string(u.Check())
	back, err := ParseUnitID(strings.ToLower(typed))
	if err != nil || back != u {
		t.Fatalf("typed id: %v %v", back, err)
	}
	wrong := typed[:len(typed)-1] + "?"
	if _, err := ParseUnitID(wrong); err == nil {
		t.Error("wrong check character accepted")
	}
	typo := strings.Replace(typed, "S1234", "S1243", 1)
	if _, err := ParseUnitID(typo); err == nil {
		t.Error("a typo outside the DIN was not caught by the check character")
	}
	if _, err := DivisionCode(100); err == nil {
		t.Error("division 100 accepted")
	}
	if c, _ := DivisionCode(7); c != "07" {
		t.Errorf("division 7 = %s", c)
	}
}

func TestExpiryBarcode(t *testing.T) {
	site, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 12, 31, 23, 59, 0, 0, site)
	if got := ExpiryBarcode(at, site); got != "&>0263652359" {
		t.Fatalf("ExpiryBarcode = %s", got)
	}
	back, err := ParseExpiryBarcode("&>0263652359", site)
	if err != nil || !back.Equal(at) {
		t.Fatalf("round trip %v %v", back, err)
	}
	if got := ExpiryBarcode(time.Date(2028, 12, 31, 0, 0, 0, 0, site), site); got != "&>0283660000" {
		t.Errorf("leap year: %s", got)
	}
	for _, bad := range []string{"&>0263662359", "&>0260002359", "&>0263652460", "=>0263652359", "&>02636523"} {
		if _, err := ParseExpiryBarcode(bad, site); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestChainOfIdentity(t *testing.T) {
	c := ChainOfIdentity{Facility: "A9999", Year: 26, Sequence: 7}
	if c.String() != "&/CHA999926000007" {
		t.Fatalf("%s", c)
	}
	back, err := ParseChainOfIdentity(c.String())
	if err != nil || back != c {
		t.Fatalf("%v %v", back, err)
	}
	for _, bad := range []string{"&/CHO999926000007", "&/CHA99992600000", "CHA999926000007", "&/CHA999926000000"} {
		if _, err := ParseChainOfIdentity(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func FuzzParseDIN(f *testing.F) {
	for _, s := range []string{"G123498654321", "G123498654321H", "A999915000001M", "O123", "", " a9999 26 000011 ", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDIN(s)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("error %v is not a field error", err)
			}
			return
		}
		again, err := ParseDIN(d.String() + string(d.Check()))
		if err != nil || again != d {
			t.Fatalf("%q parsed as %v, which does not round-trip: %v", s, d, err)
		}
	})
}

func FuzzParseUnitID(f *testing.F) {
	f.Add("A999926000011S1234001")
	f.Add("A999926000011S1234001Q")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUnitID(s)
		if err != nil {
			return
		}
		again, err := ParseUnitID(u.String())
		if err != nil || again != u {
			t.Fatalf("%q parsed as %v, which does not round-trip: %v", s, u, err)
		}
	})
}

func FuzzParseBarcodes(f *testing.F) {
	for _, s := range []string{"=A99991500000182", "=<S1234001", "&>0263652359", "&/CHA999926000007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDINBarcode(s); err == nil {
			if back, err := ParseDINBarcode(d.DINBarcode()); err != nil || back != d {
				t.Fatalf("DIN barcode %q does not round-trip", s)
			}
		}
		if p, err := ParseProductBarcode(s); err == nil && p.ProductBarcode() != s {
			t.Fatalf("product barcode %q re-encodes as %q", s, p.ProductBarcode())
		}
		if e, err := ParseExpiryBarcode(s, time.UTC); err == nil && ExpiryBarcode(e, time.UTC) != s {
			t.Fatalf("expiry %q re-encodes as %q", s, ExpiryBarcode(e, time.UTC))
		}
		ParseChainOfIdentity(s)
	})
}
