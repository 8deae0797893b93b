package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Deviation categories.
const (
	DeviationEligibility          = "eligibility"
	DeviationConsent              = "informed_consent"
	DeviationProduct              = "investigational_product"
	DeviationIdentityVerification = "identity_verification"
	DeviationAssessmentSchedule   = "assessment_schedule"
	DeviationSafetyReporting      = "safety_reporting"
	DeviationOther                = "other"
)

// DeviationCategories lists the categories in the order the pages offer them.
var DeviationCategories = []string{DeviationEligibility, DeviationConsent, DeviationProduct, DeviationIdentityVerification,
	DeviationAssessmentSchedule, DeviationSafetyReporting, DeviationOther}

// What recorded a deviation on its own (Deviation.Trigger); "" for one recorded by hand.
const (
	TriggerExceptionalInfusion = "exceptional_release_infusion"
	TriggerTypedBedsideEntry   = "typed_bedside_entry"
	TriggerMissedAssessment    = "missed_assessment"
)

// NewDeviation is a protocol deviation to record: by hand, or by cordtrace where it sees one
// (Trigger set, with the record that caused it in EntityType and EntityID).
type NewDeviation struct {
	PatientID        int64  `json:"patient_id,omitempty"`
	Category         string `json:"category"`
	Description      string `json:"description"`
	CorrectiveAction string `json:"corrective_action,omitempty"`
	Trigger          string `json:"trigger,omitempty"`
	EntityType       string `json:"entity_type,omitempty"`
	EntityID         int64  `json:"entity_id,omitempty"`
}

// Validate checks a deviation before it is recorded.
func (d NewDeviation) Validate() error {
	switch {
	case !slices.Contains(DeviationCategories, d.Category):
		return FieldError("category", "category must be one of %s", strings.Join(DeviationCategories, ", "))
	case strings.TrimSpace(d.Description) == "" || len(d.Description) > 4000:
		return FieldError("description", "describe the deviation (at most 4000 characters)")
	case len(d.CorrectiveAction) > 4000:
		return FieldError("corrective_action", "the corrective action is at most 4000 characters")
	case d.PatientID < 0:
		return FieldError("patient_id", "name the patient by id, or leave it out")
	}
	return nil
}

// Deviation is a recorded protocol deviation and its physician's sign-off, if given.
type Deviation struct {
	ID int64 `json:"id"`
	NewDeviation
	SubjectID      string    `json:"subject_id,omitempty"`
	RecordedBy     int64     `json:"recorded_by"`
	RecordedByName string    `json:"recorded_by_name"`
	RecordedAt     time.Time `json:"recorded_at"`
	// The physician's electronic signature: printed name, meaning, reason and time.
	SignedBy    int64      `json:"signed_by,omitempty"`
	PrintedName string     `json:"printed_name,omitempty"`
	Meaning     string     `json:"meaning,omitempty"`
	SignReason  string     `json:"sign_reason,omitempty"`
	SignedAt    *time.Time `json:"signed_at,omitempty"`
}

// ExceptionalInfusionDeviation is the deviation an infusion of an exceptionally released lot
// is: the product given did not meet its release specification.
func ExceptionalInfusionDeviation(patientID, infusionID int64, lotNumber, bagID string) NewDeviation {
	return NewDeviation{PatientID: patientID, Category: DeviationProduct, Trigger: TriggerExceptionalInfusion,
		EntityType: "infusion", EntityID: infusionID,
		Description: fmt.Sprintf("Infusion %d gave bag %s of lot %s, which was released by exception (QA and physician signed) and not against its specification", infusionID, bagID, lotNumber)}
}

// TypedEntryDeviation is the deviation a bedside verification is when a code was typed by hand
// or read from a code that proves less than the signed QR, with an entry reason; nil when the
// verification gave no entry reason.
func TypedEntryDeviation(patientID, verificationID int64, label LabelFacts) *NewDeviation {
	if label.Reason == nil {
		return nil
	}
	what := label.NeedsEntryReason()
	if what == "" {
		what = "a code was entered other than by scanning"
	}
	return &NewDeviation{PatientID: patientID, Category: DeviationIdentityVerification, Trigger: TriggerTypedBedsideEntry,
		EntityType: "verification", EntityID: verificationID,
		Description: fmt.Sprintf("Bedside verification %d: %s (entry reason: %s)", verificationID, what, label.Reason.human())}
}

// MissedAssessmentDeviation is the deviation a protocol assessment not done in its window is,
// once per patient and time point: a missed assessment has no record of its own, so the
// deviation is tied to the patient under an entity type naming the day.
func MissedAssessmentDeviation(patientID int64, day int, due time.Time) NewDeviation {
	return NewDeviation{PatientID: patientID, Category: DeviationAssessmentSchedule, Trigger: TriggerMissedAssessment,
		EntityType: fmt.Sprintf("patient.day_%d", day), EntityID: patientID,
		Description: fmt.Sprintf("The day %d assessment, due %s, was not done", day, due.UTC().Format(time.DateOnly))}
}

// CheckDeviationSignOff refuses a physician's sign-off of a deviation already signed, without a
// corrective action recorded, or without a reason.
func CheckDeviationSignOff(d Deviation, reason string) error {
	switch {
	case d.SignedAt != nil:
		return Errorf(EConflict, "deviation %d was signed off by %s on %s", d.ID, d.PrintedName, d.SignedAt.UTC().Format(time.DateOnly))
	case strings.TrimSpace(d.CorrectiveAction) == "":
		return Errorf(ERuleViolated, "record the corrective action of deviation %d before signing it off", d.ID)
	case strings.TrimSpace(reason) == "" || len(reason) > 500:
		return FieldError("reason", "give the reason for your signature (at most 500 characters)")
	}
	return nil
}

// CheckCorrectiveAction refuses a corrective action that is empty, too long, or on a deviation
// already signed off (the signature covers what it read).
func CheckCorrectiveAction(d Deviation, action string) error {
	switch {
	case d.SignedAt != nil:
		return Errorf(EConflict, "deviation %d is signed off: its corrective action can no longer change", d.ID)
	case strings.TrimSpace(action) == "" || len(action) > 4000:
		return FieldError("corrective_action", "describe the corrective action (at most 4000 characters)")
	}
	return nil
}

// DeviationFilter selects deviations: Open for those not yet signed off.
type DeviationFilter struct {
	Open bool
}

// DeviationService records protocol deviations and their sign-off.
type DeviationService interface {
	// RecordDeviation records a deviation by hand.
	RecordDeviation(ctx context.Context, actor Actor, d NewDeviation) (Deviation, error)
	// SetCorrectiveAction records the corrective action of a deviation not yet signed off.
	SetCorrectiveAction(ctx context.Context, actor Actor, id int64, action string) (Deviation, error)
	// SignDeviation is the physician's electronic signature on a deviation (CheckDeviationSignOff).
	SignDeviation(ctx context.Context, actor Actor, id int64, password, reason string) (Deviation, error)
	// Deviations lists deviations, newest first.
	Deviations(ctx context.Context, f DeviationFilter) ([]Deviation, error)
}
