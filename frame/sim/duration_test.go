package sim_test

import (
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// TestDurationFromStart: with the option, duration_sec counts from the
// task's start (a tenth of its duration after creation); finished_at -
// inserted_at is the whole duration either way.
func TestDurationFromStart(t *testing.T) {
	for _, fromStart := range []bool{false, true} {
		h := newHarness(t, func(o *sim.Options) { o.DurationFromStart = fromStart })
		qa, boston := h.accountByName("QA"), h.accountByName("Store-Boston")
		src, _ := h.pools(qa.ID)
		var p pending
		h.must(200, "POST", "/v1/accounts/"+boston.ID+"/pools/"+src.ID+"/clone", nil, &p)
		h.clock.Advance(11 * time.Second)
		var tk struct {
			Stage       string   `json:"stage"`
			DurationSec *float64 `json:"duration_sec"`
			InsertedAt  string   `json:"inserted_at"`
			FinishedAt  *string  `json:"finished_at"`
		}
		h.must(200, "GET", "/v1/accounts/"+boston.ID+"/task/"+p.PendingRequest.ID, nil, &tk)
		if tk.Stage != "done" || tk.DurationSec == nil || tk.FinishedAt == nil {
			t.Fatalf("fromStart=%t: task %+v", fromStart, tk)
		}
		want := 10.0 // TaskDuration of the harness
		if fromStart {
			want = 9
		}
		if *tk.DurationSec != want {
			t.Errorf("fromStart=%t: duration_sec %v, want %v", fromStart, *tk.DurationSec, want)
		}
		ins, _ := time.Parse(time.RFC3339Nano, tk.InsertedAt)
		fin, _ := time.Parse(time.RFC3339Nano, *tk.FinishedAt)
		if fin.Sub(ins) != 10*time.Second {
			t.Errorf("fromStart=%t: finished_at - inserted_at = %s, want 10s", fromStart, fin.Sub(ins))
		}
	}
}
