package storetest

import (
	"context"
	"fmt"
	"testing"

	"cordtrace/domain"
	"cordtrace/store"
)

// DetermineEligible records a non-reactive result of every required donor test and an
// acceptable screening for the donation, and has a QA person of its own sign the donor
// eligible: the way a donation becomes usable for a normal release.
func DetermineEligible(t testing.TB, st *store.Store, donationID int64) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("donor.qa.%d", donationID)
	u, err := st.CreateUser(ctx, domain.SystemActor("test"), domain.NewUser{Username: name, FullName: "Donor QA " + name,
		Password: "correct horse battery", Roles: []domain.Role{domain.RoleQC, domain.RoleQA}})
	if err != nil {
		t.Fatalf("eligibility signer: %v", err)
	}
	lab, qa := u.ActingAs(domain.RoleQC, "test"), u.ActingAs(domain.RoleQA, "test")
	d, err := st.DonationDetail(ctx, donationID)
	if err != nil {
		t.Fatalf("donation %d: %v", donationID, err)
	}
	// The maternal sample is taken at the collection: a time the store's clock accepts.
	at := d.Donation.CollectedAt
	for _, test := range domain.DonorTests {
		if _, err := st.RecordDonorTest(ctx, lab, donationID, domain.DonorTestResult{Test: test, Result: domain.NonReactive, TestedAt: at}); err != nil {
			t.Fatalf("donor test %s: %v", test, err)
		}
	}
	if _, err := st.RecordScreening(ctx, lab, donationID, domain.DonorScreening{QuestionnaireComplete: true, Outcome: domain.ScreeningAcceptable, ScreenedAt: at}); err != nil {
		t.Fatalf("donor screening: %v", err)
	}
	if _, err := st.DetermineEligibility(ctx, qa, donationID, domain.Eligible, "correct horse battery", ""); err != nil {
		t.Fatalf("eligibility determination: %v", err)
	}
}
