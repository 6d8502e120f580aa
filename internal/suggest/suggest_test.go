package suggest_test

import (
	"testing"

	"github.com/frameflow/frameflow/internal/suggest"
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
		if got := suggest.Closest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("Closest(%q, %v) = %q, want %q", tc.name, tc.candidates, got, tc.want)
		}
	}
	if got := suggest.DidYouMean("stpes", []string{"steps"}); got != ` (did you mean "steps"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := suggest.DidYouMean("zzz", []string{"steps"}); got != "" {
		t.Errorf("DidYouMean = %q", got)
	}
}
