package domain

import "testing"

func TestCanOrder(t *testing.T) {
	cell := PatientSummary{Patient: Patient{SubjectID: "SVP-001", Arm: ArmHUCMSC}}
	filled := &DoseOrder{Status: "filled"}
	for _, tc := range []struct {
		name string
		mod  func(*PatientDetail)
		ok   bool
	}{
		{"enrolled, nothing ordered", func(*PatientDetail) {}, true},
		{"routine arm", func(d *PatientDetail) { d.Arm = ArmRoutine }, false},
		{"infused", func(d *PatientDetail) { d.Infused = true }, false},
		{"order open", func(d *PatientDetail) { d.Order = &DoseOrder{Status: "open"} }, false},
		{"bag dispatched", func(d *PatientDetail) { d.Order, d.BagStatus = filled, BagDispatched }, false},
		{"bag verified", func(d *PatientDetail) { d.Order, d.BagStatus = filled, BagVerified }, false},
		{"bag discarded", func(d *PatientDetail) { d.Order, d.BagStatus = filled, BagDiscarded }, true},
		{"bag returned", func(d *PatientDetail) { d.Order, d.BagStatus = filled, BagReturned }, true},
	} {
		d := PatientDetail{PatientSummary: cell}
		tc.mod(&d)
		ok, why := d.CanOrder()
		if ok != tc.ok || ok != (why == "") {
			t.Errorf("%s: CanOrder = %v %q, want %v", tc.name, ok, why, tc.ok)
		}
	}
}
