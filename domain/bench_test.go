package domain

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
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

// BenchmarkPasswordMatches is one password check at DefaultPasswordCost, as a login, a
// witness at the bedside and a second pharmacist's check each make: the hash's share of their
// latency. It reports CPU time as well, which a busy machine does not inflate as it does the
// wall-clock time.
func BenchmarkPasswordMatches(b *testing.B) {
	hash, err := HashPassword("correct horse battery", DefaultPasswordCost)
	if err != nil {
		b.Fatal(err)
	}
	start := processCPU()
	for b.Loop() {
		if !PasswordMatches(hash, "correct horse battery") {
			b.Fatal("the password does not match its hash")
		}
	}
	b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
