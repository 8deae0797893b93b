package domain

import (
	"context"
	"time"
)

// VerificationSummary is one bedside attempt as a trace shows it.
type VerificationSummary struct {
	ID         int64     `json:"id"`
	Pass       bool      `json:"pass"`
	Failed     []string  `json:"failed"`
	CodeKind   string    `json:"code_kind"`
	Ward       string    `json:"ward,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
	// How the wristband and the bag's code were entered (Entry*), when the page said.
	WristbandEntry string `json:"wristband_entry,omitempty"`
	CodeEntry      string `json:"code_entry,omitempty"`
}

// BagTrace is a dose bag with everything that happened to it. The patient appears by subject
// id and chain of identity; Patient (name, MRN, date of birth) only for readers
// MaySeePatientIdentity allows, and then the read is a recorded disclosure.
type BagTrace struct {
	Bag             DoseBag               `json:"bag"`
	SubjectID       string                `json:"subject_id"`
	ChainOfIdentity string                `json:"chain_of_identity"`
	Patient         *PatientIdentity      `json:"patient,omitempty"`
	Custody         []CustodyEvent        `json:"custody"`
	Verifications   []VerificationSummary `json:"verifications"`
	Infusion        *Infusion             `json:"infusion,omitempty"`
	// LabelPrints is each serial of the bag's label, with how many copies of it were printed.
	LabelPrints []LabelPrint `json:"label_prints"`
}

// LotTrace follows a lot forward: donation → lot → units → dose bags → patients (SPEC §1).
type LotTrace struct {
	Donation        Donation       `json:"donation"`
	Lot             Lot            `json:"lot"`
	Units           []Unit         `json:"units"`
	Bags            []BagTrace     `json:"dose_bags"`
	InfusedPatients []int64        `json:"infused_patients"`
	AdverseEvents   []AdverseEvent `json:"adverse_events"`
}

// PatientTrace follows a patient back: their bags → lots → donations.
type PatientTrace struct {
	Patient       Patient        `json:"patient"`
	Bags          []BagTrace     `json:"dose_bags"`
	Lots          []Lot          `json:"lots"`
	Donations     []Donation     `json:"donations"`
	AdverseEvents []AdverseEvent `json:"adverse_events"`
}

// PatientCare is what a patient was given and what befell them: their dose bags, each with
// its custody, and their adverse events.
type PatientCare struct {
	Bags          []BagTrace
	AdverseEvents []AdverseEvent
}

// TraceService answers traceability questions both ways.
type TraceService interface {
	LotTrace(ctx context.Context, lotID int64) (LotTrace, error)
	PatientTrace(ctx context.Context, patientID int64) (PatientTrace, error)
	// PatientCare is PatientTrace without the lots and donations (the patient page).
	PatientCare(ctx context.Context, patientID int64) (PatientCare, error)
}
