package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/migrations"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// BenchmarkRecordScan is the store's cost of a custody scan, every scan a write transaction
// with its audit entries, on each database, from 1 and from 16 goroutines: like a client of
// the load program, each takes the next bag, dispatches it and receives it. Preparing the
// bags is not timed.
// Run: go test -run '^$' -bench RecordScan -benchtime 2000x ./store (PostgreSQL env for both).
func BenchmarkRecordScan(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", backend, clients), func(b *testing.B) {
				// A busy machine can hold 16 queued writers past the default timeout.
				st := storetest.Open(b, backend, store.Options{DBTimeout: time.Minute})
				bags := preparedBags(b, st, b.N/2+clients)
				ctx := context.Background()
				var issued, nextBag atomic.Int64
				var wg sync.WaitGroup
				cpu := startCPU(b, st)
				b.ResetTimer()
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for issued.Add(1) <= int64(b.N) {
							bag := bags[nextBag.Add(1)-1]
							if _, err := st.RecordScan(ctx, bag.pharm, bag.custodyScan(domain.ScanDispatch, 5)); err != nil {
								b.Error(err)
								return
							}
							if issued.Add(1) > int64(b.N) {
								return
							}
							if _, err := st.RecordScan(ctx, bag.nurse, bag.custodyScan(domain.ScanReceive, 5)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
				cpu.report(b)
			})
		}
	}
}

// cpuMeter is the CPU time spent by this process and, on a PostgreSQL on the same machine,
// by the database's backends serving it (read from /proc), for the per-scan CPU cost that
// does not depend on how busy the machine is.
type cpuMeter struct {
	st       *store.Store
	self     time.Duration
	backends map[string]time.Duration
}

func startCPU(b *testing.B, st *store.Store) *cpuMeter {
	return &cpuMeter{st: st, self: selfCPU(), backends: backendCPU(b, st)}
}

func (m *cpuMeter) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64((selfCPU()-m.self).Microseconds())/n, "go-cpu-µs/op")
	if m.backends == nil {
		return
	}
	var pg time.Duration
	for pid, t := range backendCPU(b, m.st) {
		pg += t - m.backends[pid]
	}
	b.ReportMetric(float64(pg.Microseconds())/n, "pg-cpu-µs/op")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU is the CPU time of each PostgreSQL backend connected to the store's database,
// or nil when the database is not PostgreSQL or its processes cannot be read.
func backendCPU(b *testing.B, st *store.Store) map[string]time.Duration {
	if st.Dialect() != migrations.Postgres {
		return nil
	}
	rows, err := st.SQLDB().Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[string]time.Duration{}
	for rows.Next() {
		var pid string
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return nil
		}
		// Fields 14 and 15 (utime, stime, in clock ticks of 10 ms), after the command in parentheses.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}
