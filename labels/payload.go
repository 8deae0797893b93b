package labels

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The QR payload (SPEC §8) is a contract: scanners outside cordtrace are built against it, so
// every byte of its form is fixed here and pinned by a golden test.
//
//	CT1|T=<U|B>|ID=<id>[|M=<mrn>]|N=<viable cells>|X=<YYYYMMDDTHHMMZ>|P=<print serial>|K=<key id>|S=<signature>
//
// with these rules:
//   - Fields come in exactly this order, each once; M is present on dose bags (T=B) and absent
//     on units (T=U).
//   - Values are printable ASCII without space, '|' or '='. SPEC only forbids '|'; '=' is
//     refused too so that a reader splitting a field on any '=' (not just the first) still reads
//     it right, and space so that a scanner or a person can never leave a value that differs
//     only by invisible characters.
//   - N is a decimal integer ≥ 0 and P one ≥ 1, both without sign or leading zeros.
//   - X is the expiry in UTC, to the minute.
//   - S is the Ed25519 signature of every byte before "|S=", in base64url without padding
//     (86 characters), made with the key that K names. Public keys are published by kid.
//   - A whole code is at most MaxCodeLen bytes.
//
// Each payload has exactly one text: the parser refuses anything that is not the canonical
// form, so two different texts can never verify as the same label.
const (
	// CodePrefix opens every payload; its digit is the format version.
	CodePrefix = "CT1"
	// MaxCodeLen bounds a code, after surrounding whitespace is trimmed. It keeps the QR
	// small enough to scan from a bag and bounds the work done on untrusted input.
	MaxCodeLen = 512

	sigSep = "|S="
	sigLen = 86 // base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)
)

// Kind says whether a label is on a unit or on a patient's dose bag.
type Kind byte

const (
	KindUnit    Kind = 'U'
	KindDoseBag Kind = 'B'
)

// String returns the letter the payload uses for k.
func (k Kind) String() string {
	if k == KindUnit || k == KindDoseBag {
		return string(rune(k))
	}
	return fmt.Sprintf("Kind(%#x)", byte(k))
}

// Payload is what a label's QR code states. Only MRN identifies a patient, and only on a dose
// bag: the ids themselves never carry names or MRNs (SPEC §3).
type Payload struct {
	Kind        Kind
	ID          string // unit id or bag id
	MRN         string // dose bags only
	ViableCells int64
	Expiry      time.Time // any zone; printed in UTC, must be a whole minute
	PrintSerial int64     // 1 for the first print; each reprint gets the next
	KeyID       string
}

// ErrInvalidPayload is wrapped by every error of Unsigned and Sign about the payload's content:
// the caller built a label the format cannot carry, which is a bug or bad data upstream.
var ErrInvalidPayload = errors.New("labels: invalid payload")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPayload, fmt.Sprintf(format, args...))
}

// Unsigned returns the canonical text that the signature covers: everything before "|S=".
// It refuses, wrapping ErrInvalidPayload, any payload that could not be read back exactly.
// Errors never quote values, because one of them is an MRN.
func (p Payload) Unsigned() (string, error) {
	if p.Kind != KindUnit && p.Kind != KindDoseBag {
		return "", invalidf("kind %v is neither unit (U) nor dose bag (B)", p.Kind)
	}
	if err := checkValue("ID", p.ID); err != nil {
		return "", err
	}
	switch {
	case p.Kind == KindUnit && p.MRN != "":
		return "", invalidf("a unit label carries no MRN; only dose bags belong to a patient")
	case p.Kind == KindDoseBag:
		if err := checkValue("MRN", p.MRN); err != nil {
			return "", err
		}
	}
	if p.ViableCells < 0 {
		return "", invalidf("viable cells is negative")
	}
	x, err := formatExpiry(p.Expiry)
	if err != nil {
		return "", err
	}
	if p.PrintSerial < 1 {
		return "", invalidf("print serial must be 1 or more (the first print is 1)")
	}
	if err := checkValue("key id", p.KeyID); err != nil {
		return "", err
	}

	var b strings.Builder
	b.WriteString(CodePrefix)
	b.WriteString("|T=")
	b.WriteByte(byte(p.Kind))
	b.WriteString("|ID=")
	b.WriteString(p.ID)
	if p.Kind == KindDoseBag {
		b.WriteString("|M=")
		b.WriteString(p.MRN)
	}
	b.WriteString("|N=")
	b.WriteString(strconv.FormatInt(p.ViableCells, 10))
	b.WriteString("|X=")
	b.WriteString(x)
	b.WriteString("|P=")
	b.WriteString(strconv.FormatInt(p.PrintSerial, 10))
	b.WriteString("|K=")
	b.WriteString(p.KeyID)
	u := b.String()
	if n := len(u) + len(sigSep) + sigLen; n > MaxCodeLen {
		return "", invalidf("the signed code would be %d bytes, over the %d-byte limit", n, MaxCodeLen)
	}
	return u, nil
}

// checkValue applies the value rule of the format comment above.
func checkValue(name, v string) error {
	if problem := valueProblem(v); problem != "" {
		return invalidf("%s %s", name, problem)
	}
	return nil
}

func valueProblem(v string) string {
	if v == "" {
		return "is empty"
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '|':
			return fmt.Sprintf("contains '|' at byte %d, which separates fields", i)
		case c == '=':
			return fmt.Sprintf("contains '=' at byte %d, which separates names from values", i)
		case c <= ' ' || c > '~':
			return fmt.Sprintf("has byte %#x at %d; only printable ASCII without space is allowed", c, i)
		}
	}
	return ""
}

func formatExpiry(t time.Time) (string, error) {
	if t.IsZero() {
		return "", invalidf("expiry is missing")
	}
	t = t.UTC()
	if t.Second() != 0 || t.Nanosecond() != 0 {
		// Rounding either way would be a silent decision about when a product expires; the
		// caller makes it (Truncate(time.Minute) errs on the safe side).
		return "", invalidf("expiry %s is not a whole minute", t.Format(time.RFC3339Nano))
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return "", invalidf("expiry year %d does not fit in 4 digits", t.Year())
	}
	return fmt.Sprintf("%04d%02d%02dT%02d%02dZ", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute()), nil
}

// Reasons a code is refused. They are stable: clients branch on them and reports count them.
const (
	// ReasonTruncated: the text is the start of a code but stops early (a partial scan).
	ReasonTruncated = "truncated"
	// ReasonTooLong: longer than any label code can be.
	ReasonTooLong = "too_long"
	// ReasonNotCordtrace: not a cordtrace label code at all (another barcode was scanned).
	ReasonNotCordtrace = "not_cordtrace"
	// ReasonUnsupportedVersion: a cordtrace code of a format version this build cannot read.
	ReasonUnsupportedVersion = "unsupported_version"
	// ReasonMalformed: a cordtrace code that breaks a rule of the format.
	ReasonMalformed = "malformed"
	// ReasonUnknownKey: well formed, but signed with a key id that is not trusted here.
	ReasonUnknownKey = "unknown_key"
	// ReasonBadSignature: well formed, but the signature does not match: altered or forged.
	ReasonBadSignature = "bad_signature"
)

// Sentences for the person holding the scanner. A code that is authentic-looking but fails
// its signature must not invite a workaround, so only unreadable codes suggest typing the id.
var reasonMessages = map[string]string{
	ReasonTruncated:          "This label's code is incomplete: re-scan it, or type the id printed on the label.",
	ReasonTooLong:            "This is not a cordtrace label code (it is too long): scan the QR code on the bag or unit label.",
	ReasonNotCordtrace:       "This is not a cordtrace label code: scan the QR code on the bag or unit label.",
	ReasonUnsupportedVersion: "This label's code is in a format this system cannot read: do not use the product; call the pharmacy.",
	ReasonMalformed:          "This label's code is damaged or invalid: re-scan it; if it fails again, do not use the product and call the pharmacy.",
	ReasonUnknownKey:         "This label was not signed by a key this system trusts: do not use the product; call the pharmacy.",
	ReasonBadSignature:       "This label failed its authenticity check and may have been altered: do not use the product; call the pharmacy.",
}

// VerifyError is why a scanned code was refused. Reason is one of the Reason constants,
// Message a sentence for the nurse or pharmacist, and Detail the technical cause for logs and
// the audit trail. Detail never quotes the id or the MRN, so logs carry no patient data.
type VerifyError struct {
	Reason  string
	Message string
	Detail  string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return e.Message
	}
	return fmt.Sprintf("%s (%s: %s)", e.Message, e.Reason, e.Detail)
}

// ReasonOf returns the Reason of the first *VerifyError in err's chain, or "" if there is none.
func ReasonOf(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

func refuse(reason, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: reason, Message: reasonMessages[reason], Detail: fmt.Sprintf(format, args...)}
}

// The order is part of the contract: outside readers may rely on position, and one order
// per kind is what makes each payload's text unique.
var (
	unitFields = []string{"T", "ID", "N", "X", "P", "K", "S"}
	bagFields  = []string{"T", "ID", "M", "N", "X", "P", "K", "S"}
)

type parsed struct {
	p      Payload
	signed string // the exact bytes the signature covers
	sig    []byte
}

// Parse reads a scanned code without checking its signature: use it to show what a code
// claims, and Verify to trust it. Surrounding whitespace is trimmed first, because
// keyboard-wedge scanners end a scan with Enter. Every error is a *VerifyError.
func Parse(code string) (Payload, error) {
	r, err := parse(code)
	if err != nil {
		return Payload{}, err
	}
	return r.p, nil
}

func parse(code string) (parsed, error) {
	s := strings.TrimSpace(code)
	if len(s) > MaxCodeLen {
		return parsed{}, refuse(ReasonTooLong, "%d bytes, over the %d-byte limit", len(s), MaxCodeLen)
	}
	if err := checkPrefix(s); err != nil {
		return parsed{}, err
	}
	var r parsed
	segs := strings.Split(s[len(CodePrefix)+1:], "|")
	want := []string{"T"} // the rest of the order depends on T
	for i, seg := range segs {
		last := i == len(segs)-1
		if i >= len(want) {
			return parsed{}, refuse(ReasonMalformed, "text after the signature")
		}
		key, val, ok := strings.Cut(seg, "=")
		if !ok {
			if last && strings.HasPrefix(want[i], seg) {
				return parsed{}, refuse(ReasonTruncated, "ends inside the name of field %s", want[i])
			}
			return parsed{}, refuse(ReasonMalformed, "field %d has no '='", i+1)
		}
		if key != want[i] {
			return parsed{}, orderError(key, want, i, r.p.Kind)
		}
		if err := r.setField(key, val, last); err != nil {
			return parsed{}, err
		}
		if key == "T" {
			want = unitFields
			if r.p.Kind == KindDoseBag {
				want = bagFields
			}
		}
	}
	if len(segs) < len(want) {
		return parsed{}, refuse(ReasonTruncated, "ends before field %s", want[len(segs)])
	}

	r.signed = s[:strings.LastIndex(s, sigSep)]
	// The field rules above should admit only canonical text; this makes it a guarantee,
	// whatever those rules miss, so that one label never has two verifiable spellings.
	u, err := r.p.Unsigned()
	if err != nil {
		return parsed{}, refuse(ReasonMalformed, "%v", err)
	}
	if u != r.signed {
		return parsed{}, refuse(ReasonMalformed, "not in canonical form")
	}
	return r, nil
}

func checkPrefix(s string) error {
	head := CodePrefix + "|"
	switch {
	case strings.HasPrefix(s, head):
		return nil
	case strings.HasPrefix(head, s): // includes the empty scan
		return refuse(ReasonTruncated, "ends inside the %s prefix", CodePrefix)
	}
	if v, _, ok := strings.Cut(s, "|"); ok && len(v) > 2 && v[:2] == "CT" && allDigits(v[2:]) {
		return refuse(ReasonUnsupportedVersion, "format %s; this build reads %s", v, CodePrefix)
	}
	return refuse(ReasonNotCordtrace, "does not start with %s|", CodePrefix)
}

// orderError explains a field found where want[i] belongs.
func orderError(key string, want []string, i int, kind Kind) error {
	switch {
	case kind == KindUnit && key == "M":
		return refuse(ReasonMalformed, "a unit label carries an MRN (M)")
	case slices.Contains(want[:i], key):
		return refuse(ReasonMalformed, "field %s is repeated", key)
	case want[i] == "M":
		return refuse(ReasonMalformed, "a dose-bag label lacks the patient's MRN (M)")
	case slices.Contains(bagFields, key):
		return refuse(ReasonMalformed, "field %s where %s belongs: out of order", key, want[i])
	}
	if len(key) > 16 {
		key = key[:16] + "…"
	}
	return refuse(ReasonMalformed, "unknown field %q where %s belongs", key, want[i])
}

// setField checks and stores one value. A value that fails in the last field, but could be
// the start of a valid one, means the scan stopped early: truncated, not malformed.
func (r *parsed) setField(key, val string, last bool) error {
	fail := func(startOK bool, format string, args ...any) error {
		if last && startOK {
			return refuse(ReasonTruncated, "ends inside field %s", key)
		}
		return refuse(ReasonMalformed, "field %s: %s", key, fmt.Sprintf(format, args...))
	}
	if key != "S" {
		if problem := valueProblem(val); problem != "" {
			return fail(val == "", "%s", problem)
		}
	}
	switch key {
	case "T":
		if val != string(KindUnit) && val != string(KindDoseBag) {
			return fail(false, "kind must be U or B")
		}
		r.p.Kind = Kind(val[0])
	case "ID":
		r.p.ID = val
	case "M":
		r.p.MRN = val
	case "K":
		r.p.KeyID = val
	case "N":
		n, err := parseCount(val)
		if err != nil {
			return fail(false, "%v", err)
		}
		r.p.ViableCells = n
	case "P":
		n, err := parseCount(val)
		if err != nil {
			return fail(false, "%v", err)
		}
		if n < 1 {
			return fail(false, "print serial must be 1 or more")
		}
		r.p.PrintSerial = n
	case "X":
		t, err := parseExpiry(val)
		if err != nil {
			return fail(expiryPrefix(val), "%v", err)
		}
		r.p.Expiry = t
	case "S":
		for i := 0; i < len(val); i++ {
			if !isBase64URL(val[i]) {
				return fail(false, "byte %d is not unpadded base64url", i)
			}
		}
		if len(val) != sigLen {
			return fail(len(val) < sigLen, "%d characters, want %d", len(val), sigLen)
		}
		// Strict refuses non-zero padding bits, which would give one signature several texts.
		sig, err := base64.RawURLEncoding.Strict().DecodeString(val)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return fail(false, "not the base64url of a %d-byte signature", ed25519.SignatureSize)
		}
		r.sig = sig
	}
	return nil
}

// parseCount reads a non-negative decimal integer in its one canonical spelling.
func parseCount(s string) (int64, error) {
	if !allDigits(s) {
		return 0, errors.New("not a plain decimal number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("number too large")
	}
	return n, nil
}

const expiryPattern = "ddddddddTddddZ"

// expiryPrefix reports whether s could be the start of an expiry, cut short by the scan.
func expiryPrefix(s string) bool {
	if len(s) >= len(expiryPattern) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if p := expiryPattern[i]; p == 'd' && !isDigit(s[i]) || p != 'd' && s[i] != p {
			return false
		}
	}
	return true
}

func parseExpiry(s string) (time.Time, error) {
	if len(s) != len(expiryPattern) || !expiryPrefix(s[:len(s)-1]) || s[len(s)-1] != 'Z' {
		return time.Time{}, errors.New("expiry is not YYYYMMDDTHHMMZ")
	}
	num := func(i, j int) int { n, _ := strconv.Atoi(s[i:j]); return n }
	y, mo, d, h, mi := num(0, 4), num(4, 6), num(6, 8), num(9, 11), num(11, 13)
	t := time.Date(y, time.Month(mo), d, h, mi, 0, 0, time.UTC)
	// time.Date normalizes (30 February becomes 2 March); a real date survives unchanged.
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d || t.Hour() != h || t.Minute() != mi {
		return time.Time{}, errors.New("expiry is not a real date and time")
	}
	return t, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c) || c == '-' || c == '_'
}

// PublicKeys finds the public key a label names by its key id. Several keys may answer at
// once, so labels printed before a key rotation still verify.
type PublicKeys interface {
	PublicKey(kid string) (ed25519.PublicKey, bool)
}

// Verify parses code and checks its signature, over exactly the scanned bytes before "|S=".
// It returns the payload only when the code is authentic; otherwise a *VerifyError and the
// zero Payload, so that an unverified claim cannot be used by mistake. Whether the print is
// the bag's current one, and whether the key vouches for that print (it signed it, and was not
// revoked: domain.LabelKeyProblem), is the caller's check: this package knows no print history.
func Verify(code string, keys PublicKeys) (Payload, error) {
	r, err := parse(code)
	if err != nil {
		return Payload{}, err
	}
	var pub ed25519.PublicKey
	ok := false
	if keys != nil {
		pub, ok = keys.PublicKey(r.p.KeyID)
	}
	if !ok {
		return Payload{}, refuse(ReasonUnknownKey, "no public key for the label's key id")
	}
	if len(pub) != ed25519.PublicKeySize { // ed25519.Verify panics on a short key
		return Payload{}, refuse(ReasonUnknownKey, "the public key for the label's key id is %d bytes, not %d", len(pub), ed25519.PublicKeySize)
	}
	if !ed25519.Verify(pub, []byte(r.signed), r.sig) {
		return Payload{}, refuse(ReasonBadSignature, "signature does not match key %s", r.p.KeyID)
	}
	return r.p, nil
}

// Signer signs label payloads with one private key, named by its key id.
type Signer struct {
	kid  string
	priv ed25519.PrivateKey
}

// NewSigner returns a Signer for priv under key id kid. The kid must follow the value rule
// of the payload, because it is printed in every code.
func NewSigner(kid string, priv ed25519.PrivateKey) (*Signer, error) {
	if err := checkValue("key id", kid); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("labels: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	// A private key carries its public half; if they disagree, every label would be
	// printed fine and fail at the bedside.
	if !ed25519.NewKeyFromSeed(priv.Seed()).Equal(priv) {
		return nil, errors.New("labels: private key's public half does not match its seed")
	}
	return &Signer{kid: kid, priv: slices.Clone(priv)}, nil
}

// GenerateKey makes a new random key pair for kid.
func GenerateKey(kid string) (*Signer, ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("labels: generating key: %w", err)
	}
	s, err := NewSigner(kid, priv)
	if err != nil {
		return nil, nil, err
	}
	return s, pub, nil
}

// KeyID returns the key id printed in the codes s signs.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the public key that verifies s's signatures.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return slices.Clone(s.priv.Public().(ed25519.PublicKey))
}

// PrivateKey returns s's private key, for storing it with MarshalPrivateKey.
func (s *Signer) PrivateKey() ed25519.PrivateKey { return slices.Clone(s.priv) }

// Sign returns the full code text for p, signed by s. p.KeyID is replaced by s's key id, so a
// code always names the key that signed it. Errors about p wrap ErrInvalidPayload.
func (s *Signer) Sign(p Payload) (string, error) {
	if s == nil || len(s.priv) != ed25519.PrivateKeySize {
		return "", errors.New("labels: signer has no key; use NewSigner")
	}
	p.KeyID = s.kid
	u, err := p.Unsigned()
	if err != nil {
		return "", err
	}
	return u + sigSep + base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.priv, []byte(u))), nil
}

// KeyRing is a set of trusted public keys by key id. The zero value is empty and ready; it is
// safe for concurrent use, so keys can be added during a rotation while scans are verified.
type KeyRing struct {
	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey
}

// Add trusts pub under kid. A kid names one key for good: adding a different key under a kid
// already present is refused, since it would silently change which labels verify.
func (r *KeyRing) Add(kid string, pub ed25519.PublicKey) error {
	if err := checkValue("key id", kid); err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("labels: public key for %s is %d bytes, want %d", kid, len(pub), ed25519.PublicKeySize)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.keys[kid]; ok {
		if old.Equal(pub) {
			return nil
		}
		return fmt.Errorf("labels: key id %s already names a different key", kid)
	}
	if r.keys == nil {
		r.keys = make(map[string]ed25519.PublicKey)
	}
	r.keys[kid] = slices.Clone(pub)
	return nil
}

// Remove stops trusting kid: every label it signed is refused from then on.
func (r *KeyRing) Remove(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, kid)
}

// PublicKey implements PublicKeys. A nil *KeyRing trusts nothing.
func (r *KeyRing) PublicKey(kid string) (ed25519.PublicKey, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	pub, ok := r.keys[kid]
	return slices.Clone(pub), ok
}

// PublishedKey is one entry of GET /label-keys (SPEC §12).
type PublishedKey struct {
	KID       string `json:"kid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"` // standard base64 of the 32-byte key
}

// Published lists the ring's keys as GET /label-keys serves them, ordered by kid so the
// answer is stable.
func (r *KeyRing) Published() []PublishedKey {
	if r == nil {
		return []PublishedKey{}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PublishedKey, 0, len(r.keys))
	for kid, pub := range r.keys {
		out = append(out, PublishedKey{KID: kid, Alg: "Ed25519", PublicKey: EncodePublicKey(pub)})
	}
	slices.SortFunc(out, func(a, b PublishedKey) int { return strings.Compare(a.KID, b.KID) })
	return out
}

// EncodePublicKey returns pub in standard, padded base64, as GET /label-keys publishes it.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// DecodePublicKey reads a key written by EncodePublicKey.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("labels: public key is not standard base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("labels: public key is %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

const pemPrivateKey = "PRIVATE KEY"

// MarshalPrivateKey encodes priv as unencrypted PKCS#8 PEM, the form openssl and most key
// stores read. Whoever stores it must protect it: it can sign labels.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("labels: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("labels: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// UnmarshalPrivateKey reads one Ed25519 key written by MarshalPrivateKey (or by
// `openssl genpkey -algorithm ed25519`). Anything else in the data is refused, so that a file
// holding two keys cannot silently sign with the first.
func UnmarshalPrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("labels: no PEM block in private key data")
	}
	if block.Type != pemPrivateKey {
		return nil, fmt.Errorf("labels: PEM block is %q, want %q (PKCS#8)", block.Type, pemPrivateKey)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("labels: data follows the private key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("labels: reading PKCS#8 private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("labels: private key is %T, not Ed25519", key)
	}
	return priv, nil
}

// NewLabelKey makes a new signing key as the store keeps it, named for its day of creation
// and a random suffix so that two processes creating keys at once never share a name.
func NewLabelKey(now time.Time) (kid string, publicKey string, privatePEM string, err error) {
	suffix := make([]byte, 3)
	if _, err = rand.Read(suffix); err != nil {
		return "", "", "", err
	}
	kid = fmt.Sprintf("k%s%x", now.UTC().Format("20060102"), suffix)
	s, pub, err := GenerateKey(kid)
	if err != nil {
		return "", "", "", err
	}
	pem, err := MarshalPrivateKey(s.PrivateKey())
	if err != nil {
		return "", "", "", err
	}
	return kid, EncodePublicKey(pub), string(pem), nil
}
