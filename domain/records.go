package domain

import (
	"context"
	"time"
)

// Person is a user as records for outside systems name them: who did a step.
type Person struct {
	Username string `json:"username"`
	FullName string `json:"full_name"`
}

// DispatchRecord is one accepted dispatch of a dose bag from the pharmacy, with the receipt on
// the ward that followed it, if any.
type DispatchRecord struct {
	Dispatch     CustodyEvent  `json:"dispatch"`
	DispatchedBy Person        `json:"dispatched_by"`
	Receipt      *CustodyEvent `json:"receipt,omitempty"`
	ReceivedBy   *Person       `json:"received_by,omitempty"`
}

// InfusionRecord is an infusion with the nurse who started it.
type InfusionRecord struct {
	Infusion
	StartedBy Person `json:"started_by"`
}

// AdverseEventRecord is an adverse event with the person who reported it.
type AdverseEventRecord struct {
	AdverseEvent
	ReportedBy Person `json:"reported_by"`
}

// Records is a self-contained slice of the chain for outside systems (FHIR, the trial's data
// capture): every record that one of the others points to is in it, each list in id order.
// Patients carry identifying data: whoever is shown Records is recorded as a disclosure.
type Records struct {
	Patients      []Patient            `json:"patients"`
	Donations     []Donation           `json:"donations"`
	Lots          []Lot                `json:"lots"`
	Units         []Unit               `json:"units"`
	Bags          []DoseBag            `json:"dose_bags"`
	Dispatches    []DispatchRecord     `json:"dispatches"`
	Infusions     []InfusionRecord     `json:"infusions"`
	AdverseEvents []AdverseEventRecord `json:"adverse_events"`
	// Assessments and Outcomes are the patients' follow-up (SPEC §13); Patients carry their
	// AllocationSequence.
	Assessments []Assessment `json:"assessments"`
	Outcomes    []Outcome    `json:"outcomes"`
	// Spec is the current specification, for the transport temperature range of dose bags.
	Spec ReleaseSpec `json:"-"`
	// Site is the site's time zone, for study days.
	Site *time.Location `json:"-"`
}

// RecordService reads Records and records their disclosure.
type RecordService interface {
	// PatientRecords is one patient with their bags, the units and lots and donations these
	// came from, dispatches, infusion and adverse events. Unknown patient: ENotFound.
	PatientRecords(ctx context.Context, patientID int64) (Records, error)
	// LotRecords is one lot with its donation, units, bags, their patients and everything that
	// happened to the bags, and the adverse events linked to the lot. Unknown lot: ENotFound.
	LotRecords(ctx context.Context, lotNumber string) (Records, error)
	// AllRecords is every enrolled patient with their records, for the trial export.
	AllRecords(ctx context.Context) (Records, error)
	// RecordDisclosure writes one audit entry per patient shown, in one transaction; the
	// caller shows nothing unless it succeeds.
	RecordDisclosure(ctx context.Context, actor Actor, d Disclosure) error
	// RecordPatient is the patient a dispatch (an accepted dispatch scan), an infusion, an
	// adverse event or a follow-up assessment belongs to, for reading that one record. Unknown
	// record: ENotFound.
	RecordPatient(ctx context.Context, kind RecordKind, id int64) (int64, error)
}

// RecordKind names the records that can be read one at a time by id and belong to a patient.
type RecordKind string

const (
	RecordDispatch     RecordKind = "dispatch"
	RecordInfusion     RecordKind = "infusion"
	RecordAdverseEvent RecordKind = "adverse_event"
	RecordAssessment   RecordKind = "assessment" // a follow-up assessment
)
