package domain

import (
	"slices"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

// passingResults is a complete set of results that passes spec v1.
func passingResults() []QCResult {
	spec := DefaultSpecV1()
	bv2 := QCResult{ID: 7, Test: TestBV2Potency, Analyte: "TNF-alpha",
		Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950}, Treated: []float64{500, 520, 480}}
	bv2.Complete(spec)
	return []QCResult{
		{ID: 1, Test: TestViability, Value: f64(92)},
		{ID: 2, Test: TestViableCellCount, Value: f64(1.2e9)},
		{ID: 3, Test: TestSterility, Result: "negative"},
		{ID: 4, Test: TestMycoplasma, Result: "not_detected"},
		{ID: 5, Test: TestEndotoxin, Value: f64(0.1)},
		{ID: 6, Test: TestPhenotype, Markers: map[string]float64{"CD73": 99, "CD90": 98, "CD105": 97, "CD34": 0.5, "CD45": 0.4, "CD11b": 0.3, "CD19": 0.2, "HLA-DR": 0.1}},
		bv2,
	}
}

func criterion(e Evaluation, name string) Criterion {
	for _, c := range e.Criteria {
		if c.Name == name {
			return c
		}
	}
	return Criterion{}
}

func TestEvaluateAllPass(t *testing.T) {
	e := Evaluate(DefaultSpecV1(), passingResults())
	if !e.Releasable || e.SpecVersion != 1 || len(e.Hash) != 64 {
		t.Fatalf("evaluation = %+v", e)
	}
	var names []string
	for _, c := range e.Criteria {
		names = append(names, c.Name)
		if c.Status != StatusPass || c.Limit == "" || c.Detail == "" {
			t.Errorf("criterion %+v", c)
		}
	}
	want := []string{"viability", "viable_cell_count", "sterility", "mycoplasma", "endotoxin", "CD73", "CD90", "CD105", "CD34", "CD45", "CD14/CD11b", "CD19/CD79a", "HLA-DR", "bv2_potency"}
	if !slices.Equal(names, want) {
		t.Fatalf("criteria %v, want %v", names, want)
	}
}

// Every limit at its bound, just inside and just outside.
func TestSpecLimits(t *testing.T) {
	set := func(test QCTest, edit func(*QCResult)) []QCResult {
		rs := passingResults()
		for i := range rs {
			if rs[i].Test == test {
				edit(&rs[i])
			}
		}
		return rs
	}
	marker := func(name string, v float64) func(*QCResult) {
		return func(r *QCResult) { r.Markers[name] = v }
	}
	cases := []struct {
		name, criterion string
		results         []QCResult
		want            string
	}{
		{"viability at 80", "viability", set(TestViability, func(r *QCResult) { r.Value = f64(80) }), StatusPass},
		{"viability 80.1", "viability", set(TestViability, func(r *QCResult) { r.Value = f64(80.1) }), StatusPass},
		{"viability 79.9", "viability", set(TestViability, func(r *QCResult) { r.Value = f64(79.9) }), StatusFail},
		{"endotoxin at 0.5", "endotoxin", set(TestEndotoxin, func(r *QCResult) { r.Value = f64(0.5) }), StatusPass},
		{"endotoxin 0.49", "endotoxin", set(TestEndotoxin, func(r *QCResult) { r.Value = f64(0.49) }), StatusPass},
		{"endotoxin 0.51", "endotoxin", set(TestEndotoxin, func(r *QCResult) { r.Value = f64(0.51) }), StatusFail},
		{"sterility positive", "sterility", set(TestSterility, func(r *QCResult) { r.Result = "positive" }), StatusFail},
		{"mycoplasma detected", "mycoplasma", set(TestMycoplasma, func(r *QCResult) { r.Result = "detected" }), StatusFail},
		{"CD73 at 95", "CD73", set(TestPhenotype, marker("CD73", 95)), StatusPass},
		{"CD90 95.1", "CD90", set(TestPhenotype, marker("CD90", 95.1)), StatusPass},
		{"CD105 94.9", "CD105", set(TestPhenotype, marker("CD105", 94.9)), StatusFail},
		{"CD34 at 2", "CD34", set(TestPhenotype, marker("CD34", 2)), StatusPass},
		{"CD45 1.9", "CD45", set(TestPhenotype, marker("CD45", 1.9)), StatusPass},
		{"HLA-DR 2.1", "HLA-DR", set(TestPhenotype, marker("HLA-DR", 2.1)), StatusFail},
		{"CD11b stands for CD14", "CD14/CD11b", set(TestPhenotype, marker("CD11b", 2.1)), StatusFail},
		{"CD14 preferred when both", "CD14/CD11b", set(TestPhenotype, func(r *QCResult) { r.Markers["CD14"] = 1; r.Markers["CD11b"] = 50 }), StatusPass},
		{"CD79a stands for CD19", "CD19/CD79a", set(TestPhenotype, func(r *QCResult) { delete(r.Markers, "CD19"); r.Markers["CD79a"] = 3 }), StatusFail},
		{"marker not measured", "HLA-DR", set(TestPhenotype, func(r *QCResult) { delete(r.Markers, "HLA-DR") }), StatusPending},
		{"inhibition at 30", "bv2_potency", set(TestBV2Potency, bv2With(30)), StatusPass},
		{"inhibition 30.1", "bv2_potency", set(TestBV2Potency, bv2With(30.1)), StatusPass},
		{"inhibition 29.9", "bv2_potency", set(TestBV2Potency, bv2With(29.9)), StatusFail},
	}
	for _, tc := range cases {
		e := Evaluate(DefaultSpecV1(), tc.results)
		c := criterion(e, tc.criterion)
		if c.Status != tc.want {
			t.Errorf("%s: %s is %s (%s), want %s", tc.name, tc.criterion, c.Status, c.Detail, tc.want)
		}
		if tc.want != StatusPass && e.Releasable {
			t.Errorf("%s: releasable with %s %s", tc.name, tc.criterion, c.Status)
		}
	}
}

// bv2With sets a valid run whose inhibition is exactly pct: baseline 100, LPS 1100, so
// treated = 1100 - pct × 10.
func bv2With(pct float64) func(*QCResult) {
	return func(r *QCResult) {
		t := 1100 - pct*10
		r.Baseline, r.LPS, r.Treated = []float64{100, 100}, []float64{1100, 1100}, []float64{t, t}
		r.Valid, r.InhibitionPct = nil, nil
		r.Complete(DefaultSpecV1())
	}
}

func TestBV2(t *testing.T) {
	spec := DefaultSpecV1()
	o := ComputeBV2(spec, []float64{100, 105, 95}, []float64{1000, 1050, 950}, []float64{500, 520, 480})
	if !o.Valid || o.MeanBaseline != 100 || o.MeanLPS != 1000 || o.MeanTreated != 500 {
		t.Fatalf("outcome %+v", o)
	}
	if d := o.InhibitionPct - 500.0/900*100; d > 1e-9 || d < -1e-9 {
		t.Fatalf("inhibition %v, want 55.56", o.InhibitionPct)
	}
	// CV with the sample standard deviation: {90,110} has sd 14.142, CV 14.14 %.
	if o := ComputeBV2(spec, []float64{90, 110}, []float64{1000, 1000}, []float64{500, 500}); o.CVBaseline < 14.14 || o.CVBaseline > 14.15 {
		t.Errorf("CV = %v, want 14.14 (sample sd)", o.CVBaseline)
	}
	cases := []struct {
		name       string
		b, c, tr   []float64
		valid      bool
		reasonPart string
	}{
		{"LPS exactly 3× baseline", []float64{100, 100}, []float64{300, 300}, []float64{200, 200}, true, ""},
		{"LPS just under 3×", []float64{100, 100}, []float64{299, 299}, []float64{200, 200}, false, "LPS response too weak"},
		{"CV exactly 20 %", []float64{100, 100}, cvPair(1000, 20), []float64{500, 500}, true, ""},
		{"CV 20.1 %", []float64{100, 100}, cvPair(1000, 20.1), []float64{500, 500}, false, "CV 20.1 % is above 20 %"},
		{"treated CV too high", []float64{100, 100}, []float64{1000, 1000}, []float64{200, 800}, false, "LPS + MSC replicate CV"},
		{"all zeros", []float64{0, 0}, []float64{0, 0}, []float64{0, 0}, false, "no positive mean"},
		{"baseline zero mean", []float64{0, 0}, []float64{1000, 1000}, []float64{500, 500}, false, "baseline replicates"},
	}
	for _, tc := range cases {
		o := ComputeBV2(spec, tc.b, tc.c, tc.tr)
		if o.Valid != tc.valid || !strings.Contains(strings.Join(o.InvalidReasons, ";"), tc.reasonPart) {
			t.Errorf("%s: valid=%v reasons=%v", tc.name, o.Valid, o.InvalidReasons)
		}
		if o.InhibitionPct != o.InhibitionPct { // NaN
			t.Errorf("%s: inhibition is NaN", tc.name)
		}
	}
}

// cvPair returns two values with the given mean and sample CV.
func cvPair(mean, cv float64) []float64 {
	d := mean * cv / 100 / 1.4142135623730951
	return []float64{mean - d, mean + d}
}

func TestInvalidBV2RunNeverCounts(t *testing.T) {
	rs := passingResults()
	rs = slices.DeleteFunc(rs, func(r QCResult) bool { return r.Test == TestBV2Potency })
	invalid := QCResult{ID: 20, Test: TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{100, 100}, LPS: []float64{200, 200}, Treated: []float64{100, 100}}
	invalid.Complete(DefaultSpecV1())
	if *invalid.Valid || *invalid.InhibitionPct < 99 {
		t.Fatalf("expected an invalid run with high apparent inhibition: %+v", invalid)
	}
	e := Evaluate(DefaultSpecV1(), append(rs, invalid))
	if c := criterion(e, "bv2_potency"); c.Status != StatusPending || !strings.Contains(c.Detail, "none valid") || e.Releasable {
		t.Fatalf("invalid run counted: %+v", c)
	}
	// A later invalid run does not displace an earlier valid one.
	valid := QCResult{ID: 21, Test: TestBV2Potency}
	bv2With(40)(&valid)
	later := invalid
	later.ID = 22
	e = Evaluate(DefaultSpecV1(), append(rs, invalid, valid, later))
	if c := criterion(e, "bv2_potency"); c.Status != StatusPass || c.ResultID != 21 {
		t.Fatalf("valid run not used: %+v", c)
	}
}

func TestCorrectionsReplaceButKeepHistory(t *testing.T) {
	rs := passingResults()
	rs = slices.DeleteFunc(rs, func(r QCResult) bool { return r.Test == TestViability })
	// A passing value corrected: the correction counts, and a correction of it in turn.
	typo := QCResult{ID: 30, Test: TestViability, Value: f64(90)}
	fixed := QCResult{ID: 31, Test: TestViability, Value: f64(85), Corrects: i64(30), Reason: "transcription error"}
	e := Evaluate(DefaultSpecV1(), append(rs, typo, fixed))
	if c := criterion(e, "viability"); c.Status != StatusPass || c.ResultID != 31 {
		t.Fatalf("correction not used: %+v", c)
	}
	again := QCResult{ID: 32, Test: TestViability, Value: f64(75), Corrects: i64(31), Reason: "recount"}
	if c := criterion(Evaluate(DefaultSpecV1(), append(rs, typo, fixed, again)), "viability"); c.ResultID != 32 || c.Status != StatusFail {
		t.Fatalf("chained correction: %+v", c)
	}
	// A failing value corrected by the analyst alone still fails: the failing result stands
	// until QA closes its OOS investigation.
	wrong := QCResult{ID: 30, Test: TestViability, Value: f64(70)}
	if e := Evaluate(DefaultSpecV1(), append(rs, wrong)); e.Releasable {
		t.Fatal("70 % viability releasable")
	}
	e = Evaluate(DefaultSpecV1(), append(rs, wrong, fixed))
	if c := criterion(e, "viability"); c.Status != StatusFail || c.ResultID != 30 || e.Releasable {
		t.Fatalf("a correction made a failing result pass: %+v", c)
	}
}

func TestEvaluationHashChangesWithResults(t *testing.T) {
	rs := passingResults()
	h1 := Evaluate(DefaultSpecV1(), rs).Hash
	if h1 != Evaluate(DefaultSpecV1(), slices.Clone(rs)).Hash {
		t.Fatal("hash is not deterministic")
	}
	rs2 := append(slices.Clone(rs), QCResult{ID: 40, Test: TestEndotoxin, Value: f64(0.2)})
	if Evaluate(DefaultSpecV1(), rs2).Hash == h1 {
		t.Fatal("a new result does not change the hash")
	}
	spec2 := DefaultSpecV1()
	spec2.Version = 2
	if Evaluate(spec2, rs).Hash == h1 {
		t.Fatal("the spec version is not in the hash")
	}
}

func TestPendingUntilRecorded(t *testing.T) {
	e := Evaluate(DefaultSpecV1(), nil)
	if e.Releasable {
		t.Fatal("no results releasable")
	}
	for _, c := range e.Criteria {
		if c.Status != StatusPending {
			t.Errorf("%s is %s with no results", c.Name, c.Status)
		}
	}
}

func TestQCResultValidate(t *testing.T) {
	spec := DefaultSpecV1()
	cases := []struct {
		r     QCResult
		field string
	}{
		{QCResult{Test: "purity"}, "test"},
		{QCResult{Test: TestViability}, "value"},
		{QCResult{Test: TestViability, Value: f64(100.1)}, "value"},
		{QCResult{Test: TestViability, Value: f64(100)}, ""},
		{QCResult{Test: TestViableCellCount, Value: f64(0)}, "value"},
		{QCResult{Test: TestEndotoxin, Value: f64(-0.1)}, "value"},
		{QCResult{Test: TestSterility, Result: "neg"}, "result"},
		{QCResult{Test: TestMycoplasma, Result: "not_detected"}, ""},
		{QCResult{Test: TestPhenotype, Markers: map[string]float64{"CD73": 99}}, "markers"},
		{QCResult{Test: TestBV2Potency, Analyte: "IL-6", Baseline: []float64{1, 1}, LPS: []float64{1, 1}, Treated: []float64{1, 1}}, "analyte"},
		{QCResult{Test: TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{1}, LPS: []float64{1, 1}, Treated: []float64{1, 1}}, "baseline"},
		{QCResult{Test: TestBV2Potency, Analyte: "TNF-alpha", Baseline: []float64{1, 1}, LPS: []float64{1, -1}, Treated: []float64{1, 1}}, "lps"},
		{QCResult{Test: TestViability, Value: f64(90), Corrects: i64(3)}, "reason"},
		{QCResult{Test: TestViability, Value: f64(90), Corrects: i64(3), Reason: "typo"}, ""},
	}
	for _, tc := range cases {
		err := tc.r.Validate(spec)
		if ErrorField(err) != tc.field || (tc.field == "" && err != nil) {
			t.Errorf("%+v: err = %v, want field %q", tc.r, err, tc.field)
		}
	}
	p := passingResults()[5]
	if err := p.Validate(spec); err != nil {
		t.Errorf("full phenotype refused: %v", err)
	}
}

func TestSpecValidate(t *testing.T) {
	if err := DefaultSpecV1().Validate(); err != nil {
		t.Fatalf("v1 invalid: %v", err)
	}
	edits := map[string]func(*ReleaseSpec){
		"min_viability_pct":       func(s *ReleaseSpec) { s.MinViabilityPct = 101 },
		"max_endotoxin_eu_per_ml": func(s *ReleaseSpec) { s.MaxEndotoxinEUPerML = 0 },
		"positive_markers":        func(s *ReleaseSpec) { s.PositiveMarkers = nil },
		"transport_min_c":         func(s *ReleaseSpec) { s.TransportMinC = 9 },
		"dose_cells_per_kg":       func(s *ReleaseSpec) { s.DoseCellsPerKg = 0 },
		"version":                 func(s *ReleaseSpec) { s.Version = 0 },
		"bv2_analyte":             func(s *ReleaseSpec) { s.BV2Analyte = "" },
	}
	for field, edit := range edits {
		s := DefaultSpecV1()
		edit(&s)
		if ErrorField(s.Validate()) != field {
			t.Errorf("%s: %v", field, s.Validate())
		}
	}
}
