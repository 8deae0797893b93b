package domain

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Seriousness criteria of ICH E2A: any one makes an adverse event serious.
const (
	CriterionDeath                 = "death"
	CriterionLifeThreatening       = "life_threatening"
	CriterionHospitalisation       = "hospitalisation" // in-patient hospitalisation or its prolongation
	CriterionPersistentDisability  = "persistent_disability"
	CriterionCongenitalAnomaly     = "congenital_anomaly"
	CriterionImportantMedicalEvent = "important_medical_event"
)

// SeriousnessCriteria lists the criteria in the order the pages offer them.
var SeriousnessCriteria = []string{CriterionDeath, CriterionLifeThreatening, CriterionHospitalisation,
	CriterionPersistentDisability, CriterionCongenitalAnomaly, CriterionImportantMedicalEvent}

// Relatedness to the cell product, from none to certain.
const (
	RelatedNot      = "not_related"
	RelatedUnlikely = "unlikely"
	RelatedPossible = "possible"
	RelatedProbable = "probable"
	RelatedDefinite = "definite"
)

// Relatedness lists the causality assessments, weakest first.
var Relatedness = []string{RelatedNot, RelatedUnlikely, RelatedPossible, RelatedProbable, RelatedDefinite}

// Outcomes of an adverse event (ICH E2B).
var Outcomes = []string{"recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"}

// OutcomeFatal is the outcome of an event that caused death.
const OutcomeFatal = "fatal"

// ActionsTaken with the infusion because of the event. The product is given once, so the
// choices are what can be done to one infusion (ICH E2B's drug withdrawn, dose reduced, dose
// not changed, not applicable, unknown).
var ActionsTaken = []string{"none", "infusion_slowed", "infusion_interrupted", "infusion_stopped", "not_applicable", "unknown"}

// GradeOfSeverity and SeverityOfGrade translate between the severities of the first reporting
// form and CTCAE grades, whose general definitions they are (1 mild … 5 death).
var severityGrades = map[string]int{"mild": 1, "moderate": 2, "severe": 3, "life_threatening": 4, "fatal": 5}

// GradeOfSeverity is the CTCAE grade of a severity, 0 for an unknown one.
func GradeOfSeverity(severity string) int { return severityGrades[severity] }

// SeverityOfGrade is the severity of a CTCAE grade, "" outside 1–5.
func SeverityOfGrade(grade int) string {
	for s, g := range severityGrades {
		if g == grade {
			return s
		}
	}
	return ""
}

// DefaultExpectedAdverseEvents is the reference safety information of a specification version
// that lists none of its own: the reactions the investigator's brochure expects after an
// intravenous infusion of mesenchymal stromal cells (MedDRA preferred terms).
var DefaultExpectedAdverseEvents = []string{"Pyrexia", "Chills", "Headache", "Fatigue", "Nausea",
	"Infusion related reaction", "Rash", "Dizziness"}

// ExpectedAdverseEvents is the reference safety information of the version: the terms an event
// is judged expected against.
func (s ReleaseSpec) ExpectedAdverseEvents() []string {
	if len(s.ReferenceSafetyInformation) > 0 {
		return s.ReferenceSafetyInformation
	}
	return DefaultExpectedAdverseEvents
}

// IsExpected reports whether the term is in the reference safety information, compared
// without case and surrounding spaces.
func (s ReleaseSpec) IsExpected(term string) bool {
	term = strings.TrimSpace(term)
	return slices.ContainsFunc(s.ExpectedAdverseEvents(), func(t string) bool { return strings.EqualFold(strings.TrimSpace(t), term) })
}

// AEReport is one version of an adverse event's report: the first report or a follow-up. A
// version is never changed; a follow-up adds the next one, complete.
type AEReport struct {
	Version     int       `json:"version"`
	Term        string    `json:"term,omitempty"`
	Description string    `json:"description"`
	OnsetAt     time.Time `json:"onset_at"`
	Grade       int       `json:"grade"`
	// SeriousCriteria: any one makes the event serious; none, not serious.
	SeriousCriteria []string `json:"serious_criteria"`
	Relatedness     string   `json:"relatedness,omitempty"`
	// Expected: the term is in the reference safety information of SpecVersion; nil when the
	// report names no term (the first reporting form).
	Expected    *bool  `json:"expected,omitempty"`
	SpecVersion int    `json:"spec_version"`
	Outcome     string `json:"outcome,omitempty"`
	ActionTaken string `json:"action_taken,omitempty"`
	// AwareAt is when the investigator became aware of what this version reports: the clocks
	// run from it.
	AwareAt        time.Time `json:"aware_at"`
	ReportedBy     int64     `json:"reported_by"`
	ReportedByName string    `json:"reported_by_name,omitempty"`
	ReportedAt     time.Time `json:"reported_at"`
}

// Serious reports whether any seriousness criterion is met.
func (r AEReport) Serious() bool { return len(r.SeriousCriteria) > 0 }

// FatalOrLifeThreatening reports whether the event killed or threatened the patient's life,
// which shortens a SUSAR's clock.
func (r AEReport) FatalOrLifeThreatening() bool {
	return slices.Contains(r.SeriousCriteria, CriterionDeath) || slices.Contains(r.SeriousCriteria, CriterionLifeThreatening)
}

// SUSAR reports whether the event is a suspected unexpected serious adverse reaction: serious,
// at least possibly related to the product, and not in the reference safety information.
func (r AEReport) SUSAR() bool {
	return r.Serious() && AtLeastPossiblyRelated(r.Relatedness) && r.Expected != nil && !*r.Expected
}

// AtLeastPossiblyRelated reports whether a causality assessment counts as a suspected reaction.
func AtLeastPossiblyRelated(relatedness string) bool {
	i := slices.Index(Relatedness, relatedness)
	return i >= slices.Index(Relatedness, RelatedPossible)
}

// Report kinds: the clocks of expedited safety reporting.
const (
	ReportSAE     = "sae_24h"   // every serious event: to the sponsor within 24 hours of awareness
	ReportSUSAR7  = "susar_7d"  // a fatal or life-threatening SUSAR: 7 days
	ReportSUSAR15 = "susar_15d" // any other SUSAR: 15 days
)

// ReportClock is one reporting obligation and when it falls due.
type ReportClock struct {
	Kind  string    `json:"kind"`
	DueAt time.Time `json:"due_at"`
}

// ReportingClocks decides the reports a version of an event calls for and when each is due
// (ICH E2A): a serious event 24 hours after the investigator became aware; a SUSAR 7 days
// after if fatal or life-threatening, else 15 days. A non-serious event calls for none.
func ReportingClocks(r AEReport) []ReportClock {
	if !r.Serious() {
		return nil
	}
	clocks := []ReportClock{{Kind: ReportSAE, DueAt: r.AwareAt.Add(24 * time.Hour)}}
	if r.SUSAR() {
		if r.FatalOrLifeThreatening() {
			clocks = append(clocks, ReportClock{Kind: ReportSUSAR7, DueAt: r.AwareAt.Add(7 * 24 * time.Hour)})
		} else {
			clocks = append(clocks, ReportClock{Kind: ReportSUSAR15, DueAt: r.AwareAt.Add(15 * 24 * time.Hour)})
		}
	}
	return clocks
}

// ClocksToOpen are the clocks of a new version that the event does not have yet (opened holds
// the kinds it has, sent or not): each kind is opened once per event, from the awareness of the
// first version that calls for it, and a 7-day SUSAR clock already running makes a 15-day one
// pointless.
func ClocksToOpen(opened []string, clocks []ReportClock) []ReportClock {
	var out []ReportClock
	for _, c := range clocks {
		if slices.Contains(opened, c.Kind) || (c.Kind == ReportSUSAR15 && slices.Contains(opened, ReportSUSAR7)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// SafetyReport is one reporting obligation of an adverse event, open until someone records
// that it was sent to the sponsor.
type SafetyReport struct {
	ID             int64      `json:"id"`
	AdverseEventID int64      `json:"adverse_event_id"`
	Kind           string     `json:"kind"`
	DueAt          time.Time  `json:"due_at"`
	OpenedVersion  int        `json:"opened_version"`
	SentAt         *time.Time `json:"sent_at,omitempty"`
	SentBy         int64      `json:"sent_by,omitempty"`
	SentByName     string     `json:"sent_by_name,omitempty"`
	SentVersion    int        `json:"sent_version,omitempty"`
	// Overdue: open past its due time (when read); Late: sent after it.
	Overdue bool `json:"overdue"`
	Late    bool `json:"late"`
}

// Judge fills Overdue and Late as of now.
func (r *SafetyReport) Judge(now time.Time) {
	r.Overdue = r.SentAt == nil && now.After(r.DueAt)
	r.Late = r.SentAt != nil && r.SentAt.After(r.DueAt)
}

// SafetyWorkItem is one open report on the safety worklist, named by subject id.
type SafetyWorkItem struct {
	SafetyReport
	PatientID       int64     `json:"patient_id"`
	SubjectID       string    `json:"subject_id"`
	Term            string    `json:"term,omitempty"`
	Description     string    `json:"description"`
	Grade           int       `json:"grade"`
	SeriousCriteria []string  `json:"serious_criteria"`
	SUSAR           bool      `json:"susar"`
	Version         int       `json:"version"`
	AwareAt         time.Time `json:"aware_at"`
}

// SortSafetyWorklist orders the worklist as it is worked: overdue reports first, then by due time,
// earliest first.
func SortSafetyWorklist(items []SafetyWorkItem) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Overdue != b.Overdue {
			return a.Overdue
		}
		if !a.DueAt.Equal(b.DueAt) {
			return a.DueAt.Before(b.DueAt)
		}
		return a.ID < b.ID
	})
}

// AEInput is a report as a person gives it: the first reporting form (serious yes/no,
// severity, description, onset) or the ICH E2A form, which names the term. Fields nil or
// empty were not given.
type AEInput struct {
	PatientID       int64
	Serious         *bool
	Severity        string
	Description     string
	OnsetAt         time.Time
	Term            string
	Grade           int
	SeriousCriteria []string
	SeriousGiven    bool // serious_criteria was in the body, even empty
	Relatedness     string
	Expected        *bool
	Outcome         string
	ActionTaken     string
	AwareAt         *time.Time
}

// Detailed reports whether the input uses the ICH E2A form: any of its fields given.
func (in AEInput) Detailed() bool {
	return in.Term != "" || in.Grade != 0 || in.SeriousGiven || in.Relatedness != "" || in.Expected != nil ||
		in.Outcome != "" || in.ActionTaken != "" || in.AwareAt != nil
}

// BuildReport turns an input into a version of the report, judged against spec (the
// reference safety information) at now, the time of recording. followUp: a follow-up, which
// must use the ICH E2A form.
//
// The first reporting form stays accepted: its serious flag becomes the criteria its severity
// implies (fatal: death; life-threatening: life-threatening; otherwise important medical
// event), its severity the CTCAE grade of the same meaning, and the investigator is taken to
// have become aware when the event was recorded. It names no term, relatedness or outcome, so
// expectedness and the SUSAR clocks wait for a follow-up that does.
func BuildReport(in AEInput, spec ReleaseSpec, now time.Time, followUp bool) (AEReport, error) {
	in.Description = strings.TrimSpace(in.Description)
	in.Term = strings.TrimSpace(in.Term)
	switch {
	case in.PatientID <= 0 && !followUp:
		return AEReport{}, FieldError("patient_id", "name the patient the event happened to")
	case in.Description == "" || len(in.Description) > 4000:
		return AEReport{}, FieldError("description", "describe the event (at most 4000 characters)")
	}
	if err := checkPast("onset_at", "the onset time", in.OnsetAt, now); err != nil {
		return AEReport{}, err
	}
	if !in.Detailed() {
		if followUp {
			return AEReport{}, FieldError("term", "a follow-up report is complete: give the term, grade, seriousness criteria, relatedness, outcome, action taken and when you became aware")
		}
		return legacyReport(in, now)
	}
	r := AEReport{Term: in.Term, Description: in.Description, OnsetAt: in.OnsetAt.UTC(), Grade: in.Grade,
		SeriousCriteria: []string{}, Relatedness: in.Relatedness, Outcome: in.Outcome, ActionTaken: in.ActionTaken,
		SpecVersion: spec.Version}
	switch {
	case r.Term == "" || len(r.Term) > 200:
		return AEReport{}, FieldError("term", "name the event's term (MedDRA preferred term, at most 200 characters)")
	case r.Grade < 1 || r.Grade > 5:
		return AEReport{}, FieldError("grade", "the severity grade is CTCAE 1 to 5 (it says %d)", r.Grade)
	case in.Severity != "" && GradeOfSeverity(in.Severity) != r.Grade:
		return AEReport{}, FieldError("severity", "severity %q is CTCAE grade %d, not %d: give one or make them agree", in.Severity, GradeOfSeverity(in.Severity), r.Grade)
	case !slices.Contains(Relatedness, r.Relatedness):
		return AEReport{}, FieldError("relatedness", "relatedness to the cell product must be one of %s", strings.Join(Relatedness, ", "))
	case !slices.Contains(Outcomes, r.Outcome):
		return AEReport{}, FieldError("outcome", "outcome must be one of %s", strings.Join(Outcomes, ", "))
	case !slices.Contains(ActionsTaken, r.ActionTaken):
		return AEReport{}, FieldError("action_taken", "action taken must be one of %s", strings.Join(ActionsTaken, ", "))
	case in.AwareAt == nil:
		return AEReport{}, FieldError("aware_at", "say when you became aware of the event: the reporting clocks run from it")
	}
	for _, c := range in.SeriousCriteria {
		if !slices.Contains(SeriousnessCriteria, c) {
			return AEReport{}, FieldError("serious_criteria", "%q is not a seriousness criterion: use %s", c, strings.Join(SeriousnessCriteria, ", "))
		}
		if !slices.Contains(r.SeriousCriteria, c) {
			r.SeriousCriteria = append(r.SeriousCriteria, c)
		}
	}
	r.SeriousCriteria = inOrder(r.SeriousCriteria, SeriousnessCriteria)
	if err := checkPast("aware_at", "the time you became aware", *in.AwareAt, now); err != nil {
		return AEReport{}, err
	}
	r.AwareAt = in.AwareAt.UTC()
	if r.AwareAt.Before(r.OnsetAt) {
		return AEReport{}, FieldError("aware_at", "you cannot have become aware (%s) before the onset (%s)", r.AwareAt.Format(time.RFC3339), r.OnsetAt.Format(time.RFC3339))
	}
	death := slices.Contains(r.SeriousCriteria, CriterionDeath)
	switch {
	case in.Serious != nil && *in.Serious != r.Serious():
		if *in.Serious {
			return AEReport{}, FieldError("serious_criteria", "a serious event names the seriousness criteria it meets: %s", strings.Join(SeriousnessCriteria, ", "))
		}
		return AEReport{}, FieldError("serious", "an event that meets a seriousness criterion is serious")
	case r.Grade == 5 && (!death || r.Outcome != OutcomeFatal), death && (r.Grade != 5 || r.Outcome != OutcomeFatal),
		r.Outcome == OutcomeFatal && (r.Grade != 5 || !death):
		return AEReport{}, FieldError("grade", "a fatal event is grade 5, meets the criterion death and has the outcome fatal: all three or none")
	case r.Grade == 4 && !r.Serious():
		return AEReport{}, FieldError("serious_criteria", "a life-threatening (grade 4) event is serious: name the seriousness criteria it meets")
	}
	expected := spec.IsExpected(r.Term)
	if in.Expected != nil && *in.Expected != expected {
		listed := "does not list"
		if expected {
			listed = "lists"
		}
		return AEReport{}, &Error{Code: ERuleViolated, Field: "expected", Message: fmt.Sprintf(
			"the reference safety information of specification v%d %s %q, so the event is %s; expectedness is judged against that list (%s)",
			spec.Version, listed, r.Term, expectedWord(expected), strings.Join(spec.ExpectedAdverseEvents(), ", "))}
	}
	r.Expected = &expected
	return r, nil
}

func expectedWord(expected bool) string {
	if expected {
		return "expected"
	}
	return "unexpected"
}

// legacyReport is BuildReport for the first reporting form.
func legacyReport(in AEInput, now time.Time) (AEReport, error) {
	grade := GradeOfSeverity(in.Severity)
	serious := in.Serious != nil && *in.Serious
	switch {
	case grade == 0:
		return AEReport{}, FieldError("severity", "severity must be one of %s", strings.Join(Severities, ", "))
	case grade >= 4 && !serious:
		return AEReport{}, FieldError("serious", "a life-threatening or fatal event is serious by definition")
	}
	r := AEReport{Description: in.Description, OnsetAt: in.OnsetAt.UTC(), Grade: grade, SeriousCriteria: []string{}, AwareAt: now}
	if serious {
		switch grade {
		case 5:
			r.SeriousCriteria = []string{CriterionDeath}
		case 4:
			r.SeriousCriteria = []string{CriterionLifeThreatening}
		default:
			r.SeriousCriteria = []string{CriterionImportantMedicalEvent}
		}
	}
	return r, nil
}

// inOrder returns the members of set in the order of all.
func inOrder(set, all []string) []string {
	out := make([]string, 0, len(set))
	for _, v := range all {
		if slices.Contains(set, v) {
			out = append(out, v)
		}
	}
	return out
}

// CheckSentToSponsor refuses a sending time that is missing, in the future, or before the
// investigator became aware of the event.
func CheckSentToSponsor(sentAt, firstAware, now time.Time) error {
	if err := checkPast("sent_at", "the time the report was sent", sentAt, now); err != nil {
		return err
	}
	if sentAt.Before(firstAware) {
		return FieldError("sent_at", "the report cannot have been sent (%s) before anyone was aware of the event (%s)",
			sentAt.UTC().Format(time.RFC3339), firstAware.UTC().Format(time.RFC3339))
	}
	return nil
}

// AdverseEventDetail is an event with every version of its report and every reporting
// obligation it opened.
type AdverseEventDetail struct {
	AdverseEvent
	SubjectID string         `json:"subject_id"`
	Versions  []AEReport     `json:"versions"`
	Reports   []SafetyReport `json:"reports"`
}

// SafetyReader reads the safety records.
type SafetyReader interface {
	// AdverseEventDetail is one event with its versions and reports; ENotFound.
	AdverseEventDetail(ctx context.Context, id int64) (AdverseEventDetail, error)
	// SafetyWorklist lists every open report, overdue first (SortSafetyWorklist), judged now.
	SafetyWorklist(ctx context.Context) ([]SafetyWorkItem, error)
}
