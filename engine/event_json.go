package engine

import (
	"strconv"
	"time"

	"github.com/frameflow/frameflow/internal/jsonvalue"
)

// MarshalJSON writes the documented JSON Lines shape of an event
// (docs/events.md): the time in UTC RFC 3339, delays and durations in
// seconds, and a duration on step_finished, run_finished and request
// events even when it is zero. Every other field is Event's own, so a
// field added to Event reaches JSON consumers without restating it.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

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

// JSON returns the event as a value whose JSON encoding (by reflection
// over Event's fields) is the documented shape: the definition AppendJSON
// is held to.
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

// AppendJSON appends the event's JSON (no newline) to dst: the bytes
// json.Marshal(e.JSON()) writes, field by field rather than by reflection,
// because a large rollout writes an event per request and per step change
// (32,000 in a 2,000-store run). TestAppendJSONIsMarshal fills every field
// of Event at random and compares the two, so a field added to Event and
// not here fails it.
func (e Event) AppendJSON(dst []byte) []byte {
	// The order is encoding/json's: type and time (eventJSON's own), then
	// Event's fields as declared, delay and duration last (eventJSON's).
	dst = append(dst, `{"type":`...)
	dst = jsonvalue.AppendString(dst, string(e.Type))
	// RFC 3339 in UTC is digits, '-', ':', 'T', '.' and 'Z': nothing to
	// escape, so it is formatted straight into dst.
	dst = append(dst, `,"time":"`...)
	dst = append(e.Time.UTC().AppendFormat(dst, time.RFC3339Nano), '"')
	dst = appendStringField(dst, `,"run_id":`, e.RunID)
	dst = appendStringField(dst, `,"workflow":`, e.Workflow)
	dst = appendStringField(dst, `,"step":`, e.Step)
	dst = appendStringField(dst, `,"item":`, e.Item)
	if e.Index != nil {
		dst = append(dst, `,"index":`...)
		dst = strconv.AppendInt(dst, int64(*e.Index), 10)
	}
	dst = appendStringField(dst, `,"status":`, string(e.Status))
	dst = appendIntField(dst, `,"attempt":`, e.Attempt)
	dst = appendIntField(dst, `,"max_attempts":`, e.MaxAttempts)
	dst = appendStringField(dst, `,"message":`, e.Message)
	dst = appendStringField(dst, `,"error":`, e.Error)
	dst = appendStringField(dst, `,"method":`, e.Method)
	dst = appendStringField(dst, `,"path":`, e.Path)
	dst = appendIntField(dst, `,"http_status":`, e.HTTPStatus)
	dst = appendIntField(dst, `,"total":`, e.Total)
	if e.Delay > 0 {
		dst = appendSeconds(dst, `,"delay":`, e.Delay)
	}
	switch e.Type {
	case EventStepFinished, EventRunFinished, EventRequest:
		dst = appendSeconds(dst, `,"duration":`, e.Duration)
	}
	return append(dst, '}')
}

// appendStringField writes an omitempty string field.
func appendStringField(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return jsonvalue.AppendString(append(dst, key...), s)
}

// appendIntField writes an omitempty int field.
func appendIntField(dst []byte, key string, n int) []byte {
	if n == 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, key...), int64(n), 10)
}

// appendSeconds writes d in seconds as encoding/json writes a float64 (a
// duration's seconds are always finite, so Append cannot decline).
func appendSeconds(dst []byte, key string, d time.Duration) []byte {
	out, _ := jsonvalue.Append(append(dst, key...), d.Seconds())
	return out
}
