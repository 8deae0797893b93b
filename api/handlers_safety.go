package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// aeBody is the body of a report: the first reporting form's fields, then the ICH E2A form's.
type aeBody struct {
	PatientID       int64      `json:"patient_id"`
	Serious         *bool      `json:"serious"`
	Severity        string     `json:"severity"`
	Description     string     `json:"description"`
	OnsetAt         time.Time  `json:"onset_at"`
	Term            string     `json:"term"`
	Grade           int        `json:"grade"`
	SeriousCriteria *[]string  `json:"serious_criteria"`
	Relatedness     string     `json:"relatedness"`
	Expected        *bool      `json:"expected"`
	Outcome         string     `json:"outcome"`
	ActionTaken     string     `json:"action_taken"`
	AwareAt         *time.Time `json:"aware_at"`
}

func (b aeBody) input() domain.AEInput {
	in := domain.AEInput{PatientID: b.PatientID, Serious: b.Serious, Severity: b.Severity, Description: b.Description,
		OnsetAt: b.OnsetAt, Term: b.Term, Grade: b.Grade, Relatedness: b.Relatedness, Expected: b.Expected,
		Outcome: b.Outcome, ActionTaken: b.ActionTaken, AwareAt: b.AwareAt}
	if b.SeriousCriteria != nil {
		in.SeriousCriteria, in.SeriousGiven = *b.SeriousCriteria, true
	}
	return in
}

func (s *Server) reportAdverseEvent(c echo.Context) error {
	var in aeBody
	if err := decode(c, &in); err != nil {
		return err
	}
	a, err := s.svc.Safety.RecordAdverseEvent(c.Request().Context(), currentActor(c), in.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) followUpAdverseEvent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in aeBody
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.PatientID != 0 {
		return domain.FieldError("patient_id", "a follow-up belongs to the event's patient: leave patient_id out")
	}
	a, err := s.svc.Safety.FollowUpAdverseEvent(c.Request().Context(), currentActor(c), id, in.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

// safetyFields are what the safety records show of a patient: the subject id and the record
// of care, never the name or MRN.
var safetyFields = []string{domain.FieldSubjectID, domain.FieldClinical}

func (s *Server) getAdverseEvent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := s.svc.Safety.AdverseEventDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaAPIAdverseEvent, safetyFields, []int64{d.PatientID}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) safetyReports(c echo.Context) error {
	list, err := s.svc.Safety.SafetyWorklist(c.Request().Context())
	if err != nil {
		return err
	}
	var ids []int64
	for _, it := range list {
		if !slices.Contains(ids, it.PatientID) {
			ids = append(ids, it.PatientID)
		}
	}
	if err := s.disclose(c, domain.ViaAPISafetyReports, safetyFields, ids); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reports": list})
}

func (s *Server) reportSent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		SentAt time.Time `json:"sent_at"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Safety.ReportSentToSponsor(c.Request().Context(), currentActor(c), id, in.SentAt)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaAPIAdverseEvent, safetyFields, []int64{d.PatientID}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) listDeviations(c echo.Context) error {
	f := domain.DeviationFilter{}
	switch c.QueryParam("open") {
	case "", "false":
	case "true":
		f.Open = true
	default:
		return domain.FieldError("open", "open is true or false")
	}
	list, err := s.svc.Safety.Deviations(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaAPIDeviations, safetyFields, deviationPatients(list)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deviations": list})
}

// deviationPatients are the patients the deviations name, each once.
func deviationPatients(list []domain.Deviation) []int64 {
	var ids []int64
	for _, d := range list {
		if d.PatientID != 0 && !slices.Contains(ids, d.PatientID) {
			ids = append(ids, d.PatientID)
		}
	}
	return ids
}

func (s *Server) recordDeviation(c echo.Context) error {
	var in struct {
		PatientID        int64  `json:"patient_id"`
		Category         string `json:"category"`
		Description      string `json:"description"`
		CorrectiveAction string `json:"corrective_action"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Safety.RecordDeviation(c.Request().Context(), currentActor(c), domain.NewDeviation{PatientID: in.PatientID,
		Category: in.Category, Description: in.Description, CorrectiveAction: in.CorrectiveAction})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) setCorrectiveAction(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		CorrectiveAction string `json:"corrective_action"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Safety.SetCorrectiveAction(c.Request().Context(), currentActor(c), id, in.CorrectiveAction)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) signDeviation() echo.HandlerFunc {
	return withSignature("id", func(ctx context.Context, actor domain.Actor, id int64, password, reason string) (domain.Deviation, error) {
		return s.svc.Safety.SignDeviation(ctx, actor, id, password, reason)
	})
}

func (s *Server) disposeExcursion(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	bag, err := s.svc.Safety.DisposeExcursion(c.Request().Context(), currentActor(c), id, in.Decision, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bag)
}

func (s *Server) lotTrace(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	t, err := s.svc.Trace.LotTrace(c.Request().Context(), id)
	if err != nil {
		return err
	}
	role, ok := domain.MaySeePatientIdentity(currentUser(c).Roles, false)
	if !ok {
		return c.JSON(http.StatusOK, t.WithoutIdentity())
	}
	if err := s.discloseAs(c, currentUser(c).ActingAs(role, requestID(c)), domain.ViaAPILotTrace, recordFields, t.IdentifiedPatients()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) patientTrace(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	t, err := s.svc.Trace.PatientTrace(c.Request().Context(), id)
	if err != nil {
		return err
	}
	role, ok := domain.MaySeePatientIdentity(currentUser(c).Roles, false)
	if !ok {
		return c.JSON(http.StatusOK, t.WithoutIdentity())
	}
	if err := s.discloseAs(c, currentUser(c).ActingAs(role, requestID(c)), domain.ViaAPIPatientTrace, recordFields, []int64{t.Patient.ID}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}
