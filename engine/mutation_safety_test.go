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

// A step retried in a plan, after recording its mutation (a read after it
// failed), plans that mutation once: apply would otherwise be handed two
// planned mutations under one key.
func TestPlanRecordsARetriedStepsMutationOnce(t *testing.T) {
	h := newHarness(t)
	var attempts atomic.Int32
	h.reg.MustRegister(&engine.StepType{
		Name: "test.two_pools", Description: "Sets a pool, then reads the next one (the read fails once).", Mutates: true,
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			if _, err := sc.Mutate(ctx, &engine.Mutation{Type: "test.two_pools", Method: "POST", Path: "/pools/p1"}); err != nil {
				return nil, err
			}
			if attempts.Add(1) == 1 {
				return nil, &classErr{class: "server_error"}
			}
			return nil, nil
		},
	})
	s := st("s", "test.two_pools")
	s.Retry = &schema.Retry{MaxAttempts: 2, Backoff: "constant", InitialDelay: time.Millisecond}
	res := h.run(workflow(s), engine.RunOptions{Mode: engine.ModePlan})
	if res.Status != "succeeded" || len(res.Mutations) != 1 {
		var keys []string
		for _, m := range res.Mutations {
			keys = append(keys, m.Key)
		}
		t.Fatalf("status %s, planned %v: want the mutation once", res.Status, keys)
	}
}
