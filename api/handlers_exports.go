package api

import (
	"bytes"
	"encoding/csv"
	"net/http"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// trialExport answers the trial export: one row per enrolled subject, columns in
// domain.TrialColumns order (README, "Trial export"). It discloses patient-level data, so the
// disclosure is recorded first.
func (s *Server) trialExport(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.svc.Records.AllRecords(c.Request().Context())
		if err != nil {
			return err
		}
		// The export names subjects by subject id only (no name, MRN or date of birth), with
		// their records of care: still patient-level data, recorded per subject.
		if err := s.disclose(c, domain.ViaTrialExport, []string{domain.FieldSubjectID, domain.FieldClinical}, r.PatientIDs()); err != nil {
			return err
		}
		rows := domain.TrialRows(r)
		if format == "json" {
			return c.JSON(http.StatusOK, map[string]any{"columns": domain.TrialColumns, "rows": rows})
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(domain.TrialColumns)
		for _, row := range rows {
			w.Write(row.Record())
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="trial.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
}
