package domain

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Day 0 is the enrolment date in the site's time zone, not in UTC.
func TestStudyDay(t *testing.T) {
	enrolled := time.Date(2026, 3, 1, 17, 30, 0, 0, time.UTC) // 01:30 on 2 March at the site
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC), 0},  // 00:00 on 2 March at the site
		{time.Date(2026, 3, 2, 15, 59, 0, 0, time.UTC), 0}, // 23:59 on 2 March
		{time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC), 1},
		{time.Date(2026, 5, 31, 16, 0, 0, 0, time.UTC), 91},
	} {
		if got := StudyDay(enrolled, tc.at, shanghai); got != tc.want {
			t.Errorf("%v: day %d, want %d", tc.at, got, tc.want)
		}
	}
	if d := DateOfStudyDay(enrolled, 90, shanghai); d != "2026-05-31" {
		t.Errorf("day 90 is %s", d)
	}
}

func TestCheckAssessment(t *testing.T) {
	enrolled := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	now := enrolled.Add(10 * 24 * time.Hour)
	base := FollowUpFacts{EnrolledAt: enrolled, Site: time.UTC, Now: now, Days: DefaultAssessmentDays, Recorded: []int{0}}
	ok := Assessment{Day: 7, TakenAt: enrolled.Add(7 * 24 * time.Hour), CRP: f64(35)}
	for _, tc := range []struct {
		name  string
		edit  func(a *Assessment, f *FollowUpFacts)
		code  string
		field string
		msg   string
	}{
		{"accepted", func(a *Assessment, f *FollowUpFacts) {}, "", "", ""},
		{"not a protocol day", func(a *Assessment, f *FollowUpFacts) { a.Day = 5 }, EInvalid, "day", "0, 1, 3, 7, 14, 28, 90"},
		{"day assessed already", func(a *Assessment, f *FollowUpFacts) { a.Day = 0 }, EConflict, "", "already assessed"},
		{"in the future", func(a *Assessment, f *FollowUpFacts) { a.TakenAt = now.Add(time.Hour) }, EInvalid, "taken_at", "future"},
		{"before enrolment", func(a *Assessment, f *FollowUpFacts) { a.TakenAt = enrolled.Add(-3 * time.Hour) }, EInvalid, "taken_at", "before the enrolment date"},
		{"nothing measured", func(a *Assessment, f *FollowUpFacts) { a.CRP = nil }, EInvalid, "crp_mg_l", "at least one measurement"},
		{"CRP too high", func(a *Assessment, f *FollowUpFacts) { a.CRP = f64(601) }, EInvalid, "crp_mg_l", "CRP must be a number from 0 to 600 mg/L"},
		{"IL-6 negative", func(a *Assessment, f *FollowUpFacts) { a.IL6 = f64(-1) }, EInvalid, "il6_pg_ml", "from 0 to 100000 pg/mL"},
		{"procalcitonin", func(a *Assessment, f *FollowUpFacts) { a.PCT = f64(1500) }, EInvalid, "pct_ng_ml", "from 0 to 1000 ng/mL"},
		{"viral load", func(a *Assessment, f *FollowUpFacts) { a.ViralLoad = f64(2e12) }, EInvalid, "viral_load_copies_ml", "copies/mL"},
		{"P/F as a fraction", func(a *Assessment, f *FollowUpFacts) { a.PFRatio = f64(3.1) }, EInvalid, "pf_ratio_mmhg", "from 20 to 700 mmHg"},
		{"imaging score not whole", func(a *Assessment, f *FollowUpFacts) { a.ImagingScore = f64(2.5) }, EInvalid, "imaging_score", "a whole number from 0 to 25"},
		{"bounds included", func(a *Assessment, f *FollowUpFacts) { a.PFRatio, a.ImagingScore = f64(700), f64(25) }, "", "", ""},
		{"after death", func(a *Assessment, f *FollowUpFacts) {
			f.Outcomes = []Outcome{{Kind: OutcomeDeath, Date: "2026-03-06", Cause: "ARDS"}}
		}, ERuleViolated, "", "follow-up ended with the death on 2026-03-06"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, f := ok, base
			tc.edit(&a, &f)
			err := CheckAssessment(a, f)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if ErrorCode(err) != tc.code || ErrorField(err) != tc.field || !strings.Contains(ErrorMessage(err), tc.msg) {
				t.Fatalf("got %v, want %s %s %q", err, tc.code, tc.field, tc.msg)
			}
		})
	}
}

func TestCheckOutcome(t *testing.T) {
	enrolled := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	now := enrolled.AddDate(0, 4, 0)
	discharged := []Outcome{{Kind: OutcomeDischarge, Date: "2026-03-20"}}
	for _, tc := range []struct {
		name  string
		o     Outcome
		prior []Outcome
		code  string
		field string
	}{
		{"discharge", Outcome{Kind: OutcomeDischarge, Date: "2026-03-20"}, nil, "", ""},
		{"death after discharge", Outcome{Kind: OutcomeDeath, Date: "2026-04-01", Cause: "stroke"}, discharged, "", ""},
		{"unknown kind", Outcome{Kind: "transfer", Date: "2026-03-20"}, nil, EInvalid, "kind"},
		{"bad date", Outcome{Kind: OutcomeDischarge, Date: "20/03/2026"}, nil, EInvalid, "date"},
		{"before enrolment", Outcome{Kind: OutcomeDischarge, Date: "2026-03-01"}, nil, EInvalid, "date"},
		{"in the future", Outcome{Kind: OutcomeDischarge, Date: "2026-08-01"}, nil, EInvalid, "date"},
		{"death after day 90", Outcome{Kind: OutcomeDeath, Date: "2026-06-01", Cause: "sepsis"}, nil, EInvalid, "date"},
		{"discharge after day 90", Outcome{Kind: OutcomeDischarge, Date: "2026-06-10"}, nil, "", ""},
		{"death without cause", Outcome{Kind: OutcomeDeath, Date: "2026-03-05"}, nil, EInvalid, "cause"},
		{"withdrawal without reason", Outcome{Kind: OutcomeWithdrawal, Date: "2026-03-05"}, nil, EInvalid, "reason"},
		{"lost without reason", Outcome{Kind: OutcomeLost, Date: "2026-03-05"}, nil, EInvalid, "reason"},
		{"second discharge", Outcome{Kind: OutcomeDischarge, Date: "2026-03-25"}, discharged, EConflict, ""},
		{"death before discharge", Outcome{Kind: OutcomeDeath, Date: "2026-03-10", Cause: "ARDS"}, discharged, EInvalid, "date"},
		{"after the end", Outcome{Kind: OutcomeDischarge, Date: "2026-03-25"}, []Outcome{{Kind: OutcomeWithdrawal, Date: "2026-03-10", Reason: "consent"}}, EConflict, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOutcome(tc.o, FollowUpFacts{EnrolledAt: enrolled, Site: time.UTC, Now: now, Days: DefaultAssessmentDays, Outcomes: tc.prior})
			if ErrorCode(err) != tc.code || ErrorField(err) != tc.field {
				t.Fatalf("got %v, want %q on %q", err, tc.code, tc.field)
			}
		})
	}
}

// What is due: days that have come and are not assessed, overdue past the grace; nothing after
// follow-up ended; overdue first on the worklist.
func TestDueAssessments(t *testing.T) {
	enrolled := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	f := FollowUpFacts{EnrolledAt: enrolled, Site: time.UTC, Now: enrolled.AddDate(0, 0, 8), Days: DefaultAssessmentDays, Recorded: []int{0, 3}}
	got := DueAssessments(f, 1)
	// Today is day 8: day 1 is 7 days late, day 7 one day late (within the grace).
	if len(got) != 2 || got[0].Day != 1 || !got[0].Overdue || got[0].DaysLate != 7 || got[1].Day != 7 || got[1].Overdue || got[1].Date != "2026-03-09" {
		t.Fatalf("due: %+v", got)
	}
	f.Outcomes = []Outcome{{Kind: OutcomeLost, Date: "2026-03-09", Reason: "moved"}}
	if got := DueAssessments(f, 1); len(got) != 1 || got[0].Day != 1 {
		t.Fatalf("after loss to follow-up on day 7: %+v", got)
	}
	w := []AssessmentDue{{SubjectID: "B", Day: 7}, {SubjectID: "A", Day: 1, Overdue: true, DaysLate: 3}, {SubjectID: "C", Day: 0, Overdue: true, DaysLate: 8}}
	SortAssessmentsDue(w)
	if w[0].SubjectID != "C" || w[1].SubjectID != "A" || w[2].SubjectID != "B" {
		t.Fatalf("worklist order: %+v", w)
	}
}

func TestMissedAssessments(t *testing.T) {
	enrolled := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	f := FollowUpFacts{EnrolledAt: enrolled, Site: time.UTC, Now: enrolled.AddDate(0, 0, 8), Days: DefaultAssessmentDays, Recorded: []int{0, 7}}
	// Today is day 8, the day 7 assessment just recorded: days 1 and 3 are past their grace and
	// before it; day 14 has not come.
	if got := MissedAssessments(f, 1, 7); fmt.Sprint(days(got)) != "[1 3]" {
		t.Fatalf("missed before day 7: %+v", got)
	}
	// A record of day 3 shows only day 1 missed.
	if got := MissedAssessments(f, 1, 3); fmt.Sprint(days(got)) != "[1]" {
		t.Fatalf("missed before day 3: %+v", got)
	}
	// Within its grace a day is not missed yet: with 3 days' grace, day 3 is still due on day 6.
	f.Now = enrolled.AddDate(0, 0, 6)
	if got := MissedAssessments(f, 3, 7); fmt.Sprint(days(got)) != "[1]" {
		t.Fatalf("missed with 3 days' grace: %+v", got)
	}
	// A death on day 2 ends follow-up: day 3 was never due.
	f.Now, f.Recorded = enrolled.AddDate(0, 0, 30), []int{0}
	f.Outcomes = []Outcome{{Kind: OutcomeDeath, Date: "2026-03-04", Cause: "sepsis"}}
	if got := MissedAssessments(f, 1, 2); fmt.Sprint(days(got)) != "[1]" {
		t.Fatalf("missed before a death on day 2: %+v", got)
	}
}

func days(w []AssessmentDue) []int {
	var out []int
	for _, d := range w {
		out = append(out, d.Day)
	}
	return out
}

func TestSpecFollowUpDays(t *testing.T) {
	s := DefaultSpecV1()
	if len(s.AssessmentDays()) != 7 || s.AssessmentGrace() != 1 {
		t.Fatal("defaults")
	}
	s.FollowUpDays = []int{0, 7, 7}
	if ErrorField(s.Validate()) != "follow_up_days" {
		t.Fatal("days must rise")
	}
	s.FollowUpDays = []int{0, 30, 91}
	if ErrorField(s.Validate()) != "follow_up_days" {
		t.Fatal("days end at 90")
	}
}
