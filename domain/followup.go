package domain

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Follow-up (SPEC §13): day 0 is the enrolment date in the site time zone; follow-up ends on
// day 90. Assessments at the protocol's days carry the trial's measurements; outcomes record
// discharge, death, withdrawal and loss to follow-up.

// Disclosure channels of follow-up reads (Disclosure.Via): they show subject ids and the
// record of care.
const (
	ViaAPIFollowUp          = "api.follow_up"
	ViaAPIFollowUpWorklist  = "api.follow_up_worklist"
	ViaPageFollowUp         = "page.follow_up"
	ViaPageFollowUpWorklist = "page.follow_up_worklist"
)

// FollowUpEndDay is the last day of follow-up and of the endpoints.
const FollowUpEndDay = 90

// DefaultAssessmentDays are the protocol's assessment days where a specification version does
// not give its own (SPEC §13).
var DefaultAssessmentDays = []int{0, 1, 3, 7, 14, 28, 90}

// DefaultAssessmentGraceDays is how many days after its day an assessment is still due rather
// than overdue, where a specification version does not say.
const DefaultAssessmentGraceDays = 1

// AssessmentDays are the protocol's assessment days of s.
func (s ReleaseSpec) AssessmentDays() []int {
	if len(s.FollowUpDays) == 0 {
		return DefaultAssessmentDays
	}
	return s.FollowUpDays
}

// AssessmentGrace is how many days an assessment of s stays due before it is overdue.
func (s ReleaseSpec) AssessmentGrace() int {
	if s.FollowUpGraceDays == nil {
		return DefaultAssessmentGraceDays
	}
	return *s.FollowUpGraceDays
}

// StudyDay is the number of calendar days from the enrolment date to t, both in the site's
// time zone: day 0 is the enrolment date.
func StudyDay(enrolledAt, t time.Time, site *time.Location) int {
	e, d := enrolledAt.In(site), t.In(site)
	e0 := time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, time.UTC)
	d0 := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	return int(d0.Sub(e0).Hours() / 24)
}

// StudyDayOfDate is the study day of a calendar date (YYYY-MM-DD, site time zone).
func StudyDayOfDate(enrolledAt time.Time, date string, site *time.Location) (int, error) {
	d, err := time.ParseInLocation(time.DateOnly, date, site)
	if err != nil {
		return 0, err
	}
	return StudyDay(enrolledAt, d, site), nil
}

// DateOfStudyDay is the calendar date (YYYY-MM-DD) of study day n.
func DateOfStudyDay(enrolledAt time.Time, n int, site *time.Location) string {
	return InfusionDay(enrolledAt, site, n).Format(time.DateOnly)
}

// Measurement is one of the trial's follow-up measurements, with its unit and the range in
// which a value is plausible: outside it a wrong unit or a typing error is far likelier.
type Measurement struct {
	Field    string  `json:"field"` // the JSON field of an assessment
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Integral bool    `json:"integral,omitempty"`
}

// Measurements are the follow-up measurements of SPEC §13, in the order pages show them.
var Measurements = []Measurement{
	{Field: "crp_mg_l", Name: "CRP", Unit: "mg/L", Min: 0, Max: 600},
	{Field: "il6_pg_ml", Name: "IL-6", Unit: "pg/mL", Min: 0, Max: 100000},
	{Field: "pct_ng_ml", Name: "Procalcitonin", Unit: "ng/mL", Min: 0, Max: 1000},
	{Field: "viral_load_copies_ml", Name: "Viral load", Unit: "copies/mL", Min: 0, Max: 1e12},
	{Field: "pf_ratio_mmhg", Name: "PaO2/FiO2", Unit: "mmHg", Min: 20, Max: 700},
	// A chest CT severity score: five lobes scored 0–5 each.
	{Field: "imaging_score", Name: "Chest imaging score", Unit: "points", Min: 0, Max: 25, Integral: true},
}

// Assessment is one follow-up visit's measurements; a nil value was not measured.
type Assessment struct {
	ID           int64     `json:"id"`
	PatientID    int64     `json:"patient_id"`
	Day          int       `json:"day"`
	TakenAt      time.Time `json:"taken_at"`
	CRP          *float64  `json:"crp_mg_l,omitempty"`
	IL6          *float64  `json:"il6_pg_ml,omitempty"`
	PCT          *float64  `json:"pct_ng_ml,omitempty"`
	ViralLoad    *float64  `json:"viral_load_copies_ml,omitempty"`
	PFRatio      *float64  `json:"pf_ratio_mmhg,omitempty"`
	ImagingScore *float64  `json:"imaging_score,omitempty"`
	RecordedBy   string    `json:"recorded_by,omitempty"`
}

// Values are the assessment's measurements in Measurements order.
func (a Assessment) Values() []*float64 {
	return []*float64{a.CRP, a.IL6, a.PCT, a.ViralLoad, a.PFRatio, a.ImagingScore}
}

// OutcomeKind is what ended or changed a subject's stay or follow-up.
type OutcomeKind string

const (
	OutcomeDischarge  OutcomeKind = "discharge" // discharged alive
	OutcomeDeath      OutcomeKind = "death"
	OutcomeWithdrawal OutcomeKind = "withdrawal"
	OutcomeLost       OutcomeKind = "lost" // lost to follow-up
)

// Ends reports whether the outcome ends follow-up: nothing is recorded after it.
func (k OutcomeKind) Ends() bool {
	return k == OutcomeDeath || k == OutcomeWithdrawal || k == OutcomeLost
}

// Outcome is a discharge, death, withdrawal or loss to follow-up, on a calendar date of the
// site (YYYY-MM-DD).
type Outcome struct {
	ID         int64       `json:"id"`
	PatientID  int64       `json:"patient_id"`
	Kind       OutcomeKind `json:"kind"`
	Date       string      `json:"date"`
	Cause      string      `json:"cause,omitempty"`  // of death
	Reason     string      `json:"reason,omitempty"` // of withdrawal or loss
	RecordedBy string      `json:"recorded_by,omitempty"`
}

// FollowUpFacts are what the follow-up rules look at for one patient.
type FollowUpFacts struct {
	EnrolledAt time.Time
	Site       *time.Location
	Now        time.Time
	Days       []int // the protocol's assessment days
	Recorded   []int // days already assessed
	Outcomes   []Outcome
}

// end is the outcome that ended follow-up, if any.
func (f FollowUpFacts) end() *Outcome {
	for i := range f.Outcomes {
		if f.Outcomes[i].Kind.Ends() {
			return &f.Outcomes[i]
		}
	}
	return nil
}

// CheckAssessment checks a new assessment: a protocol day not yet assessed, taken on or after
// the enrolment date and not in the future nor after follow-up ended, at least one
// measurement, each within its plausible range.
func CheckAssessment(a Assessment, f FollowUpFacts) error {
	if !slices.Contains(f.Days, a.Day) {
		return FieldError("day", "day %d is not an assessment day of the protocol (%s)", a.Day, joinInts(f.Days))
	}
	if slices.Contains(f.Recorded, a.Day) {
		return Errorf(EConflict, "day %d is already assessed for this patient", a.Day)
	}
	if a.TakenAt.IsZero() || a.TakenAt.After(f.Now.Add(5*time.Minute)) {
		return FieldError("taken_at", "taken_at is required and cannot be in the future")
	}
	day := StudyDay(f.EnrolledAt, a.TakenAt, f.Site)
	if day < 0 {
		return FieldError("taken_at", "taken_at is before the enrolment date (day 0, %s)", DateOfStudyDay(f.EnrolledAt, 0, f.Site))
	}
	if end := f.end(); end != nil {
		if endDay, err := StudyDayOfDate(f.EnrolledAt, end.Date, f.Site); err == nil && day > endDay {
			return Errorf(ERuleViolated, "follow-up ended with the %s on %s: no assessment after it", end.Kind, end.Date)
		}
	}
	measured := false
	for i, v := range a.Values() {
		if v == nil {
			continue
		}
		measured = true
		m := Measurements[i]
		if math.IsNaN(*v) || *v < m.Min || *v > m.Max || (m.Integral && *v != math.Trunc(*v)) {
			kind := "a number"
			if m.Integral {
				kind = "a whole number"
			}
			return FieldError(m.Field, "%s must be %s from %s to %s %s", m.Name, kind, num(m.Min), num(m.Max), m.Unit)
		}
	}
	if !measured {
		return FieldError("crp_mg_l", "an assessment needs at least one measurement (%s)", measurementFields())
	}
	return nil
}

// CheckOutcome checks a new outcome against the patient's others: a known kind on a real
// date from the enrolment date to today, within follow-up (a discharge may come later); a
// cause for a death, a reason for a withdrawal or loss; one discharge, and nothing after
// follow-up ended.
func CheckOutcome(o Outcome, f FollowUpFacts) error {
	switch o.Kind {
	case OutcomeDischarge, OutcomeDeath, OutcomeWithdrawal, OutcomeLost:
	default:
		return FieldError("kind", "kind must be discharge, death, withdrawal or lost")
	}
	day, err := StudyDayOfDate(f.EnrolledAt, o.Date, f.Site)
	if err != nil {
		return FieldError("date", "date must be a calendar date as YYYY-MM-DD")
	}
	if day < 0 {
		return FieldError("date", "date is before the enrolment date (day 0, %s)", DateOfStudyDay(f.EnrolledAt, 0, f.Site))
	}
	if day > StudyDay(f.EnrolledAt, f.Now, f.Site) {
		return FieldError("date", "date cannot be in the future")
	}
	if o.Kind.Ends() && day > FollowUpEndDay {
		return FieldError("date", "follow-up ends on day %d (%s): a later %s is outside the trial", FollowUpEndDay, DateOfStudyDay(f.EnrolledAt, FollowUpEndDay, f.Site), o.Kind)
	}
	switch {
	case o.Kind == OutcomeDeath && strings.TrimSpace(o.Cause) == "":
		return FieldError("cause", "a death needs its cause")
	case (o.Kind == OutcomeWithdrawal || o.Kind == OutcomeLost) && strings.TrimSpace(o.Reason) == "":
		return FieldError("reason", "a %s needs its reason", o.Kind)
	case len(o.Cause) > 500 || len(o.Reason) > 500:
		return FieldError("reason", "cause and reason are at most 500 characters")
	}
	if end := f.end(); end != nil {
		return Errorf(EConflict, "follow-up already ended with the %s on %s", end.Kind, end.Date)
	}
	for _, prev := range f.Outcomes {
		if prev.Kind == OutcomeDischarge {
			if o.Kind == OutcomeDischarge {
				return Errorf(EConflict, "the patient was already discharged on %s", prev.Date)
			}
			if o.Date < prev.Date {
				return FieldError("date", "date is before the discharge on %s", prev.Date)
			}
		}
	}
	return nil
}

// AssessmentDue is one line of the follow-up worklist.
type AssessmentDue struct {
	PatientID int64  `json:"patient_id"`
	SubjectID string `json:"subject_id"`
	Day       int    `json:"day"`
	Date      string `json:"date"` // the day's calendar date, site time zone
	Overdue   bool   `json:"overdue"`
	DaysLate  int    `json:"days_late"` // days past the day itself
}

// DueAssessments are a patient's assessments that are due (their day has come, within the
// grace) or overdue (past it), never those of a patient whose follow-up ended, nor days after
// its end.
func DueAssessments(f FollowUpFacts, grace int) []AssessmentDue {
	today := StudyDay(f.EnrolledAt, f.Now, f.Site)
	last := FollowUpEndDay
	if end := f.end(); end != nil {
		if d, err := StudyDayOfDate(f.EnrolledAt, end.Date, f.Site); err == nil {
			last = d - 1
		}
	}
	var out []AssessmentDue
	for _, d := range f.Days {
		if d > today || d > last || slices.Contains(f.Recorded, d) {
			continue
		}
		out = append(out, AssessmentDue{Day: d, Date: DateOfStudyDay(f.EnrolledAt, d, f.Site), Overdue: today > d+grace, DaysLate: today - d})
	}
	return out
}

// MissedAssessments are the protocol days that a record of study day recordDay (an
// assessment, or an outcome on its date) shows were missed: days before it, past their grace
// as of now, with no assessment, within follow-up. cordtrace runs no job that watches the
// calendar: a later record is where it sees that an earlier visit did not happen. f includes
// the new record.
func MissedAssessments(f FollowUpFacts, grace, recordDay int) []AssessmentDue {
	var out []AssessmentDue
	for _, d := range DueAssessments(f, grace) {
		if d.Overdue && d.Day < recordDay {
			out = append(out, d)
		}
	}
	return out
}

// SortAssessmentsDue puts overdue assessments first, the latest first, then due ones by subject.
func SortAssessmentsDue(w []AssessmentDue) {
	slices.SortStableFunc(w, func(a, b AssessmentDue) int {
		if a.Overdue != b.Overdue {
			if a.Overdue {
				return -1
			}
			return 1
		}
		if a.DaysLate != b.DaysLate {
			return b.DaysLate - a.DaysLate
		}
		if c := strings.Compare(a.SubjectID, b.SubjectID); c != 0 {
			return c
		}
		return a.Day - b.Day
	})
}

// WorklistPatientIDs are the patients of a worklist, each once, for the disclosure record.
func WorklistPatientIDs(w []AssessmentDue) []int64 {
	var ids []int64
	for _, d := range w {
		if !slices.Contains(ids, d.PatientID) {
			ids = append(ids, d.PatientID)
		}
	}
	return ids
}

// FollowUp is one patient's follow-up record.
type FollowUp struct {
	PatientID   int64           `json:"patient_id"`
	SubjectID   string          `json:"subject_id"`
	Arm         Arm             `json:"arm"`
	Day0        string          `json:"day0"`
	Today       int             `json:"today"` // today's study day
	Assessments []Assessment    `json:"assessments"`
	Outcomes    []Outcome       `json:"outcomes"`
	Due         []AssessmentDue `json:"due"`
}

// FollowUpService records and lists follow-up.
type FollowUpService interface {
	// RecordAssessment checks (CheckAssessment) and records an assessment. Unknown patient:
	// ENotFound.
	RecordAssessment(ctx context.Context, actor Actor, a Assessment) (Assessment, error)
	// RecordOutcome checks (CheckOutcome) and records an outcome.
	RecordOutcome(ctx context.Context, actor Actor, o Outcome) (Outcome, error)
	// FollowUp is one patient's assessments, outcomes and what is due.
	FollowUp(ctx context.Context, patientID int64) (FollowUp, error)
	// FollowUpWorklist is every assessment due or overdue, overdue first (SortAssessmentsDue).
	FollowUpWorklist(ctx context.Context) ([]AssessmentDue, error)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func num(v float64) string { return fmt.Sprint(v) }

func measurementFields() string {
	s := make([]string, len(Measurements))
	for i, m := range Measurements {
		s[i] = m.Field
	}
	return strings.Join(s, ", ")
}
