package labels

import (
	"errors"
	"strings"
	"testing"
)

func payloadFuzzSeeds(f *testing.F) {
	s := payloadSigner(f, "k1")
	for _, p := range []Payload{unitPayload(), bagPayload()} {
		code := mustSign(f, s, p)
		f.Add(code)
		f.Add(code + "\r\n")
		f.Add(code[:len(code)/2])
		f.Add(strings.Replace(code, "|N=", "|N=0", 1))
	}
	f.Add("")
	f.Add("CT1|")
	f.Add("CT2|T=B")
	f.Add(bagCode(map[string]string{"X": "X=20260229T1530Z"}))
	f.Add(bagCode(map[string]string{"S": "S=" + dummySig[:85] + "B"}))
	f.Add(validUnitCode + dummySig)
}

// checkRefusal fails unless err is a *VerifyError a caller can show and branch on.
func checkRefusal(t *testing.T, err error) {
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, not *VerifyError", err, err)
	}
	if _, known := reasonMessages[ve.Reason]; !known || ve.Message != reasonMessages[ve.Reason] {
		t.Fatalf("reason %q with message %q", ve.Reason, ve.Message)
	}
}

func FuzzParse(f *testing.F) {
	payloadFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, code string) {
		p, err := Parse(code)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkCanonical(t, code, p)
		// What Parse accepts it must accept again once re-serialized: no drift either way.
		trimmed := strings.TrimSpace(code)
		again, err := Parse(trimmed)
		if err != nil || !samePayload(again, p) {
			t.Fatalf("Parse(%q) = %+v then %+v, %v", trimmed, p, again, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	payloadFuzzSeeds(f)
	s := payloadSigner(f, "k1")
	ring := payloadRing(f, s)
	f.Fuzz(func(t *testing.T, code string) {
		p, err := Verify(code, ring)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// Ed25519 signing is deterministic, so the only text that verifies for a payload is
		// the one Sign makes.
		if want := mustSign(t, s, p); strings.TrimSpace(code) != want {
			t.Fatalf("Verify accepted %q, but the label's one text is %q", code, want)
		}
	})
}
