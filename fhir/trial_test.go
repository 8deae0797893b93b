package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/fhir/fhirtest"
)

func f64(v float64) *float64 { return &v }

// A subject's progress: on study from enrolment; a death or loss takes them off study, a
// withdrawal makes them withdrawn, a discharge changes nothing, day 90 passed ends follow-up;
// randomized only with an allocation.
func TestResearchSubjectProgress(t *testing.T) {
	enrolled := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	p := domain.Patient{ID: 7, SubjectID: "SVP-007", Arm: domain.ArmHUCMSC, EnrolledAt: enrolled, AllocationSequence: 4}
	for _, tc := range []struct {
		name     string
		noAlloc  bool
		today    int
		outcomes []domain.Outcome
		want     string
	}{
		{"on study", false, 5, nil, "on-study: Randomized: end "},
		{"not randomized", true, 5, nil, "on-study: end "},
		{"discharged", false, 20, []domain.Outcome{{Kind: domain.OutcomeDischarge, Date: "2026-03-15"}}, "on-study: Randomized: end "},
		{"died", false, 20, []domain.Outcome{{Kind: domain.OutcomeDischarge, Date: "2026-03-15"}, {Kind: domain.OutcomeDeath, Date: "2026-03-18", Cause: "sepsis"}},
			"on-study: Randomized: off-study:Death: sepsis end 2026-03-18"},
		{"withdrew", false, 20, []domain.Outcome{{Kind: domain.OutcomeWithdrawal, Date: "2026-03-10", Reason: "consent withdrawn"}},
			"on-study: Randomized: withdrawn:Withdrawal: consent withdrawn end 2026-03-10"},
		{"lost", false, 95, []domain.Outcome{{Kind: domain.OutcomeLost, Date: "2026-04-10", Reason: "moved away"}},
			"on-study: Randomized: off-study:Lost to follow-up: moved away end 2026-04-10"},
		{"day 90 is the last", false, 90, nil, "on-study: Randomized: end "},
		{"follow-up completed", false, 91, nil, "on-study: Randomized: off-study:Follow-up completed (day 90) end 2026-05-30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := p
			if tc.noAlloc {
				pt.AllocationSequence = 0
			}
			rs := MapResearchSubject(pt, domain.FollowUp{Outcomes: tc.outcomes, Today: tc.today}, time.UTC)
			var got []string
			for _, pr := range rs.Progress {
				s := ""
				if pr.SubjectState != nil {
					s = pr.SubjectState.Coding[0].Code + ":"
				}
				if pr.Milestone != nil {
					s = pr.Milestone.Coding[0].Code + ":"
				}
				if pr.Reason != nil {
					s += pr.Reason.Text
				}
				got = append(got, s)
			}
			if s := strings.Join(got, " ") + " end " + rs.Period.End; s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
			if rs.AssignedComparisonGroup != "huc-msc" || rs.ActualComparisonGroup != "huc-msc" || rs.Study.Reference != "ResearchStudy/"+StudyID {
				t.Errorf("arm or study: %+v", rs)
			}
			b, _ := json.Marshal(rs)
			if err := fhirtest.Validate(b); err != nil {
				t.Errorf("%s: %v", b, err)
			}
		})
	}
}

// One Observation per measurement taken, none for those not taken; every measurement has a code
// and a UCUM unit, so a new measurement without one fails here.
func TestAssessmentObservations(t *testing.T) {
	for _, m := range domain.Measurements {
		if c, ok := observationCodes[m.Field]; !ok || c.ucum == "" || c.category == "" {
			t.Errorf("measurement %s has no FHIR code, UCUM unit or category", m.Field)
		}
	}
	a := domain.Assessment{ID: 3, PatientID: 7, Day: 7, TakenAt: time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), CRP: f64(12), ViralLoad: f64(1e9), RecordedBy: "rn.ann"}
	obs := MapAssessment(a)
	var got []string
	for _, o := range obs {
		got = append(got, fmt.Sprint(o.ID, " ", o.ValueQuantity.Value, " ", o.ValueQuantity.Code))
		b, _ := json.Marshal(o)
		if err := fhirtest.Validate(b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	if want := "[assessment-3-crp-mg-l 12 mg/L assessment-3-viral-load-copies-ml 1e+09 {copies}/mL]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if id, err := ParseObservationID(obs[1].ID); err != nil || id != 3 {
		t.Errorf("ParseObservationID(%s) = %d, %v", obs[1].ID, id, err)
	}
	for _, bad := range []string{"", "assessment-", "assessment-x-crp", "assessment-0-crp", "bag-3"} {
		if _, err := ParseObservationID(bad); err == nil {
			t.Errorf("ParseObservationID(%q) accepted", bad)
		}
	}
}
