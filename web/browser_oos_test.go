package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"cordtrace/domain"
	"cordtrace/store/storetest"
)

// The OOS journey, in a real browser: the analyst records a positive sterility result on the
// lot page and sees the open investigation; QA closes it as a laboratory error in the signing
// dialog; the page shows the conclusion and who signed it, and the store holds the same.
func TestBrowserOOSInvestigation(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx := context.Background()

	qcActor := s.actor("qc.ann")
	lot := s.newLot(t, "HUC-OOS-001")
	if _, err := s.store.Quarantine(ctx, qcActor, lot.ID); err != nil {
		t.Fatal(err)
	}
	f64 := func(v float64) *float64 { return &v }
	for _, r := range []domain.QCResult{
		{Test: domain.TestViability, Value: f64(92)},
		{Test: domain.TestViableCellCount, Value: f64(1.2e9)},
		{Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: f64(0.1)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
		{Test: domain.TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}},
	} {
		if _, err := s.store.AddQCResult(ctx, qcActor, lot.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	lotPath := fmt.Sprintf("/lots/%d", lot.ID)
	sterility := `#evaluation tbody tr:nth-child(3)`

	// The analyst records a positive sterility result: the lot shows the open investigation.
	b.login("qc.ann")
	b.open(lotPath)
	b.run(chromedp.Evaluate(`document.querySelector('form[data-test="sterility"] select').value = "positive"`, nil))
	b.submitAndReload(`form[data-test="sterility"] button[type="submit"]`)
	if row := b.text(sterility); !strings.Contains(row, "sterility") || !strings.Contains(row, "oos") || !strings.Contains(row, "OOS investigation") {
		t.Fatalf("sterility row after a positive: %q", row)
	}
	if inv := b.text("#investigations tbody"); !strings.Contains(inv, "sterility") || !strings.Contains(inv, "open") || !strings.Contains(inv, "waiting for QA") {
		t.Fatalf("investigations seen by QC: %q", inv)
	}
	// A negative result recorded after it does not make the lot releasable.
	b.run(chromedp.Evaluate(`document.querySelector('form[data-test="sterility"] select').value = "negative"`, nil))
	b.submitAndReload(`form[data-test="sterility"] button[type="submit"]`)
	if row := b.text(sterility); !strings.Contains(row, "oos") {
		t.Fatalf("sterility row after a later negative: %q", row)
	}
	if sum := b.text("p.summary"); !strings.Contains(sum, "Not releasable") {
		t.Fatalf("summary with an open OOS: %q", sum)
	}
	b.shot("30-lot-oos-open")
	b.logout()

	// QA closes it as a laboratory error, signing with the password.
	b.login("qa.bob")
	b.open(lotPath)
	d, err := s.store.LotDetail(ctx, lot.ID)
	if err != nil || len(d.Investigations) != 1 {
		t.Fatalf("investigations in the store: %+v %v", d.Investigations, err)
	}
	inv := d.Investigations[0]
	dialog := fmt.Sprintf("#oos-dialog-%d", inv.ID)
	b.run(chromedp.Click(fmt.Sprintf(`button[data-open="oos-dialog-%d"]`, inv.ID)), chromedp.WaitVisible(dialog),
		chromedp.SetValue(dialog+` select[name="conclusion"]`, "lab_error"),
		chromedp.SendKeys(dialog+` input[name="reason"]`, "plate contaminated while reading; deviation DV-12"),
		chromedp.SendKeys(dialog+` input[name="password"]`, password))
	b.shot("31-lot-oos-close-dialog")
	b.submitAndReload(dialog + ` button[type="submit"]`)
	if got := b.text("#investigations tbody"); !strings.Contains(got, "closed") || !strings.Contains(got, "lab_error") || !strings.Contains(got, "Test qa.bob") {
		t.Fatalf("investigation after closing: %q", got)
	}
	if row := b.text(sterility); !strings.Contains(row, "pending") {
		t.Fatalf("sterility row after lab_error: %q", row)
	}
	b.shot("32-lot-oos-closed")

	d, err = s.store.LotDetail(ctx, lot.ID)
	if err != nil || d.Investigations[0].Status != domain.InvestigationClosed || d.Investigations[0].Conclusion != domain.ConclusionLabError ||
		d.Investigations[0].SignedBy != "Test qa.bob" {
		t.Fatalf("investigation in the store: %+v %v", d.Investigations, err)
	}
}

// A result box shows its verdict's colour: the neutral background of .summary and .preview
// must not hide the green of .pass or the red of .fail (BV2 INVALID, a refused preparation,
// an order awaiting review).
func TestBrowserResultColoursShow(t *testing.T) {
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	b.login("qc.ann")
	b.open("/lots")
	var colours map[string]string
	b.run(chromedp.Evaluate(`(() => {
		const out = {};
		for (const cls of ["summary pass", "summary fail", "preview pass", "preview fail", "summary", "preview"]) {
			const el = document.createElement("p");
			el.className = cls;
			document.body.append(el);
			out[cls] = getComputedStyle(el).backgroundColor;
			el.remove();
		}
		return out;
	})()`, &colours))
	green, red, grey := "rgb(216, 245, 216)", "rgb(251, 213, 213)", "rgb(238, 238, 238)"
	for cls, want := range map[string]string{"summary pass": green, "preview pass": green, "summary fail": red, "preview fail": red, "summary": grey, "preview": grey} {
		if colours[cls] != want {
			t.Errorf("class %q: background %s, want %s", cls, colours[cls], want)
		}
	}
}

// A scan that arrives before the page's script is ready is not sent by the browser itself:
// nothing leaves the page, no patient's MRN lands in an address (history, server logs), and
// the scan stays in its field for when the page is ready.
func TestBrowserNoScanSentBeforeTheScriptIsReady(t *testing.T) {
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	b.login("rn.dee")
	for _, page := range []struct{ path, field string }{{"/bedside", "#wristband"}, {"/receive", "#scan-input"}} {
		b.run(emulation.SetScriptExecutionDisabled(true))
		b.open(page.path)
		b.run(chromedp.SendKeys(page.field, "MRN0001\r"))
		time.Sleep(300 * time.Millisecond)
		var url, kept string
		b.run(chromedp.Location(&url), chromedp.Value(page.field, &kept))
		b.run(emulation.SetScriptExecutionDisabled(false))
		if strings.Contains(url, "MRN0001") || !strings.HasSuffix(url, page.path) || kept != "MRN0001" {
			t.Errorf("%s before its script: the address is %s and the field keeps %q; want the same address and the scan kept", page.path, url, kept)
		}
	}
}

// The analyst corrects a result from the lot page: the reason is required, the correction is
// recorded as a new result, and the replaced one stays on the page struck through, saying which
// result replaced it and why. The signature dialog names the lot; the phenotype form names
// CD14/CD11b as the evaluation does.
func TestBrowserQCCorrection(t *testing.T) {
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	lot := s.newLot(t, "HUC-COR-001")
	v := 91.2
	first, err := s.store.AddQCResult(context.Background(), s.actor("qc.ann"), lot.ID, domain.QCResult{Test: domain.TestViability, Value: &v})
	if err != nil {
		t.Fatal(err)
	}
	b.login("qc.ann")
	b.open(fmt.Sprintf("/lots/%d", lot.ID))
	if form := b.text(`form[data-test="phenotype"]`); !strings.Contains(form, "CD14/CD11b") {
		t.Errorf("the phenotype form does not name CD14/CD11b as the evaluation does: %q", form)
	}
	b.run(chromedp.Click(`details.correct summary`), chromedp.SendKeys(`details.correct input[name="value"]`, "92.1"),
		chromedp.Click(`details.correct button[type="submit"]`))
	if note := b.text(`details.correct .field-note`); note == "" {
		t.Fatal("a correction without a reason shows no note")
	}
	b.run(chromedp.SendKeys(`details.correct input[name="reason"]`, "transcription error: the printout reads 92.1"))
	b.submitAndReload(`details.correct button[type="submit"]`)
	var struck string
	b.run(chromedp.Evaluate(`getComputedStyle(document.querySelector("tr.replaced .result-value")).textDecorationLine`, &struck))
	if row := b.text("tr.replaced"); !strings.Contains(row, fmt.Sprint(first.ID)) || !strings.Contains(row, "replaced by") ||
		!strings.Contains(row, "transcription error") || struck != "line-through" {
		t.Fatalf("the replaced result reads %q (decoration %q); want it struck through, naming the correction and its reason", row, struck)
	}
	b.shot("33-lot-result-corrected")
	b.logout()
	b.login("qa.bob")
	b.open(fmt.Sprintf("/lots/%d", lot.ID))
	if title := b.text("#sign-title"); !strings.Contains(title, "HUC-COR-001") {
		t.Errorf("the signature dialog reads %q, want it to name the lot", title)
	}
}

// At 390 px every control of the bedside and scan pages is at least 44 × 44 px, the header's
// links included, and at 320 px nothing scrolls sideways.
func TestBrowserTargetsAreBigEnough(t *testing.T) {
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	b.login("rn.dee")
	for _, path := range []string{"/bedside", "/receive"} {
		b.run(chromedp.EmulateViewport(390, 844))
		b.open(path)
		var small []string
		b.run(chromedp.Evaluate(`[...document.querySelectorAll("button, input, select, summary, .bar a, a.button")]
			.filter((el) => el.type !== "hidden" && el.type !== "checkbox" && el.getClientRects().length > 0)
			.filter((el) => { const r = el.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
			.map((el) => el.outerHTML.slice(0, 80) + " " + Math.round(el.getBoundingClientRect().width) + "×" + Math.round(el.getBoundingClientRect().height))`, &small))
		if len(small) > 0 {
			t.Errorf("%s at 390 px: %d controls under 44 × 44 px: %v", path, len(small), small)
		}
		b.run(chromedp.EmulateViewport(320, 640))
		b.open(path)
		var sideways bool
		b.run(chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &sideways))
		if sideways {
			t.Errorf("%s at 320 px scrolls sideways", path)
		}
	}
}

// newLot is a lot in process, made two days ago from a donation three days old, recorded by
// qc.ann.
func (s *site) newLot(t *testing.T, number string) domain.Lot {
	t.Helper()
	ctx, qc, now := context.Background(), s.actor("qc.ann"), time.Now().UTC()
	don, err := s.store.CreateDonation(ctx, qc, domain.NewDonation{CollectedAt: now.Add(-72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	storetest.DetermineEligible(t, s.store, don.ID)
	lot, err := s.store.CreateLot(ctx, qc, domain.NewLot{DonationID: don.ID, LotNumber: number, ManufacturedAt: now.Add(-48 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return lot
}
