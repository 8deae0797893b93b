package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The pharmacy's worklists: an open order is listed until a bag fills it, and only available
// units of released lots are offered for thawing.
func TestPharmacyWorklists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		released := l.lot(domain.Eligible)
		units := l.releasedUnits(released, 3)
		// Units of a lot still in quarantine are never offered.
		if _, err := st.CreateUnits(ctx, l.qc, l.lot(domain.Eligible).ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25}); err != nil {
			t.Fatal(err)
		}
		avail, err := st.AvailableUnits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(avail) != 3 || avail[0].ID != units[0].ID || avail[0].ViableCells != 35_000_000 || avail[0].LotNumber != released.LotNumber || avail[0].LotExpiresAt.IsZero() {
			t.Fatalf("available units = %+v, want the 3 units of lot %s", avail, released.LotNumber)
		}

		doc, err := st.CreateUser(ctx, admin, newUser("dr.w", domain.RolePhysician))
		if err != nil {
			t.Fatal(err)
		}
		pharm, err := st.CreateUser(ctx, admin, newUser("ph.w", domain.RolePharmacist))
		if err != nil {
			t.Fatal(err)
		}
		p, err := st.Enrol(ctx, actorFor(doc, domain.RolePhysician), domain.Patient{SubjectID: "SVP-010", MRN: "MRN0010", Name: "Wang Fang",
			DateOfBirth: "1958-02-03", WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
		if err != nil {
			t.Fatal(err)
		}
		order, err := st.OrderDose(ctx, actorFor(doc, domain.RolePhysician), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if one, err := st.OpenDoseOrder(ctx, order.ID); err != nil || one.ID != order.ID || one.SubjectID != "SVP-010" {
			t.Fatalf("open order %d = %+v %v", order.ID, one, err)
		}
		waiting, err := st.OpenDoseOrders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(waiting) != 1 || waiting[0].ID != order.ID || waiting[0].SubjectID != "SVP-010" || waiting[0].TargetViableCells != 70_000_000 {
			t.Fatalf("orders waiting = %+v", waiting)
		}
		if _, err := st.PrepareDoseBag(ctx, actorFor(pharm, domain.RolePharmacist), order.ID, domain.NewDoseBag{
			UnitIDs: []int64{units[0].ID, units[1].ID}, ThawedAt: time.Now().Add(-5 * time.Minute), PostThawViabilityPct: 88,
			ViableCells: 70_000_000, VolumeML: 50}); err != nil {
			t.Fatal(err)
		}
		if waiting, err = st.OpenDoseOrders(ctx); err != nil || len(waiting) != 0 {
			t.Fatalf("after filling, orders waiting = %+v %v", waiting, err)
		}
		if _, err := st.OpenDoseOrder(ctx, order.ID); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("the filled order as an open one: %v, want not found", err)
		}
		if _, err := st.OpenDoseOrder(ctx, order.ID+1000); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("an order that does not exist: %v, want not found", err)
		}
		// One infusion per patient: no second order while the bag may still be given.
		if _, err := st.OrderDose(ctx, actorFor(doc, domain.RolePhysician), p.ID); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("a second order while the bag is prepared: %v, want a conflict", err)
		}
		if avail, err = st.AvailableUnits(ctx); err != nil || len(avail) != 1 || avail[0].ID != units[2].ID {
			t.Fatalf("after thawing two, available = %+v %v", avail, err)
		}
		// A unit that must not be used is discarded with the reason and no longer offered; a
		// consumed one cannot be.
		if _, err := st.DiscardUnit(ctx, l.qc, units[2].ID, ""); domain.ErrorField(err) != "reason" {
			t.Fatalf("discard without a reason: %v, want a field error on reason", err)
		}
		if _, err := st.DiscardUnit(ctx, actorFor(pharm, domain.RolePharmacist), units[0].ID, "thawed already"); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("discard a consumed unit: %v, want a conflict", err)
		}
		if u, err := st.DiscardUnit(ctx, actorFor(pharm, domain.RolePharmacist), units[2].ID, "cryobag cracked"); err != nil || u.Status != domain.UnitDiscarded {
			t.Fatalf("discard an available unit: %+v %v", u, err)
		}
		if avail, err = st.AvailableUnits(ctx); err != nil || len(avail) != 0 {
			t.Fatalf("after the discard, available = %+v %v", avail, err)
		}
		mustVerify(t, st)
	})
}

// Units are offered soonest-expiring lot first, so that stock is used before it expires, and
// in the order they were made within a lot; whatever order the lots were released in.
func TestAvailableUnitsSoonestExpiringLotFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		release := func(expires time.Time) []domain.Unit {
			return l.releasedUnits(l.lotExpiring(domain.Eligible, expires), 2)
		}
		late := release(time.Now().AddDate(1, 0, 0))
		soon := release(time.Now().AddDate(0, 6, 0))
		middle := release(time.Now().AddDate(0, 9, 0))
		avail, err := st.AvailableUnits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{soon[0].ID, soon[1].ID, middle[0].ID, middle[1].ID, late[0].ID, late[1].ID}
		got := make([]int64, len(avail))
		for i, u := range avail {
			got[i] = u.ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("available units %v, want %v (lot expiring in 6, 9, then 12 months)", got, want)
		}
	})
}
