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
func (e Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.JSON()) }

// eventFields is Event without its MarshalJSON method.
type eventFields Event

// eventJSON is Event in its documented JSON shape.
type eventJSON struct {
	Type EventType `json:"type"`
	Time string    `json:"time"`
	eventFields
	Delay    *float64 `json:"delay,omitempty"`
	Duration *float64 `json:"duration,omitempty"`
}

// JSON returns the event as a value whose JSON encoding is the documented
// shape; a renderer encoding many events gives this to its json.Encoder
// directly, which saves re-scanning MarshalJSON's output (half the cost).
func (e Event) JSON() any {
	// Type and Time come first so that a line reads like the examples in
	// docs/events.md; a field declared in eventJSON hides Event's of the
	// same name.
	out := &eventJSON{Type: e.Type, Time: e.Time.UTC().Format(time.RFC3339Nano), eventFields: eventFields(e)}
	if e.Delay > 0 {
		out.Delay = seconds(e.Delay)
	}
	switch e.Type {
	case EventStepFinished, EventRunFinished, EventRequest:
		out.Duration = seconds(e.Duration)
	}
	return out
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
