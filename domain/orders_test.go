package domain

import (
	"strings"
	"testing"
)

func TestCheckWeightChange(t *testing.T) {
	cases := []struct {
		name            string
		previous, next  float64
		reason, wantErr string
	}{
		{"first weight", 0, 68, "", ""},
		{"small change", 68, 70, "", ""},
		{"exactly 10 % up", 70, 77, "", ""},
		{"exactly 10 % down", 70, 63, "", ""},
		{"+32 % without a reason", 68, 90, "", "reason: 90.0 kg differs from the previous weight 68.0 kg by +32.4 %"},
		{"-20 % without a reason", 80, 64, "  ", "reason: 64.0 kg differs"},
		{"+32 % with a reason", 68, 90, "re-weighed on the ward scale", ""},
		{"reason too long", 68, 90, strings.Repeat("x", MaxReasonLength+1), "reason: give the reason in at most"},
		{"impossible weight", 68, 680, "typo", "weight_kg:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWeightChange(tc.previous, tc.next, tc.reason)
			got := ""
			if err != nil {
				got = ErrorField(err) + ": " + ErrorMessage(err)
			}
			if (tc.wantErr == "") != (err == nil) || !strings.HasPrefix(got, tc.wantErr) {
				t.Fatalf("CheckWeightChange(%v, %v, %q) = %q, want %q", tc.previous, tc.next, tc.reason, got, tc.wantErr)
			}
		})
	}
}

func TestReviewOrder(t *testing.T) {
	order := OrderReviewFacts{OrderWeightKg: 68, TolerancePct: 10}
	cases := []struct {
		name string
		edit func(*OrderReviewFacts)
		want bool
	}{
		{"no later weight", func(f *OrderReviewFacts) {}, false},
		{"later weight within tolerance", func(f *OrderReviewFacts) { f.LaterWeightID, f.LaterWeightKg = 5, 74.8 }, false},
		{"later weight beyond tolerance", func(f *OrderReviewFacts) { f.LaterWeightID, f.LaterWeightKg = 5, 90 }, true},
		{"later weight below tolerance", func(f *OrderReviewFacts) { f.LaterWeightID, f.LaterWeightKg = 5, 60 }, true},
		{"confirmed against that weight", func(f *OrderReviewFacts) { f.LaterWeightID, f.LaterWeightKg, f.ConfirmedWeightID = 5, 90, 5 }, false},
		{"a weight after the confirmation", func(f *OrderReviewFacts) { f.LaterWeightID, f.LaterWeightKg, f.ConfirmedWeightID = 6, 91, 5 }, true},
		{"the order's own tolerance", func(f *OrderReviewFacts) { f.TolerancePct, f.LaterWeightID, f.LaterWeightKg = 5, 5, 72 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := order
			tc.edit(&f)
			r := ReviewOrder(f)
			if r.NeedsReview != tc.want {
				t.Fatalf("ReviewOrder(%+v) = %+v, want NeedsReview %v", f, r, tc.want)
			}
			if r.NeedsReview && !strings.Contains(r.Sentence(f.OrderWeightKg, f.TolerancePct), "awaits the physician's review") {
				t.Fatalf("sentence %q", r.Sentence(f.OrderWeightKg, f.TolerancePct))
			}
		})
	}
}

func TestCheckOrderConfirmation(t *testing.T) {
	waiting := OrderReview{NeedsReview: true, LaterWeightKg: 90}
	cases := []struct {
		name   string
		status string
		review OrderReview
		reason string
		want   string // error code, empty: allowed
	}{
		{"awaiting review", OrderFilled, waiting, "weight on admission was right", ""},
		{"open order awaiting review", OrderOpen, waiting, "confirmed with the ward", ""},
		{"no reason", OrderFilled, waiting, " ", EInvalid},
		{"nothing awaits review", OrderFilled, OrderReview{}, "sure", EConflict},
		{"cancelled", OrderCancelled, waiting, "sure", EConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOrderConfirmation(tc.status, tc.review, tc.reason)
			if got := ErrorCode(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckSpecCoSignature(t *testing.T) {
	ok := SpecSignatureFacts{Version: 2, ProposedBy: 10, CurrentVersion: 1, SignerID: 11, SignerRoles: []Role{RolePhysician}, Reason: "dose per kg per protocol amendment 3"}
	cases := []struct {
		name string
		edit func(*SpecSignatureFacts)
		want string
	}{
		{"physician co-signs QA's proposal", func(f *SpecSignatureFacts) {}, ""},
		{"QA alone", func(f *SpecSignatureFacts) { f.SignerRoles = []Role{RoleQA} }, EForbidden},
		{"the proposer signs again", func(f *SpecSignatureFacts) { f.SignerID = 10 }, ERuleViolated},
		{"already in force", func(f *SpecSignatureFacts) { f.Effective = true }, EConflict},
		{"a later version is in force", func(f *SpecSignatureFacts) { f.CurrentVersion = 3 }, EConflict},
		{"no reason", func(f *SpecSignatureFacts) { f.Reason = "" }, EInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			err := CheckSpecCoSignature(f)
			if got := ErrorCode(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
