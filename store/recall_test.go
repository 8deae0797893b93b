package store_test

import (
	"context"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Every way a lot goes on hold opens its recall tasks in the same transaction: QA's hold, a
// failing result after release, an ineligible donor. Releasing the held lot again cancels the
// open ones; a second hold does not open a second task for the same unit.
func TestHoldsOpenRecallTasks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		count := func(lotID int64, status string) int {
			t.Helper()
			tasks, err := st.LotRecallTasks(ctx, lotID)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, task := range tasks {
				if task.Status == status {
					n++
				}
			}
			return n
		}

		held := l.lot(domain.Eligible)
		l.releasedUnits(held, 3)
		if _, err := st.Sign(ctx, l.qa, held.ID, domain.SignRequest{Action: domain.SignHold, Password: "correct horse battery", Reason: "deviation under review"}); err != nil {
			t.Fatal(err)
		}
		if n := count(held.ID, domain.TaskOpen); n != 3 {
			t.Fatalf("%d open tasks after a hold; want 3", n)
		}
		if _, err := st.Sign(ctx, l.qa, held.ID, domain.SignRequest{Action: domain.SignRecall, Password: "correct horse battery", Reason: "confirmed"}); err != nil {
			t.Fatal(err)
		}
		if n := count(held.ID, domain.TaskOpen); n != 3 {
			t.Fatalf("%d open tasks after hold then recall; want still 3", n)
		}

		lifted := l.lot(domain.Eligible)
		l.releasedUnits(lifted, 2)
		st.Sign(ctx, l.qa, lifted.ID, domain.SignRequest{Action: domain.SignHold, Password: "correct horse battery", Reason: "check"})
		if _, err := st.Sign(ctx, l.qa, lifted.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
		if open, cancelled := count(lifted.ID, domain.TaskOpen), count(lifted.ID, domain.TaskCancelled); open != 0 || cancelled != 2 {
			t.Fatalf("after the hold was lifted: %d open, %d cancelled; want 0 and 2", open, cancelled)
		}

		failing := l.lot(domain.Eligible)
		l.releasedUnits(failing, 2)
		l.record(l.qc, failing.ID, domain.QCResult{Test: domain.TestSterility, Result: "positive"})
		if n := count(failing.ID, domain.TaskOpen); n != 2 {
			t.Fatalf("%d open tasks after a failing result put the lot on hold; want 2", n)
		}

		late := l.lot(domain.Eligible)
		l.releasedUnits(late, 2)
		d, err := st.LotDetail(ctx, late.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.DetermineEligibility(ctx, l.qa, d.Donation.ID, domain.Ineligible, "correct horse battery", "HTLV reactive on retest"); err != nil {
			t.Fatal(err)
		}
		if n := count(late.ID, domain.TaskOpen); n != 2 {
			t.Fatalf("%d open tasks after the donor was determined ineligible; want 2", n)
		}
		mustVerify(t, st)
	})
}
