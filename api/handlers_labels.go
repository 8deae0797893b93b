package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/labels"
)

// unitStorage is printed on unit labels.
const unitStorage = "below -150 °C (vapour-phase nitrogen)"

// signingKey returns the key that signs new prints: the newest active one. Only the active key
// keeps its private half.
func (s *Server) signingKey(ctx context.Context) (*labels.Signer, error) {
	keys, err := s.svc.Labels.LabelKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.RetiredAt == nil {
			priv, err := labels.UnmarshalPrivateKey([]byte(k.PrivatePEM))
			if err != nil {
				return nil, err
			}
			return labels.NewSigner(k.KID, priv)
		}
	}
	return nil, domain.Errorf(domain.EUnavailable, "there is no label signing key yet; restart the service to create one")
}

// trustedKeys checks scanned labels' signatures with the public keys already known to this
// process, and reads the key table again only for a key id it has not seen. A key id names one
// key for good (labels.KeyRing refuses to rebind it) and keys are never deleted, so a public key
// once read stays right: scans do not decode keys on every request. Whether the key vouches for
// the print (retired, revoked, another print's key) is read from the records at every scan
// (domain.LabelKeyProblem), so a revocation reaches every process at once.
type trustedKeys struct {
	s   *Server
	ctx context.Context
	err error // a failure to read the key table, which is not the label's fault
}

func (t *trustedKeys) PublicKey(kid string) (ed25519.PublicKey, bool) {
	if pub, ok := t.s.ring.PublicKey(kid); ok {
		return pub, true
	}
	keys, err := t.s.svc.Labels.LabelKeys(t.ctx)
	if err != nil {
		t.err = err
		return nil, false
	}
	if err := addPublicKeys(&t.s.ring, keys); err != nil {
		t.err = err
		return nil, false
	}
	return t.s.ring.PublicKey(kid)
}

// addPublicKeys puts every key's public half on ring.
func addPublicKeys(ring *labels.KeyRing, keys []domain.LabelKey) error {
	for _, k := range keys {
		pub, err := labels.DecodePublicKey(k.PublicKey)
		if err != nil {
			return err
		}
		if err := ring.Add(k.KID, pub); err != nil {
			return err
		}
	}
	return nil
}

// verifyCode checks a scanned code's signature against the trusted keys.
func (s *Server) verifyCode(ctx context.Context, code string) (labels.Payload, error) {
	keys := &trustedKeys{s: s, ctx: ctx}
	p, err := labels.Verify(code, keys)
	if keys.err != nil {
		return labels.Payload{}, keys.err
	}
	return p, err
}

// labelKeys publishes the public keys that scanners may trust: a revoked key is left out, so
// that a scanner checking labels offline refuses what it signed too.
func (s *Server) labelKeys(c echo.Context) error {
	keys, err := s.svc.Labels.LabelKeys(c.Request().Context())
	if err != nil {
		return err
	}
	trusted := keys[:0:0]
	for _, k := range keys {
		if k.RevokedAt == nil {
			trusted = append(trusted, k)
		}
	}
	ring := &labels.KeyRing{}
	if err := addPublicKeys(ring, trusted); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ring.Published())
}

// unitContent is what a unit's label shows, its QR signed for the given print serial.
func (s *Server) unitContent(signer *labels.Signer, u domain.Unit, lot domain.Lot, serial int64) (labels.Content, error) {
	uid, err := domain.ParseUnitID(u.UnitID)
	if err != nil {
		return labels.Content{}, err
	}
	// The payload carries whole minutes; rounding down errs on the early side.
	exp := lot.ExpiresAt.UTC().Truncate(time.Minute)
	qr, err := signer.Sign(labels.Payload{Kind: labels.KindUnit, ID: u.UnitID, ViableCells: u.ViableCells, Expiry: exp, PrintSerial: serial})
	if err != nil {
		return labels.Content{}, err
	}
	c := labels.Content{
		ProductName: ProductName, EyeReadableID: uid.EyeReadable(), Check: string(uid.Check()), LotNumber: lot.LotNumber,
		ViableCells: u.ViableCells, VolumeML: u.VolumeML, Storage: unitStorage, Expiry: exp, Site: s.cfg.Site, QR: qr,
		DonorStatements: domain.DonorLabelStatements(lot.DonorEligibility),
	}
	c.SetISBT(uid, domain.ExpiryBarcode(exp, s.cfg.Site), nil)
	return c, nil
}

// serveLabel records a print of an entity's label and serves it in a format. layout builds the
// label for the print serial just recorded, signed by the current key.
func (s *Server) serveLabel(c echo.Context, format, entityType string, entityID int64,
	layout func(signer *labels.Signer, serial int64) (labels.Layout, error)) error {
	dpi, err := zplDPI(c, format)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	signer, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	p, err := s.svc.Labels.Print(ctx, currentActor(c), entityType, entityID, format, signer.KeyID())
	if err != nil {
		return err
	}
	s.metrics.prints.WithLabelValues(entityType, format).Inc()
	l, err := layout(signer, p.Serial)
	if err != nil {
		return err
	}
	return renderLabel(c, format, dpi, l)
}

// unitLabel serves one unit's label in a format; printing it is recorded.
func (s *Server) unitLabel(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		u, lot, err := s.svc.Labels.UnitForLabel(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return s.serveLabel(c, format, "unit", u.ID, func(signer *labels.Signer, serial int64) (labels.Layout, error) {
			content, err := s.unitContent(signer, u, lot, serial)
			return labels.UnitLayout(content), err
		})
	}
}

func renderLabel(c echo.Context, format string, dpi int, l labels.Layout) error {
	var b bytes.Buffer
	var err error
	var ctype string
	switch format {
	case "png":
		ctype, err = "image/png", labels.RenderPNG(&b, l)
	case "pdf":
		ctype, err = "application/pdf", labels.RenderPDF(&b, l)
	case "zpl":
		ctype, err = "application/zpl", labels.RenderZPL(&b, l, dpi)
	}
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, ctype, b.Bytes())
}

// lotLabelSheet serves every unit label of a lot as one PDF, one label per page.
func (s *Server) lotLabelSheet(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	units, lot, err := s.svc.Labels.LotUnits(ctx, id)
	if err != nil {
		return err
	}
	if len(units) == 0 {
		return domain.Errorf(domain.EConflict, "lot %s has no units yet; divide it into units first", lot.LotNumber)
	}
	signer, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	layouts := make([]labels.Layout, 0, len(units))
	for _, u := range units {
		p, err := s.svc.Labels.Print(ctx, currentActor(c), "unit", u.ID, "pdf-sheet", signer.KeyID())
		if err != nil {
			return err
		}
		content, err := s.unitContent(signer, u, lot, p.Serial)
		if err != nil {
			return err
		}
		layouts = append(layouts, labels.UnitLayout(content))
	}
	var b bytes.Buffer
	if err := labels.RenderPDF(&b, layouts...); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/pdf", b.Bytes())
}

// verifyLabel tells whether a scanned code is a genuine label and its current print: signed by
// a key that vouches for that print (domain.LabelKeyProblem), and not replaced by a reprint.
func (s *Server) verifyLabel(c echo.Context) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := required("code", in.Code); err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := map[string]any{"authentic": false, "current": false, "fields": map[string]any{}}
	if code := strings.TrimSpace(in.Code); strings.HasPrefix(code, "=") {
		out["reason"], out["message"], out["fields"] = isbtVerdict(code)
		return c.JSON(http.StatusOK, out)
	}
	// A dose bag's code carries its patient's MRN: shown to those who may see it with the bag
	// in hand (domain.MaySeePatientIdentity), left out for the others (qc, admin).
	_, showMRN := domain.MaySeePatientIdentity(currentUser(c).Roles, true)
	p, err := s.verifyCode(ctx, in.Code)
	if err != nil {
		var ve *labels.VerifyError
		if !errors.As(err, &ve) {
			return err
		}
		out["reason"], out["message"] = ve.Reason, ve.Message
		if parsed, perr := labels.Parse(in.Code); perr == nil {
			out["fields"] = payloadFields(parsed, showMRN)
		}
		return c.JSON(http.StatusOK, out)
	}
	out["authentic"], out["fields"] = true, payloadFields(p, showMRN)
	out["reason"], out["message"] = "", "The label is genuine."
	entity, entityID, err := s.labelEntity(ctx, p)
	if err != nil {
		if domain.ErrorCode(err) != domain.ENotFound {
			return err
		}
		out["reason"], out["message"] = "unknown_"+entity, "The label is signed but names nothing we know."
		return c.JSON(http.StatusOK, out)
	}
	key, err := s.svc.Labels.PrintKey(ctx, entity, entityID, p.PrintSerial, p.KeyID)
	if err != nil {
		return err
	}
	if reason, problem := domain.LabelKeyProblem(key); problem != "" {
		out["authentic"], out["reason"], out["message"] = false, reason, "Label not trusted: "+problem+"."
		return c.JSON(http.StatusOK, out)
	}
	serial, err := s.svc.Labels.CurrentSerial(ctx, entity, entityID)
	if err != nil {
		return err
	}
	out["current"] = serial == p.PrintSerial
	if serial != p.PrintSerial {
		out["reason"], out["message"] = "superseded", "This print was replaced by a reprint; use the newest label."
	}
	return c.JSON(http.StatusOK, out)
}

// isbtVerdict reads a scanned ISBT 128 DataMatrix (a compound message) for /labels/verify. It
// names the unit or bag, but carries no signature, so it never proves a label genuine: the QR
// code does. The older DataMatrix form and damaged messages are refused with what to do.
func isbtVerdict(code string) (reason, message string, fields map[string]any) {
	fields = map[string]any{}
	m, err := domain.ReadLabelMessage(code)
	if err != nil {
		return "isbt_refused", domain.ErrorMessage(err), fields
	}
	fields["unit_id"] = m.Unit.String()
	fields["din"] = m.Unit.DIN.String()
	fields["product_code"] = m.Unit.Product.String()
	if m.Unit.Divisions != "" {
		fields["product_divisions"] = m.Unit.Divisions
	}
	if m.ExpiryBarcode != "" {
		fields["expiry"] = m.ExpiryBarcode
	}
	if m.ChainOfIdentity != nil {
		fields["chain_of_identity"] = m.ChainOfIdentity.String()
	}
	return "isbt_unsigned", "This is the label's ISBT 128 DataMatrix: it names " + m.Unit.String() +
		" but carries no signature; scan the QR code to check that the label is genuine.", fields
}

func payloadFields(p labels.Payload, showMRN bool) map[string]any {
	f := map[string]any{"T": string(rune(p.Kind)), "ID": p.ID, "N": p.ViableCells,
		"X": p.Expiry.UTC().Format("20060102T1504Z"), "P": p.PrintSerial, "K": p.KeyID}
	if p.MRN != "" && showMRN {
		f["M"] = p.MRN
	}
	return f
}

// labelEntity finds what a verified payload labels: a unit or a dose bag.
func (s *Server) labelEntity(ctx context.Context, p labels.Payload) (string, int64, error) {
	if p.Kind == labels.KindDoseBag {
		bag, err := s.svc.Pharmacy.DoseBagByCode(ctx, p.ID)
		return "dose_bag", bag.ID, err
	}
	u, _, err := s.svc.Labels.UnitByCode(ctx, p.ID)
	return "unit", u.ID, err
}
