package loadtest

import (
	"context"
	"strconv"
	"strings"
)

// WriteGroups is how the service wrote the run's verifications and custody scans (its
// /metrics, store.WriteGroupStats): together in groups of two or more, alone, or redone alone
// after their group was rolled back.
type WriteGroups struct {
	Groups, Together, Alone, Redone float64
}

var writeGroupSeries = map[string]func(*WriteGroups) *float64{
	`cordtrace_write_groups_total`:                       func(g *WriteGroups) *float64 { return &g.Groups },
	`cordtrace_grouped_writes_total{written="together"}`: func(g *WriteGroups) *float64 { return &g.Together },
	`cordtrace_grouped_writes_total{written="alone"}`:    func(g *WriteGroups) *float64 { return &g.Alone },
	`cordtrace_grouped_writes_total{written="redone"}`:   func(g *WriteGroups) *float64 { return &g.Redone },
}

// writeGroups reads the counts from the service's /metrics; ok is false when it has none of
// them (an older service).
func writeGroups(ctx context.Context, c *client) (g WriteGroups, ok bool, err error) {
	b, err := c.get(ctx, "/metrics", "")
	if err != nil {
		return g, false, err
	}
	return parseWriteGroups(string(b))
}

// parseWriteGroups reads the counts from a Prometheus text exposition.
func parseWriteGroups(text string) (g WriteGroups, ok bool, err error) {
	for _, line := range strings.Split(text, "\n") {
		name, value, found := strings.Cut(line, " ")
		field := writeGroupSeries[name]
		if !found || field == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return g, false, err
		}
		*field(&g), ok = v, true
	}
	return g, ok, nil
}

func (g WriteGroups) minus(before WriteGroups) WriteGroups {
	return WriteGroups{Groups: g.Groups - before.Groups, Together: g.Together - before.Together,
		Alone: g.Alone - before.Alone, Redone: g.Redone - before.Redone}
}
