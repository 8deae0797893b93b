package domain

import (
	"slices"
	"strings"
	"time"
)

// LotStatus is where a lot is in its life (SPEC §2).
type LotStatus string

const (
	LotInProcess  LotStatus = "in_process"
	LotQuarantine LotStatus = "quarantine"
	LotReleased   LotStatus = "released"
	LotRejected   LotStatus = "rejected"
	LotOnHold     LotStatus = "on_hold"
	LotRecalled   LotStatus = "recalled"
	LotExpired    LotStatus = "expired"
)

// LotStatuses lists every lot status.
var LotStatuses = []LotStatus{LotInProcess, LotQuarantine, LotReleased, LotRejected, LotOnHold, LotRecalled, LotExpired}

// lotTransitions is the lot state machine. A released lot may be recalled directly: waiting
// for a hold first would leave its bags usable during the most urgent minutes. A lot in
// quarantine goes on hold when a failing result follows an exceptional release (SPEC §5), and
// QA may then reject it. Rejected, recalled and expired are final.
var lotTransitions = map[LotStatus][]LotStatus{
	LotInProcess:  {LotQuarantine, LotExpired},
	LotQuarantine: {LotReleased, LotRejected, LotOnHold, LotExpired},
	LotReleased:   {LotOnHold, LotRecalled, LotExpired},
	LotOnHold:     {LotReleased, LotRejected, LotRecalled, LotExpired},
}

// ParseLotStatus checks a status named in input, such as a list filter.
func ParseLotStatus(s string) (LotStatus, error) {
	if slices.Contains(LotStatuses, LotStatus(s)) {
		return LotStatus(s), nil
	}
	return "", FieldError("status", "%q is not a lot status; use one of %s", s, joinStatuses(LotStatuses))
}

// LotTransition refuses a change the state machine does not allow, naming the current state.
func LotTransition(from, to LotStatus) error {
	return transition("lot", string(from), string(to), lotTransitions[from])
}

func transition[S ~string](what, from, to string, allowed []S) error {
	for _, a := range allowed {
		if string(a) == to {
			return nil
		}
	}
	msg := what + " is " + from + "; it cannot become " + to
	if len(allowed) == 0 {
		msg += " (" + from + " is final)"
	} else {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		msg += " (from " + from + " it can become " + strings.Join(names, ", ") + ")"
	}
	return Errorf(EConflict, "%s", msg)
}

func joinStatuses[S ~string](list []S) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// UnitStatus is where a unit (cryobag) is.
type UnitStatus string

const (
	UnitAvailable UnitStatus = "available"
	UnitAllocated UnitStatus = "allocated"
	UnitConsumed  UnitStatus = "consumed"
	UnitDiscarded UnitStatus = "discarded"
)

// An allocated unit goes back to available only if its dose order is cancelled before thaw:
// a frozen unit is still good; a thawed one is consumed.
var unitTransitions = map[UnitStatus][]UnitStatus{
	UnitAvailable: {UnitAllocated, UnitDiscarded},
	UnitAllocated: {UnitConsumed, UnitAvailable, UnitDiscarded},
}

// UnitTransition refuses a change the unit state machine does not allow.
func UnitTransition(from, to UnitStatus) error {
	return transition("unit", string(from), string(to), unitTransitions[from])
}

// DoseBagStatus is where a dose bag is.
type DoseBagStatus string

const (
	BagPrepared   DoseBagStatus = "prepared"
	BagDispatched DoseBagStatus = "dispatched"
	BagReceived   DoseBagStatus = "received"
	BagVerified   DoseBagStatus = "verified"
	BagInfused    DoseBagStatus = "infused"
	BagReturned   DoseBagStatus = "returned"
	BagDiscarded  DoseBagStatus = "discarded"
)

// LiveBagStatuses are the states in which a dose bag may still reach its patient.
var LiveBagStatuses = []DoseBagStatus{BagPrepared, BagDispatched, BagReceived, BagVerified}

// A bag can be returned once it has left the pharmacy and discarded at any point before
// infusion (expiry, excursion, recall). A failed bedside verification leaves a received bag
// received, so a second, passing verification may follow; a verified bag may be verified again.
var bagTransitions = map[DoseBagStatus][]DoseBagStatus{
	BagPrepared:   {BagDispatched, BagDiscarded},
	BagDispatched: {BagReceived, BagReturned, BagDiscarded},
	BagReceived:   {BagVerified, BagReturned, BagDiscarded},
	BagVerified:   {BagVerified, BagInfused, BagReturned, BagDiscarded},
	BagReturned:   {BagDiscarded},
}

// DoseBagTransition refuses a change the dose-bag state machine does not allow.
func DoseBagTransition(from, to DoseBagStatus) error {
	return transition("dose bag", string(from), string(to), bagTransitions[from])
}

// Eligibility is the donor eligibility determination of a donation.
type Eligibility string

const (
	Eligible   Eligibility = "eligible"
	Ineligible Eligibility = "ineligible"
	Pending    Eligibility = "pending"
)

// ParseEligibility checks an eligibility named in input.
func ParseEligibility(s string) (Eligibility, error) {
	switch e := Eligibility(s); e {
	case Eligible, Ineligible, Pending:
		return e, nil
	}
	return "", FieldError("eligibility", "eligibility must be eligible, ineligible or pending")
}

// SignatureAction is what an electronic signature does.
type SignatureAction string

const (
	SignRelease              SignatureAction = "release"
	SignReject               SignatureAction = "reject"
	SignHold                 SignatureAction = "hold"
	SignRecall               SignatureAction = "recall"
	SignExceptionalQA        SignatureAction = "exceptional_release"
	SignExceptionalPhysician SignatureAction = "exceptional_release_physician"
)

// Meaning is the statement a signature makes, shown with the printed name (21 CFR 11.50).
func (a SignatureAction) Meaning() string {
	switch a {
	case SignRelease:
		return "Released for clinical use"
	case SignReject:
		return "Rejected: not for clinical use"
	case SignHold:
		return "Placed on hold pending investigation"
	case SignRecall:
		return "Recalled: every unit and dose bag not yet infused is blocked"
	case SignExceptionalQA:
		return "Exceptional release for one named patient (QA)"
	case SignExceptionalPhysician:
		return "Exceptional release for one named patient (treating physician)"
	}
	return string(a)
}

// TargetStatus is the lot status a signature moves the lot to; "" when it does not move it.
func (a SignatureAction) TargetStatus() LotStatus {
	switch a {
	case SignRelease:
		return LotReleased
	case SignReject:
		return LotRejected
	case SignHold:
		return LotOnHold
	case SignRecall:
		return LotRecalled
	}
	return ""
}

// Signature is an electronic signature on a lot.
type Signature struct {
	ID             int64           `json:"id"`
	LotID          int64           `json:"lot_id"`
	Action         SignatureAction `json:"action"`
	UserID         int64           `json:"user_id"`
	PrintedName    string          `json:"printed_name"`
	Role           Role            `json:"role"`
	Meaning        string          `json:"meaning"`
	Reason         string          `json:"reason,omitempty"`
	SpecVersion    int             `json:"spec_version,omitempty"`
	EvaluationHash string          `json:"evaluation_hash,omitempty"`
	PatientID      int64           `json:"patient_id,omitempty"`
	SignedAt       time.Time       `json:"signed_at"`
}

// CheckSeparationOfDuties refuses a release by anyone who entered a QC result of the lot: the
// person who checks the results cannot be one who produced them (SPEC §5).
func CheckSeparationOfDuties(signerID int64, results []QCResult) error {
	for _, r := range results {
		if r.EnteredBy == signerID {
			return Errorf(ERuleViolated, "you entered QC result %d of this lot, so you cannot release it: another QA person must sign", r.ID)
		}
	}
	return nil
}

// CheckRelease applies the release rules of SPEC §5: every criterion passes and the donor is
// eligible.
func CheckRelease(e Evaluation, donor Eligibility) error {
	switch donor {
	case Eligible:
	case Ineligible:
		return Errorf(ERuleViolated, "the donor is ineligible: no lot of this donation may be released")
	default:
		return Errorf(ERuleViolated, "the donor's eligibility determination is not complete (%s): the lot can be released only by exceptional release for one named patient, under urgent medical need, until QA determines the donor eligible", donor)
	}
	if !e.Releasable {
		var open []string
		oos := false
		for _, c := range e.Criteria {
			if c.Status != StatusPass {
				open = append(open, c.Name+" "+c.Status)
				oos = oos || c.Status == StatusOOS
			}
		}
		if oos {
			return Errorf(ERuleViolated, "not every criterion passes (%s): release is refused while an OOS investigation is open; QA closes it first (a later passing result does not replace a failing one)", strings.Join(open, ", "))
		}
		return Errorf(ERuleViolated, "not every criterion passes (%s): release is refused", strings.Join(open, ", "))
	}
	return nil
}

// CheckExceptionalRelease applies the rule for releasing an out-of-spec lot for one patient:
// a QA person and a physician, two different people, and a justification.
func CheckExceptionalRelease(qaUserID, physicianUserID int64, justification string, patientID int64) error {
	switch {
	case patientID == 0:
		return FieldError("patient_id", "an exceptional release is for one named patient")
	case strings.TrimSpace(justification) == "":
		return FieldError("reason", "an exceptional release needs a justification")
	case qaUserID == physicianUserID:
		return Errorf(ERuleViolated, "the QA signer and the physician must be two different people")
	}
	return nil
}

// FailsSpec reports whether a single result, judged alone, fails the specification; a failing
// result recorded after release puts the lot on hold at once (SPEC §5).
func FailsSpec(spec ReleaseSpec, r QCResult) bool {
	for _, c := range evaluate(spec, []QCResult{r}, nil, nil).Criteria {
		if c.Status == StatusFail {
			return true
		}
	}
	return false
}
