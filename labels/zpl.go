package labels

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Zebra printers come at these resolutions; ZPL positions are in printer dots.
const (
	ZPL203 = 203
	ZPL300 = 300
)

// RenderZPL writes the layout as a ZPL II label for a Zebra printer at dpi (203 or 300).
// Symbols are drawn by the printer's own encoders (^BQ, ^BC, ^BX), which print sharper than a
// downloaded bitmap, from the same data the PNG and PDF carry.
func RenderZPL(w io.Writer, l Layout, dpi int) error {
	if dpi != ZPL203 && dpi != ZPL300 {
		return fmt.Errorf("ZPL resolution must be %d or %d dpi, not %d", ZPL203, ZPL300, dpi)
	}
	dots := func(mm float64) int { return mmToPx(mm, dpi) }
	var b strings.Builder
	// ^CI28: field data is UTF-8, so °, × and — print as themselves.
	fmt.Fprintf(&b, "^XA\n^CI28\n^PW%d\n^LL%d\n^LH0,0\n", dots(WidthMM), dots(HeightMM))
	for _, e := range l.Elements {
		switch e.Kind {
		case ElemText:
			h := int(math.Round(e.H / 72 * float64(dpi))) // points to dots
			top := dots(e.Y) - int(float64(h)*0.8)        // ^FO places the top, the layout the baseline
			font := "0"                                   // the printer's scalable font
			fmt.Fprintf(&b, "^FO%d,%d^A%sN,%d,%d%s^FS\n", dots(e.X), top, font, h, h, fd("", e.Text))
		case ElemBox:
			fmt.Fprintf(&b, "^FO%d,%d^GB%d,%d,%d^FS\n", dots(e.X), dots(e.Y), dots(e.W), dots(e.H), max(1, dpi/100))
		case ElemQR:
			m, level, err := qrSymbol(e.Text)
			if err != nil {
				return err
			}
			mag := max(1, min(10, dots(e.W)/len(m)))
			// ^BQ draws from about 10 dots below ^FO; the field starts with the error correction
			// level our own check chose, then A for automatic mode.
			fmt.Fprintf(&b, "^FO%d,%d^BQN,2,%d%s^FS\n", dots(e.X), dots(e.Y), mag, fd(string(level)+"A,", e.Text))
		case ElemCode128:
			m, err := Modules(ElemCode128, e.Text)
			if err != nil {
				return err
			}
			module := max(1, dots(e.W)/len(m[0]))
			// ^BC with mode A: the printer picks subsets B and C itself, as our encoder does.
			fmt.Fprintf(&b, "^FO%d,%d^BY%d^BCN,%d,N,N,N,A%s^FS\n", dots(e.X), dots(e.Y), module, dots(e.H), fd("", e.Text))
		case ElemDataMatrix:
			m, err := Modules(ElemDataMatrix, e.Text)
			if err != nil {
				return err
			}
			module := max(1, dots(e.W)/len(m))
			fmt.Fprintf(&b, "^FO%d,%d^BXN,%d,200%s^FS\n", dots(e.X), dots(e.Y), module, fd("", e.Text))
		}
	}
	b.WriteString("^XZ\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fd writes field data so that it cannot be read as commands: ^ and ~ start ZPL commands, so
// a field holding them is written with hexadecimal escapes, enabled by ^FH with \ as the
// escape character. Signed payloads never hold ^, ~ or \ (base64url uses - and _), so they are
// sent as they are.
func fd(prefix, s string) string {
	if !strings.ContainsAny(s, "^~\\") {
		return "^FD" + prefix + s
	}
	r := strings.NewReplacer("\\", "\\5C", "^", "\\5E", "~", "\\7E")
	return "^FH\\^FD" + prefix + r.Replace(s)
}
