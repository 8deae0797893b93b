package web

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
	"cordtrace/web/charts"
)

// The dashboards show aggregates only: counts, lot numbers, bag ids, wards. None shows a
// patient's subject id, MRN or name, so reading one discloses no patient data and writes no
// audit entry; a panel that ever does must record its reading through the store's write path.

// dashSection is one dashboard page and who may open it.
type dashSection struct {
	Path, Title, About string
	Perm               domain.Permission
}

var dashSections = []dashSection{
	{"/dashboards/lab", "Lots and QC trends", "Lots by status and days in quarantine; viability and BV2 inhibition per lot against the specification's limits.", domain.PermDashboardLab},
	{"/dashboards/stock", "Expiring units and bags on their way", "Units of lots about to expire; dose bags out of the pharmacy and not yet infused, and for how long.", domain.PermDashboardStock},
	{"/dashboards/compliance", "Bedside scan compliance", "Per ward and day or week: passes, stops by failed check, and bag codes typed instead of scanned.", domain.PermDashboardCompliance},
}

type dashIndexData struct{ Sections []dashSection }

// option is one choice of a dashboard filter.
type option struct {
	Value, Label string
	Selected     bool
}

type filter struct {
	Name, Label string
	Options     []option
}

// table is a panel's numbers, the accessible fallback of its charts.
type table struct {
	Head []string
	Rows [][]string
}

type panel struct {
	ID, Title, Note string
	Charts          []template.HTML
	Table           table
}

type dashData struct {
	Filters []filter
	Panels  []panel
}

// allowed returns the sections u may open.
func allowed(u domain.User) []dashSection {
	var out []dashSection
	for _, s := range dashSections {
		if _, err := domain.Authorize(u, s.Perm); err == nil {
			out = append(out, s)
		}
	}
	return out
}

func (h *Handler) dashboards(c echo.Context, u domain.User) error {
	secs := allowed(u)
	status, view := http.StatusOK, View{Title: "Dashboards", User: &u, Data: dashIndexData{Sections: secs}}
	if len(secs) == 0 {
		status, view.Flash = http.StatusForbidden, "No dashboard is open to your role. Ask an admin if you need one."
	}
	return h.pages.Render(c.Response(), status, "dashboards", view)
}

// dashboard wraps a section's handler with its permission check.
func (h *Handler) dashboard(perm domain.Permission, build func(c echo.Context) (string, dashData, error)) func(echo.Context, domain.User) error {
	return func(c echo.Context, u domain.User) error {
		if _, err := domain.Authorize(u, perm); err != nil {
			return h.pages.Render(c.Response(), http.StatusForbidden, "dashboards", View{Title: "Dashboards", User: &u,
				Flash: domain.ErrorMessage(err), Data: dashIndexData{Sections: allowed(u)}})
		}
		title, data, err := build(c)
		view := View{Title: title, User: &u, Data: data}
		if err != nil {
			view.Flash = domain.ErrorMessage(err)
		}
		return h.pages.Render(c.Response(), http.StatusOK, "dashboard", view)
	}
}

// choose reads a filter from the query, falling back to the first option for anything else.
func choose(c echo.Context, name, label string, opts ...option) (string, filter) {
	v := c.QueryParam(name)
	found := false
	for _, o := range opts {
		found = found || o.Value == v
	}
	if !found {
		v = opts[0].Value
	}
	for i := range opts {
		opts[i].Selected = opts[i].Value == v
	}
	return v, filter{Name: name, Label: label, Options: opts}
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (h *Handler) dashLab(c echo.Context) (string, dashData, error) {
	ctx := c.Request().Context()
	title := "Lots and QC trends"
	days, win := choose(c, "days", "Results entered in the last",
		option{Value: "365", Label: "year"}, option{Value: "90", Label: "90 days"}, option{Value: "1825", Label: "5 years"})
	n, _ := strconv.Atoi(days)
	data := dashData{Filters: []filter{win}}
	ov, err := h.svc.Dashboards.LotOverview(ctx)
	if err != nil {
		return title, data, err
	}
	st := charts.Bars{ID: "lots-by-status", Title: "Lots by status", Unit: "lots", Horizontal: true,
		Desc: "Number of lots in each status.", Series: []charts.Series{{Name: "lots", Color: charts.Neutral}}}
	var stRows [][]string
	for _, s := range ov.ByStatus {
		st.Labels = append(st.Labels, string(s.Status))
		st.Values = append(st.Values, []float64{float64(s.Lots)})
		stRows = append(stRows, []string{string(s.Status), strconv.Itoa(s.Lots)})
	}
	q := charts.Bars{ID: "quarantine-days", Title: "Days in quarantine", Unit: "days", Horizontal: true,
		Desc:   fmt.Sprintf("%d lots waiting in quarantine, longest first, with the days each has waited.", len(ov.Quarantined)),
		Series: []charts.Series{{Name: "days", Color: charts.Warn}}}
	var qRows [][]string
	for _, l := range ov.Quarantined {
		q.Labels = append(q.Labels, l.LotNumber)
		q.Values = append(q.Values, []float64{l.Days})
		qRows = append(qRows, []string{l.LotNumber, l.Since.Format("2006-01-02 15:04 UTC"), f1(l.Days)})
	}
	data.Panels = append(data.Panels,
		panel{ID: "lots-status", Title: "Lots by status", Charts: []template.HTML{st.SVG()}, Table: table{Head: []string{"Status", "Lots"}, Rows: stRows}},
		panel{ID: "quarantine", Title: "Days in quarantine", Charts: []template.HTML{q.SVG()}, Table: table{Head: []string{"Lot", "In quarantine since", "Days"}, Rows: qRows}})

	tr, err := h.svc.Dashboards.QCTrend(ctx, time.Now().AddDate(0, 0, -n))
	if err != nil {
		return title, data, err
	}
	trend := func(id, name, unit string, pts []domain.QCTrendPoint, limit float64) panel {
		ch := charts.Timeline{ID: id, Title: name + " per lot over time", Unit: unit, Min: 0, Max: 100,
			Desc:   fmt.Sprintf("%d results; the dashed line is the specification v%d minimum of %s %s; points below it are red.", len(pts), tr.SpecVersion, f1(limit), unit),
			Limits: []charts.Limit{{Label: "min", Value: limit}}}
		var rows [][]string
		for _, p := range pts {
			ch.Points = append(ch.Points, charts.Point{At: p.EnteredAt, Value: p.Value, Label: p.LotNumber})
			verdict := "meets"
			if p.Value < limit {
				verdict = "BELOW"
			}
			rows = append(rows, []string{p.LotNumber, p.EnteredAt.Format("2006-01-02 15:04 UTC"), f1(p.Value), verdict})
		}
		return panel{ID: id, Title: name + " per lot", Note: fmt.Sprintf("Limit: at least %s %s (specification v%d). Corrected results count as corrected.", f1(limit), unit, tr.SpecVersion),
			Charts: []template.HTML{ch.SVG()}, Table: table{Head: []string{"Lot", "Entered", name + " (" + unit + ")", "Against limit"}, Rows: rows}}
	}
	data.Panels = append(data.Panels,
		trend("viability", "Viability", "%", tr.Viability, tr.MinViabilityPct),
		trend("bv2-inhibition", "BV2 inhibition", "%", tr.Inhibition, tr.MinInhibitionPct))
	return title, data, nil
}

func (h *Handler) dashStock(c echo.Context) (string, dashData, error) {
	ctx := c.Request().Context()
	title := "Expiring units and bags on their way"
	days, hz := choose(c, "days", "Lots expiring within",
		option{Value: "90", Label: "90 days"}, option{Value: "30", Label: "30 days"}, option{Value: "365", Label: "a year"})
	n, _ := strconv.Atoi(days)
	data := dashData{Filters: []filter{hz}}
	lots, err := h.svc.Dashboards.ExpiringUnits(ctx, time.Duration(n)*24*time.Hour)
	if err != nil {
		return title, data, err
	}
	ex := charts.Bars{ID: "expiring-units", Title: "Units of lots expiring within " + days + " days", Unit: "units", Horizontal: true,
		Desc:   fmt.Sprintf("%d lots expire within %s days with units not yet used, soonest first.", len(lots), days),
		Series: []charts.Series{{Name: "available", Color: charts.Pass}, {Name: "allocated", Color: charts.Warn}}}
	var exRows [][]string
	for _, l := range lots {
		ex.Labels = append(ex.Labels, fmt.Sprintf("%s (%.0f d)", l.LotNumber, l.DaysLeft))
		ex.Values = append(ex.Values, []float64{float64(l.Available), float64(l.Allocated)})
		exRows = append(exRows, []string{l.LotNumber, string(l.Status), l.ExpiresAt.Format("2006-01-02"), f1(l.DaysLeft), strconv.Itoa(l.Available), strconv.Itoa(l.Allocated)})
	}
	bags, err := h.svc.Dashboards.BagsInTransit(ctx)
	if err != nil {
		return title, data, err
	}
	bt := charts.Bars{ID: "bags-in-transit", Title: "Dose bags out of the pharmacy, not infused", Horizontal: true,
		Series: []charts.Series{{Name: "in transit", Color: charts.Warn}, {Name: "on the ward", Color: charts.Neutral}}}
	// Bags are usually out for minutes: the chart counts minutes until one has been out for
	// three hours.
	scale := 60.0
	bt.Unit = "min"
	for _, b := range bags {
		if b.Hours >= 3 {
			scale, bt.Unit = 1, "h"
		}
	}
	bt.Desc = fmt.Sprintf("%d bags; the length of each bar is the time since dispatch, in %s.", len(bags), map[string]string{"min": "minutes", "h": "hours"}[bt.Unit])
	var btRows [][]string
	for _, b := range bags {
		v := []float64{b.Hours * scale, 0}
		if b.Status != domain.BagDispatched {
			v = []float64{0, b.Hours * scale}
		}
		id := b.BagID
		if len(id) > 6 {
			id = "…" + id[len(id)-6:]
		}
		bt.Labels = append(bt.Labels, b.Location+" "+id)
		bt.Values = append(bt.Values, v)
		btRows = append(btRows, []string{b.BagID, b.LotNumber, string(b.Status), b.Location, b.DispatchedAt.Format("2006-01-02 15:04 UTC"), f1(b.Hours), b.ExpiresAt.Format("2006-01-02 15:04 UTC")})
	}
	data.Panels = []panel{
		{ID: "expiring", Title: "Expiring units", Note: "Lots not rejected, recalled or expired, with units available or allocated.",
			Charts: []template.HTML{ex.SVG()}, Table: table{Head: []string{"Lot", "Status", "Expires", "Days left", "Available", "Allocated"}, Rows: exRows}},
		{ID: "in-transit", Title: "Dose bags in transit", Note: "Dispatched and not yet received (in transit), or received and not yet infused (on the ward).",
			Charts: []template.HTML{bt.SVG()}, Table: table{Head: []string{"Bag", "Lot", "Status", "Where", "Dispatched", "Hours out", "Bag expires"}, Rows: btRows}},
	}
	return title, data, nil
}

func (h *Handler) dashCompliance(c echo.Context) (string, dashData, error) {
	ctx := c.Request().Context()
	title := "Bedside scan compliance"
	per, pf := choose(c, "period", "Per", option{Value: "day", Label: "day, last 14 days"}, option{Value: "week", Label: "week, last 12 weeks"})
	p, _ := domain.ParsePeriod(per)
	data := dashData{Filters: []filter{pf}}
	now := time.Now()
	since, count, format := now.AddDate(0, 0, -13), 14, "01-02"
	if p == domain.PeriodWeek {
		since, count, format = now.AddDate(0, 0, -7*11), 12, "wk 01-02"
	}
	buckets, err := h.svc.Dashboards.ScanCompliance(ctx, since, p)
	if err != nil {
		return title, data, err
	}
	// The periods on the axis: every one in the window, with or without verifications, in
	// the time zone of the buckets.
	loc := time.UTC
	if len(buckets) > 0 {
		loc = buckets[0].Start.Location()
	}
	var periods []time.Time
	for t, i := p.Start(since, loc), 0; i < count; t, i = p.Next(t), i+1 {
		periods = append(periods, t)
	}
	byWard := map[string]map[int64]domain.ComplianceBucket{}
	var wards []string
	type tally struct {
		qr, isbt, manual, unknown, stops, typed int
		reasons                                 map[string]int
	}
	totals := map[string]*tally{}
	checks := map[string]int{}
	var rows [][]string
	for _, b := range buckets {
		if byWard[b.Ward] == nil {
			byWard[b.Ward] = map[int64]domain.ComplianceBucket{}
			wards = append(wards, b.Ward)
			totals[b.Ward] = &tally{reasons: map[string]int{}}
		}
		byWard[b.Ward][b.Start.Unix()] = b
		tl := totals[b.Ward]
		tl.qr, tl.isbt, tl.manual, tl.unknown, tl.stops = tl.qr+b.QR, tl.isbt+b.ISBT, tl.manual+b.Manual, tl.unknown+b.Unknown, tl.stops+b.Stops
		tl.typed += b.Typed
		for r, k := range b.EntryReasons {
			tl.reasons[r] += k
		}
		var codes []string
		for code, k := range b.StopsByCheck {
			checks[code] += k
			codes = append(codes, code+" "+strconv.Itoa(k))
		}
		sort.Strings(codes)
		rows = append(rows, []string{b.Ward, b.Start.Format("2006-01-02"), strconv.Itoa(b.Verifications), strconv.Itoa(b.Passes), strconv.Itoa(b.Stops),
			strings.Join(codes, ", "), strconv.Itoa(b.QR), strconv.Itoa(b.ISBT), strconv.Itoa(b.Manual)})
	}
	var perWard []template.HTML
	for i, w := range wards {
		ch := charts.Bars{ID: fmt.Sprintf("ward-%d-%s", i, w), Title: "Ward " + w + ": bedside verifications per " + per, Unit: "verifications",
			Desc:   fmt.Sprintf("Passes and stops at the bedside on ward %s, per %s.", w, per),
			Series: []charts.Series{{Name: "pass", Color: charts.Pass}, {Name: "stop", Color: charts.Stop}}}
		for _, t := range periods {
			b := byWard[w][t.Unix()]
			ch.Labels = append(ch.Labels, t.Format(format))
			ch.Values = append(ch.Values, []float64{float64(b.Passes), float64(b.Stops)})
		}
		perWard = append(perWard, ch.SVG())
	}
	entries := charts.Bars{ID: "code-entry", Title: "How bag codes were entered, per ward", Unit: "verifications", Horizontal: true,
		Desc:   "Bedside verifications per ward by how the bag's code was read: QR, ISBT 128, typed by hand (manual), or not recognised.",
		Series: []charts.Series{{Name: "QR", Color: charts.Pass}, {Name: "ISBT", Color: charts.Neutral}, {Name: "manual", Color: charts.Warn}, {Name: "unknown", Color: charts.Muted}}}
	var entryRows [][]string
	for _, w := range wards {
		tl := totals[w]
		entries.Labels = append(entries.Labels, w)
		entries.Values = append(entries.Values, []float64{float64(tl.qr), float64(tl.isbt), float64(tl.manual), float64(tl.unknown)})
		all := tl.qr + tl.isbt + tl.manual + tl.unknown
		share := "0.0"
		if all > 0 {
			share = f1(100 * float64(tl.manual) / float64(all))
		}
		var reasons []string
		for _, r := range domain.EntryReasons {
			if k := tl.reasons[r]; k > 0 {
				reasons = append(reasons, r+" "+strconv.Itoa(k))
			}
		}
		entryRows = append(entryRows, []string{w, strconv.Itoa(tl.qr), strconv.Itoa(tl.isbt), strconv.Itoa(tl.manual), strconv.Itoa(tl.unknown), share, strconv.Itoa(tl.typed),
			strings.Join(reasons, ", ")})
	}
	codes := make([]string, 0, len(checks))
	for code := range checks {
		codes = append(codes, code)
	}
	sort.Slice(codes, func(i, j int) bool {
		return checks[codes[i]] > checks[codes[j]] || checks[codes[i]] == checks[codes[j]] && codes[i] < codes[j]
	})
	stops := charts.Bars{ID: "stops-by-check", Title: "Stops by failed check", Unit: "stops", Horizontal: true,
		Desc: "How often each bedside check failed, all wards together; one stop may fail several checks.", Series: []charts.Series{{Name: "stops", Color: charts.Stop}}}
	var stopRows [][]string
	for _, code := range codes {
		stops.Labels = append(stops.Labels, code)
		stops.Values = append(stops.Values, []float64{float64(checks[code])})
		stopRows = append(stopRows, []string{code, strconv.Itoa(checks[code])})
	}
	if len(perWard) == 0 {
		perWard = []template.HTML{charts.Bars{ID: "no-ward", Title: "Bedside verifications", Desc: "No bedside verification in this window."}.SVG()}
	}
	data.Panels = []panel{
		{ID: "wards", Title: "Passes and stops per ward", Note: "Every bedside verification, passing or stopped, per " + per + ".", Charts: perWard,
			Table: table{Head: []string{"Ward", "From", "Verifications", "Passes", "Stops", "Stops by check", "QR", "ISBT", "Manual"}, Rows: rows}},
		{ID: "stops", Title: "Stops by check", Charts: []template.HTML{stops.SVG()}, Table: table{Head: []string{"Check", "Stops"}, Rows: stopRows}},
		{ID: "entries", Title: "Manual entries", Note: "A typed code bypasses the scanner, the known failure of barcode administration. " +
			"\"Typed, not scanned\" counts verifications whose wristband or bag code the bedside page saw typed key by key rather than scanned; " +
			"\"Entry reasons\" the reasons given for codes that were typed or were not the signed QR code, which prove less than a scanned label.",
			Charts: []template.HTML{entries.SVG()}, Table: table{Head: []string{"Ward", "QR", "ISBT", "Manual", "Unknown", "Manual %", "Typed, not scanned", "Entry reasons"}, Rows: entryRows}},
	}
	return title, data, nil
}
