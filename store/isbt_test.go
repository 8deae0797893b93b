package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Unit ids follow ISBT 128 (SPEC §3): a lot of up to 26 units is divided A0…Z0; a larger one
// carries 99 in the product code and the unit's Product Divisions code (data structure 032) in
// its id; all ids are unique and parse.
func TestUnitIDsFollowISBT128(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := newLab(t, st)

		large := l.lot(domain.Eligible)
		units, err := st.CreateUnits(ctx, l.qc, large.ID, domain.NewUnits{Count: 30, ViableCells: 35_000_000, VolumeML: 25})
		if err != nil || len(units) != 30 {
			t.Fatalf("30 units: %d %v", len(units), err)
		}
		seen := map[string]bool{}
		for i, u := range units {
			want := fmt.Sprintf("%sS1234V99%06d", large.DIN, i+1)
			if u.UnitID != want || u.Division != i+1 || seen[u.UnitID] {
				t.Fatalf("unit %d: %+v; want id %s", i+1, u, want)
			}
			seen[u.UnitID] = true
			id, err := domain.ParseUnitID(u.UnitID + u.Check)
			if err != nil || id.String() != u.UnitID || id.Divisions != fmt.Sprintf("%06d", i+1) {
				t.Fatalf("unit %s with its check character %s: %v %v", u.UnitID, u.Check, id, err)
			}
		}
		// 032 is part of the unit's identity: the unit is found by it.
		got, _, err := st.UnitByCode(ctx, units[26].UnitID)
		if err != nil || got.ID != units[26].ID {
			t.Fatalf("unit by its id with 032: %+v %v", got, err)
		}

		// A lot that grows past 26 keeps the letter divisions of its first units.
		grown := l.lot(domain.Eligible)
		first, err := st.CreateUnits(ctx, l.qc, grown.ID, domain.NewUnits{Count: 20, ViableCells: 35_000_000, VolumeML: 25})
		if err != nil || first[0].UnitID != grown.DIN+"S1234VA0" || first[19].UnitID != grown.DIN+"S1234VT0" {
			t.Fatalf("first 20 units: %v %v", first, err)
		}
		rest, err := st.CreateUnits(ctx, l.qc, grown.ID, domain.NewUnits{Count: 10, ViableCells: 35_000_000, VolumeML: 25})
		if err != nil || rest[0].UnitID != grown.DIN+"S1234V99000021" || rest[9].UnitID != grown.DIN+"S1234V99000030" {
			t.Fatalf("units 21 to 30: %v %v", rest, err)
		}

	})
}

// Dose bags are subdivisions of their donation: Aa, then Ab, never a unit's id; their
// patient's chain of identity has its check character.
func TestBagIDsFollowISBT128(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		bags := preparedBags(t, st, 2)
		for i, b := range bags {
			id, err := domain.ParseUnitID(b.bag.BagID)
			if err != nil || id.Product.Division != []string{"Aa", "Ab"}[i] || id.Product.Donation != 'V' || len(b.bag.BagID) != 21 {
				t.Fatalf("bag %d id %s: %v %v", i+1, b.bag.BagID, id, err)
			}
			if !strings.HasPrefix(b.bag.EyeReadable, id.DIN.EyeReadable()+" S1234 V A") || b.bag.Check != string(id.Check()) {
				t.Fatalf("bag %d eye-readable %q, check %q", i+1, b.bag.EyeReadable, b.bag.Check)
			}
			// The patient's chain of identity parses and has its check character.
			c, err := domain.ParseChainOfIdentity(b.patient.ChainID)
			if err != nil || c.Check() == 0 {
				t.Fatalf("chain of identity %q: %v", b.patient.ChainID, err)
			}
		}
	})
}
