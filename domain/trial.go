package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TrialColumns are the columns of the trial export, in their order. The order and names are
// a contract with the trial's data capture system (README, "Trial export"): add columns at
// the end, never rename or reorder.
var TrialColumns = []string{
	"subject_id", "arm", "enrolled_at", "weight_at_order_kg", "target_viable_cells",
	"bag_id", "bag_viable_cells", "lot_number", "donation_din",
	"infusion_start", "infusion_end", "volume_infused_ml", "reactions",
	"ae_count", "sae_count", "adverse_events",
	"allocation_sequence", "discharge_date", "death_date", "death_cause", "withdrawal_date", "lost_date",
	"follow_up_end_reason", "length_of_stay_days", "assessment_days",
}

// TrialAdverseEvent is one AE or SAE of a subject in the export.
type TrialAdverseEvent struct {
	OnsetAt     time.Time `json:"onset_at"`
	Serious     bool      `json:"serious"`
	Severity    string    `json:"severity"`
	Description string    `json:"description"`
}

// TrialRow is one subject of the trial export. Pointers are null (CSV: empty) when the
// subject has no such record yet, e.g. the routine arm has no bag. Subjects appear by trial
// subject id only: no name, no MRN.
type TrialRow struct {
	SubjectID         string              `json:"subject_id"`
	Arm               Arm                 `json:"arm"`
	EnrolledAt        time.Time           `json:"enrolled_at"`
	WeightAtOrderKg   *float64            `json:"weight_at_order_kg"`
	TargetViableCells *int64              `json:"target_viable_cells"`
	BagID             string              `json:"bag_id"`
	BagViableCells    *int64              `json:"bag_viable_cells"`
	LotNumber         string              `json:"lot_number"`
	DonationDIN       string              `json:"donation_din"`
	InfusionStart     *time.Time          `json:"infusion_start"`
	InfusionEnd       *time.Time          `json:"infusion_end"`
	VolumeInfusedML   *float64            `json:"volume_infused_ml"`
	Reactions         string              `json:"reactions"`
	AECount           int                 `json:"ae_count"`
	SAECount          int                 `json:"sae_count"`
	AdverseEvents     []TrialAdverseEvent `json:"adverse_events"`
	// Randomization and follow-up (SPEC §13); dates are the site's calendar dates. The stay is
	// in days from the enrolment date to a discharge alive; assessment days are those recorded.
	AllocationSequence *int   `json:"allocation_sequence"`
	DischargeDate      string `json:"discharge_date"`
	DeathDate          string `json:"death_date"`
	DeathCause         string `json:"death_cause"`
	WithdrawalDate     string `json:"withdrawal_date"`
	LostDate           string `json:"lost_date"`
	FollowUpEndReason  string `json:"follow_up_end_reason"`
	LengthOfStayDays   *int   `json:"length_of_stay_days"`
	AssessmentDays     []int  `json:"assessment_days"`
}

// trialBag is the bag a subject's row reports: the infused one, else the latest that is still
// usable, else the latest.
func trialBag(bags []DoseBag, infusionOfBag map[int64]InfusionRecord) *DoseBag {
	var latest, usable *DoseBag
	for i := range bags {
		b := &bags[i]
		if _, infused := infusionOfBag[b.ID]; infused {
			return b
		}
		latest = b
		if b.Status != BagDiscarded && b.Status != BagReturned {
			usable = b
		}
	}
	if usable != nil {
		return usable
	}
	return latest
}

// TrialRows builds one row per enrolled subject of r, ordered by subject id.
func TrialRows(r Records) []TrialRow {
	lots := map[int64]Lot{}
	for _, l := range r.Lots {
		lots[l.ID] = l
	}
	infusionOfBag := map[int64]InfusionRecord{}
	for _, i := range r.Infusions {
		infusionOfBag[i.DoseBagID] = i
	}
	// Each patient's bags and adverse events, in the order of r.
	bagsOf := groupBy(r.Bags, func(b DoseBag) int64 { return b.PatientID })
	eventsOf := groupBy(r.AdverseEvents, func(a AdverseEventRecord) int64 { return a.PatientID })
	assessmentsOf := groupBy(r.Assessments, func(a Assessment) int64 { return a.PatientID })
	outcomesOf := groupBy(r.Outcomes, func(o Outcome) int64 { return o.PatientID })
	rows := make([]TrialRow, 0, len(r.Patients))
	for _, p := range r.Patients {
		row := TrialRow{SubjectID: p.SubjectID, Arm: p.Arm, EnrolledAt: p.EnrolledAt.UTC(), AdverseEvents: []TrialAdverseEvent{}}
		if b := trialBag(bagsOf[p.ID], infusionOfBag); b != nil {
			row.WeightAtOrderKg, row.TargetViableCells = &b.OrderWeightKg, &b.TargetViableCells
			row.BagID, row.BagViableCells = b.BagID, &b.ViableCells
			row.LotNumber, row.DonationDIN = lots[b.LotID].LotNumber, lots[b.LotID].DIN
			if i, ok := infusionOfBag[b.ID]; ok {
				start := i.StartedAt.UTC()
				row.InfusionStart = &start
				if i.EndedAt != nil {
					end := i.EndedAt.UTC()
					row.InfusionEnd = &end
				}
				row.VolumeInfusedML, row.Reactions = i.VolumeML, i.Reactions
			}
		}
		if p.AllocationSequence > 0 {
			n := p.AllocationSequence
			row.AllocationSequence = &n
		}
		row.AssessmentDays = []int{}
		for _, a := range assessmentsOf[p.ID] {
			row.AssessmentDays = append(row.AssessmentDays, a.Day)
		}
		slices.Sort(row.AssessmentDays)
		for _, o := range outcomesOf[p.ID] {
			switch o.Kind {
			case OutcomeDischarge:
				row.DischargeDate = o.Date
				if site := r.Site; site != nil {
					if d, err := StudyDayOfDate(p.EnrolledAt, o.Date, site); err == nil {
						row.LengthOfStayDays = &d
					}
				}
			case OutcomeDeath:
				row.DeathDate, row.DeathCause = o.Date, o.Cause
			case OutcomeWithdrawal:
				row.WithdrawalDate, row.FollowUpEndReason = o.Date, o.Reason
			case OutcomeLost:
				row.LostDate, row.FollowUpEndReason = o.Date, o.Reason
			}
		}
		for _, a := range eventsOf[p.ID] {
			if a.Serious {
				row.SAECount++
			} else {
				row.AECount++
			}
			row.AdverseEvents = append(row.AdverseEvents, TrialAdverseEvent{OnsetAt: a.OnsetAt.UTC(), Serious: a.Serious, Severity: a.Severity, Description: a.Description})
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b TrialRow) int { return strings.Compare(a.SubjectID, b.SubjectID) })
	return rows
}

// Record is the row as CSV fields, in TrialColumns order. Times are RFC 3339 UTC; adverse
// events are "onset severity [SAE] description", separated by " | ".
func (t TrialRow) Record() []string {
	ts := func(v *time.Time) string {
		if v == nil {
			return ""
		}
		return v.Format(time.RFC3339)
	}
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	n := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	i := func(v *int) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(*v)
	}
	var aes []string
	for _, a := range t.AdverseEvents {
		s := a.OnsetAt.Format(time.RFC3339) + " " + a.Severity
		if a.Serious {
			s += " SAE"
		}
		aes = append(aes, s+" "+strings.ReplaceAll(a.Description, "|", "/"))
	}
	return []string{
		t.SubjectID, string(t.Arm), t.EnrolledAt.Format(time.RFC3339), f(t.WeightAtOrderKg), n(t.TargetViableCells),
		t.BagID, n(t.BagViableCells), t.LotNumber, t.DonationDIN,
		ts(t.InfusionStart), ts(t.InfusionEnd), f(t.VolumeInfusedML), t.Reactions,
		strconv.Itoa(t.AECount), strconv.Itoa(t.SAECount), strings.Join(aes, " | "),
		i(t.AllocationSequence), t.DischargeDate, t.DeathDate, t.DeathCause, t.WithdrawalDate, t.LostDate,
		t.FollowUpEndReason, i(t.LengthOfStayDays), strings.Trim(fmt.Sprint(t.AssessmentDays), "[]"),
	}
}

// PatientIDs lists the patients of r, for the disclosure record.
func (r Records) PatientIDs() []int64 {
	ids := make([]int64, len(r.Patients))
	for i, p := range r.Patients {
		ids[i] = p.ID
	}
	return ids
}

// groupBy groups items by key, each group in the order of items.
func groupBy[T any, K comparable](items []T, key func(T) K) map[K][]T {
	out := map[K][]T{}
	for _, it := range items {
		out[key(it)] = append(out[key(it)], it)
	}
	return out
}
