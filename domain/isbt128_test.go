package domain

import (
	"strings"
	"testing"
	"time"
)

func TestMod37_2PublicExamples(t *testing.T) {
	for in, want := range map[string]byte{"G123498654321": 'H', "A999915000001": 'M', "G123489654321": 'Y',
		"A999921123456": '3', // ST-001 Figure 2
	} {
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

// Product codes (data structure 003) from ST-001 §2.4.3 and the forms cordtrace prints.
func TestParseProductBarcode(t *testing.T) {
	cases := []struct {
		name, in       string
		desc, division string
		collection     byte
		errPart        string
	}{
		{"ST-001 Figure 3: S1295, collection type 4, division A0", "=<S12954A0", "S1295", "A0", '4', ""},
		{"undivided", "=<S1234V00", "S1234", "00", 'V', ""},
		{"first-level division", "=<S1234VZ0", "S1234", "Z0", 'V', ""},
		{"subdivision Aa", "=<S1234VAa", "S1234", "Aa", 'V', ""},
		{"subdivision Zz", "=<S1234VZz", "S1234", "Zz", 'V', ""},
		{"see Product Divisions", "=<S1234V99", "S1234", "99", 'V', ""},
		{"clinical-trial code", "=<YA123VA0", "YA123", "A0", 'V', ""},
		{"clinical-trial code YZ", "=<YZ999E00", "YZ999", "00", 'E', ""},
		{"plasma derivative X0", "=<X0123000", "X0123", "00", '0', ""},
		{"lower-case type of collection of Table 7", "=<E0001r00", "E0001", "00", 'r', ""},
		{"ST-001 Figure 4: tissue code with a 3-digit pack code", "=<T1295003", "", "", 0, "product description code"},
		{"old numeric division", "=<S1234001", "", "", 0, "old numeric form"},
		{"old numeric division 26", "=<S1234V26", "", "", 0, "old numeric form"},
		{"division in capitals", "=<S1234VAA", "", "", 0, "lower-case letter"},
		{"division lower case first", "=<S1234VaA", "", "", 0, "division"},
		{"division 0a", "=<S1234V0a", "", "", 0, "division"},
		{"type of collection not in Table 7", "=<S1234ZA0", "", "", 0, "Table 7"},
		{"lower-case v is not V", "=<S1234vA0", "", "", 0, "Table 7"},
		{"clinical-trial code with 4 digits", "=<Y1234VA0", "", "", 0, "YA–YZ"},
		{"lower-case product description", "=<s1234VA0", "", "", 0, "product description code"},
		{"no data identifier", "S1234VA0", "", "", 0, "=<"},
		{"too short", "=<S1234V0", "", "", 0, "8 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProductBarcode(tc.in)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(ErrorMessage(err), tc.errPart) {
					t.Fatalf("%s: %+v, %v; want an error saying %q", tc.in, p, err, tc.errPart)
				}
				return
			}
			if err != nil || p.Description != tc.desc || p.Donation != tc.collection || p.Division != tc.division {
				t.Fatalf("%s: %+v, %v", tc.in, p, err)
			}
			if p.ProductBarcode() != tc.in {
				t.Errorf("re-encodes as %s", p.ProductBarcode())
			}
		})
	}
}

func TestValidateCollectionType(t *testing.T) {
	// ST-001 Table 7 (RT008), every value.
	for _, c := range []byte("0VRSTPrsA1XDd2LEQ3456FC78BHJG") {
		if err := ValidateCollectionType(c); err != nil {
			t.Errorf("%c refused: %v", c, err)
		}
	}
	for _, c := range []byte("vZKMNOUWYaxe9 \x00") {
		if err := ValidateCollectionType(c); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
}

func TestUnitDivision(t *testing.T) {
	cases := []struct {
		n, total          int
		division, divs032 string
	}{
		{1, 1, "A0", ""},
		{2, 20, "B0", ""},
		{26, 26, "Z0", ""},
		{1, 27, "99", "000001"},
		{27, 30, "99", "000027"},
		{30, 30, "99", "000030"},
		{999, 999, "99", "000999"},
	}
	for _, tc := range cases {
		d, p, err := UnitDivision(tc.n, tc.total)
		if err != nil || d != tc.division || p != tc.divs032 {
			t.Errorf("UnitDivision(%d, %d) = %s %s %v; want %s %s", tc.n, tc.total, d, p, err, tc.division, tc.divs032)
		}
		if err := ValidateDivision(d); err != nil {
			t.Errorf("UnitDivision(%d, %d) = %s, which the parser refuses: %v", tc.n, tc.total, d, err)
		}
	}
	for _, bad := range [][2]int{{0, 1}, {2, 1}, {1000, 1000}} {
		if _, _, err := UnitDivision(bad[0], bad[1]); err == nil {
			t.Errorf("UnitDivision%v accepted", bad)
		}
	}
	// A lot of 30: every unit id differs, and each has its 032.
	din, _ := ParseDIN("A999926000011")
	seen := map[string]bool{}
	for n := 1; n <= 30; n++ {
		d, p, _ := UnitDivision(n, 30)
		u := UnitID{DIN: din, Product: ProductCode{Description: "S1234", Donation: 'V', Division: d}, Divisions: p}
		if err := u.Validate(); err != nil || seen[u.String()] {
			t.Fatalf("unit %d: %s %v (duplicate: %v)", n, u, err, seen[u.String()])
		}
		seen[u.String()] = true
	}
}

func TestBagDivision(t *testing.T) {
	for n, want := range map[int]string{1: "Aa", 2: "Ab", 26: "Az", 27: "Ba", 676: "Zz"} {
		got, err := BagDivision(n)
		if err != nil || got != want {
			t.Errorf("BagDivision(%d) = %s %v, want %s", n, got, err, want)
		}
		if err := ValidateDivision(got); err != nil {
			t.Errorf("bag division %s refused: %v", got, err)
		}
		// Never a unit's division: units use A0…Z0 and 99.
		if got[1] == '0' || got == "99" {
			t.Errorf("bag division %s could be a unit's", got)
		}
	}
	if _, err := BagDivision(677); err == nil {
		t.Error("677th bag accepted")
	}
}

func TestUnitID(t *testing.T) {
	d, _ := ParseDIN("A999926000011")
	cases := []struct {
		name, in, want, errPart string
	}{
		{"unit", "A999926000011S1234VA0", "A999926000011S1234VA0", ""},
		{"dose bag", "A999926000011S1234VAa", "A999926000011S1234VAa", ""},
		{"with Product Divisions", "A999926000011S1234V99000027", "A999926000011S1234V99000027", ""},
		{"typed in lower case", "a999926000011s1234vaa", "A999926000011S1234VAa", ""},
		{"typed in capitals", "A999926000011S1234VAA", "A999926000011S1234VAa", ""},
		{"typed with spaces", "A9999 26 000011 S1234 V Aa", "A999926000011S1234VAa", ""},
		{"clinical trial", "A999926000011YA123VA0", "A999926000011YA123VA0", ""},
		{"99 without 032", "A999926000011S1234V99", "", "Product Divisions"},
		{"032 without 99", "A999926000011S1234VA0000027", "", "only with division 99"},
		{"old numeric division", "A999926000011S1234001", "", "old numeric form"},
		{"bad 032", "A999926000011S1234V99000000", "", "000000"},
		{"wrong length", "A999926000011S1234VA", "", "21 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseUnitID(tc.in)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(ErrorMessage(err), tc.errPart) {
					t.Fatalf("%s: %v, %v; want an error saying %q", tc.in, u, err, tc.errPart)
				}
				return
			}
			if err != nil || u.String() != tc.want || u.DIN != d {
				t.Fatalf("%s: %v, %v; want %s", tc.in, u, err, tc.want)
			}
			// Typed with its check character, in any case, the id reads back the same.
			typed := u.String() + string(u.Check())
			for _, s := range []string{typed, strings.ToLower(typed)} {
				if back, err := ParseUnitID(s); err != nil || back != u {
					t.Errorf("typed %s: %v %v", s, back, err)
				}
			}
			wrong := typed[:len(typed)-1] + "?"
			if _, err := ParseUnitID(wrong); err == nil {
				t.Error("wrong check character accepted")
			}
			if typo := strings.Replace(typed, "26000011", "26000012", 1); typo != typed {
				if _, err := ParseUnitID(typo); err == nil {
					t.Error("a typo in the DIN was not caught by the check character")
				}
			}
		})
	}
	u, _ := ParseUnitID("A999926000011S1234V99000027")
	if u.EyeReadable() != "A9999 26 000011 S1234 V 99 000027" {
		t.Errorf("eye-readable %q", u.EyeReadable())
	}
	if got := strings.Join(u.Barcodes(), " "); got != u.DIN.DINBarcode()+" =<S1234V99 =,000027" {
		t.Errorf("barcodes %s", got)
	}
	// A typo outside the DIN is caught by the check character too.
	b, _ := ParseUnitID("A999926000011S1234VAb")
	typo := "A999926000011S1234VAc" + string(b.Check())
	if _, err := ParseUnitID(typo); err == nil {
		t.Error("a typo in the division was not caught by the check character")
	}
}

func TestCompoundMessage(t *testing.T) {
	// ST-017 §4.3.1's example of an undefined-sequence compound message.
	example := "=+04000=/A9997XYZ100T0479=A99991712345600=,000012=>019031"
	parts, err := ParseCompoundMessage(example)
	if err != nil || strings.Join(parts, "|") != "=/A9997XYZ100T0479|=A99991712345600|=,000012|=>019031" {
		t.Fatalf("ST-017 example: %q %v", parts, err)
	}
	if got := CompoundMessage(parts...); got != example {
		t.Errorf("re-encodes as %s", got)
	}
	for _, tc := range []struct{ in, errPart string }{
		{"=+03000=A99991712345600=,000012=>019031=<S1234VA0", "says 3 data structures but holds 4"},
		{"=+02035=A99991712345600=<S1234VA0", "specified order"},
		{"=+0200=A99991712345600", "5 digits"},
		{"=+02000=A99991712345600=<S1234", "cut short"},
		{"=+02000=A99991712345600&aXYZ", "does not read"},
		{"=A99991712345600=<S1234VA0", "=+"},
	} {
		if _, err := ParseCompoundMessage(tc.in); err == nil || !strings.Contains(ErrorMessage(err), tc.errPart) {
			t.Errorf("%s: %v, want an error saying %q", tc.in, err, tc.errPart)
		}
	}
}

func TestReadLabelMessage(t *testing.T) {
	d, _ := ParseDIN("A999926000011")
	coi := NewChainOfIdentity("A9999", 26, 7)
	unit := UnitID{DIN: d, Product: ProductCode{Description: "S1234", Donation: 'V', Division: "99"}, Divisions: "000027"}
	bag := UnitID{DIN: d, Product: ProductCode{Description: "S1234", Donation: 'V', Division: "Aa"}}
	cases := []struct {
		name, msg string
		want      UnitID
		coi       bool
		errPart   string
	}{
		{"unit of a lot of 30", CompoundMessage(append(unit.Barcodes(), "&>0271210800")...), unit, false, ""},
		{"dose bag", CompoundMessage(append(bag.Barcodes(), "&>0263652359", coi.String())...), bag, true, ""},
		{"structures in another order", CompoundMessage("&>0263652359", coi.String(), bag.Product.ProductBarcode(), bag.DIN.DINBarcode()), bag, true, ""},
		{"old concatenated form", d.DINBarcode() + "=<S12340A0&>0263652359", UnitID{}, false, "without the compound message header"},
		{"99 without 032", CompoundMessage(d.DINBarcode(), "=<S1234V99", "&>0263652359"), UnitID{}, false, "Product Divisions"},
		{"two product codes", CompoundMessage(d.DINBarcode(), "=<S1234VAa", "=<S1234VAb"), UnitID{}, false, "twice"},
		{"no product code", CompoundMessage(d.DINBarcode(), "&>0263652359"), UnitID{}, false, "product code"},
		{"bad chain of identity", CompoundMessage(append(bag.Barcodes(), "&/CHO999926000007")...), UnitID{}, false, "chain of identity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadLabelMessage(tc.msg)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(ErrorMessage(err), tc.errPart) {
					t.Fatalf("%s: %+v %v; want an error saying %q", tc.msg, m, err, tc.errPart)
				}
				return
			}
			if err != nil || m.Unit != tc.want || (m.ChainOfIdentity != nil) != tc.coi {
				t.Fatalf("%s: %+v %v", tc.msg, m, err)
			}
			if tc.coi && *m.ChainOfIdentity != coi {
				t.Errorf("chain of identity %v", m.ChainOfIdentity)
			}
		})
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
	c := NewChainOfIdentity("A9999", 26, 7)
	if c.String() != "&/CHA999926000007" || c.EyeReadable() != "CH A9999 26 000007" {
		t.Fatalf("%s %s", c, c.EyeReadable())
	}
	// The check character is Mod 37-2 over the 15 characters of the data content.
	if want, _ := Mod37_2("CHA999926000007"); c.Check() != want {
		t.Fatalf("check %c, want %c", c.Check(), want)
	}
	cases := []struct {
		in, want, errPart string
	}{
		{"&/CHA999926000007", "&/CHA999926000007", ""},
		{"&/CHA999926000007" + string(c.Check()), "&/CHA999926000007", ""},
		{"CH A9999 26 000007 " + string(c.Check()), "&/CHA999926000007", ""},
		{"&/CHA99992600AB7Z", "&/CHA99992600AB7Z", ""}, // ST-001: the sequence is alphanumeric
		{"&/chb123425x9y8z7", "&/CHB123425X9Y8Z7", ""},
		{"&/CHA999926000007?", "", "check character"},
		{"&/CHO999926000007", "", "never O or 0"},
		{"&/CHA99992600000", "", "chain of identity id is"},
		{"&/CHA999926000000", "", "zero"},
		{"&/CHA9999AB000007", "", "chain of identity id is"},
		{"&/CHA999926000-07", "", "6 capital letters or digits"},
	}
	for _, tc := range cases {
		got, err := ParseChainOfIdentity(tc.in)
		if tc.errPart != "" {
			if err == nil || ErrorField(err) != "chain_of_identity" || !strings.Contains(ErrorMessage(err), tc.errPart) {
				t.Errorf("%s: %v %v; want an error saying %q", tc.in, got, err, tc.errPart)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s: %v %v; want %s", tc.in, got, err, tc.want)
		}
	}
	// A mistyped character is caught by the check character.
	typed := "CHA999926000007" + string(c.Check())
	if _, err := ParseChainOfIdentity(strings.Replace(typed, "000007", "000008", 1)); err == nil {
		t.Error("typo not caught")
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
	f.Add("A999926000011S1234VA0")
	f.Add("A999926000011S1234VAaQ")
	f.Add("A999926000011S1234V99000027")
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
	for _, s := range []string{"=A99991500000182", "=<S1234VAa", "&>0263652359", "&/CHA999926000007", "=,000027"} {
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
