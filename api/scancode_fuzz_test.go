package api

import (
	"testing"

	"cordtrace/domain"
)

// The ISBT 128 reader of scanned codes never panics, and any bag id it reads is a valid,
// check-able unit id.
func FuzzBagFromISBT(f *testing.F) {
	for _, s := range []string{"=+03000=A99992600001182=<S1234VAa&>0263652359", "=+04000=A99992600001182=<S1234V99=,000027&>0263652359",
		"=+04000=A99992600001182=<S1234VAa&>0263652359&/CHA999926000007", "=A99992600001182=<S1234VAa&>0263652359",
		"=A99992600001182", "=", "=+", "=A9999260000118=<S1234", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		bagID, refusal := bagFromISBT(code)
		if bagID == "" {
			if refusal == "" {
				t.Fatalf("%q: neither a bag id nor a refusal", code)
			}
			return
		}
		if _, err := domain.ParseUnitID(bagID); err != nil {
			t.Fatalf("%q read as bag id %q, which does not parse: %v", code, bagID, err)
		}
	})
}
