package engine_test

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// The JSON Lines shape of docs/events.md: type and time first, UTC,
// durations and delays in seconds, a duration on finished events even
// when zero, and every other field as Event declares it.
func TestEventJSON(t *testing.T) {
	at := time.Date(2026, 11, 24, 2, 30, 0, 300_000_000, time.FixedZone("x", 3600))
	for _, c := range []struct {
		ev   engine.Event
		want string
	}{
		{engine.Event{Type: engine.EventRequest, Time: at, Method: "POST", Path: "/a", HTTPStatus: 200, Duration: 21 * time.Millisecond, Attempt: 1},
			`{"type":"request","time":"2026-11-24T01:30:00.3Z","attempt":1,"method":"POST","path":"/a","http_status":200,"duration":0.021}`},
		{engine.Event{Type: engine.EventStepFinished, Time: at, Step: "s", Status: engine.StatusSkipped},
			`{"type":"step_finished","time":"2026-11-24T01:30:00.3Z","step":"s","status":"skipped","duration":0}`},
		{engine.Event{Type: engine.EventStepRetrying, Time: at, Step: "s", Attempt: 1, MaxAttempts: 3, Delay: 1500 * time.Millisecond, Error: "503"},
			`{"type":"step_retrying","time":"2026-11-24T01:30:00.3Z","step":"s","attempt":1,"max_attempts":3,"error":"503","delay":1.5}`},
	} {
		b, err := json.Marshal(c.ev)
		if err != nil || string(b) != c.want {
			t.Errorf("got  %s (%v)\nwant %s", b, err, c.want)
		}
		// What the JSON renderer encodes is the same.
		if v, err := json.Marshal(c.ev.JSON()); err != nil || string(v) != c.want {
			t.Errorf("JSON(): got %s (%v)", v, err)
		}
	}
}

// What one JSON Lines event costs a renderer (--output json writes one per
// request and per step change: tens of thousands in a large rollout).
func BenchmarkEventJSON(b *testing.B) {
	ev := engine.Event{Type: engine.EventRequest, Time: time.Now(), Method: "GET", Path: "/accounts/acc-1/task/123", HTTPStatus: 200, Duration: 21 * time.Millisecond, Attempt: 1}
	enc := json.NewEncoder(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		_ = enc.Encode(ev.JSON())
	}
}
