package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DonorTest is one relevant communicable disease test of the maternal donor (21 CFR 1271.85).
type DonorTest string

const (
	DonorTestHIV      DonorTest = "hiv_1_2"
	DonorTestHBV      DonorTest = "hbv"
	DonorTestHCV      DonorTest = "hcv"
	DonorTestSyphilis DonorTest = "syphilis"
	DonorTestHTLV     DonorTest = "htlv_1_2"
	DonorTestCMV      DonorTest = "cmv"
)

// DonorTests is the list of tests a donor eligibility determination needs, in the order pages
// show them.
var DonorTests = []DonorTest{DonorTestHIV, DonorTestHBV, DonorTestHCV, DonorTestSyphilis, DonorTestHTLV, DonorTestCMV}

// Label is the test's name as people read it.
func (t DonorTest) Label() string {
	switch t {
	case DonorTestHIV:
		return "HIV-1/2"
	case DonorTestHBV:
		return "HBV"
	case DonorTestHCV:
		return "HCV"
	case DonorTestSyphilis:
		return "Syphilis"
	case DonorTestHTLV:
		return "HTLV-I/II"
	case DonorTestCMV:
		return "CMV"
	}
	return string(t)
}

// Donor test results.
const (
	Reactive    = "reactive"
	NonReactive = "non_reactive"
)

// Screening outcomes of the donor's medical history and questionnaire (21 CFR 1271.75).
const (
	ScreeningAcceptable    = "acceptable"
	ScreeningNotAcceptable = "not_acceptable"
)

// DonorTestResult is one recorded test of the maternal donor. A later result of the same test
// stands; earlier ones stay on record.
type DonorTestResult struct {
	ID         int64     `json:"id"`
	DonationID int64     `json:"donation_id"`
	Test       DonorTest `json:"test"`
	Result     string    `json:"result"`
	TestedAt   time.Time `json:"tested_at"`
	EnteredBy  int64     `json:"entered_by"`
	EnteredAt  time.Time `json:"entered_at"`
}

// Validate checks a test result as entered; now bounds its date.
func (r DonorTestResult) Validate(now time.Time) error {
	if !slices.Contains(DonorTests, r.Test) {
		names := make([]string, len(DonorTests))
		for i, t := range DonorTests {
			names[i] = string(t)
		}
		return FieldError("test", "%q is not a donor test; use one of %s", r.Test, strings.Join(names, ", "))
	}
	if r.Result != Reactive && r.Result != NonReactive {
		return FieldError("result", "the result is reactive or non_reactive")
	}
	return checkPast("tested_at", "the test date", r.TestedAt, now)
}

// DonorScreening is the record of the donor's screening: the questionnaire and medical history
// review, and its outcome.
type DonorScreening struct {
	ID                    int64     `json:"id"`
	DonationID            int64     `json:"donation_id"`
	QuestionnaireComplete bool      `json:"questionnaire_complete"`
	Outcome               string    `json:"outcome"`
	Notes                 string    `json:"notes,omitempty"`
	ScreenedAt            time.Time `json:"screened_at"`
	EnteredBy             int64     `json:"entered_by"`
	EnteredAt             time.Time `json:"entered_at"`
}

// Validate checks a screening as entered.
func (s DonorScreening) Validate(now time.Time) error {
	if s.Outcome != ScreeningAcceptable && s.Outcome != ScreeningNotAcceptable {
		return FieldError("outcome", "the screening outcome is acceptable or not_acceptable")
	}
	if len([]rune(s.Notes)) > MaxReasonLength {
		return FieldError("notes", "notes are at most %d characters", MaxReasonLength)
	}
	return checkPast("screened_at", "the screening date", s.ScreenedAt, now)
}

// EligibilityDetermination is the responsible person's signed determination (21 CFR 1271.50).
// Signed is false only for determinations recorded with the donation before signed
// determinations existed.
type EligibilityDetermination struct {
	ID            int64       `json:"id"`
	DonationID    int64       `json:"donation_id"`
	Determination Eligibility `json:"determination"`
	Reason        string      `json:"reason,omitempty"`
	UserID        int64       `json:"user_id"`
	PrintedName   string      `json:"printed_name"`
	Role          Role        `json:"role"`
	Meaning       string      `json:"meaning"`
	Signed        bool        `json:"signed"`
	SignedAt      time.Time   `json:"signed_at"`
}

// DeterminationMeaning is what a determination's signature states (21 CFR 11.50).
func DeterminationMeaning(e Eligibility) string {
	if e == Eligible {
		return "Donor determined eligible (21 CFR 1271.50): screening acceptable, required tests non-reactive"
	}
	return "Donor determined ineligible (21 CFR 1271.50): no lot of this donation may be released"
}

// DeterminationFacts is what a determination looks at, gathered by the store.
type DeterminationFacts struct {
	Current       Eligibility
	Determination Eligibility
	Reason        string
	// Latest holds the standing result of each test recorded (the latest entered).
	Latest    map[DonorTest]DonorTestResult
	Screening *DonorScreening // the latest, nil when none was recorded
}

// CheckDetermination decides whether a determination may be signed. Pending may become
// eligible or ineligible; eligible may become ineligible when new information arrives (the
// look-back follows); ineligible is final. Eligible needs an acceptable, complete screening
// and every required test recorded non-reactive, CMV excepted: a reactive CMV is recorded on
// the determination, and does not by itself make the donor ineligible (21 CFR 1271.85(b)).
// Ineligible needs the reason.
func CheckDetermination(f DeterminationFacts) error {
	if err := ValidateDetermination(f.Determination); err != nil {
		return err
	}
	if f.Current == Ineligible {
		return Errorf(EConflict, "the donor was determined ineligible; that determination is final")
	}
	if f.Current == f.Determination {
		return Errorf(EConflict, "the donor is already determined %s", f.Current)
	}
	if len([]rune(strings.TrimSpace(f.Reason))) > MaxReasonLength {
		return FieldError("reason", "the reason is at most %d characters", MaxReasonLength)
	}
	if f.Determination == Ineligible {
		if strings.TrimSpace(f.Reason) == "" {
			return FieldError("reason", "say why the donor is ineligible (which result or screening finding)")
		}
		return nil
	}
	var missing, reactive []string
	for _, t := range DonorTests {
		r, ok := f.Latest[t]
		switch {
		case !ok:
			missing = append(missing, t.Label())
		case r.Result == Reactive && t != DonorTestCMV:
			reactive = append(reactive, t.Label())
		}
	}
	switch {
	case len(reactive) > 0:
		return Errorf(ERuleViolated, "%s reactive: the donor cannot be determined eligible", strings.Join(reactive, ", "))
	case len(missing) > 0:
		return Errorf(ERuleViolated, "no result recorded for %s: every required test is needed before the donor can be determined eligible", strings.Join(missing, ", "))
	case f.Screening == nil:
		return Errorf(ERuleViolated, "no donor screening is recorded: record the questionnaire and its outcome first")
	case !f.Screening.QuestionnaireComplete:
		return Errorf(ERuleViolated, "the donor questionnaire is not complete: the donor cannot be determined eligible")
	case f.Screening.Outcome != ScreeningAcceptable:
		return Errorf(ERuleViolated, "the donor screening outcome is %s: the donor cannot be determined eligible", f.Screening.Outcome)
	}
	return nil
}

// LatestDonorTests returns the standing result of each test: the one entered last.
func LatestDonorTests(results []DonorTestResult) map[DonorTest]DonorTestResult {
	out := map[DonorTest]DonorTestResult{}
	for _, r := range results {
		if prev, ok := out[r.Test]; !ok || r.ID > prev.ID {
			out[r.Test] = r
		}
	}
	return out
}

// IneligibleDonorHolds reports whether a lot in status s goes on hold when its donor is
// determined ineligible: a lot that is or may soon be used (released, or in quarantine where
// an exceptional release may already be signed). A lot still in process cannot be released
// from an ineligible donor anyway; a lot already blocked stays as it is.
func IneligibleDonorHolds(s LotStatus) bool {
	return s == LotReleased || s == LotQuarantine
}

// CheckExceptionalReleaseFor decides whether a lot may be released by exception at all: when
// it does not meet its specification, or when its donor's eligibility determination is not
// complete (a documented urgent medical need, 21 CFR 1271.60(d)). A lot that meets its
// specification from an eligible donor is released normally; a lot from an ineligible donor
// is not released.
func CheckExceptionalReleaseFor(e Evaluation, donor Eligibility) error {
	switch {
	case donor == Ineligible:
		return Errorf(ERuleViolated, "the donor is ineligible: no lot of this donation may be released, by exception either")
	case e.Releasable && donor == Eligible:
		return Errorf(ERuleViolated, "the lot meets its specification: release it normally instead")
	}
	return nil
}

// Statements a lot from a donor whose eligibility determination is not complete carries on
// every label (21 CFR 1271.60(d)(2)), with the reason it may be used at all.
const (
	StatementNotEvaluated     = "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
	StatementAdviseRisks      = "WARNING: Advise patient of communicable disease risks"
	StatementUrgentMedicalUse = "URGENT MEDICAL NEED: donor eligibility determination not complete"
)

// DonorLabelStatements returns the statements a unit or dose-bag label of a lot from a donor
// with this eligibility must carry: none once the donor is determined eligible.
func DonorLabelStatements(donor Eligibility) []string {
	if donor == Eligible {
		return nil
	}
	return []string{StatementNotEvaluated, StatementAdviseRisks, StatementUrgentMedicalUse}
}

// DonationDetail is a donation with its donor's tests, screening and determinations, and,
// for the look-back, every lot, unit, dose bag and patient that came from it.
type DonationDetail struct {
	Donation       Donation                   `json:"donation"`
	Tests          []DonorTestResult          `json:"tests"`
	Screenings     []DonorScreening           `json:"screenings"`
	Determinations []EligibilityDetermination `json:"determinations"`
	// Required lists every test a determination needs, with its standing result (empty when
	// none was recorded).
	Required []RequiredDonorTest `json:"required"`
	LookBack LookBack            `json:"look_back"`
}

// RequiredDonorTest is one test of the list with its standing result.
type RequiredDonorTest struct {
	Test   DonorTest        `json:"test"`
	Label  string           `json:"label"`
	Result *DonorTestResult `json:"result,omitempty"`
}

// LookBack is everything made from a donation: its lots, their units and dose bags, and the
// patients who received or were to receive them (by subject id and chain of identity).
type LookBack struct {
	Lots  []Lot         `json:"lots"`
	Units []Unit        `json:"units"`
	Bags  []LookBackBag `json:"dose_bags"`
	// Patients lists each patient once, infused or not.
	Patients []LookBackPatient `json:"patients"`
}

// LookBackBag is a dose bag of the donation, with its patient.
type LookBackBag struct {
	ID          int64         `json:"id"`
	BagID       string        `json:"bag_id"`
	EyeReadable string        `json:"eye_readable"`
	LotID       int64         `json:"lot_id"`
	Status      DoseBagStatus `json:"status"`
	PatientID   int64         `json:"patient_id"`
	SubjectID   string        `json:"subject_id"`
	Infused     bool          `json:"infused"`
}

// LookBackPatient is a patient a dose bag of the donation was prepared for.
type LookBackPatient struct {
	ID              int64  `json:"id"`
	SubjectID       string `json:"subject_id"`
	ChainOfIdentity string `json:"chain_of_identity"`
	Infused         bool   `json:"infused"`
}

// DonorService records the maternal donor's tests and screening and the signed eligibility
// determination.
type DonorService interface {
	// DonationDetail is the donation with its donor records and look-back; ENotFound.
	DonationDetail(ctx context.Context, id int64) (DonationDetail, error)
	RecordDonorTest(ctx context.Context, actor Actor, donationID int64, r DonorTestResult) (DonorTestResult, error)
	RecordScreening(ctx context.Context, actor Actor, donationID int64, s DonorScreening) (DonorScreening, error)
	// DetermineEligibility is the responsible person's e-signed determination
	// (CheckDetermination). Ineligible puts every released or quarantined lot of the donation
	// on hold, in the same transaction. Wrong password: EUnauthenticated.
	DetermineEligibility(ctx context.Context, actor Actor, donationID int64, determination Eligibility, password, reason string) (DonationDetail, error)
}

// IneligibleHoldReason is the reason recorded on a lot put on hold by an ineligible donor.
func IneligibleHoldReason(din, reason string) string {
	return fmt.Sprintf("donor of donation %s determined ineligible: %s", din, strings.TrimSpace(reason))
}

// ValidateDetermination refuses anything but eligible or ineligible as a signed determination:
// checked before the signer's password is, and again with the donation's facts.
func ValidateDetermination(d Eligibility) error {
	if d != Eligible && d != Ineligible {
		return FieldError("determination", "the determination is eligible or ineligible")
	}
	return nil
}
