package runner

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/plan"
)

// Approval is what a person must confirm before a run or an apply sends
// anything: the steps that overwrite or delete data or are marked confirm
// (the engine's own list), and for apply the hash of the plan approved. A
// caller shows it, and passes the confirmed value back to Run or Apply; a
// web page can do so later, since the value is plain data.
type Approval struct {
	Steps []engine.ApprovalStep `json:"steps,omitempty"`
	// PlanHash binds an apply's approval to exactly one plan.
	PlanHash string `json:"plan_hash,omitempty"`
	// By is who confirmed it (the web page's signed-in user); it is
	// journaled with the run. It is not part of what must match.
	By string `json:"by,omitempty"`
}

// Needed reports whether anything needs confirming.
func (a Approval) Needed() bool { return len(a.Steps) > 0 || a.PlanHash != "" }

// Labels are the steps as "id (type)".
func (a Approval) Labels() []string {
	out := make([]string, len(a.Steps))
	for i, s := range a.Steps {
		out[i] = s.String()
	}
	return out
}

// covers reports whether the confirmed approval c is the one needed.
func (a Approval) coveredBy(c *Approval) bool {
	if !a.Needed() {
		return true
	}
	return c != nil && c.PlanHash == a.PlanHash && slices.Equal(c.Steps, a.Steps)
}

// Approval is what running this workflow needs confirmed.
func (w *Workflow) Approval() Approval { return Approval{Steps: w.prog.Approvals()} }

// Preflight runs the workflow offline (no request at all) to find inputs a
// step would refuse: a capacity of -1, min above max. Without it such a
// typo is found by the last step of each chain, after every store was
// cloned and published. Only refusals of invalid input count (by the
// error's type); anything else offline is no evidence about the real run.
// Errors: *PreflightError, *RefusedError.
func (w *Workflow) Preflight(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.preflight(ctx)
}

func (w *Workflow) preflight(ctx context.Context) error {
	if w.preflighted {
		return nil
	}
	res, err := w.prog.Run(ctx, engine.RunOptions{
		Mode: engine.ModeOffline, RunID: "preflight", Inputs: w.inputs, Parallelism: w.parallelism,
		Getenv: w.svc.cfg.Getenv, Classify: Classify, OnSecret: w.onSecret, CheckReads: true,
	})
	if err != nil {
		return &RefusedError{Err: err}
	}
	var bad []StepFailure
	for _, st := range res.Steps {
		if st.Status != engine.StatusFailed || st.Err == nil {
			continue
		}
		if c, _ := Classify(st.Err); c == string(frame.ClassInvalid) {
			bad = append(bad, StepFailure{Step: st.Step, Item: st.Item, Error: st.Error})
		}
	}
	if len(bad) > 0 {
		return &PreflightError{Failures: bad}
	}
	w.preflighted = true
	return nil
}

// PlanOptions configure Plan.
type PlanOptions struct {
	// Offline sends no request at all: reads are Unknown.
	Offline bool
	// Events receives the plan's request events (and the engine's). May be nil.
	Events engine.EventSink
}

// Plan runs the workflow with reads live and mutations recorded, never
// sent (offline: nothing read either), and returns the plan. The client
// is read-only for the duration. Errors: *RefusedError, *PlanFailedError.
func (w *Workflow) Plan(ctx context.Context, o PlanOptions) (*plan.Plan, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plan(ctx, o)
}

func (w *Workflow) plan(ctx context.Context, o PlanOptions) (*plan.Plan, error) {
	mode := engine.ModePlan
	if o.Offline {
		mode = engine.ModeOffline
	} else if w.client == nil {
		return nil, errOffline
	}
	w.setEvents(o.Events)
	defer w.setEvents(nil)
	res, err := w.prog.Run(frame.WithReadOnly(ctx), engine.RunOptions{
		Mode: mode, RunID: "plan", Inputs: w.inputs, Parallelism: w.parallelism, Events: o.Events,
		Classify: Classify, Getenv: w.svc.cfg.Getenv, Logger: w.svc.cfg.Logger, OnSecret: w.onSecret,
	})
	if err != nil {
		return nil, &RefusedError{Err: err}
	}
	if res.Status != engine.RunSucceeded {
		return nil, &PlanFailedError{Failures: failures(res), Hint: AccessHint(res)}
	}
	wf := w.prog.Workflow()
	// The inputs go in as given: FromResult needs the secret values to
	// scrub them from every mutation (a secret in a path or body), and
	// stores them as "(sensitive)".
	p := plan.FromResult(plan.WorkflowRef{Name: wf.Name, File: w.file, FileHash: wf.Hash},
		w.inputs, w.secretNames(), res, mode == engine.ModeOffline,
		func(t string) bool { st, ok := w.reg.Lookup(t); return ok && st.Destructive })
	// What needs approval is the engine's own list; the plan shows the
	// changes the playbook declared need none.
	needs := map[string]bool{}
	for _, a := range w.prog.Approvals() {
		needs[a.Step] = true
	}
	p.MarkNoApproval(func(step string) bool { return !needs[step] })
	if w.prog.HasCalls() {
		p.MarkPlaybooks(w.prog.PlaybookOf)
	}
	return p, nil
}

// PlanToApply makes a plan for a person to review and, once approved, to
// pass to Apply: Apply then sends exactly its mutations without planning
// again (it was made just now, by this Workflow). This is run's
// plan-then-apply, like terraform apply without a saved plan.
func (w *Workflow) PlanToApply(ctx context.Context, o PlanOptions) (*plan.Plan, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.preflight(ctx); err != nil {
		return nil, err
	}
	p, err := w.plan(ctx, o)
	if err != nil {
		return nil, err
	}
	if !p.Offline {
		w.planChecked = p.Hash
	}
	return p, nil
}

// onSecret registers a value the engine computed from a secret (a derived
// value sent in a secret body field) like the secret itself, so nothing
// shown to a person or stored (journal, reports) carries it.
func (w *Workflow) onSecret(v string) { w.svc.cfg.Secrets.Add(v) }

// errOffline: a workflow prepared offline has no client, so it can only be
// planned offline; reading or changing the estate needs a new preparation.
var errOffline = errors.New("the workflow was prepared offline (no API client): only an offline plan is possible; nothing was sent")

func failures(res *engine.Result) []StepFailure {
	var out []StepFailure
	for _, st := range res.Steps {
		if st.Status == engine.StatusFailed {
			out = append(out, StepFailure{Step: st.Step, Item: st.Item, Error: st.Error})
		}
	}
	return out
}

// RunOptions configure Run, Apply and a resumption's Run.
type RunOptions struct {
	// Events receives the run's events, requests included. May be nil.
	Events engine.EventSink
	// Approved is the approval the caller showed and a person confirmed.
	// Required when the operation's Approval is Needed; it must be equal.
	Approved *Approval
	// Ask, when set, asks a person at a terminal when an approval step
	// starts waiting. Either way `frameflow approve` can decide.
	Ask ApprovalAsker
}

// Outcome is a finished run (whatever its status).
type Outcome struct {
	RunID  string
	Result *engine.Result
	// JournalErr is a failure to record the run's end: the run happened,
	// but resume may see it as crashed.
	JournalErr error
	// Unused counts planned mutations an apply did not execute.
	Unused int
	// pending: mutations whose outcome is unknown, waiting for an operator.
	pending []journal.PendingMutation
}

// Run executes the workflow in a new journaled run: preflight (unless it
// passed already), the approval check, then the run. Errors before the
// run (*PreflightError, *NotApprovedError, journal errors) mean nothing
// was sent; a run that starts returns an Outcome whatever its status.
func (w *Workflow) Run(ctx context.Context, o RunOptions) (*Outcome, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.readyToRun(ctx, o.Approved); err != nil {
		return nil, err
	}
	jr, err := w.createJournal("run", "", o.Approved.by())
	if err != nil {
		return nil, err
	}
	defer jr.Close()
	return w.execute(ctx, jr, nil, o)
}

// by is who confirmed a (possibly nil) approval.
func (a *Approval) by() string {
	if a == nil {
		return ""
	}
	return a.By
}

// readyToRun is what every run and resumed run passes before anything is
// sent: preflight, and the engine's approval list confirmed.
func (w *Workflow) readyToRun(ctx context.Context, approved *Approval) error {
	if w.client == nil {
		return errOffline
	}
	if err := w.preflight(ctx); err != nil {
		return err
	}
	if need := w.Approval(); !need.coveredBy(approved) {
		return &NotApprovedError{Approval: need}
	}
	return nil
}

func (w *Workflow) createJournal(mode, planHash, approver string) (*journal.Run, error) {
	store, err := w.svc.openJournals(false)
	if err != nil {
		return nil, err
	}
	wf := w.prog.Workflow()
	return store.Create(journal.RunMeta{
		Workflow: wf.Name, File: w.file, FileHash: wf.Hash, Inputs: w.RedactedInputs(),
		Mode: mode, PlanHash: planHash, Started: time.Now().UTC(), Approver: approver,
	})
}

// execute runs the program in run mode through the journal (and the plan
// guard, when wrap is given).
func (w *Workflow) execute(ctx context.Context, jr *journal.Run, wrap func(engine.MutationRecorder) engine.MutationRecorder, o RunOptions) (*Outcome, error) {
	events := o.Events
	w.setEvents(events)
	defer w.setEvents(nil)
	var rec engine.MutationRecorder = jr
	if wrap != nil {
		rec = wrap(jr)
	}
	locks, err := w.svc.sharedLocks(jr.ID())
	if err != nil {
		_ = jr.Finish(string(engine.RunFailed))
		return nil, err
	}
	res, err := w.prog.Run(ctx, engine.RunOptions{
		Mode:        engine.ModeRun,
		RunID:       jr.ID(),
		Inputs:      w.inputs,
		Parallelism: w.parallelism,
		Events:      events,
		Recorder:    rec,
		Journal:     jr,
		Classify:    Classify,
		Getenv:      w.svc.cfg.Getenv,
		OnSecret:    w.onSecret,
		Logger:      w.svc.cfg.Logger,
		Locks:       locks,
		Approvals:   &approvalGate{svc: w.svc, jr: jr, ask: o.Ask},
	})
	if err != nil {
		_ = jr.Finish(string(engine.RunFailed))
		return nil, err
	}
	return &Outcome{RunID: res.RunID, Result: res, pending: jr.Pending(), JournalErr: jr.Finish(string(res.Status))}, nil
}
