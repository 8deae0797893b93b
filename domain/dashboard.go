package domain

import (
	"context"
	"time"
)

// The dashboards show at a glance what is released, what is waiting and where scanning is
// bypassed. They are aggregates: no type below carries a patient's subject id, MRN or name,
// so that a dashboard never discloses patient data and needs no audit entry to be read.

// LotStatusCount is how many lots are in one status.
type LotStatusCount struct {
	Status LotStatus
	Lots   int
}

// QuarantinedLot is a lot waiting in quarantine, and since when.
type QuarantinedLot struct {
	LotID     int64
	LotNumber string
	Since     time.Time
	Days      float64 // days in quarantine up to now
}

// LotOverview is every lot status with its count (zeros included, in LotStatuses order), and
// the lots in quarantine, longest-waiting first.
type LotOverview struct {
	ByStatus    []LotStatusCount
	Quarantined []QuarantinedLot
}

// QCTrendPoint is one lot's effective result of a test (a corrected result is replaced by its
// correction; an invalid BV2 run has no inhibition and is left out).
type QCTrendPoint struct {
	LotID     int64
	LotNumber string
	Value     float64
	EnteredAt time.Time
}

// QCTrend is lot viability and BV2 inhibition over time, oldest first, with the limits of the
// current specification they are judged against.
type QCTrend struct {
	SpecVersion      int
	MinViabilityPct  float64
	MinInhibitionPct float64
	Viability        []QCTrendPoint
	Inhibition       []QCTrendPoint
}

// ExpiringLot is a usable lot that expires within the horizon asked for, with its units not
// yet used (available or allocated), soonest first.
type ExpiringLot struct {
	LotID     int64
	LotNumber string
	Status    LotStatus
	ExpiresAt time.Time
	DaysLeft  float64
	Available int
	Allocated int
}

// BagInTransit is a dose bag that has left the pharmacy and is not infused, returned or
// discarded: on its way (dispatched) or on the ward waiting (received, verified).
type BagInTransit struct {
	BagID        string
	LotNumber    string
	Status       DoseBagStatus
	Location     string // where it was sent, or where it was received
	DispatchedAt time.Time
	Hours        float64 // hours since dispatch, up to now
	ExpiresAt    time.Time
}

// Period is the width of a compliance bucket.
type Period string

const (
	PeriodDay  Period = "day"
	PeriodWeek Period = "week"
)

// ParsePeriod checks a period named in input; empty means a day.
func ParsePeriod(s string) (Period, error) {
	switch p := Period(s); p {
	case "":
		return PeriodDay, nil
	case PeriodDay, PeriodWeek:
		return p, nil
	}
	return "", FieldError("period", "%q is not a period; use day or week", s)
}

// Start is the beginning of the period holding t, in loc: midnight, or Monday midnight.
func (p Period) Start(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	if p == PeriodWeek {
		d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	return d
}

// Next is the beginning of the period after the one starting at start.
func (p Period) Next(start time.Time) time.Time {
	if p == PeriodWeek {
		return start.AddDate(0, 0, 7)
	}
	return start.AddDate(0, 0, 1)
}

// NoWard names the ward of verifications recorded without one.
const NoWard = "(no ward)"

// ComplianceBucket is one ward's bedside verifications in one period: how many passed, how
// many stopped and on which checks, and how the bag's code was entered (a manual entry
// bypasses the scanner).
type ComplianceBucket struct {
	Ward          string
	Start         time.Time
	Verifications int
	Passes        int
	Stops         int
	StopsByCheck  map[string]int
	QR            int
	ISBT          int
	Manual        int
	Unknown       int
	// Typed counts verifications whose wristband or bag code was typed rather than scanned.
	Typed int
	// EntryReasons counts verifications accepted with an entry reason (a typed code or one
	// that is not the signed QR), by reason (domain.Reason*).
	EntryReasons map[string]int
}

// DashboardService computes the dashboards' aggregates. now is the store's clock.
type DashboardService interface {
	LotOverview(ctx context.Context) (LotOverview, error)
	// QCTrend gives results entered since the given time.
	QCTrend(ctx context.Context, since time.Time) (QCTrend, error)
	// ExpiringUnits gives the lots not expired yet that expire within the given time.
	ExpiringUnits(ctx context.Context, within time.Duration) ([]ExpiringLot, error)
	// BagsInTransit gives the bags dispatched and not yet infused, longest out first.
	BagsInTransit(ctx context.Context) ([]BagInTransit, error)
	// ScanCompliance gives, per ward and period, the verifications from the period holding
	// since onward, periods in the site's time zone; wards by name, then periods in order.
	ScanCompliance(ctx context.Context, since time.Time, p Period) ([]ComplianceBucket, error)
}
