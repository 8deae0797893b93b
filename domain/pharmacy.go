package domain

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// DoseOrder is a physician's order of one patient's dose, computed from their weight then.
type DoseOrder struct {
	ID                int64     `json:"id"`
	PatientID         int64     `json:"patient_id"`
	WeightKg          float64   `json:"weight_kg"`
	TargetViableCells int64     `json:"target_viable_cells"`
	SpecVersion       int       `json:"spec_version"`
	Status            string    `json:"status"` // OrderOpen, OrderFilled, OrderCancelled
	OrderedAt         time.Time `json:"ordered_at"`
}

// Dose order statuses: an open order is filled by a bag, or cancelled by a physician before.
const (
	OrderOpen      = "open"
	OrderFilled    = "filled"
	OrderCancelled = "cancelled"
)

var orderTransitions = map[string][]string{OrderOpen: {OrderFilled, OrderCancelled}}

// DoseOrderTransition refuses a change the dose-order state machine does not allow.
func DoseOrderTransition(from, to string) error {
	return transition("the dose order", from, to, orderTransitions[from])
}

// MaxReasonLength bounds the reason given for cancelling an order or taking a bag back.
const MaxReasonLength = 500

// ValidateReason requires the reason an action that stops a dose must give, for the audit
// trail: what happened, in words.
func ValidateReason(reason string) error {
	switch n := len([]rune(strings.TrimSpace(reason))); {
	case n == 0:
		return FieldError("reason", "give the reason (it goes into the audit trail)")
	case n > MaxReasonLength:
		return FieldError("reason", "the reason is at most %d characters", MaxReasonLength)
	}
	return nil
}

// NewDoseBag is what the pharmacist records when thawing units into a patient's bag.
type NewDoseBag struct {
	UnitIDs              []int64   `json:"unit_ids"`
	ThawedAt             time.Time `json:"thawed_at"`
	PostThawViabilityPct float64   `json:"post_thaw_viability_pct"`
	ViableCells          int64     `json:"viable_cells"`
	VolumeML             float64   `json:"volume_ml"`
}

// Validate checks the fields and the thaw rules of the specification: post-thaw viability at
// or above its minimum, and a thaw recent enough that the bag has not already expired.
func (n NewDoseBag) Validate(spec ReleaseSpec, now time.Time) error {
	switch {
	case len(n.UnitIDs) == 0 || len(n.UnitIDs) > 20:
		return FieldError("unit_ids", "name the 1 to 20 units thawed into this bag")
	case n.ThawedAt.IsZero() || n.ThawedAt.After(now.Add(5*time.Minute)):
		return FieldError("thawed_at", "thaw time is required and cannot be in the future")
	case math.IsNaN(n.PostThawViabilityPct) || n.PostThawViabilityPct < 0 || n.PostThawViabilityPct > 100:
		return FieldError("post_thaw_viability_pct", "post-thaw viability is a percentage from 0 to 100")
	case checkCells("viable_cells", "viable cells in the bag", n.ViableCells) != nil:
		return checkCells("viable_cells", "viable cells in the bag", n.ViableCells)
	case !(n.VolumeML > 0) || n.VolumeML > 2000:
		return FieldError("volume_ml", "the bag volume must be above 0 and at most 2000 mL")
	}
	seen := map[int64]bool{}
	for _, id := range n.UnitIDs {
		if seen[id] {
			return FieldError("unit_ids", "unit %d is listed twice", id)
		}
		seen[id] = true
	}
	if n.PostThawViabilityPct < spec.MinPostThawViabilityPct {
		return Errorf(ERuleViolated, "post-thaw viability %.1f %% is below the %g %% minimum: this thaw cannot be given", n.PostThawViabilityPct, spec.MinPostThawViabilityPct)
	}
	if !now.Before(n.ThawedAt.Add(spec.BagShelfLife())) {
		return Errorf(ERuleViolated, "the units were thawed more than %d minutes ago: the bag would already be expired", spec.BagShelfLifeMinutes)
	}
	return nil
}

// DoseBag is a patient's thawed dose.
type DoseBag struct {
	ID                   int64         `json:"id"`
	BagID                string        `json:"bag_id"`
	Check                string        `json:"check"`
	EyeReadable          string        `json:"eye_readable"`
	DoseOrderID          int64         `json:"dose_order_id"`
	PatientID            int64         `json:"patient_id"`
	LotID                int64         `json:"lot_id"`
	ThawedAt             time.Time     `json:"thawed_at"`
	PostThawViabilityPct float64       `json:"post_thaw_viability_pct"`
	ViableCells          int64         `json:"viable_cells"`
	VolumeML             float64       `json:"volume_ml"`
	TargetViableCells    int64         `json:"target_viable_cells"`
	OrderWeightKg        float64       `json:"order_weight_kg"` // the weight the target was computed from
	VolumeToDrawML       float64       `json:"volume_to_draw_ml"`
	ExpiresAt            time.Time     `json:"expires_at"`
	Status               DoseBagStatus `json:"status"`
	PreparedAt           time.Time     `json:"prepared_at"`
	UnitIDs              []int64       `json:"unit_ids"`
	// The second pharmacist who checked the preparation (a user id), and when; null until then.
	CheckedBy *int64     `json:"checked_by"`
	CheckedAt *time.Time `json:"checked_at"`
}

// BagDivision is the division code of the nth dose bag made from one donation: Aa, Ab … Az,
// Ba … Zz. A dose bag is a part of the donation's product made for one patient, so it takes
// ISBT 128's subdivision form (a capital, then a lower-case letter); units use A0…Z0 or 99,
// never a lower-case letter, so a bag id can never equal a unit id, and 21 characters hold it.
func BagDivision(n int) (string, error) {
	if n < 1 || n > 26*26 {
		return "", Errorf(ERuleViolated, "a donation can yield at most %d dose bags", 26*26)
	}
	n--
	return string([]byte{byte('A' + n/26), byte('a' + n%26)}), nil
}

// PharmacyService orders and prepares doses.
type PharmacyService interface {
	// OrderDose orders a patient's dose from their current weight. Routine arm or already
	// infused: ERuleViolated; an open order exists: EConflict.
	OrderDose(ctx context.Context, actor Actor, patientID int64) (DoseOrder, error)
	// PrepareDoseBag records the thaw of units into the bag of an open order.
	PrepareDoseBag(ctx context.Context, actor Actor, orderID int64, n NewDoseBag) (DoseBag, error)
	DoseBag(ctx context.Context, id int64) (DoseBag, error)
	DoseBagByCode(ctx context.Context, bagID string) (DoseBag, error)
	// CancelDoseOrder cancels an open order (the patient will not receive the dose, or not
	// now); reason is required. Not open: EConflict.
	CancelDoseOrder(ctx context.Context, actor Actor, orderID int64, reason string) (DoseOrder, error)
	// TakeBackDoseBag returns (BagReturned) or discards (BagDiscarded) a bag that must not be
	// given, as the bag state machine allows; reason is required. Either lets the patient's
	// dose be ordered again.
	TakeBackDoseBag(ctx context.Context, actor Actor, bagID int64, to DoseBagStatus, reason string) (DoseBag, error)
	// CheckDoseBag records the second pharmacist's independent check of a prepared bag: the
	// checker, named by username and authenticated by their password, is a pharmacist and
	// not the preparer (CheckPharmacistCheck). A wrong password: EInvalid on password.
	CheckDoseBag(ctx context.Context, actor Actor, bagID int64, username, password string) (DoseBag, error)
	PharmacyWorklist
}

// OrderWaiting is an open dose order on the pharmacy's worklist, with who it is for.
type OrderWaiting struct {
	DoseOrder
	SubjectID string `json:"subject_id"`
}

// AvailableUnit is a unit the pharmacy may thaw: available, in a released lot that has not expired.
type AvailableUnit struct {
	Unit
	LotNumber    string    `json:"lot_number"`
	LotExpiresAt time.Time `json:"lot_expires_at"`
}

// BagNotGiven is a dose bag neither infused nor discarded: prepared, on its way, at the
// bedside or returned. The pharmacy follows each until it is given or discarded.
type BagNotGiven struct {
	DoseBag
	SubjectID string `json:"subject_id"`
	// LabelPrints is each serial of the bag's label, with the copies printed of it.
	LabelPrints []LabelPrint `json:"label_prints"`
}

// PharmacyWorklist is what the pharmacy's pages list: orders waiting, the units to fill them
// and the bags not given yet.
type PharmacyWorklist interface {
	// UngivenDoseBags lists the BagNotGiven, oldest prepared first.
	UngivenDoseBags(ctx context.Context) ([]BagNotGiven, error)
	OpenDoseOrders(ctx context.Context) ([]OrderWaiting, error)
	// OpenDoseOrder is one open order; ENotFound if there is none with that id or it is no
	// longer open.
	OpenDoseOrder(ctx context.Context, id int64) (OrderWaiting, error)
	AvailableUnits(ctx context.Context) ([]AvailableUnit, error)
}

// PreparationFacts is what the preparation of a dose bag is judged on (SPEC §6): the viable
// cells recorded for the bag, those of each unit thawed into it, and the order's target and
// the dose tolerance of the specification version the order was made under.
type PreparationFacts struct {
	BagViableCells    int64
	UnitViableCells   []int64
	TargetViableCells int64
	TolerancePct      float64
}

// CheckPreparation decides the preparation limits of SPEC §6: a bag can never hold more viable
// cells than the units thawed into it, and its cells must lie within the order's tolerance of
// the order's target. A refusal is ERuleViolated on viable_cells and names both figures.
func CheckPreparation(f PreparationFacts) error {
	var units int64
	for _, c := range f.UnitViableCells {
		units += c
	}
	if f.BagViableCells > units {
		return &Error{Code: ERuleViolated, Field: "viable_cells", Message: fmt.Sprintf(
			"the bag's %s viable cells exceed the %s of the units thawed into it: count the bag again, or name every unit thawed into it",
			CellsText(f.BagViableCells), CellsText(units))}
	}
	if !DoseWithinTolerance(f.BagViableCells, f.TargetViableCells, f.TolerancePct) {
		return &Error{Code: ERuleViolated, Field: "viable_cells", Message: fmt.Sprintf(
			"the bag's %s viable cells are %+.1f %% from the order's target of %s, outside its ±%g %% tolerance: this bag cannot fill the order",
			CellsText(f.BagViableCells), DoseDeviationPct(f.BagViableCells, f.TargetViableCells), CellsText(f.TargetViableCells), f.TolerancePct)}
	}
	return nil
}

// PharmacistCheckFacts is what a second pharmacist's check of a dose bag is judged on: the bag
// as it stands and the checker, authenticated by the password they typed.
type PharmacistCheckFacts struct {
	BagID      string
	Status     DoseBagStatus
	PreparedBy int64
	CheckedBy  *int64 // who checked the bag already, if anyone
	Checker    User
}

// CheckPharmacistCheck decides whether the checker may record the independent double check of
// SPEC §6: a pharmacist who did not prepare the bag, on a prepared bag not checked yet.
func CheckPharmacistCheck(f PharmacistCheckFacts) error {
	switch {
	case !f.Checker.HasRole(RolePharmacist):
		return Errorf(EForbidden, "%s is not a pharmacist: the preparation must be checked by a second pharmacist", f.Checker.Username)
	case f.Checker.ID == f.PreparedBy:
		return Errorf(ERuleViolated, "%s prepared bag %s and cannot also check it: a second pharmacist, not the preparer, checks the preparation", f.Checker.Username, f.BagID)
	case f.CheckedBy != nil:
		return Errorf(EConflict, "bag %s has already been checked by a second pharmacist", f.BagID)
	case f.Status != BagPrepared:
		return Errorf(EConflict, "bag %s is %s: only a prepared bag is checked", f.BagID, f.Status)
	}
	return nil
}

// BagChecked refuses to label or dispatch (doing) a dose bag that no second pharmacist has
// checked (SPEC §6). It is EConflict: the bag is in the wrong state for this yet.
func BagChecked(bagID string, checkedBy *int64, doing string) error {
	if checkedBy == nil {
		return Errorf(EConflict, "bag %s cannot be %s yet: a second pharmacist must check its preparation first (their own username and password)", bagID, doing)
	}
	return nil
}
