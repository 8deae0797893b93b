package store_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// verifiedBag takes a bag from a released lot through order, preparation, dispatch, receipt and
// a passing bedside verification, and returns the verification id.
func verifiedBag(t *testing.T, st *store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	l := newLab(t, st)
	lot := l.lot(domain.Eligible)
	l.record(l.qc, lot.ID, passingResults()...)
	if _, err := st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	units, err := st.CreateUnits(ctx, l.qc, lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, role domain.Role) domain.Actor {
		u, err := st.CreateUser(ctx, admin, newUser(name, role))
		if err != nil {
			t.Fatal(err)
		}
		return actorFor(u, role)
	}
	doc, pharm, nurse, witness := mk("dr.a", domain.RolePhysician), mk("ph.b", domain.RolePharmacist), mk("rn.c", domain.RoleNurse), mk("rn.d", domain.RoleNurse)
	p, err := st.Enrol(ctx, doc, domain.Patient{SubjectID: "SVP-001", MRN: "MRN0001", Name: "Li Wei", DateOfBirth: "1960-05-01",
		WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	order, err := st.OrderDose(ctx, doc, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	bag, err := st.PrepareDoseBag(ctx, pharm, order.ID, domain.NewDoseBag{UnitIDs: []int64{units[0].ID, units[1].ID},
		ThawedAt: time.Now().Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 70_000_000, VolumeML: 50})
	if err != nil {
		t.Fatal(err)
	}
	temp := 5.0
	for _, kind := range []string{domain.ScanDispatch, domain.ScanReceive} {
		actor := pharm
		if kind == domain.ScanReceive {
			actor = nurse
		}
		if _, err := st.RecordScan(ctx, actor, domain.CustodyScan{Kind: kind, Code: bag.BagID + bag.Check, CodeKind: domain.CodeManual,
			BagID: bag.BagID, Location: "ICU", TemperatureC: &temp}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	v, err := st.Verify(ctx, nurse, domain.BedsideRequest{Wristband: "MRN0001",
		Scan:    domain.CustodyScan{Code: bag.BagID + bag.Check, CodeKind: domain.CodeManual, BagID: bag.BagID},
		Witness: domain.WitnessFacts{Authenticated: true, UserID: witness.UserID, Name: witness.FullName, Roles: []domain.Role{domain.RoleNurse}}})
	if err != nil || !v.Pass {
		t.Fatalf("verification: %+v %v", v, err)
	}
	return v.ID
}

// Concurrent infusion starts for one bag, from two stores standing in for two serve processes:
// exactly one succeeds, every other gets a conflict.
func TestOneInfusionPerBagUnderConcurrency(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			stores := sharedStores(t, b, 2)
			vid := verifiedBag(t, stores[0])
			nurse := domain.Actor{UserID: 1, Username: "admin", FullName: "Test", Role: domain.RoleNurse}
			var ok, conflict atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					_, err := stores[i%2].StartInfusion(context.Background(), nurse, vid)
					switch domain.ErrorCode(err) {
					case "":
						ok.Add(1)
					case domain.EConflict:
						conflict.Add(1)
					default:
						t.Errorf("start %d: %v", i, err)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			if ok.Load() != 1 || conflict.Load() != 15 {
				t.Fatalf("%d infusions started, %d conflicts; want exactly 1 and 15", ok.Load(), conflict.Load())
			}
			mustVerify(t, stores[0])
		})
	}
}

// An infusion starts only from a verification younger than the spec's 30 minutes.
func TestInfusionNeedsARecentVerification(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			clk := newClock()
			clk.t = time.Now().UTC()
			st := storetest.Open(t, b, store.Options{Now: clk.Now})
			vid := verifiedBag(t, st)
			nurse := domain.Actor{UserID: 1, Username: "admin", FullName: "Test", Role: domain.RoleNurse}
			clk.Advance(30 * time.Minute)
			_, err := st.StartInfusion(context.Background(), nurse, vid)
			if domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(domain.ErrorMessage(err), "verify again") {
				t.Fatalf("start from a 30-minute-old verification: %v", err)
			}
			clk.Advance(-time.Second)
			if _, err := st.StartInfusion(context.Background(), nurse, vid); err != nil {
				t.Fatalf("start from a verification just under 30 minutes old: %v", err)
			}
		})
	}
}
