package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	xexpr "github.com/frameflow/frameflow/engine/expr"
)

// DefaultParallelism is the most step executions in flight when neither the
// workflow nor the caller says.
const DefaultParallelism = 256

// Step statuses.
const (
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusUnchanged Status = "unchanged"
	StatusNotRun    Status = "not_run"
	// StatusInterrupted: the execution was in flight when the run was
	// interrupted (SIGINT); not a failure of the step. Resume runs it again
	// (a mutation it may have sent is reconciled first).
	StatusInterrupted Status = "interrupted"
	// In events only: an execution in flight, or waiting (a lock, a slot).
	StatusRunning Status = "running"
	StatusWaiting Status = "waiting"
)

// Run statuses.
const (
	RunSucceeded   Status = "succeeded"
	RunFailed      Status = "failed"
	RunInterrupted Status = "interrupted"
)

// DefaultMaxTargets is the most items a fan-out containing mutations may
// have when neither the step nor the workflow sets max_targets: a guardrail
// against a filter that matches far more accounts than meant.
var DefaultMaxTargets = 500

// EachItem labels the one symbolic item a fan-out over an unknown list runs
// in plan modes.
const EachItem = "(each item)"

// RunOptions configure one run of a Program.
type RunOptions struct {
	Mode        Mode
	RunID       string
	Inputs      map[string]any // from BindInputs
	Parallelism int            // overrides the workflow's concurrency when > 0; default DefaultParallelism (256)
	Events      EventSink      // may be nil
	// Recorder performs mutations. Nil: run mode sends directly through
	// Mutation.Send; plan modes return placeholders. In plan modes the engine
	// records every mutation in Result.Mutations either way.
	Recorder MutationRecorder
	// Journal makes resumes possible: executions it reports finished are not
	// run again, their outputs restored. Nil: none.
	Journal StepJournal
	// Classify maps an error to a retry class (see ClassThrottled...) and the
	// server's Retry-After. Nil: every error is "error".
	Classify func(error) (class string, retryAfter time.Duration)
	// Getenv reads env.NAME (only names declared in the workflow's env:).
	Getenv func(string) string
	// OnSecret is told every value the run computes from a secret (a var
	// or a step input whose expression reads a secret input), so that the
	// caller's redaction (the journal, the renderers, reports) covers it
	// as it covers the secret inputs themselves. Nil: engine errors and
	// events are still redacted.
	OnSecret func(string)
	// CheckReads (offline mode only) runs the step types that do not mutate
	// too, for the checks they make of their inputs before reading (a bad
	// ID, a missing parameter); step types see no API client offline, and
	// their outputs stay Unknown. validate and run's preflight use it.
	CheckReads bool
	Logger     *slog.Logger
	// Approve is called once, in run mode, before the first destructive or
	// confirm step runs, with every such step of the workflow. Nil: approved.
	Approve func(ctx context.Context, steps []string) error
	// Locks, when set, also takes each mutating execution's resources
	// from locks shared with other runs; it waits (showing who holds them)
	// with the step's slot given back. Nil: locks hold inside this run only.
	Locks ResourceLocker
	// Approvals is where approval steps find their decisions. Nil: an
	// approval step fails in run mode (nobody could approve it).
	Approvals ApprovalGate
}

// done reports whether a journaled execution need not run again.
func done(s Status) bool {
	return s == StatusSucceeded || s == StatusUnchanged || s == StatusSkipped
}

// StepJournal is the engine's view of the durable run journal.
type StepJournal interface {
	// Lookup returns a finished execution from an earlier attempt of the run.
	Lookup(stepID, itemKey string) (status string, outputs map[string]any, ok bool)
	// Record is called when a step execution finishes.
	Record(r StepResult) error
}

// Result is the outcome of a run.
type Result struct {
	RunID     string
	Status    Status // succeeded | failed | interrupted
	Steps     []StepResult
	Started   time.Time
	Finished  time.Time
	Mutations []PlannedMutation // plan modes: in DAG and item order
	// Outputs are the workflow's declared outputs (outputs: at its top
	// level), evaluated when the run succeeded; OutputsError says why they
	// could not be, which fails the run.
	Outputs      map[string]any
	OutputsError string
}

// StepResult is one step execution (one item of a fan-out), or the summary
// of a fan-out or group (Index -1, outputs items, errors and count).
type StepResult struct {
	Step     string `json:"step"`
	Item     string `json:"item,omitempty"`
	ItemKey  string `json:"item_key,omitempty"`
	Index    int    `json:"index"` // -1 outside a fan-out
	Status   Status `json:"status"`
	Attempts int    `json:"attempts"`
	Started  time.Time
	Duration time.Duration
	Error    string         `json:"error,omitempty"`
	Outputs  map[string]any `json:"outputs,omitempty"`
	// Err is the error behind Error, for callers that act on its type
	// (preflight looks for refused input) rather than on its text. Nil
	// where no error value exists (a fan-out over its failure tolerance).
	// Never shown: Error is the redacted text.
	Err error `json:"-"`
}

// PlannedMutation is a mutation a plan would make.
type PlannedMutation struct {
	Step     string
	Item     string
	Index    int
	Mutation *Mutation
	Key      string
}

type run struct {
	prog *Program
	opts RunOptions
	ctx  context.Context
	log  *slog.Logger

	mu       sync.Mutex
	limit    int
	inflight int
	// ready is the one queue for slots, first come first served: tasks
	// to start, and executions waiting to get their slot back (a task
	// wait due to poll, a step that waited for a lock), whose channels
	// are in returning, in the same order.
	ready     []task
	head      int
	returning []chan struct{}
	// idleWorkers are workers parked for the next task (startWorker);
	// over: the run is done, and they are released.
	idleWorkers []chan task
	over        bool
	stopping    bool
	failed      bool
	interrupted bool
	resultCount int // results recorded so far
	mutations   []orderedMutation
	done        chan struct{}
	root        *graphInstance

	emitMu sync.Mutex
	locks  lockSet

	// Method values made once per run, not per step execution.
	emitFn               EventSink
	releaseFn, acquireFn func()

	inputs, vars, env map[string]any
	top               *playbookValues // the same three, as playbookScope gives them
	filtersFromInputs map[*filterInput]*xexpr.Expr
	filterCache       map[filterKey]*xexpr.Expr // filters compiled from a source, by source (bindCallFilters)
	redact            *secretSet

	approveOnce sync.Once
	approveErr  error
}

// Run executes the program. The error is for runs that cannot start (bad
// inputs, a filter given by an input that does not compile); step failures
// are in the Result.
func (p *Program) Run(ctx context.Context, o RunOptions) (*Result, error) {
	r := &run{prog: p, opts: o, ctx: ctx, done: make(chan struct{}), filtersFromInputs: map[*filterInput]*xexpr.Expr{}}
	r.emitFn, r.releaseFn, r.acquireFn = r.emit, r.releaseSlot, r.acquireSlot
	r.log = o.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.limit = o.Parallelism
	if r.limit <= 0 {
		r.limit = p.wf.Concurrency
	}
	if r.limit <= 0 {
		r.limit = DefaultParallelism
	}
	r.redact = newSecretSet(p.SecretValues(o.Inputs), o.OnSecret)
	if err := r.prepare(); err != nil {
		var pe *PosError
		if errors.As(err, &pe) {
			return nil, &PosError{Pos: pe.Pos, Msg: r.redact.Replace(pe.Msg)}
		}
		return nil, errors.New(r.redact.Replace(err.Error()))
	}

	res := &Result{RunID: o.RunID, Started: time.Now()}
	r.emit(Event{Type: "run_started", RunID: o.RunID, Workflow: p.wf.Name})
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.stopping, r.interrupted = true, true
		r.mu.Unlock()
	})
	defer stop()

	r.mu.Lock()
	r.root = r.newInstance(p.root, nil, nil, nil, nil)
	r.startInstance(r.root)
	r.mu.Unlock()
	<-r.done
	r.finishRun(res)
	return res, nil
}

// finishRun fills res once every execution is done: status, step results in
// report order, planned mutations in DAG and item order.
func (r *run) finishRun(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Finished = time.Now()
	switch {
	case r.interrupted || r.ctx.Err() != nil:
		res.Status = RunInterrupted
	case r.failed:
		res.Status = RunFailed
	default:
		res.Status = RunSucceeded
		if len(r.prog.top.outputs) > 0 {
			out, err := r.playbookOutputs(r.root, r.prog.top)
			if err != nil {
				res.Status, res.OutputsError = RunFailed, r.redact.Replace(err.Error())
			} else {
				res.Outputs = out
			}
		}
	}
	if r.resultCount == len(r.root.results) {
		// Only top-level steps, every one finished: their results are in
		// report order already.
		res.Steps = r.root.results
	} else {
		res.Steps = r.collect(r.root, make([]StepResult, 0, r.resultCount))
	}
	if res.OutputsError != "" {
		// Shown with the failed steps: the outputs: block is what failed.
		res.Steps = append(slices.Clip(res.Steps), StepResult{Step: "outputs", Index: -1, Status: StatusFailed, Error: res.OutputsError})
	}
	slices.SortStableFunc(r.mutations, func(a, b orderedMutation) int { return slices.Compare(a.order, b.order) })
	for _, m := range r.mutations {
		res.Mutations = append(res.Mutations, m.mutation)
	}
	r.emit(Event{Type: "run_finished", RunID: r.opts.RunID, Workflow: r.prog.wf.Name, Status: res.Status, Duration: res.Finished.Sub(res.Started)})
}

// prepare binds what is fixed for the whole run: inputs, env, vars, and the
// filters whose source comes from an input. Nothing has been sent yet.
func (r *run) prepare() error {
	r.inputs = r.opts.Inputs
	if r.inputs == nil {
		r.inputs = map[string]any{}
	}
	r.env = map[string]any{}
	for name := range r.prog.env {
		v := ""
		if r.opts.Getenv != nil {
			v = r.opts.Getenv(name)
		}
		r.env[name] = v
	}
	r.vars = map[string]any{}
	r.top = &playbookValues{inputs: r.inputs, vars: r.vars, env: r.env}
	scope := map[string]any{"inputs": r.inputs, "vars": r.vars, "env": r.env}
	for _, v := range r.prog.vars {
		val, err := resolve(v.val, scope)
		if err != nil {
			return &PosError{Pos: v.pos, Msg: fmt.Sprintf("var %s: %v", v.name, err)}
		}
		if v.val.secret != "" {
			r.redact.Add(val)
		}
		r.vars[v.name] = val
	}
	for _, n := range r.prog.nodes {
		if n.unit.call != nil {
			continue // a called playbook's: compiled when the call binds its inputs (bindCallFilters)
		}
		for name, pt := range n.filters {
			if pt.sourceTemplate == nil {
				continue
			}
			e, err := r.filterFromSource(n, name, pt, scope)
			if err != nil {
				return &PosError{Pos: pt.pos, Msg: err.Error()}
			}
			r.filtersFromInputs[pt] = e
		}
	}
	return nil
}

// filterFromSource evaluates the source of a filter given by an expression
// in scope (inputs, vars, env) and compiles the filter it yields, checked
// as Compile checks a literal one. nil and no error: the source is known
// only after apply.
func (r *run) filterFromSource(n *node, name string, pt *filterInput, scope map[string]any) (*xexpr.Expr, error) {
	src, err := pt.sourceTemplate.Eval(scope)
	if err != nil {
		return nil, fmt.Errorf("step %s: input %s: %v", n.full, name, err)
	}
	if IsUnknown(src) {
		return nil, nil
	}
	s, ok := src.(string)
	if !ok {
		return nil, fmt.Errorf("step %s: input %s: a filter expression must be a string, got %T", n.full, name, src)
	}
	key := filterKey{filter: pt, source: s}
	if e, ok := r.filterCache[key]; ok {
		return e, nil // a call per item of a fan-out gives the same text
	}
	e, errs := xexpr.Compile(s, pt.env)
	if len(errs) > 0 {
		return nil, fmt.Errorf("step %s: filter %q: %s%s", n.full, s, errs[0].Msg, wrappedFilterHint(s))
	}
	if what, ok := e.Secret(); ok {
		return nil, fmt.Errorf("step %s: input %s: the filter reads a secret (%s): a condition on a secret leaks it one bit at a time", n.full, name, what)
	}
	if r.filterCache == nil {
		r.filterCache = map[filterKey]*xexpr.Expr{}
	}
	r.filterCache[key] = e
	return e, nil
}

// filterKey is a filter input and the text its expression gave.
type filterKey struct {
	filter *filterInput
	source string
}

// filterOf is the compiled filter of pt: its literal, else the one its
// source gave when the run started or, in a called playbook, when the call
// bound its inputs. nil: known only after apply.
func (r *run) filterOf(instance *graphInstance, pt *filterInput) *xexpr.Expr {
	if pt.static != nil {
		return pt.static
	}
	if e, ok := r.playbookScope(instance).filters[pt]; ok {
		return e
	}
	return r.filtersFromInputs[pt]
}

func (r *run) emit(ev Event) {
	if r.opts.Events == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.RunID == "" {
		ev.RunID = r.opts.RunID
	}
	ev.Error = r.redact.Replace(ev.Error)
	ev.Message = r.redact.Replace(ev.Message)
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.opts.Events(ev)
}
