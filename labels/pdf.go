package labels

import (
	"fmt"
	"io"

	"codeberg.org/go-pdf/fpdf"
)

// RenderPDF writes the layouts as a PDF, one label per 4 × 4 inch page. Text is real PDF text
// and symbols are vector rectangles, so both are searchable or sharp at any printer resolution.
func RenderPDF(w io.Writer, layouts ...Layout) error {
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: WidthMM, Ht: HeightMM}})
	pdf.SetMargins(0, 0, 0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCreator("cordtrace", true)
	// The core Helvetica font needs no embedding; cp1252 covers °, ×, – and —.
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	for _, l := range layouts {
		pdf.AddPage()
		for _, e := range l.Elements {
			switch e.Kind {
			case ElemText:
				style := ""
				if e.Bold {
					style = "B"
				}
				pdf.SetFont("Helvetica", style, e.H)
				pdf.Text(e.X, e.Y, tr(e.Text))
			case ElemBox:
				pdf.SetLineWidth(0.25)
				pdf.Rect(e.X, e.Y, e.W, e.H, "D")
			default:
				m, err := Modules(e.Kind, e.Text)
				if err != nil {
					return fmt.Errorf("label element %q: %w", e.Text, err)
				}
				drawVectorModules(pdf, m, e)
			}
		}
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("render PDF: %w", err)
	}
	return pdf.Output(w)
}

// seam is how far a dark run reaches into the row below it (mm): rasterizers anti-alias the
// shared edge of two abutting rectangles into a light hairline, which a 2-D reader can take for
// a light row.
const seam = 0.05

// drawVectorModules draws a symbol's dark modules as filled rectangles, one per horizontal run,
// sized like the PNG renderer's so that both print the same symbol at the same size: whole
// dots of a 300-dpi printer per module, from a dot of that grid, so that a module never
// straddles two printer dots unevenly (a reader misjudges a QR's version from uneven ones).
func drawVectorModules(pdf *fpdf.Fpdf, m [][]bool, e Element) {
	cols, rows := len(m[0]), len(m)
	dot := 25.4 / PNGDPI
	mw := float64(max(1, mmToPx(e.W, PNGDPI)/cols)) * dot
	mh := e.H
	if rows > 1 {
		mw = float64(max(1, min(mmToPx(e.W, PNGDPI)/cols, mmToPx(e.H, PNGDPI)/rows))) * dot
		mh = mw
	}
	e.X, e.Y = float64(mmToPx(e.X, PNGDPI))*dot, float64(mmToPx(e.Y, PNGDPI))*dot
	pdf.SetFillColor(0, 0, 0)
	for r, row := range m {
		for c := 0; c < cols; {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < cols && row[c] {
				c++
			}
			h := mh
			if rows > 1 && r+1 < rows {
				h += seam // overlap the row below, so no hairline shows between dark modules
			}
			pdf.Rect(e.X+float64(start)*mw, e.Y+float64(r)*mh, float64(c-start)*mw, h, "F")
		}
	}
}
