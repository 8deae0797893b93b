package loadtest

import "testing"

func TestParseWriteGroups(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       WriteGroups
		ok, err    bool
	}{
		{"all four", `# HELP cordtrace_grouped_writes_total How they were written.
# TYPE cordtrace_grouped_writes_total counter
cordtrace_grouped_writes_total{written="alone"} 12
cordtrace_grouped_writes_total{written="redone"} 0
cordtrace_grouped_writes_total{written="together"} 340
cordtrace_write_groups_total 57
cordtrace_write_groups_totally_other 9
`, WriteGroups{Groups: 57, Together: 340, Alone: 12}, true, false},
		{"an older service", "cordtrace_http_requests_total{method=\"GET\"} 3\n", WriteGroups{}, false, false},
		{"a value that is no number", "cordtrace_write_groups_total many\n", WriteGroups{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := parseWriteGroups(tc.text)
			if (err != nil) != tc.err || ok != tc.ok || (err == nil && got != tc.want) {
				t.Fatalf("parseWriteGroups = %+v, %v, %v; want %+v, %v, error %v", got, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}
