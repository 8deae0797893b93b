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

// A weight recorded after the order, 32 % above the order's: the nurse is asked for the
// reason, the patient page shows the order waiting for the physician's review, and the
// physician signs that the order stands in the dialog; the review notice goes.
func TestBrowserOrderReview(t *testing.T) {
	s := newSite(t, browserBackend(t))
	ctx := context.Background()
	p, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-168", MRN: "MRN0168", Name: "Zhao Min",
		DateOfBirth: "1958-03-02", WeightKg: 68, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	order, err := s.store.OrderDose(ctx, s.actor("dr.cho"), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/patients/%d", p.ID)
	b := newBrowser(t, s.url)

	b.login("rn.dee")
	b.open(page)
	b.run(chromedp.SendKeys(`#weigh input[name="weight_kg"]`, "90"))
	if pv := b.text("#weight-target"); !strings.Contains(pv, "+32.4 %") || !strings.Contains(pv, "give the reason") {
		t.Errorf("a weight 32 %% above the last: the preview says %q", pv)
	}
	var required bool
	b.run(chromedp.Evaluate(`document.querySelector('#weigh input[name="reason"]').required`, &required))
	if !required {
		t.Error("the reason is not asked for")
	}
	b.shot("27-patient-weight-needs-reason")
	b.run(chromedp.SendKeys(`#weigh input[name="reason"]`, "re-weighed on the bed scale"))
	b.submitAndReload(`#weigh button[type="submit"]`)
	if n := b.text("#order-review"); !strings.Contains(n, "awaits the physician's review") || !strings.Contains(n, "90.0 kg") || !strings.Contains(n, "68.0 kg") {
		t.Errorf("the review notice says %q", n)
	}
	if w := b.text("#weights"); !strings.Contains(w, "re-weighed on the bed scale") {
		t.Errorf("weights table: %q", w)
	}
	var confirmOffered bool
	b.run(chromedp.Evaluate(`!!document.getElementById("confirm-order")`, &confirmOffered))
	if confirmOffered {
		t.Error("a nurse is offered the physician's confirmation")
	}
	b.logout()

	b.login("dr.cho")
	b.open(page)
	b.run(chromedp.Click(`button[data-open="confirm-dialog"]`), chromedp.WaitVisible(`#confirm-dialog`),
		chromedp.SendKeys(`#confirm-order input[name="reason"]`, "admission weight confirmed with the ward"),
		chromedp.SendKeys(`#confirm-order input[name="password"]`, password))
	b.shot("28-patient-order-review-confirm")
	b.submitAndReload(`#confirm-order button[type="submit"]`)
	var gone bool
	b.run(chromedp.Evaluate(`!document.getElementById("order-review")`, &gone))
	if !gone {
		t.Errorf("after the confirmation the notice still says %q", b.text("#order-review"))
	}
	b.shot("29-patient-order-confirmed")
	d, err := s.store.PatientDetail(ctx, p.ID)
	if err != nil || d.OrderReview.NeedsReview || d.Order.ID != order.ID || d.Order.WeightKg != 68 {
		t.Errorf("after the confirmation: %+v %v", d, err)
	}
}
