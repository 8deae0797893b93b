package api

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"time"

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

// followUpFields are what a follow-up read shows: the subject id and the record of care.
var followUpFields = []string{domain.FieldSubjectID, domain.FieldClinical}

func (s *Server) recordAssessment(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Day          *int      `json:"day"`
		TakenAt      time.Time `json:"taken_at"`
		CRP          *float64  `json:"crp_mg_l"`
		IL6          *float64  `json:"il6_pg_ml"`
		PCT          *float64  `json:"pct_ng_ml"`
		ViralLoad    *float64  `json:"viral_load_copies_ml"`
		PFRatio      *float64  `json:"pf_ratio_mmhg"`
		ImagingScore *float64  `json:"imaging_score"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Day == nil {
		return domain.FieldError("day", "day is required: the protocol's assessment day (day 0 is the enrolment date)")
	}
	a, err := s.svc.Trial.RecordAssessment(c.Request().Context(), currentActor(c), domain.Assessment{PatientID: id, Day: *in.Day, TakenAt: in.TakenAt,
		CRP: in.CRP, IL6: in.IL6, PCT: in.PCT, ViralLoad: in.ViralLoad, PFRatio: in.PFRatio, ImagingScore: in.ImagingScore})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) recordOutcome(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Kind   domain.OutcomeKind `json:"kind"`
		Date   string             `json:"date"`
		Cause  string             `json:"cause"`
		Reason string             `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	o, err := s.svc.Trial.RecordOutcome(c.Request().Context(), currentActor(c), domain.Outcome{PatientID: id, Kind: in.Kind, Date: in.Date, Cause: in.Cause, Reason: in.Reason})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, o)
}

// followUp is one patient's follow-up; the read is recorded as a disclosure.
func (s *Server) followUp(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := s.svc.Trial.FollowUp(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := s.disclose(c, domain.ViaAPIFollowUp, followUpFields, []int64{id}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

// followUpWorklist is every assessment due or overdue, overdue first, by subject id; the
// subjects listed are recorded as a disclosure.
func (s *Server) followUpWorklist(c echo.Context) error {
	w, err := s.svc.Trial.FollowUpWorklist(c.Request().Context())
	if err != nil {
		return err
	}
	if len(w) > 0 {
		if err := s.disclose(c, domain.ViaAPIFollowUpWorklist, []string{domain.FieldSubjectID}, domain.WorklistPatientIDs(w)); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, w)
}

// endpoints are the trial's figures by arm, as JSON or as CSV (domain.EndpointColumns, one
// figure a row). Aggregates: no patient is named, so no disclosure is recorded.
func (s *Server) endpoints(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.svc.Trial.Endpoints(c.Request().Context())
		if err != nil {
			return err
		}
		if format == "json" {
			return c.JSON(http.StatusOK, e)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(domain.EndpointColumns)
		w.WriteAll(e.Records())
		if err := w.Error(); err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="endpoints.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
}
