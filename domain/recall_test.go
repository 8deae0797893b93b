package domain

import (
	"testing"
	"time"
)

func TestRecallTaskRules(t *testing.T) {
	for _, tc := range []struct {
		unit UnitStatus
		want bool
	}{{UnitAvailable, true}, {UnitAllocated, true}, {UnitConsumed, false}, {UnitDiscarded, false}} {
		if got := UnitNeedsRecallTask(tc.unit); got != tc.want {
			t.Errorf("UnitNeedsRecallTask(%s) = %v", tc.unit, got)
		}
	}
	for _, tc := range []struct {
		bag      DoseBagStatus
		task     bool
		location string
		returned DoseBagStatus
	}{
		{BagPrepared, true, AtPharmacy, BagPrepared},
		{BagDispatched, true, AtWard, BagReturned},
		{BagReceived, true, AtWard, BagReturned},
		{BagVerified, true, AtWard, BagReturned},
		{BagReturned, true, AtPharmacy, BagReturned},
		{BagInfused, false, AtPharmacy, BagInfused},
		{BagDiscarded, false, AtPharmacy, BagDiscarded},
	} {
		if got := BagNeedsRecallTask(tc.bag); got != tc.task {
			t.Errorf("BagNeedsRecallTask(%s) = %v", tc.bag, got)
		}
		if got := BagLocation(tc.bag); got != tc.location {
			t.Errorf("BagLocation(%s) = %s", tc.bag, got)
		}
		if tc.task {
			got := ReturnedBagStatus(tc.bag)
			if got != tc.returned {
				t.Errorf("ReturnedBagStatus(%s) = %s", tc.bag, got)
			}
			if got != tc.bag && DoseBagTransition(tc.bag, got) != nil {
				t.Errorf("a return scan moves a %s bag to %s, which the state machine refuses", tc.bag, got)
			}
		}
	}
	p := Progress([]RecallTask{{Status: TaskOpen}, {Status: TaskReturned}, {Status: TaskDestroyed}, {Status: TaskCancelled}})
	if p.Total != 3 || p.Closed != 2 {
		t.Errorf("Progress = %+v; want 2 of 3 (cancelled counts in neither)", p)
	}
	if err := CheckCloseRecallTask(RecallTask{Status: TaskReturned, EyeReadable: "X"}); ErrorCode(err) != EConflict {
		t.Errorf("closing a returned task: %v", err)
	}
	if err := CheckCloseRecallTask(RecallTask{Status: TaskOpen}); err != nil {
		t.Errorf("closing an open task: %v", err)
	}
	now := time.Now()
	if err := CheckAcknowledge(RecallNotice{AcknowledgedAt: &now, AcknowledgedBy: "Dr"}, ""); ErrorCode(err) != EConflict {
		t.Errorf("second acknowledgement: %v", err)
	}
	if err := CheckAcknowledge(RecallNotice{}, string(make([]byte, MaxReasonLength+1))); ErrorField(err) != "note" {
		t.Errorf("long note: %v", err)
	}
	if err := CheckAcknowledge(RecallNotice{}, "patient informed"); err != nil {
		t.Errorf("acknowledgement: %v", err)
	}
}
