package labels

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

// payloadSeed fixes the test key, so signatures (Ed25519 is deterministic) can be pinned.
var payloadSeed = []byte("cordtrace-label-test-seed-32byte")

func payloadSigner(t testing.TB, kid string) *Signer {
	t.Helper()
	s, err := NewSigner(kid, ed25519.NewKeyFromSeed(payloadSeed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func payloadRing(t testing.TB, signers ...*Signer) *KeyRing {
	t.Helper()
	var r KeyRing
	for _, s := range signers {
		if err := r.Add(s.KeyID(), s.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	return &r
}

// Realistic values: an ISBT 128 unit id (DIN + product code + division), a bag id, a
// 10-digit MRN.
func unitPayload() Payload {
	return Payload{
		Kind: KindUnit, ID: "A99992600001100S1234V01", ViableCells: 100_000_000,
		Expiry: time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC), PrintSerial: 1,
	}
}

func bagPayload() Payload {
	return Payload{
		Kind: KindDoseBag, ID: "DB-A999926000011-001", MRN: "0012345678", ViableCells: 70_000_000,
		Expiry: time.Date(2026, 11, 25, 15, 30, 0, 0, time.UTC), PrintSerial: 3,
	}
}

func samePayload(a, b Payload) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.MRN == b.MRN && a.ViableCells == b.ViableCells &&
		a.Expiry.Equal(b.Expiry) && a.PrintSerial == b.PrintSerial && a.KeyID == b.KeyID
}

func mustSign(t testing.TB, s *Signer, p Payload) string {
	t.Helper()
	code, err := s.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// signRaw signs any text the way Sign does, to build codes that Sign itself would refuse.
func signRaw(s *Signer, unsigned string) string {
	return unsigned + "|S=" + base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.priv, []byte(unsigned)))
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *VerifyError with reason %s", err, reason)
	}
	if ve.Reason != reason {
		t.Fatalf("reason = %s (%v), want %s", ve.Reason, err, reason)
	}
	if ve.Message == "" {
		t.Fatalf("reason %s has no message for the nurse", reason)
	}
}

func TestGoldenPayload(t *testing.T) {
	// These bytes are the contract with outside scanners. If this test fails, the format
	// changed: that needs a new version prefix, not a new golden value.
	const (
		unsigned = "CT1|T=B|ID=DB-A999926000011-001|M=0012345678|N=70000000|X=20261125T1530Z|P=3|K=k1"
		sig      = "Izbx8kO49iB00MOvQ02Lcrhm_InDDEKucm_vkqHTygrXp22_u4AYUPxaEqc__pyWvwZRLpvuf239qP6jdymfCA"
		unitText = "CT1|T=U|ID=A99992600001100S1234V01|N=100000000|X=20270501T0000Z|P=1|K=k1"
	)
	s := payloadSigner(t, "k1")
	p := bagPayload()
	p.KeyID = "k1"
	got, err := p.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	if got != unsigned {
		t.Errorf("Unsigned() =\n%s\nwant\n%s", got, unsigned)
	}
	code := mustSign(t, s, bagPayload())
	if want := unsigned + "|S=" + sig; code != want {
		t.Errorf("Sign() =\n%s\nwant\n%s", code, want)
	}
	// Check the contract as an outside scanner would, with nothing from this package. (The
	// pinned signature was also reproduced with Python's cryptography package.)
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(ed25519.NewKeyFromSeed(payloadSeed).Public().(ed25519.PublicKey), []byte(unsigned), raw) {
		t.Errorf("golden signature does not verify over the bytes before |S=: %v", err)
	}

	u := unitPayload()
	u.KeyID = "k1"
	if got, err := u.Unsigned(); err != nil || got != unitText {
		t.Errorf("unit Unsigned() = %q, %v; want %q", got, err, unitText)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := payloadSigner(t, "k20261125")
	ring := payloadRing(t, s)
	for _, p := range []Payload{unitPayload(), bagPayload()} {
		t.Run(p.Kind.String(), func(t *testing.T) {
			p.KeyID = "ignored: Sign sets it"
			code := mustSign(t, s, p)
			if len(code) >= 300 {
				t.Errorf("code is %d characters, want well under 300 for a readable QR: %s", len(code), code)
			}
			got, err := Verify(code, ring)
			if err != nil {
				t.Fatal(err)
			}
			p.KeyID = "k20261125"
			if !samePayload(got, p) {
				t.Errorf("Verify() = %+v, want %+v", got, p)
			}
			if got.Expiry.Location() != time.UTC {
				t.Errorf("expiry zone = %v, want UTC", got.Expiry.Location())
			}
			parsed, err := Parse(code)
			if err != nil || !samePayload(parsed, p) {
				t.Errorf("Parse() = %+v, %v", parsed, err)
			}
		})
	}
}

func TestVerifyAcceptsScannerWhitespace(t *testing.T) {
	s := payloadSigner(t, "k1")
	ring := payloadRing(t, s)
	code := mustSign(t, s, bagPayload())
	for _, in := range []string{code + "\r\n", code + "\n", code + "\r", "  " + code + "\t", "\r\n" + code} {
		if _, err := Verify(in, ring); err != nil {
			t.Errorf("Verify(%q): %v", in, err)
		}
	}
}

func TestVerifyRefusesEverySingleCharacterChange(t *testing.T) {
	s := payloadSigner(t, "k1")
	ring := payloadRing(t, s)
	for _, p := range []Payload{unitPayload(), bagPayload()} {
		code := mustSign(t, s, p)
		for i := 0; i < len(code); i++ {
			for c := byte(' '); c <= '~'; c++ {
				if c == code[i] {
					continue
				}
				changed := code[:i] + string(c) + code[i+1:]
				if got, err := Verify(changed, ring); err == nil {
					t.Fatalf("Verify accepted %q (byte %d changed to %q): %+v", changed, i, c, got)
				}
			}
		}
	}
}

func TestVerifyRefusesEveryTruncation(t *testing.T) {
	s := payloadSigner(t, "k1")
	ring := payloadRing(t, s)
	for _, p := range []Payload{unitPayload(), bagPayload()} {
		code := mustSign(t, s, p)
		for n := 0; n < len(code); n++ {
			_, err := Verify(code[:n]+"\r\n", ring)
			wantReason(t, err, ReasonTruncated)
		}
	}
}

func TestVerifyKeys(t *testing.T) {
	k1 := payloadSigner(t, "k1")
	ring := payloadRing(t, k1)
	other, _, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	unknown, _, err := GenerateKey("k9")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		code   string
		keys   PublicKeys
		reason string
	}{
		{"signed by a key id the ring lacks", mustSign(t, unknown, bagPayload()), ring, ReasonUnknownKey},
		{"a known key id but another key", mustSign(t, other, bagPayload()), ring, ReasonBadSignature},
		{"no keys at all", mustSign(t, k1, bagPayload()), nil, ReasonUnknownKey},
		{"a nil key ring", mustSign(t, k1, bagPayload()), (*KeyRing)(nil), ReasonUnknownKey},
		{"a source answering with a short key", mustSign(t, k1, bagPayload()), badKeys{}, ReasonUnknownKey},
		{"the right key for another text", strings.Replace(mustSign(t, k1, bagPayload()), "N=70000000", "N=90000000", 1), ring, ReasonBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.code, tc.keys)
			wantReason(t, err, tc.reason)
			if got != (Payload{}) {
				t.Errorf("Verify returned %+v with its error; want the zero Payload", got)
			}
		})
	}
}

type badKeys struct{}

func (badKeys) PublicKey(string) (ed25519.PublicKey, bool) { return ed25519.PublicKey{1, 2, 3}, true }

func TestKeyRotation(t *testing.T) {
	old := payloadSigner(t, "k2025")
	next, _, err := GenerateKey("k2026")
	if err != nil {
		t.Fatal(err)
	}
	ring := payloadRing(t, old, next)
	oldCode, newCode := mustSign(t, old, bagPayload()), mustSign(t, next, bagPayload())
	for _, code := range []string{oldCode, newCode} {
		if _, err := Verify(code, ring); err != nil {
			t.Errorf("with both keys trusted: %v", err)
		}
	}
	ring.Remove("k2025")
	_, err = Verify(oldCode, ring)
	wantReason(t, err, ReasonUnknownKey)
	if _, err := Verify(newCode, ring); err != nil {
		t.Errorf("after retiring the old key: %v", err)
	}
}

func TestKeyRing(t *testing.T) {
	a, b := payloadSigner(t, "kb"), payloadSigner(t, "ka")
	other, _, err := GenerateKey("kb")
	if err != nil {
		t.Fatal(err)
	}
	var r KeyRing
	if err := r.Add("kb", a.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("kb", a.PublicKey()); err != nil {
		t.Errorf("adding the same key again: %v", err)
	}
	if err := r.Add("kb", other.PublicKey()); err == nil {
		t.Error("a second key under a kid already in the ring was accepted")
	}
	for _, kid := range []string{"", "k|1", "k=1", "k 1"} {
		if err := r.Add(kid, a.PublicKey()); err == nil {
			t.Errorf("Add(%q) accepted a kid the payload cannot carry", kid)
		}
	}
	if err := r.Add("kc", a.PublicKey()[:31]); err == nil {
		t.Error("Add accepted a 31-byte public key")
	}
	if err := r.Add("ka", b.PublicKey()); err != nil {
		t.Fatal(err)
	}

	pub, ok := r.PublicKey("kb")
	if !ok || !pub.Equal(a.PublicKey()) {
		t.Fatalf("PublicKey(kb) = %x, %v", pub, ok)
	}
	pub[0] ^= 0xff // a caller's slice must not reach into the ring
	if again, _ := r.PublicKey("kb"); !again.Equal(a.PublicKey()) {
		t.Error("changing a returned key changed the ring")
	}

	got := r.Published()
	if len(got) != 2 || got[0].KID != "ka" || got[1].KID != "kb" {
		t.Fatalf("Published() = %+v, want ka then kb", got)
	}
	for _, k := range got {
		if k.Alg != "Ed25519" {
			t.Errorf("alg = %q", k.Alg)
		}
		dec, err := base64.StdEncoding.DecodeString(k.PublicKey)
		if err != nil || !ed25519.PublicKey(dec).Equal(a.PublicKey()) {
			t.Errorf("public_key %q does not decode to the key: %v", k.PublicKey, err)
		}
	}
	if got := (*KeyRing)(nil).Published(); got == nil || len(got) != 0 {
		t.Errorf("nil ring Published() = %#v, want an empty list (JSON [])", got)
	}
}

func TestSigner(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(payloadSeed)
	mismatched := append(ed25519.PrivateKey{}, priv...)
	mismatched[40] ^= 1
	for _, tc := range []struct {
		name string
		kid  string
		priv ed25519.PrivateKey
	}{
		{"empty kid", "", priv},
		{"kid with |", "k|1", priv},
		{"kid with control character", "k\n1", priv},
		{"short key", "k1", priv[:32]},
		{"public half not from the seed", "k1", mismatched},
	} {
		if _, err := NewSigner(tc.kid, tc.priv); err == nil {
			t.Errorf("NewSigner: %s accepted", tc.name)
		}
	}

	var zero Signer
	if _, err := zero.Sign(bagPayload()); err == nil {
		t.Error("a zero Signer signed")
	}
	if _, err := (*Signer)(nil).Sign(bagPayload()); err == nil {
		t.Error("a nil Signer signed")
	}

	s := payloadSigner(t, "k1")
	if !s.PublicKey().Equal(priv.Public()) || !s.PrivateKey().Equal(priv) || s.KeyID() != "k1" {
		t.Error("Signer does not report its own key")
	}
	bad := bagPayload()
	bad.MRN = ""
	if _, err := s.Sign(bad); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("Sign of an invalid payload: %v, want ErrInvalidPayload", err)
	}
}

func TestGenerateKey(t *testing.T) {
	s, pub, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.PublicKey().Equal(pub) {
		t.Error("GenerateKey's public key is not the signer's")
	}
	s2, _, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if s2.PublicKey().Equal(pub) {
		t.Error("two generated keys are equal")
	}
	if _, _, err := GenerateKey("bad kid"); err == nil {
		t.Error("GenerateKey accepted a kid with a space")
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	pub := payloadSigner(t, "k1").PublicKey()
	enc := EncodePublicKey(pub)
	if want := base64.StdEncoding.EncodeToString(pub); enc != want {
		t.Errorf("EncodePublicKey = %q, want standard base64 %q", enc, want)
	}
	dec, err := DecodePublicKey(enc)
	if err != nil || !dec.Equal(pub) {
		t.Errorf("DecodePublicKey(%q) = %x, %v", enc, dec, err)
	}
	for _, bad := range []string{
		"", "not base64!", base64.StdEncoding.EncodeToString(pub[:31]),
		base64.RawStdEncoding.EncodeToString(pub), // unpadded
	} {
		if _, err := DecodePublicKey(bad); err == nil {
			t.Errorf("DecodePublicKey(%q) accepted", bad)
		}
	}
}

func TestPrivateKeyPEM(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(payloadSeed)
	data, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("not PKCS#8 PEM:\n%s", data)
	}
	got, err := UnmarshalPrivateKey(data)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("UnmarshalPrivateKey = %x, %v", got, err)
	}
	if _, err := MarshalPrivateKey(priv[:32]); err == nil {
		t.Error("MarshalPrivateKey accepted a 32-byte key")
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := pem.Decode(data)
	for name, bad := range map[string][]byte{
		"empty":           nil,
		"not PEM":         []byte("hello"),
		"ECDSA key":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"wrong PEM type":  pem.EncodeToMemory(&pem.Block{Type: "ED25519 PRIVATE KEY", Bytes: der.Bytes}),
		"garbage DER":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"two keys in one": append(append([]byte{}, data...), data...),
	} {
		if _, err := UnmarshalPrivateKey(bad); err == nil {
			t.Errorf("UnmarshalPrivateKey accepted %s", name)
		}
	}
	// A key written by hand with trailing newlines is still one key.
	if _, err := UnmarshalPrivateKey(append(data, "\n\n"...)); err != nil {
		t.Errorf("trailing blank lines refused: %v", err)
	}
}

func TestUnsignedRefuses(t *testing.T) {
	valid := bagPayload()
	valid.KeyID = "k1"
	tests := []struct {
		name   string
		change func(p *Payload)
	}{
		{"no kind", func(p *Payload) { p.Kind = 0 }},
		{"unknown kind", func(p *Payload) { p.Kind = 'X' }},
		{"lower-case kind", func(p *Payload) { p.Kind = 'b' }},
		{"empty id", func(p *Payload) { p.ID = "" }},
		{"id with |", func(p *Payload) { p.ID = "DB|1" }},
		{"id with =", func(p *Payload) { p.ID = "DB=1" }},
		{"id with space", func(p *Payload) { p.ID = "DB 1" }},
		{"id with newline", func(p *Payload) { p.ID = "DB\n1" }},
		{"id with NUL", func(p *Payload) { p.ID = "DB\x001" }},
		{"id with DEL", func(p *Payload) { p.ID = "DB\x7f1" }},
		{"id not ASCII", func(p *Payload) { p.ID = "DB-é" }},
		{"dose bag without MRN", func(p *Payload) { p.MRN = "" }},
		{"MRN with |", func(p *Payload) { p.MRN = "12|34" }},
		{"unit with MRN", func(p *Payload) { p.Kind = KindUnit }},
		{"negative cells", func(p *Payload) { p.ViableCells = -1 }},
		{"print serial 0", func(p *Payload) { p.PrintSerial = 0 }},
		{"negative print serial", func(p *Payload) { p.PrintSerial = -2 }},
		{"no expiry", func(p *Payload) { p.Expiry = time.Time{} }},
		{"expiry with seconds", func(p *Payload) { p.Expiry = p.Expiry.Add(time.Second) }},
		{"expiry with nanoseconds", func(p *Payload) { p.Expiry = p.Expiry.Add(1) }},
		{"expiry after year 9999", func(p *Payload) { p.Expiry = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"expiry before year 1", func(p *Payload) { p.Expiry = time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC) }},
		{"empty key id", func(p *Payload) { p.KeyID = "" }},
		{"key id with |", func(p *Payload) { p.KeyID = "k|1" }},
		{"code over 512 bytes", func(p *Payload) { p.ID = strings.Repeat("A", 400) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := valid
			tc.change(&p)
			got, err := p.Unsigned()
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("Unsigned() = %q, %v; want ErrInvalidPayload", got, err)
			}
			if strings.Contains(err.Error(), "0012345678") {
				t.Errorf("error quotes the MRN: %v", err)
			}
		})
	}
}

func TestUnsignedAccepts(t *testing.T) {
	zone := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name   string
		change func(p *Payload)
		want   string // a piece of the text
	}{
		{"expiry in another zone is written in UTC", func(p *Payload) {
			p.Expiry = time.Date(2026, 11, 25, 23, 30, 0, 0, zone)
		}, "|X=20261125T1530Z|"},
		{"zero cells", func(p *Payload) { p.ViableCells = 0 }, "|N=0|"},
		{"largest cell count", func(p *Payload) { p.ViableCells = 1<<63 - 1 }, "|N=9223372036854775807|"},
		{"punctuation in ids", func(p *Payload) { p.ID = "A9999-26/000011_V00*" }, "|ID=A9999-26/000011_V00*|"},
		{"first print", func(p *Payload) { p.PrintSerial = 1 }, "|P=1|"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := bagPayload()
			p.KeyID = "k1"
			tc.change(&p)
			got, err := p.Unsigned()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("Unsigned() = %q, want it to contain %q", got, tc.want)
			}
		})
	}

	// The longest payload allowed signs to exactly the limit, and reads back.
	s := payloadSigner(t, "k1")
	p := unitPayload()
	base := mustSign(t, s, p)
	p.ID += strings.Repeat("9", MaxCodeLen-len(base))
	code := mustSign(t, s, p)
	if len(code) != MaxCodeLen {
		t.Fatalf("code is %d bytes, want %d", len(code), MaxCodeLen)
	}
	// The limit is on the code, not on what the scanner adds after it.
	if _, err := Verify(code+"\r\n", payloadRing(t, s)); err != nil {
		t.Errorf("a %d-byte code: %v", MaxCodeLen, err)
	}
	p.ID += "9"
	if _, err := s.Sign(p); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("a %d-byte code was signed: %v", MaxCodeLen+1, err)
	}
}

// dummySig is well-formed (Parse does not check signatures), so each parse case breaks
// exactly one rule.
var dummySig = strings.Repeat("A", 86)

// bagCode builds a dose-bag code from the valid fields, with the named ones replaced
// ("" drops a field, so tests can also reorder or add fields by hand).
func bagCode(change map[string]string) string {
	fields := []struct{ k, v string }{
		{"T", "B"}, {"ID", "DB-A999926000011-001"}, {"M", "0012345678"}, {"N", "70000000"},
		{"X", "20261125T1530Z"}, {"P", "3"}, {"K", "k1"}, {"S", dummySig},
	}
	var parts []string
	for _, f := range fields {
		v, ok := change[f.k]
		if !ok {
			v = f.k + "=" + f.v
		}
		if v != "" {
			parts = append(parts, v)
		}
	}
	return "CT1|" + strings.Join(parts, "|")
}

const validUnitCode = "CT1|T=U|ID=A99992600001100S1234V01|N=100000000|X=20270501T0000Z|P=1|K=k1|S="

func TestParseRules(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		reason string // "" when Parse must accept
	}{
		{"valid dose bag", bagCode(nil), ""},
		{"valid unit", validUnitCode + dummySig, ""},

		// Length, checked before anything is parsed.
		{"513 bytes", bagCode(map[string]string{"ID": "ID=" + strings.Repeat("A", 513-len(bagCode(nil))+len("DB-A999926000011-001"))}), ReasonTooLong},
		{"512 bytes", bagCode(map[string]string{"ID": "ID=" + strings.Repeat("A", 512-len(bagCode(nil))+len("DB-A999926000011-001"))}), ""},
		{"a megabyte", strings.Repeat("CT1|", 1<<18), ReasonTooLong},

		// Prefix and version.
		{"empty scan", "", ReasonTruncated},
		{"only the Enter key", "\r\n", ReasonTruncated},
		{"only the prefix", "CT1", ReasonTruncated},
		{"prefix and separator", "CT1|", ReasonTruncated},
		{"no prefix", strings.TrimPrefix(bagCode(nil), "CT1|"), ReasonNotCordtrace},
		{"lower-case prefix", "ct1|" + strings.TrimPrefix(bagCode(nil), "CT1|"), ReasonNotCordtrace},
		{"prefix without separator", "CT1" + strings.TrimPrefix(bagCode(nil), "CT1|"), ReasonNotCordtrace},
		{"an ISBT 128 DIN", "=A99992600001100", ReasonNotCordtrace},
		{"a wristband MRN", "0012345678", ReasonNotCordtrace},
		{"a later version", "CT2|" + strings.TrimPrefix(bagCode(nil), "CT1|"), ReasonUnsupportedVersion},
		{"version 10", "CT10|" + strings.TrimPrefix(bagCode(nil), "CT1|"), ReasonUnsupportedVersion},

		// Characters.
		{"NUL in a value", bagCode(map[string]string{"ID": "ID=DB\x001"}), ReasonMalformed},
		{"tab in a value", bagCode(map[string]string{"ID": "ID=DB\t1"}), ReasonMalformed},
		{"CR inside the code", bagCode(map[string]string{"ID": "ID=DB\r1"}), ReasonMalformed},
		{"DEL in a value", bagCode(map[string]string{"ID": "ID=DB\x7f1"}), ReasonMalformed},
		{"UTF-8 in a value", bagCode(map[string]string{"ID": "ID=DB-é"}), ReasonMalformed},
		{"space in a value", bagCode(map[string]string{"ID": "ID=DB 1"}), ReasonMalformed},
		{"= in a value", bagCode(map[string]string{"ID": "ID=DB=1"}), ReasonMalformed},

		// Field structure.
		{"empty field", bagCode(map[string]string{"N": "|N=70000000"}), ReasonMalformed},
		{"field without =", bagCode(map[string]string{"N": "N70000000"}), ReasonMalformed},
		{"ID before T", "CT1|ID=DB-1|T=B|M=0012345678|N=1|X=20261125T1530Z|P=3|K=k1|S=" + dummySig, ReasonMalformed},
		{"X before N", bagCode(map[string]string{"N": "X=20261125T1530Z", "X": "N=70000000"}), ReasonMalformed},
		{"K before P", bagCode(map[string]string{"P": "K=k1", "K": "P=3"}), ReasonMalformed},
		{"S not last", bagCode(map[string]string{"K": "S=" + dummySig, "S": "K=k1"}), ReasonMalformed},
		{"duplicate ID", bagCode(map[string]string{"ID": "ID=DB-1|ID=DB-2"}), ReasonMalformed},
		{"duplicate T", bagCode(map[string]string{"T": "T=B|T=B"}), ReasonMalformed},
		{"duplicate S", bagCode(map[string]string{"S": "S=" + dummySig + "|S=" + dummySig}), ReasonMalformed},
		{"unknown field", bagCode(map[string]string{"P": "P=3|Q=1"}), ReasonMalformed},
		{"lower-case field name", bagCode(map[string]string{"N": "n=70000000"}), ReasonMalformed},
		{"missing N", bagCode(map[string]string{"N": ""}), ReasonMalformed},
		{"missing X", bagCode(map[string]string{"X": ""}), ReasonMalformed},
		{"missing P", bagCode(map[string]string{"P": ""}), ReasonMalformed},
		{"missing K", bagCode(map[string]string{"K": ""}), ReasonMalformed},
		{"field after S", bagCode(nil) + "|Z=1", ReasonMalformed},
		{"separator after S", bagCode(nil) + "|", ReasonMalformed},

		// T.
		{"T unknown", bagCode(map[string]string{"T": "T=Z"}), ReasonMalformed},
		{"T lower case", bagCode(map[string]string{"T": "T=b"}), ReasonMalformed},
		{"T two letters", bagCode(map[string]string{"T": "T=BB"}), ReasonMalformed},
		{"T empty", bagCode(map[string]string{"T": "T="}), ReasonMalformed},

		// ID and M.
		{"ID empty", bagCode(map[string]string{"ID": "ID="}), ReasonMalformed},
		{"dose bag without M", bagCode(map[string]string{"M": ""}), ReasonMalformed},
		{"dose bag with empty M", bagCode(map[string]string{"M": "M="}), ReasonMalformed},
		{"unit with M", bagCode(map[string]string{"T": "T=U"}), ReasonMalformed},
		{"unit with empty M", "CT1|T=U|ID=U1|M=|N=1|X=20270501T0000Z|P=1|K=k1|S=" + dummySig, ReasonMalformed},

		// N.
		{"N zero", bagCode(map[string]string{"N": "N=0"}), ""},
		{"N largest int64", bagCode(map[string]string{"N": "N=9223372036854775807"}), ""},
		{"N over int64", bagCode(map[string]string{"N": "N=9223372036854775808"}), ReasonMalformed},
		{"N leading zero", bagCode(map[string]string{"N": "N=070000000"}), ReasonMalformed},
		{"N double zero", bagCode(map[string]string{"N": "N=00"}), ReasonMalformed},
		{"N plus sign", bagCode(map[string]string{"N": "N=+70000000"}), ReasonMalformed},
		{"N minus sign", bagCode(map[string]string{"N": "N=-70000000"}), ReasonMalformed},
		{"N exponent", bagCode(map[string]string{"N": "N=7e7"}), ReasonMalformed},
		{"N decimal point", bagCode(map[string]string{"N": "N=70000000.0"}), ReasonMalformed},
		{"N digit separator", bagCode(map[string]string{"N": "N=70_000_000"}), ReasonMalformed},
		{"N empty", bagCode(map[string]string{"N": "N="}), ReasonMalformed},

		// X.
		{"X leap day", bagCode(map[string]string{"X": "X=20280229T2359Z"}), ""},
		{"X no Z", bagCode(map[string]string{"X": "X=20261125T1530"}), ReasonMalformed},
		{"X lower case", bagCode(map[string]string{"X": "X=20261125t1530z"}), ReasonMalformed},
		{"X RFC 3339", bagCode(map[string]string{"X": "X=2026-11-25T15:30Z"}), ReasonMalformed},
		{"X with seconds", bagCode(map[string]string{"X": "X=20261125T153000Z"}), ReasonMalformed},
		{"X with an offset", bagCode(map[string]string{"X": "X=20261125T1530+0800"}), ReasonMalformed},
		{"X no T", bagCode(map[string]string{"X": "X=20261125 1530Z"}), ReasonMalformed},
		{"X short hour", bagCode(map[string]string{"X": "X=20261125T930Z"}), ReasonMalformed},
		{"X month 13", bagCode(map[string]string{"X": "X=20261325T1530Z"}), ReasonMalformed},
		{"X month 0", bagCode(map[string]string{"X": "X=20260025T1530Z"}), ReasonMalformed},
		{"X 31 November", bagCode(map[string]string{"X": "X=20261131T1530Z"}), ReasonMalformed},
		{"X 29 February, not a leap year", bagCode(map[string]string{"X": "X=20260229T1530Z"}), ReasonMalformed},
		{"X day 0", bagCode(map[string]string{"X": "X=20261100T1530Z"}), ReasonMalformed},
		{"X hour 24", bagCode(map[string]string{"X": "X=20261125T2400Z"}), ReasonMalformed},
		{"X minute 60", bagCode(map[string]string{"X": "X=20261125T1560Z"}), ReasonMalformed},
		{"X year 0", bagCode(map[string]string{"X": "X=00000101T0000Z"}), ReasonMalformed},
		{"X the zero time", bagCode(map[string]string{"X": "X=00010101T0000Z"}), ReasonMalformed},
		{"X empty", bagCode(map[string]string{"X": "X="}), ReasonMalformed},

		// P.
		{"P first print", bagCode(map[string]string{"P": "P=1"}), ""},
		{"P zero", bagCode(map[string]string{"P": "P=0"}), ReasonMalformed},
		{"P leading zero", bagCode(map[string]string{"P": "P=03"}), ReasonMalformed},
		{"P negative", bagCode(map[string]string{"P": "P=-3"}), ReasonMalformed},
		{"P plus sign", bagCode(map[string]string{"P": "P=+3"}), ReasonMalformed},
		{"P over int64", bagCode(map[string]string{"P": "P=9223372036854775808"}), ReasonMalformed},
		{"P empty", bagCode(map[string]string{"P": "P="}), ReasonMalformed},

		// K.
		{"K empty", bagCode(map[string]string{"K": "K="}), ReasonMalformed},

		// S.
		{"S 85 characters", bagCode(map[string]string{"S": "S=" + dummySig[:85]}), ReasonTruncated},
		{"S 87 characters", bagCode(map[string]string{"S": "S=" + dummySig + "A"}), ReasonMalformed},
		{"S padded", bagCode(map[string]string{"S": "S=" + dummySig[:84] + "=="}), ReasonMalformed},
		{"S standard base64 +", bagCode(map[string]string{"S": "S=" + dummySig[:85] + "+"}), ReasonMalformed},
		{"S standard base64 /", bagCode(map[string]string{"S": "S=/" + dummySig[:85]}), ReasonMalformed},
		{"S with a line break", bagCode(map[string]string{"S": "S=" + dummySig[:40] + "\n" + dummySig[:46]}), ReasonMalformed},
		{"S with non-zero padding bits", bagCode(map[string]string{"S": "S=" + dummySig[:85] + "B"}), ReasonMalformed},
		{"S base64url of 64 bytes", bagCode(map[string]string{"S": "S=" + dummySig[:85] + "Q"}), ""},
		{"S empty, not last", bagCode(map[string]string{"S": "S=|K=k1"}), ReasonMalformed},
		{"S missing", bagCode(map[string]string{"S": ""}), ReasonTruncated},

		// Truncated against malformed: a last field that could still grow is a partial scan.
		{"ends in the middle of X", bagCode(map[string]string{"X": "X=202611", "P": "", "K": "", "S": ""}), ReasonTruncated},
		{"ends in a field name", "CT1|T=B|I", ReasonTruncated},
		{"ends after a separator", "CT1|T=B|", ReasonTruncated},
		{"ends in a bad X", bagCode(map[string]string{"X": "X=2026-11", "P": "", "K": "", "S": ""}), ReasonMalformed},
		{"ends in a leading zero", bagCode(map[string]string{"N": "N=07", "X": "", "P": "", "K": "", "S": ""}), ReasonMalformed},
		{"ends in a bad field name", "CT1|T=B|Q", ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.code)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.code, err)
				}
				checkCanonical(t, tc.code, p)
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) accepted: %+v", tc.code, p)
			}
			wantReason(t, err, tc.reason)
			if strings.Contains(err.Error(), "0012345678") {
				t.Errorf("error quotes the MRN: %v", err)
			}
		})
	}
}

// The reason is what callers branch on; the detail is what a developer reads in the log, so
// it must name the rule that was broken.
func TestParseDetails(t *testing.T) {
	tests := []struct{ code, reason, detail string }{
		{bagCode(map[string]string{"T": "T=U"}), ReasonMalformed, "unit label carries an MRN"},
		{bagCode(map[string]string{"M": ""}), ReasonMalformed, "lacks the patient's MRN"},
		{bagCode(map[string]string{"X": "X=20261131T1530Z"}), ReasonMalformed, "not a real date"},
		{bagCode(map[string]string{"P": "P=0"}), ReasonMalformed, "field P: print serial must be 1 or more"},
		{bagCode(map[string]string{"N": "N=07"}), ReasonMalformed, "leading zero"},
		{bagCode(map[string]string{"P": "P=3|Q=1"}), ReasonMalformed, `unknown field "Q"`},
		{bagCode(map[string]string{"ID": "ID=DB-1|ID=DB-2"}), ReasonMalformed, "ID is repeated"},
		{bagCode(map[string]string{"N": "X=20261125T1530Z", "X": "N=70000000"}), ReasonMalformed, "X where N belongs: out of order"},
		{bagCode(nil) + "|Z=1", ReasonMalformed, "after the signature"},
		{bagCode(map[string]string{"ID": "ID=DB=1"}), ReasonMalformed, "'='"},
		{bagCode(map[string]string{"S": "S=" + dummySig[:85] + "B"}), ReasonMalformed, "64-byte signature"},
		{bagCode(map[string]string{"S": "S=" + dummySig[:85] + "+"}), ReasonMalformed, "byte 85 is not unpadded base64url"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.code)
		wantReason(t, err, tc.reason)
		if d := err.(*VerifyError).Detail; !strings.Contains(d, tc.detail) {
			t.Errorf("Parse(%q) detail = %q, want it to mention %q", tc.code, d, tc.detail)
		}
	}
}

// checkCanonical fails unless p serializes back to exactly the signed part of code.
func checkCanonical(t testing.TB, code string, p Payload) {
	t.Helper()
	code = strings.TrimSpace(code)
	u, err := p.Unsigned()
	if err != nil {
		t.Fatalf("Parse accepted %q but its payload does not serialize: %v", code, err)
	}
	if signed := code[:strings.LastIndex(code, "|S=")]; u != signed {
		t.Fatalf("Parse accepted %q, which serializes back as %q", signed, u)
	}
}

// Codes that Sign would never make, but signed with a trusted key all the same: only the
// canonical spelling of a label may verify, or one label could be presented as two.
func TestVerifyRefusesSignedNonCanonicalText(t *testing.T) {
	s := payloadSigner(t, "k1")
	ring := payloadRing(t, s)
	p := bagPayload()
	p.KeyID = "k1"
	canonical, err := p.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(signRaw(s, canonical), ring); err != nil {
		t.Fatalf("the canonical text signed by hand: %v", err)
	}
	for name, variant := range map[string]string{
		"leading zero in N": strings.Replace(canonical, "N=70000000", "N=070000000", 1),
		"plus sign in P":    strings.Replace(canonical, "P=3", "P=+3", 1),
		"leading zero in P": strings.Replace(canonical, "P=3", "P=03", 1),
		"seconds in X":      strings.Replace(canonical, "T1530Z", "T153000Z", 1),
		"lower-case T":      strings.Replace(canonical, "T=B", "T=b", 1),
		"fields swapped":    strings.Replace(canonical, "N=70000000|X=20261125T1530Z", "X=20261125T1530Z|N=70000000", 1),
		"extra field":       canonical + "|Z=1",
		"repeated field":    strings.Replace(canonical, "|P=3", "|P=3|P=3", 1),
		"space in ID":       strings.Replace(canonical, "ID=DB-", "ID=DB ", 1),
	} {
		if _, err := Verify(signRaw(s, variant), ring); err == nil {
			t.Errorf("%s: %q verified", name, variant)
		}
	}
}

func TestVerifyErrorText(t *testing.T) {
	_, err := Parse("CT1|T=B|ID=DB-1")
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse error is %T, want *VerifyError", err)
	}
	if ve.Message != "This label's code is incomplete: re-scan it, or type the id printed on the label." {
		t.Errorf("message = %q", ve.Message)
	}
	if !strings.Contains(err.Error(), ve.Message) || !strings.Contains(err.Error(), ReasonTruncated) {
		t.Errorf("Error() = %q, want the message and the reason", err.Error())
	}
	if ReasonOf(err) != ReasonTruncated || ReasonOf(errors.New("x")) != "" || ReasonOf(nil) != "" {
		t.Error("ReasonOf does not read the reason")
	}
	for reason, msg := range reasonMessages {
		if msg == "" || !strings.HasSuffix(msg, ".") {
			t.Errorf("reason %s has no sentence: %q", reason, msg)
		}
	}
}

func TestKindString(t *testing.T) {
	if KindUnit.String() != "U" || KindDoseBag.String() != "B" || Kind(0).String() == "" {
		t.Errorf("Kind strings: %q %q %q", KindUnit, KindDoseBag, Kind(0))
	}
}

// Verify checks each code's signature afresh: a code read good before does not let through
// its text, its signature or its key id put together otherwise.
func TestVerifyChecksEveryRead(t *testing.T) {
	k1 := payloadSigner(t, "k1")
	ring := payloadRing(t, k1)
	good := mustSign(t, k1, bagPayload())
	for range 2 {
		if _, err := Verify(good, ring); err != nil {
			t.Fatalf("a good code: %v", err)
		}
	}
	other, otherPub, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	otherRing := &KeyRing{}
	if err := otherRing.Add("k1", otherPub); err != nil {
		t.Fatal(err)
	}
	sigAt := strings.LastIndex(good, "|S=") + len("|S=")
	sig, err := base64.RawURLEncoding.DecodeString(good[sigAt:])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	tests := []struct {
		name string
		code string
		keys PublicKeys
	}{
		{"the remembered code under another key with the same key id", good, otherRing},
		{"the remembered text with another signature", good[:sigAt] + base64.RawURLEncoding.EncodeToString(sig), ring},
		{"the remembered signature on another text", strings.Replace(good, "N=70000000", "N=90000000", 1), ring},
		{"another key's code for the remembered text", mustSign(t, other, bagPayload()), ring},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				_, err := Verify(tc.code, tc.keys)
				wantReason(t, err, ReasonBadSignature)
			}
		})
	}
}
