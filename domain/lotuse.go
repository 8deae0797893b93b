package domain

import (
	"fmt"
	"time"
)

// LotUse is the verdict of LotUsability: whether a lot's units and bags may be given to one
// patient, and why in a sentence (lower case, no action: each caller says what to do).
type LotUse struct {
	Usable bool
	// Exceptional: usable only through the exceptional release for this patient.
	Exceptional bool
	// Blocked: no one may be given the lot, now or by exception (on hold, recalled, rejected,
	// expired); whoever holds its units or bags returns them.
	Blocked bool
	Reason  string
}

// LotStatusBlocks reports whether a lot in status s may be given to no one (LotUse.Blocked).
func LotStatusBlocks(s LotStatus) bool {
	switch s {
	case LotOnHold, LotRecalled, LotRejected, LotExpired:
		return true
	}
	return false
}

// LotUsability decides whether lot l may be given to the patient patientID at now (SPEC §2, §7):
// a released, unexpired lot to anyone; a lot in quarantine exceptionally released (QA and a
// physician signed) for this patient only to them; nothing else. Preparation, dispatch,
// receipt, the bedside's LOT_RELEASED, the infusion's start and the pages all ask it.
func LotUsability(l LotFacts, patientID int64, now time.Time) LotUse {
	st := LotStatus(l.Status)
	if LotStatusBlocks(st) {
		return LotUse{Blocked: true, Reason: fmt.Sprintf("lot %s is %s", l.LotNumber, humanStatus(l.Status))}
	}
	if !now.Before(l.ExpiresAt) {
		return LotUse{Blocked: true, Reason: fmt.Sprintf("lot %s expired on %s", l.LotNumber, l.ExpiresAt.UTC().Format(time.DateOnly))}
	}
	switch st {
	case LotReleased:
		return LotUse{Usable: true, Reason: fmt.Sprintf("lot %s is released by QA", l.LotNumber)}
	case LotQuarantine:
		if patientID != 0 && l.ExceptionalForPatientID == patientID {
			return LotUse{Usable: true, Exceptional: true,
				Reason: fmt.Sprintf("lot %s is released by exception for this patient only (QA and physician signed)", l.LotNumber)}
		}
		return LotUse{Reason: fmt.Sprintf("lot %s is in quarantine and not released for this patient", l.LotNumber)}
	}
	return LotUse{Reason: fmt.Sprintf("lot %s is not released (it is %s)", l.LotNumber, humanStatus(l.Status))}
}

// Capitalized returns the reason as the start of a sentence.
func (u LotUse) Capitalized() string {
	if u.Reason == "" {
		return ""
	}
	b := []byte(u.Reason)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

// InfusionStartFacts is what starting an infusion looks at, gathered by the store.
type InfusionStartFacts struct {
	Now            time.Time
	VerificationID int64
	// Pass, Failed and Complete describe the verification: passed, the codes of its failed
	// checks, and whether it named both a bag and a patient.
	Pass     bool
	Failed   string
	Complete bool
	// VerifiedAt and MaxAge: the verification's time and the spec's maximum age of one.
	VerifiedAt time.Time
	MaxAge     time.Duration
	Lot        LotFacts
	PatientID  int64 // the bag's patient
	BagExpires time.Time
	BagStatus  DoseBagStatus
}

// CanStartInfusion decides whether an infusion may start (SPEC §7): from a passing
// verification younger than the spec allows, of a bag whose lot is still usable for its
// patient (a recall may have come in between), that has not expired and may become infused.
func CanStartInfusion(f InfusionStartFacts) error {
	if !f.Pass || !f.Complete {
		return Errorf(ERuleViolated, "verification %d did not pass (%s): an infusion needs a passing verification", f.VerificationID, f.Failed)
	}
	if age := f.Now.Sub(f.VerifiedAt); age >= f.MaxAge {
		return Errorf(ERuleViolated, "the verification is %d minutes old; verify again at the bedside (at most %d minutes before starting)",
			int(age.Minutes()), int(f.MaxAge.Minutes()))
	}
	if use := LotUsability(f.Lot, f.PatientID, f.Now); !use.Usable {
		return Errorf(ERuleViolated, "%s: do not infuse; return the bag to the pharmacy", use.Capitalized())
	}
	if !f.Now.Before(f.BagExpires) {
		return Errorf(ERuleViolated, "the bag expired at %s", f.BagExpires.UTC().Format("15:04 UTC"))
	}
	return DoseBagTransition(f.BagStatus, BagInfused)
}
