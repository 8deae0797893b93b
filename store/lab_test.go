package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

func f64(v float64) *float64 { return &v }

type lab struct {
	t          testing.TB
	st         *store.Store
	qc, qa, qq domain.Actor // qq holds both qc and qa
}

func actorFor(u domain.User, role domain.Role) domain.Actor {
	return u.ActingAs(role, "t")
}

func newLab(t testing.TB, st *store.Store) *lab {
	ctx := context.Background()
	mk := func(name string, roles ...domain.Role) domain.User {
		u, err := st.CreateUser(ctx, admin, newUser(name, roles...))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	return &lab{t: t, st: st,
		qc: actorFor(mk("qc.ann", domain.RoleQC), domain.RoleQC),
		qa: actorFor(mk("qa.bob", domain.RoleQA), domain.RoleQA),
		qq: actorFor(mk("qcqa.cy", domain.RoleQC, domain.RoleQA), domain.RoleQC),
	}
}

func (l *lab) lot(eligibility domain.Eligibility) domain.Lot {
	l.t.Helper()
	return l.lotExpiring(eligibility, time.Now().AddDate(1, 0, 0))
}

// lotExpiring is lot with its expiry.
func (l *lab) lotExpiring(eligibility domain.Eligibility, expires time.Time) domain.Lot {
	l.t.Helper()
	ctx := context.Background()
	d, err := l.st.CreateDonation(ctx, l.qc, domain.NewDonation{CollectedAt: time.Now().Add(-48 * time.Hour)})
	if err != nil {
		l.t.Fatal(err)
	}
	switch eligibility {
	case domain.Eligible:
		storetest.DetermineEligible(l.t, l.st, d.ID)
	case domain.Ineligible:
		if _, err := l.st.DetermineEligibility(ctx, l.qa, d.ID, domain.Ineligible, "correct horse battery", "HBV reactive"); err != nil {
			l.t.Fatal(err)
		}
	}
	lot, err := l.st.CreateLot(ctx, l.qc, domain.NewLot{DonationID: d.ID, LotNumber: fmt.Sprintf("L-%d", d.ID),
		ManufacturedAt: time.Now().Add(-24 * time.Hour), ExpiresAt: expires})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.st.Quarantine(ctx, l.qc, lot.ID); err != nil {
		l.t.Fatal(err)
	}
	return lot
}

// releasedUnits records passing results for lot, releases it with QA's signature and makes
// count units of 35 million viable cells in 25 mL.
func (l *lab) releasedUnits(lot domain.Lot, count int) []domain.Unit {
	l.t.Helper()
	ctx := context.Background()
	l.record(l.qc, lot.ID, passingResults()...)
	if _, err := l.st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); err != nil {
		l.t.Fatal(err)
	}
	units, err := l.st.CreateUnits(ctx, l.qc, lot.ID, domain.NewUnits{Count: count, ViableCells: 35_000_000, VolumeML: 25})
	if err != nil {
		l.t.Fatal(err)
	}
	return units
}

func passingResults() []domain.QCResult {
	return []domain.QCResult{
		{Test: domain.TestViability, Value: f64(92)},
		{Test: domain.TestViableCellCount, Value: f64(1.2e9)},
		{Test: domain.TestSterility, Result: "negative"},
		{Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: f64(0.1)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
		{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}},
	}
}

func (l *lab) record(by domain.Actor, lotID int64, rs ...domain.QCResult) []domain.QCResult {
	l.t.Helper()
	var out []domain.QCResult
	for _, r := range rs {
		saved, err := l.st.AddQCResult(context.Background(), by, lotID, r)
		if err != nil {
			l.t.Fatalf("record %s: %v", r.Test, err)
		}
		out = append(out, saved)
	}
	return out
}

func TestSpecV1MigrationMatchesCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		spec, err := st.CurrentSpec(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(spec, domain.DefaultSpecV1()) {
			t.Fatalf("migrated v1 = %+v\nwant %+v", spec, domain.DefaultSpecV1())
		}
	})
}

func TestLotToRelease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		lot := l.lot(domain.Eligible)

		if _, err := st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); domain.ErrorCode(err) != domain.ERuleViolated {
			t.Fatalf("release with nothing recorded: %v", err)
		}
		saved := l.record(l.qc, lot.ID, passingResults()...)
		bv2 := saved[6]
		if bv2.Valid == nil || !*bv2.Valid || bv2.InhibitionPct == nil || *bv2.InhibitionPct < 55 || *bv2.InhibitionPct > 56 {
			t.Fatalf("BV2 computed fields: %+v", bv2)
		}
		ev, err := st.Evaluation(ctx, lot.ID)
		if err != nil || !ev.Releasable || ev.SpecVersion != 1 {
			t.Fatalf("evaluation %+v %v", ev, err)
		}

		// Wrong password: nothing signed, and the failure counts toward the lockout.
		_, err = st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "not my password"})
		if domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), "nothing was signed") {
			t.Fatalf("wrong password: %v", err)
		}
		if u, _ := st.User(ctx, l.qa.UserID); u.FailedLogins != 1 {
			t.Fatalf("failed signature not counted: %d", u.FailedLogins)
		}
		// Separation of duties: who entered a result cannot release.
		l.record(l.qq, lot.ID, domain.QCResult{Test: domain.TestEndotoxin, Value: f64(0.2)})
		qqAsQA := l.qq
		qqAsQA.Role = domain.RoleQA
		if _, err := st.Sign(ctx, qqAsQA, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); domain.ErrorCode(err) != domain.ERuleViolated {
			t.Fatalf("release by a result author: %v", err)
		}

		d, err := st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Lot.Status != domain.LotReleased || len(d.Signatures) != 1 || !d.SignedEvaluationCurrent {
			t.Fatalf("after release: %+v", d)
		}
		sig := d.Signatures[0]
		if sig.PrintedName != "Full qa.bob" || sig.Meaning != "Released for clinical use" || sig.SpecVersion != 1 ||
			sig.EvaluationHash != d.Evaluation.Hash || sig.SignedAt.IsZero() {
			t.Fatalf("signature %+v", sig)
		}
		if _, err := st.Sign(ctx, l.qa, lot.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); domain.ErrorCode(err) != domain.EConflict || !strings.Contains(domain.ErrorMessage(err), "lot is released") {
			t.Fatalf("second release: %v", err)
		}

		// A failing result after release puts the lot on hold at once, and shows the break.
		l.record(l.qc, lot.ID, domain.QCResult{Test: domain.TestSterility, Result: "positive"})
		d, _ = st.LotDetail(ctx, lot.ID)
		if d.Lot.Status != domain.LotOnHold || d.SignedEvaluationCurrent {
			t.Fatalf("after a failing result: status %s, signed evaluation current %v", d.Lot.Status, d.SignedEvaluationCurrent)
		}
		entries, _ := st.ListAudit(ctx, domain.AuditFilter{EntityType: "lot", EntityID: fmt.Sprint(lot.ID), Limit: 1000})
		last := entries[len(entries)-1]
		if last.Action != "lot.hold" || !strings.Contains(last.Reason, "fails specification") {
			t.Fatalf("hold not audited: %+v", last)
		}
		mustVerify(t, st)
	})
}

func TestLotRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)

		ineligible := l.lot(domain.Ineligible)
		l.record(l.qc, ineligible.ID, passingResults()...)
		if _, err := st.Sign(ctx, l.qa, ineligible.ID, domain.SignRequest{Action: domain.SignRelease, Password: "correct horse battery"}); domain.ErrorCode(err) != domain.ERuleViolated || !strings.Contains(domain.ErrorMessage(err), "ineligible") {
			t.Fatalf("ineligible donor: %v", err)
		}
		if _, err := st.Sign(ctx, l.qa, ineligible.ID, domain.SignRequest{Action: domain.SignReject, Password: "correct horse battery"}); domain.ErrorField(err) != "reason" {
			t.Fatalf("reject without reason: %v", err)
		}
		d, err := st.Sign(ctx, l.qa, ineligible.ID, domain.SignRequest{Action: domain.SignReject, Password: "correct horse battery", Reason: "donor ineligible"})
		if err != nil || d.Lot.Status != domain.LotRejected {
			t.Fatalf("reject: %v", err)
		}
		if _, err := st.AddQCResult(ctx, l.qc, ineligible.ID, domain.QCResult{Test: domain.TestViability, Value: f64(90)}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("result on a rejected lot: %v", err)
		}
		if _, err := st.Quarantine(ctx, l.qc, ineligible.ID); domain.ErrorCode(err) != domain.EConflict || !strings.Contains(domain.ErrorMessage(err), "rejected") {
			t.Fatalf("quarantine a rejected lot: %v", err)
		}

		// Corrections keep the history and replace the standing value (of a result that
		// passed: a failing one stands until QA closes its OOS investigation).
		lot := l.lot(domain.Eligible)
		first := l.record(l.qc, lot.ID, domain.QCResult{Test: domain.TestViability, Value: f64(98)})[0]
		if _, err := st.AddQCResult(ctx, l.qc, lot.ID, domain.QCResult{Test: domain.TestViability, Value: f64(88), Corrects: &first.ID}); domain.ErrorField(err) != "reason" {
			t.Fatalf("correction without reason: %v", err)
		}
		if _, err := st.AddQCResult(ctx, l.qc, lot.ID, domain.QCResult{Test: domain.TestEndotoxin, Value: f64(0.1), Corrects: &first.ID, Reason: "x"}); domain.ErrorField(err) != "corrects" {
			t.Fatalf("correction of another test: %v", err)
		}
		l.record(l.qc, lot.ID, domain.QCResult{Test: domain.TestViability, Value: f64(88), Corrects: &first.ID, Reason: "transcription error"})
		if _, err := st.AddQCResult(ctx, l.qc, lot.ID, domain.QCResult{Test: domain.TestViability, Value: f64(89), Corrects: &first.ID, Reason: "again"}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("second correction of one result: %v", err)
		}
		d, _ = st.LotDetail(ctx, lot.ID)
		if len(d.Results) != 2 {
			t.Fatalf("history: %d results, want both versions", len(d.Results))
		}
		for _, c := range d.Evaluation.Criteria {
			if c.Name == "viability" && (c.Status != domain.StatusPass || c.Value != "88.0 %") {
				t.Fatalf("viability criterion %+v", c)
			}
		}

		units, err := st.CreateUnits(ctx, l.qc, lot.ID, domain.NewUnits{Count: 3, ViableCells: 1e8, VolumeML: 50})
		if err != nil || len(units) != 3 || units[2].Division != 3 || len(units[0].UnitID) != 21 || units[0].Check == "" {
			t.Fatalf("units %+v %v", units, err)
		}
		more, _ := st.CreateUnits(ctx, l.qc, lot.ID, domain.NewUnits{Count: 1, ViableCells: 1e8, VolumeML: 50})
		if more[0].Division != 4 || !strings.HasSuffix(more[0].UnitID, "VD0") {
			t.Fatalf("next division: %+v", more[0])
		}

		lots, err := st.ListLots(ctx, domain.LotFilter{Status: domain.LotRejected})
		if err != nil || len(lots) != 1 || lots[0].ID != ineligible.ID || lots[0].Status != domain.LotRejected ||
			lots[0].LotNumber != ineligible.LotNumber || lots[0].DIN != ineligible.DIN || lots[0].ExpiresAt.IsZero() {
			t.Fatalf("filter by status: %+v %v", lots, err)
		}
		lots, _ = st.ListLots(ctx, domain.LotFilter{Query: strings.ToLower(lot.LotNumber)})
		if len(lots) != 1 || lots[0].ID != lot.ID {
			t.Fatalf("search by lot number: %+v", lots)
		}
		lots, _ = st.ListLots(ctx, domain.LotFilter{Query: lot.DIN[5:]})
		if len(lots) != 1 {
			t.Fatalf("search by DIN: %+v", lots)
		}
		page1, _ := st.ListLots(ctx, domain.LotFilter{Limit: 1})
		page2, _ := st.ListLots(ctx, domain.LotFilter{Limit: 1, AfterID: page1[0].ID})
		if len(page2) != 1 || page2[0].ID >= page1[0].ID {
			t.Fatalf("paging: %+v then %+v", page1, page2)
		}
	})
}

func TestDonationDINs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)
		at := time.Now().Add(-time.Hour)
		given, err := st.CreateDonation(ctx, l.qc, domain.NewDonation{DIN: "G123498654321H", CollectedAt: at, Eligibility: domain.Pending})
		if err != nil || given.DIN != "G123498654321" || given.Check != "H" {
			t.Fatalf("given DIN: %+v %v", given, err)
		}
		if _, err := st.CreateDonation(ctx, l.qc, domain.NewDonation{DIN: "G123498654321", CollectedAt: at, Eligibility: domain.Pending}); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("duplicate DIN: %v", err)
		}
		if _, err := st.CreateDonation(ctx, l.qc, domain.NewDonation{DIN: "G123498654321X", CollectedAt: at, Eligibility: domain.Pending}); domain.ErrorField(err) != "din" {
			t.Fatalf("wrong check character: %v", err)
		}
		// A DIN entered by hand in our own sequence is skipped by allocation.
		year := time.Now().UTC().Year() % 100
		taken := fmt.Sprintf("A9999%02d000001", year)
		if _, err := st.CreateDonation(ctx, l.qc, domain.NewDonation{DIN: taken, CollectedAt: at}); err != nil {
			t.Fatal(err)
		}
		next, err := st.CreateDonation(ctx, l.qc, domain.NewDonation{CollectedAt: at})
		if err != nil || next.DIN != fmt.Sprintf("A9999%02d000002", year) {
			t.Fatalf("allocated %+v %v", next, err)
		}
	})
}

// DINs allocated concurrently by two processes are all different.
func TestConcurrentDINAllocation(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			stores := sharedStores(t, b, 2)
			l := newLab(t, stores[0])
			var mu sync.Mutex
			seen := map[string]bool{}
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						d, err := stores[w%2].CreateDonation(ctx, l.qc, domain.NewDonation{CollectedAt: time.Now().Add(-time.Hour)})
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if seen[d.DIN] {
							t.Errorf("DIN %s allocated twice", d.DIN)
						}
						seen[d.DIN] = true
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			if len(seen) != 80 {
				t.Fatalf("%d DINs, want 80", len(seen))
			}
			mustVerify(t, stores[0])
		})
	}
}

func TestLotsExpire(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			clk.t = time.Now().UTC()
			st := storetest.Open(t, b, store.Options{Now: clk.Now})
			l := newLab(t, st)
			lot := l.lot(domain.Eligible) // expires in a year
			n, err := st.ExpireLots(ctx)
			if err != nil || n != 0 {
				t.Fatalf("before expiry: %d %v", n, err)
			}
			clk.Advance(366 * 24 * time.Hour)
			if n, err := st.ExpireLots(ctx); err != nil || n != 1 {
				t.Fatalf("after expiry: %d %v", n, err)
			}
			if n, _ := st.ExpireLots(ctx); n != 0 {
				t.Fatalf("expired twice: %d", n)
			}
			d, _ := st.LotDetail(ctx, lot.ID)
			if d.Lot.Status != domain.LotExpired {
				t.Fatalf("status %s", d.Lot.Status)
			}
			entries, _ := st.ListAudit(ctx, domain.AuditFilter{EntityType: "lot", EntityID: fmt.Sprint(lot.ID), Limit: 100})
			if last := entries[len(entries)-1]; last.Action != "lot.expire" || last.UserName != "cordtrace (system)" {
				t.Fatalf("expiry audit: %+v", last)
			}
			mustVerify(t, st)
		})
	}
}
