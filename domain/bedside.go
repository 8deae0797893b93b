package domain

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Bedside check codes (SPEC §7). They are a contract: scanners, reports and dashboards
// count failures by these names.
const (
	CheckLabelAuthentic = "LABEL_AUTHENTIC"
	CheckPatientMatch   = "PATIENT_MATCH"
	CheckArm            = "ARM"
	CheckLotReleased    = "LOT_RELEASED"
	CheckNotExpired     = "NOT_EXPIRED"
	CheckDose           = "DOSE"
	CheckWindow         = "WINDOW"
	CheckNotInfused     = "NOT_INFUSED"
	CheckCustody        = "CUSTODY"
	CheckWitness        = "WITNESS"
)

// BedsideChecks lists every check in the order a nurse reads them.
var BedsideChecks = []string{
	CheckLabelAuthentic, CheckPatientMatch, CheckArm, CheckLotReleased, CheckNotExpired,
	CheckDose, CheckWindow, CheckNotInfused, CheckCustody, CheckWitness,
}

// Check is the outcome of one bedside check, with a sentence a nurse can act on.
type Check struct {
	Code    string `json:"code"`
	Pass    bool   `json:"pass"`
	Message string `json:"message"`
}

// BagFacts is what the system knows about the scanned dose bag.
type BagFacts struct {
	BagID         string
	PatientID     int64  // the patient the bag was prepared for
	LabelMRN      string // the MRN printed in the label's signed code
	ExpiresAt     time.Time
	ViableCells   int64
	Dispatched    bool
	Received      bool
	OpenExcursion bool // a temperature excursion without QA disposition
	Infused       bool
	// TakenBack is set when the bag was returned to the pharmacy or discarded: it left the
	// chain of custody that ends at this patient.
	TakenBack DoseBagStatus
}

// LotFacts is what the system knows about the bag's lot.
type LotFacts struct {
	LotNumber string
	Status    string // a LotStatus value
	ExpiresAt time.Time
	// ExceptionalForPatientID is the patient an out-of-spec lot was exceptionally released
	// for, by QA and a physician; 0 when there is none.
	ExceptionalForPatientID int64
}

// ProtocolRule is the part of the versioned specification the bedside checks apply.
type ProtocolRule struct {
	CellsPerKg        float64
	DoseTolerancePct  float64
	InfusionDayOffset int
	WindowDays        int
}

// OrderFacts is the dose order a bag fills, as the bedside judges it (SPEC §6): the target and
// the spec version the order fixed, and its weight, tolerance and any later weight.
type OrderFacts struct {
	TargetViableCells int64
	SpecVersion       int
	OrderReviewFacts
}

// WitnessFacts is the second person confirming the administration.
type WitnessFacts struct {
	Authenticated bool
	Problem       string // why authentication failed, when it did
	UserID        int64
	Name          string
	Roles         []Role
	// TokenID is the witness token the witness confirmed with (0 for a password): the
	// verification uses it up.
	TokenID int64
}

// BedsideFacts is everything the checks look at, gathered by the store from one scan.
type BedsideFacts struct {
	Now  time.Time
	Site *time.Location

	// Label is how the bag's code was read and what it proves (LabelAuthenticity).
	Label LabelFacts

	WristbandMRN   string
	Patient        *Patient // the patient wearing the wristband; nil when no patient has that MRN
	PatientInfused bool

	Bag *BagFacts // nil when the scanned code names no known bag
	Lot *LotFacts

	Protocol ProtocolRule
	// Order is the dose order the bag was prepared for; nil when no bag was identified.
	Order *OrderFacts

	NurseUserID int64
	Witness     WitnessFacts
}

// Verdict is the result of a bedside verification: it passes only when every check passes.
type Verdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
	// ReturnOffered tells whether the bag may be sent back to the pharmacy from this STOP
	// (BagMayGoBack).
	ReturnOffered bool `json:"return_offered"`
}

// Failed returns the codes of the failed checks.
func (v Verdict) Failed() []string {
	var out []string
	for _, c := range v.Checks {
		if !c.Pass {
			out = append(out, c.Code)
		}
	}
	return out
}

// VerifyBedside runs every check of SPEC §7. All checks are always run and reported, so the
// nurse sees every problem at once, not one per attempt.
func VerifyBedside(f BedsideFacts) Verdict {
	checks := []Check{
		checkLabel(f), checkPatient(f), checkArm(f), checkLot(f), checkExpiry(f),
		checkDose(f), checkWindow(f), checkNotInfused(f), checkCustody(f), checkWitness(f),
	}
	v := Verdict{Pass: true, Checks: checks}
	for _, c := range checks {
		v.Pass = v.Pass && c.Pass
	}
	v.ReturnOffered = !v.Pass && BagMayGoBack(f)
	return v
}

// BagMayGoBack tells whether a STOP concerns the bag itself, so that sending it back to the
// pharmacy is offered: its lot is blocked, the bag or its lot has expired, its temperature
// left the range in transport, it does not hold its order's dose, or it was prepared for
// another patient than the wristband's. Any other STOP is put right at the bedside (a witness
// who typed a wrong password, a label to scan again, a receipt not yet scanned, an order
// awaiting the physician) and returning the bag would only lose a good dose. A wrong wristband
// scan looks like a bag for another patient, so the page keeps that return behind a
// confirmation naming the bag, and offers to scan again first.
func BagMayGoBack(f BedsideFacts) bool {
	if f.Bag == nil || f.Bag.Infused || f.Bag.TakenBack != "" {
		return false
	}
	if f.Lot != nil {
		var patientID int64
		if f.Patient != nil {
			patientID = f.Patient.ID
		}
		if LotUsability(*f.Lot, patientID, f.Now).Blocked || !f.Now.Before(f.Lot.ExpiresAt) {
			return true
		}
	}
	if !f.Now.Before(f.Bag.ExpiresAt) || f.Bag.OpenExcursion {
		return true
	}
	if o := f.Order; o != nil && !DoseWithinTolerance(f.Bag.ViableCells, o.TargetViableCells, o.TolerancePct) {
		return true
	}
	return f.Patient != nil && f.Bag.PatientID != f.Patient.ID
}

func pass(code, format string, args ...any) Check {
	return Check{Code: code, Pass: true, Message: fmt.Sprintf(format, args...)}
}

func fail(code, format string, args ...any) Check {
	return Check{Code: code, Pass: false, Message: fmt.Sprintf(format, args...)}
}

const unknownBag = "the scanned code names no dose bag we know: re-scan the bag label"

func checkLabel(f BedsideFacts) Check { return LabelAuthenticity(f.Label) }

func checkPatient(f BedsideFacts) Check {
	switch {
	case f.Bag == nil:
		return fail(CheckPatientMatch, "Cannot match the patient: %s.", unknownBag)
	case f.Patient == nil:
		return fail(CheckPatientMatch, "No enrolled patient has the wristband MRN %s. Check the wristband; do not infuse.", f.WristbandMRN)
	case !SameMRN(f.Bag.LabelMRN, f.WristbandMRN) || f.Bag.PatientID != f.Patient.ID:
		return fail(CheckPatientMatch, "WRONG PATIENT: the bag is for MRN %s, the wristband is MRN %s. Do not infuse.", f.Bag.LabelMRN, f.WristbandMRN)
	}
	return pass(CheckPatientMatch, "The bag is for this patient (MRN %s, subject %s).", f.Patient.MRN, f.Patient.SubjectID)
}

func checkArm(f BedsideFacts) Check {
	switch {
	case f.Patient == nil:
		return fail(CheckArm, "Cannot check the trial arm: the patient is not identified.")
	case f.Patient.Arm != ArmHUCMSC:
		return fail(CheckArm, "Subject %s is in the %s arm and must not receive cells. Do not infuse.", f.Patient.SubjectID, f.Patient.Arm)
	}
	return pass(CheckArm, "Subject %s is in the cell therapy arm.", f.Patient.SubjectID)
}

func checkLot(f BedsideFacts) Check {
	if f.Lot == nil {
		return fail(CheckLotReleased, "Cannot check the lot: %s.", unknownBag)
	}
	var patientID int64
	if f.Patient != nil {
		patientID = f.Patient.ID
	}
	use := LotUsability(*f.Lot, patientID, f.Now)
	switch {
	case use.Usable:
		return pass(CheckLotReleased, "%s.", use.Capitalized())
	case use.Blocked:
		return fail(CheckLotReleased, "%s. Do not infuse; return the bag to the pharmacy.", use.Capitalized())
	}
	return fail(CheckLotReleased, "%s. Do not infuse.", use.Capitalized())
}

func humanStatus(s string) string {
	switch s {
	case "on_hold":
		return "on hold"
	case "in_process":
		return "still in manufacture"
	}
	return s
}

func checkExpiry(f BedsideFacts) Check {
	if f.Bag == nil || f.Lot == nil {
		return fail(CheckNotExpired, "Cannot check expiry: %s.", unknownBag)
	}
	local := func(t time.Time) string { return t.In(siteOrUTC(f.Site)).Format("2006-01-02 15:04") }
	if !f.Now.Before(f.Bag.ExpiresAt) {
		return fail(CheckNotExpired, "The bag expired at %s (4 hours after thawing). Do not infuse.", local(f.Bag.ExpiresAt))
	}
	if !f.Now.Before(f.Lot.ExpiresAt) {
		return fail(CheckNotExpired, "Lot %s expired at %s. Do not infuse.", f.Lot.LotNumber, local(f.Lot.ExpiresAt))
	}
	return pass(CheckNotExpired, "The bag is usable until %s (%d minutes left).", local(f.Bag.ExpiresAt), int(f.Bag.ExpiresAt.Sub(f.Now).Minutes()))
}

func siteOrUTC(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}

func checkDose(f BedsideFacts) Check {
	if f.Bag == nil || f.Patient == nil || f.Order == nil {
		return fail(CheckDose, "Cannot check the dose: the bag, its order or the patient is not identified.")
	}
	o := f.Order
	diff := DoseDeviationPct(f.Bag.ViableCells, o.TargetViableCells)
	detail := fmt.Sprintf("the bag holds %s viable cells; the order's target for %.1f kg is %s (specification v%d); difference %+.1f %% (allowed ±%g %%)",
		CellsText(f.Bag.ViableCells), o.OrderWeightKg, CellsText(o.TargetViableCells), o.SpecVersion, diff, o.TolerancePct)
	wrong := !DoseWithinTolerance(f.Bag.ViableCells, o.TargetViableCells, o.TolerancePct)
	review := ReviewOrder(o.OrderReviewFacts)
	switch {
	case wrong && review.NeedsReview:
		return fail(CheckDose, "WRONG DOSE: %s. Also %s. Do not infuse; call the pharmacy and the physician.", detail, review.Sentence(o.OrderWeightKg, o.TolerancePct))
	case review.NeedsReview:
		s := review.Sentence(o.OrderWeightKg, o.TolerancePct)
		return fail(CheckDose, "%s%s. Do not infuse until the physician confirms the order or orders again (%s).", strings.ToUpper(s[:1]), s[1:], detail)
	case wrong:
		return fail(CheckDose, "WRONG DOSE: %s. Do not infuse; call the pharmacy.", detail)
	}
	return pass(CheckDose, "Dose correct: %s.", detail)
}

// CellsText writes a cell count as labels print it and people read it: 7.00×10^7. The
// mantissa is rounded before the exponent is chosen, so 99,999,999 is 1.00×10^8, never
// 10.00×10^7.
func CellsText(n int64) string {
	if n <= 0 {
		return fmt.Sprint(n)
	}
	m, exp := float64(n), 0
	for m >= 10 {
		m /= 10
		exp++
	}
	if math.Round(m*100)/100 >= 10 {
		m, exp = m/10, exp+1
	}
	return fmt.Sprintf("%.2f×10^%d", m, exp)
}

func checkWindow(f BedsideFacts) Check {
	if f.Patient == nil {
		return fail(CheckWindow, "Cannot check the infusion day: the patient is not identified.")
	}
	site := siteOrUTC(f.Site)
	day := InfusionDay(f.Patient.EnrolledAt, site, f.Protocol.InfusionDayOffset).Format("2006-01-02")
	if !InWindow(f.Now, f.Patient.EnrolledAt, site, f.Protocol.InfusionDayOffset, f.Protocol.WindowDays) {
		return fail(CheckWindow, "Today (%s) is not the protocol infusion day for subject %s, which is %s. Do not infuse; call the investigator.",
			f.Now.In(site).Format("2006-01-02"), f.Patient.SubjectID, day)
	}
	return pass(CheckWindow, "Today is the protocol infusion day (%s).", day)
}

func checkNotInfused(f BedsideFacts) Check {
	switch {
	case f.Bag == nil || f.Patient == nil:
		return fail(CheckNotInfused, "Cannot check earlier infusions: the bag or the patient is not identified.")
	case f.PatientInfused:
		return fail(CheckNotInfused, "Subject %s has already received their one infusion. Do not infuse again.", f.Patient.SubjectID)
	case f.Bag.Infused:
		return fail(CheckNotInfused, "Bag %s has already been infused. Do not use it.", f.Bag.BagID)
	}
	return pass(CheckNotInfused, "Neither this patient nor this bag has been infused before.")
}

func checkCustody(f BedsideFacts) Check {
	switch {
	case f.Bag == nil:
		return fail(CheckCustody, "Cannot check custody: %s.", unknownBag)
	case !f.Bag.Dispatched:
		return fail(CheckCustody, "The bag was never scanned out of the pharmacy. Do not infuse; call the pharmacy.")
	case !f.Bag.Received:
		return fail(CheckCustody, "The bag was not scanned in on the ward. Scan it on receipt first.")
	case f.Bag.TakenBack != "":
		return fail(CheckCustody, "The bag was %s: it must not be given. Do not infuse; call the pharmacy.", f.Bag.TakenBack)
	case f.Bag.OpenExcursion:
		return fail(CheckCustody, "The bag's temperature left 2–8 °C in transport and QA has not cleared it. Do not infuse.")
	}
	return pass(CheckCustody, "Custody is complete: dispatched by the pharmacy, received on the ward, kept at 2–8 °C.")
}

func checkWitness(f BedsideFacts) Check {
	w := f.Witness
	switch {
	case !w.Authenticated:
		problem := w.Problem
		if problem == "" {
			problem = "no witness confirmed"
		}
		return fail(CheckWitness, "Witness not confirmed: %s. A second nurse or physician must confirm with their own login.", problem)
	}
	if problem := WitnessProblem(w.UserID, w.Name, w.Roles, f.NurseUserID); problem != "" {
		return fail(CheckWitness, "%s", problem)
	}
	return pass(CheckWitness, "Witnessed by %s.", w.Name)
}

// BedsideRequest is one bedside verification as the API received it: the wristband, the
// bag's code as the label layer read it, and the witness as authentication found them.
type BedsideRequest struct {
	Wristband string
	Scan      CustodyScan
	Witness   WitnessFacts
	Ward      string
	// WristbandEntry and CodeEntry tell how the page got each code (Entry*; empty when the
	// client does not say), so that typed entries can be reported per ward.
	WristbandEntry, CodeEntry string
	// EntryReason is why a code was typed or is not the signed QR (ValidateEntryReason).
	EntryReason *EntryReason
	// WitnessToken is the witness token the witness confirmed with, when they did not enter
	// their password (Witness is then decided in the verification's transaction).
	WitnessToken string
}

// How a code reached a scan field (SPEC §7): a keyboard-wedge scanner types a whole code in a
// burst (or with a configured prefix), a person types one key at a time, and the camera
// decodes it in the page. Typing the wristband's MRN or the label's text is the workaround
// that barcode administration exists to prevent, so it is recorded.
const (
	EntryScanned = "scanned"
	EntryTyped   = "typed"
	EntryCamera  = "camera"
)

// ValidateEntry refuses an entry method other than the Entry* values (or empty: not said).
func ValidateEntry(field, entry string) error {
	switch entry {
	case "", EntryScanned, EntryTyped, EntryCamera:
		return nil
	}
	return FieldError(field, "%q is not a way of entering a code: use %s, %s or %s", entry, EntryScanned, EntryTyped, EntryCamera)
}

// Verification is a stored bedside verification.
type Verification struct {
	ID         int64     `json:"id"`
	Pass       bool      `json:"pass"`
	Checks     []Check   `json:"checks"`
	DoseBagID  int64     `json:"dose_bag_id,omitempty"`
	PatientID  int64     `json:"patient_id,omitempty"`
	CodeKind   string    `json:"code_kind"`
	VerifiedAt time.Time `json:"verified_at"`
	// How the wristband and the bag's code were entered (Entry*), when the client said.
	WristbandEntry string       `json:"wristband_entry,omitempty"`
	CodeEntry      string       `json:"code_entry,omitempty"`
	EntryReason    *EntryReason `json:"entry_reason,omitempty"`
	// Patient is who wears the wristband, when it names an enrolled patient, and Message the
	// verdict in a sentence (VerdictMessage): the nurse confirms the name and date of birth
	// with the person. Neither is stored with the checks, which traces show to every role.
	Patient *PatientIdent `json:"patient,omitempty"`
	Message string        `json:"message,omitempty"`
	// ReturnOffered: see Verdict.ReturnOffered.
	ReturnOffered bool `json:"return_offered"`
}

// Infusion is the administration of a dose bag.
type Infusion struct {
	ID             int64      `json:"id"`
	VerificationID int64      `json:"verification_id"`
	DoseBagID      int64      `json:"dose_bag_id"`
	PatientID      int64      `json:"patient_id"`
	StartedAt      time.Time  `json:"started_at"`
	EndedAt        *time.Time `json:"ended_at,omitempty"`
	VolumeML       *float64   `json:"volume_ml,omitempty"`
	Reactions      string     `json:"reactions,omitempty"`
}

// BedsideService verifies at the bedside and records infusions.
type BedsideService interface {
	// Verify runs every check and stores the attempt, passing or failing.
	Verify(ctx context.Context, actor Actor, req BedsideRequest) (Verification, error)
	// StartInfusion starts from a passing verification under the spec's maximum age. A second
	// infusion of the patient or the bag: EConflict, guaranteed by the database.
	StartInfusion(ctx context.Context, actor Actor, verificationID int64) (Infusion, error)
	EndInfusion(ctx context.Context, actor Actor, infusionID int64, volumeML float64, reactions string) (Infusion, error)
	// InfusionsInProgress lists the infusions started and not yet ended, oldest first, so that
	// any nurse can end one after a reload, a closed tab or a new login.
	InfusionsInProgress(ctx context.Context) ([]InfusionInProgress, error)
}

// InfusionInProgress is an infusion started and not yet ended, as the ward sees it: by bag and
// subject id, which name no patient.
type InfusionInProgress struct {
	Infusion
	BagID     string  `json:"bag_id"`
	SubjectID string  `json:"subject_id"`
	BagVolume float64 `json:"bag_volume_ml"`
	Ward      string  `json:"ward,omitempty"`
}
