package store

import (
	"reflect"
	"testing"
)

// mergeRows makes one statement of the statements of each manyRows, where the first of them
// was, with one array per value holding the rows' values in order, and leaves the other
// statements as they are.
func TestMergeRowsKeepsOrderAndArguments(t *testing.T) {
	ins := &manyRows{sql: "INSERT INTO t (a, b) SELECT * FROM unnest($1::bigint[], $2::text[])"}
	upd := &manyRows{sql: "UPDATE u SET s = v.s FROM unnest($1::text[], $2::bigint[]) AS v(s, id) WHERE u.id = v.id"}
	got := mergeRows([]endStatement{
		{sql: "one insert", args: []any{1, "a"}, many: ins},
		{sql: "SELECT other", args: []any{"x"}},
		{sql: "one update", args: []any{"s1", 10}, many: upd},
		{sql: "one insert", args: []any{2, "b"}, many: ins},
		{sql: "one update", args: []any{"s2", 20}, many: upd},
		{sql: "one insert", args: []any{3, nil}, many: ins},
	})
	want := []endStatement{
		{sql: ins.sql, args: []any{[]any{1, 2, 3}, []any{"a", "b", nil}}, many: ins},
		{sql: "SELECT other", args: []any{"x"}},
		{sql: upd.sql, args: []any{[]any{"s1", "s2"}, []any{10, 20}}, many: upd},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged:\n got %+v\nwant %+v", got, want)
	}
}
