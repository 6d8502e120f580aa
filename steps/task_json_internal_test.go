package steps

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// The direct task conversions must give what the JSON round trip gives,
// or decline; never something else.

func TestTaskFieldsNameEveryTaskField(t *testing.T) {
	var got []string
	rt := reflect.TypeOf(frame.Task{})
	for i := range rt.NumField() {
		got = append(got, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	if !reflect.DeepEqual(got, taskFields) {
		t.Fatalf("frame.Task's JSON names are %v; taskFields says %v: update task_json.go", got, taskFields)
	}
}

func TestTaskFromMapMatchesTheRoundTrip(t *testing.T) {
	cases := []map[string]any{
		{},
		{"id": "t1", "stage": "in_progress", "account_id": "a1", "kind": "clone", "duration_sec": 2.5},
		{"id": "t1", "stage": "done", "pool_id": "p", "finished_at": "2026-01-01T00:00:00Z", "progress_info": map[string]any{"pct": 50.0, "n": []any{1.0, "x", nil}}},
		{"id": "t1", "pool_id": nil, "finished_at": nil, "duration_sec": nil, "result_info": nil, "external_resource_id": "e"},
		{"id": nil, "stage": nil, "display_name": "<b>&amp;</b> \u2028", "inserted_at": "x", "updated_at": "y", "customer_id": "c", "organization_id": "o"},
		{"id": "t1", "other": map[string]any{"deep": true}, "publish_id": "p1"},
		{"ID": "upper", "stage": "done"},         // case-insensitive match: declined
		{"id": "t1", "Stage": "x"},               // declined
		{"id": 7.0},                              // type error: declined
		{"id": "t1", "duration_sec": "2"},        // type error: declined
		{"id": "t1", "pool_id": 3.0},             // type error: declined
		{"id": "bad\xffutf8"},                    // Marshal replaces the byte: declined
		{"id": "t1", "duration_sec": math.NaN()}, // Marshal fails: declined
		{"id": "t1", "progress_info": func() {}}, // Marshal fails: declined
		{"id": "t1", "duration_sec": math.Copysign(0, -1)},
	}
	for _, m := range cases {
		want, wantErr := roundTripTask(m)
		got, ok := taskFromMap(m)
		if !ok {
			continue // the caller takes the round trip
		}
		if wantErr != nil {
			t.Errorf("%v: the round trip fails (%v) but taskFromMap gave %+v", m, wantErr, got)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\n got %+v\nwant %+v", m, got, want)
		}
	}
	// The common shapes must take the fast path, or it saves nothing.
	for _, m := range cases[1:6] {
		if _, ok := taskFromMap(m); !ok {
			t.Errorf("%v: declined", m)
		}
	}
	for _, m := range cases[6:14] {
		if _, ok := taskFromMap(m); ok {
			t.Errorf("%v: converted, but the round trip is needed", m)
		}
	}
}

func roundTripTask(m map[string]any) (*frame.Task, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out frame.Task
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
