package steps

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// args reads a step's resolved inputs. The engine coerces inputs to their
// declared types, but steps are also called directly (tests, other callers),
// so every accessor accepts the forms YAML and JSON produce and reports a
// clear error naming the input otherwise. Nothing is sent before the inputs
// have been read, so a bad value never reaches the API.
type args map[string]any

// has reports whether name was given (present and not null).
func (a args) has(name string) bool {
	v, ok := a[name]
	return ok && v != nil
}

// unknown reports whether name holds engine.Unknown (a value that exists
// only after apply, or a read an offline plan did not make).
func (a args) unknown(name string) bool { return engine.IsUnknown(a[name]) }

// str returns a string input ("" when absent). Unknown is a
// *KnownAfterApplyError: callers that can live with Unknown check a.unknown
// first.
func (a args) str(name string) (string, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case int, int64, int32:
		return fmt.Sprint(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), nil
		}
	}
	if engine.IsUnknown(v) {
		return "", &KnownAfterApplyError{Input: name}
	}
	return "", fmt.Errorf("input %s: want a string, got %s", name, describe(v))
}

// id returns a required identifier input.
func (a args) id(name string) (string, error) {
	s, err := a.str(name)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("input %s is required", name)
	}
	return s, nil
}

// boolean returns a boolean input, def when absent.
func (a args) boolean(name string, def bool) (bool, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, nil
		}
	}
	if engine.IsUnknown(v) {
		return false, &KnownAfterApplyError{Input: name}
	}
	return false, fmt.Errorf("input %s: want true or false, got %s", name, describe(v))
}

// integer returns an integer input; ok is false when it is absent.
func (a args) integer(name string) (n int, ok bool, err error) {
	v, present := a[name]
	if !present || v == nil {
		return 0, false, nil
	}
	if n, whole := wholeNumber(v); whole {
		return n, true, nil
	}
	if engine.IsUnknown(v) {
		return 0, true, &KnownAfterApplyError{Input: name}
	}
	// Built only when needed: elasticity.set reads three integers per store,
	// and formatting the message on every read was most of the read's cost.
	return 0, true, fmt.Errorf("input %s: want a whole number, got %s", name, describe(v))
}

// wholeNumber is v as an int when it is a whole number within int32.
func wholeNumber(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), x <= math.MaxInt32 && x >= math.MinInt32
	case int32:
		return int(x), true
	case uint64:
		return int(x), x <= math.MaxInt32
	case float64:
		return int(x), x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32
	case json.Number:
		i, err := strconv.ParseInt(x.String(), 10, 32)
		return int(i), err == nil
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 32)
		return int(i), err == nil
	}
	return 0, false
}

// duration returns a duration input: a Go duration string ("90s", "2m") or
// a number of seconds. 0 when absent.
func (a args) duration(name string) (time.Duration, error) {
	v, ok := a[name]
	if !ok || v == nil {
		return 0, nil
	}
	var d time.Duration
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		if secs, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(secs, 0) && !math.IsNaN(secs) {
			d = time.Duration(secs * float64(time.Second)) // a bare number is seconds
			break
		}
		p, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("input %s: want a duration like 5s or 2m, got %q", name, x)
		}
		d = p
	case int:
		d = time.Duration(x) * time.Second
	case int64:
		d = time.Duration(x) * time.Second
	case float64:
		d = time.Duration(x * float64(time.Second))
	case time.Duration:
		d = x
	default:
		return 0, fmt.Errorf("input %s: want a duration like 5s or 2m, got %s", name, describe(v))
	}
	if d < 0 {
		return 0, fmt.Errorf("input %s: must not be negative, got %s", name, d)
	}
	return d, nil
}

// describe names a value's type for error messages without echoing long
// values.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case float64, int, int64, json.Number:
		return fmt.Sprintf("number %v", x)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	if engine.IsUnknown(v) {
		return "(known after apply)"
	}
	return fmt.Sprintf("%T", v)
}

// invalid marks bad inputs, refused before anything was sent. It is a
// frame.InvalidRequestError so that frame.Classify (and the engine's retry
// policy) knows retrying cannot help.
func invalid(step string, err error) error {
	if err == nil {
		return nil
	}
	var later *KnownAfterApplyError
	if errors.As(err, &later) {
		return fmt.Errorf("%s: %w", step, err) // not bad input: see KnownAfterApplyError
	}
	return &frame.InvalidRequestError{Endpoint: step, Reason: err.Error()}
}

func invalidf(step, format string, a ...any) error {
	return &frame.InvalidRequestError{Endpoint: step, Reason: fmt.Sprintf(format, a...)}
}
