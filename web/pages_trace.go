package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// traceIndex finds what to trace: a lot by number or DIN, a patient by subject id.
func (h *Handler) traceIndex(c echo.Context, u domain.User) error {
	ctx := c.Request().Context()
	view := View{Title: "Trace", User: &u}
	if q := c.QueryParam("lot"); q != "" {
		lots, err := h.svc.Lab.ListLots(ctx, domain.LotFilter{Query: q})
		switch {
		case err != nil:
			view.Flash = domain.ErrorMessage(err)
		case len(lots) == 1:
			return c.Redirect(http.StatusSeeOther, "/trace/lots/"+itoa(lots[0].ID))
		case len(lots) == 0:
			view.Flash = "No lot has that number or DIN. Check it against the label."
		default:
			view.Data = lots
		}
	}
	if q := c.QueryParam("subject"); q != "" {
		p, err := h.svc.Patients.PatientBySubject(ctx, q)
		if err != nil {
			view.Flash = domain.ErrorMessage(err)
		} else {
			return c.Redirect(http.StatusSeeOther, "/trace/patients/"+itoa(p.ID))
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "trace", view)
}

func (h *Handler) lotTrace(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return h.traceMessage(c, u, "There is no such lot.")
	}
	tr, err := h.svc.Trace.LotTrace(c.Request().Context(), id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.traceMessage(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if _, ok := domain.MaySeePatientIdentity(u.Roles, false); !ok {
		tr = tr.WithoutIdentity()
	} else if err := h.disclose(c, u, domain.ViaPageLotTrace, recordFields, tr.IdentifiedPatients()); err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "lot_trace", View{Title: "Trace lot " + tr.Lot.LotNumber, User: &u, Data: tr})
}

func (h *Handler) patientTrace(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return h.traceMessage(c, u, "There is no such patient.")
	}
	tr, err := h.svc.Trace.PatientTrace(c.Request().Context(), id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.traceMessage(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if _, ok := domain.MaySeePatientIdentity(u.Roles, false); !ok {
		tr = tr.WithoutIdentity()
	} else if err := h.disclose(c, u, domain.ViaPagePatientTrace, recordFields, []int64{tr.Patient.ID}); err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "patient_trace", View{Title: "Trace " + tr.Patient.SubjectID, User: &u, Data: tr})
}

func (h *Handler) traceMessage(c echo.Context, u domain.User, msg string) error {
	return h.pages.Render(c.Response(), http.StatusNotFound, "trace", View{Title: "Trace", User: &u, Flash: msg})
}
