package labels

import (
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"cordtrace/domain"
)

// RenderCoA writes a lot's certificate of analysis (SPEC §5): the lot and its donation, every
// criterion with its limit, value and verdict under the specification version used, every
// result including corrected ones, and the signatures with printed names and meanings.
func RenderCoA(w io.Writer, d domain.LotDetail, productName string, site *time.Location) error {
	if site == nil {
		site = time.UTC
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetCreator("cordtrace", true)
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	pdf.AddPage()
	line := func(size float64, style, text string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(0, size*0.5, tr(text), "", "L", false)
	}
	when := func(t time.Time) string {
		return t.UTC().Format("2006-01-02 15:04 UTC") + " (" + t.In(site).Format("2006-01-02 15:04 MST") + ")"
	}
	line(16, "B", "Certificate of Analysis")
	line(10, "", productName)
	pdf.Ln(2)
	line(10, "", fmt.Sprintf("Lot %s    Status %s", d.Lot.LotNumber, d.Lot.Status))
	line(10, "", fmt.Sprintf("Donation DIN %s [%s]    Donor eligibility %s", d.Donation.EyeReadable, d.Donation.Check, d.Donation.Eligibility))
	line(10, "", "Manufactured "+when(d.Lot.ManufacturedAt)+"    Expires "+when(d.Lot.ExpiresAt))
	line(10, "", fmt.Sprintf("Evaluated against specification version %d", d.Evaluation.SpecVersion))
	pdf.Ln(3)

	cols := []float64{45, 50, 40, 45}
	row := func(style string, cells ...string) {
		pdf.SetFont("Helvetica", style, 9)
		for i, c := range cells {
			pdf.CellFormat(cols[i], 6, tr(c), "1", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	row("B", "Criterion", "Specification", "Result", "Verdict")
	for _, c := range d.Evaluation.Criteria {
		row("", c.Name, c.Limit, c.Value, strings.ToUpper(c.Status))
	}
	verdict := "NOT RELEASABLE: not every criterion passes"
	if d.Evaluation.Releasable {
		verdict = "All criteria pass"
	}
	pdf.Ln(2)
	line(10, "B", verdict)
	pdf.Ln(3)

	line(11, "B", "Results recorded (corrections shown with the result they replace)")
	for _, r := range d.Results {
		text := fmt.Sprintf("#%d %s %s, entered %s", r.ID, r.Test, resultValue(r), when(r.EnteredAt))
		if r.Corrects != nil {
			text += fmt.Sprintf(", corrects #%d: %s", *r.Corrects, r.Reason)
		}
		if r.InvalidReason != "" {
			text += ", invalid: " + r.InvalidReason
		}
		line(8, "", text)
	}
	pdf.Ln(3)
	line(11, "B", "Out-of-specification (OOS) investigations")
	if len(d.Investigations) == 0 {
		line(9, "", "None.")
	}
	for _, inv := range d.Investigations {
		text := fmt.Sprintf("OOS investigation %d: %s, failing result #%d, opened %s, %s", inv.ID, inv.Test, inv.ResultID, when(inv.OpenedAt), inv.Status)
		if inv.Status == domain.InvestigationClosed {
			text += fmt.Sprintf(": %s, reviewed results #%d to #%d", inv.Conclusion, inv.ResultID, inv.LastResultID)
		}
		line(9, "", text)
		if inv.ClosedAt != nil {
			line(8, "", fmt.Sprintf("Signed by %s, %s: %s; reason: %s", inv.SignedBy, when(*inv.ClosedAt), inv.Meaning, inv.Reason))
		}
	}
	pdf.Ln(3)
	line(11, "B", "Electronic signatures")
	if len(d.Signatures) == 0 {
		line(9, "", "None.")
	}
	for _, s := range d.Signatures {
		line(9, "B", fmt.Sprintf("%s (%s): %s", s.PrintedName, s.Role, s.Meaning))
		text := "Signed " + when(s.SignedAt)
		if s.SpecVersion != 0 {
			text += fmt.Sprintf(", specification v%d, evaluation %s", s.SpecVersion, s.EvaluationHash)
		}
		if s.Reason != "" {
			text += ", reason: " + s.Reason
		}
		line(8, "", text)
	}
	if !d.SignedEvaluationCurrent {
		pdf.Ln(2)
		line(10, "B", "WARNING: results changed after release; the signed evaluation is no longer the current one.")
	}
	pdf.Ln(4)
	line(8, "B", InvestigationalStatement)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("render certificate: %w", err)
	}
	return pdf.Output(w)
}

func resultValue(r domain.QCResult) string {
	switch {
	case r.Test == domain.TestBV2Potency:
		valid := "invalid"
		if r.Valid != nil && *r.Valid {
			valid = "valid"
		}
		inh := 0.0
		if r.InhibitionPct != nil {
			inh = *r.InhibitionPct
		}
		return fmt.Sprintf("%s run, inhibition %.1f %% (baseline %v, LPS %v, LPS+MSC %v)", valid, inh, r.Baseline, r.LPS, r.Treated)
	case r.Value != nil:
		return fmt.Sprintf("%g", *r.Value)
	case len(r.Markers) > 0:
		var parts []string
		for _, m := range []string{"CD73", "CD90", "CD105", "CD34", "CD45", "CD14", "CD11b", "CD19", "CD79a", "HLA-DR"} {
			if v, ok := r.Markers[m]; ok {
				parts = append(parts, fmt.Sprintf("%s %.1f %%", m, v))
			}
		}
		return strings.Join(parts, ", ")
	}
	return r.Result
}
