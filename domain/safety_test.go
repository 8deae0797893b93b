package domain

import (
	"slices"
	"testing"
	"time"
)

func TestReportingClocks(t *testing.T) {
	aware := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	yes, no := true, false
	h := func(n int) time.Time { return aware.Add(time.Duration(n) * time.Hour) }
	cases := []struct {
		name     string
		criteria []string
		related  string
		expected *bool
		want     []ReportClock
	}{
		{"not serious: no report", nil, RelatedDefinite, &no, nil},
		{"serious, expected: 24 h only", []string{CriterionHospitalisation}, RelatedProbable, &yes, []ReportClock{{ReportSAE, h(24)}}},
		{"serious, unexpected, unlikely: not a SUSAR", []string{CriterionHospitalisation}, RelatedUnlikely, &no, []ReportClock{{ReportSAE, h(24)}}},
		{"serious, unexpected, not related", []string{CriterionDeath}, RelatedNot, &no, []ReportClock{{ReportSAE, h(24)}}},
		{"serious, no term judged (first form)", []string{CriterionImportantMedicalEvent}, "", nil, []ReportClock{{ReportSAE, h(24)}}},
		{"SUSAR, possible, hospitalisation: 15 days", []string{CriterionHospitalisation}, RelatedPossible, &no,
			[]ReportClock{{ReportSAE, h(24)}, {ReportSUSAR15, h(15 * 24)}}},
		{"SUSAR, definite, disability: 15 days", []string{CriterionPersistentDisability}, RelatedDefinite, &no,
			[]ReportClock{{ReportSAE, h(24)}, {ReportSUSAR15, h(15 * 24)}}},
		{"SUSAR, fatal: 7 days", []string{CriterionDeath}, RelatedProbable, &no, []ReportClock{{ReportSAE, h(24)}, {ReportSUSAR7, h(7 * 24)}}},
		{"SUSAR, life-threatening: 7 days", []string{CriterionLifeThreatening, CriterionHospitalisation}, RelatedPossible, &no,
			[]ReportClock{{ReportSAE, h(24)}, {ReportSUSAR7, h(7 * 24)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ReportingClocks(AEReport{SeriousCriteria: tc.criteria, Relatedness: tc.related, Expected: tc.expected, AwareAt: aware})
			if !slices.Equal(got, tc.want) {
				t.Fatalf("clocks %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClocksToOpen(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sae, s7, s15 := ReportClock{ReportSAE, at}, ReportClock{ReportSUSAR7, at}, ReportClock{ReportSUSAR15, at}
	cases := []struct {
		name   string
		opened []string
		clocks []ReportClock
		want   []ReportClock
	}{
		{"first version", nil, []ReportClock{sae, s15}, []ReportClock{sae, s15}},
		{"follow-up makes it a SUSAR", []string{ReportSAE}, []ReportClock{sae, s15}, []ReportClock{s15}},
		{"follow-up makes it fatal", []string{ReportSAE, ReportSUSAR15}, []ReportClock{sae, s7}, []ReportClock{s7}},
		{"a 7-day clock covers the 15-day one", []string{ReportSAE, ReportSUSAR7}, []ReportClock{sae, s15}, nil},
		{"nothing new", []string{ReportSAE}, []ReportClock{sae}, nil},
	}
	for _, tc := range cases {
		if got := ClocksToOpen(tc.opened, tc.clocks); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBuildReport(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	onset, aware := now.Add(-5*time.Hour), now.Add(-4*time.Hour)
	spec := DefaultSpecV1()
	yes, no := true, false
	full := func(f func(*AEInput)) AEInput {
		in := AEInput{PatientID: 1, Description: "fever after infusion", OnsetAt: onset, Term: "Pyrexia", Grade: 2,
			SeriousGiven: true, Relatedness: RelatedPossible, Outcome: "recovering", ActionTaken: "none", AwareAt: &aware}
		if f != nil {
			f(&in)
		}
		return in
	}
	cases := []struct {
		name     string
		in       AEInput
		followUp bool
		field    string // "" when accepted
		serious  []string
		expected *bool
		susar    bool
	}{
		{"full form, expected term", full(nil), false, "", []string{}, &yes, false},
		{"term compared without case", full(func(in *AEInput) { in.Term = " pyrexia " }), false, "", []string{}, &yes, false},
		{"unexpected term, serious, possible: SUSAR", full(func(in *AEInput) {
			in.Term, in.Grade, in.SeriousCriteria = "Pulmonary embolism", 3, []string{CriterionHospitalisation}
		}), false, "", []string{CriterionHospitalisation}, &no, true},
		{"criteria kept in canonical order, once", full(func(in *AEInput) {
			in.Grade, in.SeriousCriteria = 3, []string{CriterionImportantMedicalEvent, CriterionHospitalisation, CriterionImportantMedicalEvent}
		}), false, "", []string{CriterionHospitalisation, CriterionImportantMedicalEvent}, &yes, false},
		{"unknown criterion", full(func(in *AEInput) { in.SeriousCriteria = []string{"scary"} }), false, "serious_criteria", nil, nil, false},
		{"grade 0", full(func(in *AEInput) { in.Grade = 0; in.Term = "x" }), false, "grade", nil, nil, false},
		{"grade 6", full(func(in *AEInput) { in.Grade = 6 }), false, "grade", nil, nil, false},
		{"grade disagrees with severity", full(func(in *AEInput) { in.Severity = "severe" }), false, "severity", nil, nil, false},
		{"no term", full(func(in *AEInput) { in.Term = "" }), false, "term", nil, nil, false},
		{"bad relatedness", full(func(in *AEInput) { in.Relatedness = "maybe" }), false, "relatedness", nil, nil, false},
		{"bad outcome", full(func(in *AEInput) { in.Outcome = "fine" }), false, "outcome", nil, nil, false},
		{"bad action", full(func(in *AEInput) { in.ActionTaken = "pray" }), false, "action_taken", nil, nil, false},
		{"no awareness", full(func(in *AEInput) { in.AwareAt = nil }), false, "aware_at", nil, nil, false},
		{"aware before onset", full(func(in *AEInput) { a := onset.Add(-time.Hour); in.AwareAt = &a }), false, "aware_at", nil, nil, false},
		{"aware in the future", full(func(in *AEInput) { a := now.Add(time.Hour); in.AwareAt = &a }), false, "aware_at", nil, nil, false},
		{"serious without criteria", full(func(in *AEInput) { in.Serious = &yes }), false, "serious_criteria", nil, nil, false},
		{"not serious with criteria", full(func(in *AEInput) {
			in.Serious, in.SeriousCriteria = &no, []string{CriterionHospitalisation}
		}), false, "serious", nil, nil, false},
		{"grade 5 without death", full(func(in *AEInput) {
			in.Grade, in.SeriousCriteria = 5, []string{CriterionHospitalisation}
		}), false, "grade", nil, nil, false},
		{"death without fatal outcome", full(func(in *AEInput) {
			in.Grade, in.SeriousCriteria = 5, []string{CriterionDeath}
		}), false, "grade", nil, nil, false},
		{"fatal, complete", full(func(in *AEInput) {
			in.Grade, in.SeriousCriteria, in.Outcome, in.Term = 5, []string{CriterionDeath}, OutcomeFatal, "Cardiac arrest"
		}), false, "", []string{CriterionDeath}, &no, true},
		{"grade 4 not serious", full(func(in *AEInput) { in.Grade = 4 }), false, "serious_criteria", nil, nil, false},
		{"expected given, disagreeing with the list", full(func(in *AEInput) { in.Expected = &no }), false, "expected", nil, nil, false},
		{"expected given, agreeing", full(func(in *AEInput) { in.Expected = &yes }), false, "", []string{}, &yes, false},
		{"first form, serious severe: important medical event", AEInput{PatientID: 1, Serious: &yes, Severity: "severe",
			Description: "x", OnsetAt: onset}, false, "", []string{CriterionImportantMedicalEvent}, nil, false},
		{"first form, fatal: death", AEInput{PatientID: 1, Serious: &yes, Severity: "fatal", Description: "x", OnsetAt: onset},
			false, "", []string{CriterionDeath}, nil, false},
		{"first form, life-threatening", AEInput{PatientID: 1, Serious: &yes, Severity: "life_threatening", Description: "x", OnsetAt: onset},
			false, "", []string{CriterionLifeThreatening}, nil, false},
		{"first form, not serious", AEInput{PatientID: 1, Severity: "mild", Description: "x", OnsetAt: onset}, false, "", []string{}, nil, false},
		{"first form, fatal but not serious", AEInput{PatientID: 1, Serious: &no, Severity: "fatal", Description: "x", OnsetAt: onset},
			false, "serious", nil, nil, false},
		{"first form as a follow-up", AEInput{Severity: "mild", Description: "x", OnsetAt: onset}, true, "term", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := BuildReport(tc.in, spec, now, tc.followUp)
			if tc.field != "" {
				if ErrorField(err) != tc.field {
					t.Fatalf("error %v, want one naming %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.SeriousCriteria, tc.serious) || r.SUSAR() != tc.susar ||
				(r.Expected == nil) != (tc.expected == nil) || (r.Expected != nil && *r.Expected != *tc.expected) {
				t.Fatalf("criteria %v susar %v expected %v; want %v %v %v", r.SeriousCriteria, r.SUSAR(), r.Expected, tc.serious, tc.susar, tc.expected)
			}
			if !tc.in.Detailed() && !r.AwareAt.Equal(now) {
				t.Fatalf("first form: aware at %v, want the recording time", r.AwareAt)
			}
		})
	}
}

func TestExpectedAdverseEventsOfASpecVersion(t *testing.T) {
	v1 := DefaultSpecV1()
	if !v1.IsExpected("Chills") || v1.IsExpected("Anaphylaxis") {
		t.Fatal("version 1 judges against the default list")
	}
	v2 := v1
	v2.ReferenceSafetyInformation = []string{"Anaphylaxis"}
	if v2.IsExpected("Chills") || !v2.IsExpected("anaphylaxis") {
		t.Fatal("a version with its own list judges against it alone")
	}
	v2.ReferenceSafetyInformation = []string{" "}
	if ErrorField(v2.Validate()) != "reference_safety_information" {
		t.Fatal("an empty term in the list is refused")
	}
}

func TestSortWorklist(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	item := func(id int64, due time.Duration) SafetyWorkItem {
		it := SafetyWorkItem{SafetyReport: SafetyReport{ID: id, DueAt: now.Add(due)}}
		it.Judge(now)
		return it
	}
	list := []SafetyWorkItem{item(1, 10*24*time.Hour), item(2, -time.Hour), item(3, 2*time.Hour), item(4, -30*time.Hour)}
	SortSafetyWorklist(list)
	var got []int64
	for _, it := range list {
		got = append(got, it.ID)
	}
	if !slices.Equal(got, []int64{4, 2, 3, 1}) || !list[0].Overdue || !list[1].Overdue || list[2].Overdue {
		t.Fatalf("order %v (overdue first, then by due time)", got)
	}
}

func TestDeviationRules(t *testing.T) {
	signed := time.Now()
	cases := []struct {
		name string
		d    Deviation
		err  string
	}{
		{"no corrective action", Deviation{ID: 1}, ERuleViolated},
		{"already signed", Deviation{ID: 1, NewDeviation: NewDeviation{CorrectiveAction: "x"}, SignedAt: &signed}, EConflict},
		{"ready", Deviation{ID: 1, NewDeviation: NewDeviation{CorrectiveAction: "retrain"}}, ""},
	}
	for _, tc := range cases {
		if got := ErrorCode(CheckDeviationSignOff(tc.d, "reviewed")); got != tc.err {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.err)
		}
	}
	if ErrorField(CheckDeviationSignOff(Deviation{NewDeviation: NewDeviation{CorrectiveAction: "x"}}, " ")) != "reason" {
		t.Error("a sign-off without a reason is refused")
	}
	if TypedEntryDeviation(1, 2, LabelFacts{CodeKind: CodeQR}) != nil {
		t.Error("a scanned verification is no deviation")
	}
	d := TypedEntryDeviation(1, 2, LabelFacts{CodeKind: CodeManual, Reason: &EntryReason{Code: ReasonLabelDamaged}})
	if d == nil || d.Category != DeviationIdentityVerification || d.Validate() != nil {
		t.Errorf("a typed code with an entry reason: %+v", d)
	}
	if err := MissedAssessmentDeviation(1, 7, signed).Validate(); err != nil {
		t.Error(err)
	}
	if ErrorField(NewDeviation{Category: "bad", Description: "x"}.Validate()) != "category" {
		t.Error("an unknown category is refused")
	}
}
