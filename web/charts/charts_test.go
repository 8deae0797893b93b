package charts

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// shape reads an SVG as XML (so that it must be well-formed) and counts its elements by
// class, and collects its titles and texts.
type shape struct {
	classes map[string]int
	titles  []string
	texts   []string
	root    map[string]string
}

func parse(t *testing.T, svg string) shape {
	t.Helper()
	s := shape{classes: map[string]int{}, root: map[string]string{}}
	d := xml.NewDecoder(strings.NewReader(svg))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				for _, a := range tok.Attr {
					s.root[a.Name.Local] = a.Value
				}
			}
			stack = append(stack, tok.Name.Local)
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					for _, c := range strings.Fields(a.Value) {
						s.classes[c]++
					}
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch stack[len(stack)-1] {
			case "title":
				s.titles = append(s.titles, string(tok))
			case "text":
				s.texts = append(s.texts, string(tok))
			}
		}
	}
	return s
}

func TestChartsStructure(t *testing.T) {
	day := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	hostile := `L-<script>alert("x")</script>&1`
	cases := []struct {
		name     string
		svg      string
		bars     int
		limits   int
		points   int
		below    int
		contains []string // in the raw SVG
	}{
		{name: "horizontal stacked with a limit", svg: string(Bars{ID: "lots", Title: "Lots by status", Desc: "how many lots", Unit: "lots",
			Labels: []string{"quarantine", "released", hostile}, Series: []Series{{"available", Pass}, {"allocated", Warn}},
			Values: [][]float64{{2, 1}, {3, 0}, {0, 0}}, Limits: []Limit{{"target", 4}}, Horizontal: true}.SVG()),
			bars: 3, limits: 1, contains: []string{`viewBox="0 0 400 `, `width="100%"`, `aria-labelledby="lots-title lots-desc"`, "&lt;script&gt;", "available", "allocated"}},
		{name: "vertical without limit", svg: string(Bars{ID: "c", Title: "Stops", Unit: "verifications", Labels: []string{"11-24", "11-25"},
			Series: []Series{{"pass", Pass}, {"stop", Stop}}, Values: [][]float64{{3, 1}, {2, 0}}}.SVG()),
			bars: 2, contains: []string{`role="img"`}},
		{name: "vertical with limit", svg: string(Bars{ID: "q", Title: "Days", Unit: "days", Labels: []string{"A"}, Values: [][]float64{{12}}, Limits: []Limit{{"review", 14}}}.SVG()),
			bars: 1, limits: 1, contains: []string{"review 14 days"}},
		{name: "no data", svg: string(Bars{ID: "e", Title: "Nothing", Horizontal: true}.SVG()), contains: []string{"No data"}},
		{name: "timeline against a minimum", svg: string(Timeline{ID: "via", Title: "Viability", Desc: "per lot", Unit: "%",
			Points: []Point{{day, 92.5, "HUC-1"}, {day.Add(48 * time.Hour), 75, hostile}, {day.Add(24 * time.Hour), 85, "HUC-2"}},
			Limits: []Limit{{"min", 80}}}.SVG()),
			limits: 1, points: 3, below: 1, contains: []string{"min 80 %", "2026-11-25", "2026-11-27", "&lt;script&gt;", `class="trend"`}},
		{name: "timeline one point", svg: string(Timeline{ID: "one", Title: "Inhibition", Points: []Point{{day, 55.6, "L"}}, Limits: []Limit{{"min", 30}}}.SVG()),
			limits: 1, points: 1},
		{name: "timeline empty", svg: string(Timeline{ID: "none", Title: "Inhibition"}.SVG()), contains: []string{"No data"}},
		// A survival curve holds its value until the next point: (0,1) (5,1) (5,0.5) is drawn,
		// so the drop is vertical at day 5.
		{name: "steps", svg: string(Curves{ID: "km", Title: "Survival", XLabel: "study day", XMax: 10, YMin: 0, YMax: 1, Steps: true, XTicks: []float64{0, 10},
			Series: []Curve{{Name: hostile, Color: Neutral, Points: []XY{{0, 1, "a"}, {5, 0.5, "b"}}}, {Name: "routine", Color: Warn, Points: []XY{{0, 1, "c"}}}}}.SVG()),
			points: 3, contains: []string{`points="44.0,32.0 216.0,32.0 216.0,111.0"`, "&lt;script&gt;", "study day", "routine"}},
		{name: "lines", svg: string(Curves{ID: "crp", Title: "CRP", XMax: 90, Series: []Curve{{Name: "huc_msc", Points: []XY{{0, 100, ""}, {7, 35, ""}}}}}.SVG()),
			points: 2, contains: []string{`class="curve"`}},
		{name: "curves empty", svg: string(Curves{ID: "none", Title: "IL-6", XMax: 90, Series: []Curve{{Name: "huc_msc"}}}.SVG()), contains: []string{"No data"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := parse(t, tc.svg)
			if s.classes["bar"] != tc.bars || s.classes["limit"] != tc.limits || s.classes["point"] != tc.points || s.classes["below"] != tc.below {
				t.Errorf("bars %d limits %d points %d below %d; want %d %d %d %d", s.classes["bar"], s.classes["limit"], s.classes["point"], s.classes["below"],
					tc.bars, tc.limits, tc.points, tc.below)
			}
			if s.root["viewBox"] == "" || s.root["width"] != "100%" || s.root["role"] != "img" || len(s.titles) == 0 {
				t.Errorf("root %v, titles %v: want a viewBox, width 100%%, role img and a title", s.root, s.titles)
			}
			if strings.Contains(tc.svg, "<script") {
				t.Error("a label was written as markup")
			}
			for _, want := range tc.contains {
				if !strings.Contains(tc.svg, want) {
					t.Errorf("SVG lacks %q", want)
				}
			}
			// Every label reads back as the text it was, once the XML is decoded.
			for _, text := range append(s.titles, s.texts...) {
				if strings.Contains(text, "script") && !strings.Contains(text, `<script>`) {
					t.Errorf("label mangled: %q", text)
				}
			}
		})
	}
}

func TestNiceMaxAndIDs(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 0.0042: "0.0042", 0.5: "0.5", 2.25: "2.3", 66.66: "66.7", 1e6: "1000000"} {
		if got := num(in); got != want {
			t.Errorf("num(%g) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 3: 5, 7: 10, 12: 20, 100: 100, 101: 200} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%g) = %g, want %g", in, got, want)
		}
	}
	for in, want := range map[string]string{"ICU 3": "icu-3", "<x>": "chart--x-", "7a": "chart-7a", "": "chart-"} {
		if got := safeID(in); got != want {
			t.Errorf("safeID(%q) = %q, want %q", in, got, want)
		}
	}
}

// Counts get whole ticks only: a bar chart of one lot has no 0.5 on its axis.
func TestWholeCountsHaveWholeTicks(t *testing.T) {
	counts := Bars{Values: [][]float64{{1}, {0}}}
	if got := counts.ticks(1); len(got) != 2 || got[1] != 1 {
		t.Errorf("ticks of counts up to 1 = %v, want [0 1]", got)
	}
	hours := Bars{Values: [][]float64{{0.25}}}
	if got := hours.ticks(1); len(got) != 3 || got[1] != 0.5 {
		t.Errorf("ticks of fractions up to 1 = %v, want [0 0.5 1]", got)
	}
}
