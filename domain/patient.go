package domain

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Arm is the randomized arm of a trial subject (SPEC §6). Only huc_msc subjects receive a dose.
type Arm string

const (
	ArmHUCMSC  Arm = "huc_msc"
	ArmRoutine Arm = "routine"
)

// Patient is an enrolled trial subject.
type Patient struct {
	ID        int64  `json:"id"`
	SubjectID string `json:"subject_id"`
	// MRN, name and date of birth are empty (and left out of JSON) where the reader may not
	// see them (MaySeePatientIdentity, WithoutIdentity).
	MRN         string    `json:"mrn,omitempty"`
	Name        string    `json:"name,omitempty"`
	DateOfBirth string    `json:"date_of_birth,omitempty"` // YYYY-MM-DD: a calendar date, not an instant
	WeightKg    float64   `json:"weight_kg"`               // the current (latest) recorded weight
	Arm         Arm       `json:"arm"`
	EnrolledAt  time.Time `json:"enrolled_at"`
	ChainID     string    `json:"chain_of_identity"`
	// AllocationSequence is the sequence number of the allocation the patient was randomized
	// with; 0 (left out) when the arm was chosen at enrolment, before any list was loaded.
	AllocationSequence int `json:"allocation_sequence,omitempty"`
}

// Weight limits: outside them a typing error (grams, pounds, a missing decimal point) is far
// likelier than a real adult patient, and the dose is proportional to this number.
const (
	MinWeightKg = 2.0
	MaxWeightKg = 350.0
)

var (
	subjectIDPattern = regexp.MustCompile(`^[A-Z]{2,5}-\d{3,4}$`)
	mrnPattern       = regexp.MustCompile(`^[A-Za-z0-9]{4,20}$`)
)

// ValidateWeight checks a weight in kilograms.
func ValidateWeight(kg float64) error {
	if math.IsNaN(kg) || kg < MinWeightKg || kg > MaxWeightKg {
		return FieldError("weight_kg", "weight must be between %.0f and %.0f kg; check the unit (kilograms) and the decimal point", MinWeightKg, MaxWeightKg)
	}
	return nil
}

// Validate checks a new patient's fields; now bounds the enrolment and birth dates.
func (p Patient) Validate(now time.Time) error {
	if err := p.ValidateExceptArm(now); err != nil {
		return err
	}
	return ValidateArm(p.Arm)
}

// ValidateArm checks an arm chosen at enrolment, where no allocation list is in use.
func ValidateArm(a Arm) error {
	if a != ArmHUCMSC && a != ArmRoutine {
		return FieldError("arm", "arm must be huc_msc or routine")
	}
	return nil
}

// ValidateExceptArm checks a new patient's fields other than the arm, which an allocation list
// decides when one is in use (CheckEnrolmentArm).
func (p Patient) ValidateExceptArm(now time.Time) error {
	if !subjectIDPattern.MatchString(p.SubjectID) {
		return FieldError("subject_id", "subject id must look like SVP-001: 2 to 5 capital letters, a dash, 3 or 4 digits")
	}
	if !mrnPattern.MatchString(p.MRN) {
		return FieldError("mrn", "MRN must be 4 to 20 letters or digits, as on the wristband barcode")
	}
	if n := strings.TrimSpace(p.Name); n == "" || len(n) > 200 {
		return FieldError("name", "name is required (at most 200 characters)")
	}
	dob, err := time.Parse(time.DateOnly, p.DateOfBirth)
	if err != nil {
		return FieldError("date_of_birth", "date of birth must be a date as YYYY-MM-DD")
	}
	if dob.After(now) || dob.Before(now.AddDate(-130, 0, 0)) {
		return FieldError("date_of_birth", "date of birth must be in the past and within 130 years")
	}
	if err := ValidateWeight(p.WeightKg); err != nil {
		return err
	}
	if p.EnrolledAt.IsZero() || p.EnrolledAt.After(now.Add(5*time.Minute)) {
		return FieldError("enrolled_at", "enrolment time is required and cannot be in the future")
	}
	return nil
}

// TargetDose is the number of viable cells for a patient: cells per kg × current weight,
// rounded to the nearest cell (SPEC §6).
func TargetDose(weightKg, cellsPerKg float64) int64 {
	return int64(math.Round(weightKg * cellsPerKg))
}

// DoseDeviationPct is how far cells are from target, in percent of target (negative: below).
func DoseDeviationPct(cells, target int64) float64 {
	if target <= 0 {
		return math.Inf(1)
	}
	return float64(cells-target) / float64(target) * 100
}

// DoseWithinTolerance reports whether cells is within ±tolerancePct of target, bounds included.
func DoseWithinTolerance(cells, target int64, tolerancePct float64) bool {
	d := DoseDeviationPct(cells, target)
	// Compare with a tiny margin so that exactly ±10 % is not lost to floating-point rounding.
	return math.Abs(d) <= tolerancePct+1e-9
}

// VolumeToDraw is the volume of a bag holding bagCells in bagVolumeML that contains target
// cells; the pharmacist draws it when the bag holds more than the dose. It is rounded to
// 0.1 mL, as a syringe is read (SPEC §6); never more than the bag holds, and the whole of a
// bag too small to measure in tenths.
func VolumeToDraw(target, bagCells int64, bagVolumeML float64) float64 {
	if bagCells <= 0 {
		return 0
	}
	v := math.Round(float64(target)/float64(bagCells)*bagVolumeML*10) / 10
	if v > bagVolumeML || v <= 0 {
		return bagVolumeML
	}
	return v
}

// InfusionDay is the calendar date, in the site's time zone, on which the protocol infuses:
// offsetDays after the date of enrolment (SPEC §6: day 1).
func InfusionDay(enrolledAt time.Time, site *time.Location, offsetDays int) time.Time {
	e := enrolledAt.In(site)
	return time.Date(e.Year(), e.Month(), e.Day()+offsetDays, 0, 0, 0, 0, site)
}

// InWindow reports whether now falls on the infusion day, give or take windowDays whole days,
// counted in the site's time zone.
func InWindow(now, enrolledAt time.Time, site *time.Location, offsetDays, windowDays int) bool {
	first := InfusionDay(enrolledAt, site, offsetDays-windowDays)
	last := InfusionDay(enrolledAt, site, offsetDays+windowDays+1) // start of the day after the window
	n := now.In(site)
	return !n.Before(first) && n.Before(last)
}

// PatientFilter selects patients for the list. Subject is the start of a subject id, as
// typed (case does not matter); empty lists everyone.
type PatientFilter struct {
	Subject string
	Limit   int // at most this many, 200 when 0
}

var subjectPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9-]{0,12}$`)

// Normalize checks the filter and returns it as the store applies it: subject id upper-case,
// limit within 1..500.
func (f PatientFilter) Normalize() (PatientFilter, error) {
	f.Subject = strings.ToUpper(strings.TrimSpace(f.Subject))
	if !subjectPrefixPattern.MatchString(f.Subject) {
		return f, FieldError("subject", "search by the start of a subject id such as SVP-0: letters, digits and a dash")
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 200
	}
	return f, nil
}

// PatientSummary is one line of the physician's patient list: the patient, their latest dose
// order (nil before the first), the status of that order's bag (empty before the pharmacy
// prepares it) and whether they have had their one infusion.
type PatientSummary struct {
	Patient
	Order     *DoseOrder    `json:"dose_order,omitempty"`
	BagStatus DoseBagStatus `json:"bag_status,omitempty"`
	Infused   bool          `json:"infused"`
}

// PatientIDs are the ids of the patients in a list, in order.
func PatientIDs(ps []PatientSummary) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// WeightRecord is one recorded weight and who recorded it.
type WeightRecord struct {
	WeightKg   float64   `json:"weight_kg"`
	RecordedBy string    `json:"recorded_by"` // the user's full name
	RecordedAt time.Time `json:"recorded_at"`
	Reason     string    `json:"reason,omitempty"`
}

// PatientDetail is a patient with their weights (oldest first), dose orders (oldest first) and
// the protocol's infusion window: the first and last calendar day (YYYY-MM-DD, site time zone)
// on which they may be infused, and whether now falls in it.
type PatientDetail struct {
	PatientSummary
	Weights      []WeightRecord `json:"weights"`
	Orders       []DoseOrder    `json:"dose_orders"`
	WindowFirst  string         `json:"window_first_day"`
	WindowLast   string         `json:"window_last_day"`
	InWindowNow  bool           `json:"in_window_now"`
	SiteTimeZone string         `json:"site_time_zone"`
	CellsPerKg   float64        `json:"dose_cells_per_kg"`
	TolerancePct float64        `json:"dose_tolerance_pct"`
	SpecVersion  int            `json:"spec_version"`
	TargetNow    int64          `json:"target_viable_cells_now"` // the target an order placed now would get
	// OrderReview says whether the latest order (Order) awaits a physician's review after a
	// later weight (ReviewOrder); OrderTolerancePct is that order's dose tolerance.
	OrderReview       OrderReview `json:"order_review"`
	OrderTolerancePct float64     `json:"order_tolerance_pct,omitempty"`
}

// CanOrder says whether a dose may be ordered for the patient now, and if not, why, in words
// for the physician: the rules OrderDose applies (arm, one infusion, one open order, no bag on
// its way), so that the page does not offer what the store would refuse. The store still decides.
func (d PatientDetail) CanOrder() (bool, string) {
	switch {
	case d.Arm != ArmHUCMSC:
		return false, "Subject " + d.SubjectID + " is in the " + string(d.Arm) + " arm: only huc_msc subjects receive a dose."
	case d.Infused:
		return false, "Subject " + d.SubjectID + " has had their one infusion."
	case d.Order != nil && d.Order.Status == OrderOpen:
		return false, "A dose order is open: the pharmacy is preparing it. Cancel it below if the dose must not be given."
	case slices.Contains(LiveBagStatuses, d.BagStatus):
		return false, "A dose bag for this subject is " + string(d.BagStatus) + ": before ordering again, the ward or the pharmacy must return it, or the pharmacy discard it."
	}
	return true, ""
}

// SameMRN tells whether two MRNs name one patient. MRNs are compared without regard to case
// (and stored as entered): a wedge scanner with Caps Lock on sends "ab123456" for "AB123456",
// so two patients whose MRNs differ only by case could be taken for each other.
func SameMRN(a, b string) bool { return strings.EqualFold(a, b) }
