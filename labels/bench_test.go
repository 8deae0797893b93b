package labels

import (
	"bytes"
	"testing"
)

// Benchmarks of signing and checking a QR payload, and of one label in each format. Run:
// go test -run '^$' -bench . ./labels

func BenchmarkPayloadSign(b *testing.B) {
	signer, _, err := GenerateKey("k-bench")
	if err != nil {
		b.Fatal(err)
	}
	p := bagPayload()
	for b.Loop() {
		if _, err := signer.Sign(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPayloadVerify(b *testing.B) {
	signer, pub, err := GenerateKey("k-bench")
	if err != nil {
		b.Fatal(err)
	}
	code, err := signer.Sign(bagPayload())
	if err != nil {
		b.Fatal(err)
	}
	ring := &KeyRing{}
	if err := ring.Add("k-bench", pub); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Verify(code, ring); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPDFLabel(b *testing.B) {
	l := DoseBagLayout(sampleBag())
	for b.Loop() {
		if err := RenderPDF(&bytes.Buffer{}, l); err != nil {
			b.Fatal(err)
		}
	}
}
