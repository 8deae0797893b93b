package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

func (s *Server) reportAdverseEvent(c echo.Context) error {
	var in struct {
		PatientID   int64     `json:"patient_id"`
		Serious     bool      `json:"serious"`
		Severity    string    `json:"severity"`
		Description string    `json:"description"`
		OnsetAt     time.Time `json:"onset_at"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	a, err := s.svc.Safety.ReportAdverseEvent(c.Request().Context(), currentActor(c), domain.AdverseEvent{
		PatientID: in.PatientID, Serious: in.Serious, Severity: in.Severity, Description: in.Description, OnsetAt: in.OnsetAt,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
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
