package domain

import (
	"strings"
	"testing"
)

// Every pair of lot states, allowed or refused, against SPEC §2.
func TestLotStateMachine(t *testing.T) {
	allowed := map[[2]LotStatus]bool{
		{LotInProcess, LotQuarantine}: true, {LotInProcess, LotExpired}: true,
		{LotQuarantine, LotReleased}: true, {LotQuarantine, LotRejected}: true, {LotQuarantine, LotOnHold}: true, {LotQuarantine, LotExpired}: true,
		{LotReleased, LotOnHold}: true, {LotReleased, LotRecalled}: true, {LotReleased, LotExpired}: true,
		{LotOnHold, LotReleased}: true, {LotOnHold, LotRejected}: true, {LotOnHold, LotRecalled}: true, {LotOnHold, LotExpired}: true,
	}
	for _, from := range LotStatuses {
		for _, to := range LotStatuses {
			err := LotTransition(from, to)
			if want := allowed[[2]LotStatus{from, to}]; (err == nil) != want {
				t.Errorf("%s → %s: err = %v, want allowed=%v", from, to, err, want)
			}
			if err != nil && (ErrorCode(err) != EConflict || !strings.HasPrefix(ErrorMessage(err), "lot is "+string(from))) {
				t.Errorf("%s → %s: %v does not name the current state", from, to, err)
			}
		}
	}
}

func TestUnitAndBagStateMachines(t *testing.T) {
	units := []UnitStatus{UnitAvailable, UnitAllocated, UnitConsumed, UnitDiscarded}
	allowedUnit := map[[2]UnitStatus]bool{
		{UnitAvailable, UnitAllocated}: true, {UnitAvailable, UnitDiscarded}: true,
		{UnitAllocated, UnitConsumed}: true, {UnitAllocated, UnitAvailable}: true, {UnitAllocated, UnitDiscarded}: true,
	}
	for _, from := range units {
		for _, to := range units {
			if err := UnitTransition(from, to); (err == nil) != allowedUnit[[2]UnitStatus{from, to}] {
				t.Errorf("unit %s → %s: %v", from, to, err)
			}
		}
	}
	bags := []DoseBagStatus{BagPrepared, BagDispatched, BagReceived, BagVerified, BagInfused, BagReturned, BagDiscarded}
	allowedBag := map[[2]DoseBagStatus]bool{
		{BagPrepared, BagDispatched}: true, {BagPrepared, BagDiscarded}: true,
		{BagDispatched, BagReceived}: true, {BagDispatched, BagReturned}: true, {BagDispatched, BagDiscarded}: true,
		{BagReceived, BagVerified}: true, {BagReceived, BagReturned}: true, {BagReceived, BagDiscarded}: true,
		{BagVerified, BagVerified}: true, {BagVerified, BagInfused}: true, {BagVerified, BagReturned}: true, {BagVerified, BagDiscarded}: true,
		{BagReturned, BagDiscarded}: true,
	}
	for _, from := range bags {
		for _, to := range bags {
			err := DoseBagTransition(from, to)
			if (err == nil) != allowedBag[[2]DoseBagStatus{from, to}] {
				t.Errorf("bag %s → %s: %v", from, to, err)
			}
			if err != nil && !strings.Contains(ErrorMessage(err), string(from)) {
				t.Errorf("bag %s → %s: message %q does not name the state", from, to, ErrorMessage(err))
			}
		}
	}
	if !strings.Contains(ErrorMessage(DoseBagTransition(BagInfused, BagReturned)), "final") {
		t.Error("refusal from a final state does not say it is final")
	}
}

func TestReleaseRules(t *testing.T) {
	e := Evaluate(DefaultSpecV1(), passingResults())
	if err := CheckRelease(e, Eligible); err != nil {
		t.Fatalf("passing lot refused: %v", err)
	}
	for _, el := range []Eligibility{Ineligible, Pending} {
		if err := CheckRelease(e, el); ErrorCode(err) != ERuleViolated || !strings.Contains(ErrorMessage(err), string(el)) {
			t.Errorf("donor %s: %v", el, err)
		}
	}
	pending := Evaluate(DefaultSpecV1(), passingResults()[:6]) // no BV2
	if err := CheckRelease(pending, Eligible); ErrorCode(err) != ERuleViolated || !strings.Contains(ErrorMessage(err), "bv2_potency pending") {
		t.Errorf("release with a pending criterion: %v", err)
	}
}

func TestSeparationOfDuties(t *testing.T) {
	rs := passingResults()
	for i := range rs {
		rs[i].EnteredBy = 10
	}
	rs[3].EnteredBy = 11
	if err := CheckSeparationOfDuties(12, rs); err != nil {
		t.Errorf("independent signer refused: %v", err)
	}
	if err := CheckSeparationOfDuties(11, rs); ErrorCode(err) != ERuleViolated {
		t.Errorf("signer who entered one result allowed: %v", err)
	}
}

func TestExceptionalRelease(t *testing.T) {
	cases := []struct {
		qa, doc, patient int64
		why              string
		ok               bool
	}{
		{1, 2, 9, "no alternative lot; PI approved", true},
		{1, 1, 9, "x", false},
		{1, 2, 0, "x", false},
		{1, 2, 9, "  ", false},
	}
	for _, tc := range cases {
		if err := CheckExceptionalRelease(tc.qa, tc.doc, tc.why, tc.patient); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

func TestFailsSpec(t *testing.T) {
	spec := DefaultSpecV1()
	if FailsSpec(spec, QCResult{ID: 1, Test: TestEndotoxin, Value: f64(0.5)}) {
		t.Error("passing endotoxin judged failing")
	}
	if !FailsSpec(spec, QCResult{ID: 1, Test: TestEndotoxin, Value: f64(0.6)}) {
		t.Error("failing endotoxin not caught")
	}
	if !FailsSpec(spec, QCResult{ID: 1, Test: TestSterility, Result: "positive"}) {
		t.Error("positive sterility not caught")
	}
}

func TestParseStatusAndEligibility(t *testing.T) {
	if _, err := ParseLotStatus("released"); err != nil {
		t.Error(err)
	}
	if _, err := ParseLotStatus("done"); ErrorField(err) != "status" {
		t.Errorf("bad status: %v", err)
	}
	if _, err := ParseEligibility("maybe"); ErrorField(err) != "eligibility" {
		t.Errorf("bad eligibility: %v", err)
	}
}
