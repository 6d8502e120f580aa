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
	// Type and Time come first so that a line reads like the examples in
	// docs/events.md; a field declared here hides Event's of the same name.
	out := struct {
		Type EventType `json:"type"`
		Time string    `json:"time"`
		fields
		Delay    *float64 `json:"delay,omitempty"`
		Duration *float64 `json:"duration,omitempty"`
	}{Type: e.Type, Time: e.Time.UTC().Format(time.RFC3339Nano), fields: fields(e)}
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
