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
		name, value, _ := strings.Cut(line, " ")
		var field *float64
		switch name {
		case `cordtrace_write_groups_total`:
			field = &g.Groups
		case `cordtrace_grouped_writes_total{written="together"}`:
			field = &g.Together
		case `cordtrace_grouped_writes_total{written="alone"}`:
			field = &g.Alone
		case `cordtrace_grouped_writes_total{written="redone"}`:
			field = &g.Redone
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return g, false, err
		}
		*field, ok = v, true
	}
	return g, ok, nil
}

func (g WriteGroups) minus(before WriteGroups) WriteGroups {
	return WriteGroups{Groups: g.Groups - before.Groups, Together: g.Together - before.Together,
		Alone: g.Alone - before.Alone, Redone: g.Redone - before.Redone}
}
