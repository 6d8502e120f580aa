package engine_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
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
	b.Run("Marshal", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		b.ReportAllocs()
		for b.Loop() {
			_ = enc.Encode(ev.JSON())
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = ev.AppendJSON(buf[:0])
		}
	})
}

// AppendJSON is json.Marshal over the struct (JSON()) for events whose
// every field is filled at random by reflection: a field added to Event
// and not to AppendJSON, or written differently, fails this.
func TestAppendJSONIsMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 6))
	pieces := []string{"", "a", "Store-1", "<&>", `"\`, "\n\t\x01", "é", "\u2028", "\xff", "/accounts/a/task/1", "😀"}
	randString := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	types := []engine.EventType{engine.EventRequest, engine.EventStepFinished, engine.EventRunFinished, engine.EventStepRetrying, engine.EventStepStarted, "step_progress", ""}
	durations := []time.Duration{0, 1, time.Microsecond, 21 * time.Millisecond, 1500 * time.Millisecond, -time.Second, 1<<63 - 1, 3 * time.Hour}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 3600), time.FixedZone("y", -5*3600-1800)}
	for i := range 20000 {
		var ev engine.Event
		v := reflect.ValueOf(&ev).Elem()
		for f := range v.NumField() {
			field := v.Field(f)
			if rng.IntN(3) == 0 {
				continue // leave it zero: omitempty
			}
			switch p := field.Addr().Interface().(type) {
			case *engine.EventType:
				*p = types[rng.IntN(len(types))]
			case *time.Time:
				*p = time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
			case *time.Duration:
				*p = durations[rng.IntN(len(durations))]
				if rng.IntN(2) == 0 {
					*p = time.Duration(rng.Int64N(int64(time.Hour)))
				}
			case **int:
				n := rng.IntN(5000) - 10
				*p = &n
			case *int:
				*p = rng.IntN(1000) - 5
			case *engine.Status:
				*p = engine.Status(randString())
			case *string:
				*p = randString()
			default:
				t.Fatalf("field %s of type %s: fill it here and write it in AppendJSON", v.Type().Field(f).Name, field.Type())
			}
		}
		want, err := json.Marshal(ev.JSON())
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("event %d: %#v\nAppendJSON %s\nMarshal    %s", i, ev, got, want)
		}
	}
}
