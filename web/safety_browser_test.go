package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"cordtrace/domain"
)

// The safety worklist shows an SAE past its 24-hour clock first, marked overdue, and a
// physician records it sent to the sponsor; the deviations page records a deviation by hand,
// its corrective action, and the physician's sign-off. Each page at 390 and 1280 px.
func TestBrowserSafetyAndDeviations(t *testing.T) {
	s := newSite(t, browserBackend(t))
	ctx := context.Background()
	enrol := func(subject, mrn string) domain.Patient {
		p, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: subject, MRN: mrn, Name: "Zhao Min",
			DateOfBirth: "1958-03-02", WeightKg: 68, Arm: domain.ArmRoutine, EnrolledAt: time.Now().UTC().Add(-72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := enrol("SVP-201", "MRN0201"), enrol("SVP-202", "MRN0202")
	report := func(p domain.Patient, term string, criteria []string, related string, aware time.Time) domain.AdverseEvent {
		a, err := s.store.RecordAdverseEvent(ctx, s.actor("dr.cho"), domain.AEInput{PatientID: p.ID, Term: term,
			Description: term + " on day 2", OnsetAt: aware.Add(-time.Hour), Grade: 3, SeriousCriteria: criteria, SeriousGiven: true,
			Relatedness: related, Outcome: "recovering", ActionTaken: "not_applicable", AwareAt: &aware})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	late := report(p1, "Pneumonia", []string{domain.CriterionHospitalisation}, domain.RelatedUnlikely, time.Now().Add(-30*time.Hour))
	report(p2, "Pulmonary embolism", []string{domain.CriterionHospitalisation}, domain.RelatedPossible, time.Now().Add(-time.Hour))

	b := newBrowser(t, s.url)
	b.login("dr.cho")
	b.open("/safety")
	first := b.text("#reports li:first-child")
	if !strings.Contains(first, "OVERDUE") || !strings.Contains(first, "SVP-201") || !strings.Contains(first, "SAE, 24 hours") {
		t.Errorf("the first report is %q; want SVP-201's SAE, overdue", first)
	}
	if all := b.text("#reports"); !strings.Contains(all, "SUSAR, 15 days") || strings.Count(all, "OVERDUE") != 1 {
		t.Errorf("the worklist shows %q; want one overdue report and the SUSAR's", all)
	}
	if n := b.text("#overdue-count"); !strings.Contains(n, "1 overdue") {
		t.Errorf("overdue count %q", n)
	}
	b.shot("40-safety-worklist")
	b.run(chromedp.Evaluate(`(() => { const d = new Date(Date.now() - 5 * 60000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
		document.querySelector('#reports li:first-child input[name="sent_at"]').value = d.toISOString().slice(0, 16); })()`, nil))
	b.submitAndReload(`#reports li:first-child button[type="submit"]`)
	if all := b.text("#reports"); strings.Contains(all, "SVP-201") || strings.Contains(all, "OVERDUE") {
		t.Errorf("after recording it sent, the worklist shows %q", all)
	}
	d, err := s.store.AdverseEventDetail(ctx, late.ID)
	if err != nil || d.Reports[0].SentAt == nil || d.Reports[0].SentBy != s.users["dr.cho"].ID || !d.Reports[0].Late {
		t.Errorf("the report after sending: %+v %v", d.Reports, err)
	}
	b.shot("41-safety-worklist-sent")

	// The ICH E2A form on the patient page opens the event's page; a follow-up adds version 2.
	b.open("/patients/" + strconv.FormatInt(p1.ID, 10))
	fill := func(form, term, related string, criteria ...string) {
		t.Helper()
		b.run(chromedp.Evaluate(`(() => { const d = new Date(Date.now() - 2 * 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
			const v = d.toISOString().slice(0, 16);
			for (const n of ["onset_at", "aware_at"]) document.querySelector('`+form+` input[name="' + n + '"]').value = v; })()`, nil),
			chromedp.SetValue(form+` input[name="term"]`, term),
			chromedp.SetValue(form+` select[name="grade"]`, "3"),
			chromedp.SetValue(form+` select[name="relatedness"]`, related),
			chromedp.SetValue(form+` select[name="outcome"]`, "recovering"),
			chromedp.SetValue(form+` select[name="action_taken"]`, "infusion_stopped"),
			chromedp.SetValue(form+` textarea[name="description"]`, "rigors and hypoxia during the infusion"))
		for _, c := range criteria {
			b.run(chromedp.Click(form + ` input[value="` + c + `"]`))
		}
	}
	b.run(chromedp.Evaluate(`document.getElementById("ae-full-box").open = true`, nil))
	fill("#adverse-event-full", "Hypoxia", domain.RelatedUnlikely, domain.CriterionHospitalisation)
	b.shot("45-patient-adverse-event-ich-form")
	b.run(chromedp.Click(`#adverse-event-full button[type="submit"]`))
	b.waitFor(`location.pathname.startsWith("/adverse-events/") && document.readyState === "complete" && !!document.getElementById("ae-versions")`)
	if sum := b.text("#ae-summary"); !strings.Contains(sum, "SERIOUS") || !strings.Contains(sum, "Hypoxia") || strings.Contains(sum, "SUSAR") {
		t.Errorf("the new event's summary is %q", sum)
	}
	b.run(chromedp.Evaluate(`document.getElementById("follow-up-box").open = true`, nil))
	fill("#follow-up", "Hypoxia", domain.RelatedProbable, domain.CriterionHospitalisation)
	b.submitAndReload(`#follow-up button[type="submit"]`)
	if sum := b.text("#ae-summary"); !strings.Contains(sum, "SUSAR") || !strings.Contains(sum, "version 2") {
		t.Errorf("after the follow-up the summary is %q", sum)
	}
	if rows := b.text("#ae-versions tbody"); !strings.Contains(rows, "unlikely") || !strings.Contains(rows, "probable") {
		t.Errorf("versions: %q", rows)
	}
	if reps := b.text("#ae-reports"); !strings.Contains(reps, "SAE, 24 hours") || !strings.Contains(reps, "SUSAR, 15 days") {
		t.Errorf("reports: %q", reps)
	}
	b.shot("46-adverse-event-follow-up")

	b.open("/deviations")
	b.run(chromedp.Click(`#deviation-box summary`),
		chromedp.SetValue(`#new-deviation select[name="category"]`, domain.DeviationConsent),
		chromedp.SetValue(`#new-deviation select[name="patient_id"]`, strconv.FormatInt(p2.ID, 10)),
		chromedp.SendKeys(`#new-deviation textarea[name="description"]`, "consent form version 2 signed after the infusion"))
	b.shot("42-deviations-record")
	b.submitAndReload(`#new-deviation button[type="submit"]`)
	if c := b.text("#deviations li:first-child"); !strings.Contains(c, "informed_consent") || !strings.Contains(c, "SVP-202") {
		t.Errorf("the new deviation shows %q", c)
	}
	b.run(chromedp.SendKeys(`#deviations li:first-child textarea[name="corrective_action"]`, "patient re-consented; site retrained"))
	b.submitAndReload(`#deviations li:first-child form.corrective button[type="submit"]`)
	b.run(chromedp.SendKeys(`#deviations li:first-child form.sign input[name="reason"]`, "reviewed"),
		chromedp.SendKeys(`#deviations li:first-child form.sign input[name="password"]`, password))
	b.submitAndReload(`#deviations li:first-child form.sign button[type="submit"]`)
	if c := b.text("#deviations li:first-child"); !strings.Contains(c, "signed off") || !strings.Contains(c, "Test dr.cho") {
		t.Errorf("after the sign-off the deviation shows %q", c)
	}
	b.shot("43-deviations-signed")
	b.logout()

	// A nurse records and reads deviations; the sign-off and the worklist are the physician's.
	b.login("rn.dee")
	b.open("/deviations")
	var signOffered bool
	b.run(chromedp.Evaluate(`!!document.querySelector("form.sign")`, &signOffered))
	if signOffered {
		t.Error("a nurse is offered the physician's sign-off")
	}
	b.shot("44-deviations-nurse")
}
