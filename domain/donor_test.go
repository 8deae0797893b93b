package domain

import (
	"strings"
	"testing"
	"time"
)

func TestCheckDetermination(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	all := func(override map[DonorTest]string) map[DonorTest]DonorTestResult {
		out := map[DonorTest]DonorTestResult{}
		for i, test := range DonorTests {
			r := NonReactive
			if v, ok := override[test]; ok {
				if v == "" {
					continue
				}
				r = v
			}
			out[test] = DonorTestResult{ID: int64(i + 1), Test: test, Result: r, TestedAt: at}
		}
		return out
	}
	ok := &DonorScreening{QuestionnaireComplete: true, Outcome: ScreeningAcceptable}
	for _, tc := range []struct {
		name string
		f    DeterminationFacts
		code string // "" passes
		want string
	}{
		{"eligible with every test non-reactive and screening acceptable", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(nil), Screening: ok}, "", ""},
		{"a reactive CMV alone does not make the donor ineligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(map[DonorTest]string{DonorTestCMV: Reactive}), Screening: ok}, "", ""},
		{"a reactive HBV refuses eligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(map[DonorTest]string{DonorTestHBV: Reactive}), Screening: ok}, ERuleViolated, "HBV reactive"},
		{"a missing test refuses eligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(map[DonorTest]string{DonorTestHTLV: ""}), Screening: ok}, ERuleViolated, "HTLV-I/II"},
		{"no screening refuses eligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(nil)}, ERuleViolated, "screening"},
		{"an incomplete questionnaire refuses eligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(nil), Screening: &DonorScreening{Outcome: ScreeningAcceptable}}, ERuleViolated, "questionnaire"},
		{"an unacceptable screening refuses eligible", DeterminationFacts{Current: Pending, Determination: Eligible, Latest: all(nil), Screening: &DonorScreening{QuestionnaireComplete: true, Outcome: ScreeningNotAcceptable}}, ERuleViolated, "not_acceptable"},
		{"ineligible needs a reason", DeterminationFacts{Current: Pending, Determination: Ineligible}, EInvalid, "why"},
		{"ineligible with a reason", DeterminationFacts{Current: Pending, Determination: Ineligible, Reason: "HBV reactive"}, "", ""},
		{"eligible may later become ineligible", DeterminationFacts{Current: Eligible, Determination: Ineligible, Reason: "look-back: HCV NAT reactive"}, "", ""},
		{"ineligible is final", DeterminationFacts{Current: Ineligible, Determination: Eligible, Latest: all(nil), Screening: ok}, EConflict, "final"},
		{"the same determination twice", DeterminationFacts{Current: Eligible, Determination: Eligible, Latest: all(nil), Screening: ok}, EConflict, "already"},
		{"pending is not a determination", DeterminationFacts{Current: Pending, Determination: Pending}, EInvalid, "eligible or ineligible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDetermination(tc.f)
			if ErrorCode(err) != tc.code || (tc.want != "" && !strings.Contains(ErrorMessage(err), tc.want)) {
				t.Fatalf("CheckDetermination = %v; want %q containing %q", err, tc.code, tc.want)
			}
		})
	}
}

func TestLatestDonorTestsTakesTheLastEntered(t *testing.T) {
	got := LatestDonorTests([]DonorTestResult{{ID: 1, Test: DonorTestHCV, Result: NonReactive}, {ID: 3, Test: DonorTestHCV, Result: Reactive}, {ID: 2, Test: DonorTestHCV, Result: NonReactive}})
	if got[DonorTestHCV].Result != Reactive {
		t.Fatalf("latest HCV = %+v", got[DonorTestHCV])
	}
}

// The release rules that depend on the donor: a pending donor's lot only by exceptional
// release, an ineligible donor's lot not at all.
func TestDonorEligibilityAndRelease(t *testing.T) {
	pass := Evaluation{Releasable: true}
	fail := Evaluation{Criteria: []Criterion{{Name: "sterility", Status: StatusFail}}}
	for _, tc := range []struct {
		name        string
		e           Evaluation
		donor       Eligibility
		release     string
		exceptional string
	}{
		{"eligible donor, passing lot", pass, Eligible, "", ERuleViolated},
		{"eligible donor, failing lot", fail, Eligible, ERuleViolated, ""},
		{"pending donor, passing lot", pass, Pending, ERuleViolated, ""},
		{"pending donor, failing lot", fail, Pending, ERuleViolated, ""},
		{"ineligible donor, passing lot", pass, Ineligible, ERuleViolated, ERuleViolated},
		{"ineligible donor, failing lot", fail, Ineligible, ERuleViolated, ERuleViolated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckRelease(tc.e, tc.donor); ErrorCode(err) != tc.release {
				t.Errorf("CheckRelease = %v; want %q", err, tc.release)
			}
			if err := CheckExceptionalReleaseFor(tc.e, tc.donor); ErrorCode(err) != tc.exceptional {
				t.Errorf("CheckExceptionalReleaseFor = %v; want %q", err, tc.exceptional)
			}
		})
	}
	if err := CheckRelease(pass, Pending); !strings.Contains(ErrorMessage(err), "exceptional release") {
		t.Errorf("pending donor release refusal says %q; it should point to the exceptional release", ErrorMessage(err))
	}
	for _, s := range LotStatuses {
		want := s == LotReleased || s == LotQuarantine
		if IneligibleDonorHolds(s) != want {
			t.Errorf("IneligibleDonorHolds(%s) = %v", s, !want)
		}
		if want && LotTransition(s, LotOnHold) != nil {
			t.Errorf("an ineligible donor holds a %s lot, which cannot go on hold", s)
		}
	}
	if got := DonorLabelStatements(Pending); len(got) != 3 || got[0] != StatementNotEvaluated || got[1] != StatementAdviseRisks {
		t.Errorf("statements of a pending donor: %q", got)
	}
	if got := DonorLabelStatements(Eligible); got != nil {
		t.Errorf("statements of an eligible donor: %q", got)
	}
}

func TestNewDonationStartsPending(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		e    Eligibility
		code string
	}{{"", ""}, {Pending, ""}, {Eligible, ERuleViolated}, {Ineligible, ERuleViolated}, {"maybe", EInvalid}} {
		err := NewDonation{CollectedAt: now.Add(-time.Hour), Eligibility: tc.e}.Validate(now)
		if ErrorCode(err) != tc.code || (err != nil && ErrorField(err) != "eligibility") {
			t.Errorf("eligibility %q: %v; want %q on eligibility", tc.e, err, tc.code)
		}
	}
}

func TestDonorTestAndScreeningInput(t *testing.T) {
	now := time.Now()
	if err := (DonorTestResult{Test: "hiv", Result: NonReactive, TestedAt: now}).Validate(now); ErrorField(err) != "test" {
		t.Errorf("unknown test: %v", err)
	}
	if err := (DonorTestResult{Test: DonorTestHIV, Result: "negative", TestedAt: now}).Validate(now); ErrorField(err) != "result" {
		t.Errorf("bad result: %v", err)
	}
	if err := (DonorTestResult{Test: DonorTestHIV, Result: Reactive}).Validate(now); ErrorField(err) != "tested_at" {
		t.Errorf("no date: %v", err)
	}
	if err := (DonorScreening{Outcome: "ok", ScreenedAt: now}).Validate(now); ErrorField(err) != "outcome" {
		t.Errorf("bad outcome: %v", err)
	}
}
