package store_test

import (
	"context"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// An infusion started and not ended is listed with its bag and subject until it ends, so that
// any nurse can end it after a reload; the end cannot record more than the bag held.
func TestInfusionsInProgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		b := preparedBag(t, st)
		b.scan(t, domain.ScanDispatch, 5)
		b.scan(t, domain.ScanReceive, 5)
		v := b.verify(t, b.patient.MRN, domain.CustodyScan{})
		if !v.Pass {
			t.Fatalf("verification: %v", v.Checks)
		}
		inf, err := st.StartInfusion(ctx, b.nurse, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.InfusionsInProgress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != inf.ID || list[0].SubjectID != b.patient.SubjectID || list[0].BagID == "" || list[0].BagVolume <= 0 {
			t.Fatalf("in progress: %+v, want infusion %d of %s", list, inf.ID, b.patient.SubjectID)
		}
		if _, err := st.EndInfusion(ctx, b.nurse, inf.ID, list[0].BagVolume+1, ""); domain.ErrorField(err) != "volume_ml" {
			t.Fatalf("more than the bag held: %v, want a refusal naming volume_ml", err)
		}
		if _, err := st.EndInfusion(ctx, b.nurse, inf.ID, list[0].BagVolume, ""); err != nil {
			t.Fatal(err)
		}
		if list, err := st.InfusionsInProgress(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after the end: %+v %v", list, err)
		}
	})
}
