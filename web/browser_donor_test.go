package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"cordtrace/domain"
)

// Donor eligibility in a real browser: the analyst records a test result and the screening on
// the donation's page; QA signs the donor eligible, then, on new information, ineligible; the
// lot made from it goes on hold and the page lists what was made from the donation.
func TestBrowserDonorEligibility(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx, qc, now := context.Background(), s.actor("qc.ann"), time.Now().UTC()
	don, err := s.store.CreateDonation(ctx, qc, domain.NewDonation{CollectedAt: now.Add(-72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	lot, err := s.store.CreateLot(ctx, qc, domain.NewLot{DonationID: don.ID, LotNumber: "HUC-DON-001", ManufacturedAt: now.Add(-48 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Quarantine(ctx, qc, lot.ID); err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/donations/%d", don.ID)
	when := now.Add(-70 * time.Hour).Local().Format("2006-01-02T15:04")

	b.login("qc.ann")
	b.open(fmt.Sprintf("/lots/%d", lot.ID))
	if got := b.text("main"); !strings.Contains(got, "only by exceptional release") {
		t.Fatalf("lot page of a pending donor does not say how it may be released: %q", got)
	}
	b.shot("40-lot-donor-pending")
	b.open(page)
	if got := b.text("#eligibility"); got != "pending" {
		t.Fatalf("donation eligibility shows %q", got)
	}
	b.run(chromedp.SetValue(`form[data-url$="/tests"] select[name="test"]`, "hiv_1_2"),
		chromedp.SetValue(`form[data-url$="/tests"] select[name="result"]`, "non_reactive"),
		chromedp.SetValue(`form[data-url$="/tests"] input[name="tested_at"]`, when))
	b.submitAndReload(`form[data-url$="/tests"] button[type="submit"]`)
	if got := b.text("#donor-tests tbody tr:first-child"); !strings.Contains(got, "HIV-1/2") || !strings.Contains(got, "non_reactive") {
		t.Fatalf("HIV row after recording: %q", got)
	}
	b.run(chromedp.Click(`form[data-url$="/screening"] input[name="questionnaire_complete"]`),
		chromedp.SetValue(`form[data-url$="/screening"] select[name="outcome"]`, "acceptable"),
		chromedp.SetValue(`form[data-url$="/screening"] input[name="screened_at"]`, when))
	b.submitAndReload(`form[data-url$="/screening"] button[type="submit"]`)
	b.shot("41-donation-work-up")
	b.logout()
	for _, test := range domain.DonorTests[1:] {
		if _, err := s.store.RecordDonorTest(ctx, qc, don.ID, domain.DonorTestResult{Test: test, Result: domain.NonReactive, TestedAt: now.Add(-70 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	sign := func(determination, reason string) {
		t.Helper()
		b.open(page)
		b.run(chromedp.Click(`button[data-open="eligibility-dialog"]`), chromedp.WaitVisible("#eligibility-dialog"),
			chromedp.SetValue(`#eligibility-dialog select[name="determination"]`, determination),
			chromedp.SendKeys(`#eligibility-dialog input[name="password"]`, password))
		if reason != "" {
			b.run(chromedp.SendKeys(`#eligibility-dialog input[name="reason"]`, reason))
		}
		b.submitAndReload(`#eligibility-dialog button[type="submit"]`)
	}
	b.login("qa.bob")
	sign("eligible", "")
	if got := b.text("#eligibility"); got != "eligible" {
		t.Fatalf("after signing eligible the page shows %q", got)
	}
	sign("ineligible", "maternal HBV NAT reactive on retest")
	if got := b.text("#eligibility"); got != "ineligible" {
		t.Fatalf("after signing ineligible the page shows %q", got)
	}
	if got := b.text("#lookback-lots"); !strings.Contains(got, "HUC-DON-001") || !strings.Contains(got, "on_hold") {
		t.Fatalf("look-back lots: %q", got)
	}
	if got := b.text("main"); !strings.Contains(got, "Test qa.bob") || !strings.Contains(got, "maternal HBV NAT reactive on retest") {
		t.Fatalf("determinations are not shown with signer and reason: %q", got)
	}
	b.shot("42-donation-ineligible-look-back")
	b.open(fmt.Sprintf("/lots/%d", lot.ID))
	b.shot("43-lot-donor-ineligible")
	d, err := s.store.LotDetail(ctx, lot.ID)
	if err != nil || d.Lot.Status != domain.LotOnHold {
		t.Fatalf("lot in the store: %s %v; want on_hold", d.Lot.Status, err)
	}
}
