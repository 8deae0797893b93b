package api

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/labels"
)

func (s *Server) orderDose(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct{}
	if c.Request().ContentLength != 0 {
		if err := decode(c, &in); err != nil {
			return err
		}
	}
	o, err := s.svc.Pharmacy.OrderDose(c.Request().Context(), currentActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, o)
}

func (s *Server) prepareDoseBag(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in domain.NewDoseBag
	if err := decode(c, &in); err != nil {
		return err
	}
	bag, err := s.svc.Pharmacy.PrepareDoseBag(c.Request().Context(), currentActor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, bag)
}

func (s *Server) getDoseBag(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	bag, err := s.svc.Pharmacy.DoseBag(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bag)
}

// checkDoseBag records the second pharmacist's check of a bag: the body is the checker's own
// username and password, typed on this device.
func (s *Server) checkDoseBag(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	bag, err := s.svc.Pharmacy.CheckDoseBag(c.Request().Context(), currentActor(c), id, in.Username, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bag)
}

// bagContent is what a dose bag's label shows, its QR signed for the given print serial.
func (s *Server) bagContent(c echo.Context, signer *labels.Signer, bag domain.DoseBag, serial int64) (labels.Content, error) {
	ctx := c.Request().Context()
	lot, err := s.svc.Lab.LotDetail(ctx, bag.LotID)
	if err != nil {
		return labels.Content{}, err
	}
	p, err := s.svc.Patients.Patient(ctx, bag.PatientID)
	if err != nil {
		return labels.Content{}, err
	}
	uid, err := domain.ParseUnitID(bag.BagID)
	if err != nil {
		return labels.Content{}, err
	}
	exp := bag.ExpiresAt.UTC().Truncate(time.Minute)
	qr, err := signer.Sign(labels.Payload{Kind: labels.KindDoseBag, ID: bag.BagID, MRN: p.MRN, ViableCells: bag.ViableCells, Expiry: exp, PrintSerial: serial})
	if err != nil {
		return labels.Content{}, err
	}
	// The label shows the weight the dose was computed from, not a later one.
	weight := bag.OrderWeightKg
	content := labels.Content{
		ProductName: ProductName, EyeReadableID: uid.EyeReadable(), Check: string(uid.Check()), LotNumber: lot.Lot.LotNumber,
		ViableCells: bag.ViableCells, VolumeML: bag.VolumeML, Storage: "2–8 °C", Expiry: exp, Site: s.cfg.Site, QR: qr,
		Patient: &labels.PatientBlock{Name: p.Name, MRN: p.MRN, DateOfBirth: p.DateOfBirth, SubjectID: p.SubjectID,
			ChainOfIdentity: p.ChainID, WeightKg: weight, DosePerKg: math.Round(float64(bag.TargetViableCells) / weight), PreparedAt: bag.PreparedAt},
		DonorStatements: domain.DonorLabelStatements(lot.Donation.Eligibility),
	}
	coi, err := domain.ParseChainOfIdentity(p.ChainID)
	if err != nil {
		return labels.Content{}, err
	}
	content.SetISBT(uid, domain.ExpiryBarcode(exp, s.cfg.Site), &coi)
	return content, nil
}

// doseBagLabel serves a dose bag's label in a format; printing it is recorded.
func (s *Server) doseBagLabel(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		bag, err := s.svc.Pharmacy.DoseBag(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return s.serveLabel(c, format, "dose_bag", bag.ID, func(signer *labels.Signer, serial int64) (labels.Layout, error) {
			content, err := s.bagContent(c, signer, bag, serial)
			return labels.DoseBagLayout(content), err
		})
	}
}

// reprintDoseBag prints the bag's label again with a new serial (withReason).
func (s *Server) reprintDoseBag(ctx context.Context, actor domain.Actor, id int64, reason string) (map[string]any, error) {
	bag, err := s.svc.Pharmacy.DoseBag(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.Labels.Reprint(ctx, actor, "dose_bag", bag.ID, reason)
	if err != nil {
		return nil, err
	}
	return map[string]any{"dose_bag_id": bag.ID, "serial": p.Serial, "reason": p.Reason, "printed_at": p.PrintedAt}, nil
}

// zplDPI reads the ?dpi= of a ZPL label.
func zplDPI(c echo.Context, format string) (int, error) {
	if format != "zpl" {
		return labels.ZPL203, nil
	}
	switch c.QueryParam("dpi") {
	case "", "203":
		return labels.ZPL203, nil
	case "300":
		return labels.ZPL300, nil
	}
	return 0, domain.FieldError("dpi", "dpi must be 203 or 300, as the Zebra printer is")
}

// listDoseOrders is the pharmacy's worklist. Only open orders are listed: filled ones are
// found through their bag.
func (s *Server) listDoseOrders(c echo.Context) error {
	if st := c.QueryParam("status"); st != "" && st != domain.OrderOpen {
		return domain.FieldError("status", "only open dose orders are listed; use ?status=open or leave it out")
	}
	orders, err := s.svc.Pharmacy.OpenDoseOrders(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orders)
}

// listUnits lists the units a pharmacist may thaw now.
func (s *Server) listUnits(c echo.Context) error {
	if st := c.QueryParam("status"); st != "" && st != "available" {
		return domain.FieldError("status", "only available units are listed; use ?status=available or leave it out")
	}
	units, err := s.svc.Pharmacy.AvailableUnits(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, units)
}

// withReason is the handler of an action on the record at :id whose body is only the reason,
// for the audit trail (the actions that stop a dose or take a unit out of use): do runs it,
// and what it returns is the answer.
func withReason[T any](do func(ctx context.Context, actor domain.Actor, id int64, reason string) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if err := decode(c, &in); err != nil {
			return err
		}
		out, err := do(c.Request().Context(), currentActor(c), id, in.Reason)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// withSignature is the handler of an electronic signature on the record named by the path
// parameter param: the signer's password, re-entered, and the reason.
func withSignature[T any](param string, do func(ctx context.Context, actor domain.Actor, id int64, password, reason string) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, param)
		if err != nil {
			return err
		}
		var in struct {
			Password string `json:"password"`
			Reason   string `json:"reason"`
		}
		if err := decode(c, &in); err != nil {
			return err
		}
		out, err := do(c.Request().Context(), currentActor(c), id, in.Password, in.Reason)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// takeBackDoseBag returns or discards a bag (to).
func (s *Server) takeBackDoseBag(to domain.DoseBagStatus) echo.HandlerFunc {
	return withReason(func(ctx context.Context, actor domain.Actor, id int64, reason string) (domain.DoseBag, error) {
		return s.svc.Pharmacy.TakeBackDoseBag(ctx, actor, id, to, reason)
	})
}
