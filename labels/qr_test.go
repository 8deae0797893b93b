package labels

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// Every QR the renderer draws reads back in the printed label, including the ones that the first
// encoder made unreadable (they come from the second encoder, still at level M).
func TestEveryQRDecodesOnTheLabel(t *testing.T) {
	fallbacks := 0
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
			t.Errorf("payload %d needed level %c: one of the level-M encoders should read", i, level)
		}
		if first, err := qrEncoders[0].encode(code); err != nil || !decodes(first, code) {
			fallbacks++
			c := sampleBag()
			c.QR = code
			l := DoseBagLayout(c)
			b, err := PNG(l)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeSymbol(t, ElemQR, region(decodePNG(t, b), findKind(l, ElemQR))); got != code {
				t.Fatalf("payload %d from the second encoder reads %q", i, got)
			}
		}
	}
	if fallbacks == 0 {
		t.Fatal("every payload read from the first encoder: the fallback is untested by these seeds")
	}
	t.Logf("%d of 300 payloads needed the second encoder", fallbacks)
}
