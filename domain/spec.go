package domain

import (
	"math"
	"strings"
	"time"
)

// ReleaseSpec is one version of the release and protocol specification (SPEC §4, §6). QA adds
// versions; a version is never changed. Every number a rule compares against lives here, so
// that changing one is a signed act with a record, not a code change.
type ReleaseSpec struct {
	Version int `json:"version"`

	MinViabilityPct     float64 `json:"min_viability_pct"`
	MaxEndotoxinEUPerML float64 `json:"max_endotoxin_eu_per_ml"`
	// Each entry is one marker criterion; a list of several names means alternatives, any one
	// of which may be measured (CD14 or CD11b).
	PositiveMarkers [][]string `json:"positive_markers"`
	MinPositivePct  float64    `json:"min_positive_pct"`
	NegativeMarkers [][]string `json:"negative_markers"`
	MaxNegativePct  float64    `json:"max_negative_pct"`

	BV2Analyte             string  `json:"bv2_analyte"`
	BV2MinStimulationRatio float64 `json:"bv2_min_stimulation_ratio"` // mean(LPS) ≥ ratio × mean(baseline)
	BV2MaxCVPct            float64 `json:"bv2_max_cv_pct"`
	MinInhibitionPct       float64 `json:"min_inhibition_pct"`

	MinPostThawViabilityPct float64 `json:"min_post_thaw_viability_pct"`
	DoseCellsPerKg          float64 `json:"dose_cells_per_kg"`
	DoseTolerancePct        float64 `json:"dose_tolerance_pct"`
	BagShelfLifeMinutes     int     `json:"bag_shelf_life_minutes"`
	TransportMinC           float64 `json:"transport_min_c"`
	TransportMaxC           float64 `json:"transport_max_c"`
	InfusionDayOffset       int     `json:"infusion_day_offset"`
	InfusionWindowDays      int     `json:"infusion_window_days"`
	VerificationMaxAgeMin   int     `json:"verification_max_age_minutes"`

	// ReferenceSafetyInformation lists the adverse event terms the investigator's brochure
	// expects (ExpectedAdverseEvents); empty: DefaultExpectedAdverseEvents.
	ReferenceSafetyInformation []string `json:"reference_safety_information,omitempty"`
	// FollowUpDays are the protocol's assessment days (SPEC §13); empty in versions that
	// predate them, which use DefaultAssessmentDays (AssessmentDays). FollowUpGraceDays is how
	// long an assessment stays due before it is overdue (nil: DefaultAssessmentGraceDays).
	FollowUpDays      []int `json:"follow_up_days,omitempty"`
	FollowUpGraceDays *int  `json:"follow_up_grace_days,omitempty"`
}

// DefaultSpecV1 is version 1, as SPEC §4 and §6 give it. Migration 00003 stores exactly this.
func DefaultSpecV1() ReleaseSpec {
	return ReleaseSpec{
		Version:                 1,
		MinViabilityPct:         80,
		MaxEndotoxinEUPerML:     0.5,
		PositiveMarkers:         [][]string{{"CD73"}, {"CD90"}, {"CD105"}},
		MinPositivePct:          95,
		NegativeMarkers:         [][]string{{"CD34"}, {"CD45"}, {"CD14", "CD11b"}, {"CD19", "CD79a"}, {"HLA-DR"}},
		MaxNegativePct:          2,
		BV2Analyte:              "TNF-alpha",
		BV2MinStimulationRatio:  3,
		BV2MaxCVPct:             20,
		MinInhibitionPct:        30,
		MinPostThawViabilityPct: 70,
		DoseCellsPerKg:          1e6,
		DoseTolerancePct:        10,
		BagShelfLifeMinutes:     240,
		TransportMinC:           2,
		TransportMaxC:           8,
		InfusionDayOffset:       1,
		InfusionWindowDays:      0,
		VerificationMaxAgeMin:   30,
	}
}

// BagShelfLife is how long a thawed dose bag may be used.
func (s ReleaseSpec) BagShelfLife() time.Duration {
	return time.Duration(s.BagShelfLifeMinutes) * time.Minute
}

// VerificationMaxAge is how long a passing bedside verification allows an infusion to start.
func (s ReleaseSpec) VerificationMaxAge() time.Duration {
	return time.Duration(s.VerificationMaxAgeMin) * time.Minute
}

// Protocol is the part of the specification the bedside checks apply.
func (s ReleaseSpec) Protocol() ProtocolRule {
	return ProtocolRule{CellsPerKg: s.DoseCellsPerKg, DoseTolerancePct: s.DoseTolerancePct,
		InfusionDayOffset: s.InfusionDayOffset, WindowDays: s.InfusionWindowDays}
}

// Validate refuses a specification QA could not have meant, naming the field.
func (s ReleaseSpec) Validate() error {
	pct := func(field string, v float64) error {
		if math.IsNaN(v) || v < 0 || v > 100 {
			return FieldError(field, "%s must be a percentage from 0 to 100", field)
		}
		return nil
	}
	for _, c := range []struct {
		field string
		v     float64
	}{
		{"min_viability_pct", s.MinViabilityPct}, {"min_positive_pct", s.MinPositivePct},
		{"max_negative_pct", s.MaxNegativePct}, {"bv2_max_cv_pct", s.BV2MaxCVPct},
		{"min_inhibition_pct", s.MinInhibitionPct}, {"min_post_thaw_viability_pct", s.MinPostThawViabilityPct},
		{"dose_tolerance_pct", s.DoseTolerancePct},
	} {
		if err := pct(c.field, c.v); err != nil {
			return err
		}
	}
	switch {
	case s.Version < 1:
		return FieldError("version", "version must be 1 or more")
	case !(s.MaxEndotoxinEUPerML > 0):
		return FieldError("max_endotoxin_eu_per_ml", "the endotoxin limit must be above 0 EU/mL")
	case len(s.PositiveMarkers) == 0 || len(s.NegativeMarkers) == 0:
		return FieldError("positive_markers", "both positive and negative identity markers are required")
	case s.BV2Analyte == "":
		return FieldError("bv2_analyte", "name the cytokine measured in the BV2 assay")
	case !(s.BV2MinStimulationRatio >= 1):
		return FieldError("bv2_min_stimulation_ratio", "the LPS response ratio must be at least 1")
	case !(s.DoseCellsPerKg > 0):
		return FieldError("dose_cells_per_kg", "the dose per kg must be above 0")
	case s.BagShelfLifeMinutes < 1:
		return FieldError("bag_shelf_life_minutes", "the bag shelf life must be at least 1 minute")
	case !(s.TransportMinC < s.TransportMaxC):
		return FieldError("transport_min_c", "the transport range must have its minimum below its maximum")
	case s.InfusionDayOffset < 0 || s.InfusionWindowDays < 0:
		return FieldError("infusion_day_offset", "the infusion day and window cannot be negative")
	case s.VerificationMaxAgeMin < 1:
		return FieldError("verification_max_age_minutes", "a verification must stay valid at least 1 minute")
	}
	for _, term := range s.ReferenceSafetyInformation {
		if t := strings.TrimSpace(term); t == "" || len(t) > 200 {
			return FieldError("reference_safety_information", "each expected adverse event is a term of 1 to 200 characters")
		}
	}
	for i, d := range s.FollowUpDays {
		if d < 0 || d > FollowUpEndDay || (i > 0 && d <= s.FollowUpDays[i-1]) {
			return FieldError("follow_up_days", "assessment days must rise from 0 to %d, each once", FollowUpEndDay)
		}
	}
	if g := s.FollowUpGraceDays; g != nil && (*g < 0 || *g > 14) {
		return FieldError("follow_up_grace_days", "an assessment stays due from 0 to 14 days")
	}
	for _, group := range append(append([][]string{}, s.PositiveMarkers...), s.NegativeMarkers...) {
		if len(group) == 0 {
			return FieldError("positive_markers", "a marker criterion needs at least one marker name")
		}
		for _, m := range group {
			if m == "" {
				return FieldError("positive_markers", "marker names cannot be empty")
			}
		}
	}
	return nil
}
