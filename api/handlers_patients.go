package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

func (s *Server) enrol(c echo.Context) error {
	var in struct {
		SubjectID   string     `json:"subject_id"`
		MRN         string     `json:"mrn"`
		Name        string     `json:"name"`
		DateOfBirth string     `json:"date_of_birth"`
		WeightKg    float64    `json:"weight_kg"`
		Arm         domain.Arm `json:"arm"`
		EnrolledAt  time.Time  `json:"enrolled_at"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.svc.Patients.Enrol(c.Request().Context(), currentActor(c), domain.Patient{
		SubjectID: in.SubjectID, MRN: in.MRN, Name: in.Name, DateOfBirth: in.DateOfBirth,
		WeightKg: in.WeightKg, Arm: in.Arm, EnrolledAt: in.EnrolledAt,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

// listPatients lists enrolled patients, names and MRNs included, for those who care for them
// (domain.PermListPatients); ?subject= keeps those whose subject id starts with it.
func (s *Server) listPatients(c echo.Context) error {
	f := domain.PatientFilter{Subject: c.QueryParam("subject")}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return domain.FieldError("limit", "limit must be a whole number from 1 to 500")
		}
		f.Limit = n
	}
	ps, err := s.svc.Patients.ListPatients(c.Request().Context(), f)
	if err != nil {
		return err
	}
	// The list shows each patient's name, MRN and date of birth with their dose state.
	if err := s.disclose(c, domain.ViaAPIPatients, patientFields, domain.PatientIDs(ps)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ps)
}

func (s *Server) getPatient(c echo.Context) error {
	p, err := s.disclosedPatient(c, domain.ViaAPIPatient)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) recordWeight(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		WeightKg float64 `json:"weight_kg"`
		Reason   string  `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.svc.Patients.RecordWeight(c.Request().Context(), currentActor(c), id, in.WeightKg, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

func (s *Server) exceptionalRelease(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		PatientID int64       `json:"patient_id"`
		Password  string      `json:"password"`
		Reason    string      `json:"reason"`
		Role      domain.Role `json:"role"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	actor := currentActor(c)
	// Someone who is both QA and physician says which half they sign; the other half must
	// still come from another person.
	if in.Role != "" {
		if (in.Role != domain.RoleQA && in.Role != domain.RolePhysician) || !currentUser(c).HasRole(in.Role) {
			return domain.FieldError("role", "sign as qa or physician, and only in a role you hold")
		}
		actor.Role = in.Role
	}
	d, err := s.svc.Lab.ExceptionalRelease(c.Request().Context(), actor, id, in.PatientID, in.Password, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// confirmDoseOrder is the physician's e-signature that an order awaiting review after a later
// weight stands as made.
func (s *Server) confirmDoseOrder() echo.HandlerFunc {
	return withSignature("id", func(ctx context.Context, actor domain.Actor, id int64, password, reason string) (domain.DoseOrder, error) {
		return s.svc.Patients.ConfirmDoseOrder(ctx, actor, id, password, reason)
	})
}
