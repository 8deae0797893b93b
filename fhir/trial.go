package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cordtrace/domain"
)

// StudyID is the id of the trial's ResearchStudy: cordtrace serves one trial.
const StudyID = "huc-msc-trial"

// SystemMeasurement is the site's code system of the follow-up measurements: the codes are the
// JSON fields of an assessment (crp_mg_l, …, imaging_score). Every Observation carries one; the
// measurements LOINC names well carry the LOINC code too.
const SystemMeasurement = "urn:cordtrace:follow-up-measurement"

const (
	systemLOINC            = "http://loinc.org"
	systemObsCategory      = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemSubjectState     = "http://terminology.hl7.org/CodeSystem/research-subject-state"
	systemSubjectStateType = "http://terminology.hl7.org/CodeSystem/research-subject-state-type"
	systemSubjectMilestone = "http://terminology.hl7.org/CodeSystem/research-subject-milestone"
	systemArmType          = "http://hl7.org/fhir/research-study-arm-type"
	systemPrimaryPurpose   = "http://hl7.org/fhir/research-study-prim-purp-type"
)

// ResearchStudy is FHIR ResearchStudy.
type ResearchStudy struct {
	ResourceType       string            `json:"resourceType"`
	ID                 string            `json:"id"`
	Name               string            `json:"name,omitempty"`
	Title              string            `json:"title,omitempty"`
	Status             string            `json:"status"`
	PrimaryPurposeType *CodeableConcept  `json:"primaryPurposeType,omitempty"`
	Condition          []CodeableConcept `json:"condition,omitempty"`
	DescriptionSummary string            `json:"descriptionSummary,omitempty"`
	Recruitment        *StudyRecruitment `json:"recruitment,omitempty"`
	ComparisonGroup    []ComparisonGroup `json:"comparisonGroup,omitempty"`
	OutcomeMeasure     []OutcomeMeasure  `json:"outcomeMeasure,omitempty"`
	Note               []Annotation      `json:"note,omitempty"`
}

// StudyRecruitment is ResearchStudy.recruitment.
type StudyRecruitment struct {
	ActualNumber int `json:"actualNumber"`
}

// ComparisonGroup is ResearchStudy.comparisonGroup: an arm.
type ComparisonGroup struct {
	LinkID      string           `json:"linkId"`
	Name        string           `json:"name"`
	Type        *CodeableConcept `json:"type,omitempty"`
	Description string           `json:"description,omitempty"`
}

// OutcomeMeasure is ResearchStudy.outcomeMeasure.
type OutcomeMeasure struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ResearchSubject is FHIR ResearchSubject.
type ResearchSubject struct {
	ResourceType            string            `json:"resourceType"`
	ID                      string            `json:"id"`
	Identifier              []Identifier      `json:"identifier,omitempty"`
	Status                  string            `json:"status"`
	Progress                []SubjectProgress `json:"progress,omitempty"`
	Period                  *Period           `json:"period,omitempty"`
	Study                   Reference         `json:"study"`
	Subject                 Reference         `json:"subject"`
	AssignedComparisonGroup string            `json:"assignedComparisonGroup,omitempty"`
	ActualComparisonGroup   string            `json:"actualComparisonGroup,omitempty"`
}

// SubjectProgress is ResearchSubject.progress.
type SubjectProgress struct {
	Type         *CodeableConcept `json:"type,omitempty"`
	SubjectState *CodeableConcept `json:"subjectState,omitempty"`
	Milestone    *CodeableConcept `json:"milestone,omitempty"`
	Reason       *CodeableConcept `json:"reason,omitempty"`
	StartDate    string           `json:"startDate,omitempty"`
	EndDate      string           `json:"endDate,omitempty"`
}

// Observation is FHIR Observation.
type Observation struct {
	ResourceType      string            `json:"resourceType"`
	ID                string            `json:"id"`
	Status            string            `json:"status"`
	Category          []CodeableConcept `json:"category,omitempty"`
	Code              CodeableConcept   `json:"code"`
	Subject           Reference         `json:"subject"`
	EffectiveDateTime string            `json:"effectiveDateTime"`
	Performer         []Reference       `json:"performer,omitempty"`
	ValueQuantity     *Quantity         `json:"valueQuantity,omitempty"`
	Note              []Annotation      `json:"note,omitempty"`
}

// ArmGroupID is an arm's ResearchStudy.comparisonGroup.linkId, which ResearchSubject's
// comparison groups name: the arm with hyphens, as a FHIR id has no underscore.
func ArmGroupID(a domain.Arm) string { return strings.ReplaceAll(string(a), "_", "-") }

var armGroups = map[domain.Arm]ComparisonGroup{
	domain.ArmHUCMSC: {Name: "Routine care plus HUC-MSC",
		Type:        &CodeableConcept{Coding: []Coding{{System: systemArmType, Code: "experimental", Display: "Experimental"}}},
		Description: "Routine care plus one intravenous infusion of human umbilical cord mesenchymal stem cells, 1×10^6 viable cells per kg body weight, on day 1 after enrolment."},
	domain.ArmRoutine: {Name: "Routine care",
		Type:        &CodeableConcept{Coding: []Coding{{System: systemArmType, Code: "no-intervention", Display: "No Intervention"}}},
		Description: "Routine care alone."},
}

// MapResearchStudy maps the trial: its arms as comparison groups, and the subjects enrolled.
func MapResearchStudy(t domain.TrialSummary) ResearchStudy {
	s := ResearchStudy{
		ResourceType:       "ResearchStudy",
		ID:                 StudyID,
		Name:               "HUCMSCSevereViralPneumonia",
		Title:              "Human umbilical cord mesenchymal stem cells for severe viral pneumonia",
		Status:             "active",
		PrimaryPurposeType: &CodeableConcept{Coding: []Coding{{System: systemPrimaryPurpose, Code: "treatment", Display: "Treatment"}}},
		Condition:          []CodeableConcept{{Text: "Severe viral pneumonia (influenza, adenovirus)"}},
		DescriptionSummary: "Randomized (1:1), single-centre, open-label trial of routine care with or without one intravenous infusion of HUC-MSC; 90-day follow-up.",
		OutcomeMeasure: []OutcomeMeasure{
			{Name: "90-day mortality", Description: "Deaths up to day 90 after enrolment, by arm."},
			{Name: "Length of stay", Description: "Days from enrolment to discharge alive, by arm."},
		},
	}
	n := 0
	for _, a := range t.Arms {
		n += a.Enrolled
	}
	s.Recruitment = &StudyRecruitment{ActualNumber: n}
	for _, a := range domain.Arms {
		g := armGroups[a]
		g.LinkID = ArmGroupID(a)
		if g.Name == "" {
			g.Name = string(a)
		}
		s.ComparisonGroup = append(s.ComparisonGroup, g)
	}
	return s
}

func subjectState(code, display string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: systemSubjectState, Code: code, Display: display}}}
}

func stateType(code string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: systemSubjectStateType, Code: code}}}
}

// MapResearchSubject maps an enrolled patient's participation: the arm as assigned and actual
// comparison group (an arm never changes), on study from enrolment until follow-up ends with a
// death, withdrawal or loss (off study, or withdrawn) or with day 90 passed (off study).
// site is the site's time zone, in which study days are counted.
func MapResearchSubject(p domain.Patient, f domain.FollowUp, site *time.Location) ResearchSubject {
	enrolled := instant(p.EnrolledAt)
	onStudy := SubjectProgress{Type: stateType("Enrollment"), SubjectState: subjectState("on-study", "On-study"), StartDate: enrolled}
	rs := ResearchSubject{
		ResourceType:            "ResearchSubject",
		ID:                      strconv.FormatInt(p.ID, 10),
		Identifier:              []Identifier{{System: SystemSubjectID, Value: p.SubjectID}},
		Status:                  "active",
		Period:                  &Period{Start: enrolled},
		Study:                   ref("ResearchStudy", StudyID),
		Subject:                 patientRef(p.ID),
		AssignedComparisonGroup: ArmGroupID(p.Arm),
		ActualComparisonGroup:   ArmGroupID(p.Arm),
	}
	var off *SubjectProgress
	for _, o := range f.Outcomes {
		if !o.Kind.Ends() {
			continue
		}
		state, why := subjectState("off-study", "Off-study"), ""
		switch o.Kind {
		case domain.OutcomeDeath:
			why = "Death: " + o.Cause
		case domain.OutcomeWithdrawal:
			state, why = subjectState("withdrawn", "Withdrawn"), "Withdrawal: "+o.Reason
		case domain.OutcomeLost:
			why = "Lost to follow-up: " + o.Reason
		}
		off = &SubjectProgress{Type: stateType("Enrollment"), SubjectState: state, Reason: &CodeableConcept{Text: why}, StartDate: o.Date}
		break
	}
	if off == nil && f.Today > domain.FollowUpEndDay {
		end := domain.DateOfStudyDay(p.EnrolledAt, domain.FollowUpEndDay, site)
		off = &SubjectProgress{Type: stateType("Enrollment"), SubjectState: subjectState("off-study", "Off-study"),
			Reason: &CodeableConcept{Text: fmt.Sprintf("Follow-up completed (day %d)", domain.FollowUpEndDay)}, StartDate: end}
	}
	if off != nil {
		onStudy.EndDate, rs.Period.End = off.StartDate, off.StartDate
	}
	rs.Progress = append(rs.Progress, onStudy)
	if p.AllocationSequence > 0 {
		rs.Progress = append(rs.Progress, SubjectProgress{Type: stateType("Milestone"),
			Milestone: &CodeableConcept{Coding: []Coding{{System: systemSubjectMilestone, Code: "Randomized", Display: "Randomized"}},
				Text: fmt.Sprintf("Allocation %d of the signed list", p.AllocationSequence)}, StartDate: enrolled})
	}
	if off != nil {
		rs.Progress = append(rs.Progress, *off)
	}
	return rs
}

// observationCode is how a follow-up measurement is coded in FHIR: its LOINC code where LOINC
// names it well, its UCUM unit, its category.
type observationCode struct {
	loinc, loincDisplay string
	ucum                string
	category            string
}

var observationCodes = map[string]observationCode{
	"crp_mg_l":             {loinc: "1988-5", loincDisplay: "C reactive protein [Mass/volume] in Serum or Plasma", ucum: "mg/L", category: "laboratory"},
	"il6_pg_ml":            {loinc: "26881-3", loincDisplay: "Interleukin 6 [Mass/volume] in Serum or Plasma", ucum: "pg/mL", category: "laboratory"},
	"pct_ng_ml":            {loinc: "33959-8", loincDisplay: "Procalcitonin [Mass/volume] in Serum or Plasma", ucum: "ng/mL", category: "laboratory"},
	"viral_load_copies_ml": {ucum: "{copies}/mL", category: "laboratory"},
	"pf_ratio_mmhg":        {loinc: "50984-4", loincDisplay: "Horowitz index in Arterial blood", ucum: "mm[Hg]", category: "laboratory"},
	"imaging_score":        {ucum: "{score}", category: "imaging"},
}

// ObservationID is the id of one measurement of an assessment.
func ObservationID(assessmentID int64, field string) string {
	return fmt.Sprintf("assessment-%d-%s", assessmentID, strings.ReplaceAll(field, "_", "-"))
}

// MapAssessment maps one assessment to one Observation per measurement taken, in
// domain.Measurements order.
func MapAssessment(a domain.Assessment) []Observation {
	var out []Observation
	for i, v := range a.Values() {
		if v == nil {
			continue
		}
		m := domain.Measurements[i]
		c := observationCodes[m.Field]
		code := CodeableConcept{Coding: []Coding{{System: SystemMeasurement, Code: m.Field, Display: m.Name + " (" + m.Unit + ")"}}, Text: m.Name}
		if c.loinc != "" {
			code.Coding = append(code.Coding, Coding{System: systemLOINC, Code: c.loinc, Display: c.loincDisplay})
		}
		o := Observation{
			ResourceType:      "Observation",
			ID:                ObservationID(a.ID, m.Field),
			Status:            "final",
			Category:          []CodeableConcept{{Coding: []Coding{{System: systemObsCategory, Code: c.category}}}},
			Code:              code,
			Subject:           patientRef(a.PatientID),
			EffectiveDateTime: instant(a.TakenAt),
			ValueQuantity:     &Quantity{Value: *v, Unit: m.Unit, System: systemUCUM, Code: c.ucum},
			Note:              []Annotation{{Text: fmt.Sprintf("Follow-up assessment of study day %d.", a.Day)}},
		}
		if a.RecordedBy != "" {
			o.Performer = []Reference{{Type: "Practitioner", Identifier: &Identifier{System: SystemUser, Value: a.RecordedBy}}}
		}
		out = append(out, o)
	}
	return out
}

// FollowUpObservations are the Observations of every assessment of a follow-up.
func FollowUpObservations(f domain.FollowUp) []Observation {
	var out []Observation
	for _, a := range f.Assessments {
		out = append(out, MapAssessment(a)...)
	}
	return out
}

// Searchset is a searchset Bundle of the matches of a search and the resources they reference
// (included), so that every reference resolves inside it. base is the server's FHIR base URL,
// self the request's full URL.
func Searchset(matches, includes []Resource, base, self string, now time.Time) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "searchset", Timestamp: instant(now), Link: []BundleLink{{Relation: "self", URL: self}}}
	for _, r := range matches {
		b.Entry = append(b.Entry, BundleEntry{FullURL: base + "/" + r.Type + "/" + r.ID, Resource: r.Body, Search: &BundleSearch{Mode: "match"}})
	}
	for _, r := range includes {
		b.Entry = append(b.Entry, BundleEntry{FullURL: base + "/" + r.Type + "/" + r.ID, Resource: r.Body, Search: &BundleSearch{Mode: "include"}})
	}
	total := len(matches)
	b.Total = &total
	return b
}

// ParseObservationID reads an Observation id: the assessment's id.
func ParseObservationID(s string) (int64, error) {
	if rest, ok := strings.CutPrefix(s, "assessment-"); ok {
		num, _, _ := strings.Cut(rest, "-")
		if id, err := strconv.ParseInt(num, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, domain.Errorf(domain.ENotFound, "%q is not an observation id here: use assessment-N-measurement, as the Observation search answers", s)
}

// ParsePatientParam reads a search parameter naming a patient: N or Patient/N.
func ParsePatientParam(name, v string) (int64, error) {
	num := strings.TrimPrefix(strings.TrimSpace(v), "Patient/")
	if id, err := strconv.ParseInt(num, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	return 0, domain.FieldError(name, "name the patient: %s=<patient id> or %s=Patient/<patient id>", name, name)
}
