// Package labels lays out and renders unit and dose-bag labels (SPEC §8) as PNG, PDF and ZPL,
// and signs and verifies the QR payload scanners read. It knows nothing of HTTP or storage:
// callers hand it the label's content, already decided.
package labels

import (
	"fmt"
	"strings"
	"time"

	"cordtrace/domain"
)

// Size is the label stock: 4 × 4 inches, the common blood-bag label.
const (
	WidthMM  = 101.6
	HeightMM = 101.6
)

// InvestigationalStatement is required on every label of an investigational product.
const InvestigationalStatement = "CAUTION: New Drug — Limited by Federal (or United States) law to investigational use."

// Content is what a label shows. The caller formats identifiers and signs the QR payload;
// the renderers only place them.
type Content struct {
	ProductName string
	// EyeReadableID is the unit or bag id as people read it; Check is its ISO 7064 check
	// character, printed boxed after it and never inside a barcode.
	EyeReadableID string
	Check         string
	LotNumber     string
	ViableCells   int64
	VolumeML      float64
	Storage       string
	Expiry        time.Time
	Site          *time.Location // times are printed in the site's zone, with its abbreviation

	QR string // the signed payload text (CT1|…)
	// ISBT 128 data structures, each carried by its own Code 128 symbol, and together in the
	// DataMatrix.
	DINBarcode       string // "=" + DIN + flags
	ProductBarcode   string // "=<" + product code
	DivisionsBarcode string // "=," + Product Divisions, only with division 99
	ExpiryBarcode    string // "&>" + cyyjjjhhmm
	DataMatrix       string // compound message (=+) holding the structures above, and 040 on dose bags

	Patient *PatientBlock // dose bags only

	// DonorStatements are printed prominently on every label of a lot whose donor's
	// eligibility determination is not complete (domain.DonorLabelStatements).
	DonorStatements []string
}

// SetISBT fills the ISBT 128 symbols from the unit or bag id, the expiry's data structure and,
// on a dose bag, the patient's chain of identity: one Code 128 per structure, and all of them
// in the DataMatrix as a compound message (data structure 023), as a standard reader expects.
func (c *Content) SetISBT(u domain.UnitID, expiry string, coi *domain.ChainOfIdentity) {
	c.DINBarcode, c.ProductBarcode, c.ExpiryBarcode = u.DIN.DINBarcode(), u.Product.ProductBarcode(), expiry
	c.DivisionsBarcode = ""
	if u.Divisions != "" {
		c.DivisionsBarcode = domain.DivisionsBarcode(u.Divisions)
	}
	structures := append(u.Barcodes(), expiry)
	if coi != nil {
		structures = append(structures, coi.String())
	}
	c.DataMatrix = domain.CompoundMessage(structures...)
}

// PatientBlock is what a dose-bag label adds (SPEC §8).
type PatientBlock struct {
	Name            string
	MRN             string
	DateOfBirth     string
	SubjectID       string
	ChainOfIdentity string
	WeightKg        float64
	DosePerKg       float64
	PreparedAt      time.Time
}

// Element kinds of a layout.
type ElementKind int

const (
	ElemText ElementKind = iota
	ElemBox
	ElemQR
	ElemCode128
	ElemDataMatrix
)

// Element is one thing placed on the label, in millimetres from the top-left corner. For
// text, Y is the baseline and H the font size in points.
type Element struct {
	Kind       ElementKind
	X, Y, W, H float64
	Text       string
	Bold       bool
}

// Layout is a label as positioned elements, drawn the same way by every renderer.
type Layout struct {
	Elements []Element
}

// text places a line, shrunk to fit before maxX (mm) and, if even the smallest size is too
// wide, cut with an ellipsis: a long name must never run over a barcode or off the label.
func (l *Layout) text(x, y, pt float64, bold bool, format string, args ...any) {
	l.fitText(x, y, pt, bold, WidthMM-margin, fmt.Sprintf(format, args...))
}

const minTextPt = 6

func (l *Layout) fitText(x, y, pt float64, bold bool, maxX float64, s string) {
	for textWidthMM(s, pt, bold) > maxX-x && pt > minTextPt {
		pt = max(minTextPt, pt-0.5)
	}
	if textWidthMM(s, pt, bold) > maxX-x {
		r := []rune(s)
		for len(r) > 1 && textWidthMM(string(r)+"…", pt, bold) > maxX-x {
			r = r[:len(r)-1]
		}
		s = string(r) + "…"
	}
	l.Elements = append(l.Elements, Element{Kind: ElemText, X: x, Y: y, H: pt, Bold: bold, Text: s})
}

func (l *Layout) symbol(kind ElementKind, x, y, w, h float64, data string) {
	if data != "" {
		l.Elements = append(l.Elements, Element{Kind: kind, X: x, Y: y, W: w, H: h, Text: data})
	}
}

// Texts returns every text on the label, for tests and for searching a PDF.
func (l Layout) Texts() []string {
	var out []string
	for _, e := range l.Elements {
		if e.Kind == ElemText {
			out = append(out, e.Text)
		}
	}
	return out
}

func (c Content) local(t time.Time) string {
	site := c.Site
	if site == nil {
		site = time.UTC
	}
	return t.In(site).Format("2006-01-02 15:04 MST")
}

const margin = 4.0

// idLine prints the eye-readable id with its check character in a box, shrunk so that both
// end before maxX (mm): an id with a Product Divisions code is longer.
func (l *Layout) idLine(c Content, y, pt, maxX float64) {
	box := func(pt float64) float64 { return 1.5 + pt*0.3 }
	for textWidthMM(c.EyeReadableID, pt, true)+box(pt) > maxX-margin && pt > minTextPt {
		pt = max(minTextPt, pt-0.5)
	}
	l.Elements = append(l.Elements, Element{Kind: ElemText, X: margin, Y: y, H: pt, Bold: true, Text: c.EyeReadableID})
	bx := margin + textWidthMM(c.EyeReadableID, pt, true) + 1.5
	l.Elements = append(l.Elements, Element{Kind: ElemBox, X: bx, Y: y - pt*0.36, W: pt * 0.3, H: pt * 0.42})
	l.text(bx+pt*0.06, y, pt, true, "%s", c.Check)
}

// chainOfIdentity prints the patient's chain of identity id eye-readable, with its check
// character boxed after it as for the DIN (ST-001 requires it for data structure 040).
func (l *Layout) chainOfIdentity(id string, y, pt float64) {
	coi, err := domain.ParseChainOfIdentity(id)
	if err != nil {
		l.text(margin, y, pt, false, "Chain of identity %s", id)
		return
	}
	s := "Chain of identity " + coi.EyeReadable()
	l.text(margin, y, pt, false, "%s", s)
	bx := margin + textWidthMM(s, pt, false) + 1.2
	k := string(coi.Check())
	w := textWidthMM(k, pt, true) + pt*0.12 // a wide letter (M, W) fits too
	l.Elements = append(l.Elements, Element{Kind: ElemBox, X: bx, Y: y - pt*0.36, W: w, H: pt * 0.42})
	l.text(bx+pt*0.06, y, pt, true, "%s", k)
}

// donorStatements prints the donor statements from baseline y, one line each, and returns the
// baseline of the investigational statement below them.
func (l *Layout) donorStatements(lines []string, y, next float64) float64 {
	if len(lines) == 0 {
		return next
	}
	for _, s := range lines {
		l.fitText(margin, y, 6.5, true, WidthMM-margin, s)
		y += 2.6
	}
	return y + 0.2
}

func (l *Layout) statement(y float64) {
	// Split so it fits the width at 7 pt.
	l.text(margin, y, 7, true, "CAUTION: New Drug — Limited by Federal (or United States) law")
	l.text(margin, y+3.2, 7, true, "to investigational use.")
}

// UnitLayout lays out a unit (cryobag) label.
func UnitLayout(c Content) Layout {
	var l Layout
	l.text(margin, 7, 9, true, "%s", c.ProductName)
	l.idLine(c, 15, 12, 70) // left of the QR
	l.symbol(ElemCode128, margin, 19, 62, 11, c.DINBarcode)
	l.symbol(ElemCode128, margin, 32, 36, 8, c.DivisionsBarcode)
	l.symbol(ElemQR, 72, 12, 26, 26, c.QR)
	l.symbol(ElemCode128, margin, 42, 44, 10, c.ProductBarcode)
	l.symbol(ElemCode128, 52, 42, 46, 10, c.ExpiryBarcode)
	y := 59.0
	for _, line := range []string{
		"Lot " + c.LotNumber,
		"Viable cells " + domain.CellsText(c.ViableCells),
		fmt.Sprintf("Volume %.1f mL", c.VolumeML),
		"Storage " + c.Storage,
		"EXPIRES " + c.local(c.Expiry),
	} {
		l.fitText(margin, y, 9, strings.HasPrefix(line, "EXPIRES"), 77, line) // left of the DataMatrix
		y += 5
	}
	l.symbol(ElemDataMatrix, 80, 60, 18, 18, c.DataMatrix)
	l.statement(l.donorStatements(c.DonorStatements, 82.6, 92))
	return l
}

// DoseBagLayout lays out a patient-specific dose-bag label.
func DoseBagLayout(c Content) Layout {
	var l Layout
	p := c.Patient
	if p == nil {
		p = &PatientBlock{}
	}
	l.text(margin, 6, 8, true, "%s", c.ProductName)
	l.text(margin, 12, 11, true, "PATIENT %s", p.Name)
	l.fitText(margin, 16.5, 8, false, 71, fmt.Sprintf("MRN %s   DOB %s   Subject %s", p.MRN, p.DateOfBirth, p.SubjectID))
	l.chainOfIdentity(p.ChainOfIdentity, 20.5, 7)
	l.idLine(c, 27, 11, 71) // left of the QR
	l.symbol(ElemQR, 73, 22, 25, 25, c.QR)
	l.symbol(ElemCode128, margin, 30, 64, 9, c.DINBarcode)
	y := 45.0
	// Dose-critical values share no line with free text, so fitting can never cut them off.
	for _, line := range []string{
		"Lot " + c.LotNumber,
		fmt.Sprintf("Weight used %.1f kg   Dose %s cells/kg", p.WeightKg, domain.CellsText(int64(p.DosePerKg))),
		fmt.Sprintf("Total viable cells %s   Volume %.1f mL", domain.CellsText(c.ViableCells), c.VolumeML),
		fmt.Sprintf("Transport %s   Prepared %s", c.Storage, c.local(p.PreparedAt)),
	} {
		l.fitText(margin, y, 7.5, false, 71, line) // left of the QR and the DataMatrix
		y += 4
	}
	l.fitText(margin, y+0.5, 9, true, 76, "EXPIRES "+c.local(c.Expiry))
	l.fitText(margin, 67, 9, true, 76, "Do not irradiate")
	l.fitText(margin, 71.5, 9, true, 76, "Do not use a leukocyte-reduction filter")
	l.symbol(ElemDataMatrix, 79, 52, 19, 19, c.DataMatrix)
	l.symbol(ElemCode128, margin, 75, 44, 9, c.ProductBarcode)
	l.symbol(ElemCode128, 52, 75, 46, 9, c.ExpiryBarcode)
	l.statement(l.donorStatements(c.DonorStatements, 88.8, 93))
	return l
}
