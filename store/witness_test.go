package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
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

// One lot rule at every step (domain.LotUsability): a lot in quarantine reaches a patient only
// through an exceptional release for that patient, a lot in process never (even with the
// signatures), and an expired lot nowhere: dispatch, receipt, bedside and infusion start agree.
func TestOneLotRuleAtEveryStep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		db := st.Gorm()
		lot := func(status string, expires time.Time) {
			t.Helper()
			if err := db.Exec(`UPDATE lots SET status = ?, expires_at = ? WHERE id = ?`, status, expires, b.lot.ID).Error; err != nil {
				t.Fatal(err)
			}
		}
		later, earlier := time.Now().UTC().AddDate(1, 0, 0), time.Now().UTC().Add(-time.Hour)
		refused := func(what string, err error, want string) {
			t.Helper()
			if domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(domain.ErrorMessage(err), want) {
				t.Fatalf("%s: %v; want refused saying %q", what, err, want)
			}
		}
		scan := func(kind string) error {
			actor := b.pharm
			if kind == domain.ScanReceive {
				actor = b.nurse
			}
			_, err := st.RecordScan(ctx, actor, b.custodyScan(kind, 5))
			return err
		}
		lot("quarantine", later)
		refused("dispatch from quarantine", scan(domain.ScanDispatch), "in quarantine and not released for this patient")
		for _, sg := range []struct {
			action domain.SignatureAction
			by     domain.Actor
		}{{domain.SignExceptionalQA, b.pharm}, {domain.SignExceptionalPhysician, b.doc}} {
			if err := db.Exec(`INSERT INTO signatures (lot_id, action, user_id, printed_name, role, meaning, patient_id, signed_at)
				VALUES (?, ?, ?, 'Test', 'qa', 'test', ?, ?)`, b.lot.ID, string(sg.action), sg.by.UserID, b.patient.ID, time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := scan(domain.ScanDispatch); err != nil {
			t.Fatalf("dispatch under an exceptional release for the bag's patient: %v", err)
		}
		lot("in_process", later)
		refused("receipt from a lot in process", scan(domain.ScanReceive), "still in manufacture")
		lot("quarantine", earlier)
		refused("receipt from an expired lot", scan(domain.ScanReceive), "expired on")
		lot("quarantine", later)
		if err := scan(domain.ScanReceive); err != nil {
			t.Fatal(err)
		}
		v := b.verify(t, "MRN0001", domain.CustodyScan{})
		if !v.Pass {
			t.Fatalf("exceptional release for this patient at the bedside: %+v", v.Checks)
		}
		lot("in_process", later)
		if v := b.verify(t, "MRN0001", domain.CustodyScan{}); v.Pass || !strings.Contains(v.Checks[3].Message, "still in manufacture") {
			t.Fatalf("a lot in process at the bedside: %+v", v.Checks[3])
		}
		_, err := st.StartInfusion(ctx, b.nurse, v.ID)
		refused("infusion from a lot in process", err, "still in manufacture")
		lot("quarantine", earlier)
		_, err = st.StartInfusion(ctx, b.nurse, v.ID)
		refused("infusion from an expired lot", err, "expired on")
		lot("quarantine", later)
		if _, err := st.StartInfusion(ctx, b.nurse, v.ID); err != nil {
			t.Fatalf("infusion under an exceptional release for this patient: %v", err)
		}
		mustVerify(t, st)
	})
}
