package domain

import (
	"context"
	"time"
)

// Severities of adverse events, from mildest to fatal.
var Severities = []string{"mild", "moderate", "severe", "life_threatening", "fatal"}

// AdverseEvent is an AE or, when Serious, an SAE, as its latest report version describes it
// (AEReport). The fields after ReportedAt are those of the ICH E2A form; an event reported
// with the first form has no term, relatedness or outcome until a follow-up gives them.
type AdverseEvent struct {
	ID          int64     `json:"id"`
	PatientID   int64     `json:"patient_id"`
	InfusionID  int64     `json:"infusion_id,omitempty"`
	LotID       int64     `json:"lot_id,omitempty"`
	Serious     bool      `json:"serious"`
	Severity    string    `json:"severity"`
	Description string    `json:"description"`
	OnsetAt     time.Time `json:"onset_at"`
	ReportedAt  time.Time `json:"reported_at"`

	Version         int        `json:"version,omitempty"`
	Term            string     `json:"term,omitempty"`
	Grade           int        `json:"grade,omitempty"`
	SeriousCriteria []string   `json:"serious_criteria,omitempty"`
	Relatedness     string     `json:"relatedness,omitempty"`
	Expected        *bool      `json:"expected,omitempty"`
	Outcome         string     `json:"outcome,omitempty"`
	ActionTaken     string     `json:"action_taken,omitempty"`
	AwareAt         *time.Time `json:"aware_at,omitempty"`
	SUSAR           bool       `json:"susar"`
	// ReportDueAt is the earliest due time of the event's reports not yet sent to the sponsor.
	ReportDueAt *time.Time `json:"report_due_at,omitempty"`
}

// Input is the event as the first reporting form gives it.
func (a AdverseEvent) Input() AEInput {
	serious := a.Serious
	return AEInput{PatientID: a.PatientID, Serious: &serious, Severity: a.Severity, Description: a.Description, OnsetAt: a.OnsetAt}
}

// Validate checks an event reported with the first form; now bounds the onset.
func (a AdverseEvent) Validate(now time.Time) error {
	_, err := BuildReport(a.Input(), ReleaseSpec{}, now, false)
	return err
}

// WithReport is the event as the report version r describes it.
func (a AdverseEvent) WithReport(r AEReport) AdverseEvent {
	a.Serious, a.Severity, a.Description, a.OnsetAt = r.Serious(), SeverityOfGrade(r.Grade), r.Description, r.OnsetAt
	a.Version, a.Term, a.Grade, a.SeriousCriteria, a.Relatedness = r.Version, r.Term, r.Grade, r.SeriousCriteria, r.Relatedness
	a.Expected, a.Outcome, a.ActionTaken, a.SUSAR = r.Expected, r.Outcome, r.ActionTaken, r.SUSAR()
	aware := r.AwareAt
	a.AwareAt = &aware
	return a
}

// Excursion dispositions QA may record.
const (
	DispositionUse     = "use"
	DispositionDiscard = "discard"
)

// SafetyService records adverse events, their reporting to the sponsor, protocol deviations and
// QA's decisions on temperature excursions.
type SafetyService interface {
	SafetyReader
	DeviationService
	// ReportAdverseEvent stores an event given with the first reporting form (see BuildReport).
	ReportAdverseEvent(ctx context.Context, actor Actor, a AdverseEvent) (AdverseEvent, error)
	// RecordAdverseEvent stores the event as version 1 of its report, linked to the patient's
	// infusion and lot if any, and opens the reports its clocks call for (ReportingClocks). A
	// serious event puts nothing on hold by itself; it shows on the lot's page and trace.
	RecordAdverseEvent(ctx context.Context, actor Actor, in AEInput) (AdverseEvent, error)
	// FollowUpAdverseEvent adds the next version of the event's report, complete; earlier
	// versions stay as they were. ENotFound.
	FollowUpAdverseEvent(ctx context.Context, actor Actor, id int64, in AEInput) (AdverseEvent, error)
	// ReportSentToSponsor closes every open report of the event: sent at sentAt by the actor,
	// with its current version. Nothing open: EConflict.
	ReportSentToSponsor(ctx context.Context, actor Actor, id int64, sentAt time.Time) (AdverseEventDetail, error)
	// DisposeExcursion records QA's decision on a bag's open excursion: use clears the block,
	// discard discards the bag. No open excursion: EConflict.
	DisposeExcursion(ctx context.Context, actor Actor, bagID int64, decision, reason string) (DoseBag, error)
}
