package domain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A run whose inhibition falls outside 0–100 % is invalid whatever its CV, and never counts.
func TestBV2Plausibility(t *testing.T) {
	spec := DefaultSpecV1()
	cases := []struct {
		name     string
		treated  []float64
		valid    bool
		inhibits string // part of the reason
	}{
		{"treated below baseline: inhibition above 100 %", []float64{50, 50}, false, "implausible: inhibition 105.0 % is above 100 %"},
		{"treated above the LPS control: inhibition below 0 %", []float64{1200, 1200}, false, "implausible: inhibition -10.0 % is below 0 %"},
		{"treated at baseline: 100 %", []float64{100, 100}, true, ""},
		{"treated at the LPS control: 0 %", []float64{1100, 1100}, true, ""},
		{"in range", []float64{600, 600}, true, ""},
	}
	for _, tc := range cases {
		o := ComputeBV2(spec, []float64{100, 100}, []float64{1100, 1100}, tc.treated)
		reasons := strings.Join(o.InvalidReasons, "; ")
		if o.Valid != tc.valid || (tc.inhibits != "" && !strings.Contains(reasons, tc.inhibits)) || (tc.valid && reasons != "") {
			t.Errorf("%s: valid=%v reasons=%q, want valid=%v with %q", tc.name, o.Valid, reasons, tc.valid, tc.inhibits)
		}
		// An implausible run never counts: the criterion stays pending.
		r := QCResult{ID: 50, Test: TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 100}, LPS: []float64{1100, 1100}, Treated: tc.treated}
		r.Complete(spec)
		rs := slices.DeleteFunc(passingResults(), func(r QCResult) bool { return r.Test == TestBV2Potency })
		c := criterion(Evaluate(spec, append(rs, r)), "bv2_potency")
		if !tc.valid && (c.Status != StatusPending || *r.Valid || !strings.Contains(r.InvalidReason, "implausible")) {
			t.Errorf("%s: counted as %s (%+v)", tc.name, c.Status, r)
		}
	}
}

func closedInv(id int64, test QCTest, result, last int64, conclusion string) Investigation {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return Investigation{ID: id, Test: test, ResultID: result, Status: InvestigationClosed, Conclusion: conclusion,
		Reason: "r", ClosedBy: 9, SignedBy: "QA Person", ClosedAt: &at, LastResultID: last}
}

// The OOS rules: a failing result stands; an open investigation makes the criterion oos;
// lab_error lets later results count; confirmed keeps the failure.
func TestEvaluateUnderOOS(t *testing.T) {
	base := slices.DeleteFunc(passingResults(), func(r QCResult) bool { return r.Test == TestSterility || r.Test == TestBV2Potency })
	bv2 := passingResults()[6]
	positive := QCResult{ID: 10, Test: TestSterility, Result: "positive"}
	negative := QCResult{ID: 11, Test: TestSterility, Result: "negative"}
	correction := QCResult{ID: 11, Test: TestSterility, Result: "negative", Corrects: i64(10), Reason: "typed positive"}
	newer := QCResult{ID: 12, Test: TestSterility, Result: "negative"}
	open := Investigation{ID: 1, Test: TestSterility, ResultID: 10, Status: InvestigationOpen}
	cases := []struct {
		name       string
		results    []QCResult
		invs       []Investigation
		want       string
		resultID   int64
		releasable bool
	}{
		{"negative alone", []QCResult{newer}, nil, StatusPass, 12, true},
		{"positive alone, not yet investigated", []QCResult{positive}, nil, StatusFail, 10, false},
		{"positive then negative: the failing one stands", []QCResult{positive, negative}, nil, StatusFail, 10, false},
		{"positive corrected by the analyst: still fails", []QCResult{positive, correction}, nil, StatusFail, 10, false},
		{"open investigation", []QCResult{positive}, []Investigation{open}, StatusOOS, 10, false},
		{"open investigation, later negative", []QCResult{positive, negative}, []Investigation{open}, StatusOOS, 10, false},
		{"open investigation, analyst's correction", []QCResult{positive, correction}, []Investigation{open}, StatusOOS, 10, false},
		{"lab error, nothing since", []QCResult{positive}, []Investigation{closedInv(1, TestSterility, 10, 10, ConclusionLabError)}, StatusPending, 0, false},
		{"lab error, a result reviewed by it does not count", []QCResult{positive, negative}, []Investigation{closedInv(1, TestSterility, 10, 11, ConclusionLabError)}, StatusPending, 0, false},
		{"lab error, a new result counts", []QCResult{positive, negative, newer}, []Investigation{closedInv(1, TestSterility, 10, 11, ConclusionLabError)}, StatusPass, 12, true},
		{"confirmed, a new negative does not count", []QCResult{positive, newer}, []Investigation{closedInv(1, TestSterility, 10, 10, ConclusionConfirmed)}, StatusFail, 10, false},
		{"lab error, then a new failure is open", []QCResult{positive, {ID: 12, Test: TestSterility, Result: "positive"}},
			[]Investigation{closedInv(1, TestSterility, 10, 10, ConclusionLabError), {ID: 2, Test: TestSterility, ResultID: 12, Status: InvestigationOpen}}, StatusOOS, 12, false},
	}
	for _, tc := range cases {
		e := EvaluateLot(DefaultSpecV1(), append(append(slices.Clone(base), bv2), tc.results...), tc.invs)
		c := criterion(e, "sterility")
		if c.Status != tc.want || c.ResultID != tc.resultID || e.Releasable != tc.releasable || c.Test != TestSterility {
			t.Errorf("%s: sterility %s result %d releasable %v (%s), want %s result %d releasable %v",
				tc.name, c.Status, c.ResultID, e.Releasable, c.Detail, tc.want, tc.resultID, tc.releasable)
		}
		if len(e.Investigations) != len(tc.invs) {
			t.Errorf("%s: evaluation lists %d investigations, want %d", tc.name, len(e.Investigations), len(tc.invs))
		}
		err := CheckRelease(e, Eligible)
		if tc.releasable != (err == nil) || (tc.want == StatusOOS && !strings.Contains(ErrorMessage(err), "sterility oos")) {
			t.Errorf("%s: CheckRelease = %v", tc.name, err)
		}
	}

	// The same for BV2: a failing valid run, then a passing one.
	low := QCResult{ID: 20, Test: TestBV2Potency}
	bv2With(10)(&low)
	high := QCResult{ID: 21, Test: TestBV2Potency}
	bv2With(60)(&high)
	noBV2 := slices.DeleteFunc(passingResults(), func(r QCResult) bool { return r.Test == TestBV2Potency })
	e := EvaluateLot(DefaultSpecV1(), append(slices.Clone(noBV2), low, high), []Investigation{{ID: 3, Test: TestBV2Potency, ResultID: 20, Status: InvestigationOpen}})
	if c := criterion(e, "bv2_potency"); c.Status != StatusOOS || c.ResultID != 20 || c.InvestigationID != 3 || e.Releasable {
		t.Errorf("failing BV2 then passing BV2 under investigation: %+v", c)
	}
	// A phenotype under investigation: every marker of it is oos.
	pheno := passingResults()[5]
	pheno.ID, pheno.Markers = 30, map[string]float64{"CD73": 90, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}
	e = EvaluateLot(DefaultSpecV1(), append(passingResults(), pheno), []Investigation{{ID: 4, Test: TestPhenotype, ResultID: 30, Status: InvestigationOpen}})
	for _, name := range []string{"CD73", "HLA-DR"} {
		if c := criterion(e, name); c.Status != StatusOOS {
			t.Errorf("%s under a phenotype investigation: %+v", name, c)
		}
	}
	// Investigations change the hash a signature is bound to; none keep the results' hash.
	if EvaluateLot(DefaultSpecV1(), passingResults(), nil).Hash != Evaluate(DefaultSpecV1(), passingResults()).Hash ||
		EvaluateLot(DefaultSpecV1(), passingResults(), []Investigation{closedInv(1, TestSterility, 3, 3, ConclusionLabError)}).Hash == Evaluate(DefaultSpecV1(), passingResults()).Hash {
		t.Error("hash and investigations")
	}
}

func TestOOSToOpen(t *testing.T) {
	spec := DefaultSpecV1()
	pos := func(id int64) QCResult { return QCResult{ID: id, Test: TestSterility, Result: "positive"} }
	neg := func(id int64) QCResult { return QCResult{ID: id, Test: TestSterility, Result: "negative"} }
	myco := QCResult{ID: 40, Test: TestMycoplasma, Result: "detected"}
	invalidBV2 := QCResult{ID: 41, Test: TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 100}, LPS: []float64{1100, 1100}, Treated: []float64{50, 50}}
	invalidBV2.Complete(spec)
	cases := []struct {
		name    string
		results []QCResult
		invs    []Investigation
		want    []int64
	}{
		{"passing results open nothing", []QCResult{neg(1)}, nil, nil},
		{"a failing result opens one", []QCResult{pos(1)}, nil, []int64{1}},
		{"a correction that fails opens one", []QCResult{neg(1), {ID: 2, Test: TestSterility, Result: "positive", Corrects: i64(1), Reason: "retest"}}, nil, []int64{2}},
		{"each test its own", []QCResult{pos(1), myco}, nil, []int64{1, 40}},
		{"one per test: the first failing", []QCResult{pos(1), pos(2)}, nil, []int64{1}},
		{"a failure while one is open belongs to it", []QCResult{pos(1), pos(2)}, []Investigation{{ID: 1, Test: TestSterility, ResultID: 1, Status: InvestigationOpen}}, nil},
		{"reviewed by a closed one", []QCResult{pos(1), pos(2)}, []Investigation{closedInv(1, TestSterility, 1, 2, ConclusionLabError)}, nil},
		{"a failure after a closing opens a new one", []QCResult{pos(1), pos(3)}, []Investigation{closedInv(1, TestSterility, 1, 1, ConclusionConfirmed)}, []int64{3}},
		{"an implausible BV2 run is invalid, not a failure", []QCResult{invalidBV2}, nil, nil},
	}
	for _, tc := range cases {
		var got []int64
		for _, r := range OOSToOpen(spec, tc.results, tc.invs) {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: opens %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckCloseInvestigation(t *testing.T) {
	open := Investigation{ID: 1, Test: TestSterility, ResultID: 10, Status: InvestigationOpen}
	ok := CloseInvestigation{Conclusion: ConclusionLabError, Reason: "contaminated by the operator's glove"}
	cases := []struct {
		name  string
		f     CloseFacts
		code  string
		field string
	}{
		{"lab error", CloseFacts{Investigation: open, Request: ok, SignerID: 2, FailingEnteredBy: 1}, "", ""},
		{"confirmed", CloseFacts{Investigation: open, Request: CloseInvestigation{Conclusion: ConclusionConfirmed, Reason: "growth confirmed"}, SignerID: 2, FailingEnteredBy: 1}, "", ""},
		{"no conclusion", CloseFacts{Investigation: open, Request: CloseInvestigation{Reason: "x"}, SignerID: 2, FailingEnteredBy: 1}, EInvalid, "conclusion"},
		{"unknown conclusion", CloseFacts{Investigation: open, Request: CloseInvestigation{Conclusion: "retest", Reason: "x"}, SignerID: 2, FailingEnteredBy: 1}, EInvalid, "conclusion"},
		{"no reason", CloseFacts{Investigation: open, Request: CloseInvestigation{Conclusion: ConclusionConfirmed, Reason: " "}, SignerID: 2, FailingEnteredBy: 1}, EInvalid, "reason"},
		{"already closed", CloseFacts{Investigation: closedInv(1, TestSterility, 10, 10, ConclusionConfirmed), Request: ok, SignerID: 2, FailingEnteredBy: 1}, EConflict, ""},
		{"the analyst closes their own failure", CloseFacts{Investigation: open, Request: ok, SignerID: 1, FailingEnteredBy: 1}, ERuleViolated, ""},
	}
	for _, tc := range cases {
		err := CheckCloseInvestigation(tc.f)
		if ErrorCode(err) != tc.code || ErrorField(err) != tc.field {
			t.Errorf("%s: %v, want code %q field %q", tc.name, err, tc.code, tc.field)
		}
	}
}

func TestCheckQCEntry(t *testing.T) {
	viab := QCResult{ID: 5, Test: TestViability, Value: f64(70)}
	fix := QCResult{LotID: 1, Test: TestViability, Value: f64(85), Corrects: i64(5), Reason: "typo"}
	cases := []struct {
		name  string
		f     QCEntryFacts
		code  string
		field string
	}{
		{"a result on a quarantined lot", QCEntryFacts{LotStatus: LotQuarantine, Result: viab}, "", ""},
		{"a result after release", QCEntryFacts{LotStatus: LotReleased, Result: viab}, "", ""},
		{"a result on hold", QCEntryFacts{LotStatus: LotOnHold, Result: viab}, "", ""},
		{"rejected", QCEntryFacts{LotStatus: LotRejected, Result: viab}, EConflict, ""},
		{"recalled", QCEntryFacts{LotStatus: LotRecalled, Result: viab}, EConflict, ""},
		{"expired", QCEntryFacts{LotStatus: LotExpired, Result: viab}, EConflict, ""},
		{"a correction", QCEntryFacts{LotStatus: LotQuarantine, Result: fix, Corrected: &viab}, "", ""},
		{"a correction of nothing", QCEntryFacts{LotStatus: LotQuarantine, Result: fix}, EInvalid, "corrects"},
		{"a correction of another test", QCEntryFacts{LotStatus: LotQuarantine, Result: fix, Corrected: &QCResult{ID: 5, Test: TestEndotoxin}}, EInvalid, "corrects"},
		{"a second correction", QCEntryFacts{LotStatus: LotQuarantine, Result: fix, Corrected: &viab, CorrectedAlready: true}, EConflict, ""},
	}
	for _, tc := range cases {
		err := CheckQCEntry(tc.f)
		if ErrorCode(err) != tc.code || ErrorField(err) != tc.field {
			t.Errorf("%s: %v, want code %q field %q", tc.name, err, tc.code, tc.field)
		}
	}
}

func TestFailureHoldsLot(t *testing.T) {
	spec := DefaultSpecV1()
	positive := QCResult{ID: 9, Test: TestSterility, Result: "positive"}
	negative := QCResult{ID: 9, Test: TestSterility, Result: "negative"}
	cases := []struct {
		name       string
		f          HoldFacts
		wantReason string
	}{
		{"failing after release", HoldFacts{Spec: spec, LotStatus: LotReleased, Result: positive}, "after release"},
		{"passing after release", HoldFacts{Spec: spec, LotStatus: LotReleased, Result: negative}, ""},
		{"failing after an exceptional release", HoldFacts{Spec: spec, LotStatus: LotQuarantine, ExceptionalSigned: true, Result: positive}, "after an exceptional release"},
		{"passing after an exceptional release", HoldFacts{Spec: spec, LotStatus: LotQuarantine, ExceptionalSigned: true, Result: negative}, ""},
		{"failing in quarantine, nothing signed", HoldFacts{Spec: spec, LotStatus: LotQuarantine, Result: positive}, ""},
		{"failing in manufacture", HoldFacts{Spec: spec, LotStatus: LotInProcess, Result: positive}, ""},
		{"failing while on hold already", HoldFacts{Spec: spec, LotStatus: LotOnHold, Result: positive}, ""},
	}
	for _, tc := range cases {
		got := FailureHoldsLot(tc.f)
		if (got == "") != (tc.wantReason == "") || !strings.Contains(got, tc.wantReason) || (got != "" && !strings.Contains(got, "fails specification")) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.wantReason)
		}
	}
}

func TestInvestigationMeaning(t *testing.T) {
	cases := []struct {
		conclusion  string
		first, last int64
		want        string
	}{
		{ConclusionLabError, 7, 7, "laboratory error; result 7 invalidated"},
		{ConclusionLabError, 7, 9, "laboratory error; results 7 to 9 invalidated"},
		{ConclusionConfirmed, 7, 9, "failure of result 7 confirmed"},
	}
	for _, tc := range cases {
		if got := InvestigationMeaning(tc.conclusion, tc.first, tc.last); !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s %d–%d: %q, want …%q", tc.conclusion, tc.first, tc.last, got, tc.want)
		}
	}
}
