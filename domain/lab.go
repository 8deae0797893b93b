package domain

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Donation is an umbilical cord donation, identified by its DIN.
type Donation struct {
	ID          int64       `json:"id"`
	DIN         string      `json:"din"`
	Check       string      `json:"check"`
	EyeReadable string      `json:"eye_readable"`
	CollectedAt time.Time   `json:"collected_at"`
	Eligibility Eligibility `json:"eligibility"`
	CreatedAt   time.Time   `json:"created_at"`
}

// NewDonation is the input for recording a donation. DIN is empty to allocate the next DIN of
// the site's facility.
type NewDonation struct {
	DIN         string      `json:"din,omitempty"`
	CollectedAt time.Time   `json:"collected_at"`
	Eligibility Eligibility `json:"eligibility"`
}

// Validate checks the fields of a new donation.
func (n NewDonation) Validate(now time.Time) error {
	if err := checkPast("collected_at", "the collection time", n.CollectedAt, now); err != nil {
		return err
	}
	return n.validateRest()
}

// validateRest checks the eligibility and the DIN: a donation starts pending, and only the
// responsible person's signed determination (CheckDetermination) makes it eligible or
// ineligible.
func (n NewDonation) validateRest() error {
	switch n.Eligibility {
	case "", Pending:
	case Eligible, Ineligible:
		return &Error{Code: ERuleViolated, Field: "eligibility", Message: "a donation starts pending: record the donor's tests and screening, then QA signs the determination (POST /donations/{id}/eligibility)"}
	default:
		return FieldError("eligibility", "eligibility must be pending (or left out): a donation starts pending")
	}
	if n.DIN != "" {
		if _, err := ParseDIN(n.DIN); err != nil {
			return err
		}
	}
	return nil
}

// Lot is a manufactured batch of HUC-MSCs from one donation.
type Lot struct {
	ID             int64     `json:"id"`
	LotNumber      string    `json:"lot_number"`
	DonationID     int64     `json:"donation_id"`
	DIN            string    `json:"din"`
	Status         LotStatus `json:"status"`
	ManufacturedAt time.Time `json:"manufactured_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// DonorEligibility is the standing determination of the donation's donor, where the
	// reader needs it (the lot's page, its labels).
	DonorEligibility Eligibility `json:"donor_eligibility,omitempty"`
}

// NewLot is the input for creating a lot.
type NewLot struct {
	DonationID     int64     `json:"donation_id"`
	LotNumber      string    `json:"lot_number"`
	ManufacturedAt time.Time `json:"manufactured_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// Validate checks the fields of a new lot; now bounds its dates.
func (n NewLot) Validate(now time.Time) error {
	ln := strings.TrimSpace(n.LotNumber)
	switch {
	case n.DonationID <= 0:
		return FieldError("donation_id", "name the donation the lot was made from")
	case ln == "" || len(ln) > 40 || strings.ContainsAny(ln, "|\n\r\t"):
		return FieldError("lot_number", "the lot number is required: 1 to 40 printable characters")
	}
	if err := checkPast("manufactured_at", "the manufacture time", n.ManufacturedAt, now); err != nil {
		return err
	}
	switch {
	case !n.ExpiresAt.After(n.ManufacturedAt):
		return FieldError("expires_at", "expiry must be after manufacture")
	case n.ExpiresAt.After(n.ManufacturedAt.Add(MaxShelfLife)):
		return FieldError("expires_at", "expiry cannot be more than %d years after manufacture (it says %s): check the date",
			int(MaxShelfLife.Hours()/24/365), n.ExpiresAt.UTC().Format(time.DateOnly))
	}
	return nil
}

// Unit is one cryobag of a lot.
type Unit struct {
	ID          int64      `json:"id"`
	LotID       int64      `json:"lot_id"`
	UnitID      string     `json:"unit_id"`
	Check       string     `json:"check"`
	EyeReadable string     `json:"eye_readable"`
	Division    int        `json:"division"`
	ViableCells int64      `json:"viable_cells"`
	VolumeML    float64    `json:"volume_ml"`
	Status      UnitStatus `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
}

// NewUnits is the input for dividing a lot into units.
type NewUnits struct {
	Count       int     `json:"count"`
	ViableCells int64   `json:"viable_cells"`
	VolumeML    float64 `json:"volume_ml"`
}

// Validate checks the fields of a division into units.
func (n NewUnits) Validate() error {
	switch {
	case n.Count < 1 || n.Count > 99:
		return FieldError("count", "a lot is divided into 1 to 99 units at a time")
	case checkCells("viable_cells", "viable cells per unit", n.ViableCells) != nil:
		return checkCells("viable_cells", "viable cells per unit", n.ViableCells)
	case !(n.VolumeML > 0) || n.VolumeML > 1000:
		return FieldError("volume_ml", "volume per unit must be above 0 and at most 1000 mL")
	}
	return nil
}

// LotDetail is everything shown on a lot's page.
type LotDetail struct {
	Lot        Lot         `json:"lot"`
	Donation   Donation    `json:"donation"`
	Results    []QCResult  `json:"results"` // every version, corrected ones included
	Evaluation Evaluation  `json:"evaluation"`
	Units      []Unit      `json:"units"`
	Signatures []Signature `json:"signatures"`
	// SignedEvaluationCurrent is false when results changed after the release signature: the
	// signed evaluation is no longer the one that stands.
	SignedEvaluationCurrent bool `json:"signed_evaluation_current"`
	// ExceptionalFor lists the patients this lot is released for by exception: both a QA
	// person and a physician, two different people, signed for each.
	ExceptionalFor []int64 `json:"exceptional_for"`
	// Spec is the specification the evaluation was made against (the current one), so that a
	// page shows the limits of that same version.
	Spec ReleaseSpec `json:"-"`
	// InfusedPatients lists the patients already infused from this lot: who a recall must
	// follow up.
	InfusedPatients []int64 `json:"infused_patients"`
	// Investigations lists every OOS investigation of the lot, open or closed (SPEC §4).
	Investigations []Investigation `json:"investigations"`
	// AdverseEvents linked to the lot through an infusion; serious ones are flagged there.
	AdverseEvents []AdverseEvent `json:"adverse_events"`
}

// ExceptionalPatients returns the patients for whom both halves of an exceptional release
// were signed by two different people.
func ExceptionalPatients(sigs []Signature) []int64 {
	qa, doc := map[int64][]int64{}, map[int64][]int64{}
	for _, s := range sigs {
		switch s.Action {
		case SignExceptionalQA:
			qa[s.PatientID] = append(qa[s.PatientID], s.UserID)
		case SignExceptionalPhysician:
			doc[s.PatientID] = append(doc[s.PatientID], s.UserID)
		}
	}
	out := []int64{}
	for patient, qaSigners := range qa {
		for _, q := range qaSigners {
			if slices.ContainsFunc(doc[patient], func(d int64) bool { return d != q }) && !slices.Contains(out, patient) {
				out = append(out, patient)
			}
		}
	}
	slices.Sort(out)
	return out
}

// LotFilter selects lots for a list.
type LotFilter struct {
	Status  LotStatus
	Query   string // lot number or DIN, or a part of one
	AfterID int64
	Limit   int
}

// SignRequest is an electronic signature on a lot: the signer re-enters their password.
type SignRequest struct {
	Action   SignatureAction
	Password string
	Reason   string
}

// LabService is the GMP lab's work: donations, lots, QC results, signatures and units.
type LabService interface {
	CreateDonation(ctx context.Context, actor Actor, n NewDonation) (Donation, error)
	CreateLot(ctx context.Context, actor Actor, n NewLot) (Lot, error)
	ListLots(ctx context.Context, f LotFilter) ([]Lot, error)
	// LotDetail returns the lot with results, evaluation, units and signatures; ENotFound.
	LotDetail(ctx context.Context, id int64) (LotDetail, error)
	// Quarantine marks manufacturing complete; EConflict from a state other than in_process.
	Quarantine(ctx context.Context, actor Actor, lotID int64) (Lot, error)
	// AddQCResult validates and records a result; a failing result opens an OOS
	// investigation, and on a released lot (or after an exceptional release) puts it on hold,
	// in the same transaction.
	AddQCResult(ctx context.Context, actor Actor, lotID int64, r QCResult) (QCResult, error)
	// CloseInvestigation closes an OOS investigation with QA's electronic signature. Wrong
	// password: EUnauthenticated; already closed: EConflict; the signer recorded the failing
	// result: ERuleViolated.
	CloseInvestigation(ctx context.Context, actor Actor, lotID, investigationID int64, req CloseInvestigation) (LotDetail, error)
	Evaluation(ctx context.Context, lotID int64) (Evaluation, error)
	// Sign releases, rejects, holds or recalls a lot. Wrong password: EUnauthenticated;
	// release rules broken: ERuleViolated; wrong state: EConflict.
	Sign(ctx context.Context, actor Actor, lotID int64, req SignRequest) (LotDetail, error)
	CreateUnits(ctx context.Context, actor Actor, lotID int64, n NewUnits) ([]Unit, error)
	// DiscardUnit discards a unit that must not be used (a broken cryobag, a failed thaw
	// check, a lost temperature record), with the reason; a consumed one: EConflict.
	DiscardUnit(ctx context.Context, actor Actor, unitID int64, reason string) (Unit, error)
	CurrentSpec(ctx context.Context) (ReleaseSpec, error)
	// CreateSpecVersion adds a QA-signed specification version, proposed: it becomes current
	// when a physician co-signs it (SignSpecVersion).
	CreateSpecVersion(ctx context.Context, actor Actor, spec ReleaseSpec, password, reason string) (SpecVersion, error)
	// SignSpecVersion is a physician's co-signature of a proposed version, another person than
	// the QA signer; with it the version is in force (CheckSpecCoSignature).
	SignSpecVersion(ctx context.Context, actor Actor, version int, password, reason string) (SpecVersion, error)
	SpecVersions(ctx context.Context) ([]SpecVersion, error)
	// ExceptionalRelease signs one half (QA or physician, by the actor's role) of the release
	// of an out-of-spec lot for one patient.
	ExceptionalRelease(ctx context.Context, actor Actor, lotID, patientID int64, password, reason string) (LotDetail, error)
}

// PatientService enrols and weighs trial subjects.
type PatientService interface {
	Enrol(ctx context.Context, actor Actor, p Patient) (Patient, error)
	Patient(ctx context.Context, id int64) (Patient, error)
	PatientBySubject(ctx context.Context, subjectID string) (Patient, error)
	// RecordWeight adds a weight; a change over WeightChangeReasonPct needs reason
	// (CheckWeightChange).
	RecordWeight(ctx context.Context, actor Actor, patientID int64, kg float64, reason string) (Patient, error)
	// ConfirmDoseOrder is a physician's e-signature that an order awaiting review after a later
	// weight stands as made (CheckOrderConfirmation).
	ConfirmDoseOrder(ctx context.Context, actor Actor, orderID int64, password, reason string) (DoseOrder, error)
	// ListPatients lists enrolled patients by subject id, each with their latest dose order,
	// its bag's status and whether they were infused. A filter that is not a subject id
	// prefix: EInvalid.
	ListPatients(ctx context.Context, f PatientFilter) ([]PatientSummary, error)
	// PatientDetail is one patient as the physician's page shows them: the summary, every
	// recorded weight and dose order, and the infusion window in the site's time zone.
	PatientDetail(ctx context.Context, id int64) (PatientDetail, error)
}

// SpecVersion is a specification version with its signature.
type SpecVersion struct {
	Spec        ReleaseSpec `json:"spec"`
	PrintedName string      `json:"printed_name"`
	Meaning     string      `json:"meaning"`
	CreatedAt   time.Time   `json:"created_at"`
	// Status is SpecProposed (QA signed) or SpecInForce (QA and a physician signed).
	Status              string     `json:"status"`
	CosignerPrintedName string     `json:"cosigner_printed_name,omitempty"`
	CosignMeaning       string     `json:"cosign_meaning,omitempty"`
	EffectiveAt         *time.Time `json:"effective_at,omitempty"`
}

// Specification version statuses.
const (
	SpecProposed = "proposed"
	SpecInForce  = "in_force"
)

// LabelKey is a label signing key as stored: the store keeps key material, the labels package
// knows what to do with it.
type LabelKey struct {
	KID       string `json:"kid"`
	PublicKey string `json:"public_key"` // standard base64 of the Ed25519 public key
	// PrivatePEM is the private half, kept only while the key is active: it is destroyed when
	// the key is retired or revoked.
	PrivatePEM string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	RetiredAt  *time.Time `json:"retired_at,omitempty"`
	// RevokedAt is set when the key was revoked (with RevokeReason): every label it signed is
	// refused at every scan until it is reprinted.
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// LabelKeyRevocation is what revoking a key did: the key that signs from now on, when the
// revoked one was signing, and the labels whose current print it signed, to be reprinted.
type LabelKeyRevocation struct {
	KID       string
	RevokedAt time.Time
	NewKey    string // "" when the revoked key was already retired
	Reprint   []LabelToReprint
}

// LabelToReprint is a unit or dose bag whose current print a revoked key signed.
type LabelToReprint struct {
	EntityType string // unit or dose_bag
	EntityID   int64
	Code       string // the unit id or bag id
	Serial     int64
}

// LabelPrint is one recorded print of a label.
type LabelPrint struct {
	EntityType string    `json:"entity_type"` // unit or dose_bag
	EntityID   int64     `json:"entity_id"`
	Serial     int64     `json:"serial"`
	Reason     string    `json:"reason,omitempty"`
	PrintedAt  time.Time `json:"printed_at"`
	Copies     int       `json:"copies"` // copies printed of this serial so far
}

// LabelService keeps signing keys and the record of prints.
type LabelService interface {
	// LabelKeys returns every key, newest first; a retired key still verifies the prints it
	// signed before it was retired, a revoked one none.
	LabelKeys(ctx context.Context) ([]LabelKey, error)
	// EnsureLabelKey returns the newest active key, creating one with generate when there is
	// none; processes racing here end up with the same key.
	EnsureLabelKey(ctx context.Context, generate func() (LabelKey, error)) (LabelKey, error)
	// Print records a print of the current label (serial 1 the first time), signed by the
	// active key kid; EConflict when kid is no longer the active key.
	Print(ctx context.Context, actor Actor, entityType string, entityID int64, format, kid string) (LabelPrint, error)
	// PrintKey is what the records say of key kid for print serial of an entity's label.
	PrintKey(ctx context.Context, entityType string, entityID, serial int64, kid string) (PrintKey, error)
	// Reprint makes a new serial; every earlier print is refused at scan from then on.
	Reprint(ctx context.Context, actor Actor, entityType string, entityID int64, reason string) (LabelPrint, error)
	// CurrentSerial is the latest print serial of an entity, 0 if never printed.
	CurrentSerial(ctx context.Context, entityType string, entityID int64) (int64, error)
	// UnitForLabel returns a unit by id with its lot; UnitByCode by its 21-character unit id.
	UnitForLabel(ctx context.Context, id int64) (Unit, Lot, error)
	UnitByCode(ctx context.Context, unitID string) (Unit, Lot, error)
	// LotUnits returns a lot's units, for a sheet of labels.
	LotUnits(ctx context.Context, lotID int64) ([]Unit, Lot, error)
}
