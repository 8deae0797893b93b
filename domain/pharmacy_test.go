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
