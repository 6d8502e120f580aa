package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// StepContext is what a running step sees of the engine. One is made per
// step execution (per item inside a fan-out).
type StepContext struct {
	mode      Mode
	wf        *schema.Workflow
	runID     string
	approvals ApprovalGate
	stepID    string
	item      string
	itemKey   string // stable identity of the item, for mutation keys
	index     int
	logger    *slog.Logger
	emit      EventSink
	polling   PollingPolicy

	// recorder receives mutations in plan modes; journal hooks in run mode.
	recorder  MutationRecorder
	predicate func(input string) (Predicate, error)

	// release and reacquire give back and take again the step's concurrency
	// slot around Sleep (set by the scheduler; nil in tests).
	release, reacquire func()

	mu        sync.Mutex
	seq       int      // ordinal of the next mutation within this step execution
	unchanged bool     // the step found nothing to change (see SetUnchanged)
	answered  []string // keys of the mutations the recorder answered in this attempt
}

// SetUnchanged tells the engine the step found the desired state already in
// place and sent no mutation: it is reported as "unchanged", not "succeeded",
// and plans do not count it as a change.
func (sc *StepContext) SetUnchanged() {
	sc.mu.Lock()
	sc.unchanged = true
	sc.mu.Unlock()
}

// Unchanged reports whether SetUnchanged was called.
func (sc *StepContext) Unchanged() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.unchanged
}

// PollingPolicy configures waits on Frame tasks (task.wait and `wait: true`).
type PollingPolicy struct {
	InitialInterval time.Duration
	MaxInterval     time.Duration
	Timeout         time.Duration
}

// Predicate is a compiled filter expression evaluated per element.
type Predicate func(elem any) (bool, error)

// MutationRecorder is where Mutate sends mutations. The engine supplies one
// per run: in plan modes it appends to the plan; in run mode it journals the
// intent before sending and the result after (and, on resume, answers from the
// journal or reconciles).
type MutationRecorder interface {
	// Do performs (or records) m. key identifies the mutation within the run
	// (step, item and ordinal), stable across resumes.
	Do(ctx context.Context, key string, m *Mutation) (any, error)
}

// ClassTaskFailed is the error class of a Frame task that ended in stage
// "failed" (frame.TaskFailedError). Such a task proves its mutation changed
// nothing, so the mutation may be sent again.
const ClassTaskFailed = "task_failed"

// MutationFailer is implemented by a MutationRecorder that answers a
// mutation once done (the journal, apply's guard). When a step execution
// fails with ClassTaskFailed, the engine calls MutationFailed for each
// mutation that execution's attempt got an answer for: the task it waited
// on failed, so the recorder must let the same key be sent again (a step
// retry, a resume) instead of answering with the failed task forever. It is
// called for no other error class: an unknown outcome stays unknown.
type MutationFailer interface {
	MutationFailed(key, reason string) error
}

// beginAttempt restarts mutation ordinals for a new attempt of the step, so
// that it asks its recorder about the same keys again.
func (sc *StepContext) beginAttempt() {
	sc.mu.Lock()
	sc.seq = 0
	sc.answered = sc.answered[:0]
	sc.mu.Unlock()
}

// attemptFailed is called when an attempt failed with error class class. A
// failed task releases the attempt's answered mutations in the recorder
// (MutationFailer), so a retry or a resume sends them again.
func (sc *StepContext) attemptFailed(class string, err error) error {
	if class != ClassTaskFailed {
		return nil
	}
	f, ok := sc.recorder.(MutationFailer)
	if !ok {
		return nil
	}
	sc.mu.Lock()
	keys := append([]string(nil), sc.answered...)
	sc.mu.Unlock()
	for _, k := range keys {
		if ferr := f.MutationFailed(k, err.Error()); ferr != nil {
			return fmt.Errorf("mutation %s: %w", k, ferr)
		}
	}
	return nil
}

// Mode is the run's mode.
func (sc *StepContext) Mode() Mode { return sc.mode }

// Workflow is the workflow being run (for workflow-wide settings such as
// http.allow); nil in step tests that build a context by hand.
func (sc *StepContext) Workflow() *schema.Workflow { return sc.wf }

// StepID is the id of the running step ("group.step" inside a group).
func (sc *StepContext) StepID() string { return sc.stepID }

// Item is the fan-out item label and index ("" and -1 outside a fan-out).
func (sc *StepContext) Item() (string, int) { return sc.item, sc.index }

// Logger for debug output.
func (sc *StepContext) Logger() *slog.Logger {
	if sc.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	// Attributes are added here, on use, so runs that never log pay nothing.
	if sc.item != "" {
		return sc.logger.With("step", sc.stepID, "item", sc.item)
	}
	return sc.logger.With("step", sc.stepID)
}

// Polling is the polling policy in force for this step.
func (sc *StepContext) Polling() PollingPolicy { return sc.polling }

// Progress reports what the step is doing now (e.g. a task's stage); the
// live view shows it.
func (sc *StepContext) Progress(msg string) {
	if sc.emit != nil {
		ev := Event{Type: "step_progress", Time: time.Now(), Step: sc.stepID, Item: sc.item, Message: msg}
		if sc.index >= 0 {
			i := sc.index
			ev.Index = &i
		}
		sc.emit(ev)
	}
}

// Sleep waits d (or until ctx ends) without holding a concurrency slot, so a
// step polling a long task does not keep a slot that a request needs.
func (sc *StepContext) Sleep(ctx context.Context, d time.Duration) error {
	if sc.release != nil {
		sc.release()
		defer sc.reacquire()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Predicate returns the compiled predicate of the named input (see
// InputSpec.Predicate).
func (sc *StepContext) Predicate(input string) (Predicate, error) {
	if sc.predicate == nil {
		return nil, fmt.Errorf("input %q is not a predicate", input)
	}
	return sc.predicate(input)
}

// SkipMutation says the mutation the step would make at this point is not
// needed (the state is already as desired), so nothing is sent, but its
// ordinal is kept: the keys of the step's later mutations stay the same
// whether an earlier one is made or found done (a retry or a resume after
// the first of several pools was set).
func (sc *StepContext) SkipMutation() {
	sc.mu.Lock()
	sc.seq++
	sc.mu.Unlock()
}

// Mutate performs a mutation through the run's recorder. The result is
// always the JSON round trip of what Send returned, so a fresh run and a
// resumed one see identical values.
func (sc *StepContext) Mutate(ctx context.Context, m *Mutation) (any, error) {
	sc.mu.Lock()
	sc.seq++
	// The key names the item by its stable key (an account id), not its
	// label, and restarts with each attempt, so a retried or resumed
	// execution asks its recorder about the same mutation again.
	item := sc.itemKey
	if item == "" {
		item = sc.item
	}
	key := fmt.Sprintf("%s[%s]#%d", sc.stepID, item, sc.seq)
	sc.mu.Unlock()
	if sc.recorder != nil {
		res, err := sc.recorder.Do(ctx, key, m)
		if err == nil {
			sc.mu.Lock()
			sc.answered = append(sc.answered, key)
			sc.mu.Unlock()
		}
		return res, err
	}
	if sc.mode != ModeRun {
		if m.Placeholder != nil {
			return m.Placeholder, nil
		}
		return Unknown, nil
	}
	res, err := m.Send(ctx)
	if err != nil {
		return nil, err
	}
	return RoundTrip(res)
}

// RoundTrip returns v as encoding/json would decode it into an any.
func RoundTrip(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// TestContextOptions builds a StepContext outside a run, for step tests.
type TestContextOptions struct {
	Mode       Mode
	StepID     string
	Item       string
	Index      int
	Polling    PollingPolicy
	Recorder   MutationRecorder
	Predicates map[string]Predicate
	Events     EventSink
	Workflow   *schema.Workflow
	Approvals  ApprovalGate
	RunID      string
	ItemKey    string
}

// NewTestContext makes a StepContext for testing a step type directly.
func NewTestContext(o TestContextOptions) *StepContext {
	sc := &StepContext{mode: o.Mode, stepID: o.StepID, item: o.Item, index: o.Index, polling: o.Polling, recorder: o.Recorder, emit: o.Events, wf: o.Workflow, approvals: o.Approvals, runID: o.RunID, itemKey: o.ItemKey}
	if o.Predicates != nil {
		sc.predicate = func(name string) (Predicate, error) {
			p, ok := o.Predicates[name]
			if !ok {
				return nil, fmt.Errorf("input %q has no predicate", name)
			}
			return p, nil
		}
	}
	return sc
}
