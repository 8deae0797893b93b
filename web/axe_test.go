package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axePackage is the accessibility checker the browser tests run in each page, installed with
// npm into a temporary folder (never into the service).
const axePackage = "axe-core@4.14.1"

// axeSource installs axe-core and returns its script, or skips where npm is missing (CI
// requires it: CORDTRACE_REQUIRE_TOOLS).
func axeSource(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CORDTRACE_REQUIRE_TOOLS") == "1" {
			t.Fatal("npm is required: it installs axe-core for the accessibility checks")
		}
		t.Skip("npm not installed; CI installs it")
	}
	dir := t.TempDir()
	if out, err := exec.Command(npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, axePackage).CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v: %s", axePackage, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every page (everyPage: the login, the lab's, pharmacy's, ward's and physician's pages, the
// traces, the dashboards and their detail pages, a refusal), at 390 and 1280 px, has no
// serious or critical WCAG 2.1 A/AA violation that axe-core finds, with what the page's
// script fills in after loading (the infusions in progress) included.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	s := newSite(t, browserBackend(t))
	pages := s.everyPage(t)
	eachPage(t, s.url, pages, widths, func(t *testing.T, b *browser, p visit, width int64) {
		if found := b.axeViolations(axe); len(found) > 0 {
			t.Errorf("%s as %q at %d px: %s", p.path, p.user, width, strings.Join(found, "; "))
		}
	})
}

// axeViolations runs axe-core (its source, from axeSource) on the page as it is now and
// returns its serious and critical WCAG 2.1 A/AA violations, each with up to three elements.
func (b *browser) axeViolations(axe string) []string {
	b.t.Helper()
	var found []string
	b.run(chromedp.Evaluate(axe, nil), chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then((r) => r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
		.map((v) => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")))`,
		&found, func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	return found
}
