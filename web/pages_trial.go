package web

import (
	"net/http"
	"strconv"

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

// The follow-up pages, for those who care for patients (domain.PermListPatients): the
// worklist of assessments due and overdue, and one patient's follow-up with its forms. They
// show subject ids and measurements, and each read is recorded as a disclosure.

var followUpFields = []string{domain.FieldSubjectID, domain.FieldClinical}

type worklistData struct {
	Due []domain.AssessmentDue
}

func (h *Handler) followUpWorklist(c echo.Context, u domain.User) error {
	w, err := h.svc.Trial.FollowUpWorklist(c.Request().Context())
	if err != nil {
		return err
	}
	if len(w) > 0 {
		if err := h.disclose(c, u, domain.ViaPageFollowUpWorklist, []string{domain.FieldSubjectID}, domain.WorklistPatientIDs(w)); err != nil {
			return err
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "follow_up_worklist", View{Title: "Follow-up", User: &u, Data: worklistData{Due: w}})
}

// followUpData is one patient's follow-up page: the record, the measurements with their
// ranges for the form, and the protocol's days.
type followUpData struct {
	domain.FollowUp
	Measurements []domain.Measurement
	Rows         []assessmentLine
	Days         []int
	Kinds        []domain.OutcomeKind
}

// assessmentLine is an assessment as the table shows it: the values in Measurements order,
// "" where not measured.
type assessmentLine struct {
	domain.Assessment
	Values []string
}

func (h *Handler) followUp(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return h.patientsMessage(c, u, "There is no such patient. Pick one from the list.")
	}
	f, err := h.svc.Trial.FollowUp(c.Request().Context(), id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.patientsMessage(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if err := h.disclose(c, u, domain.ViaPageFollowUp, followUpFields, []int64{id}); err != nil {
		return err
	}
	d := followUpData{FollowUp: f, Measurements: domain.Measurements, Days: domain.DefaultAssessmentDays,
		Kinds: []domain.OutcomeKind{domain.OutcomeDischarge, domain.OutcomeDeath, domain.OutcomeWithdrawal, domain.OutcomeLost}}
	for _, a := range f.Assessments {
		line := assessmentLine{Assessment: a}
		for _, v := range a.Values() {
			s := ""
			if v != nil {
				s = strconv.FormatFloat(*v, 'g', -1, 64)
			}
			line.Values = append(line.Values, s)
		}
		d.Rows = append(d.Rows, line)
	}
	return h.pages.Render(c.Response(), http.StatusOK, "follow_up", View{Title: "Follow-up " + f.SubjectID, User: &u, Data: d})
}
