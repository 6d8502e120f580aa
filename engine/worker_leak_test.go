package engine_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// Workers parked for reuse end with their run: a long-lived process (serve)
// running many runs, finished, failed or interrupted, keeps no goroutine
// per run.
func TestRunsLeaveNoParkedWorkers(t *testing.T) {
	h := newHarness(t)
	fanned := h.compile(workflow(
		with(st("targets", "test.read"), "filter", `name startsWith "Store-" && active`),
		group("rollout", "${{ steps.targets.outputs.accounts }}",
			with(ok("clone"), "value", "${{ item.id }}"),
			with(ok("publish"), "value", "${{ steps.clone.outputs.value }}"),
		),
	))
	failing := h.compile(workflow(ok("a"), fail("b", "a"), ok("c", "b")))
	held := h.compile(workflow(with(ok("a"), "wait_for", "never"), ok("b", "a")))

	before := runtime.NumGoroutine()
	for range 20 {
		if res, err := fanned.Run(context.Background(), engine.RunOptions{}); err != nil || res.Status != engine.RunSucceeded {
			t.Fatalf("fan-out run: %v %v", res.Status, err)
		}
		if res, err := failing.Run(context.Background(), engine.RunOptions{}); err != nil || res.Status != engine.RunFailed {
			t.Fatalf("failing run: %v %v", res.Status, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res, err := held.Run(ctx, engine.RunOptions{Events: func(ev engine.Event) {
			if ev.Type == "step_started" {
				cancel()
			}
		}})
		if err != nil || res.Status != engine.RunInterrupted {
			t.Fatalf("interrupted run: %v %v", res.Status, err)
		}
	}
	// Goroutines end a moment after their run returns; wait for them.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before 60 runs, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
