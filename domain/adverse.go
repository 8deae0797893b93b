package domain

import (
	"context"
	"strings"
	"time"
)

// Severities of adverse events, from mildest to fatal.
var Severities = []string{"mild", "moderate", "severe", "life_threatening", "fatal"}

// AdverseEvent is an AE or, when Serious, an SAE.
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
}

// Validate checks a reported event; now bounds the onset.
func (a AdverseEvent) Validate(now time.Time) error {
	switch {
	case a.PatientID <= 0:
		return FieldError("patient_id", "name the patient the event happened to")
	case !contains(Severities, a.Severity):
		return FieldError("severity", "severity must be one of %s", strings.Join(Severities, ", "))
	case strings.TrimSpace(a.Description) == "" || len(a.Description) > 4000:
		return FieldError("description", "describe the event (at most 4000 characters)")
	case checkPast("onset_at", "the onset time", a.OnsetAt, now) != nil:
		return checkPast("onset_at", "the onset time", a.OnsetAt, now)
	case (a.Severity == "life_threatening" || a.Severity == "fatal") && !a.Serious:
		return FieldError("serious", "a life-threatening or fatal event is serious by definition")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Excursion dispositions QA may record.
const (
	DispositionUse     = "use"
	DispositionDiscard = "discard"
)

// SafetyService records adverse events and QA's decisions on temperature excursions.
type SafetyService interface {
	// ReportAdverseEvent stores the event, linked to the patient's infusion and lot if any. A
	// serious event puts nothing on hold by itself; it shows on the lot's page and trace.
	ReportAdverseEvent(ctx context.Context, actor Actor, a AdverseEvent) (AdverseEvent, error)
	// DisposeExcursion records QA's decision on a bag's open excursion: use clears the block,
	// discard discards the bag. No open excursion: EConflict.
	DisposeExcursion(ctx context.Context, actor Actor, bagID int64, decision, reason string) (DoseBag, error)
}
