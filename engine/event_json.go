package engine

import (
	"encoding/json"
	"time"
)

// MarshalJSON writes the documented JSON Lines shape of an event
// (docs/events.md): the time in UTC RFC 3339, delays and durations in
// seconds, and a duration on step_finished, run_finished and request
// events even when it is zero. Every other field is Event's own, so a
// field added to Event reaches JSON consumers without restating it.
func (e Event) MarshalJSON() ([]byte, error) {
	type fields Event // Event without this method
	out := struct {
		fields
		Time     string   `json:"time"`
		Delay    *float64 `json:"delay,omitempty"`
		Duration *float64 `json:"duration,omitempty"`
	}{fields: fields(e), Time: e.Time.UTC().Format(time.RFC3339Nano)}
	if e.Delay > 0 {
		out.Delay = seconds(e.Delay)
	}
	switch e.Type {
	case EventStepFinished, EventRunFinished, EventRequest:
		out.Duration = seconds(e.Duration)
	}
	return json.Marshal(out)
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
