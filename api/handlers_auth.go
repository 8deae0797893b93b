package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// userJSON is a user as the API shows it (SPEC §12), with the account's state when it is
// disabled or locked.
type userJSON struct {
	ID             int64         `json:"id"`
	Username       string        `json:"username"`
	FullName       string        `json:"full_name"`
	Roles          []domain.Role `json:"roles"`
	DisabledAt     *time.Time    `json:"disabled_at,omitempty"`
	DisabledReason string        `json:"disabled_reason,omitempty"`
	LockedUntil    *time.Time    `json:"locked_until,omitempty"`
}

func toUserJSON(u domain.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []domain.Role{}
	}
	return userJSON{ID: u.ID, Username: u.Username, FullName: u.FullName, Roles: roles,
		DisabledAt: u.DisabledAt, DisabledReason: u.DisabledReason, LockedUntil: u.LockedUntil}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		return domain.Errorf(domain.EUnavailable, "the database does not answer; the service cannot take requests")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) login(c echo.Context) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := required("username", in.Username, "password", in.Password); err != nil {
		return err
	}
	sess, err := s.svc.Auth.Login(c.Request().Context(), domain.Credentials{Username: in.Username, Password: in.Password,
		RequestID: requestID(c), ClientAddress: c.RealIP()})
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: sess.Token, Path: "/", HttpOnly: true,
		Secure: s.secureCookie(c), SameSite: http.SameSiteStrictMode,
	})
	return c.JSON(http.StatusOK, map[string]any{
		"token":             sess.Token,
		"user":              toUserJSON(sess.User),
		"idle_timeout_secs": int(s.cfg.SessionIdle.Seconds()),
		"expires_at":        sess.CreatedAt.Add(s.cfg.SessionLifetime).UTC(),
	})
}

// secureCookie tells whether the session cookie is sent over HTTPS only: always when the
// configuration says so, else when the request itself came over HTTPS (directly, or behind a
// proxy that says so with X-Forwarded-Proto).
func (s *Server) secureCookie(c echo.Context) bool {
	return s.cfg.SecureCookies || c.Scheme() == "https"
}

func (s *Server) logout(c echo.Context) error {
	if err := s.svc.Auth.Logout(c.Request().Context(), currentActor(c), sessionToken(c)); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookie(c), SameSite: http.SameSiteStrictMode})
	return noContent(c)
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, toUserJSON(currentUser(c)))
}

func (s *Server) changePassword(c echo.Context) error {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := required("current_password", in.CurrentPassword, "new_password", in.NewPassword); err != nil {
		return err
	}
	if err := s.svc.Users.ChangePassword(c.Request().Context(), currentActor(c), sessionToken(c), in.CurrentPassword, in.NewPassword); err != nil {
		return err
	}
	return noContent(c)
}

func (s *Server) createUser(c echo.Context) error {
	var in domain.NewUser
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.svc.Users.CreateUser(c.Request().Context(), currentActor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toUserJSON(u))
}

func (s *Server) listUsers(c echo.Context) error {
	users, err := s.svc.Users.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	return c.JSON(http.StatusOK, map[string]any{"users": out})
}

func (s *Server) disableUser(ctx context.Context, actor domain.Actor, id int64, reason string) (userJSON, error) {
	u, err := s.svc.Users.DisableUser(ctx, actor, id, reason)
	return toUserJSON(u), err
}

func (s *Server) enableUser(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	u, err := s.svc.Users.EnableUser(c.Request().Context(), currentActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}

func (s *Server) setRoles(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Roles []domain.Role `json:"roles"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.svc.Users.SetRoles(c.Request().Context(), currentActor(c), id, in.Roles)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}

func (s *Server) endUserSessions(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	n, err := s.svc.Users.EndUserSessions(c.Request().Context(), currentActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int64{"sessions_ended": n})
}

func (s *Server) listAudit(c echo.Context) error {
	f := domain.AuditFilter{EntityType: c.QueryParam("entity_type"), EntityID: c.QueryParam("entity_id")}
	var err error
	if f.AfterSeq, err = queryInt(c, "after_seq"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	entries, err := s.svc.Audit.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []domain.AuditEntry{}
	}
	// Enrolments and bedside verifications carry patients' names, MRNs or dates of birth:
	// withheld from readers who may not see them (admin), a recorded disclosure for the others.
	u := currentUser(c)
	if role, ok := domain.MaySeePatientIdentity(u.Roles, false); !ok {
		for i := range entries {
			entries[i] = entries[i].WithoutPatientIdentity()
		}
	} else {
		var ids []int64
		for _, e := range entries {
			if id, ok := e.IdentifiedPatient(); ok {
				ids = append(ids, id)
			}
		}
		if err := s.discloseAs(c, u.ActingAs(role, requestID(c)), domain.ViaAPIAudit, domain.IdentityFields, ids); err != nil {
			return err
		}
	}
	out := map[string]any{"entries": entries}
	if len(entries) > 0 {
		out["next_after_seq"] = entries[len(entries)-1].Seq
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) verifyAudit(c echo.Context) error {
	rep, err := s.svc.Audit.VerifyAudit(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.FieldError(name, "%s must be a whole number of 0 or more", name)
	}
	return n, nil
}
