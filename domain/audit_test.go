package domain

import (
	"strings"
	"testing"
	"time"
)

func chain(n int) []AuditEntry {
	var out []AuditEntry
	var prev *AuditEntry
	for i := 0; i < n; i++ {
		e := AuditEntry{
			At: time.Date(2026, 11, 25, 8, 0, i, 123456789, time.UTC), UserID: int64(i % 3), UserName: "Ann",
			Role: RoleQC, Action: "lot.create", EntityType: "lot", EntityID: "7",
			After: `{"status":"in_process"}`, RequestID: "r",
		}
		e.Seal(prev)
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func verify(entries []AuditEntry) ChainReport {
	v := NewChainVerifier()
	for _, e := range entries {
		v.Add(e)
	}
	return v.Report()
}

func TestSealChains(t *testing.T) {
	c := chain(3)
	if c[0].Seq != 1 || c[0].PrevHash != GenesisHash || c[1].PrevHash != c[0].Hash || c[2].Seq != 3 {
		t.Fatalf("chain not linked: %+v", c)
	}
	if c[0].At.Nanosecond()%1000 != 0 {
		t.Fatal("time not truncated to the microseconds both databases keep")
	}
	if rep := verify(c); !rep.OK || rep.Entries != 3 || rep.FirstBad != nil {
		t.Fatalf("intact chain: %+v", rep)
	}
}

// Every field is covered by the hash: changing any one of them breaks the entry.
func TestEveryFieldIsHashed(t *testing.T) {
	edits := map[string]func(*AuditEntry){
		"seq":         func(e *AuditEntry) { e.Seq++ },
		"at":          func(e *AuditEntry) { e.At = e.At.Add(time.Microsecond) },
		"user_id":     func(e *AuditEntry) { e.UserID = 99 },
		"user_name":   func(e *AuditEntry) { e.UserName = "Bob" },
		"role":        func(e *AuditEntry) { e.Role = RoleQA },
		"action":      func(e *AuditEntry) { e.Action = "lot.release" },
		"entity_type": func(e *AuditEntry) { e.EntityType = "unit" },
		"entity_id":   func(e *AuditEntry) { e.EntityID = "8" },
		"before":      func(e *AuditEntry) { e.Before = "{}" },
		"after":       func(e *AuditEntry) { e.After = `{"status":"released"}` },
		"reason":      func(e *AuditEntry) { e.Reason = "x" },
		"request_id":  func(e *AuditEntry) { e.RequestID = "other" },
		"prev_hash":   func(e *AuditEntry) { e.PrevHash = strings.Repeat("1", 64) },
	}
	base := chain(1)[0]
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.ComputeHash() == base.Hash {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
	// Moving bytes between adjacent fields must not collide either.
	a, b := base, base
	a.UserName, a.Role = "Ann"+"qc", ""
	b.UserName, b.Role = "Ann", "qc"
	if a.ComputeHash() == b.ComputeHash() {
		t.Error("field boundaries are ambiguous")
	}
}

func TestVerifierNamesFirstBreak(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func([]AuditEntry) []AuditEntry
		firstBad int64
		problem  string
	}{
		{"altered content", func(c []AuditEntry) []AuditEntry { c[2].Reason = "edited"; return c }, 3, "altered"},
		{"re-hashed alteration", func(c []AuditEntry) []AuditEntry {
			c[1].Reason = "edited"
			c[1].Hash = c[1].ComputeHash()
			return c
		}, 3, "removed or reordered"},
		{"removed entry", func(c []AuditEntry) []AuditEntry { return append(c[:1], c[2:]...) }, 3, "missing"},
		{"swapped entries", func(c []AuditEntry) []AuditEntry { c[1], c[2] = c[2], c[1]; return c }, 3, "missing"},
		{"wrong genesis", func(c []AuditEntry) []AuditEntry { c[0].PrevHash = c[1].Hash; return c }, 1, "removed or reordered"},
		{"first entry removed", func(c []AuditEntry) []AuditEntry { return c[1:] }, 2, "missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := verify(tc.tamper(chain(5)))
			if rep.OK || rep.FirstBad == nil || *rep.FirstBad != tc.firstBad || !strings.Contains(rep.Problem, tc.problem) {
				t.Fatalf("report = %+v (first bad %v), want %d %q", rep, deref(rep.FirstBad), tc.firstBad, tc.problem)
			}
			if rep.Entries < 4 {
				t.Fatalf("verifier stopped counting at the break: %d", rep.Entries)
			}
		})
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// A trail checked in stretches, joined in order, gives the report of one check from the
// start, wherever it is cut: a break inside any stretch and one at a cut alike.
func TestSegmentsJoinedReportAsOne(t *testing.T) {
	tampers := map[string]func([]AuditEntry) []AuditEntry{
		"intact":          func(c []AuditEntry) []AuditEntry { return c },
		"altered 2":       func(c []AuditEntry) []AuditEntry { c[1].Reason = "edited"; return c },
		"altered 5":       func(c []AuditEntry) []AuditEntry { c[4].Reason = "edited"; return c },
		"altered 6":       func(c []AuditEntry) []AuditEntry { c[5].UserName = "Bob"; return c },
		"re-hashed 4":     func(c []AuditEntry) []AuditEntry { c[3].Reason = "x"; c[3].Hash = c[3].ComputeHash(); return c },
		"removed 4":       func(c []AuditEntry) []AuditEntry { return append(c[:3], c[4:]...) },
		"removed 1":       func(c []AuditEntry) []AuditEntry { return c[1:] },
		"swapped 4 and 5": func(c []AuditEntry) []AuditEntry { c[3], c[4] = c[4], c[3]; return c },
		"wrong genesis":   func(c []AuditEntry) []AuditEntry { c[0].PrevHash = c[1].Hash; return c },
		"relinked 5": func(c []AuditEntry) []AuditEntry {
			c[4].PrevHash = c[2].Hash
			c[4].Hash = c[4].ComputeHash()
			return c
		},
	}
	for name, tamper := range tampers {
		c := tamper(chain(8))
		want := verify(c)
		for cut1 := 0; cut1 <= len(c); cut1++ {
			for cut2 := cut1; cut2 <= len(c); cut2++ {
				parts := [][]AuditEntry{c[:cut1], c[cut1:cut2], c[cut2:]}
				v := NewChainVerifier()
				for i, part := range parts {
					pv := v
					if i > 0 {
						pv = NewChainSegmentVerifier()
					}
					for _, e := range part {
						pv.Add(e)
					}
					if i > 0 {
						v.Join(pv)
					}
				}
				got := v.Report()
				if got.OK != want.OK || got.Entries != want.Entries || deref(got.FirstBad) != deref(want.FirstBad) || got.Problem != want.Problem {
					t.Errorf("%s cut at %d and %d: report %+v (first bad %d), want %+v (first bad %d)",
						name, cut1, cut2, got, deref(got.FirstBad), want, deref(want.FirstBad))
				}
			}
		}
	}
}

// A stretch that is sound in itself but does not follow the stretch before is a break at its
// first entry.
func TestJoinChecksTheLinkBetweenStretches(t *testing.T) {
	a, b := chain(6), chain(6)
	b[2].Reason = "rewritten"
	for i := 2; i < len(b); i++ {
		b[i].Seal(&b[i-1])
	}
	v := NewChainVerifier()
	for _, e := range a[:3] {
		v.Add(e)
	}
	next := NewChainSegmentVerifier()
	for _, e := range b[3:] {
		next.Add(e)
	}
	if rep := next.Report(); !rep.OK {
		t.Fatalf("the stretch alone: %+v", rep)
	}
	v.Join(next)
	rep := v.Report()
	if rep.OK || deref(rep.FirstBad) != 4 || !strings.Contains(rep.Problem, "removed or reordered") || rep.Entries != 6 {
		t.Fatalf("report = %+v (first bad %d)", rep, deref(rep.FirstBad))
	}
}

func TestAuditTimeEncodingIsTheLayout(t *testing.T) {
	zone := time.FixedZone("UTC+8", 8*3600)
	for _, at := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 6_789, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, zone),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(12026, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1_780_000_000, 123_456_000),
	} {
		want := AuditTime(at).Format(auditTimeLayout)
		if got := string(appendAuditTime(nil, at)); got != want {
			t.Errorf("%v: %q, want %q", at, got, want)
		}
	}
}
