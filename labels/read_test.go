package labels

import "testing"

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
