package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// Each dashboard opens for the roles the permission table gives it and is refused (403) to
// every other role; the index opens for anyone with at least one. What they show is escaped,
// and none of them shows a patient's MRN, subject id or name.
func TestDashboardsFollowThePermissionTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		setup := domain.Actor{FullName: "setup"}
		users := map[domain.Role]domain.User{}
		for _, role := range domain.AllRoles {
			u, err := st.CreateUser(ctx, setup, domain.NewUser{Username: "only." + string(role), FullName: "Only " + string(role), Password: password, Roles: []domain.Role{role}})
			if err != nil {
				t.Fatal(err)
			}
			users[role] = u
		}
		as := func(role domain.Role) domain.Actor {
			u := users[role]
			return u.ActingAs(role, "")
		}
		d, err := st.CreateDonation(ctx, as(domain.RoleQC), domain.NewDonation{CollectedAt: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		storetest.DetermineEligible(t, st, d.ID)
		lot, err := st.CreateLot(ctx, as(domain.RoleQC), domain.NewLot{DonationID: d.ID, LotNumber: "Q-<i>1</i>", ManufacturedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().AddDate(0, 0, 20)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Quarantine(ctx, as(domain.RoleQC), lot.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateUnits(ctx, as(domain.RoleQC), lot.ID, domain.NewUnits{Count: 2, ViableCells: 35_000_000, VolumeML: 25}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddQCResult(ctx, as(domain.RoleQC), lot.ID, domain.QCResult{Test: domain.TestViability, Value: f64(75)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Enrol(ctx, as(domain.RolePhysician), domain.Patient{SubjectID: "SVP-777", MRN: "MRN7777", Name: "Zhang Secret", DateOfBirth: "1950-01-01",
			WeightKg: 60, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Verify(ctx, as(domain.RoleNurse), domain.BedsideRequest{Wristband: "MRN7777", Ward: "Ward <b>7</b>",
			Scan: domain.CustodyScan{Code: "typed by hand", CodeKind: domain.CodeManual}, EntryReason: &domain.EntryReason{Code: domain.ReasonScannerDown}}); err != nil {
			t.Fatal(err)
		}

		srv := pagesServer(t, st)

		perms := map[string]domain.Permission{"/dashboards/lab": domain.PermDashboardLab, "/dashboards/stock": domain.PermDashboardStock,
			"/dashboards/compliance": domain.PermDashboardCompliance}
		shows := map[string][]string{"/dashboards/lab": {"Q-&lt;i&gt;1&lt;/i&gt;", `class="point below"`, `class="limit"`},
			"/dashboards/stock":      {"Q-&lt;i&gt;1&lt;/i&gt;", "<td>2</td>"},
			"/dashboards/compliance": {"Ward &lt;b&gt;7&lt;/b&gt;", "LABEL_AUTHENTIC", "<td>100.0</td>"}}
		seen := map[string]bool{}
		for _, role := range domain.AllRoles {
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar}
			res, err := client.PostForm(srv.URL+"/login", url.Values{"username": {"only." + string(role)}, "password": {password}})
			if err != nil {
				t.Fatal(err)
			}
			home, _ := io.ReadAll(res.Body)
			res.Body.Close()
			get := func(path string) (int, string) { return getPage(t, client, srv.URL+path) }
			any := false
			for path, perm := range perms {
				_, err := domain.Authorize(users[role], perm)
				allowed := err == nil
				any = any || allowed
				status, body := get(path)
				if (status == http.StatusOK) != allowed || (!allowed && status != http.StatusForbidden) {
					t.Errorf("%s as %s: %d, table says allowed=%v", path, role, status, allowed)
					continue
				}
				if !allowed {
					if !strings.Contains(body, "needs the role") {
						t.Errorf("%s as %s: the refusal does not say which role is needed", path, role)
					}
					continue
				}
				seen[path] = true
				for _, secret := range []string{"MRN7777", "SVP-777", "Zhang"} {
					if strings.Contains(body, secret) {
						t.Errorf("%s discloses patient data (%s)", path, secret)
					}
				}
				if strings.Contains(body, "<i>1</i>") || strings.Contains(body, "<b>7</b>") {
					t.Errorf("%s writes a lot number or ward as markup", path)
				}
				for _, want := range shows[path] {
					if !strings.Contains(body, want) {
						t.Errorf("%s as %s lacks %s", path, role, want)
					}
				}
				if !strings.Contains(body, "<svg") || !strings.Contains(body, "<details>") || !strings.Contains(body, "<desc id=") {
					t.Errorf("%s lacks its charts or their data tables", path)
				}
			}
			status, _ := get("/dashboards")
			if want := map[bool]int{true: 200, false: 403}[any]; status != want {
				t.Errorf("/dashboards as %s: %d, want %d", role, status, want)
			}
			if hasLink := strings.Contains(string(home), `href="/dashboards"`); hasLink != any {
				t.Errorf("as %s: link to the dashboards shown=%v, want %v", role, hasLink, any)
			}
		}
		if len(seen) != len(perms) {
			t.Fatalf("dashboards opened by some role: %v, want all %d", seen, len(perms))
		}
	})
}

func f64(v float64) *float64 { return &v }
