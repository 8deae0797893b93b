package domain

import (
	"testing"
	"time"
)

// The row reports the infused bag, else the latest usable one, else the latest.
func TestTrialRowsPickTheBag(t *testing.T) {
	at := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	p := Patient{ID: 1, SubjectID: "SVP-001", Arm: ArmHUCMSC, EnrolledAt: at}
	bag := func(id int64, status DoseBagStatus) DoseBag {
		return DoseBag{ID: id, BagID: "bag" + string(rune('0'+id)), PatientID: 1, LotID: 1, Status: status}
	}
	for _, tc := range []struct {
		name     string
		bags     []DoseBag
		infused  int64
		wantBag  string
		infusion bool
	}{
		{"none", nil, 0, "", false},
		{"latest usable over a later discarded one", []DoseBag{bag(1, BagReceived), bag(2, BagDiscarded)}, 0, "bag1", false},
		{"latest when none is usable", []DoseBag{bag(1, BagDiscarded), bag(2, BagReturned)}, 0, "bag2", false},
		{"infused over a later usable one", []DoseBag{bag(1, BagInfused), bag(2, BagPrepared)}, 1, "bag1", true},
	} {
		r := Records{Patients: []Patient{p}, Bags: tc.bags, Lots: []Lot{{ID: 1, LotNumber: "L1", DIN: "A999926000001"}}}
		if tc.infused != 0 {
			r.Infusions = []InfusionRecord{{Infusion: Infusion{ID: 9, DoseBagID: tc.infused, PatientID: 1, StartedAt: at}}}
		}
		rows := TrialRows(r)
		if len(rows) != 1 || rows[0].BagID != tc.wantBag || (rows[0].InfusionStart != nil) != tc.infusion {
			t.Errorf("%s: row %+v, want bag %q", tc.name, rows, tc.wantBag)
		}
		if rec := rows[0].Record(); len(rec) != len(TrialColumns) {
			t.Errorf("%s: %d fields for %d columns", tc.name, len(rec), len(TrialColumns))
		}
	}
}
