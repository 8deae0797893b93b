package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// The donor's records: test results and screening (the lab), the signed eligibility
// determination (QA), and the donation's look-back.

func (s *Server) getDonation(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := s.svc.Donors.DonationDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) recordDonorTest(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Test     domain.DonorTest `json:"test"`
		Result   string           `json:"result"`
		TestedAt time.Time        `json:"tested_at"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.svc.Donors.RecordDonorTest(c.Request().Context(), currentActor(c), id,
		domain.DonorTestResult{Test: in.Test, Result: in.Result, TestedAt: in.TestedAt})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) recordScreening(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		QuestionnaireComplete *bool     `json:"questionnaire_complete"`
		Outcome               string    `json:"outcome"`
		Notes                 string    `json:"notes"`
		ScreenedAt            time.Time `json:"screened_at"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.QuestionnaireComplete == nil {
		return domain.FieldError("questionnaire_complete", "say whether the donor questionnaire is complete (true or false)")
	}
	sc, err := s.svc.Donors.RecordScreening(c.Request().Context(), currentActor(c), id, domain.DonorScreening{
		QuestionnaireComplete: *in.QuestionnaireComplete, Outcome: in.Outcome, Notes: in.Notes, ScreenedAt: in.ScreenedAt})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sc)
}

// determineEligibility is the responsible person's e-signed determination: the password
// re-entered, as withSignature takes it, and the determination.
func (s *Server) determineEligibility(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Password      string             `json:"password"`
		Determination domain.Eligibility `json:"determination"`
		Reason        string             `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Donors.DetermineEligibility(c.Request().Context(), currentActor(c), id, in.Determination, in.Password, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
