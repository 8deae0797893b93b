package domain

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestKaplanMeier(t *testing.T) {
	for _, tc := range []struct {
		name  string
		times []int
		died  []bool
		want  string
	}{
		// At risk 5: a death on day 2 (S = 4/5 = 0.8); day 3, 4 at risk, a death and a censoring
		// (S = 0.8 × 3/4 = 0.6); day 5, 2 at risk, a death (S = 0.6 × 1/2 = 0.3); day 8 censored.
		{"deaths and censorings", []int{2, 3, 3, 5, 8}, []bool{true, true, false, true, false},
			"[{0 5 0 0 1} {2 5 1 0 0.8} {3 4 1 1 0.6} {5 2 1 0 0.3} {8 1 0 1 0.3}]"},
		{"nobody dies", []int{90, 90}, []bool{false, false}, "[{0 2 0 0 1} {90 2 0 2 1}]"},
		{"a death on day 0", []int{0, 10}, []bool{true, false}, "[{0 2 1 0 0.5} {10 1 0 1 0.5}]"},
		{"everybody dies", []int{1, 1}, []bool{true, true}, "[{0 2 0 0 1} {1 2 2 0 0}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := KaplanMeier(tc.times, tc.died)
			for i := range got {
				got[i].Survival = math.Round(got[i].Survival*1e9) / 1e9
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Fatalf("got %s, want %s", s, tc.want)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		q    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.25, 1.75}, // position 0.75
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4}, 0.75, 3.25},
		{[]float64{7}, 0.25, 7},
		{[]float64{3, 5, 11}, 0.5, 5},
	} {
		if got := Quantile(tc.v, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%v q%.2f = %v, want %v", tc.v, tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Error("the quantile of nothing is a number")
	}
}

// A small trial whose figures are worked out by hand below.
func TestComputeEndpoints(t *testing.T) {
	e0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	now := e0.AddDate(0, 0, 120) // everyone past day 90
	day := func(n int) string { return e0.AddDate(0, 0, n).Format(time.DateOnly) }
	crp := func(d int, v float64) Assessment { return Assessment{Day: d, CRP: &v} }
	subjects := []EndpointSubject{
		// huc_msc: discharged on days 10 and 20, one of them dies on day 40 after discharge;
		// one withdraws on day 5 while in hospital; one dies in hospital on day 3.
		{Arm: ArmHUCMSC, EnrolledAt: e0, Outcomes: []Outcome{{Kind: OutcomeDischarge, Date: day(10)}}, AECount: 2, Assessments: []Assessment{crp(0, 100), crp(7, 40)}},
		{Arm: ArmHUCMSC, EnrolledAt: e0, Outcomes: []Outcome{{Kind: OutcomeDischarge, Date: day(20)}, {Kind: OutcomeDeath, Date: day(40), Cause: "MI"}}, SAECount: 1, Assessments: []Assessment{crp(0, 80), crp(7, 60)}},
		{Arm: ArmHUCMSC, EnrolledAt: e0, Outcomes: []Outcome{{Kind: OutcomeWithdrawal, Date: day(5), Reason: "consent"}}, Assessments: []Assessment{crp(0, 150)}},
		{Arm: ArmHUCMSC, EnrolledAt: e0, Outcomes: []Outcome{{Kind: OutcomeDeath, Date: day(3), Cause: "ARDS"}}, SAECount: 1},
		// routine: one discharged on day 14, one still in hospital alive.
		{Arm: ArmRoutine, EnrolledAt: e0, Outcomes: []Outcome{{Kind: OutcomeDischarge, Date: day(14)}}, AECount: 1},
		{Arm: ArmRoutine, EnrolledAt: e0},
	}
	got := ComputeEndpoints(subjects, DefaultAssessmentDays, time.UTC, now)
	h, r := got.Arms[0], got.Arms[1]
	// huc_msc: 2 deaths of 4 = 0.5. KM: day 3, 4 at risk, 1 death: 0.75; day 5 censored
	// (withdrawal); day 40, 2 at risk, 1 death: 0.375; day 90 one censored.
	if h.Randomized != 4 || h.Deaths90d != 2 || *h.Mortality90d != 0.5 {
		t.Errorf("huc_msc mortality: %+v", h)
	}
	if fmt.Sprint(h.KM) != "[{0 4 0 0 1} {3 4 1 0 0.75} {5 3 0 1 0.75} {40 2 1 0 0.375} {90 1 0 1 0.375}]" {
		t.Errorf("huc_msc KM: %v", h.KM)
	}
	// LOS of the two discharged alive: 10 and 20 days: mean 15, median 15, Q1 12.5, Q3 17.5;
	// one death in hospital; the withdrawn subject was never discharged.
	if h.Discharged != 2 || h.DeathsInHospital != 1 || h.InHospital != 1 || *h.LOSMean != 15 || *h.LOSMedian != 15 || *h.LOSQ1 != 12.5 || *h.LOSQ3 != 17.5 {
		t.Errorf("huc_msc stay: %+v", h)
	}
	if h.AECount != 2 || h.SAECount != 2 {
		t.Errorf("huc_msc AEs: %d %d", h.AECount, h.SAECount)
	}
	// CRP day 0: 80, 100, 150 → 100; day 7: 40, 60 → 50.
	if tr := h.Trajectories[0]; tr.Field != "crp_mg_l" || fmt.Sprint(tr.Points) != "[{0 3 100} {7 2 50}]" {
		t.Errorf("huc_msc CRP: %+v", tr)
	}
	if len(h.Trajectories[1].Points) != 0 {
		t.Errorf("IL-6 was never measured: %+v", h.Trajectories[1])
	}
	if r.Randomized != 2 || r.Deaths90d != 0 || *r.Mortality90d != 0 || fmt.Sprint(r.KM) != "[{0 2 0 0 1} {90 2 0 2 1}]" {
		t.Errorf("routine: %+v", r)
	}
	if r.Discharged != 1 || r.InHospital != 1 || *r.LOSMedian != 14 || *r.LOSQ1 != 14 {
		t.Errorf("routine stay: %+v", r)
	}
	// An arm with nobody has null figures.
	empty := ComputeEndpoints(nil, DefaultAssessmentDays, time.UTC, now)
	if empty.Arms[0].Mortality90d != nil || empty.Arms[0].LOSMean != nil || len(empty.Arms[0].KM) != 0 {
		t.Errorf("empty arm: %+v", empty.Arms[0])
	}
	// Still in follow-up: censored on today's study day.
	young := ComputeEndpoints([]EndpointSubject{{Arm: ArmRoutine, EnrolledAt: e0}}, DefaultAssessmentDays, time.UTC, e0.AddDate(0, 0, 12))
	if fmt.Sprint(young.Arms[1].KM) != "[{0 1 0 0 1} {12 1 0 1 1}]" {
		t.Errorf("subject on day 12: %v", young.Arms[1].KM)
	}
	rows := got.Records()
	if fmt.Sprint(rows[0]) != "[huc_msc randomized  4]" || fmt.Sprint(rows[2]) != "[huc_msc mortality_90d  0.5]" {
		t.Errorf("records: %v", rows[:3])
	}
}
