package domain

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"
)

// Endpoints (SPEC §13): per arm, 90-day mortality with its Kaplan–Meier curve, length of stay,
// adverse events and each measurement's median by assessment day. Computed from subjects
// without their identity: the figures name no patient.

// EndpointSubject is what the endpoints need of one subject.
type EndpointSubject struct {
	Arm         Arm
	EnrolledAt  time.Time
	Outcomes    []Outcome
	Assessments []Assessment
	AECount     int // adverse events not serious
	SAECount    int // serious adverse events
}

// KMPoint is one step of a Kaplan–Meier curve: on Day, Events deaths among AtRisk subjects
// followed to at least that day, Censored subjects whose follow-up stopped that day alive, and
// the estimated probability of surviving past it.
type KMPoint struct {
	Day      int     `json:"day"`
	AtRisk   int     `json:"at_risk"`
	Events   int     `json:"events"`
	Censored int     `json:"censored"`
	Survival float64 `json:"survival"`
}

// MedianPoint is a measurement's median on one assessment day, over N values.
type MedianPoint struct {
	Day    int     `json:"day"`
	N      int     `json:"n"`
	Median float64 `json:"median"`
}

// Trajectory is one measurement's medians by day in one arm.
type Trajectory struct {
	Field  string        `json:"field"`
	Name   string        `json:"name"`
	Unit   string        `json:"unit"`
	Points []MedianPoint `json:"points"`
}

// ArmEndpoints are one arm's figures. The length of stay is of subjects discharged alive, in
// days from the enrolment date to the discharge date; deaths in hospital (no discharge before
// the death) and subjects not yet discharged are counted beside it, not in it. A figure with
// no subject to compute it from is null.
type ArmEndpoints struct {
	Arm              Arm          `json:"arm"`
	Randomized       int          `json:"randomized"`
	Deaths90d        int          `json:"deaths_90d"`
	Mortality90d     *float64     `json:"mortality_90d"`
	KM               []KMPoint    `json:"kaplan_meier"`
	Discharged       int          `json:"discharged_alive"`
	DeathsInHospital int          `json:"deaths_in_hospital"`
	InHospital       int          `json:"in_hospital"`
	LOSMean          *float64     `json:"los_mean_days"`
	LOSMedian        *float64     `json:"los_median_days"`
	LOSQ1            *float64     `json:"los_q1_days"`
	LOSQ3            *float64     `json:"los_q3_days"`
	AECount          int          `json:"ae_count"`
	SAECount         int          `json:"sae_count"`
	Trajectories     []Trajectory `json:"trajectories"`
}

// Endpoints are the trial's figures by arm, as of AsOf.
type Endpoints struct {
	AsOf time.Time      `json:"as_of"`
	Arms []ArmEndpoints `json:"arms"`
}

// EndpointService computes the endpoints from the records.
type EndpointService interface {
	Endpoints(ctx context.Context) (Endpoints, error)
}

// survivalTime is a subject's time to death (event) or to the last day known alive
// (censored), capped at FollowUpEndDay: a death is the event; a withdrawal or loss censors on
// its day; otherwise the subject is known alive up to today, or to day 90 once it is past.
// Discharge censors nothing: follow-up goes on after it.
func survivalTime(s EndpointSubject, site *time.Location, now time.Time) (day int, died bool) {
	for _, o := range s.Outcomes {
		if !o.Kind.Ends() {
			continue
		}
		d, err := StudyDayOfDate(s.EnrolledAt, o.Date, site)
		if err != nil {
			continue
		}
		return min(d, FollowUpEndDay), o.Kind == OutcomeDeath && d <= FollowUpEndDay
	}
	return max(0, min(StudyDay(s.EnrolledAt, now, site), FollowUpEndDay)), false
}

// KaplanMeier is the product-limit estimate over (day, died) pairs: at each day with a death,
// survival is multiplied by 1 − deaths/at risk, where those censored on a day still count as
// at risk on it (censoring after the deaths of the day). The curve starts at day 0 with
// survival 1 and has a point on every day with a death or a censoring.
func KaplanMeier(times []int, died []bool) []KMPoint {
	type tally struct{ events, censored int }
	byDay := map[int]*tally{}
	var days []int
	for i, d := range times {
		t, ok := byDay[d]
		if !ok {
			t = &tally{}
			byDay[d] = t
			days = append(days, d)
		}
		if died[i] {
			t.events++
		} else {
			t.censored++
		}
	}
	slices.Sort(days)
	out := []KMPoint{{Day: 0, AtRisk: len(times), Survival: 1}}
	atRisk, s := len(times), 1.0
	for _, d := range days {
		t := byDay[d]
		if atRisk > 0 {
			s *= 1 - float64(t.events)/float64(atRisk)
		}
		p := KMPoint{Day: d, AtRisk: atRisk, Events: t.events, Censored: t.censored, Survival: s}
		if d == 0 {
			out[0] = p
		} else {
			out = append(out, p)
		}
		atRisk -= t.events + t.censored
	}
	return out
}

// Quantile is the q-quantile of sorted values by linear interpolation between the closest
// ranks (the "type 7" definition of R and NumPy's default): position (n−1)·q.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := float64(len(sorted)-1) * q
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func ptr(v float64) *float64 { return &v }

// ComputeEndpoints computes every arm's figures from its subjects, as of now, in the site's
// time zone; days are the protocol's assessment days.
func ComputeEndpoints(subjects []EndpointSubject, days []int, site *time.Location, now time.Time) Endpoints {
	out := Endpoints{AsOf: now.UTC()}
	for _, arm := range Arms {
		e := ArmEndpoints{Arm: arm, KM: []KMPoint{}, Trajectories: []Trajectory{}}
		var times []int
		var died []bool
		var los []float64
		values := make([]map[int][]float64, len(Measurements))
		for i := range values {
			values[i] = map[int][]float64{}
		}
		for _, s := range subjects {
			if s.Arm != arm {
				continue
			}
			e.Randomized++
			e.AECount += s.AECount
			e.SAECount += s.SAECount
			t, d := survivalTime(s, site, now)
			times, died = append(times, t), append(died, d)
			if d {
				e.Deaths90d++
			}
			switch stay, discharged, diedIn := lengthOfStay(s, site); {
			case discharged:
				e.Discharged++
				los = append(los, float64(stay))
			case diedIn:
				e.DeathsInHospital++
			default:
				e.InHospital++
			}
			for _, a := range s.Assessments {
				for i, v := range a.Values() {
					if v != nil {
						values[i][a.Day] = append(values[i][a.Day], *v)
					}
				}
			}
		}
		if e.Randomized > 0 {
			e.Mortality90d = ptr(float64(e.Deaths90d) / float64(e.Randomized))
			e.KM = KaplanMeier(times, died)
		}
		if len(los) > 0 {
			slices.Sort(los)
			sum := 0.0
			for _, v := range los {
				sum += v
			}
			e.LOSMean = ptr(sum / float64(len(los)))
			e.LOSMedian, e.LOSQ1, e.LOSQ3 = ptr(Quantile(los, 0.5)), ptr(Quantile(los, 0.25)), ptr(Quantile(los, 0.75))
		}
		for i, m := range Measurements {
			tr := Trajectory{Field: m.Field, Name: m.Name, Unit: m.Unit, Points: []MedianPoint{}}
			for _, d := range days {
				v := values[i][d]
				if len(v) == 0 {
					continue
				}
				slices.Sort(v)
				tr.Points = append(tr.Points, MedianPoint{Day: d, N: len(v), Median: Quantile(v, 0.5)})
			}
			e.Trajectories = append(e.Trajectories, tr)
		}
		out.Arms = append(out.Arms, e)
	}
	return out
}

// lengthOfStay is a subject's stay in days from the enrolment date to the discharge date when
// discharged alive; diedIn says the subject died without a discharge before.
func lengthOfStay(s EndpointSubject, site *time.Location) (days int, discharged, diedIn bool) {
	for _, o := range s.Outcomes {
		switch o.Kind {
		case OutcomeDischarge:
			d, err := StudyDayOfDate(s.EnrolledAt, o.Date, site)
			if err == nil {
				return d, true, false
			}
		case OutcomeDeath:
			return 0, false, true
		}
	}
	return 0, false, false
}

// EndpointColumns are the columns of the endpoints export: one figure a row, in long form so
// that a figure added later is a new row, never a new column.
var EndpointColumns = []string{"arm", "figure", "day", "value"}

// Records are the endpoints as rows of EndpointColumns: the summary figures (day empty), the
// Kaplan–Meier curve (km_survival, km_at_risk, km_events, km_censored by day) and each
// measurement's median and count by day (median_<field>, n_<field>). Null figures are left
// out.
func (e Endpoints) Records() [][]string {
	var rows [][]string
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, a := range e.Arms {
		add := func(figure string, day int, value string) {
			d := ""
			if day >= 0 {
				d = strconv.Itoa(day)
			}
			rows = append(rows, []string{string(a.Arm), figure, d, value})
		}
		opt := func(figure string, v *float64) {
			if v != nil {
				add(figure, -1, f(*v))
			}
		}
		add("randomized", -1, strconv.Itoa(a.Randomized))
		add("deaths_90d", -1, strconv.Itoa(a.Deaths90d))
		opt("mortality_90d", a.Mortality90d)
		add("discharged_alive", -1, strconv.Itoa(a.Discharged))
		add("deaths_in_hospital", -1, strconv.Itoa(a.DeathsInHospital))
		add("in_hospital", -1, strconv.Itoa(a.InHospital))
		opt("los_mean_days", a.LOSMean)
		opt("los_median_days", a.LOSMedian)
		opt("los_q1_days", a.LOSQ1)
		opt("los_q3_days", a.LOSQ3)
		add("ae_count", -1, strconv.Itoa(a.AECount))
		add("sae_count", -1, strconv.Itoa(a.SAECount))
		for _, p := range a.KM {
			add("km_survival", p.Day, f(p.Survival))
			add("km_at_risk", p.Day, strconv.Itoa(p.AtRisk))
			add("km_events", p.Day, strconv.Itoa(p.Events))
			add("km_censored", p.Day, strconv.Itoa(p.Censored))
		}
		for _, t := range a.Trajectories {
			for _, p := range t.Points {
				add("median_"+t.Field, p.Day, f(p.Median))
				add("n_"+t.Field, p.Day, strconv.Itoa(p.N))
			}
		}
	}
	return rows
}
