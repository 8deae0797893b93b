package store

import (
	"slices"
	"testing"
)

// A statement of many rows numbers each row's placeholders in turn.
func TestManyRowsNumbersEachRow(t *testing.T) {
	m := &manyRows{head: "UPDATE t SET s = v.s FROM (VALUES ", row: "(?::text, ?::bigint)", tail: ") AS v(s, id) WHERE t.id = v.id"}
	for n, want := range map[int]string{
		1: "UPDATE t SET s = v.s FROM (VALUES ($1::text, $2::bigint)) AS v(s, id) WHERE t.id = v.id",
		3: "UPDATE t SET s = v.s FROM (VALUES ($1::text, $2::bigint), ($3::text, $4::bigint), ($5::text, $6::bigint)) AS v(s, id) WHERE t.id = v.id",
	} {
		if got := m.sql(n); got != want {
			t.Errorf("%d rows:\n got %s\nwant %s", n, got, want)
		}
	}
}

// mergeRows makes one statement of the statements of each manyRows, where the first of them
// was, with their arguments in order, and leaves the other statements as they are.
func TestMergeRowsKeepsOrderAndArguments(t *testing.T) {
	ins := &manyRows{head: "INSERT INTO t (a, b) VALUES ", row: "(?, ?)"}
	upd := &manyRows{head: "UPDATE u SET s = v.s FROM (VALUES ", row: "(?, ?)", tail: ") AS v(s, id) WHERE u.id = v.id"}
	got := mergeRows([]endStatement{
		{sql: "one insert", args: []any{1, "a"}, many: ins},
		{sql: "SELECT other", args: []any{"x"}},
		{sql: "one update", args: []any{"s1", 10}, many: upd},
		{sql: "one insert", args: []any{2, "b"}, many: ins},
		{sql: "one update", args: []any{"s2", 20}, many: upd},
		{sql: "one insert", args: []any{3, "c"}, many: ins},
	})
	want := []endStatement{
		{sql: "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)", args: []any{1, "a", 2, "b", 3, "c"}},
		{sql: "SELECT other", args: []any{"x"}},
		{sql: "UPDATE u SET s = v.s FROM (VALUES ($1, $2), ($3, $4)) AS v(s, id) WHERE u.id = v.id", args: []any{"s1", 10, "s2", 20}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].sql != want[i].sql || !slices.Equal(got[i].args, want[i].args) {
			t.Errorf("statement %d: %s %v\nwant %s %v", i, got[i].sql, got[i].args, want[i].sql, want[i].args)
		}
	}
}
