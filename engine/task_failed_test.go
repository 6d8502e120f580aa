package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// replayRecorder answers a key it has answered before with the same result,
// as the journal does, until MutationFailed releases the key.
type replayRecorder struct {
	mu       sync.Mutex
	results  map[string]any
	failed   []string // keys released, with the reason
	noFailer bool
}

func (r *replayRecorder) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	r.mu.Lock()
	res, ok := r.results[key]
	r.mu.Unlock()
	if ok {
		return res, nil
	}
	res, err := m.Send(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.results[key] = res
	r.mu.Unlock()
	return res, nil
}

func (r *replayRecorder) MutationFailed(key, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.results, key)
	r.failed = append(r.failed, key+": "+reason)
	return nil
}

// onlyDo hides MutationFailed: a recorder that cannot be told.
type onlyDo struct{ r *replayRecorder }

func (o onlyDo) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	return o.r.Do(ctx, key, m)
}

// cloneStep registers test.clone: one mutation, then a wait on its task,
// which ends failed (class) for the first failTimes tasks made.
func cloneStep(h *harness, class string, failTimes int32) *atomic.Int32 {
	var sends atomic.Int32
	h.reg.MustRegister(&engine.StepType{
		Name: "test.clone", Description: "Clones and waits for the task.", Mutates: true,
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			res, err := sc.Mutate(ctx, &engine.Mutation{Type: "test.clone", Method: "POST", Path: "/accounts/a1/clone",
				Send: func(context.Context) (any, error) {
					return map[string]any{"id": fmt.Sprint(sends.Add(1))}, nil
				}})
			if err != nil {
				return nil, err
			}
			var n int
			fmt.Sscan(res.(map[string]any)["id"].(string), &n)
			if int32(n) <= failTimes {
				return nil, &classErr{class: class} // the task ended in stage failed
			}
			return map[string]any{"task": res}, nil
		},
	})
	return &sends
}

func cloneWorkflow(on ...string) *schema.Workflow {
	s := st("clone", "test.clone")
	s.Retry = &schema.Retry{MaxAttempts: 3, Backoff: "constant", InitialDelay: time.Millisecond, On: on}
	return workflow(s)
}

func TestTaskFailedRetrySendsTheMutationAgain(t *testing.T) {
	h := newHarness(t)
	sends := cloneStep(h, engine.ClassTaskFailed, 1)
	rec := &replayRecorder{results: map[string]any{}}
	res := h.run(cloneWorkflow(engine.ClassTaskFailed), engine.RunOptions{Recorder: rec})
	r := stepResult(t, res, "clone", "")
	if r.Status != engine.StatusSucceeded || r.Attempts != 2 || sends.Load() != 2 {
		t.Fatalf("status %s after %d attempts, %d sends; want succeeded, 2, 2 (%s)", r.Status, r.Attempts, sends.Load(), r.Error)
	}
	if len(rec.failed) != 1 || rec.failed[0] != "clone[]#1: task_failed error" {
		t.Errorf("released %q", rec.failed)
	}
}

func TestTaskFailedWithoutRetrySendsOnceAndReleasesForResume(t *testing.T) {
	h := newHarness(t)
	sends := cloneStep(h, engine.ClassTaskFailed, 1)
	rec := &replayRecorder{results: map[string]any{}}
	res := h.run(cloneWorkflow("throttled"), engine.RunOptions{Recorder: rec})
	if r := stepResult(t, res, "clone", ""); r.Status != engine.StatusFailed || r.Attempts != 1 || sends.Load() != 1 {
		t.Fatalf("status %s after %d attempts, %d sends; want failed, 1, 1", r.Status, r.Attempts, sends.Load())
	}
	// The key was released even without a retry, so a resume (a new run over
	// the same recorder) sends it again rather than replaying the failed task.
	res = h.run(cloneWorkflow("throttled"), engine.RunOptions{Recorder: rec})
	if r := stepResult(t, res, "clone", ""); r.Status != engine.StatusSucceeded || sends.Load() != 2 {
		t.Fatalf("resume: status %s, %d sends in all; want succeeded, 2", r.Status, sends.Load())
	}
}

// Only a failed task releases a mutation: any other failure after it was
// answered (here a server error, retried) replays it.
func TestOtherFailuresKeepTheRecordedAnswer(t *testing.T) {
	for _, class := range []string{"server_error", engine.ClassOutcomeUnknown} {
		t.Run(class, func(t *testing.T) {
			h := newHarness(t)
			sends := cloneStep(h, class, 1)
			rec := &replayRecorder{results: map[string]any{}}
			res := h.run(cloneWorkflow("server_error", engine.ClassTaskFailed), engine.RunOptions{Recorder: rec})
			r := stepResult(t, res, "clone", "")
			if sends.Load() != 1 || len(rec.failed) != 0 {
				t.Fatalf("%d sends, released %q; want 1 send and nothing released", sends.Load(), rec.failed)
			}
			if class == "server_error" && (r.Status != engine.StatusFailed || r.Attempts != 3) {
				t.Errorf("status %s after %d attempts: the replayed answer should fail every attempt", r.Status, r.Attempts)
			}
		})
	}
}

// A recorder that cannot be told keeps today's behaviour: the retry gets the
// failed task back and nothing is sent again.
func TestTaskFailedWithARecorderThatCannotBeTold(t *testing.T) {
	h := newHarness(t)
	sends := cloneStep(h, engine.ClassTaskFailed, 1)
	rec := &replayRecorder{results: map[string]any{}}
	res := h.run(cloneWorkflow(engine.ClassTaskFailed), engine.RunOptions{Recorder: onlyDo{rec}})
	if r := stepResult(t, res, "clone", ""); r.Status != engine.StatusFailed || r.Attempts != 3 || sends.Load() != 1 {
		t.Fatalf("status %s after %d attempts, %d sends; want failed, 3, 1", r.Status, r.Attempts, sends.Load())
	}
}
