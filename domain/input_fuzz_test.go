package domain

import "testing"

// The chain-of-identity reader never panics, and what it reads prints back as the same text.
func FuzzParseChainOfIdentity(f *testing.F) {
	for _, s := range []string{"&/CHA999926000007", "&/CHA999926000000", "&/CHO999926000007", "&/CH", "", "&/CHA99992600000\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChainOfIdentity(s)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("%q: error %v is not an invalid-input error", s, err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("%q read as %+v, which prints as %q", s, c, c.String())
		}
	})
}

// Lot statuses and roles named in a query or a body are read exactly or refused.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"released", "quarantine", "qa", "nurse", "Released", "", "admin\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if st, err := ParseLotStatus(s); err == nil && string(st) != s {
			t.Fatalf("status %q read as %q", s, st)
		} else if err != nil && ErrorCode(err) != EInvalid {
			t.Fatalf("status %q: %v", s, err)
		}
		if r, err := ParseRole(s); err == nil && string(r) != s {
			t.Fatalf("role %q read as %q", s, r)
		} else if err != nil && ErrorCode(err) != EInvalid {
			t.Fatalf("role %q: %v", s, err)
		}
	})
}
