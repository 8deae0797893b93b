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

// visit is one page as one person opens it ("" before login); a forbidden one is answered
// with 403 and the person's own start page named.
type visit struct {
	user, path string
	forbidden  bool
}

// everyPage fills a site with something of everything (a lot in process with a result, a
// released lot, a dose being infused, an order waiting for the pharmacy) and returns every
// page of the site as the people who use it open it, the refusal of a page to someone else
// included.
func (s *site) everyPage(t *testing.T) []visit {
	t.Helper()
	ctx := context.Background()
	in := s.infusing(t)
	open := s.newLot(t, "HUC-OPEN-001")
	v := 91.2
	if _, err := s.store.AddQCResult(ctx, s.actor("qc.ann"), open.ID, domain.QCResult{Test: domain.TestViability, Value: &v}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.CreateUnits(ctx, s.actor("qc.ann"), in.lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25}); err != nil {
		t.Fatal(err)
	}
	waiting, err := s.store.Enrol(ctx, s.actor("dr.cho"), domain.Patient{SubjectID: "SVP-503", MRN: "MRN0503", Name: "Lin Hua", DateOfBirth: "1955-11-30",
		WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC().AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	order, err := s.store.OrderDose(ctx, s.actor("dr.cho"), waiting.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.CreateUser(ctx, domain.Actor{FullName: "setup"}, domain.NewUser{Username: "ad.min", FullName: "Test ad.min",
		Password: password, Roles: []domain.Role{domain.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	lotOpen, lotReleased := fmt.Sprintf("/lots/%d", open.ID), fmt.Sprintf("/lots/%d", in.lot.ID)
	patient, traced := fmt.Sprintf("/patients/%d", in.patient.ID), fmt.Sprintf("/trace/patients/%d", in.patient.ID)
	var pages []visit
	as := func(user string, paths ...string) {
		for _, path := range paths {
			pages = append(pages, visit{user: user, path: path})
		}
	}
	as("", "/login")
	as("qc.ann", "/lots", lotOpen, lotReleased, "/trace", "/trace?lot=HUC", fmt.Sprintf("/trace/lots/%d", in.lot.ID), "/dashboards", "/dashboards/lab")
	as("qc.ann", fmt.Sprintf("/donations/%d", open.DonationID))
	as("qa.bob", lotOpen, lotReleased, traced, fmt.Sprintf("/donations/%d", open.DonationID), "/dashboards/stock", "/dashboards/compliance")
	as("ph.eve", "/pharmacy", fmt.Sprintf("/pharmacy/orders/%d", order.ID), "/dispatch")
	as("rn.dee", "/bedside", "/receive", "/patients", patient)
	pages = append(pages, visit{user: "rn.dee", path: "/pharmacy", forbidden: true})
	as("dr.cho", "/patients", patient, traced)
	as("dr.cho", "/safety", "/deviations")
	as("qa.bob", "/trial", "/trial/endpoints")
	as("rn.dee", "/follow-up", fmt.Sprintf("/patients/%d/follow-up", in.patient.ID))
	as("rn.dee", "/deviations")
	as("ad.min", "/users")
	return pages
}

// eachPage opens every page at each width and calls check on it once its script has filled
// it in. Each person's pages run in a subtest with a browser of their own, logged in, so
// that a slow machine spends no one browser's time limit on all of them.
func eachPage(t *testing.T, base string, pages []visit, widths []int64, check func(t *testing.T, b *browser, p visit, width int64)) {
	t.Helper()
	for start := 0; start < len(pages); {
		end := start + 1
		for end < len(pages) && pages[end].user == pages[start].user {
			end++
		}
		group, name := pages[start:end], pages[start].user
		if name == "" {
			name = "anonymous"
		}
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t, base)
			if group[0].user != "" {
				b.login(group[0].user)
			}
			for _, p := range group {
				for _, width := range widths {
					b.run(chromedp.EmulateViewport(width, 844))
					b.open(p.path)
					b.waitFor(`document.readyState === "complete"`)
					time.Sleep(200 * time.Millisecond) // lists the script asks the API for
					if p.forbidden {
						b.expectRefusal(403, p.path)
					}
					check(t, b, p, width)
				}
			}
			b.noConsoleErrors(name + "'s pages")
		})
		start = end
	}
}

// On every page at 390 px every control a finger hits is at least 44 × 44 px: buttons,
// fields, menus, the header's links, and links that stand on their own (a link inside a
// sentence is sized by its text, WCAG 2.5.5's exception); checkboxes are 24 px, labelled.
// Every table's Status column shows at 390 px without scrolling sideways, and the scrolling
// boxes can be reached and scrolled by keyboard.
func TestBrowserTargetsOnEveryPage(t *testing.T) {
	s := newSite(t, browserBackend(t))
	pages := s.everyPage(t)
	eachPage(t, s.url, pages, []int64{390}, func(t *testing.T, b *browser, p visit, _ int64) {
		var small, hidden, unreachable []string
		b.run(chromedp.Evaluate(`(() => {
			const size = (el) => { const r = el.getBoundingClientRect(); return Math.round(r.width) + "×" + Math.round(r.height); };
			const inSentence = (a) => {
				const block = a.closest("p, li, dd");
				return block && !block.matches(".bar *") && block.textContent.trim().length > a.textContent.trim().length + 2 &&
					!a.matches("td > a:only-child, .links a, a.button");
			};
			return [...document.querySelectorAll("a[href], button, input, select, summary, [tabindex]:not([tabindex='-1'])")]
				.filter((el) => el.type !== "hidden" && el.type !== "checkbox" && el.type !== "radio" && el.getClientRects().length > 0)
				.filter((el) => !(el.matches("a") && inSentence(el)))
				.filter((el) => { const r = el.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
				.map((el) => el.outerHTML.slice(0, 70) + " " + size(el));
		})()`, &small), chromedp.Evaluate(`[...document.querySelectorAll("th")]
			.filter((th) => th.textContent.trim() === "Status" && th.getClientRects().length > 0)
			.filter((th) => th.getBoundingClientRect().right > document.documentElement.clientWidth)
			.map((th) => th.closest("table").id || th.closest("table").className || "table")`, &hidden),
			chromedp.Evaluate(`[...document.querySelectorAll(".scroll")]
			.filter((el) => el.getAttribute("tabindex") !== "0" || !el.getAttribute("aria-label") || !el.getAttribute("role"))
			.map((el) => el.outerHTML.slice(0, 70))`, &unreachable))
		if len(small) > 0 {
			t.Errorf("%s as %q at 390 px: %d controls under 44 × 44 px: %s", p.path, p.user, len(small), strings.Join(small, "; "))
		}
		if len(hidden) > 0 {
			t.Errorf("%s as %q at 390 px: the Status column is off the screen in %v", p.path, p.user, hidden)
		}
		if len(unreachable) > 0 {
			t.Errorf("%s as %q: scrolling boxes without tabindex=0, a role and a label: %v", p.path, p.user, unreachable)
		}
		if p.user == "qc.ann" && strings.HasPrefix(p.path, "/lots/") {
			b.shot("targets-lot-" + strings.TrimPrefix(p.path, "/lots/"))
		}
	})
}
