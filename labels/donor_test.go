package labels

import (
	"strings"
	"testing"

	"cordtrace/domain"
)

// A label of a lot whose donor is not yet determined eligible carries the statements of
// 21 CFR 1271.60(d)(2) whole, clear of every symbol and inside the label; once the donor is
// eligible it carries none.
func TestDonorStatementsOnLabels(t *testing.T) {
	statements := domain.DonorLabelStatements(domain.Pending)
	if len(statements) == 0 || domain.DonorLabelStatements(domain.Eligible) != nil {
		t.Fatalf("statements: pending %v, eligible %v", statements, domain.DonorLabelStatements(domain.Eligible))
	}
	unit, bag := sampleUnit(), sampleBag()
	unit.DonorStatements, bag.DonorStatements = statements, statements
	for _, tc := range []struct {
		name string
		l    Layout
	}{{"unit", UnitLayout(unit)}, {"dose bag", DoseBagLayout(bag)}} {
		text := strings.Join(tc.l.Texts(), "\n")
		for _, want := range append([]string{domain.StatementNotEvaluated, domain.StatementAdviseRisks, "to investigational use."}, statements...) {
			if !strings.Contains(text, want) {
				t.Errorf("%s label lacks %q:\n%s", tc.name, want, text)
			}
		}
		for _, e := range tc.l.Elements {
			var x0, y0, x1, y1 float64
			if e.Kind == ElemText {
				x0, y0, x1, y1 = textRect(t, e)
			} else {
				x0, y0, x1, y1 = e.X, e.Y, e.X+e.W, e.Y+e.H
			}
			if x0 < 0 || y0 < 0 || x1 > WidthMM || y1 > HeightMM {
				t.Errorf("%s: %q leaves the label (%.1f,%.1f)-(%.1f,%.1f)", tc.name, e.Text, x0, y0, x1, y1)
			}
			if e.Kind != ElemText {
				continue
			}
			for _, s := range tc.l.Elements {
				if s.Kind == ElemText || s.Kind == ElemBox {
					continue
				}
				if x0 < s.X+s.W+2 && x1 > s.X-2 && y0 < s.Y+s.H+2 && y1 > s.Y-2 {
					t.Errorf("%s: text %q overlaps the symbol at (%.0f,%.0f)", tc.name, e.Text, s.X, s.Y)
				}
			}
			for _, o := range tc.l.Elements {
				if o.Kind != ElemText || o == e {
					continue
				}
				ox0, oy0, ox1, oy1 := textRect(t, o)
				if x0 < ox1 && x1 > ox0 && y0 < oy1-0.3 && y1 > oy0+0.3 && (strings.Contains(e.Text, "NOT EVALUATED") || strings.Contains(e.Text, "WARNING") || strings.Contains(e.Text, "URGENT")) {
					t.Errorf("%s: %q overlaps %q", tc.name, e.Text, o.Text)
				}
			}
		}
	}
}
