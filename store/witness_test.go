package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store/storetest"
)

// One witness token, sent with four verifications at once on two stores standing in for two
// serve processes: one verification is witnessed by it, the others fail WITNESS (or are
// refused as a conflict when they meet at the same moment), and the database holds one use.
func TestWitnessTokenOnceUnderConcurrency(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			stores := sharedStores(t, backend, 2)
			bags := preparedBags(t, stores[0], 4)
			for _, b := range bags {
				b.scan(t, domain.ScanDispatch, 5)
				b.scan(t, domain.ScanReceive, 5)
			}
			ctx := context.Background()
			nurse := bags[0].nurse
			tok, err := stores[0].IssueWitnessToken(ctx, nurse, bags[0].witness.Username, "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			if !tok.ExpiresAt.After(time.Now().Add(time.Minute)) || !tok.ExpiresAt.Before(time.Now().Add(2*time.Minute+time.Second)) {
				t.Fatalf("token expires at %v, want in 2 minutes", tok.ExpiresAt)
			}
			var mu sync.Mutex
			var witnessed, refusedByCheck, conflicts int
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, b := range bags {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					req := b.bedsideRequest(b.patient.MRN, domain.CustodyScan{})
					req.Witness, req.WitnessToken = domain.WitnessFacts{}, tok.Token
					v, err := stores[i%2].Verify(ctx, nurse, req)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case domain.ErrorCode(err) == domain.EConflict:
						conflicts++
					case err != nil:
						t.Errorf("verification %d: %v", i, err)
					case v.Pass:
						witnessed++
					case len(v.Checks) == 10 && !v.Checks[9].Pass && strings.Contains(v.Checks[9].Message, "already used"):
						refusedByCheck++
					default:
						t.Errorf("verification %d: %+v", i, v)
					}
				}()
			}
			close(start)
			wg.Wait()
			if witnessed != 1 || refusedByCheck+conflicts != 3 {
				t.Fatalf("witnessed %d, WITNESS failed %d, conflicts %d; want 1 witnessed and 3 refused", witnessed, refusedByCheck, conflicts)
			}
			var uses int
			if err := stores[0].SQLDB().QueryRowContext(ctx, `SELECT COUNT(*) FROM verifications WHERE witness_token_id IS NOT NULL`).Scan(&uses); err != nil {
				t.Fatal(err)
			}
			if uses != 1 {
				t.Fatalf("%d verifications used the token, want 1", uses)
			}
			mustVerify(t, stores[0])
		})
	}
}
