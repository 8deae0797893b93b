package labels

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// Every QR the renderer draws reads back in the printed label, including the ones that level M
// alone would have left unreadable (they get Q or H instead).
func TestEveryQRDecodesOnTheLabel(t *testing.T) {
	higher := 0
	for i := 0; i < 300; i++ {
		s, err := NewSigner(fmt.Sprintf("k2026%04d", i), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16)))
		if err != nil {
			t.Fatal(err)
		}
		code, err := s.Sign(Payload{Kind: KindDoseBag, ID: "A999926000011S12350A0", MRN: fmt.Sprintf("MRN%04d", i*37),
			ViableCells: 70_000_000 + int64(i)*7919, Expiry: time.Date(2026, 11, 25, 12, i%60, 0, 0, time.UTC), PrintSerial: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, level, err := qrSymbol(code)
		if err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
		if level != 'M' {
			higher++
			c := sampleBag()
			c.QR = code
			l := DoseBagLayout(c)
			b, err := PNG(l)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeSymbol(t, ElemQR, region(decodePNG(t, b), findKind(l, ElemQR))); got != code {
				t.Fatalf("payload %d at level %c reads %q", i, level, got)
			}
		}
	}
	if higher == 0 {
		t.Fatal("no payload needed a higher level: the fallback is untested by these seeds")
	}
	t.Logf("%d of 300 payloads needed level Q or H", higher)
}
