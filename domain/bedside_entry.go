package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Entry reasons (SPEC §7): why a code was typed, or read from a code that proves less than
// the signed QR. They are a contract, counted per ward on the compliance dashboard.
const (
	ReasonLabelDamaged        = "label_damaged"
	ReasonScannerDown         = "scanner_down"
	ReasonWristbandUnreadable = "wristband_unreadable"
	ReasonOther               = "other"
)

// EntryReasons lists the entry reasons in the order the bedside page offers them.
var EntryReasons = []string{ReasonLabelDamaged, ReasonScannerDown, ReasonWristbandUnreadable, ReasonOther}

// EntryReason is why the nurse typed a code or scanned one that is not the signed QR.
type EntryReason struct {
	Code string `json:"code"`
	Text string `json:"text,omitempty"`
}

func (r EntryReason) human() string {
	text := strings.ReplaceAll(r.Code, "_", " ")
	if r.Text != "" {
		text += ": " + r.Text
	}
	return text
}

// LabelFacts is what LABEL_AUTHENTIC looks at: how the bag's code was read, what the label
// layer found, and, for a signed QR, which print it is.
type LabelFacts struct {
	CodeKind string // Code*
	// Refusal is why the code was not accepted (forged, altered, unknown bag…); "" when it was.
	Refusal string
	// ScannedSerial is the print serial the signed QR carries; CurrentSerial the bag's latest.
	ScannedSerial, CurrentSerial int64
	// Key is what the records say of the key the signed QR names, for the print it names.
	Key PrintKey
	// CodeEntry and WristbandEntry: how the page got each code (Entry*, "" when not said).
	CodeEntry, WristbandEntry string
	Reason                    *EntryReason
}

// proven reports whether the bag's code is a scanned signed QR: the only code that proves a
// genuine label and its current print.
func (f LabelFacts) proven() bool {
	return f.CodeKind == CodeQR && f.CodeEntry != EntryTyped
}

// NeedsEntryReason reports what was not scanned from a signed code, "" when nothing: a typed
// bag id or wristband, or an ISBT 128 code, which carries no signature and no print serial.
func (f LabelFacts) NeedsEntryReason() string {
	var what []string
	switch {
	case f.CodeKind == CodeISBT:
		what = append(what, "the bag's code is an ISBT 128 code (no signature, no print serial)")
	case f.CodeKind == CodeManual || f.CodeEntry == EntryTyped:
		what = append(what, "the bag's code was typed by hand")
	}
	if f.WristbandEntry == EntryTyped {
		what = append(what, "the wristband was typed by hand")
	}
	return strings.Join(what, " and ")
}

// ValidateEntryReason refuses a verification whose codes need an entry reason (NeedsEntryReason)
// without a valid one, and a reason that is not one of EntryReasons, or "other" without text.
func ValidateEntryReason(f LabelFacts) error {
	if r := f.Reason; r != nil {
		if !slices.Contains(EntryReasons, r.Code) {
			return FieldError("entry_reason", "%q is not an entry reason: use %s", r.Code, strings.Join(EntryReasons, ", "))
		}
		if t := strings.TrimSpace(r.Text); r.Code == ReasonOther && t == "" {
			return FieldError("entry_reason", "say in text why the code was not scanned (reason \"other\")")
		} else if len(t) > 500 {
			return FieldError("entry_reason", "the reason's text is at most 500 characters")
		}
		return nil
	}
	if what := f.NeedsEntryReason(); what != "" {
		return FieldError("entry_reason", "%s: give an entry reason (%s; \"other\" with text), which the witness confirms, or scan the signed QR code and the wristband",
			what, strings.Join(EntryReasons, ", "))
	}
	return nil
}

// LabelAuthenticity decides LABEL_AUTHENTIC (SPEC §7, §8): only a scanned signed QR of the
// bag's current print, signed by a key that vouches for that print (LabelKeyProblem), passes
// as a genuine, current label. A typed id or an ISBT 128 code, given
// with an entry reason, passes saying plainly what was not proven; the witness's confirmation
// covers it.
func LabelAuthenticity(f LabelFacts) Check {
	if f.Refusal != "" {
		return fail(CheckLabelAuthentic, "Label not trusted: %s. Do not infuse; call the pharmacy for a new label.", f.Refusal)
	}
	if f.CodeKind == CodeQR && f.ScannedSerial != f.CurrentSerial {
		return fail(CheckLabelAuthentic, "Label not trusted: this is print %d, but print %d replaced it. Do not infuse; call the pharmacy for a new label.",
			f.ScannedSerial, f.CurrentSerial)
	}
	if f.CodeKind == CodeQR {
		if _, problem := LabelKeyProblem(f.Key); problem != "" {
			return fail(CheckLabelAuthentic, "Label not trusted: %s. Do not infuse; call the pharmacy for a new label.", problem)
		}
	}
	reason := "no entry reason given"
	if f.Reason != nil {
		reason = "reason: " + f.Reason.human()
	}
	switch {
	case f.CodeKind == CodeISBT:
		return notProven(f, fmt.Sprintf("ISBT 128 code scanned (%s): it carries no signature and no print serial, so the label's signature and print were not checked", reason))
	case !f.proven():
		return notProven(f, fmt.Sprintf("typed by hand (%s): the label's signature and print were not checked", reason))
	}
	msg := "The label is genuine and is the bag's current print."
	if f.WristbandEntry == EntryTyped {
		msg += fmt.Sprintf(" The wristband was typed by hand (%s): it was not scanned.", reason)
	}
	return pass(CheckLabelAuthentic, "%s", msg)
}

func notProven(f LabelFacts, what string) Check {
	if f.Reason == nil {
		return fail(CheckLabelAuthentic, "Label not proven: %s. Scan the signed QR code, or give an entry reason.", what)
	}
	msg := "Label not proven, accepted with the witness: " + what + "."
	if f.WristbandEntry == EntryTyped {
		msg += " The wristband was typed by hand: it was not scanned."
	}
	return pass(CheckLabelAuthentic, "%s", msg)
}

// Witness tokens (SPEC §7): issued to a witness who entered their password on the bedside
// device, for one verification within WitnessTokenLife.
const WitnessTokenLife = 2 * time.Minute

// WitnessProblem says why user (named name, holding roles) cannot witness an infusion given by
// the nurse nurseID, "" when they can: the witness is another person, a nurse or a physician.
func WitnessProblem(userID int64, name string, roles []Role, nurseID int64) string {
	switch {
	case userID == nurseID:
		return "The witness must be a different person from the nurse giving the infusion."
	case !slices.Contains(roles, RoleNurse) && !slices.Contains(roles, RolePhysician):
		return fmt.Sprintf("%s is not a nurse or physician and cannot witness an infusion.", name)
	}
	return ""
}

// WitnessTokenFacts is a witness token as the verification found it in the database.
type WitnessTokenFacts struct {
	Found     bool
	ID        int64
	UserID    int64 // the witness
	Name      string
	Roles     []Role
	IssuedTo  int64 // the user of the device it was issued on
	ExpiresAt time.Time
	Used      bool // another verification used it
	// The witness's account as it is now: a token stops confirming once the account is
	// locked or disabled.
	LockedUntil    *time.Time
	DisabledAt     *time.Time
	DisabledReason string
}

// WitnessFromToken decides whether a witness token confirms the verification by nurse
// nurseID at now: it exists, was issued on this nurse's device, has not expired and no other
// verification used it, and the witness's account can still act.
func WitnessFromToken(t WitnessTokenFacts, nurseID int64, now time.Time) WitnessFacts {
	const again = "the witness must enter their password again on this device"
	account := User{FullName: t.Name, LockedUntil: t.LockedUntil, DisabledAt: t.DisabledAt, DisabledReason: t.DisabledReason}
	switch {
	case !t.Found:
		return WitnessFacts{Problem: "the witness token is not one issued for a witness (a login token is never a witness); " + again}
	case t.Used:
		return WitnessFacts{Problem: "the witness token was already used for another verification; " + again}
	case !now.Before(t.ExpiresAt):
		return WitnessFacts{Problem: fmt.Sprintf("the witness token expired %d minutes after it was issued; %s", int(WitnessTokenLife.Minutes()), again)}
	case t.IssuedTo != nurseID:
		return WitnessFacts{Problem: "the witness token was issued on another user's device; " + again}
	case account.AccountRefusal(now) != "":
		return WitnessFacts{Problem: account.AccountRefusal(now) + "; another nurse or physician must witness"}
	}
	return WitnessFacts{Authenticated: true, UserID: t.UserID, Name: t.Name, Roles: t.Roles, TokenID: t.ID}
}

// PatientIdent is the two identifiers (SPEC §7) and the trial's ids a verification shows, so
// that the nurse confirms the person, not only the barcode.
type PatientIdent struct {
	Name        string `json:"name"`
	DateOfBirth string `json:"date_of_birth"`
	MRN         string `json:"mrn"`
	SubjectID   string `json:"subject_id"`
}

// VerdictMessage is the verdict in one sentence. A PASS names the person (SPEC §7, two
// identifiers): name and date of birth beside the MRN and subject id.
func VerdictMessage(pass bool, failed []string, p *PatientIdent) string {
	if !pass {
		return fmt.Sprintf("STOP: do not infuse (%s).", strings.Join(failed, ", "))
	}
	if p == nil {
		return "PASS."
	}
	return fmt.Sprintf("PASS: give this bag to %s, born %s (MRN %s, subject %s). Ask the patient their name and date of birth before you start.",
		p.Name, p.DateOfBirth, p.MRN, p.SubjectID)
}

// PatientDisclosedFields are the patient's fields a verification shows (patient.disclose).
var PatientDisclosedFields = []string{"name", "date_of_birth", "mrn", "subject_id"}
