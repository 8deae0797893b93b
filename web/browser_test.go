package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Widths every page is checked and photographed at: a phone and a desktop.
var widths = []int64{390, 1280}

const password = "a good password"

// chromiumPath finds Debian's Chromium. Without it the browser tests skip, unless
// CORDTRACE_REQUIRE_TOOLS=1 (CI) makes a missing browser a failure.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CORDTRACE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CORDTRACE_REQUIRE_TOOLS") == "1" {
		t.Fatal("Chromium is not installed (apt-get install -y chromium) and CORDTRACE_REQUIRE_TOOLS=1")
	}
	t.Skip("Chromium is not installed; apt-get install -y chromium to run the browser tests")
	return ""
}

// artifactDir is where screenshots go: CORDTRACE_ARTIFACTS_DIR in CI, a temporary folder
// otherwise. The path is logged so that a person can look.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("CORDTRACE_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cordtrace-artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// site is a whole cordtrace (API and pages) on a fresh database, with its people.
type site struct {
	url   string
	store *store.Store
	users map[string]domain.User
}

// browserBackend is the database a browser journey runs on: PostgreSQL when the tests have it,
// as production does, else the embedded one. A journey is slow, so it runs on one of them.
func browserBackend(t *testing.T) string {
	if bs := storetest.Backends(t); len(bs) > 1 {
		return storetest.Postgres
	}
	return storetest.SQLite
}

func newSite(t *testing.T, backend string) *site {
	st := storetest.Open(t, backend, store.Options{})
	ctx := context.Background()
	if _, err := st.EnsureAdmin(ctx, "admin password 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureLabelKey(ctx, func() (domain.LabelKey, error) {
		kid, pub, priv, err := labels.NewLabelKey(time.Now())
		return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
	}); err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.ServicesOf(st), api.Config{Logger: slog.New(slog.DiscardHandler)})
	registerPages(t, srv.Echo(), st)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s := &site{url: hs.URL, store: st, users: map[string]domain.User{}}
	for name, role := range map[string]domain.Role{"qc.ann": domain.RoleQC, "qa.bob": domain.RoleQA, "dr.cho": domain.RolePhysician,
		"ph.eve": domain.RolePharmacist, "ph.sam": domain.RolePharmacist, "rn.dee": domain.RoleNurse, "rn.fay": domain.RoleNurse} {
		u, err := st.CreateUser(ctx, domain.Actor{FullName: "setup"}, domain.NewUser{Username: name, FullName: "Test " + name, Password: password, Roles: []domain.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		s.users[name] = u
	}
	return s
}

func (s *site) actor(name string) domain.Actor {
	u := s.users[name]
	return u.ActingAs(u.Roles[0], "")
}

// browser is one headless Chromium tab that fails the test on any console error.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	mu    sync.Mutex
	errs  []string
}

func newBrowser(t *testing.T, base string, extra ...chromedp.ExecAllocatorOption) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	// Chromium may still be writing its profile as it exits, so the folder is removed after
	// the browser, not by t.TempDir.
	profile, err := os.MkdirTemp("", "cordtrace-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(append(opts, chromedp.UserDataDir(profile)), extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	b := &browser{t: t, ctx: ctx, base: base, shots: artifactDir(t)}
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				msg = "console.error"
				for _, a := range ev.Args {
					msg += " " + string(a.Value)
				}
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Error()
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errs = append(b.errs, msg)
			b.mu.Unlock()
		}
	})
	b.run(cdplog.Enable(), runtime.Enable())
	return b
}

func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (console errors so far: %v)", err, b.consoleErrors())
	}
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// noConsoleErrors fails on any console error or uncaught exception since the last check.
func (b *browser) noConsoleErrors(page string) {
	b.t.Helper()
	b.mu.Lock()
	errs := b.errs
	b.errs = nil
	b.mu.Unlock()
	if len(errs) > 0 {
		b.t.Errorf("%s: console errors: %v", page, errs)
	}
}

// expectRefusal takes off the console the one error Chromium logs for a request the test
// expects the server to refuse with status on path; any other error stays and fails the page.
// The log entry comes on its own event, so it is waited for.
func (b *browser) expectRefusal(status int, path string) {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		found := -1
		for i, e := range b.errs {
			if strings.Contains(e, fmt.Sprintf("status of %d", status)) && strings.Contains(e, path) {
				found = i
				break
			}
		}
		if found >= 0 {
			b.errs = append(b.errs[:found:found], b.errs[found+1:]...)
		}
		errs := append([]string(nil), b.errs...)
		b.mu.Unlock()
		if found >= 0 {
			return
		}
		if time.Now().After(deadline) {
			b.t.Errorf("expected the server to refuse a request to %s; the console shows %v", path, errs)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitReady("body"))
}

func (b *browser) login(username string) {
	b.t.Helper()
	b.open("/login")
	b.run(chromedp.SendKeys(`input[name="username"]`, username), chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Click(`form[action="/login"] button`), chromedp.WaitVisible("nav"))
}

func (b *browser) logout() {
	b.t.Helper()
	b.run(chromedp.Click(`form.who button`), chromedp.WaitVisible(`input[name="username"]`))
}

// shot checks the current page at each width (nothing wider than the screen, no console
// error) and saves a screenshot of each; it leaves the tab at the first width.
func (b *browser) shot(name string) {
	b.t.Helper()
	for i := len(widths) - 1; i >= 0; i-- {
		w := widths[i]
		var buf []byte
		var overflow bool
		b.run(chromedp.EmulateViewport(w, 900), chromedp.Sleep(100*time.Millisecond),
			chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow),
			chromedp.FullScreenshot(&buf, 100))
		if overflow {
			b.t.Errorf("%s at %d px: the page is wider than the screen", name, w)
		}
		if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, w)), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.noConsoleErrors(name)
}

// text is the visible text of the first element sel matches, read from the live page.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.innerText.trim() : "" })()`, sel), &s))
	return s
}

// svgText is the text of the first element sel matches, for elements such as SVG that have
// no innerText.
func (b *browser) svgText(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.textContent : "" })()`, sel), &s))
	return s
}

// waitFor polls a JavaScript condition on the live page until it holds.
func (b *browser) waitFor(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		if err := chromedp.Run(b.ctx, chromedp.Evaluate(cond, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited in vain for %s; the page shows: %s", cond, b.formErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// submitAndReload clicks a button whose action reloads the page, and waits for the new page.
func (b *browser) submitAndReload(sel string) {
	b.t.Helper()
	b.run(chromedp.Evaluate(`document.body.dataset.gen = "old"`, nil), chromedp.Click(sel))
	// The old page goes away under the poll, which then fails: ask again until the new page
	// has loaded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var reloaded bool
		err := chromedp.Run(b.ctx, chromedp.Evaluate(`document.readyState === "complete" && document.body.dataset.gen !== "old"`, &reloaded))
		if err == nil && reloaded {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after %s: the page did not reload; it shows: %s", sel, b.formErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if errs := b.formErrors(); errs != "" {
		b.t.Fatalf("after %s: %s", sel, errs)
	}
}

func (b *browser) formErrors() string {
	var s string
	_ = chromedp.Run(b.ctx, chromedp.Evaluate(`[...document.querySelectorAll(".form-error, .flash:not([hidden])")].map(e => e.textContent).join(" | ")`, &s))
	return s
}

// labelCode reads the QR code of a label the way a scanner would, from the rendered PNG the
// logged-in browser user may fetch.
func (b *browser) labelCode(path string) string {
	b.t.Helper()
	var cookies []*network.Cookie
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	req, _ := http.NewRequest("GET", b.base+path, nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	png, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		b.t.Fatalf("label %s: %d %s", path, res.StatusCode, png)
	}
	if ct := res.Header.Get("Content-Type"); ct != "image/png" {
		b.t.Fatalf("label %s: %s, not a PNG: %.200s", path, ct, png)
	}
	return decodeLabelQR(b.t, png)
}

func decodeLabelQR(t *testing.T, png []byte) string {
	t.Helper()
	code, err := labels.ReadQR(png)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// scanInto types a scanned code into a field the way a keyboard-wedge scanner does: the
// characters, then Enter.
func scanInto(sel, code string) chromedp.Action {
	return chromedp.Tasks{chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value = ""`, sel), nil), chromedp.SendKeys(sel, code+"\r")}
}

// typeSlowly is a person typing code into the field at sel, a key every 120 ms, and Enter.
func typeSlowly(sel, code string) chromedp.Action {
	tasks := chromedp.Tasks{chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value = ""`, sel), nil)}
	for _, r := range code {
		tasks = append(tasks, chromedp.SendKeys(sel, string(r)), chromedp.Sleep(120*time.Millisecond))
	}
	return append(tasks, chromedp.SendKeys(sel, "\r"))
}

// The whole journey of a dose through the pages, in a real browser: QC entry → release with
// a signature → prepare → print → dispatch scan → receipt scan → bedside STOP for the wrong
// patient → bedside PASS → infusion. Every page is checked at phone and desktop width.
func TestBrowserJourney(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx := context.Background()
	now := time.Now().UTC()

	// What happens before the pages: a donation and a lot made, two patients enrolled and
	// one dose ordered (the physician's pages are not part of this journey).
	don, err := s.store.CreateDonation(ctx, s.actor("qc.ann"), domain.NewDonation{CollectedAt: now.Add(-72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	storetest.DetermineEligible(t, s.store, don.ID)
	lot, err := s.store.CreateLot(ctx, s.actor("qc.ann"), domain.NewLot{DonationID: don.ID, LotNumber: "HUC-2026-001", ManufacturedAt: now.Add(-48 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	enrol := func(subject, mrn string, kg float64) domain.Patient {
		p, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: subject, MRN: mrn, Name: "Patient " + subject, DateOfBirth: "1960-05-01",
			WeightKg: kg, Arm: domain.ArmHUCMSC, EnrolledAt: now.AddDate(0, 0, -1)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// SVP-002's dose is one unit of 3.5×10^7 cells: 35 kg.
	p1, p2 := enrol("SVP-001", "MRN0001", 70), enrol("SVP-002", "MRN0002", 35)
	if _, err := s.store.OrderDose(ctx, s.actor("dr.cho"), p1.ID); err != nil {
		t.Fatal(err)
	}
	lotPath := fmt.Sprintf("/lots/%d", lot.ID)

	// QC analyst: lots list, manufacturing complete, every result, the BV2 grid, units.
	b.login("qc.ann")
	b.open("/lots")
	b.shot("01-lots")
	b.open(lotPath)
	b.submitAndReload(`button[data-post$="/quarantine"]`)
	qc := func(test string, fill chromedp.Action) {
		t.Helper()
		form := fmt.Sprintf(`form[data-test=%q]`, test)
		b.run(fill)
		b.submitAndReload(form + ` button[type="submit"]`)
	}
	// A value outside what the field accepts is named as it is typed, before anything is sent.
	viability := `form[data-test="viability"] input[name="value"]`
	b.run(chromedp.SendKeys(viability, "150"))
	if note := b.text(`form[data-test="viability"] .field-note`); note == "" {
		t.Error("typing 150 % viability shows no message")
	}
	b.run(chromedp.Evaluate(`document.querySelector('form[data-test="viability"] input[name="value"]').value = ""`, nil))
	qc("viability", chromedp.SendKeys(viability, "92.5"))
	qc("viable_cell_count", chromedp.SendKeys(`form[data-test="viable_cell_count"] input[name="value"]`, "200000000"))
	qc("sterility", chromedp.Evaluate(`document.querySelector('form[data-test="sterility"] select').value = "negative"`, nil))
	qc("mycoplasma", chromedp.Evaluate(`document.querySelector('form[data-test="mycoplasma"] select').value = "not_detected"`, nil))
	qc("endotoxin", chromedp.SendKeys(`form[data-test="endotoxin"] input[name="value"]`, "0.1"))
	var markers []*cdp.Node
	b.run(chromedp.Nodes(`form[data-test="phenotype"] input`, &markers, chromedp.ByQueryAll))
	var fill chromedp.Tasks
	for _, n := range markers {
		v := "99.1"
		if name := n.AttributeValue("name"); !slices.Contains([]string{"markers.CD73", "markers.CD90", "markers.CD105"}, name) {
			v = "0.5"
		}
		fill = append(fill, chromedp.SendKeys(`form[data-test="phenotype"] input[name="`+n.AttributeValue("name")+`"]`, v))
	}
	qc("phenotype", fill)
	grid := [][]string{{"100", "105", "95"}, {"1000", "1050", "950"}, {"400", "420", "380"}} // baseline, LPS, LPS + MSC
	for row, vals := range grid {
		for col, v := range vals {
			b.run(chromedp.SendKeys(fmt.Sprintf(`#bv2 tbody tr:nth-child(%d) td:nth-of-type(%d) input`, row+1, col+1), v))
		}
	}
	// Validity and inhibition appear as the analyst types, before anything is recorded.
	b.run(chromedp.Poll(`document.getElementById("bv2-preview").textContent.includes("Valid assay")`, nil, chromedp.WithPollingTimeout(5*time.Second)))
	if p := b.text("#bv2-preview"); !strings.Contains(p, "inhibition 66.7 %") {
		t.Errorf("BV2 preview = %q", p)
	}
	b.shot("02-lot-qc-entry")
	b.submitAndReload(`#bv2 button[type="submit"]`)
	b.run(chromedp.Evaluate(`document.querySelector('details.card:last-of-type') && document.querySelectorAll('details.card').forEach(d => d.open = true)`, nil))
	b.run(chromedp.SendKeys(`input[name="count"]`, "4"), chromedp.SendKeys(`input[name="viable_cells"]`, "35000000"), chromedp.SendKeys(`input[name="volume_ml"]`, "25"))
	b.submitAndReload(`form[data-url$="/units"] button[type="submit"]`)
	if ev := b.text(".summary"); !strings.Contains(ev, "Every criterion passes") {
		t.Fatalf("after every result, the evaluation says %q", ev)
	}
	// One cryobag cracked: the analyst discards that unit, with the reason.
	b.run(chromedp.SendKeys(`form[data-url$="/discard"] input[name="reason"]`, "Cryobag cracked in the dry shipper"))
	b.submitAndReload(`form[data-url$="/discard"] button[type="submit"]`)
	var discarded int
	b.run(chromedp.Evaluate(`[...document.querySelectorAll("td")].filter(td => td.textContent.trim() === "discarded").length`, &discarded))
	if discarded != 1 {
		t.Fatalf("after discarding one unit, %d units show as discarded; want 1", discarded)
	}
	b.logout()

	// QA: release with an electronic signature that shows the meaning and the printed name.
	b.login("qa.bob")
	b.open(lotPath)
	b.run(chromedp.Click(`button[data-open="sign-dialog"]`), chromedp.WaitVisible(`#sign-dialog`))
	if name, meaning := b.text("#sign-name"), b.text("#sign-meaning"); name != "Test qa.bob" || meaning != domain.SignRelease.Meaning() {
		t.Errorf("signature dialog shows %q / %q", name, meaning)
	}
	b.run(chromedp.SendKeys(`#sign-dialog input[name="password"]`, password))
	b.shot("03-lot-sign-dialog")
	b.submitAndReload(`#sign-dialog button[type="submit"]`)
	if st := b.text("h1 .status"); st != "released" {
		t.Fatalf("after signing, the lot is %q", st)
	}
	b.shot("04-lot-released")
	b.logout()

	// Pharmacist: the worklist, the bag, its label.
	b.login("ph.eve")
	b.open("/pharmacy")
	b.shot("05-pharmacy-orders")
	b.run(chromedp.Click(`#orders a.button`), chromedp.WaitVisible(`#prepare`))
	var units []*cdp.Node
	b.run(chromedp.Nodes(`#prepare input[name="unit_ids"]`, &units, chromedp.ByQueryAll))
	if len(units) != 3 {
		t.Fatalf("%d units offered, want 3", len(units))
	}
	b.run(chromedp.Evaluate(`document.querySelectorAll('#prepare input[name="unit_ids"]').forEach((u, i) => { if (i < 2) u.click() })`, nil))
	// Two units of 3.5×10^7 cells cannot make a bag of 8×10^7: refused, with both counts shown.
	b.run(chromedp.SendKeys(`input[name="post_thaw_viability_pct"]`, "88"), chromedp.SendKeys(`input[name="viable_cells"]`, "80000000"),
		chromedp.SendKeys(`input[name="volume_ml"]`, "50"))
	if d := b.text("#draw"); !strings.Contains(d, "exceed the 7.00 × 10^7 of the units ticked") {
		t.Errorf("the preview of a bag above its units says %q", d)
	}
	b.run(chromedp.Click(`#prepare button[type="submit"]`))
	b.waitFor(`document.querySelector("#prepare .form-error") !== null`)
	if e := b.formErrors(); !strings.Contains(e, "the bag's 8.00×10^7 viable cells exceed the 7.00×10^7 of the units thawed into it") {
		t.Errorf("a refused preparation shows %q, want both cell counts", e)
	}
	b.expectRefusal(422, "/dose-bags")
	b.shot("06a-prepare-refused")
	b.run(chromedp.Evaluate(`document.querySelector('input[name="viable_cells"]').value = ""`, nil), chromedp.SendKeys(`input[name="viable_cells"]`, "70000000"))
	if d := b.text("#draw"); !strings.Contains(d, "Volume to draw: 50.0 mL") {
		t.Errorf("volume to draw shown as %q", d)
	}
	b.shot("06-prepare")
	b.run(chromedp.Click(`#prepare button[type="submit"]`), chromedp.WaitVisible(`#bag-result`))
	// The label waits for the second pharmacist, who types their own username and password on
	// this device; the preparer cannot be the one.
	var labelsHidden bool
	b.run(chromedp.Evaluate(`document.getElementById("bag-labels").hidden`, &labelsHidden))
	if !labelsHidden {
		t.Error("the label links show before the second pharmacist's check")
	}
	b.shot("07-bag-prepared")
	b.run(chromedp.SendKeys(`#check-bag input[name="username"]`, "ph.eve"), chromedp.SendKeys(`#check-bag input[name="password"]`, password),
		chromedp.Click(`#check-bag button[type="submit"]`))
	b.waitFor(`document.querySelector("#check-bag .form-error") !== null`)
	if e := b.formErrors(); !strings.Contains(e, "cannot also check it") {
		t.Errorf("the preparer's own check shows %q", e)
	}
	b.expectRefusal(422, "/check")
	b.run(chromedp.Evaluate(`document.getElementById("check-bag").reset()`, nil),
		chromedp.SendKeys(`#check-bag input[name="username"]`, "ph.sam"), chromedp.SendKeys(`#check-bag input[name="password"]`, password),
		chromedp.Click(`#check-bag button[type="submit"]`), chromedp.WaitVisible(`#bag-labels`))
	if done := b.text("#bag-checked"); !strings.Contains(done, "Checked by ph.sam") {
		t.Errorf("after the check the page says %q", done)
	}
	b.shot("07a-bag-checked")
	var labelPNG string
	b.run(chromedp.Evaluate(`document.getElementById("bag-label-png").getAttribute("href")`, &labelPNG))
	// The pharmacy follows the bag until it is given: listed as prepared, with a discard form.
	b.open("/pharmacy")
	if row := b.text(`#bags li`); !strings.Contains(row, "prepared") {
		t.Errorf("bags not given yet: %q, want the prepared bag", row)
	}
	b.shot("07b-pharmacy-bags")
	code := b.labelCode(labelPNG)
	// The print is counted on the pharmacy's list.
	b.open("/pharmacy")
	if prints := b.text(`#bags .bag-prints`); !strings.Contains(prints, "print 1: 1 copy") {
		t.Errorf("the pharmacy shows the prints as %q, want print 1: 1 copy", prints)
	}

	// Dispatch: one focused field, the scanner types and presses Enter, the result is listed.
	b.open("/dispatch")
	b.run(chromedp.SendKeys(`input[name="place"]`, "ICU-3"), chromedp.SendKeys(`input[name="temperature_c"]`, "5"))
	b.run(scanInto("#scan-input", code), chromedp.WaitVisible(`#scan-results li`))
	if r := b.text("#scan-results li"); !strings.Contains(r, "accepted") || !strings.Contains(r, "scanned") {
		t.Fatalf("dispatch scan: %q; want it accepted and told from typing as scanned", r)
	}
	var focused bool
	b.run(chromedp.Evaluate(`document.activeElement.id === "scan-input"`, &focused))
	if !focused {
		t.Error("after a scan, the scan field lost the focus")
	}
	b.shot("08-dispatch")
	// The bag on its way shows on the stock dashboard until the ward receives it.
	b.open("/dashboards/stock")
	b.waitFor(`document.querySelectorAll("#in-transit svg g.bar").length === 1`)
	if txt := b.svgText("#in-transit svg"); !strings.Contains(txt, "ICU-3") {
		t.Errorf("the bag in transit is not shown going to ICU-3: %q", txt)
	}
	b.shot("08b-dashboard-bag-in-transit")
	b.logout()

	// Ward: receipt, then the bedside.
	b.login("rn.dee")
	b.open("/receive")
	b.run(chromedp.SendKeys(`input[name="place"]`, "ICU-3"), chromedp.SendKeys(`input[name="temperature_c"]`, "6"))
	// The scanner reads the label twice in a blink: one scan, not a second receipt refused.
	b.run(chromedp.Evaluate(fmt.Sprintf(`(() => { const i = document.getElementById("scan-input");
		for (let k = 0; k < 2; k++) { i.value = %q; i.form.requestSubmit(); } })()`, code), nil))
	b.waitFor(`document.querySelectorAll("#scan-results li").length > 0`)
	time.Sleep(500 * time.Millisecond) // room for a second result, were the double read recorded
	if n := b.text(`#scan-results`); strings.Count(n, "·") == 0 || strings.Contains(n, "REFUSED") {
		t.Fatalf("receipt after a double read: %q", n)
	}
	var results int
	b.run(chromedp.Evaluate(`document.querySelectorAll("#scan-results li").length`, &results))
	if r := b.text("#scan-results li"); results != 1 || !strings.Contains(r, "accepted") {
		t.Fatalf("receipt scan read twice: %d results, first %q; want one, accepted", results, r)
	}
	// Each reading is for one bag: after a scan the temperature is empty again, nothing is
	// remembered, and a scan without a reading is not recorded (seen and heard) but keeps its
	// code, so that Enter after typing the reading sends it.
	var temperature string
	b.run(chromedp.Evaluate(`document.querySelector('input[name="temperature_c"]').value`, &temperature))
	if temperature != "" {
		t.Fatalf("after a scan the temperature still reads %q: the next bag would get a reading nobody took", temperature)
	}
	time.Sleep(1100 * time.Millisecond)
	b.run(scanInto("#scan-input", code))
	b.waitFor(`document.querySelectorAll("#scan-results li").length === 2`)
	var kept string
	b.run(chromedp.Evaluate(`document.getElementById("scan-input").value`, &kept))
	if r := b.text("#scan-results li.bad"); !strings.Contains(r, "NOT RECORDED") || !strings.Contains(r, "temperature") || kept != code {
		t.Fatalf("a scan without a reading: %q, the field keeps %q; want it not recorded, saying to type the temperature, the code kept", r, kept)
	}
	b.open("/receive") // a reload
	b.run(chromedp.Evaluate(`document.querySelector('input[name="temperature_c"]').value`, &temperature))
	if temperature != "" {
		t.Fatalf("after a reload the temperature reads %q: a reading was remembered", temperature)
	}
	b.run(chromedp.SendKeys(`input[name="temperature_c"]`, "6"), scanInto("#scan-input", code))
	// Read again after more than a second, the same code is a new scan: the bag is received
	// already, so it is refused, shown in red and heard (SPEC §7).
	b.waitFor(`document.querySelectorAll("#scan-results li").length === 1`)
	b.expectRefusal(409, "/api/v1/scans/receive")
	var refusalBeeps string
	b.run(chromedp.Evaluate(`document.body.dataset.beeps || "0"`, &refusalBeeps))
	if r := b.text("#scan-results li.bad"); !strings.Contains(r, "REFUSED") || refusalBeeps == "0" {
		t.Fatalf("a second receipt a second later: %q, %s beeps; want a red REFUSED line and a beep", r, refusalBeeps)
	}
	b.shot("09-receive")

	// verify verifies at the bedside; reason, when given, is chosen as the entry reason the page
	// asks for when a code was typed or is not the bag's signed QR code.
	verify := func(wristband chromedp.Action, reason string) {
		t.Helper()
		b.open("/bedside")
		b.run(chromedp.EmulateViewport(390, 844))
		b.run(wristband, scanInto("#bag-code", code), chromedp.SendKeys("#witness-user", "rn.fay"))
		if reason != "" {
			b.run(chromedp.SetValue("#entry-reason", reason, chromedp.ByID))
		}
		b.run(chromedp.SendKeys("#witness-password", password+"\r"))
		b.waitFor(`!document.getElementById("verdict").hidden`)
	}
	// A wristband typed key by key proves less than a scan: the page asks why before it sends
	// anything, and says what was not proven (SPEC §7).
	b.open("/bedside")
	b.run(chromedp.EmulateViewport(390, 844))
	b.run(typeSlowly("#wristband", "MRN0002"), scanInto("#bag-code", code), chromedp.SendKeys("#witness-user", "rn.fay"),
		chromedp.SendKeys("#witness-password", password+"\r"))
	var asked bool
	b.run(chromedp.Evaluate(`!document.getElementById("entry-reason-box").hidden && document.getElementById("verdict").hidden &&
		document.getElementById("entry-reason").getAttribute("aria-invalid") === "true"`, &asked))
	if why := b.text("#entry-reason-why"); !asked || !strings.Contains(why, "wristband was typed by hand") {
		t.Fatalf("a typed wristband without a reason: asked %v, %q; want the reason asked for, nothing sent", asked, why)
	}
	b.shot("10a-bedside-entry-reason")
	// The wrong patient's wristband, typed key by key, with its reason: a red STOP naming the
	// failed check in plain words, and the page's log of its last scans marks the typed
	// wristband (SPEC §7).
	verify(typeSlowly("#wristband", "MRN0002"), "wristband_unreadable")
	if v := b.text("#verdict-word"); v != "STOP" {
		t.Fatalf("wrong patient: verdict %q", v)
	}
	// The verdict is heard: it holds the focus, and the alert region, on the page from the
	// start, carries the STOP and the failed check in words.
	var focusOnVerdict bool
	b.run(chromedp.Evaluate(`document.activeElement.id === "verdict-word"`, &focusOnVerdict))
	if said := b.text("#verdict-announce"); !focusOnVerdict || !strings.HasPrefix(said, "STOP.") || !strings.Contains(said, "WRONG PATIENT") {
		t.Errorf("after a STOP the focus is on the verdict: %v; the alert says %q", focusOnVerdict, said)
	}
	var failed []*cdp.Node
	b.run(chromedp.Nodes(`#verdict-checks li.bad[data-code]`, &failed, chromedp.ByQueryAll))
	if len(failed) == 0 || failed[0].AttributeValue("data-code") != domain.CheckPatientMatch {
		t.Fatalf("wrong patient: failed checks %v", failed)
	}
	if typed := b.text(`#scan-log li[data-entry="typed"]`); !strings.Contains(typed, "Wristband MRN0002") || !strings.Contains(typed, "TYPED BY HAND") {
		t.Errorf("the log of last scans shows the typed wristband as %q", typed)
	}
	if bag := b.text(`#scan-log li[data-entry="scanned"]`); !strings.Contains(bag, " · Bag ") {
		t.Errorf("the log of last scans shows the scanned bag as %q", bag)
	}
	if last := b.text(`#scan-log li`); !strings.Contains(last, "Verification STOP") {
		t.Errorf("the log's newest line is %q, want the STOP", last)
	}
	// After a STOP the nurse may send the bag back; the reason is required before anything is sent.
	var offered bool
	b.run(chromedp.Evaluate(`!document.getElementById("return-box").hidden`, &offered))
	if !offered {
		t.Error("after a STOP the page does not offer to return the bag")
	}
	b.run(chromedp.Click(`#return-box summary`), chromedp.Click(`#return-bag button[type="submit"]`))
	if note := b.text(`#return-bag .field-note`); note == "" {
		t.Error("returning the bag without a reason shows no note")
	}
	// A STOP is heard as well as seen.
	var beeps string
	b.run(chromedp.Evaluate(`document.body.dataset.beeps || "0"`, &beeps))
	if beeps == "0" {
		t.Error("a STOP made no sound")
	}
	b.shot("10-bedside-stop")
	// A wrong wristband is put right here: "Scan again" keeps the bag's scan and the witness,
	// and waits for the wristband.
	var bagKept string
	var wristbandEmpty, waiting bool
	b.run(chromedp.Click("#scan-again"), chromedp.Value("#bag-code", &bagKept),
		chromedp.Evaluate(`document.getElementById("wristband").value === "" && !document.getElementById("bedside").hidden`, &wristbandEmpty),
		chromedp.Evaluate(`document.activeElement.id === "wristband"`, &waiting))
	if bagKept != code || !wristbandEmpty || !waiting {
		t.Fatalf("after Scan again the bag field holds %q, wristband empty %v, waiting on it %v; want the bag kept and the wristband asked for", bagKept, wristbandEmpty, waiting)
	}

	// This device's scanner sends the prefix "]Q": codes starting with it are scanned, without
	// it. The scanner reads the wristband twice in a blink: the second read, which lands in
	// the bag's field, is dropped there instead of becoming the bag's code.
	b.open("/bedside")
	b.run(chromedp.Click(`.scanner-settings summary`), chromedp.SendKeys("#scan-prefix", "]Q"), chromedp.Focus("#wristband"))
	b.run(scanInto("#wristband", "]QMRN0001"), chromedp.SendKeys("#bag-code", "]QMRN0001\r"))
	var bagField string
	var stayed bool
	b.run(chromedp.Value("#bag-code", &bagField), chromedp.Evaluate(`document.activeElement.id === "bag-code"`, &stayed))
	if bagField != "" || !stayed {
		t.Fatalf("after a double read of the wristband the bag's field holds %q (focused: %v); want it empty and waiting", bagField, stayed)
	}
	verify(scanInto("#wristband", "]QMRN0001"), "")
	if v := b.text("#verdict-word"); v != "PASS" {
		t.Fatalf("right patient: verdict %q; checks %s", v, b.text("#verdict-checks"))
	}
	if said := b.text("#verdict-announce"); !strings.HasPrefix(said, "PASS.") || !strings.Contains(said, "1960-05-01") {
		t.Errorf("after a PASS the alert says %q, want PASS with the name and date of birth", said)
	}
	// Two identifiers: the PASS shows the person's name and date of birth, large.
	if name, dob := b.text("#patient-name"), b.text("#patient-dob"); name != "Patient SVP-001" || !strings.Contains(dob, "1960-05-01") {
		t.Fatalf("the PASS shows %q, %q; want the patient's name and date of birth", name, dob)
	}
	if label := b.text(`#verdict-checks li[data-code="LABEL_AUTHENTIC"]`); !strings.Contains(label, "genuine and is the bag's current print") {
		t.Errorf("a scanned QR: LABEL_AUTHENTIC says %q", label)
	}
	b.run(chromedp.Evaluate(`!document.getElementById("return-box").hidden`, &offered))
	if offered {
		t.Error("after a PASS the page offers to return the bag")
	}
	if w := b.text(`#scan-log li[data-entry="scanned"]:last-child`); !strings.Contains(w, "Wristband MRN0001 · scanned") {
		t.Errorf("the log shows the prefixed wristband as %q, want MRN0001 scanned", w)
	}
	b.shot("11-bedside-pass")
	// On a phone, Start infusion is on the first screen, under the verdict and the patient's
	// name, and Start over is not next to it.
	var startBottom, overTop float64
	b.run(chromedp.Evaluate(`document.getElementById("start-infusion").getBoundingClientRect().bottom`, &startBottom),
		chromedp.Evaluate(`document.getElementById("verify-again").getBoundingClientRect().top`, &overTop))
	if startBottom > 844 || overTop-startBottom < 100 {
		t.Errorf("at 390×844 Start infusion ends at %.0f px and Start over starts at %.0f px; want the first within the screen and the second well apart", startBottom, overTop)
	}
	b.run(chromedp.Click("#start-infusion"), chromedp.WaitVisible("#end-infusion"))
	// The page is reloaded mid-infusion (a discarded tab, the idle logout): the infusion is
	// still there to end, with its bag and subject, and it is ended from the list; the bag
	// held 50 mL, so more is refused.
	b.open("/bedside")
	b.waitFor(`!document.getElementById("in-progress").hidden`)
	if row := b.text("#in-progress-list li"); !strings.Contains(row, "SVP-001") || !strings.Contains(row, "Bag ") {
		t.Fatalf("after a reload the infusion in progress reads %q", row)
	}
	b.shot("12a-bedside-infusion-in-progress")
	b.run(chromedp.SendKeys(`#in-progress-list input[name="volume_ml"]`, "50"), chromedp.Click(`#in-progress-list button[type="submit"]`))
	b.waitFor(`document.getElementById("in-progress").hidden`)
	b.shot("12-infusion-ended")

	// The record: one infusion, ended, on the right patient; the trace pages show it.
	tr, err := s.store.PatientTrace(ctx, p1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Bags) != 1 || tr.Bags[0].Infusion == nil || tr.Bags[0].Infusion.EndedAt == nil || *tr.Bags[0].Infusion.VolumeML != 50 {
		t.Fatalf("patient trace after the journey: %+v", tr.Bags)
	}
	if c := tr.Bags[0].Custody; len(c) < 2 || c[0].Entry != domain.EntryScanned || c[1].Entry != domain.EntryTyped {
		t.Errorf("custody scans %+v: want the dispatch marked scanned and the receipt (set by the page's script, not typed by keys) typed", c)
	}
	b.open(fmt.Sprintf("/trace/lots/%d", lot.ID))
	if txt := b.text("main"); !strings.Contains(txt, "infusion started") || !strings.Contains(txt, "STOP") || !strings.Contains(txt, "wristband typed by hand") ||
		!strings.Contains(txt, "code typed by hand") {
		t.Errorf("lot trace lacks the infusion, the refused verification, its typed wristband or the typed receipt")
	}
	if prints := b.text("main .bag-prints"); !strings.Contains(prints, "Checked by a second pharmacist") || !strings.Contains(prints, "print 1 × 1") {
		t.Errorf("lot trace shows the check and prints as %q, want the check and print 1 × 1", prints)
	}
	b.shot("13-trace-lot")
	b.open(fmt.Sprintf("/trace/patients/%d", p1.ID))
	b.shot("14-trace-patient")
	b.logout()

	// Dashboards, as QA who may open them all, with the journey's data.
	b.login("qa.bob")
	b.run(chromedp.Click(`nav a[href="/dashboards"]`), chromedp.WaitVisible(`a[href="/dashboards/compliance"]`))
	b.shot("15-dashboards")
	b.open("/dashboards/lab")
	count := func(sel string) int {
		t.Helper()
		var n int
		b.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n))
		return n
	}
	if n := count("#lots-status svg g.bar"); n != len(domain.LotStatuses) {
		t.Errorf("lots by status: %d bars, want one per status", n)
	}
	for _, id := range []string{"#viability", "#bv2-inhibition"} {
		if pts, limits, titles := count(id+" svg g.point"), count(id+" svg g.limit"), count(id+" svg > title"); pts != 1 || limits != 1 || titles != 1 {
			t.Errorf("%s: %d points, %d limit lines, %d titles; want the lot's one result against its limit", id, pts, limits, titles)
		}
	}
	if txt := b.svgText("#bv2-inhibition svg"); !strings.Contains(txt, "HUC-2026-001 66.7") || !strings.Contains(txt, "min 30 %") {
		t.Errorf("BV2 chart shows %q", txt)
	}
	b.shot("16-dashboard-lab")
	b.open("/dashboards/stock?days=365")
	if n := count("#expiring svg g.bar"); n != 1 || !strings.Contains(b.svgText("#expiring svg"), "HUC-2026-001") {
		t.Errorf("expiring units: %d bars, want the lot's one unit left", n)
	}
	if n := count("#in-transit svg g.bar"); n != 0 {
		t.Errorf("after the infusion, %d bags in transit, want none", n)
	}
	b.shot("17-dashboard-stock")
	b.open("/dashboards/compliance")
	b.run(chromedp.Evaluate(`document.querySelectorAll("details").forEach(d => d.open = true)`, nil))
	if txt := b.text("#stops"); !strings.Contains(txt, domain.CheckPatientMatch) {
		t.Errorf("stops by check: %q, want the STOP on %s", txt, domain.CheckPatientMatch)
	}
	if n := count("#wards svg g.bar rect.seg"); n != 2 {
		t.Errorf("passes and stops: %d segments, want today's pass and stop", n)
	}
	for _, secret := range []string{"MRN0001", "SVP-001", "Patient SVP"} {
		if strings.Contains(b.text("main"), secret) {
			t.Errorf("the compliance dashboard shows patient data (%s)", secret)
		}
	}
	b.shot("18-dashboard-compliance")
	b.logout()

	// A dose that must not be given: SVP-002's bag, from the lot's last unit, reaches the ward.
	// After a STOP the nurse returns it with the reason; from then on it stops at every
	// bedside, on CUSTODY; the pharmacy then discards it, and no bag is left to give.
	if _, err := s.store.OrderDose(ctx, s.actor("dr.cho"), p2.ID); err != nil {
		t.Fatal(err)
	}
	left, err := s.store.AvailableUnits(ctx)
	if err != nil || len(left) != 1 {
		t.Fatalf("units left for SVP-002: %+v %v", left, err)
	}
	orders, err := s.store.OpenDoseOrders(ctx)
	if err != nil || len(orders) != 1 {
		t.Fatalf("open orders: %+v %v", orders, err)
	}
	bag2, err := s.store.PrepareDoseBag(ctx, s.actor("ph.eve"), orders[0].ID, domain.NewDoseBag{UnitIDs: []int64{left[0].ID},
		ThawedAt: time.Now().Add(-5 * time.Minute), PostThawViabilityPct: 88, ViableCells: 35_000_000, VolumeML: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.CheckDoseBag(ctx, s.actor("ph.eve"), bag2.ID, "ph.sam", password); err != nil {
		t.Fatal(err)
	}
	// The label cannot be scanned here: its id is typed with the check character.
	code = bag2.BagID + bag2.Check
	for _, sc := range []struct{ kind, who string }{{domain.ScanDispatch, "ph.eve"}, {domain.ScanReceive, "rn.dee"}} {
		c := 5.0
		if _, err := s.store.RecordScan(ctx, s.actor(sc.who), domain.CustodyScan{Kind: sc.kind, Code: code, CodeKind: domain.CodeManual,
			BagID: bag2.BagID, Location: "ICU-3", TemperatureC: &c}); err != nil {
			t.Fatal(err)
		}
	}
	b.login("rn.dee")
	verify(scanInto("#wristband", "MRN0001"), "label_damaged")
	if v := b.text("#verdict-word"); v != "STOP" {
		t.Fatalf("SVP-002's bag at SVP-001's bedside: verdict %q", v)
	}
	b.run(chromedp.Click(`#return-box summary`), chromedp.SendKeys(`#return-bag input[name="reason"]`, "Patient moved to another hospital"),
		chromedp.Click(`#return-bag button[type="submit"]`))
	// Not without the confirmation, which names the bag.
	if confirm := b.text("#return-confirm-text"); !strings.Contains(confirm, bag2.BagID) || b.text(`#return-bag .field-note`) == "" {
		t.Fatalf("returning without confirming: the confirmation reads %q and no note shows", confirm)
	}
	b.run(chromedp.Click("#return-confirm"), chromedp.Click(`#return-bag button[type="submit"]`))
	b.waitFor(`!document.getElementById("return-done").hidden`)
	if done := b.text("#return-done"); !strings.Contains(done, bag2.BagID) || !strings.Contains(done, "returned") {
		t.Errorf("after returning the bag the page says %q", done)
	}
	b.shot("19-bedside-bag-returned")
	verify(scanInto("#wristband", "MRN0002"), "label_damaged")
	if label := b.text(`#verdict-checks li[data-code="LABEL_AUTHENTIC"]`); label != "" && strings.Contains(label, "genuine") {
		t.Errorf("a typed bag id: LABEL_AUTHENTIC says %q", label)
	}
	var custody string
	b.run(chromedp.Evaluate(`(document.querySelector('#verdict-checks li.bad[data-code="CUSTODY"]') || {}).textContent || ""`, &custody))
	if v := b.text("#verdict-word"); v != "STOP" || !strings.Contains(custody, "returned") {
		t.Fatalf("the returned bag at its own patient's bedside: verdict %q, custody %q", v, custody)
	}
	b.logout()
	b.login("ph.eve")
	b.open("/pharmacy")
	if row := b.text(`#bags li`); !strings.Contains(row, "returned") || !strings.Contains(row, "SVP-002") {
		t.Fatalf("the pharmacy's bags not given: %q, want SVP-002's returned bag", row)
	}
	b.run(chromedp.SendKeys(`#bags input[name="reason"]`, "Returned from the ward; not to be reused"))
	b.submitAndReload(`#bags button[type="submit"]`)
	if row := b.text(`#bags li`); !strings.Contains(row, "No bag is waiting") {
		t.Errorf("after the discard the pharmacy lists %q", row)
	}
	if got, err := s.store.DoseBag(ctx, bag2.ID); err != nil || got.Status != domain.BagDiscarded {
		t.Errorf("SVP-002's bag after the discard: %+v %v", got.Status, err)
	}
	b.shot("20-pharmacy-bag-discarded")
}

// An ended session sends the person to log in with a message that says why, and back to
// the page they were on.
func TestBrowserSessionEnd(t *testing.T) {
	s := newSite(t, storetest.SQLite)
	b := newBrowser(t, s.url)
	b.login("rn.dee")
	b.open("/bedside")
	// The server no longer knows the session: as after 15 idle minutes.
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		return network.SetCookie(api.SessionCookie, "a-session-that-has-ended").WithURL(s.url).Do(ctx)
	}))
	b.open("/bedside")
	if msg := b.text("#flash"); !strings.Contains(msg, "session has ended") {
		t.Fatalf("after the session ended: %q", msg)
	}
	b.run(chromedp.SendKeys(`input[name="username"]`, "rn.dee"), chromedp.SendKeys(`input[name="password"]`, password+"\r"), chromedp.WaitVisible("#bedside"))
	b.shot("00-session-ended-back-to-bedside")
}

// The physician's journey, in a real browser: land on the patients, enrol one through the
// form (a malformed subject id named as it is typed), record a weight and see the target dose
// it gives before ordering, order the dose, report an adverse event (the server's field error
// shown next to the field, then accepted). The store holds what the pages said.
func TestBrowserPhysician(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx := context.Background()

	b.login("dr.cho")
	var path string
	b.run(chromedp.Evaluate(`location.pathname`, &path))
	if path != "/patients" {
		t.Fatalf("a physician lands on %s, want /patients", path)
	}
	if b.text(`nav a[href="/patients"]`) != "Patients" {
		t.Error("no Patients link in the navigation")
	}
	b.shot("20-patients-empty")

	// Enrol. A subject id in the wrong shape is named before anything is sent.
	b.run(chromedp.SendKeys(`#enrol input[name="subject_id"]`, "svp-1"))
	if note := b.text(`#enrol label:has(input[name="subject_id"]) .field-note`); !strings.Contains(note, "capital letters") {
		t.Errorf("a malformed subject id shows %q", note)
	}
	b.run(chromedp.Evaluate(`document.querySelector('#enrol input[name="subject_id"]').value = ""`, nil),
		chromedp.SendKeys(`#enrol input[name="subject_id"]`, "SVP-101"),
		chromedp.SendKeys(`#enrol input[name="mrn"]`, "MRN0101"),
		chromedp.SendKeys(`#enrol input[name="name"]`, "Chen Jing"),
		chromedp.SetValue(`#enrol input[name="date_of_birth"]`, "1975-04-03"),
		chromedp.SendKeys(`#enrol input[name="weight_kg"]`, "68"),
		chromedp.SetValue(`#enrol select[name="arm"]`, "huc_msc"))
	b.shot("21-patients-enrol")
	b.submitAndReload(`#enrol button[type="submit"]`)
	if h := b.text("h1"); !strings.Contains(h, "SVP-101") {
		t.Fatalf("after enrolling, the page shows %q", h)
	}
	p, err := s.store.PatientBySubject(ctx, "SVP-101")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Chen Jing" || p.MRN != "MRN0101" || p.DateOfBirth != "1975-04-03" || p.WeightKg != 68 || p.Arm != domain.ArmHUCMSC {
		t.Fatalf("enrolled: %+v", p)
	}
	if tgt := b.text("#order-target"); !strings.Contains(tgt, "6.80 × 10^7") || !strings.Contains(tgt, "68 kg") {
		t.Errorf("target before the new weight: %q", tgt)
	}
	if w := b.text("#window"); !strings.Contains(w, time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")) {
		t.Errorf("infusion window: %q, want day 1 after enrolment", w)
	}

	// A new weight: the target it gives shows as it is typed, before it is recorded.
	b.run(chromedp.SendKeys(`#weigh input[name="weight_kg"]`, "72.5"))
	if pv := b.text("#weight-target"); !strings.Contains(pv, "7.25 × 10^7") {
		t.Errorf("weight preview: %q", pv)
	}
	b.shot("22-patient-weight-preview")
	b.submitAndReload(`#weigh button[type="submit"]`)
	if tgt := b.text("#order-target"); !strings.Contains(tgt, "7.25 × 10^7") || !strings.Contains(tgt, "72.5 kg") {
		t.Errorf("target after the new weight: %q", tgt)
	}

	// The order.
	b.submitAndReload(`#order button[type="submit"]`)
	if st := b.text("#dose-state"); !strings.Contains(st, "order open") {
		t.Errorf("after ordering: %q", st)
	}
	if o := b.text("#orders"); !strings.Contains(o, "7.25 × 10^7") {
		t.Errorf("orders table: %q", o)
	}

	// An adverse event: life-threatening but not ticked serious is refused with the field named.
	b.run(chromedp.Evaluate(`document.getElementById("ae-box").open = true`, nil),
		chromedp.SetValue(`#adverse-event select[name="severity"]`, "life_threatening"),
		chromedp.Evaluate(`document.querySelector('#adverse-event input[name="onset_at"]').value = (() => { const d = new Date(Date.now() - 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16) })()`, nil),
		chromedp.SendKeys(`#adverse-event textarea[name="description"]`, "Anaphylaxis 20 minutes after the weight check"),
		chromedp.Click(`#adverse-event button[type="submit"]`))
	b.waitFor(`!!document.querySelector('#adverse-event .form-error')`)
	b.expectRefusal(400, "/api/v1/adverse-events")
	if note := b.text(`#adverse-event label:has(input[name="serious"]) .field-note`); !strings.Contains(note, "serious") {
		t.Errorf("refused event: the serious box shows %q", note)
	}
	b.shot("23-patient-adverse-event-refused")
	b.run(chromedp.Click(`#adverse-event input[name="serious"]`))
	b.submitAndReload(`#adverse-event button[type="submit"]`)
	if ev := b.text("main"); !strings.Contains(ev, "SERIOUS") || !strings.Contains(ev, "Anaphylaxis") {
		t.Errorf("after reporting, the page lacks the event")
	}
	b.shot("24-patient-ordered")

	b.open("/patients")
	if row := b.text("#patients tbody tr"); !strings.Contains(row, "SVP-101") || !strings.Contains(row, "72.5 kg") || !strings.Contains(row, "order open") {
		t.Errorf("list row: %q", row)
	}
	b.shot("25-patients-list")

	// The record.
	d, err := s.store.PatientDetail(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Weights) != 2 || d.Weights[1].WeightKg != 72.5 || d.Weights[1].RecordedBy != "Test dr.cho" {
		t.Errorf("weights: %+v", d.Weights)
	}
	if len(d.Orders) != 1 || d.Orders[0].Status != "open" || d.Orders[0].TargetViableCells != 72_500_000 || d.Orders[0].WeightKg != 72.5 {
		t.Errorf("orders: %+v", d.Orders)
	}
	tr, err := s.store.PatientTrace(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.AdverseEvents) != 1 || !tr.AdverseEvents[0].Serious || tr.AdverseEvents[0].Severity != "life_threatening" || !strings.HasPrefix(tr.AdverseEvents[0].Description, "Anaphylaxis") {
		t.Errorf("adverse events: %+v", tr.AdverseEvents)
	}

	// The dose must not be given after all: the physician cancels the open order with the
	// reason; the order shows cancelled and the dose can be ordered again.
	b.open(fmt.Sprintf("/patients/%d", p.ID))
	b.run(chromedp.SendKeys(`#cancel-order input[name="reason"]`, "Consent withdrawn by the patient"))
	b.submitAndReload(`#cancel-order button[type="submit"]`)
	if o := b.text("#orders"); !strings.Contains(o, "cancelled") {
		t.Errorf("orders table after cancelling: %q", o)
	}
	var orderable bool
	b.run(chromedp.Evaluate(`!!document.getElementById("order") && !document.getElementById("cancel-order")`, &orderable))
	if !orderable {
		t.Error("after cancelling, the page does not offer a new order")
	}
	b.shot("26-patient-order-cancelled")
	if d, err = s.store.PatientDetail(ctx, p.ID); err != nil || len(d.Orders) != 1 || d.Orders[0].Status != domain.OrderCancelled {
		t.Errorf("orders after cancelling: %+v %v", d.Orders, err)
	}
}
