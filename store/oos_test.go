package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Failing results recorded at the same moment open one investigation; two QA people closing
// it at the same moment sign it once; the database refuses a closed investigation without its
// signature.
func TestOOSInvestigationsUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		lot := l.lot(domain.Eligible)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = st.AddQCResult(ctx, l.qc, lot.ID, domain.QCResult{Test: domain.TestSterility, Result: "positive"})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("result %d: %v", i, err)
			}
		}
		d, err := st.LotDetail(ctx, lot.ID)
		if err != nil || len(d.Investigations) != 1 || d.Investigations[0].Status != domain.InvestigationOpen {
			t.Fatalf("investigations after four failing results: %+v %v", d.Investigations, err)
		}
		inv := d.Investigations[0]

		qa2, err := st.CreateUser(ctx, admin, newUser("qa.dan", domain.RoleQA))
		if err != nil {
			t.Fatal(err)
		}
		signers := []domain.Actor{l.qa, actorFor(qa2, domain.RoleQA)}
		closeErrs := make([]error, len(signers))
		for i, a := range signers {
			wg.Add(1)
			go func(i int, a domain.Actor) {
				defer wg.Done()
				_, closeErrs[i] = st.CloseInvestigation(ctx, a, lot.ID, inv.ID, domain.CloseInvestigation{Password: "correct horse battery",
					Conclusion: domain.ConclusionConfirmed, Reason: fmt.Sprintf("growth confirmed (%d)", i)})
			}(i, a)
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range closeErrs {
			switch domain.ErrorCode(err) {
			case "":
				ok++
			case domain.EConflict:
				conflicts++
			default:
				t.Fatalf("close: %v", err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("two closings at once: %d signed, %d refused; want 1 and 1", ok, conflicts)
		}
		d, _ = st.LotDetail(ctx, lot.ID)
		got := d.Investigations[0]
		if got.Conclusion != domain.ConclusionConfirmed || got.LastResultID < got.ResultID || got.ClosedAt == nil || !strings.HasPrefix(got.SignedBy, "Full qa.") {
			t.Fatalf("closed investigation: %+v", got)
		}
		if c := criterionOf(d.Evaluation, "sterility"); c.Status != domain.StatusFail || c.InvestigationID != inv.ID {
			t.Fatalf("sterility after a confirmed OOS: %+v", c)
		}
		// The schema itself refuses a closed investigation without a signature.
		if err := st.Gorm().Exec(`UPDATE qc_investigations SET printed_name = '' WHERE id = ?`, inv.ID).Error; err == nil {
			t.Fatal("a closed investigation without its signer's name was stored")
		}
		mustVerify(t, st)
	})
}

func criterionOf(e domain.Evaluation, name string) domain.Criterion {
	for _, c := range e.Criteria {
		if c.Name == name {
			return c
		}
	}
	return domain.Criterion{}
}
