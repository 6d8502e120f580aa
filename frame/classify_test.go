package frame_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

func TestClassify(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		err   error
		class frame.ErrorClass
		ra    time.Duration
	}{
		{nil, "", 0},
		{&frame.APIError{Status: 429, RetryAfter: "7"}, frame.ClassThrottled, 7 * time.Second},
		{&frame.APIError{Status: 409}, frame.ClassConflict, 0},
		{&frame.APIError{Status: 400}, frame.ClassClientError, 0},
		{&frame.APIError{Status: 503, RetryAfter: "garbage"}, frame.ClassServerError, 0},
		{fmt.Errorf("step: %w", &frame.APIError{Status: 500}), frame.ClassServerError, 0},
		{&frame.OutcomeUnknownError{Err: &frame.APIError{Status: 502}}, frame.ClassOutcomeUnknown, 0},
		{&frame.OutcomeUnknownError{Err: io.ErrUnexpectedEOF}, frame.ClassOutcomeUnknown, 0},
		{&frame.TaskFailedError{Task: &frame.Task{ID: "t"}}, frame.ClassTaskFailed, 0},
		{&frame.InvalidRequestError{Reason: "x"}, frame.ClassInvalid, 0},
		{fmt.Errorf("GET /x: %w", context.DeadlineExceeded), frame.ClassTimeout, 0},
		{context.Canceled, frame.ClassCanceled, 0},
		{&frame.NetworkError{Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, frame.ClassNetwork, 0},
		{&net.OpError{Op: "read", Err: errors.New("reset")}, frame.ClassNetwork, 0},
		{errors.New("something"), frame.ClassOther, 0},
	}
	for _, c := range cases {
		class, ra := frame.Classify(c.err)
		if class != c.class || ra != c.ra {
			t.Errorf("Classify(%v) = %s %v, want %s %v", c.err, class, ra, c.class, c.ra)
		}
	}
	class, ra := frame.Classify(&frame.APIError{Status: 429, RetryAfter: date})
	if class != frame.ClassThrottled || ra < 80*time.Second || ra > 91*time.Second {
		t.Errorf("HTTP-date Retry-After: %s %v", class, ra)
	}
}

func TestTaskFailedErrorSaysWhyFirst(t *testing.T) {
	for info, want := range map[string]string{
		`{"message":"simulated failure of clone_pool"}`: `simulated failure of clone_pool (task "Cloning system" 9f1c failed)`,
		`"disk full"`:               `disk full (task "Cloning system" 9f1c failed)`,
		`{"code":17}`:               `{"code":17} (task "Cloning system" 9f1c failed)`,
		``:                          `no reason given: the task has no result_info (task "Cloning system" 9f1c failed)`,
		`{"error":"quota reached"}`: `quota reached (task "Cloning system" 9f1c failed)`,
	} {
		err := &frame.TaskFailedError{Task: &frame.Task{ID: "9f1c", DisplayName: "Cloning system", ResultInfo: []byte(info)}}
		if got := err.Error(); got != want {
			t.Errorf("result_info %s: %q, want %q", info, got, want)
		}
	}
}
