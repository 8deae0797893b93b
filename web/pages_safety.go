package web

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// The safety pages: the worklist of reports due to the sponsor (physicians and QA) and the
// protocol deviations (physicians, nurses, QA). Both name patients by subject id only, and
// each showing is recorded as a disclosure of the subject id and the record of care. The
// actions (sent to sponsor, record, corrective action, sign-off) go through the JSON API.

// safetyFields are what the safety pages show of a patient.
var safetyFields = []string{domain.FieldSubjectID, domain.FieldClinical}

type safetyData struct {
	Reports []domain.SafetyWorkItem
	Overdue int
}

func (h *Handler) safety(c echo.Context, u domain.User) error {
	list, err := h.svc.Safety.SafetyWorklist(c.Request().Context())
	if err != nil {
		return err
	}
	var ids []int64
	data := safetyData{Reports: list}
	for _, it := range list {
		if !slices.Contains(ids, it.PatientID) {
			ids = append(ids, it.PatientID)
		}
		if it.Overdue {
			data.Overdue++
		}
	}
	if err := h.discloseSubjects(c, u, domain.ViaPageSafety, ids); err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "safety", View{Title: "Safety reports", User: &u, Data: data})
}

type deviationsData struct {
	Deviations []domain.Deviation
	Open       bool
	Categories []string
	Patients   []domain.PatientSummary
}

func (h *Handler) deviations(c echo.Context, u domain.User) error {
	ctx := c.Request().Context()
	open := c.QueryParam("open") == "true"
	list, err := h.svc.Safety.Deviations(ctx, domain.DeviationFilter{Open: open})
	if err != nil {
		return err
	}
	patients, err := h.svc.Patients.ListPatients(ctx, domain.PatientFilter{})
	if err != nil {
		return err
	}
	ids := domain.PatientIDs(patients)
	for _, d := range list {
		if d.PatientID != 0 && !slices.Contains(ids, d.PatientID) {
			ids = append(ids, d.PatientID)
		}
	}
	if err := h.discloseSubjects(c, u, domain.ViaPageDeviations, ids); err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "deviations", View{Title: "Protocol deviations", User: &u,
		Data: deviationsData{Deviations: list, Open: open, Categories: domain.DeviationCategories, Patients: patients}})
}

// discloseSubjects records that u is shown the subject ids and records of care of these
// patients through via; nothing is shown if that fails.
func (h *Handler) discloseSubjects(c echo.Context, u domain.User, via string, ids []int64) error {
	role, ok := domain.MaySeePatientIdentity(u.Roles, false)
	if !ok {
		return domain.Errorf(domain.EForbidden, "safety records are shown only to physicians, nurses and QA; you are logged in as %s", u.Username)
	}
	actor := u.ActingAs(role, c.Response().Header().Get(echo.HeaderXRequestID))
	return h.svc.Records.RecordDisclosure(c.Request().Context(), actor, domain.Disclosure{Via: via, Fields: safetyFields, PatientIDs: ids})
}

// aeOptions are the choices of the ICH E2A form.
type aeOptions struct {
	Criteria, Relatedness, Outcomes, Actions []string
}

func newAEOptions() aeOptions {
	return aeOptions{Criteria: domain.SeriousnessCriteria, Relatedness: domain.Relatedness, Outcomes: domain.Outcomes, Actions: domain.ActionsTaken}
}

type adverseEventData struct {
	domain.AdverseEventDetail
	AEOptions aeOptions
	// Open: a report waits to be sent to the sponsor.
	Open bool
}

// adverseEvent is one event's page: its versions, its reports to the sponsor, the follow-up
// form and, for those who send reports, the sent-to-sponsor form.
func (h *Handler) adverseEvent(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return domain.Errorf(domain.ENotFound, "there is no such adverse event")
	}
	d, err := h.svc.Safety.AdverseEventDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := h.discloseSubjects(c, u, domain.ViaPageAdverseEvent, []int64{d.PatientID}); err != nil {
		return err
	}
	data := adverseEventData{AdverseEventDetail: d, AEOptions: newAEOptions(), Open: d.ReportDueAt != nil}
	return h.pages.Render(c.Response(), http.StatusOK, "adverse_event", View{Title: fmt.Sprintf("Adverse event %d", d.ID), User: &u, Data: data})
}
