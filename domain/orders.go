package domain

import (
	"fmt"
	"math"
	"strings"
)

// WeightChangeReasonPct is how far a new weight may differ from the previous one, in percent
// of the previous one, before the person recording it must say why (SPEC §6).
const WeightChangeReasonPct = 10

// CheckWeightChange decides whether a new weight may be recorded: a valid weight, and a reason
// when it differs from the previous one (0: none) by more than WeightChangeReasonPct.
func CheckWeightChange(previousKg, newKg float64, reason string) error {
	if err := ValidateWeight(newKg); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReasonLength {
		return FieldError("reason", "give the reason in at most %d characters", MaxReasonLength)
	}
	if previousKg <= 0 || reason != "" {
		return nil
	}
	change := (newKg - previousKg) / previousKg * 100
	if math.Abs(change) > WeightChangeReasonPct+1e-9 {
		return FieldError("reason", "%.1f kg differs from the previous weight %.1f kg by %+.1f %%: a change of more than %d %% needs a reason (check the number, then say why, e.g. re-weighed on the ward scale)",
			newKg, previousKg, change, WeightChangeReasonPct)
	}
	return nil
}

// OrderReviewFacts is what decides whether a dose order awaits a physician's review: the
// weight and tolerance the order was made with, the latest weight recorded after it, and the
// latest weight a physician confirmed the order against.
type OrderReviewFacts struct {
	OrderWeightKg float64 // the weight the order fixed
	TolerancePct  float64 // the dose tolerance of the order's spec version
	// LaterWeightID and LaterWeightKg: the latest weight recorded after the order; 0 when none.
	LaterWeightID int64
	LaterWeightKg float64
	// ConfirmedWeightID is the latest weight a physician signed that the order stands
	// against; 0 when none.
	ConfirmedWeightID int64
}

// OrderReview is the outcome of ReviewOrder.
type OrderReview struct {
	NeedsReview   bool    `json:"awaiting_review"`
	LaterWeightKg float64 `json:"later_weight_kg,omitempty"`
	ChangePct     float64 `json:"weight_change_pct,omitempty"` // later weight against the order's, in percent of the order's
}

// ReviewOrder decides whether an order awaits a physician's review (SPEC §6): a weight recorded
// after the order differs from the order's weight by more than the order's dose tolerance, and
// no physician has confirmed the order against that weight.
func ReviewOrder(f OrderReviewFacts) OrderReview {
	if f.LaterWeightID == 0 || f.OrderWeightKg <= 0 {
		return OrderReview{}
	}
	change := (f.LaterWeightKg - f.OrderWeightKg) / f.OrderWeightKg * 100
	beyond := math.Abs(change) > f.TolerancePct+1e-9
	return OrderReview{NeedsReview: beyond && f.ConfirmedWeightID < f.LaterWeightID, LaterWeightKg: f.LaterWeightKg, ChangePct: change}
}

// Sentence says, for a nurse or physician, why the order awaits review.
func (r OrderReview) Sentence(orderWeightKg, tolerancePct float64) string {
	return fmt.Sprintf("a later weight awaits the physician's review: %.1f kg was recorded after the dose was ordered for %.1f kg (%+.1f %%, beyond ±%g %%)",
		r.LaterWeightKg, orderWeightKg, r.ChangePct, tolerancePct)
}

// CheckOrderConfirmation decides whether a physician may sign that an order stands as made:
// the order is not cancelled, a later weight awaits review, and a reason is given.
func CheckOrderConfirmation(status string, review OrderReview, reason string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return FieldError("reason", "say why the order stands as made despite the later weight")
	case len(reason) > MaxReasonLength:
		return FieldError("reason", "give the reason in at most %d characters", MaxReasonLength)
	case status == OrderCancelled:
		return Errorf(EConflict, "the dose order is cancelled: there is nothing to confirm")
	case !review.NeedsReview:
		return Errorf(EConflict, "no later weight awaits review for this order: there is nothing to confirm")
	}
	return nil
}

// SpecSignatureFacts is what decides a physician's co-signature of a proposed spec version.
type SpecSignatureFacts struct {
	Version        int
	ProposedBy     int64 // the QA signer who proposed it
	Effective      bool  // already signed by both
	CurrentVersion int   // the version in force
	SignerID       int64
	SignerRoles    []Role
	Reason         string
}

// CheckSpecCoSignature decides whether a physician's signature makes a proposed spec version
// current (SPEC §6: protocol parameters change only with QA and a physician, two people).
func CheckSpecCoSignature(f SpecSignatureFacts) error {
	isPhysician := false
	for _, r := range f.SignerRoles {
		isPhysician = isPhysician || r == RolePhysician
	}
	switch {
	case strings.TrimSpace(f.Reason) == "":
		return FieldError("reason", "say why the new specification version is approved")
	case !isPhysician:
		return Errorf(EForbidden, "a physician co-signs a specification version; QA's proposal alone does not make it current")
	case f.Effective:
		return Errorf(EConflict, "specification v%d is already signed by QA and a physician", f.Version)
	case f.SignerID == f.ProposedBy:
		return Errorf(ERuleViolated, "the co-signer must be a different person from the QA signer who proposed v%d", f.Version)
	case f.Version < f.CurrentVersion:
		return Errorf(EConflict, "specification v%d is in force, later than v%d: propose a new version instead", f.CurrentVersion, f.Version)
	}
	return nil
}
