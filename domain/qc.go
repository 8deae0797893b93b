package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// QCTest names a QC test of SPEC §4.
type QCTest string

const (
	TestViability       QCTest = "viability"
	TestViableCellCount QCTest = "viable_cell_count"
	TestSterility       QCTest = "sterility"
	TestMycoplasma      QCTest = "mycoplasma"
	TestEndotoxin       QCTest = "endotoxin"
	TestPhenotype       QCTest = "phenotype"
	TestBV2Potency      QCTest = "bv2_potency"
)

// QCTests lists every test in the order the certificate of analysis shows them.
var QCTests = []QCTest{TestViability, TestViableCellCount, TestSterility, TestMycoplasma, TestEndotoxin, TestPhenotype, TestBV2Potency}

// QCResult is one recorded result. Results are never changed: a correction is a new result
// naming the one it corrects, with a reason. BV2 runs keep their raw replicates.
type QCResult struct {
	ID            int64              `json:"id"`
	LotID         int64              `json:"lot_id"`
	Test          QCTest             `json:"test"`
	Value         *float64           `json:"value,omitempty"`
	Result        string             `json:"result,omitempty"`
	Markers       map[string]float64 `json:"markers,omitempty"`
	Analyte       string             `json:"analyte,omitempty"`
	Baseline      []float64          `json:"baseline,omitempty"`
	LPS           []float64          `json:"lps,omitempty"`
	Treated       []float64          `json:"treated,omitempty"`
	Valid         *bool              `json:"valid,omitempty"`
	InhibitionPct *float64           `json:"inhibition_pct,omitempty"`
	InvalidReason string             `json:"invalid_reason,omitempty"`
	Corrects      *int64             `json:"corrects,omitempty"`
	Reason        string             `json:"reason,omitempty"`
	EnteredBy     int64              `json:"entered_by"`
	EnteredAt     time.Time          `json:"entered_at"`
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks a result's body for its test and names the field at fault.
func (r QCResult) Validate(spec ReleaseSpec) error {
	needValue := func(lo, hi float64, unit string) error {
		if r.Value == nil {
			return FieldError("value", "%s needs a value (%s)", r.Test, unit)
		}
		if v := *r.Value; !finite(v) || v < lo || v > hi {
			return FieldError("value", "%s must be between %g and %g %s", r.Test, lo, hi, unit)
		}
		return nil
	}
	var err error
	switch r.Test {
	case TestViability:
		err = needValue(0, 100, "%")
	case TestViableCellCount:
		err = needValue(1, 1e13, "cells")
	case TestEndotoxin:
		err = needValue(0, 1e6, "EU/mL")
	case TestSterility:
		if r.Result != "negative" && r.Result != "positive" {
			err = FieldError("result", "sterility result must be negative or positive")
		}
	case TestMycoplasma:
		if r.Result != "not_detected" && r.Result != "detected" {
			err = FieldError("result", "mycoplasma result must be not_detected or detected")
		}
	case TestPhenotype:
		err = r.validateMarkers(spec)
	case TestBV2Potency:
		err = r.validateBV2(spec)
	default:
		names := make([]string, len(QCTests))
		for i, t := range QCTests {
			names[i] = string(t)
		}
		return FieldError("test", "%q is not a QC test; use one of %s", r.Test, strings.Join(names, ", "))
	}
	if err != nil {
		return err
	}
	if r.Corrects != nil && strings.TrimSpace(r.Reason) == "" {
		return FieldError("reason", "a correction needs a reason: say why the earlier result was wrong")
	}
	return nil
}

func (r QCResult) validateMarkers(spec ReleaseSpec) error {
	if len(r.Markers) == 0 {
		return FieldError("markers", "phenotype needs the %% positive of each marker")
	}
	for name, v := range r.Markers {
		if !finite(v) || v < 0 || v > 100 {
			return FieldError("markers", "marker %s must be a percentage from 0 to 100", name)
		}
	}
	for _, group := range append(append([][]string{}, spec.PositiveMarkers...), spec.NegativeMarkers...) {
		if _, _, ok := pickMarker(r.Markers, group); !ok {
			return FieldError("markers", "marker %s is missing", strings.Join(group, " or "))
		}
	}
	return nil
}

func (r QCResult) validateBV2(spec ReleaseSpec) error {
	if r.Analyte != spec.BV2Analyte {
		return FieldError("analyte", "the specification measures %s in the BV2 assay", spec.BV2Analyte)
	}
	for _, c := range []struct {
		field string
		v     []float64
	}{{"baseline", r.Baseline}, {"lps", r.LPS}, {"treated", r.Treated}} {
		if len(c.v) < 2 || len(c.v) > 24 {
			return FieldError(c.field, "%s needs 2 to 24 replicate values", c.field)
		}
		for _, v := range c.v {
			if !finite(v) || v < 0 {
				return FieldError(c.field, "%s values must be concentrations of 0 or more", c.field)
			}
		}
	}
	return nil
}

// pickMarker returns the first marker of a group of alternatives that was measured.
func pickMarker(m map[string]float64, group []string) (string, float64, bool) {
	for _, name := range group {
		if v, ok := m[name]; ok {
			return name, v, true
		}
	}
	return "", 0, false
}

// BV2Outcome is the computed result of one BV2 co-culture run (SPEC §4).
type BV2Outcome struct {
	MeanBaseline, MeanLPS, MeanTreated float64
	CVBaseline, CVLPS, CVTreated       float64 // percent
	Valid                              bool
	InvalidReasons                     []string
	InhibitionPct                      float64
}

func meanCV(v []float64) (mean, cv float64, ok bool) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 || mean <= 0 {
		return mean, 0, false
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / mean * 100, true
}

// ComputeBV2 decides a run's validity and inhibition. The run is valid when LPS stimulated
// the cells (mean LPS ≥ ratio × mean baseline) and every condition's replicates agree (CV at
// most the limit). Inhibition = (mean LPS − mean treated) / (mean LPS − mean baseline) × 100.
func ComputeBV2(spec ReleaseSpec, baseline, lps, treated []float64) BV2Outcome {
	var o BV2Outcome
	var okB, okC, okT bool
	o.MeanBaseline, o.CVBaseline, okB = meanCV(baseline)
	o.MeanLPS, o.CVLPS, okC = meanCV(lps)
	o.MeanTreated, o.CVTreated, okT = meanCV(treated)
	for _, c := range []struct {
		name string
		ok   bool
		cv   float64
	}{{"baseline", okB, o.CVBaseline}, {"LPS", okC, o.CVLPS}, {"LPS + MSC", okT, o.CVTreated}} {
		switch {
		case !c.ok:
			o.InvalidReasons = append(o.InvalidReasons, fmt.Sprintf("%s replicates have no positive mean, so their CV cannot be computed", c.name))
		case c.cv > spec.BV2MaxCVPct:
			o.InvalidReasons = append(o.InvalidReasons, fmt.Sprintf("%s replicate CV %.1f %% is above %g %%", c.name, c.cv, spec.BV2MaxCVPct))
		}
	}
	if o.MeanLPS < spec.BV2MinStimulationRatio*o.MeanBaseline || o.MeanLPS <= o.MeanBaseline {
		o.InvalidReasons = append(o.InvalidReasons, fmt.Sprintf("LPS response too weak: mean %.1f is less than %g × baseline %.1f",
			o.MeanLPS, spec.BV2MinStimulationRatio, o.MeanBaseline))
	}
	if o.MeanLPS > o.MeanBaseline {
		o.InhibitionPct = (o.MeanLPS - o.MeanTreated) / (o.MeanLPS - o.MeanBaseline) * 100
		// Inhibition outside 0–100 % means the treated wells read above the LPS control or
		// below the unstimulated baseline: the run measured something else, whatever its CV.
		switch {
		case o.InhibitionPct > 100:
			o.InvalidReasons = append(o.InvalidReasons, fmt.Sprintf("implausible: inhibition %.1f %% is above 100 %% (LPS + MSC mean %.1f is below baseline %.1f)",
				o.InhibitionPct, o.MeanTreated, o.MeanBaseline))
		case o.InhibitionPct < 0:
			o.InvalidReasons = append(o.InvalidReasons, fmt.Sprintf("implausible: inhibition %.1f %% is below 0 %% (LPS + MSC mean %.1f is above the LPS control %.1f)",
				o.InhibitionPct, o.MeanTreated, o.MeanLPS))
		}
	}
	o.Valid = len(o.InvalidReasons) == 0
	return o
}

// Complete fills the computed fields of a BV2 result; other tests are left as they are.
func (r *QCResult) Complete(spec ReleaseSpec) {
	if r.Test != TestBV2Potency {
		return
	}
	o := ComputeBV2(spec, r.Baseline, r.LPS, r.Treated)
	valid, inh := o.Valid, math.Round(o.InhibitionPct*100)/100
	r.Valid, r.InhibitionPct = &valid, &inh
	r.InvalidReason = strings.Join(o.InvalidReasons, "; ")
}

// Criterion statuses.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusPending = "pending"
)

// Criterion is one line of an evaluation.
type Criterion struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Detail   string `json:"detail"`
	Limit    string `json:"limit"`
	Value    string `json:"value,omitempty"`
	ResultID int64  `json:"result_id,omitempty"`
	// Test is the QC test the criterion judges; InvestigationID the OOS investigation that
	// decides its status (open: oos; confirmed: fail).
	Test            QCTest `json:"test,omitempty"`
	InvestigationID int64  `json:"investigation_id,omitempty"`
}

// Evaluation is a lot's results judged against one specification version.
type Evaluation struct {
	SpecVersion int         `json:"spec_version"`
	Releasable  bool        `json:"releasable"`
	Criteria    []Criterion `json:"criteria"`
	// Hash binds a signature to exactly the results evaluated (EvaluationHash) and the OOS
	// investigations that judged them.
	Hash string `json:"hash"`
	// Investigations lists every OOS investigation of the lot, with its conclusion and signer.
	Investigations []Investigation `json:"investigations"`
}

// CurrentResults drops results that a later correction replaced, keeping each test's history
// visible elsewhere but judging only what stands.
func CurrentResults(results []QCResult) []QCResult {
	corrected := map[int64]bool{}
	for _, r := range results {
		if r.Corrects != nil {
			corrected[*r.Corrects] = true
		}
	}
	var out []QCResult
	for _, r := range results {
		if !corrected[r.ID] {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b QCResult) int { return int(a.ID - b.ID) })
	return out
}

// Evaluate judges a lot's results against spec with no OOS investigation recorded: a failing
// result stands (EvaluateLot).
func Evaluate(spec ReleaseSpec, results []QCResult) Evaluation {
	return EvaluateLot(spec, results, nil)
}

// EvaluateLot judges a lot's results against spec under the OOS rules (SPEC §4). For each test
// the latest standing result counts, for BV2 the latest valid run (an invalid run never
// counts), unless OOSState says otherwise: while an investigation is open the criterion is
// oos; a failing result no investigation covers, or one whose failure QA confirmed, stands
// whatever came after it; after a lab_error closing only later results count.
func EvaluateLot(spec ReleaseSpec, results []QCResult, invs []Investigation) Evaluation {
	return evaluate(spec, results, invs, OOSState(spec, results, invs))
}

// evaluate judges results with the OOS state given; FailsSpec judges one result with none.
func evaluate(spec ReleaseSpec, results []QCResult, invs []Investigation, oos map[QCTest]TestOOS) Evaluation {
	current := CurrentResults(results)
	byID := map[int64]QCResult{}
	for _, r := range results {
		byID[r.ID] = r
	}
	latest := map[QCTest]QCResult{}
	var bv2Runs, bv2Invalid int
	for _, r := range current {
		if r.ID <= oos[r.Test].CountsAfter {
			continue
		}
		if r.Test == TestBV2Potency {
			bv2Runs++
			if r.Valid == nil || !*r.Valid {
				bv2Invalid++
				continue
			}
		}
		latest[r.Test] = r
	}
	// A failing result that stands, or the one under investigation, is what the criterion shows.
	for test, st := range oos {
		var id int64
		switch {
		case st.Open != nil:
			id = st.Open.ResultID
		case st.Failing != nil:
			id = st.Failing.ID
		case st.Confirmed != nil:
			id = st.Confirmed.ResultID
		default:
			continue
		}
		if r, ok := byID[id]; ok {
			latest[test] = r
		} else {
			delete(latest, test)
		}
	}
	e := Evaluation{SpecVersion: spec.Version, Releasable: true, Investigations: []Investigation{}}
	if invs != nil {
		e.Investigations = append(e.Investigations, invs...)
	}
	var test QCTest
	add := func(c Criterion) {
		c.Test = test
		st := oos[test]
		switch {
		case st.Open != nil:
			c.Status, c.ResultID, c.InvestigationID = StatusOOS, st.Open.ResultID, st.Open.ID
			c.Detail = fmt.Sprintf("OOS investigation %d is open on failing result %d (%s): later results of this test do not count until QA closes it",
				st.Open.ID, st.Open.ResultID, c.Detail)
		case st.Failing != nil:
			if c.Status == StatusFail {
				c.Detail += fmt.Sprintf("; failing result %d stands: a later result or a correction does not replace it", st.Failing.ID)
			}
		case st.Confirmed != nil:
			if c.Status == StatusFail {
				c.InvestigationID = st.Confirmed.ID
				c.Detail += fmt.Sprintf("; OOS investigation %d confirmed the failure (signed by %s): the lot can only be rejected or released by exception",
					st.Confirmed.ID, st.Confirmed.SignedBy)
			}
		case st.LabError != nil:
			c.Detail += fmt.Sprintf("; results up to %d invalidated as a laboratory error (OOS investigation %d, signed by %s)",
				st.LabError.LastResultID, st.LabError.ID, st.LabError.SignedBy)
		}
		e.Criteria = append(e.Criteria, c)
		e.Releasable = e.Releasable && c.Status == StatusPass
	}
	pending := func(name, limit, what string) Criterion {
		return Criterion{Name: name, Status: StatusPending, Limit: limit, Detail: "no " + what + " result recorded yet"}
	}
	judge := func(name, limit string, r QCResult, ok bool, value, detail string) Criterion {
		st := StatusFail
		if ok {
			st = StatusPass
		}
		return Criterion{Name: name, Status: st, Limit: limit, Value: value, Detail: detail, ResultID: r.ID}
	}

	test = TestViability
	limit := fmt.Sprintf("≥ %g %%", spec.MinViabilityPct)
	if r, ok := latest[TestViability]; ok {
		v := *r.Value
		add(judge("viability", limit, r, v >= spec.MinViabilityPct, fmt.Sprintf("%.1f %%", v),
			fmt.Sprintf("viability %.1f %% against a minimum of %g %%", v, spec.MinViabilityPct)))
	} else {
		add(pending("viability", limit, "viability"))
	}
	test = TestViableCellCount
	if r, ok := latest[TestViableCellCount]; ok {
		add(judge("viable_cell_count", "recorded", r, *r.Value > 0, fmt.Sprintf("%.3g cells", *r.Value), "viable cell count recorded; it drives dosing"))
	} else {
		add(pending("viable_cell_count", "recorded", "viable cell count"))
	}
	test = TestSterility
	if r, ok := latest[TestSterility]; ok {
		add(judge("sterility", "negative", r, r.Result == "negative", r.Result, "sterility culture "+r.Result))
	} else {
		add(pending("sterility", "negative", "sterility"))
	}
	test = TestMycoplasma
	if r, ok := latest[TestMycoplasma]; ok {
		add(judge("mycoplasma", "not detected", r, r.Result == "not_detected", r.Result, "mycoplasma PCR "+strings.ReplaceAll(r.Result, "_", " ")))
	} else {
		add(pending("mycoplasma", "not detected", "mycoplasma"))
	}
	test = TestEndotoxin
	limit = fmt.Sprintf("≤ %g EU/mL", spec.MaxEndotoxinEUPerML)
	if r, ok := latest[TestEndotoxin]; ok {
		v := *r.Value
		add(judge("endotoxin", limit, r, v <= spec.MaxEndotoxinEUPerML, fmt.Sprintf("%g EU/mL", v),
			fmt.Sprintf("endotoxin %g EU/mL against a maximum of %g EU/mL", v, spec.MaxEndotoxinEUPerML)))
	} else {
		add(pending("endotoxin", limit, "endotoxin"))
	}
	test = TestPhenotype
	markers := func(groups [][]string, positive bool) {
		for _, group := range groups {
			name := strings.Join(group, "/")
			limit := fmt.Sprintf("≤ %g %%", spec.MaxNegativePct)
			if positive {
				limit = fmt.Sprintf("≥ %g %%", spec.MinPositivePct)
			}
			r, ok := latest[TestPhenotype]
			if !ok {
				add(pending(name, limit, "phenotype"))
				continue
			}
			marker, v, measured := pickMarker(r.Markers, group)
			if !measured {
				add(Criterion{Name: name, Status: StatusPending, Limit: limit, Detail: name + " was not measured", ResultID: r.ID})
				continue
			}
			pass := v <= spec.MaxNegativePct
			if positive {
				pass = v >= spec.MinPositivePct
			}
			add(judge(name, limit, r, pass, fmt.Sprintf("%.1f %%", v), fmt.Sprintf("%s %.1f %% positive, limit %s", marker, v, limit)))
		}
	}
	markers(spec.PositiveMarkers, true)
	markers(spec.NegativeMarkers, false)

	test = TestBV2Potency
	limit = fmt.Sprintf("inhibition ≥ %g %%, valid run", spec.MinInhibitionPct)
	if r, ok := latest[TestBV2Potency]; ok {
		v := *r.InhibitionPct
		add(judge("bv2_potency", limit, r, v >= spec.MinInhibitionPct, fmt.Sprintf("%.1f %%", v),
			fmt.Sprintf("%s inhibition %.1f %% in a valid BV2 co-culture run", r.Analyte, v)))
	} else {
		c := pending("bv2_potency", limit, "valid BV2")
		if bv2Runs > 0 {
			c.Detail = fmt.Sprintf("%d BV2 run(s) recorded, none valid: an invalid run never counts", bv2Invalid)
		}
		add(c)
	}
	e.Hash = EvaluationHash(spec.Version, current)
	if len(invs) > 0 {
		e.Hash = investigationsHash(e.Hash, invs)
	}
	return e
}

// investigationsHash binds the evaluation hash to the lot's OOS investigations and their
// conclusions; a lot without investigations keeps the hash of its results alone.
func investigationsHash(resultsHash string, invs []Investigation) string {
	type canon struct {
		ID         int64  `json:"id"`
		Test       QCTest `json:"test"`
		ResultID   int64  `json:"result_id"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		Last       int64  `json:"last"`
	}
	rows := make([]canon, len(invs))
	for i, inv := range invs {
		rows[i] = canon{inv.ID, inv.Test, inv.ResultID, inv.Status, inv.Conclusion, inv.LastResultID}
	}
	slices.SortFunc(rows, func(a, b canon) int { return int(a.ID - b.ID) })
	b, _ := json.Marshal(struct {
		Results        string  `json:"results"`
		Investigations []canon `json:"investigations"`
	}{resultsHash, rows})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EvaluationHash is the SHA-256 of the specification version and the standing results, in a
// canonical encoding. A signature records it; a result added or corrected later changes it,
// which shows the signed evaluation is no longer the current one.
func EvaluationHash(specVersion int, current []QCResult) string {
	type canon struct {
		ID      int64              `json:"id"`
		Test    QCTest             `json:"test"`
		Value   *float64           `json:"value"`
		Result  string             `json:"result"`
		Markers map[string]float64 `json:"markers"`
		B       []float64          `json:"b"`
		C       []float64          `json:"c"`
		T       []float64          `json:"t"`
	}
	rows := make([]canon, len(current))
	for i, r := range current {
		rows[i] = canon{r.ID, r.Test, r.Value, r.Result, r.Markers, r.Baseline, r.LPS, r.Treated}
	}
	b, _ := json.Marshal(struct {
		Spec    int     `json:"spec"`
		Results []canon `json:"results"`
	}{specVersion, rows})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
