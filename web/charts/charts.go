// Package charts draws the dashboards' charts as inline SVG, on the server: no script, no
// outside library, nothing loaded from the internet. Every text in a chart is escaped, so a
// lot number or ward name is shown as text and never read as markup. Each chart has a
// <title> and <desc> for screen readers, a viewBox and width 100% so that it scales from a
// 390 px phone to a desktop; the pages put the same numbers in a table beside it.
package charts

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Width is the viewBox width of every chart; text sizes are chosen for it, so that a chart
// drawn 360 px wide on a phone keeps its text readable.
const Width = 400

// Colours shared by the pages (they match app.css).
const (
	Pass    = "#0a7d2c"
	Stop    = "#b00020"
	Neutral = "#2f5d8a"
	Warn    = "#b35c00"
	Muted   = "#8a8a8a"
)

// Series is one stacked segment of every bar.
type Series struct {
	Name  string
	Color string
}

// Limit is a line drawn across a chart at a value, such as a specification limit.
type Limit struct {
	Label string
	Value float64
}

// Bars is a bar chart: one bar per label, each bar the stack of its series' values.
type Bars struct {
	ID, Title, Desc string
	Unit            string // of the values, shown after them: "lots", "days", "h"
	Labels          []string
	Series          []Series
	Values          [][]float64 // Values[bar][series]
	Limits          []Limit
	// Horizontal puts the labels down the left, one bar per row: for long labels and for
	// any number of bars on a phone.
	Horizontal bool
}

// Point is one value at one time.
type Point struct {
	At    time.Time
	Value float64
	Label string
}

// Timeline draws values over time as points joined in time order, against limits. A point
// below the first limit (a minimum) is drawn as failing.
type Timeline struct {
	ID, Title, Desc string
	Unit            string
	Points          []Point
	Limits          []Limit
	Min, Max        float64 // the value axis; both zero means 0 to 100
}

// esc escapes text for SVG inside HTML.
func esc(s string) string { return template.HTMLEscapeString(s) }

// num writes a number as briefly as it reads well: 3, 2.5, 66.7.
func num(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		return strconv.FormatFloat(v, 'g', 2, 64) // 0.05, not 0
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// safeID keeps letters, digits and dashes, so that an id is always a valid XML id.
func safeID(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 || b.String()[0] < 'a' {
		return "chart-" + b.String()
	}
	return b.String()
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, for round axis ticks.
func niceMax(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 5, 10} {
		if v <= f*p {
			return f * p
		}
	}
	return 10 * p
}

// short cuts a label to n characters; the whole label stays in the bar's tooltip.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func open(b *strings.Builder, id, title, desc string, height int) {
	id = safeID(id)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="%s-title %s-desc" font-family="system-ui, sans-serif" font-size="12">`,
		id, Width, height, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(title), id, esc(desc))
}

func legend(b *strings.Builder, series []Series, y int) {
	if len(series) < 2 {
		return
	}
	x := 4
	for _, s := range series {
		fmt.Fprintf(b, `<g class="legend"><rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text></g>`,
			x, y-9, esc(s.Color), x+14, y, esc(s.Name))
		x += 14 + 7*len([]rune(s.Name)) + 14
	}
}

func (c Bars) total(i int) float64 {
	t := 0.0
	if i < len(c.Values) {
		for _, v := range c.Values[i] {
			t += max(0, v)
		}
	}
	return t
}

func (c Bars) tooltip(i int) string {
	parts := []string{c.Labels[i]}
	for s, ser := range c.Series {
		if i < len(c.Values) && s < len(c.Values[i]) {
			parts = append(parts, ser.Name+" "+num(c.Values[i][s]))
		}
	}
	return strings.Join(parts, " · ") + " " + c.Unit
}

// SVG draws the chart.
func (c Bars) SVG() template.HTML {
	if len(c.Series) == 0 {
		c.Series = []Series{{Name: c.Unit, Color: Neutral}}
	}
	top := 8
	if len(c.Series) > 1 {
		top = 26
	}
	hi := 0.0
	for i := range c.Labels {
		hi = max(hi, c.total(i))
	}
	for _, l := range c.Limits {
		hi = max(hi, l.Value)
	}
	hi = niceMax(hi)
	var b strings.Builder
	if c.Horizontal {
		c.horizontal(&b, top, hi)
	} else {
		c.vertical(&b, top, hi)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above went through esc
}

// ticks are the axis values: 0, the middle and the top, leaving out a middle of 0.5 when
// every value is a whole count (lots, bags), which has no half.
func (c Bars) ticks(hi float64) []float64 {
	if mid := hi / 2; mid != math.Trunc(mid) && c.wholeCounts() {
		return []float64{0, hi}
	}
	return []float64{0, hi / 2, hi}
}

func (c Bars) wholeCounts() bool {
	for _, row := range c.Values {
		for _, v := range row {
			if v != math.Trunc(v) {
				return false
			}
		}
	}
	return true
}

func (c Bars) horizontal(b *strings.Builder, top int, hi float64) {
	const row, labelW, right = 24, 128, 44
	n := max(1, len(c.Labels))
	height := top + n*row + 22
	open(b, c.ID, c.Title, c.Desc, height)
	legend(b, c.Series, 14)
	x0, x1 := float64(labelW), float64(Width-right)
	scale := func(v float64) float64 { return x0 + (x1-x0)*v/hi }
	bottom := top + n*row
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"/>`, labelW, top, labelW, bottom)
	for _, t := range c.ticks(hi) {
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`, scale(t), bottom+15, num(t))
	}
	if len(c.Labels) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555">No data</text>`, labelW+8, top+16)
	}
	for i, label := range c.Labels {
		y := top + i*row
		fmt.Fprintf(b, `<g class="bar"><title>%s</title>`, esc(c.tooltip(i)))
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+16, esc(short(label, 20)))
		x := x0
		for s, ser := range c.Series {
			if i >= len(c.Values) || s >= len(c.Values[i]) || c.Values[i][s] <= 0 {
				continue
			}
			w := scale(c.Values[i][s]) - x0
			fmt.Fprintf(b, `<rect class="seg" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y+4, w, row-8, esc(ser.Color))
			x += w
		}
		fmt.Fprintf(b, `<text class="value" x="%.1f" y="%d">%s</text></g>`, x+4, y+16, num(c.total(i)))
	}
	for _, l := range c.Limits {
		x := scale(l.Value)
		fmt.Fprintf(b, `<g class="limit"><line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="5 3"/><title>%s</title></g>`,
			x, top, x, bottom, Stop, esc(l.Label+" "+num(l.Value)+" "+c.Unit))
	}
}

func (c Bars) vertical(b *strings.Builder, top int, hi float64) {
	const height, left, right, bottomPad = 220, 40, 8, 34
	open(b, c.ID, c.Title, c.Desc, height)
	legend(b, c.Series, 14)
	y0, y1 := float64(top+8), float64(height-bottomPad)
	scale := func(v float64) float64 { return y1 - (y1-y0)*v/hi }
	for _, t := range c.ticks(hi) {
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text class="tick" x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`,
			left, scale(t), Width-right, scale(t), left-4, scale(t)+4, num(t))
	}
	n := len(c.Labels)
	if n == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" fill="#555">No data</text>`, left+8, (y0+y1)/2)
	}
	slot := float64(Width-right-left) / float64(max(1, n))
	every := max(1, (n+7)/8) // at most about eight labels under the bars
	for i, label := range c.Labels {
		x := float64(left) + slot*float64(i) + slot*0.15
		w := slot * 0.7
		fmt.Fprintf(b, `<g class="bar"><title>%s</title>`, esc(c.tooltip(i)))
		base := y1
		for s, ser := range c.Series {
			if i >= len(c.Values) || s >= len(c.Values[i]) || c.Values[i][s] <= 0 {
				continue
			}
			h := y1 - scale(c.Values[i][s])
			fmt.Fprintf(b, `<rect class="seg" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, base-h, w, h, esc(ser.Color))
			base -= h
		}
		if i%every == 0 {
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`, x+w/2, y1+16, esc(short(label, 10)))
		}
		b.WriteString(`</g>`)
	}
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555"/>`, left, y1, Width-right, y1)
	for _, l := range c.Limits {
		y := scale(l.Value)
		fmt.Fprintf(b, `<g class="limit"><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="5 3"/><text x="%d" y="%.1f" fill="%s" text-anchor="end">%s</text></g>`,
			left, y, Width-right, y, Stop, Width-right, y-4, Stop, esc(l.Label+" "+num(l.Value)+" "+c.Unit))
	}
}

// SVG draws the chart.
func (c Timeline) SVG() template.HTML {
	const height, left, right, top, bottomPad = 220, 40, 12, 12, 34
	lo, hi := c.Min, c.Max
	if lo == 0 && hi == 0 {
		hi = 100
	}
	pts := append([]Point(nil), c.Points...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].At.Before(pts[j].At) })
	var b strings.Builder
	open(&b, c.ID, c.Title, c.Desc, height)
	x0, x1 := float64(left+8), float64(Width-right-8)
	y0, y1 := float64(top), float64(height-bottomPad)
	var t0, t1 time.Time
	if len(pts) > 0 {
		t0, t1 = pts[0].At, pts[len(pts)-1].At
	}
	span := t1.Sub(t0)
	xOf := func(t time.Time) float64 {
		if span <= 0 {
			return (x0 + x1) / 2
		}
		return x0 + (x1-x0)*float64(t.Sub(t0))/float64(span)
	}
	yOf := func(v float64) float64 { return y1 - (y1-y0)*(min(max(v, lo), hi)-lo)/(hi-lo) }
	for _, t := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text class="tick" x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`,
			left, yOf(t), Width-right, yOf(t), left-4, yOf(t)+4, num(t))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555"/>`, left, y1, Width-right, y1)
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#555">No data</text>`, left+8, (y0+y1)/2)
	} else {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="start" fill="#555">%s</text>`, x0-8, y1+16, t0.UTC().Format("2006-01-02"))
		if span > 0 {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`, x1+8, y1+16, t1.UTC().Format("2006-01-02"))
		}
	}
	var min0 *Limit
	if len(c.Limits) > 0 {
		min0 = &c.Limits[0]
	}
	for _, l := range c.Limits {
		y := yOf(l.Value)
		fmt.Fprintf(&b, `<g class="limit"><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="5 3"/><text x="%d" y="%.1f" fill="%s" text-anchor="end">%s</text></g>`,
			left, y, Width-right, y, Stop, Width-right, y-4, Stop, esc(l.Label+" "+num(l.Value)+" "+c.Unit))
	}
	if len(pts) > 1 {
		coords := make([]string, len(pts))
		for i, p := range pts {
			coords[i] = fmt.Sprintf("%.1f,%.1f", xOf(p.At), yOf(p.Value))
		}
		fmt.Fprintf(&b, `<polyline class="trend" points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, strings.Join(coords, " "), Neutral)
	}
	for _, p := range pts {
		color, class := Neutral, "point"
		if min0 != nil && p.Value < min0.Value {
			color, class = Stop, "point below"
		}
		fmt.Fprintf(&b, `<g class="%s"><circle cx="%.1f" cy="%.1f" r="5" fill="%s"/><title>%s</title>`,
			class, xOf(p.At), yOf(p.Value), color, esc(p.Label+" · "+num(p.Value)+" "+c.Unit+" · "+p.At.UTC().Format("2006-01-02 15:04")))
		if len(pts) <= 6 { // few enough to name each point on the chart
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`, xOf(p.At), yOf(p.Value)-9, esc(short(p.Label, 12)+" "+num(p.Value)))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above went through esc
}

// XY is one point of a curve.
type XY struct {
	X, Y  float64
	Label string // the point's tooltip
}

// Curve is one named series of a Curves chart.
type Curve struct {
	Name   string
	Color  string
	Points []XY
}

// Curves draws series over a numeric x axis from 0 to XMax: joined as steps (a Kaplan–Meier
// curve holds its value until the next point) or as lines with a marker on each point.
type Curves struct {
	ID, Title, Desc string
	XLabel, Unit    string
	XMax            float64
	YMin, YMax      float64 // both zero: 0 to the largest value, rounded up
	Steps           bool
	XTicks          []float64
	Series          []Curve
}

// SVG draws the chart.
func (c Curves) SVG() template.HTML {
	const height, left, right, top, bottomPad = 230, 44, 12, 32, 40
	lo, hi := c.YMin, c.YMax
	if lo == 0 && hi == 0 {
		for _, s := range c.Series {
			for _, p := range s.Points {
				hi = max(hi, p.Y)
			}
		}
		hi = niceMax(hi)
	}
	if c.XMax <= 0 {
		c.XMax = 1
	}
	var b strings.Builder
	open(&b, c.ID, c.Title, c.Desc, height)
	x0, x1 := float64(left), float64(Width-right)
	y0, y1 := float64(top), float64(height-bottomPad)
	xOf := func(x float64) float64 { return x0 + (x1-x0)*min(max(x, 0), c.XMax)/c.XMax }
	yOf := func(v float64) float64 { return y1 - (y1-y0)*(min(max(v, lo), hi)-lo)/(hi-lo) }
	for _, t := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text class="tick" x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`,
			left, yOf(t), Width-right, yOf(t), left-4, yOf(t)+4, num(t))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555"/>`, left, y1, Width-right, y1)
	for _, t := range c.XTicks {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`, xOf(t), y1+14, num(t))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`, (x0+x1)/2, height-6, esc(c.XLabel))
	legend(&b, c.seriesLegend(), 14)
	empty := true
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			continue
		}
		empty = false
		var coords []string
		for i, p := range s.Points {
			if c.Steps && i > 0 {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", xOf(p.X), yOf(s.Points[i-1].Y)))
			}
			coords = append(coords, fmt.Sprintf("%.1f,%.1f", xOf(p.X), yOf(p.Y)))
		}
		fmt.Fprintf(&b, `<polyline class="curve" points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(coords, " "), esc(s.Color))
		for _, p := range s.Points {
			r := 3.5
			if c.Steps {
				r = 2
			}
			fmt.Fprintf(&b, `<circle class="point" cx="%.1f" cy="%.1f" r="%.1f" fill="%s"><title>%s</title></circle>`, xOf(p.X), yOf(p.Y), r, esc(s.Color), esc(s.Name+" · "+p.Label))
		}
	}
	if empty {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#555">No data</text>`, left+8, (y0+y1)/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above went through esc
}

func (c Curves) seriesLegend() []Series {
	out := make([]Series, len(c.Series))
	for i, s := range c.Series {
		out[i] = Series{Name: s.Name, Color: s.Color}
	}
	return out
}
