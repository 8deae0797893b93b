package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"cordtrace/domain"
)

// The trial's pages in a browser: QA loads the allocation list from a file (a bad one is
// refused with its line), the physician enrols without choosing an arm, and the trial page
// counts the arms.
func TestBrowserTrial(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	b.login("qa.bob")
	b.open("/trial")
	b.shot("60-trial-no-list")
	b.run(chromedp.SetUploadFiles(`#allocation-file`, []string{write("bad.csv", "sequence,arm\n1,huc_msc\n2,placebo\n")}),
		chromedp.SendKeys(`#allocation-list input[name="password"]`, password),
		chromedp.Click(`#allocation-list button[type="submit"]`))
	b.waitFor(`!!document.querySelector('#allocation-list .form-error')`)
	b.expectRefusal(400, "/api/v1/trial/allocations")
	if e := b.text("#allocation-list .form-error"); !strings.Contains(e, "line 3") || !strings.Contains(e, "placebo") {
		t.Errorf("bad list: %q", e)
	}
	b.shot("61-trial-list-refused")
	b.run(chromedp.SetUploadFiles(`#allocation-file`, []string{write("good.csv", "sequence,arm,stratum\n1,routine,A\n2,huc_msc,A\n3,huc_msc,B\n")}))
	b.submitAndReload(`#allocation-list button[type="submit"]`)
	if l := b.text("#allocation-lists"); !strings.Contains(l, "Test qa.bob") || !strings.Contains(l, "3") {
		t.Errorf("lists: %q", l)
	}
	b.shot("62-trial-list-loaded")
	b.logout()

	b.login("dr.cho")
	var armAsked bool
	b.run(chromedp.Evaluate(`!!document.querySelector('#enrol select[name="arm"]')`, &armAsked))
	if armAsked || !strings.Contains(b.text("#arm-allocated"), "allocated") {
		t.Error("with a list loaded, the enrolment form still asks for the arm")
	}
	b.run(chromedp.SendKeys(`#enrol input[name="subject_id"]`, "SVP-201"),
		chromedp.SendKeys(`#enrol input[name="mrn"]`, "MRN0201"),
		chromedp.SendKeys(`#enrol input[name="name"]`, "Zhao Min"),
		chromedp.SetValue(`#enrol input[name="date_of_birth"]`, "1968-02-03"),
		chromedp.SendKeys(`#enrol input[name="weight_kg"]`, "64"))
	b.shot("63-patients-enrol-allocated")
	b.submitAndReload(`#enrol button[type="submit"]`)
	p, err := s.store.PatientBySubject(t.Context(), "SVP-201")
	if err != nil || p.Arm != domain.ArmRoutine {
		t.Fatalf("enrolled: %+v %v, want the first allocation's arm", p, err)
	}
	b.open("/trial")
	if a := b.text("#arms"); !strings.Contains(a, "routine\t1\t1") {
		t.Errorf("arms: %q", a)
	}
	if strings.Contains(b.text("main"), "SVP-201") {
		t.Error("the trial page names a patient")
	}
	b.shot("64-trial-arms")

	// Follow-up: day 0 is due on the worklist; an implausible CRP is refused with its range.
	b.open("/follow-up")
	if w := b.text("#worklist"); !strings.Contains(w, "SVP-201") || !strings.Contains(w, "due") {
		t.Errorf("worklist: %q", w)
	}
	b.shot("65-follow-up-worklist")
	b.run(chromedp.Click(`#worklist a`), chromedp.WaitVisible(`#assessment`))
	b.run(chromedp.SetValue(`#assessment select[name="day"]`, "0"),
		chromedp.SendKeys(`#assessment input[name="crp_mg_l"]`, "900"),
		chromedp.Evaluate(`document.querySelector('#assessment input[name="crp_mg_l"]').removeAttribute("max")`, nil),
		chromedp.Click(`#assessment button[type="submit"]`))
	b.waitFor(`!!document.querySelector('#assessment .form-error')`)
	b.expectRefusal(400, "/api/v1/patients/")
	if e := b.text("#assessment .form-error"); !strings.Contains(e, "0 to 600 mg/L") {
		t.Errorf("CRP 900: %q", e)
	}
	b.shot("66-follow-up-refused")
	b.run(chromedp.SetValue(`#assessment input[name="crp_mg_l"]`, "85"), chromedp.SendKeys(`#assessment input[name="pf_ratio_mmhg"]`, "210"))
	b.submitAndReload(`#assessment button[type="submit"]`)
	if a := b.text("#assessments"); !strings.Contains(a, "85") || !strings.Contains(a, "210") {
		t.Errorf("assessments: %q", a)
	}
	b.run(chromedp.SetValue(`#outcome select[name="kind"]`, "discharge"),
		chromedp.Evaluate(`document.querySelector('#outcome input[name="date"]').value = new Date().toISOString().slice(0, 10)`, nil))
	b.submitAndReload(`#outcome button[type="submit"]`)
	if o := b.text("#outcomes"); !strings.Contains(o, "discharge") {
		t.Errorf("outcomes: %q", o)
	}
	b.shot("67-follow-up-patient")

	// The endpoints: the survival curves drawn by the server with their table, no patient named.
	b.open("/trial")
	b.run(chromedp.Click(`#endpoints-link`), chromedp.WaitVisible(`svg#km`))
	// The table is folded under its chart: read its text, shown or not.
	if m := b.svgText("#mortality table"); !strings.Contains(m, "routine100.0 %") {
		t.Errorf("mortality table: %q", m)
	}
	if s := b.svgText("svg#km"); !strings.Contains(s, "huc_msc") || !strings.Contains(s, "routine") {
		t.Errorf("survival chart: %q", s)
	}
	if m := b.text("main"); strings.Contains(m, "SVP-201") || strings.Contains(m, "Zhao") {
		t.Error("the endpoints page names a patient")
	}
	b.shot("68-trial-endpoints")
}
