package schema_test

import (
	"testing"

	"github.com/frameflow/frameflow/schema"
)

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"acount_id", []string{"account_id", "pool_id", "wait"}, "account_id"},
		{"need", []string{"id", "needs", "uses"}, "needs"},
		{"sandbox.clon", []string{"sandbox.clone", "sandbox.publish"}, "sandbox.clone"},
		{"tagrets", []string{"targets", "source"}, "targets"}, // transposition
		{"Account_ID", []string{"account_id"}, "account_id"},
		{"clon", []string{"Clone", "clone"}, "clone"}, // same case wins a tie
		{"rocket.launch", []string{"sandbox.clone", "accounts.list"}, ""},
		{"x", []string{"y", "abc"}, "y"},
		{"", []string{"a"}, ""},
		{"wait", []string{"wait"}, ""}, // a name is not a typo of itself
		{"anything", nil, ""},
	} {
		if got := schema.Suggest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("Suggest(%q, %v) = %q, want %q", tc.name, tc.candidates, got, tc.want)
		}
	}
	if got := schema.DidYouMean("stpes", []string{"steps"}); got != ` (did you mean "steps"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := schema.DidYouMean("zzz", []string{"steps"}); got != "" {
		t.Errorf("DidYouMean = %q", got)
	}
}

func TestSortDiagnostics(t *testing.T) {
	ds := schema.Diagnostics{
		{Pos: schema.Pos{File: "b", Line: 1, Col: 1}, Message: "x"},
		{Pos: schema.Pos{File: "a", Line: 2, Col: 1}, Message: "x"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 5}, Message: "b"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 5}, Message: "a"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 2}, Message: "z"},
	}
	schema.SortDiagnostics(ds)
	want := "a:1:2: z\na:1:5: a\na:1:5: b\na:2:1: x\nb:1:1: x"
	if ds.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", ds.Error(), want)
	}
}
