package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// The trial page (SPEC §13): the allocation lists and the subjects by arm, for physicians and
// QA; QA loads and signs the list here. Aggregates only: it names no patient.

type trialData struct {
	domain.TrialSummary
}

func (h *Handler) trial(c echo.Context, u domain.User) error {
	view := View{Title: "Trial", User: &u}
	sum, err := h.svc.Trial.TrialSummary(c.Request().Context())
	if err != nil {
		return err
	}
	view.Data = trialData{TrialSummary: sum}
	return h.pages.Render(c.Response(), http.StatusOK, "trial", view)
}
