package frame

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Classes in addition to those of types.go.
const (
	ClassCanceled ErrorClass = "canceled" // the caller's context was cancelled (interrupt)
	ClassOther    ErrorClass = "error"    // anything else
)

// ErrReadOnly is wrapped by the error a read-only (plan mode) client returns
// for any request other than GET or HEAD. Nothing is sent.
var ErrReadOnly = errors.New("the client is read-only (plan mode): only GET requests may be sent")

// InvalidRequestError is a request refused locally, before anything was sent:
// a bad path parameter, a missing or unknown catalog parameter, a value of the
// wrong type, a mutation on a read-only client.
type InvalidRequestError struct {
	Endpoint string // catalog name or "METHOD PATH"; may be empty
	Param    string // the offending parameter; may be empty
	Reason   string
	Err      error // wrapped cause (e.g. ErrReadOnly); may be nil
}

func (e *InvalidRequestError) Error() string {
	var b strings.Builder
	b.WriteString("invalid request")
	if e.Endpoint != "" {
		b.WriteString(" ")
		b.WriteString(e.Endpoint)
	}
	if e.Param != "" {
		fmt.Fprintf(&b, ": parameter %q", e.Param)
	}
	inner := e.Reason
	if inner == "" && e.Err != nil {
		inner = e.Err.Error()
	}
	// A refusal wrapping another says "invalid request" and "(nothing was
	// sent)" once.
	inner = strings.TrimSuffix(inner, " (nothing was sent)")
	inner = strings.TrimPrefix(strings.TrimPrefix(inner, "invalid request"), ": ")
	if inner != "" {
		b.WriteString(": ")
		b.WriteString(inner)
	}
	b.WriteString(" (nothing was sent)")
	return b.String()
}

func (e *InvalidRequestError) Unwrap() error { return e.Err }

// NetworkError is a transport failure after the client's own retries, for a
// request that either is safe to repeat (GET) or provably never reached the
// server (a mutation whose connection could not be made).
type NetworkError struct {
	Method   string
	Path     string
	Attempts int
	Err      error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("%s %s: network error after %d attempt(s): %v", e.Method, e.Path, e.Attempts, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// Classify names why a call failed, for retry policies, and returns the
// server's Retry-After when it sent one (0 otherwise).
func Classify(err error) (class ErrorClass, retryAfter time.Duration) {
	if err == nil {
		return "", 0
	}
	var inv *InvalidRequestError
	var ou *OutcomeUnknownError
	var tf *TaskFailedError
	var api *APIError
	var nerr *NetworkError
	var ne net.Error
	switch {
	case errors.As(err, &inv):
		return ClassInvalid, 0
	// Before APIError: a 502/504 to a mutation is wrapped as outcome unknown.
	case errors.As(err, &ou):
		return ClassOutcomeUnknown, 0
	case errors.As(err, &tf):
		return ClassTaskFailed, 0
	case errors.As(err, &api):
		return api.Class(), parseRetryAfter(api.RetryAfter, time.Now())
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout, 0
	case errors.Is(err, context.Canceled):
		return ClassCanceled, 0
	case errors.As(err, &nerr):
		return ClassNetwork, 0
	case errors.As(err, &ne):
		if ne.Timeout() {
			return ClassTimeout, 0
		}
		return ClassNetwork, 0
	}
	return ClassOther, 0
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
