package api

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/labels"
)

// ProductName is printed on labels and certificates.
const ProductName = "HUC-MSC — human umbilical cord mesenchymal stem cells"

// idParam reads a positive integer path parameter.
func idParam(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.FieldError(name, "%s in the address must be a positive whole number", name)
	}
	return id, nil
}

func (s *Server) createDonation(c echo.Context) error {
	var in struct {
		DIN         string             `json:"din"`
		CollectedAt time.Time          `json:"collected_at"`
		Eligibility domain.Eligibility `json:"eligibility"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Lab.CreateDonation(c.Request().Context(), currentActor(c), domain.NewDonation(in))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) createLot(c echo.Context) error {
	var in domain.NewLot
	if err := decode(c, &in); err != nil {
		return err
	}
	lot, err := s.svc.Lab.CreateLot(c.Request().Context(), currentActor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, lot)
}

func (s *Server) listLots(c echo.Context) error {
	f := domain.LotFilter{Query: c.QueryParam("q")}
	if st := c.QueryParam("status"); st != "" {
		status, err := domain.ParseLotStatus(st)
		if err != nil {
			return err
		}
		f.Status = status
	}
	var err error
	if f.AfterID, err = queryInt(c, "after_id"); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	lots, err := s.svc.Lab.ListLots(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := map[string]any{"lots": lots}
	if lots == nil {
		out["lots"] = []domain.Lot{}
	}
	if len(lots) > 0 && (f.Limit == 0 || len(lots) == f.Limit) {
		out["next_after_id"] = lots[len(lots)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getLot(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := s.svc.Lab.LotDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) quarantineLot(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	lot, err := s.svc.Lab.Quarantine(c.Request().Context(), currentActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, lot)
}

// qcResultInput is what a client may send: computed fields (validity, inhibition) are the
// server's to fill, so they are not accepted.
type qcResultInput struct {
	Test     domain.QCTest      `json:"test"`
	Value    *float64           `json:"value"`
	Result   string             `json:"result"`
	Markers  map[string]float64 `json:"markers"`
	Analyte  string             `json:"analyte"`
	Baseline []float64          `json:"baseline"`
	LPS      []float64          `json:"lps"`
	Treated  []float64          `json:"treated"`
	Corrects *int64             `json:"corrects"`
	Reason   string             `json:"reason"`
}

func (s *Server) addQCResult(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in qcResultInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.svc.Lab.AddQCResult(c.Request().Context(), currentActor(c), id, domain.QCResult{
		Test: in.Test, Value: in.Value, Result: in.Result, Markers: in.Markers, Analyte: in.Analyte,
		Baseline: in.Baseline, LPS: in.LPS, Treated: in.Treated, Corrects: in.Corrects, Reason: in.Reason,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// previewBV2 computes a BV2 replicate grid's validity and inhibition as the analyst types,
// with the same rules and specification as a recorded result, and records nothing.
func (s *Server) previewBV2(c echo.Context) error {
	var in struct {
		Analyte  string    `json:"analyte"`
		Baseline []float64 `json:"baseline"`
		LPS      []float64 `json:"lps"`
		Treated  []float64 `json:"treated"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	spec, err := s.svc.Lab.CurrentSpec(c.Request().Context())
	if err != nil {
		return err
	}
	r := domain.QCResult{Test: domain.TestBV2Potency, Analyte: in.Analyte, Baseline: in.Baseline, LPS: in.LPS, Treated: in.Treated}
	if err := r.Validate(spec); err != nil {
		return err
	}
	r.Complete(spec)
	return c.JSON(http.StatusOK, map[string]any{"valid": *r.Valid, "inhibition_pct": *r.InhibitionPct,
		"invalid_reason": r.InvalidReason, "min_inhibition_pct": spec.MinInhibitionPct, "spec_version": spec.Version})
}

func (s *Server) evaluation(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	e, err := s.svc.Lab.Evaluation(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

// signLot returns the handler of one kind of lot signature.
func (s *Server) signLot(action domain.SignatureAction) echo.HandlerFunc {
	return withSignature("id", func(ctx context.Context, actor domain.Actor, id int64, password, reason string) (domain.LotDetail, error) {
		return s.svc.Lab.Sign(ctx, actor, id, domain.SignRequest{Action: action, Password: password, Reason: reason})
	})
}

// closeInvestigation is QA's signed closing of an OOS investigation.
func (s *Server) closeInvestigation(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	inv, err := idParam(c, "inv")
	if err != nil {
		return err
	}
	var in domain.CloseInvestigation
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Lab.CloseInvestigation(c.Request().Context(), currentActor(c), id, inv, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) createUnits(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in domain.NewUnits
	if err := decode(c, &in); err != nil {
		return err
	}
	units, err := s.svc.Lab.CreateUnits(c.Request().Context(), currentActor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, units)
}

func (s *Server) coa(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := s.svc.Lab.LotDetail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := labels.RenderCoA(&b, d, ProductName, s.cfg.Site); err != nil {
		return err
	}
	// The lot number is free text: quoted by mime so that a " in it cannot break the header.
	c.Response().Header().Set(echo.HeaderContentDisposition,
		mime.FormatMediaType("inline", map[string]string{"filename": "coa-" + d.Lot.LotNumber + ".pdf"}))
	return c.Blob(http.StatusOK, "application/pdf", b.Bytes())
}

func (s *Server) currentSpec(c echo.Context) error {
	spec, err := s.svc.Lab.CurrentSpec(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, spec)
}

func (s *Server) listSpecVersions(c echo.Context) error {
	list, err := s.svc.Lab.SpecVersions(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) createSpecVersion(c echo.Context) error {
	var in struct {
		Spec     domain.ReleaseSpec `json:"spec"`
		Password string             `json:"password"`
		Reason   string             `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.svc.Lab.CreateSpecVersion(c.Request().Context(), currentActor(c), in.Spec, in.Password, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

// signSpecVersion is a physician's co-signature of a version QA proposed: with it the version
// is in force.
func (s *Server) signSpecVersion() echo.HandlerFunc {
	return withSignature("version", func(ctx context.Context, actor domain.Actor, version int64, password, reason string) (domain.SpecVersion, error) {
		return s.svc.Lab.SignSpecVersion(ctx, actor, int(version), password, reason)
	})
}
