package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"cordtrace/domain"
)

// An admin on the users page, in a real browser: disabling needs a reason and ends the
// nurse's session at once; enable brings the account back; "End sessions" ends a fresh one.
// The admin's own row offers no Disable.
func TestBrowserUsersPage(t *testing.T) {
	s := newSite(t, browserBackend(t))
	b := newBrowser(t, s.url)
	ctx := context.Background()
	nurse := func() string {
		t.Helper()
		sess, err := s.store.Login(ctx, domain.Credentials{Username: "rn.dee", Password: password})
		if err != nil {
			t.Fatalf("the nurse logs in: %v", err)
		}
		return sess.Token
	}
	ended := func(token, because string) {
		t.Helper()
		if _, err := s.store.Authenticate(ctx, token); domain.ErrorCode(err) != domain.EUnauthenticated || !strings.Contains(domain.ErrorMessage(err), because) {
			t.Fatalf("the nurse's session: %v, want ended saying %q", err, because)
		}
	}
	token := nurse()

	b.open("/login")
	b.run(chromedp.SendKeys(`input[name="username"]`, "admin"), chromedp.SendKeys(`input[name="password"]`, "admin password 1"),
		chromedp.Click(`form[action="/login"] button`), chromedp.WaitVisible("nav"))
	b.run(chromedp.Click(`nav a[href="/users"]`), chromedp.WaitVisible("#users"))
	if n := b.text(`li[data-user="admin"] form.disable`); n != "" {
		t.Fatalf("the admin may disable their own account: %q", n)
	}
	b.shot("40-users")

	row := `li[data-user="rn.dee"] `
	b.run(chromedp.Click(row + `form.disable button`))
	b.waitFor(`document.querySelector('li[data-user="rn.dee"] input[name="reason"]').getAttribute("aria-invalid") === "true"`)
	if _, err := s.store.Authenticate(ctx, token); err != nil {
		t.Fatalf("a disable without a reason ended the session: %v", err)
	}
	b.run(chromedp.SendKeys(row+`input[name="reason"]`, "left the ward"))
	b.submitAndReload(row + `form.disable button`)
	if st := b.text(row + `.user-state`); !strings.Contains(st, "Disabled") || !strings.Contains(st, "left the ward") {
		t.Fatalf("the row after disabling: %q", st)
	}
	ended(token, "an admin disabled your account")
	b.shot("41-users-disabled")

	b.submitAndReload(row + `form.enable button`)
	if st := b.text(row + `.user-state`); st != "Active" {
		t.Fatalf("the row after enabling: %q", st)
	}
	token = nurse()
	b.submitAndReload(row + `form.end-sessions button`)
	ended(token, "an admin ended your sessions")

	// Only admins see the page.
	b.logout()
	b.login("rn.fay")
	b.open("/users")
	if msg := b.text("#flash"); !strings.Contains(msg, "admin") {
		t.Fatalf("a nurse on the users page: %q", msg)
	}
	b.expectRefusal(403, "/users")
	b.noConsoleErrors("users as a nurse")
}
