package domain

import (
	"strings"
	"testing"
)

func TestDoseOrderTransition(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{OrderOpen, OrderFilled, true},
		{OrderOpen, OrderCancelled, true},
		{OrderFilled, OrderCancelled, false}, // the bag exists: take the bag back instead
		{OrderCancelled, OrderCancelled, false},
		{OrderCancelled, OrderOpen, false},
		{OrderFilled, OrderOpen, false},
	} {
		err := DoseOrderTransition(tc.from, tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("%s → %s: %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
		if err != nil && ErrorCode(err) != EConflict {
			t.Errorf("%s → %s: code %s, want %s", tc.from, tc.to, ErrorCode(err), EConflict)
		}
	}
}

func TestValidateReason(t *testing.T) {
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{"patient deteriorated; physician decision", true},
		{"", false},
		{"   \n\t", false},
		{strings.Repeat("é", MaxReasonLength), true},
		{strings.Repeat("é", MaxReasonLength+1), false},
	} {
		err := ValidateReason(tc.reason)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.reason, err, tc.ok)
		}
		if err != nil && ErrorField(err) != "reason" {
			t.Errorf("%q: field %q, want reason", tc.reason, ErrorField(err))
		}
	}
}

func TestCheckPreparation(t *testing.T) {
	units := []int64{40_000_000, 40_000_000}
	for _, tc := range []struct {
		name  string
		f     PreparationFacts
		ok    bool
		wants []string // what the message must name
	}{
		{"at target, within the units", PreparationFacts{70_000_000, units, 70_000_000, 10}, true, nil},
		{"all the units' cells", PreparationFacts{80_000_000, units, 75_000_000, 10}, true, nil},
		{"more than the units thawed", PreparationFacts{90_000_000, units, 90_000_000, 10}, false,
			[]string{"9.00×10^7 viable cells exceed the 8.00×10^7 of the units thawed into it"}},
		{"one cell more than the units", PreparationFacts{80_000_001, units, 80_000_000, 10}, false, []string{"exceed"}},
		{"10 % above target, bound included", PreparationFacts{77_000_000, units, 70_000_000, 10}, true, nil},
		{"10 % below target, bound included", PreparationFacts{63_000_000, units, 70_000_000, 10}, true, nil},
		{"above the tolerance", PreparationFacts{78_000_000, units, 70_000_000, 10}, false,
			[]string{"7.80×10^7", "7.00×10^7", "+11.4 %", "±10 %"}},
		{"below the tolerance", PreparationFacts{60_000_000, units, 70_000_000, 10}, false,
			[]string{"6.00×10^7", "7.00×10^7", "-14.3 %"}},
		{"the order's own tolerance", PreparationFacts{60_000_000, units, 70_000_000, 20}, true, nil},
	} {
		err := CheckPreparation(tc.f)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err == nil {
			continue
		}
		if ErrorCode(err) != ERuleViolated || ErrorField(err) != "viable_cells" {
			t.Errorf("%s: code %s field %q, want %s on viable_cells", tc.name, ErrorCode(err), ErrorField(err), ERuleViolated)
		}
		for _, w := range tc.wants {
			if !strings.Contains(ErrorMessage(err), w) {
				t.Errorf("%s: %q does not say %q", tc.name, ErrorMessage(err), w)
			}
		}
	}
}

func TestCheckPharmacistCheck(t *testing.T) {
	preparer, other := int64(7), int64(8)
	pharmacist := User{ID: other, Username: "ph.sam", Roles: []Role{RolePharmacist}}
	for _, tc := range []struct {
		name string
		f    PharmacistCheckFacts
		code string // "" when the check is accepted
	}{
		{"another pharmacist", PharmacistCheckFacts{"B", BagPrepared, preparer, nil, pharmacist}, ""},
		{"the preparer", PharmacistCheckFacts{"B", BagPrepared, preparer, nil, User{ID: preparer, Username: "ph.eve", Roles: []Role{RolePharmacist}}}, ERuleViolated},
		{"a nurse", PharmacistCheckFacts{"B", BagPrepared, preparer, nil, User{ID: other, Username: "n", Roles: []Role{RoleNurse}}}, EForbidden},
		{"a QA who is no pharmacist", PharmacistCheckFacts{"B", BagPrepared, preparer, nil, User{ID: other, Username: "q", Roles: []Role{RoleQA, RoleAdmin}}}, EForbidden},
		{"checked already", PharmacistCheckFacts{"B", BagPrepared, preparer, &other, pharmacist}, EConflict},
		{"dispatched", PharmacistCheckFacts{"B", BagDispatched, preparer, nil, pharmacist}, EConflict},
		{"discarded", PharmacistCheckFacts{"B", BagDiscarded, preparer, nil, pharmacist}, EConflict},
	} {
		if got := ErrorCode(CheckPharmacistCheck(tc.f)); got != tc.code {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.code)
		}
	}
}

func TestBagChecked(t *testing.T) {
	checker := int64(8)
	if err := BagChecked("B", &checker, "labelled"); err != nil {
		t.Errorf("a checked bag: %v", err)
	}
	err := BagChecked("B", nil, "labelled")
	if ErrorCode(err) != EConflict || !strings.Contains(ErrorMessage(err), "second pharmacist must check") {
		t.Errorf("an unchecked bag: %v", err)
	}
}

func TestVolumeToDrawRoundsToTenths(t *testing.T) {
	for _, tc := range []struct {
		target, cells int64
		volume, want  float64
	}{
		{70_000_000, 72_000_000, 50, 48.6},     // 48.611… mL
		{70_000_000, 71_000_000, 50, 49.3},     // 49.295… mL
		{70_000_000, 70_000_000, 50, 50},       // the whole bag
		{77_000_000, 70_000_000, 50.04, 50.04}, // never more than the bag holds
	} {
		if got := VolumeToDraw(tc.target, tc.cells, tc.volume); got != tc.want {
			t.Errorf("VolumeToDraw(%d, %d, %g) = %v, want %v", tc.target, tc.cells, tc.volume, got, tc.want)
		}
	}
}
