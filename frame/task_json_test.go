package frame

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// JSONObject must give what the JSON round trip gives, or decline; never
// something else.
func TestTaskJSONObjectMatchesTheRoundTrip(t *testing.T) {
	s := func(v string) *string { return &v }
	f := func(v float64) *float64 { return &v }
	cases := []*Task{
		{},
		{ID: "t1", Stage: "done"},
		{ID: "t1", AccountID: "a", CustomerID: "c", OrganizationID: "o", PoolID: s("p"), Kind: "k", DisplayName: "<d>&",
			Stage: "in_progress", DurationSec: f(3), InsertedAt: "i", UpdatedAt: "u", FinishedAt: s(""),
			ProgressInfo: json.RawMessage(`{"a": [1, 2.5, "x", null, true]}`), ResultInfo: json.RawMessage(`null`), ExternalResourceID: json.RawMessage(` "e" `)},
		{ID: "t1", DurationSec: f(math.Copysign(0, -1)), PoolID: s("")},
		{ID: "bad\xff"},                                    // declined
		{ID: "t1", DurationSec: f(math.Inf(1))},            // declined
		{ID: "t1", ResultInfo: json.RawMessage(`{broken`)}, // declined
	}
	for i, task := range cases {
		want, wantErr := roundTrip(task)
		got, ok := task.JSONObject()
		if i < 4 && !ok {
			t.Errorf("%+v: declined", task)
		}
		if i >= 4 && ok {
			t.Errorf("%+v: converted, but the round trip is needed", task)
		}
		if !ok {
			continue
		}
		if wantErr != nil {
			t.Errorf("%+v: the round trip fails (%v) but JSONObject gave %v", task, wantErr, got)
			continue
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Errorf("%+v:\n got %#v\nwant %#v", task, got, want)
		}
	}
}

func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}
