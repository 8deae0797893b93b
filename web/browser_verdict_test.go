package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"cordtrace/store/storetest"
)

// verdictState is what a screen reader and a scanner meet after a verdict: the alert region,
// where the focus is, and what the last scan log line says.
type verdictState struct {
	Role    string `json:"role"`
	Hidden  bool   `json:"hidden"`
	Text    string `json:"text"`
	Focused string `json:"focused"`
}

func (b *browser) verdictState(sel string) verdictState {
	b.t.Helper()
	var v verdictState
	b.run(chromedp.Evaluate(`(() => { const el = document.querySelector(`+"`"+sel+"`"+`);
		return {role: el.getAttribute("role") || "", hidden: el.hidden || el.closest("[hidden]") !== null,
			text: el.textContent.trim(), focused: document.activeElement.id}; })()`, &v))
	return v
}

// A dispatch or receipt refusal is heard and seen: its text is written into an alert region
// that is on the page, empty and shown, from the start; the focus moves to it; and a code a
// wedge scanner types next, without anyone clicking, lands in the scan field. axe-core finds
// no serious violation on the page with the refusal shown.
func TestBrowserScanRefusalIsHeardAndTheNextScanLands(t *testing.T) {
	axe := axeSource(t)
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	for _, page := range []struct{ user, path string }{{"ph.eve", "/dispatch"}, {"rn.dee", "/receive"}} {
		b.login(page.user)
		b.run(chromedp.EmulateViewport(390, 844))
		b.open(page.path)
		if v := b.verdictState("#scan-verdict"); v.Role != "alert" || v.Hidden || v.Text != "" {
			t.Fatalf("%s before any scan: the verdict region is %+v; want an empty, shown alert region", page.path, v)
		}
		b.run(chromedp.SendKeys(`input[name="place"]`, "ICU-3"), chromedp.SendKeys(`input[name="temperature_c"]`, "5"),
			scanInto("#scan-input", "NOSUCHBAG1"))
		b.waitFor(`document.querySelectorAll("#scan-results li").length === 1`)
		b.dropErrorsAbout("/api/v1/scans/")
		b.waitFor(`document.activeElement.id === "scan-verdict"`)
		if v := b.verdictState("#scan-verdict"); !strings.Contains(v.Text, "REFUSED") {
			t.Errorf("%s after a refusal: %+v; want the refusal in the alert region, focused", page.path, v)
		}
		if found := b.axeViolations(axe); len(found) > 0 {
			t.Errorf("%s after a refusal: %s", page.path, strings.Join(found, "; "))
		}
		b.shot("verdict-" + strings.TrimPrefix(page.path, "/") + "-refused")
		// The scanner's next code, typed at scanner speed into whatever has the focus, lands in
		// the scan field: the reading is asked for (each bag needs its own), and Enter after
		// typing it sends the code, recorded as scanned.
		time.Sleep(1100 * time.Millisecond)
		b.run(wedge("NOSUCHBAG2"))
		b.waitFor(`document.querySelectorAll("#scan-results li").length === 2`)
		var kept, focused string
		b.run(chromedp.Value("#scan-input", &kept), chromedp.Evaluate(`document.activeElement.name`, &focused))
		if v := b.verdictState("#scan-verdict"); kept != "NOSUCHBAG2" || focused != "temperature_c" || !strings.Contains(v.Text, "NOT RECORDED") {
			t.Fatalf("%s: after a code typed with the verdict focused, the scan field holds %q, the focus is on %q, the verdict says %q; want the code in the scan field and the temperature asked for",
				page.path, kept, focused, v.Text)
		}
		// Every key of it counts towards telling a scan from typing, the first one too (the
		// speed itself depends on this machine's load, so the keys are counted, not timed).
		var keys int
		b.run(chromedp.Evaluate(`document.getElementById("scan-input").entryKeys.length`, &keys))
		if keys != len("NOSUCHBAG2") {
			t.Errorf("%s: %d keys of the code typed after the verdict were noted in the scan field, want %d", page.path, keys, len("NOSUCHBAG2"))
		}
		b.run(wedge("5"))
		b.waitFor(`document.querySelectorAll("#scan-results li").length === 3`)
		b.dropErrorsAbout("/api/v1/scans/")
		if r := b.text("#scan-results li"); !strings.Contains(r, "REFUSED") {
			t.Errorf("%s: after the reading, the code typed after the verdict reads %q; want it sent (and refused: no such bag)", page.path, r)
		}
		b.logout()
	}
}

// dropErrorsAbout takes off the console the errors Chromium logs for requests to path that
// the test expects to be refused, whatever their status.
func (b *browser) dropErrorsAbout(path string) {
	time.Sleep(100 * time.Millisecond) // the log entry comes on its own event
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.errs[:0]
	for _, e := range b.errs {
		if !strings.Contains(e, path) {
			kept = append(kept, e)
		}
	}
	b.errs = kept
}

// At the bedside a STOP is heard (an alert region on the page from the start) and takes the
// focus; a wristband scanned right after it, with nobody touching the screen, goes to the
// wristband step as "Scan again" would, the bag's scan is kept, and the check passes once the
// witness types their password again. axe-core finds no serious violation on either verdict.
func TestBrowserBedsideScanAfterAStopLands(t *testing.T) {
	axe := axeSource(t)
	s := newSite(t, storetest.SQLite)
	in := s.receivedBag(t)
	code := in.bag.BagID + in.bag.Check
	b := newBrowser(t, s.url)
	b.login("rn.dee")
	b.run(chromedp.EmulateViewport(390, 844))
	b.open("/bedside")
	if v := b.verdictState("#verdict-announce"); v.Role != "alert" || v.Hidden || v.Text != "" {
		t.Fatalf("before any verdict the alert region is %+v; want it on the page, empty", v)
	}
	b.run(scanInto("#wristband", "MRN9999"), scanInto("#bag-code", code), chromedp.SendKeys("#witness-user", "rn.fay"),
		chromedp.SetValue("#entry-reason", "label_damaged", chromedp.ByID), chromedp.SendKeys("#witness-password", password+"\r"))
	b.waitFor(`!document.getElementById("verdict").hidden`)
	if v := b.verdictState("#verdict-announce"); b.text("#verdict-word") != "STOP" || !strings.HasPrefix(v.Text, "STOP") || v.Focused != "verdict-word" {
		t.Fatalf("a wristband of nobody enrolled: verdict %q, alert %+v; want STOP announced and the verdict focused", b.text("#verdict-word"), v)
	}
	if found := b.axeViolations(axe); len(found) > 0 {
		t.Errorf("the bedside's STOP: %s", strings.Join(found, "; "))
	}
	b.shot("verdict-bedside-stop-focused")
	b.run(wedge(in.patient.MRN))
	b.waitFor(`!document.getElementById("bedside").hidden && document.activeElement.id === "bag-code"`)
	var wristband, bag string
	var keys int
	b.run(chromedp.Value("#wristband", &wristband), chromedp.Value("#bag-code", &bag),
		chromedp.Evaluate(`document.getElementById("wristband").entryKeys.length`, &keys))
	if wristband != in.patient.MRN || bag != code || keys != len(in.patient.MRN) {
		t.Fatalf("after the wristband scanned on the STOP: wristband %q (%d keys noted), bag %q; want %q, every key, and the bag kept",
			wristband, keys, bag, in.patient.MRN)
	}
	b.run(chromedp.SendKeys("#witness-password", password+"\r"))
	b.waitFor(`!document.getElementById("verdict").hidden`)
	if w := b.text("#verdict-word"); w != "PASS" {
		t.Fatalf("after the right wristband: %q; the checks say %s", w, b.text("#verdict-checks"))
	}
	if found := b.axeViolations(axe); len(found) > 0 {
		t.Errorf("the bedside's PASS: %s", strings.Join(found, "; "))
	}
	b.shot("verdict-bedside-pass-after-rescan")
}

// wedge is a keyboard-wedge scanner typing code and Enter into whatever has the focus, with
// no selector: the page decides where the keys go. Enter is one key-down carrying its text, as
// a keyboard sends it, so that a page that takes the key-down keeps the key press from
// happening too.
func wedge(code string) chromedp.Action {
	enter := func(t input.KeyType) *input.DispatchKeyEventParams {
		e := input.DispatchKeyEvent(t).WithKey("Enter").WithCode("Enter").WithWindowsVirtualKeyCode(13).WithNativeVirtualKeyCode(13)
		if t == input.KeyDown {
			e = e.WithText("\r").WithUnmodifiedText("\r")
		}
		return e
	}
	return chromedp.Tasks{chromedp.KeyEvent(code), enter(input.KeyDown), enter(input.KeyUp)}
}
