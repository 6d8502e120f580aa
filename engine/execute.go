package engine

// Step execution: one task (a node's if and for_each, or one execution of a
// step type) and its attempts. No lock is held here unless said.

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"
)

func (r *run) executeTask(t task) (res StepResult, out any, fan *fanout) {
	n := t.node
	res = StepResult{Step: n.full, Index: -1, Started: time.Now()}
	if t.item != nil {
		res.Item, res.Index, res.ItemKey = r.itemLabel(t.instance, t.item), t.item.index, r.itemKey(t.instance, t.item)
	} else if t.instance.labelItem != nil {
		res.Item, res.Index, res.ItemKey = t.instance.itemLabel, t.instance.labelItem.index, t.instance.itemKey
	}
	if r.stopped(t) {
		res.Status = StatusNotRun
		return res, nil, nil
	}
	if t.item == nil {
		// The node itself: its if, then a fan-out expands or the step runs.
		if n.ifExpr != nil {
			v, err := n.ifExpr.Eval(r.scope(t.instance, nil, n, nil))
			if err != nil {
				return r.failNow(res, fmt.Errorf("if: %w", err)), nil, nil
			}
			if !IsUnknown(v) && !truthy(v) {
				res.Status = StatusSkipped
				r.journalRecord(res)
				r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: StatusSkipped})
				return res, nil, nil
			}
		}
		if n.fanout() || n.callee != nil {
			f, err := r.expand(t.instance, n)
			if err != nil {
				return r.failNow(res, err), nil, nil
			}
			total := len(f.items)
			if f.single {
				total = 0 // one run of a playbook: no progress of items to show
			}
			r.emit(Event{Type: "step_started", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Total: total})
			return res, nil, f
		}
	}
	return r.runStep(t, res)
}

func eventIndex(i int) *int {
	if i < 0 {
		return nil
	}
	return &i
}

func (r *run) failNow(res StepResult, err error) StepResult {
	res.Status = StatusFailed
	res.Error = r.redact.Replace(err.Error())
	res.Err = err
	res.Duration = time.Since(res.Started)
	r.journalRecord(res)
	r.emit(Event{Type: "step_finished", Step: res.Step, Item: res.Item, Index: eventIndex(res.Index), Status: StatusFailed, Error: res.Error, Duration: res.Duration})
	return res
}

func (r *run) journalRecord(res StepResult) {
	if r.opts.Journal == nil || res.Status == StatusNotRun {
		return
	}
	if err := r.opts.Journal.Record(res); err != nil {
		r.log.Error("journal record failed", "step", res.Step, "item", res.Item, "error", err)
	}
}

// runStep performs one execution of a step type: the journal, inputs,
// approval, resource locks, then its attempts within the step's timeout, and
// its outputs.
func (r *run) runStep(t task, res StepResult) (StepResult, any, *fanout) {
	n := t.node
	if restored, ok := r.restoreFromJournal(n, res); ok {
		return restored, restored.Outputs, nil
	}
	checkOnly := r.opts.Mode == ModeOffline && !n.stepType.Mutates && r.opts.CheckReads
	if r.opts.Mode == ModeOffline && !n.stepType.Mutates && !checkOnly {
		// Reads are not made offline: everything they would say is unknown.
		res.Status = StatusSucceeded
		r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: StatusSucceeded, Message: "not run offline"})
		return res, Unknown, nil
	}
	stepInputs, err := r.resolveInputs(t)
	if err != nil {
		return r.failNow(res, err), nil, nil
	}
	if err := r.awaitApproval(n); err != nil {
		return r.failNow(res, err), nil, nil
	}
	release, err := r.lockResources(n, res, stepInputs)
	if err != nil {
		if r.ctx.Err() != nil {
			res.Status = StatusNotRun
			return res, nil, nil
		}
		return r.failNow(res, err), nil, nil
	}
	defer release()

	sc := r.stepContext(t, res)
	r.emit(Event{Type: "step_started", Step: n.full, Item: res.Item, Index: eventIndex(res.Index)})
	ctx, cancel := r.withStepTimeout(n)
	defer cancel()
	outs, err := r.attempts(ctx, n, sc, stepInputs, &res)
	res.Duration = time.Since(res.Started)
	if err != nil && r.ctx.Err() != nil {
		return r.finishInterrupted(n, res, err), nil, nil
	}
	if err != nil {
		return r.failNow(res, err), nil, nil
	}
	if checkOnly {
		// Its inputs passed its checks; what it would read stays unknown.
		res.Status = StatusSucceeded
		r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: StatusSucceeded, Duration: res.Duration, Message: "inputs checked, not run offline"})
		return res, Unknown, nil
	}
	res.Status = StatusSucceeded
	if sc.Unchanged() {
		res.Status = StatusUnchanged
	}
	outs, err = r.stepOutputs(t, outs)
	if err != nil {
		return r.failNow(res, err), nil, nil
	}
	res.Outputs = outs
	r.journalRecord(res)
	r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: res.Status, Duration: res.Duration, Attempt: res.Attempts})
	return res, outs, nil
}

// finishInterrupted ends an execution cut short by an interrupt: not
// failed, so resume runs it again.
func (r *run) finishInterrupted(n *node, res StepResult, err error) StepResult {
	res.Status = StatusInterrupted
	res.Error = "interrupted"
	res.Err = err
	r.journalRecord(res)
	r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: StatusInterrupted, Error: res.Error, Duration: res.Duration, Attempt: res.Attempts})
	return res
}

// restoreFromJournal returns the execution's result from an earlier attempt
// of the run when the journal says it finished, so it is not run again.
func (r *run) restoreFromJournal(n *node, res StepResult) (StepResult, bool) {
	if r.opts.Journal == nil {
		return res, false
	}
	st, outs, ok := r.opts.Journal.Lookup(n.full, res.ItemKey)
	if !ok || !done(Status(st)) {
		return res, false
	}
	status := Status(st)
	res.Status = status
	res.Outputs = outs
	r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: status, Message: "restored from the journal"})
	return res, true
}

// resolveInputs evaluates the step's with: values (filters by their source
// text, defaults where a value is absent). Values computed from a secret
// join the redaction list.
func (r *run) resolveInputs(t task) (map[string]any, error) {
	n := t.node
	var env map[string]any // built only when an input holds an expression
	stepInputs := make(map[string]any, len(n.stepType.Inputs))
	for _, spec := range n.stepType.Inputs {
		if pt, ok := n.filters[spec.Name]; ok {
			if e := r.filterOf(t.instance, pt); e != nil {
				stepInputs[spec.Name] = e.Source()
			} else {
				stepInputs[spec.Name] = Unknown
			}
			continue
		}
		if v, ok := n.with[spec.Name]; ok {
			if env == nil && !v.isConst {
				env = r.scope(t.instance, t.item, n, nil)
			}
			x, err := resolve(v, env)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", spec.Name, err)
			}
			if v.secret != "" {
				r.redact.Add(x)
			}
			stepInputs[spec.Name] = x
		} else if spec.Default != nil {
			stepInputs[spec.Name] = spec.Default
		}
	}
	return stepInputs, nil
}

// awaitApproval asks once per run, before the first step that needs it, for
// approval of every destructive or confirm step. A refusal stops the run.
func (r *run) awaitApproval(n *node) error {
	if r.opts.Mode != ModeRun || !n.needsApproval || r.opts.Approve == nil {
		return nil
	}
	r.approveOnce.Do(func() { r.approveErr = r.opts.Approve(r.ctx, slices.Clone(r.prog.approvals)) })
	if r.approveErr == nil {
		return nil
	}
	r.mu.Lock()
	r.stopping, r.failed = true, true
	r.mu.Unlock()
	return fmt.Errorf("not approved: %w", r.approveErr)
}

// lockResources takes the resources the execution mutates (run mode only):
// inside this run, then in the locks shared with other runs when there are
// any. The returned release is never nil. On error nothing is held, and the
// slot is held again either way.
//
// Free resources are taken while keeping the slot: giving it back and
// queueing for it again sent every step of a large fan-out to the back of
// the slot queue a second time (behind every task wait due to poll). Only
// waiting for a resource gives the slot back, so the holder can always get
// one to finish.
func (r *run) lockResources(n *node, res StepResult, stepInputs map[string]any) (release func(), err error) {
	noop := func() {}
	if r.opts.Mode != ModeRun || n.stepType.Resources == nil {
		return noop, nil
	}
	keys := n.stepType.Resources(stepInputs)
	if len(keys) == 0 {
		return noop, nil
	}
	var slotGiven atomic.Bool
	giveSlot := func() {
		if slotGiven.CompareAndSwap(false, true) {
			r.releaseSlot()
		}
	}
	release, free := r.locks.tryAcquire(keys)
	if !free {
		giveSlot()
		release, err = r.locks.acquire(r.ctx, keys)
	}
	if err == nil && r.opts.Locks != nil {
		var shared func()
		shared, err = r.opts.Locks.Acquire(r.ctx, keys, func(key, holder string) {
			// Called before the locker waits for another run's hold.
			giveSlot()
			r.emit(Event{Type: "step_progress", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Status: "waiting",
				Message: fmt.Sprintf("waiting for %s, which holds %s", holder, key)})
		})
		if err != nil {
			release()
		} else {
			inRun := release
			release = func() { shared(); inRun() }
		}
	}
	if slotGiven.Load() {
		r.acquireSlot()
	}
	if err != nil {
		return noop, err
	}
	return release, nil
}

// stepContext is what the step type sees of the run for this execution.
func (r *run) stepContext(t task, res StepResult) *StepContext {
	n := t.node
	sc := &StepContext{mode: r.opts.Mode, wf: n.unit.runWF, runID: r.opts.RunID, approvals: r.opts.Approvals, stepID: n.full, item: res.Item, index: res.Index, itemKey: res.ItemKey, logger: r.log, polling: n.unit.polling,
		release: r.releaseFn, reacquire: r.acquireFn}
	if sc.item == "" {
		sc.index = -1
	}
	sc.emit = r.emitFn
	sc.recorder = r.recorderFor(t, res)
	sc.predicate = func(name string) (Predicate, error) { return r.predicate(t.instance, n, name) }
	return sc
}

// withStepTimeout bounds all the step's attempts and the waits between them
// by its timeout:, when it has one.
func (r *run) withStepTimeout(n *node) (context.Context, context.CancelFunc) {
	if n.timeout > 0 {
		return context.WithTimeout(r.ctx, n.timeout)
	}
	return r.ctx, func() {}
}

// attempts is the retry loop: it runs the step type until it succeeds, its
// error is not retried (by class, by the attempt limit, or because the
// mutation cannot be sent again), or the step's timeout or an interrupt
// ends it. res.Attempts counts the attempts made.
func (r *run) attempts(ctx context.Context, n *node, sc *StepContext, stepInputs map[string]any, res *StepResult) (map[string]any, error) {
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		outs, attemptTimedOut, err := r.attempt(ctx, n, sc, stepInputs)
		if err == nil {
			return outs, nil
		}
		if ctx.Err() == context.DeadlineExceeded && r.ctx.Err() == nil {
			return outs, fmt.Errorf("timed out after %s: %w", n.timeout, err)
		}
		class, after := r.classify(n, err, attemptTimedOut)
		if attemptTimedOut {
			err = fmt.Errorf("attempt timed out after %s: %w", n.retry.attempt, err)
		}
		if ferr := sc.attemptFailed(class, err); ferr != nil {
			// The recorder would answer a retry with the failed task again.
			return outs, fmt.Errorf("%w (and it cannot be sent again: %v)", err, ferr)
		}
		if attempt >= n.retry.max || !n.retry.retries(class) || r.ctx.Err() != nil {
			return outs, err
		}
		d := n.retry.delay(attempt, after)
		r.emit(Event{Type: "step_retrying", Step: n.full, Item: res.Item, Index: eventIndex(res.Index), Attempt: attempt, MaxAttempts: n.retry.max, Delay: d, Error: err.Error(), Message: class})
		if serr := sc.Sleep(ctx, d); serr != nil {
			if ctx.Err() == context.DeadlineExceeded && r.ctx.Err() == nil {
				err = fmt.Errorf("timed out after %s waiting to retry: %w", n.timeout, err)
			}
			return outs, err
		}
	}
}

// attempt runs the step type once, within the per-attempt timeout when the
// retry policy sets one. attemptTimedOut: that timeout (not the step's, not
// an interrupt) cut the attempt short.
func (r *run) attempt(ctx context.Context, n *node, sc *StepContext, stepInputs map[string]any) (outs map[string]any, attemptTimedOut bool, err error) {
	sc.beginAttempt()
	attemptCtx, cancel := ctx, context.CancelFunc(func() {})
	if n.retry.attempt > 0 {
		attemptCtx, cancel = context.WithTimeout(ctx, n.retry.attempt)
	}
	defer cancel()
	outs, err = safeRun(attemptCtx, n.stepType, sc, stepInputs)
	attemptTimedOut = err != nil && attemptCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	return outs, attemptTimedOut, err
}

// classify gives a failed attempt's retry class and the server's
// Retry-After.
func (r *run) classify(n *node, err error, attemptTimedOut bool) (class string, retryAfter time.Duration) {
	class = "error"
	if r.opts.Classify != nil {
		class, retryAfter = r.opts.Classify(err)
	}
	// A mutation cut off after it was written may have taken effect: that
	// stays outcome_unknown, which is never retried.
	if attemptTimedOut && class != ClassOutcomeUnknown {
		class = ClassTimeout
	}
	return class, retryAfter
}

// stepOutputs adds the step's declared outputs: (evaluated over what the
// step type returned) to the type's own outputs.
func (r *run) stepOutputs(t task, outs map[string]any) (map[string]any, error) {
	if outs == nil {
		outs = map[string]any{}
	}
	n := t.node
	if len(n.outputs) == 0 {
		return outs, nil
	}
	env := r.scope(t.instance, t.item, n, outs)
	merged := make(map[string]any, len(outs)+len(n.outputs))
	for k, v := range outs {
		merged[k] = v
	}
	for _, k := range n.step.OutputsOrder {
		v, err := resolve(n.outputs[k], env)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", k, err)
		}
		merged[k] = v
	}
	return merged, nil
}

func safeRun(ctx context.Context, t *StepType, sc *StepContext, stepInputs map[string]any) (out map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("step type %s panicked: %v\n%s", t.Name, p, debug.Stack())
		}
	}()
	return t.Run(ctx, sc, stepInputs)
}
