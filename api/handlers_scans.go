package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/labels"
)

// readScanCode works out which bag a scanned or typed code names. It accepts the signed QR,
// the ISBT 128 DataMatrix (a compound message holding DIN, product code, expiry and chain of
// identity) and, when a label cannot be scanned, the bag id typed with its check character.
func (s *Server) readScanCode(ctx context.Context, code string) (domain.CustodyScan, error) {
	code = strings.TrimSpace(code)
	sc := domain.CustodyScan{Code: code, CodeKind: domain.CodeUnknown}
	switch {
	case strings.HasPrefix(code, "CT"): // our QR, of this or another format version
		sc.CodeKind = domain.CodeQR
		p, err := s.verifyCode(ctx, code)
		var ve *labels.VerifyError
		switch {
		case errors.As(err, &ve):
			sc.LabelRefusal = ve.Message
		case err != nil:
			return sc, err
		case p.Kind != labels.KindDoseBag:
			sc.LabelRefusal = "this is a unit label, not a patient's dose bag: scan the dose bag"
		default:
			sc.BagID, sc.PrintSerial, sc.MRN, sc.KeyID = p.ID, p.PrintSerial, p.MRN, p.KeyID
		}
	case strings.HasPrefix(code, "="):
		sc.CodeKind = domain.CodeISBT
		sc.BagID, sc.LabelRefusal = bagFromISBT(code)
	default:
		sc.CodeKind = domain.CodeManual
		id := strings.ReplaceAll(code, " ", "") // case matters in a product code: ParseUnitID sets it
		if len(id) != 22 {
			sc.LabelRefusal = "type the bag id exactly as printed, with the boxed check character at the end"
			break
		}
		u, err := domain.ParseUnitID(id)
		if err != nil {
			sc.LabelRefusal = domain.ErrorMessage(err)
			break
		}
		sc.BagID = u.String()
	}
	return sc, nil
}

// bagFromISBT reads the bag id from the ISBT 128 DataMatrix, a compound message (=+). A DIN
// or product code barcode alone names the donation or the product, which many bags share, so
// it is refused, as is the older DataMatrix without the compound message header.
func bagFromISBT(code string) (bagID, refusal string) {
	if len(code) <= 16 && !strings.HasPrefix(code, "=+") {
		return "", "the DIN or product code barcode names the donation, not the bag: scan the bag's QR code or DataMatrix"
	}
	m, err := domain.ReadLabelMessage(code)
	if err != nil {
		return "", domain.ErrorMessage(err)
	}
	return m.Unit.String(), ""
}

// scan returns the handler of one kind of custody scan.
func (s *Server) scan(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in struct {
			Code         string   `json:"code"`
			To           string   `json:"to"`
			Location     string   `json:"location"`
			TemperatureC *float64 `json:"temperature_c"`
			Entry        string   `json:"entry"` // how the page got the code (domain.Entry*)
		}
		if err := decode(c, &in); err != nil {
			return err
		}
		ctx := c.Request().Context()
		sc, err := s.readScanCode(ctx, in.Code)
		if err != nil {
			return err
		}
		sc.Kind, sc.Code, sc.TemperatureC, sc.Entry = kind, in.Code, in.TemperatureC, in.Entry
		sc.Location = in.To
		if kind == domain.ScanReceive {
			sc.Location = in.Location
			if sc.Location == "" {
				sc.Location = "ward"
			}
		}
		ev, err := s.svc.Custody.RecordScan(ctx, currentActor(c), sc)
		outcome := "accepted"
		if err != nil {
			outcome = "refused"
		}
		s.metrics.scans.WithLabelValues(kind, sc.CodeKind, outcome).Inc()
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, ev)
	}
}
