package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/web/charts"
)

// The trial page (SPEC §13): the allocation lists and the subjects by arm, for physicians and
// QA; QA loads and signs the list here. Aggregates only: it names no patient.

type trialData struct {
	domain.TrialSummary
}

func (h *Handler) trial(c echo.Context, u domain.User) error {
	view := View{Title: "Trial", User: &u}
	sum, err := h.svc.Trial.TrialSummary(c.Request().Context())
	if err != nil {
		return err
	}
	view.Data = trialData{TrialSummary: sum}
	return h.pages.Render(c.Response(), http.StatusOK, "trial", view)
}

// The follow-up pages, for those who care for patients (domain.PermListPatients): the
// worklist of assessments due and overdue, and one patient's follow-up with its forms. They
// show subject ids and measurements, and each read is recorded as a disclosure.

var followUpFields = []string{domain.FieldSubjectID, domain.FieldClinical}

type worklistData struct {
	Due []domain.AssessmentDue
}

func (h *Handler) followUpWorklist(c echo.Context, u domain.User) error {
	w, err := h.svc.Trial.FollowUpWorklist(c.Request().Context())
	if err != nil {
		return err
	}
	if len(w) > 0 {
		if err := h.disclose(c, u, domain.ViaPageFollowUpWorklist, []string{domain.FieldSubjectID}, domain.WorklistPatientIDs(w)); err != nil {
			return err
		}
	}
	return h.pages.Render(c.Response(), http.StatusOK, "follow_up_worklist", View{Title: "Follow-up", User: &u, Data: worklistData{Due: w}})
}

// followUpData is one patient's follow-up page: the record, the measurements with their
// ranges for the form, and the protocol's days.
type followUpData struct {
	domain.FollowUp
	Measurements []domain.Measurement
	Rows         []assessmentLine
	Days         []int
	Kinds        []domain.OutcomeKind
}

// assessmentLine is an assessment as the table shows it: the values in Measurements order,
// "" where not measured.
type assessmentLine struct {
	domain.Assessment
	Values []string
}

func (h *Handler) followUp(c echo.Context, u domain.User) error {
	id, err := pathID(c)
	if err != nil {
		return h.patientsMessage(c, u, "There is no such patient. Pick one from the list.")
	}
	f, err := h.svc.Trial.FollowUp(c.Request().Context(), id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return h.patientsMessage(c, u, domain.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if err := h.disclose(c, u, domain.ViaPageFollowUp, followUpFields, []int64{id}); err != nil {
		return err
	}
	d := followUpData{FollowUp: f, Measurements: domain.Measurements, Days: domain.DefaultAssessmentDays,
		Kinds: []domain.OutcomeKind{domain.OutcomeDischarge, domain.OutcomeDeath, domain.OutcomeWithdrawal, domain.OutcomeLost}}
	for _, a := range f.Assessments {
		line := assessmentLine{Assessment: a}
		for _, v := range a.Values() {
			s := ""
			if v != nil {
				s = strconv.FormatFloat(*v, 'g', -1, 64)
			}
			line.Values = append(line.Values, s)
		}
		d.Rows = append(d.Rows, line)
	}
	return h.pages.Render(c.Response(), http.StatusOK, "follow_up", View{Title: "Follow-up " + f.SubjectID, User: &u, Data: d})
}

// armColor is each arm's colour on the endpoint charts.
var armColor = map[domain.Arm]string{domain.ArmHUCMSC: charts.Neutral, domain.ArmRoutine: charts.Warn}

// fig writes a figure for the tables: "–" where there was nothing to compute it from.
func fig(v *float64, digits int) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', digits, 64)
}

func (h *Handler) endpoints(c echo.Context, u domain.User) error {
	e, err := h.svc.Trial.Endpoints(c.Request().Context())
	if err != nil {
		return err
	}
	return h.pages.Render(c.Response(), http.StatusOK, "endpoints", View{Title: "Trial endpoints", User: &u, Data: endpointPanels(e)})
}

// endpointPanels draws the endpoints: mortality with the Kaplan–Meier curves, length of stay,
// adverse events, and one panel per measurement with its medians by day; each with its table.
func endpointPanels(e domain.Endpoints) dashData {
	var d dashData
	km := charts.Curves{ID: "km", Title: "Survival to day 90 (Kaplan–Meier)", Desc: "Estimated probability of being alive by study day, per arm",
		XLabel: "study day", XMax: domain.FollowUpEndDay, YMin: 0, YMax: 1, Steps: true, XTicks: []float64{0, 14, 28, 60, 90}}
	mort := panel{ID: "mortality", Title: "90-day mortality", Note: "Deaths by day 90 over subjects in the arm; the curve censors withdrawals and losses on their day.",
		Table: table{Head: []string{"Arm", "Subjects", "Deaths by day 90", "Mortality", "Survival at day 90 (KM)"}}}
	kmTable := table{Head: []string{"Arm", "Day", "At risk", "Deaths", "Censored", "Survival"}}
	stay := panel{ID: "stay", Title: "Length of stay", Note: "Days from the enrolment date to discharge, of those discharged alive; deaths in hospital and those not discharged are counted beside it.",
		Table: table{Head: []string{"Arm", "Discharged alive", "Mean (d)", "Median (d)", "IQR (d)", "Deaths in hospital", "Not discharged"}}}
	aes := panel{ID: "adverse-events", Title: "Adverse events", Table: table{Head: []string{"Arm", "AEs (not serious)", "SAEs"}}}
	aeBars := charts.Bars{ID: "ae-bars", Title: "Adverse events by arm", Desc: "Adverse events and serious adverse events per arm", Unit: "events", Horizontal: true,
		Series: []charts.Series{{Name: "AE", Color: charts.Neutral}, {Name: "SAE", Color: charts.Stop}}}
	for _, a := range e.Arms {
		curve := charts.Curve{Name: string(a.Arm), Color: armColor[a.Arm]}
		last := "–"
		for _, p := range a.KM {
			s := p.Survival
			curve.Points = append(curve.Points, charts.XY{X: float64(p.Day), Y: s, Label: fmt.Sprintf("day %d: %.3f (%d at risk)", p.Day, s, p.AtRisk)})
			kmTable.Rows = append(kmTable.Rows, []string{string(a.Arm), strconv.Itoa(p.Day), strconv.Itoa(p.AtRisk), strconv.Itoa(p.Events), strconv.Itoa(p.Censored), fmt.Sprintf("%.3f", s)})
			last = fmt.Sprintf("%.3f", s)
		}
		km.Series = append(km.Series, curve)
		pct := "–"
		if a.Mortality90d != nil {
			pct = fmt.Sprintf("%.1f %%", *a.Mortality90d*100)
		}
		mort.Table.Rows = append(mort.Table.Rows, []string{string(a.Arm), strconv.Itoa(a.Randomized), strconv.Itoa(a.Deaths90d), pct, last})
		iqr := "–"
		if a.LOSQ1 != nil {
			iqr = fig(a.LOSQ1, 1) + "–" + fig(a.LOSQ3, 1)
		}
		stay.Table.Rows = append(stay.Table.Rows, []string{string(a.Arm), strconv.Itoa(a.Discharged), fig(a.LOSMean, 1), fig(a.LOSMedian, 1), iqr,
			strconv.Itoa(a.DeathsInHospital), strconv.Itoa(a.InHospital)})
		aes.Table.Rows = append(aes.Table.Rows, []string{string(a.Arm), strconv.Itoa(a.AECount), strconv.Itoa(a.SAECount)})
		aeBars.Labels = append(aeBars.Labels, string(a.Arm))
		aeBars.Values = append(aeBars.Values, []float64{float64(a.AECount), float64(a.SAECount)})
	}
	mort.Charts = []template.HTML{km.SVG()}
	d.Panels = append(d.Panels, mort, panel{ID: "km-table", Title: "Kaplan–Meier steps", Table: kmTable}, stay)
	aes.Charts = []template.HTML{aeBars.SVG()}
	d.Panels = append(d.Panels, aes)
	for i, m := range domain.Measurements {
		chart := charts.Curves{ID: "median-" + m.Field, Title: m.Name + " median by day (" + m.Unit + ")", Desc: "Median " + m.Name + " per arm on each assessment day",
			XLabel: "study day", Unit: m.Unit, XMax: domain.FollowUpEndDay, XTicks: []float64{0, 7, 14, 28, 90}}
		p := panel{ID: "median-" + m.Field, Title: m.Name + " (" + m.Unit + ")", Table: table{Head: []string{"Arm", "Day", "Values", "Median"}}}
		for _, a := range e.Arms {
			curve := charts.Curve{Name: string(a.Arm), Color: armColor[a.Arm]}
			if i < len(a.Trajectories) {
				for _, pt := range a.Trajectories[i].Points {
					v := strconv.FormatFloat(pt.Median, 'g', 4, 64)
					curve.Points = append(curve.Points, charts.XY{X: float64(pt.Day), Y: pt.Median, Label: fmt.Sprintf("day %d: %s %s (n = %d)", pt.Day, v, m.Unit, pt.N)})
					p.Table.Rows = append(p.Table.Rows, []string{string(a.Arm), strconv.Itoa(pt.Day), strconv.Itoa(pt.N), v})
				}
			}
			chart.Series = append(chart.Series, curve)
		}
		p.Charts = []template.HTML{chart.SVG()}
		d.Panels = append(d.Panels, p)
	}
	return d
}
