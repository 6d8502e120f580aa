package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// sharedLocker stands in for another run holding keys: the engine's side
// of the contract (the state package tests the backends themselves).
type sharedLocker struct {
	mu       sync.Mutex
	heldBy   map[string]string // key -> the other run holding it
	taken    []string
	released int
}

func (l *sharedLocker) Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if h := l.heldBy[k]; h != "" {
			waiting(k, h)
			return nil, errors.New(k + " is held by " + h + ": gave up")
		}
	}
	l.taken = append(l.taken, keys...)
	return func() { l.mu.Lock(); l.released++; l.mu.Unlock() }, nil
}

func TestSharedLocksAroundMutatingSteps(t *testing.T) {
	h := newHarness(t)
	locks := &sharedLocker{heldBy: map[string]string{"account:2": "run R on host H"}}
	var mu sync.Mutex
	var progress []string
	res := h.run(workflow(
		with(st("m1", "test.mutate"), "path", "/m1", "resource", "account:1"),
		with(st("m2", "test.mutate", "m1"), "path", "/m2", "resource", "account:2"), // after m1: fail-fast would stop it
	), engine.RunOptions{Mode: engine.ModeRun, Locks: locks, Events: func(ev engine.Event) {
		if ev.Type == "step_progress" {
			mu.Lock()
			progress = append(progress, ev.Step+": "+string(ev.Status)+": "+ev.Message)
			mu.Unlock()
		}
	}})
	if got := statuses(res); !strings.Contains(got, "m1=succeeded") || !strings.Contains(got, "m2=failed") {
		t.Fatalf("statuses %s", got)
	}
	if e := stepResult(t, res, "m2", "").Error; !strings.Contains(e, "account:2 is held by run R on host H") {
		t.Errorf("m2's error %q does not say who holds its resource", e)
	}
	if len(progress) != 1 || progress[0] != "m2: waiting: waiting for run R on host H, which holds account:2" {
		t.Errorf("progress %q", progress)
	}
	if strings.Join(locks.taken, ",") != "account:1" || locks.released != 1 {
		t.Errorf("taken %v, released %d: want account:1 taken and released once", locks.taken, locks.released)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.Join(h.sent, ",") != "POST /m1" {
		t.Errorf("sent %v: nothing may be sent without the shared lock", h.sent)
	}
}

// blockingLocker stands in for another run that holds key until free is
// closed; every other key is free.
type blockingLocker struct {
	key     string
	free    chan struct{}
	waiting chan struct{} // closed just before the engine is told it waits
	once    sync.Once
}

func (l *blockingLocker) Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (func(), error) {
	for _, k := range keys {
		if k != l.key {
			continue
		}
		// Marked before the engine is told: telling it gives the slot
		// back, and the step it lets start may finish before this
		// goroutine runs again.
		l.once.Do(func() { close(l.waiting) })
		waiting(k, "run R on host H")
		select {
		case <-l.free:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() {}, nil
}

// A step waiting for another run's lock gives its slot back: with one slot,
// the step that must run before that lock is freed still runs. (Free locks
// are taken keeping the slot; only a wait gives it back.)
func TestWaitingForASharedLockGivesTheSlotBack(t *testing.T) {
	h := newHarness(t)
	locks := &blockingLocker{key: "account:2", free: make(chan struct{}), waiting: make(chan struct{})}
	done := make(chan *engine.Result, 1)
	go func() {
		done <- h.run(workflow(
			with(st("m2", "test.mutate"), "path", "/m2", "resource", "account:2"),
			with(st("m1", "test.mutate"), "path", "/m1", "resource", "account:1"),
		), engine.RunOptions{Mode: engine.ModeRun, Parallelism: 1, Locks: locks, Events: func(ev engine.Event) {
			if ev.Type == "step_finished" && ev.Step == "m1" {
				select {
				case <-locks.waiting:
					close(locks.free) // the other run lets go once m1 has run
				default:
					t.Error("m1 ran before m2 waited for its lock: the test proves nothing")
				}
			}
		}})
	}()
	select {
	case res := <-done:
		if got := statuses(res); !strings.Contains(got, "m1=succeeded") || !strings.Contains(got, "m2=succeeded") {
			t.Fatalf("statuses %s", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deadlock: m2 kept the only slot while waiting for another run's lock")
	}
}
