package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// loadAllocations records QA's signed allocation list, given as rows or as the CSV text of the
// file (the page reads the file and sends it here as JSON).
func (s *Server) loadAllocations(c echo.Context) error {
	var in struct {
		Password string              `json:"password"`
		Rows     []domain.Allocation `json:"rows"`
		CSV      *string             `json:"csv"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	rows := in.Rows
	if in.CSV != nil {
		if len(in.Rows) > 0 {
			return domain.FieldError("csv", "send the list either as rows or as csv, not both")
		}
		var err error
		if rows, err = domain.ParseAllocationCSV(*in.CSV); err != nil {
			return err
		}
	}
	out, err := s.svc.Trial.LoadAllocations(c.Request().Context(), currentActor(c), in.Password, rows)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

// trialSummary is the allocation lists and the subjects by arm: aggregates, no patient.
func (s *Server) trialSummary(c echo.Context) error {
	out, err := s.svc.Trial.TrialSummary(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
