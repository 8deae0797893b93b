package domain

import (
	"testing"
	"time"
)

// Compliance buckets start at the site's midnight, and weeks on Monday.
func TestPeriodStart(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database")
	}
	sunday := time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC) // already Monday 00:30 in Paris
	for _, tc := range []struct {
		p    Period
		loc  *time.Location
		want time.Time
	}{
		{PeriodDay, time.UTC, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
		{PeriodWeek, time.UTC, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{PeriodDay, paris, time.Date(2026, 11, 30, 0, 0, 0, 0, paris)},
		{PeriodWeek, paris, time.Date(2026, 11, 30, 0, 0, 0, 0, paris)},
	} {
		if got := tc.p.Start(sunday, tc.loc); !got.Equal(tc.want) {
			t.Errorf("%s in %s: %v, want %v", tc.p, tc.loc, got, tc.want)
		}
	}
	if got := PeriodWeek.Next(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)); got.Day() != 30 {
		t.Errorf("next week starts %v", got)
	}
	for in, ok := range map[string]bool{"": true, "day": true, "week": true, "month": false} {
		if _, err := ParsePeriod(in); (err == nil) != ok {
			t.Errorf("ParsePeriod(%q): %v", in, err)
		}
	}
}
