package domain

import (
	"math"
	"time"
)

// Plausibility bounds: values no ward or lab could produce are refused at the door, naming the
// field and the bound, instead of being stored and reasoned about later (a lot made in the year
// 1000, a unit of 9.2×10^18 cells). Each bound is generous for this product; a value outside
// it is a typing or a device error.
const (
	// MaxCellsPerContainer bounds the viable cells of one unit or dose bag: a cryobag of
	// HUC-MSCs holds of the order of 10^8; 10^10 is a hundred times that.
	MaxCellsPerContainer int64 = 10_000_000_000
	// MaxRecordAge is how far back a collection, a manufacture or an adverse event's onset
	// may lie: cells are banked for years, never decades.
	MaxRecordAge = 25 * 365 * 24 * time.Hour
	// MaxShelfLife bounds a lot's expiry after its manufacture.
	MaxShelfLife = 15 * 365 * 24 * time.Hour
	// clockSkew is how far in the future a time that has "happened" may be, for clocks that
	// are a little ahead.
	clockSkew = 5 * time.Minute
)

// checkPast refuses a time that is unset, in the future, or older than MaxRecordAge.
func checkPast(field, what string, t, now time.Time) error {
	switch {
	case t.IsZero():
		return FieldError(field, "%s is required", what)
	case t.After(now.Add(clockSkew)):
		return FieldError(field, "%s cannot be in the future (it says %s)", what, t.UTC().Format(time.DateOnly))
	case t.Before(now.Add(-MaxRecordAge)):
		return FieldError(field, "%s cannot be more than %d years ago (it says %s): check the date", what, int(MaxRecordAge.Hours()/24/365), t.UTC().Format(time.DateOnly))
	}
	return nil
}

// checkCells refuses a cell count that is not positive or more than a container holds.
func checkCells(field, what string, n int64) error {
	if n < 1 || n > MaxCellsPerContainer {
		return FieldError(field, "%s must be above 0 and at most %s (it says %d)", what, CellsText(MaxCellsPerContainer), n)
	}
	return nil
}

// CheckInfusedVolume refuses an infused volume that is negative, not a number, or more than
// the bag held.
func CheckInfusedVolume(volumeML, bagVolumeML float64) error {
	if math.IsNaN(volumeML) || volumeML < 0 || volumeML > bagVolumeML {
		return FieldError("volume_ml", "the volume infused is 0 to %g mL, what the bag held (it says %g mL)", bagVolumeML, volumeML)
	}
	return nil
}
