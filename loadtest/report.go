package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// Print writes the report as a table: per endpoint the rate, the latency percentiles, the
// unexpected outcomes by status and the cost relative to the PostgreSQL baselines.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s, %d clients, %d requests in %s: %.0f requests/s\n",
		r.Scenario, r.Concurrency, r.Requests, r.Elapsed.Round(time.Millisecond), r.PerSecond)
	if r.Rate > 0 {
		fmt.Fprintf(w, "paced at %.0f requests/s: each latency counts from when its request was due\n", r.Rate)
	}
	if r.SeedRequests > 0 {
		fmt.Fprintf(w, "seeded through the API in %s (%d requests)\n", r.SeedTime.Round(time.Millisecond), r.SeedRequests)
	}
	if wu := r.Warmup; wu != nil {
		fmt.Fprintf(w, "warm-up before the run, not counted below: %d requests in %s, p99 %s, max %s, %d unexpected\n",
			wu.Requests, wu.Elapsed.Round(time.Millisecond), ms(wu.P99), ms(wu.Max), wu.Unexpected)
	}
	if r.PoolExhausted {
		fmt.Fprintf(w, "note: the pool of bags for custody scans ran out before the end; raise -bags for a longer run\n")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	ratios := r.Select1 != nil && r.Insert != nil
	head := "endpoint\trequests\tok\treq/s\tp50\tp95\tp99\tmax\t"
	if ratios {
		head += "p50 ÷ SELECT 1\tp50 ÷ INSERT\t"
	}
	fmt.Fprintln(tw, head)
	row := func(st Stats, withRatios bool) {
		line := fmt.Sprintf("%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t", st.Endpoint, st.Requests, st.OK, st.PerSecond, ms(st.P50), ms(st.P95), ms(st.P99), ms(st.Max))
		if ratios {
			if withRatios {
				line += fmt.Sprintf("%.1f×\t%.1f×\t", ratio(st.P50, r.Select1.P50), ratio(st.P50, r.Insert.P50))
			} else {
				line += "\t\t"
			}
		}
		fmt.Fprintln(tw, line)
	}
	for _, st := range r.Endpoints {
		row(st, true)
	}
	if ratios {
		fmt.Fprintln(tw, "PostgreSQL baseline, same database and number of connections:\t\t\t\t\t\t\t\t\t\t")
		row(*r.Select1, false)
		row(*r.Insert, false)
		if r.Durable != nil {
			row(*r.Durable, false)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	unexpected := r.UnexpectedErrors()
	fmt.Fprintf(w, "unexpected outcomes: %d\n", unexpected)
	for _, st := range r.Endpoints {
		if len(st.Errors) == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(st.Errors)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, st.Errors[k]))
		}
		fmt.Fprintf(w, "  %s: %s\n", st.Endpoint, strings.Join(parts, ", "))
	}
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
