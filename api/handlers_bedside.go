package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// witnessInput confirms a bedside administration: the witness, a second nurse or physician,
// enters their username and password on the bedside device, or the page sends the witness
// token they got there (POST /auth/witness). A login token is never a witness.
type witnessInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// witness authenticates a witness who entered their password. A failure is not an error of
// the request: it is the WITNESS check failing, which the verification reports with the
// others. A witness token is decided in the verification's transaction, which uses it up.
func (s *Server) witness(ctx context.Context, in *witnessInput, requestID string) domain.WitnessFacts {
	if in == nil || (in.Token == "" && in.Username == "") {
		return domain.WitnessFacts{Problem: "no witness confirmed"}
	}
	if in.Token != "" {
		return domain.WitnessFacts{}
	}
	u, err := s.svc.Auth.CheckPassword(ctx, in.Username, in.Password, requestID)
	if err != nil {
		return domain.WitnessFacts{Problem: "the witness login failed (" + domain.ErrorMessage(err) + ")"}
	}
	return domain.WitnessFacts{Authenticated: true, UserID: u.ID, Name: u.FullName, Roles: u.Roles}
}

// issueWitnessToken: the witness enters their username and password on the bedside device,
// whose user asks; the token confirms them for one verification by that user, for 2 minutes.
func (s *Server) issueWitnessToken(c echo.Context) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	tok, err := s.svc.Auth.IssueWitnessToken(c.Request().Context(), currentActor(c), strings.TrimSpace(in.Username), in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, tok)
}

func (s *Server) bedsideVerify(c echo.Context) error {
	var in struct {
		Wristband string        `json:"wristband"`
		Code      string        `json:"code"`
		Witness   *witnessInput `json:"witness"`
		Ward      string        `json:"ward"`
		// How the page got each code (domain.Entry*), when it can tell.
		WristbandEntry string `json:"wristband_entry"`
		CodeEntry      string `json:"code_entry"`
		// Why a code was typed or is not the signed QR (domain.Reason*).
		EntryReason *domain.EntryReason `json:"entry_reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := required("wristband", in.Wristband, "code", in.Code); err != nil {
		return err
	}
	sc, err := s.readScanCode(ctx, in.Code)
	if err != nil {
		return err
	}
	req := domain.BedsideRequest{
		Wristband: in.Wristband, Scan: sc, Witness: s.witness(ctx, in.Witness, requestID(c)), Ward: in.Ward,
		WristbandEntry: in.WristbandEntry, CodeEntry: in.CodeEntry, EntryReason: in.EntryReason,
	}
	if in.Witness != nil {
		req.WitnessToken = in.Witness.Token
	}
	v, err := s.svc.Bedside.Verify(ctx, currentActor(c), req)
	if err != nil {
		return err
	}
	verdict := "stop"
	if v.Pass {
		verdict = "pass"
	}
	s.metrics.verifications.WithLabelValues(verdict).Inc()
	for _, ch := range v.Checks {
		if !ch.Pass {
			s.metrics.failedChecks.WithLabelValues(ch.Code).Inc()
		}
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) startInfusion(c echo.Context) error {
	var in struct {
		VerificationID int64 `json:"verification_id"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.VerificationID <= 0 {
		return domain.FieldError("verification_id", "name the passing bedside verification this infusion follows")
	}
	inf, err := s.svc.Bedside.StartInfusion(c.Request().Context(), currentActor(c), in.VerificationID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, inf)
}

func (s *Server) infusionsInProgress(c echo.Context) error {
	list, err := s.svc.Bedside.InfusionsInProgress(c.Request().Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []domain.InfusionInProgress{}
	}
	return c.JSON(http.StatusOK, map[string]any{"infusions": list})
}

func (s *Server) endInfusion(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		VolumeML  *float64 `json:"volume_ml"`
		Reactions string   `json:"reactions"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.VolumeML == nil {
		return domain.FieldError("volume_ml", "record the volume infused in mL")
	}
	inf, err := s.svc.Bedside.EndInfusion(c.Request().Context(), currentActor(c), id, *in.VolumeML, in.Reactions)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inf)
}
