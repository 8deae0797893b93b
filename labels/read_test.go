package labels

import (
	"bytes"
	"strings"
	"testing"
)

// ReadQR finds the QR code on both kinds of label without being told which it is, and says
// why when there is none to read.
func TestReadQR(t *testing.T) {
	for name, c := range map[string]Content{"unit": sampleUnit(), "dose bag": sampleBag()} {
		l := UnitLayout(c)
		if name == "dose bag" {
			l = DoseBagLayout(c)
		}
		png, err := PNG(l)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ReadQR(png); err != nil || got != c.QR {
			t.Errorf("%s label: ReadQR = %q, %v; want %q", name, got, err, c.QR)
		}
	}
	if _, err := ReadQR([]byte("not a picture")); err == nil {
		t.Error("ReadQR of bytes that are no image: no error")
	}
}

// ReadDataMatrix reads the compound message of both kinds of label and names the unit or bag
// it holds; the older DataMatrix, without the compound message header, is refused.
func TestReadDataMatrix(t *testing.T) {
	for name, tc := range map[string]struct {
		c   Content
		l   func(Content) Layout
		id  string
		coi bool
	}{
		"unit":     {sampleUnit(), UnitLayout, sampleUnitID.String(), false},
		"dose bag": {sampleBag(), DoseBagLayout, sampleBagID.String(), true},
	} {
		png, err := PNG(tc.l(tc.c))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadDataMatrix(png)
		if err != nil || m.Unit.String() != tc.id || (m.ChainOfIdentity != nil) != tc.coi || m.ExpiryBarcode != tc.c.ExpiryBarcode {
			t.Errorf("%s label: ReadDataMatrix = %+v, %v; want %s", name, m, err, tc.id)
		}
	}
	old := sampleUnit()
	old.DataMatrix = old.DINBarcode + old.ProductBarcode + old.ExpiryBarcode
	png, err := PNG(UnitLayout(old))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDataMatrix(png); err == nil || !strings.Contains(err.Error(), "compound message header") {
		t.Errorf("old DataMatrix: %v", err)
	}
}

// ReadZPLQR reads back the QR code's text from the ZPL that RenderZPL sends to the printer,
// escaped or not, and says why when there is none to read.
func TestReadZPLQR(t *testing.T) {
	for name, qr := range map[string]string{
		"signed payload":        sampleBag().QR,
		"text with ^, ~ and \\": `CT1^XZ~JA\x` + `\5C`,
	} {
		for _, dpi := range []int{ZPL203, ZPL300} {
			c := sampleBag()
			c.QR = qr
			var b bytes.Buffer
			if err := RenderZPL(&b, DoseBagLayout(c), dpi); err != nil {
				t.Fatal(err)
			}
			if got, err := ReadZPLQR(b.Bytes()); err != nil || got != qr {
				t.Errorf("%s at %d dpi: ReadZPLQR = %q, %v; want %q", name, dpi, got, err, qr)
			}
		}
	}
	for name, zpl := range map[string]string{
		"no QR code":             "^XA\n^FO1,1^A0N,20,20^FDtext^FS\n^XZ\n",
		"no field data":          "^XA\n^FO1,1^BQN,2,4^FS\n^XZ\n",
		"no error correction":    "^XA\n^FO1,1^BQN,2,4^FDtext^FS\n^XZ\n",
		"escape cut short":       "^XA\n^FO1,1^BQN,2,4^FH\\^FDMA,ab\\5^FS\n^XZ\n",
		"escape not hexadecimal": "^XA\n^FO1,1^BQN,2,4^FH\\^FDMA,ab\\zz^FS\n^XZ\n",
	} {
		if got, err := ReadZPLQR([]byte(zpl)); err == nil {
			t.Errorf("%s: ReadZPLQR = %q, want an error", name, got)
		}
	}
}

// FuzzReadZPLQR: whatever a printer file holds, reading it returns or refuses without
// panicking, and any text RenderZPL can encode is read back unchanged.
func FuzzReadZPLQR(f *testing.F) {
	f.Add("CT1.abc", "^XA\n^FO1,1^BQN,2,4^FH\\^FDMA,\\5E^FS\n^XZ\n")
	f.Add("a^b~c\\d", "^BQ^FD")
	f.Fuzz(func(t *testing.T, qr, zpl string) {
		_, _ = ReadZPLQR([]byte(zpl))
		c := sampleBag()
		c.QR = qr
		var b bytes.Buffer
		if err := RenderZPL(&b, DoseBagLayout(c), ZPL203); err != nil {
			return // not encodable as a QR code (too long, say): nothing to read back
		}
		if strings.ContainsAny(qr, "\r\n") {
			return // a line break ends the ZPL line the reader looks in
		}
		if got, err := ReadZPLQR(b.Bytes()); err != nil || got != qr {
			t.Fatalf("ReadZPLQR(RenderZPL(%q)) = %q, %v", qr, got, err)
		}
	})
}
