package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cordtrace/domain"
)

// Over HTTP, on both databases: an admin disables an account (its sessions end, its password
// no longer logs in), enables it again and ends a user's sessions; each is refused with a
// clear 4xx when it cannot be done, and audited.
func TestAdminDisablesEnablesAndEndsSessions(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		nurse := ts.userWith(admin, "nurse.dee", domain.RoleNurse)
		other := ts.login("nurse.dee", "a good password")
		r := ts.do("GET", "/api/v1/users", admin, nil)
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		var id, adminID int64
		for _, u := range r.json(t)["users"].([]any) {
			u := u.(map[string]any)
			switch u["username"] {
			case "nurse.dee":
				id = int64(u["id"].(float64))
			case "admin":
				adminID = int64(u["id"].(float64))
			}
		}
		if id == 0 || adminID == 0 {
			t.Fatalf("the list lacks a user: %s", r.body)
		}
		path := func(action string) string { return fmt.Sprintf("/api/v1/users/%d/%s", id, action) }
		for _, tc := range []struct {
			name, path string
			body       any
			status     int
			code, want string
		}{
			{"no reason", path("disable"), map[string]string{"reason": " "}, 400, domain.EInvalid, "reason"},
			{"own account", fmt.Sprintf("/api/v1/users/%d/disable", adminID), map[string]string{"reason": "x"}, 422, domain.ERuleViolated, "your own account"},
			{"nobody", "/api/v1/users/99999/disable", map[string]string{"reason": "x"}, 404, domain.ENotFound, "no user"},
			{"not an id", "/api/v1/users/abc/disable", map[string]string{"reason": "x"}, 400, domain.EInvalid, "positive whole number"},
			{"enable an enabled account", path("enable"), nil, 409, domain.EConflict, "neither disabled nor locked"},
		} {
			r := ts.do("POST", tc.path, admin, tc.body)
			if r.status != tc.status || r.errorOf(t)["code"] != tc.code || !strings.Contains(fmt.Sprint(r.errorOf(t)), tc.want) {
				t.Errorf("%s: %d %s; want %d %s saying %q", tc.name, r.status, r.body, tc.status, tc.code, tc.want)
			}
		}
		if r := ts.do("GET", "/api/v1/me", nurse, nil); r.status != 200 {
			t.Fatalf("a refused disable ended the session: %d %s", r.status, r.body)
		}

		r = ts.do("POST", path("disable"), admin, map[string]string{"reason": "left the ward"})
		if r.status != 200 || r.json(t)["disabled_reason"] != "left the ward" || r.json(t)["disabled_at"] == nil {
			t.Fatalf("disable: %d %s", r.status, r.body)
		}
		for _, tok := range []string{nurse, other} {
			if r := ts.do("GET", "/api/v1/me", tok, nil); r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "an admin disabled your account") {
				t.Fatalf("a session of the disabled account: %d %s", r.status, r.body)
			}
		}
		login := func() response {
			return ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "nurse.dee", "password": "a good password"})
		}
		if r := login(); r.status != 401 || r.errorOf(t)["code"] != domain.EAccountDisabled {
			t.Fatalf("login to the disabled account: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", path("enable"), admin, nil); r.status != 200 || r.json(t)["disabled_at"] != nil {
			t.Fatalf("enable: %d %s", r.status, r.body)
		}
		nurse, other = ts.login("nurse.dee", "a good password"), ts.login("nurse.dee", "a good password")

		r = ts.do("POST", path("sessions/end"), admin, nil)
		if r.status != 200 || r.json(t)["sessions_ended"] != float64(2) {
			t.Fatalf("end sessions: %d %s", r.status, r.body)
		}
		for _, tok := range []string{nurse, other} {
			if r := ts.do("GET", "/api/v1/me", tok, nil); r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "an admin ended your sessions") {
				t.Fatalf("a session an admin ended: %d %s", r.status, r.body)
			}
		}
		if r := ts.do("GET", "/api/v1/me", admin, nil); r.status != 200 {
			t.Fatalf("the admin's own session ended: %d %s", r.status, r.body)
		}

		var actions []string
		for _, e := range ts.do("GET", fmt.Sprintf("/api/v1/audit?entity_type=user&entity_id=%d", id), admin, nil).json(t)["entries"].([]any) {
			e := e.(map[string]any)
			if a := e["action"].(string); a != "user.create" {
				actions = append(actions, a+" by "+e["user_name"].(string))
			}
		}
		if got := strings.Join(actions, ", "); got != "user.disable by Administrator, user.enable by Administrator, user.sessions_end by Administrator" {
			t.Fatalf("audit: %s", got)
		}
	})
}

// Over HTTP: new roles end the user's sessions; a new login holds them.
func TestRoleChangeEndsSessionsOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		nurse := ts.userWith(admin, "nurse.fay", domain.RoleNurse)
		id := int64(ts.do("GET", "/api/v1/me", nurse, nil).json(t)["id"].(float64))
		path := fmt.Sprintf("/api/v1/users/%d/roles", id)
		if r := ts.do("PUT", path, admin, map[string]any{"roles": []string{"chef"}}); r.status != 400 || r.errorOf(t)["field"] != "roles" {
			t.Fatalf("an unknown role: %d %s", r.status, r.body)
		}
		if r := ts.do("PUT", path, admin, map[string]any{"roles": []string{"nurse", "physician"}}); r.status != 200 {
			t.Fatalf("set roles: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/me", nurse, nil); r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "your roles were changed") {
			t.Fatalf("the session after the role change: %d %s", r.status, r.body)
		}
		again := ts.login("nurse.fay", "a good password")
		if roles := fmt.Sprint(ts.do("GET", "/api/v1/me", again, nil).json(t)["roles"]); roles != "[physician nurse]" {
			t.Fatalf("roles after a new login: %s", roles)
		}
	})
}

// A password change over HTTP ends the user's other sessions and keeps the one that made it;
// five wrong passwords end them all.
func TestPasswordChangeAndLockEndSessionsOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		here := ts.userWith(admin, "nurse.eve", domain.RoleNurse)
		there := ts.login("nurse.eve", "a good password")
		if r := ts.do("POST", "/api/v1/me/password", here, map[string]string{"current_password": "a good password", "new_password": "a better password"}); r.status != 204 {
			t.Fatalf("change: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/me", here, nil); r.status != 200 {
			t.Fatalf("the session that changed the password: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/me", there, nil); r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "password was changed") {
			t.Fatalf("another session after the change: %d %s", r.status, r.body)
		}
		for range domain.MaxFailedLogins {
			ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "nurse.eve", "password": "wrong password!"})
		}
		if r := ts.do("GET", "/api/v1/me", here, nil); r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "locked") {
			t.Fatalf("a session after the lock: %d %s", r.status, r.body)
		}
	})
}
