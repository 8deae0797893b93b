package domain

import (
	"math"
	"testing"
	"time"
)

// Values no ward or lab produces are refused, naming the field; values at the edge of what is
// plausible pass.
func TestPlausibilityBounds(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	year1000 := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	lot := func(made, expires time.Time) error {
		return NewLot{DonationID: 1, LotNumber: "L-1", ManufacturedAt: made, ExpiresAt: expires}.Validate(now)
	}
	ae := func(onset time.Time) error {
		return AdverseEvent{PatientID: 1, Severity: Severities[0], Description: "rash", OnsetAt: onset}.Validate(now)
	}
	units := func(cells int64) error { return NewUnits{Count: 2, ViableCells: cells, VolumeML: 25}.Validate() }
	donation := func(at time.Time) error { return NewDonation{CollectedAt: at}.Validate(now) }
	cases := []struct {
		name  string
		err   error
		field string // "" when the value must pass
	}{
		{"lot made last month, expiring in a year", lot(now.AddDate(0, -1, 0), now.AddDate(1, 0, 0)), ""},
		{"lot made in the year 1000", lot(year1000, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "manufactured_at"},
		{"lot made tomorrow", lot(now.AddDate(0, 0, 1), now.AddDate(1, 0, 0)), "manufactured_at"},
		{"lot expiring in 9999", lot(now.AddDate(0, -1, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "expires_at"},
		{"lot expiring 15 years after manufacture", lot(now.AddDate(-1, 0, 0), now.AddDate(-1, 0, 0).Add(MaxShelfLife)), ""},
		{"donation collected yesterday", donation(now.AddDate(0, 0, -1)), ""},
		{"donation collected in the year 1000", donation(year1000), "collected_at"},
		{"adverse event an hour ago", ae(now.Add(-time.Hour)), ""},
		{"adverse event in the year 1000", ae(year1000), "onset_at"},
		{"adverse event next week", ae(now.AddDate(0, 0, 7)), "onset_at"},
		{"unit of 4×10^7 cells", units(40_000_000), ""},
		{"unit of the most a container holds", units(MaxCellsPerContainer), ""},
		{"unit of 9,223,372,036,854,775,807 cells", units(math.MaxInt64), "viable_cells"},
		{"unit of no cells", units(0), "viable_cells"},
		{"dose bag of 9.2×10^18 cells", NewDoseBag{UnitIDs: []int64{1}, ThawedAt: now, PostThawViabilityPct: 90, ViableCells: math.MaxInt64, VolumeML: 40}.Validate(DefaultSpecV1(), now), "viable_cells"},
		{"40 mL infused from a 40 mL bag", CheckInfusedVolume(40, 40), ""},
		{"2,000 mL infused from a 40 mL bag", CheckInfusedVolume(2000, 40), "volume_ml"},
		{"a negative volume", CheckInfusedVolume(-1, 40), "volume_ml"},
		{"not a number", CheckInfusedVolume(math.NaN(), 40), "volume_ml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				if tc.err != nil {
					t.Fatalf("refused: %v", tc.err)
				}
				return
			}
			if ErrorCode(tc.err) != EInvalid || ErrorField(tc.err) != tc.field {
				t.Fatalf("got %v, want a refusal naming %s", tc.err, tc.field)
			}
		})
	}
}
