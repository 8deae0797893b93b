package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

type usersData struct {
	Users []userLine
}

// userLine is one account on the users page: the user, whether it is the admin looking, and
// the end of a lock after failed logins still running.
type userLine struct {
	domain.User
	Me          bool
	LockedUntil *time.Time
}

// users lists every account with its state, and the admin's actions on each: disable (with
// the reason), enable, end sessions. The buttons call the JSON API, which decides and audits.
func (h *Handler) users(c echo.Context, u domain.User) error {
	list, err := h.svc.Users.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	now := time.Now()
	lines := make([]userLine, len(list))
	for i, x := range list {
		lines[i] = userLine{User: x, Me: x.ID == u.ID}
		if x.Locked(now) {
			lines[i].LockedUntil = x.LockedUntil
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "users", View{Title: "Users", User: &u, Data: usersData{Users: lines}})
}
