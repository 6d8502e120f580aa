package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// A mutation whose request was written but not answered when the attempt
// timed out may have taken effect: its outcome is unknown, and outcome_unknown
// is never retried, even by a policy that retries timeouts.
func TestAttemptTimeoutNeverRetriesAnOutcomeUnknownMutation(t *testing.T) {
	h := newHarness(t)
	var sends atomic.Int32
	h.reg.MustRegister(&engine.StepType{
		Name: "test.hang", Description: "POSTs and never hears back.", Mutates: true,
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			_, err := sc.Mutate(ctx, &engine.Mutation{Type: "test.hang", Method: "POST", Path: "/clone",
				Send: func(ctx context.Context) (any, error) {
					sends.Add(1)
					<-ctx.Done() // written, then the attempt's deadline: no answer
					return nil, &classErr{class: engine.ClassOutcomeUnknown}
				}})
			return nil, err
		},
	})
	s := st("s", "test.hang")
	s.Retry = &schema.Retry{MaxAttempts: 3, Backoff: "constant", InitialDelay: time.Millisecond,
		AttemptTimeout: 20 * time.Millisecond, On: []string{"timeout"}}
	res := h.run(workflow(s), engine.RunOptions{})
	r := stepResult(t, res, "s", "")
	if n := sends.Load(); n != 1 || r.Attempts != 1 || r.Status != engine.StatusFailed {
		t.Fatalf("sent %d time(s), %d attempt(s), status %s: a mutation of unknown outcome was retried", n, r.Attempts, r.Status)
	}
}
