package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// SPEC §6: a bag no second pharmacist has checked is refused at dispatch, and the refusal is
// kept as a scan; once checked, the same bag is dispatched. The preparer cannot check it.
func TestUncheckedBagIsNotDispatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBagsChecked(t, st, 1, false)[0]
		ev, err := st.RecordScan(ctx, b.pharm, b.custodyScan(domain.ScanDispatch, 5))
		if domain.ErrorCode(err) != domain.EConflict || !strings.Contains(domain.ErrorMessage(err), "a second pharmacist must check") || ev.Accepted || ev.ID == 0 {
			t.Fatalf("dispatch of an unchecked bag: %+v, %v", ev, err)
		}
		if _, err := st.Print(ctx, b.pharm, "dose_bag", b.bag.ID, "png", labelKey(t, st)); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("label of an unchecked bag: %v, want a conflict", err)
		}
		if _, err := st.CheckDoseBag(ctx, b.pharm, b.bag.ID, b.pharm.Username, "correct horse battery"); domain.ErrorCode(err) != domain.ERuleViolated {
			t.Fatalf("the preparer checking their own bag: %v", err)
		}
		checker, err := st.CreateUser(ctx, admin, newUser("ph.k2", domain.RolePharmacist))
		if err != nil {
			t.Fatal(err)
		}
		bag, err := st.CheckDoseBag(ctx, b.pharm, b.bag.ID, "ph.k2", "correct horse battery")
		if err != nil || bag.CheckedBy == nil || *bag.CheckedBy != checker.ID || bag.CheckedAt == nil {
			t.Fatalf("check by ph.k2: %+v, %v", bag, err)
		}
		if ev, err := st.RecordScan(ctx, b.pharm, b.custodyScan(domain.ScanDispatch, 5)); err != nil || !ev.Accepted {
			t.Fatalf("dispatch of the checked bag: %+v, %v", ev, err)
		}
		mustVerify(t, st)
	})
}

// Dispatches of a checked and an unchecked bag at once: each reads its own bag's check.
func TestConcurrentDispatchRefusesAnUncheckedBag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		bs := preparedBagsChecked(t, st, 2, false)
		checked, unchecked := bs[0], bs[1]
		ctx := context.Background()
		if _, err := st.CreateUser(ctx, admin, newUser("ph.k2", domain.RolePharmacist)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CheckDoseBag(ctx, checked.pharm, checked.bag.ID, "ph.k2", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		events, errs := make([]domain.CustodyEvent, 2), make([]error, 2)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			events[0], errs[0] = st.RecordScan(ctx, checked.pharm, checked.custodyScan(domain.ScanDispatch, 5))
		}()
		go func() {
			defer wg.Done()
			events[1], errs[1] = st.RecordScan(ctx, unchecked.pharm, unchecked.custodyScan(domain.ScanDispatch, 5))
		}()
		wg.Wait()
		if errs[0] != nil || !events[0].Accepted {
			t.Errorf("concurrent dispatch of the checked bag: %+v, %v", events[0], errs[0])
		}
		if domain.ErrorCode(errs[1]) != domain.EConflict || events[1].Accepted {
			t.Errorf("concurrent dispatch of the unchecked bag: %+v, %v", events[1], errs[1])
		}
	})
}
