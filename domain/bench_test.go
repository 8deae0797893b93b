package domain

import (
	"fmt"
	"sync"
	"testing"
)

// Benchmarks of the domain's hot checks. Run: go test -run '^$' -bench . ./domain

func BenchmarkVerifyBedside(b *testing.B) {
	f := goodFacts()
	for b.Loop() {
		if v := VerifyBedside(f); !v.Pass {
			b.Fatalf("the good facts fail: %v", v.Failed())
		}
	}
}

func BenchmarkEvaluateRelease(b *testing.B) {
	spec, results := DefaultSpecV1(), passingResults()
	for b.Loop() {
		if ev := Evaluate(spec, results); !ev.Releasable {
			b.Fatal("the passing results are not releasable")
		}
	}
}

var (
	millionOnce sync.Once
	million     []AuditEntry
)

// BenchmarkChainVerify checks a chain built in memory, as `audit verify` does while streaming
// the table: entries=1000000 is the million-entry trail (target: at most 5 s per op).
func BenchmarkChainVerify(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			var c []AuditEntry
			if n == 1_000_000 {
				millionOnce.Do(func() { million = chain(n) })
				c = million
			} else {
				c = chain(n)
			}
			b.ResetTimer()
			for b.Loop() {
				if r := verify(c); !r.OK || r.Entries != int64(n) {
					b.Fatalf("report %+v", r)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}
