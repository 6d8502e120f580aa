package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
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
}

// StepResult is one step execution (one item of a fan-out), or the summary
// of a fan-out or group (Index -1, outputs items and count).
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

type itemInfo struct {
	value any
	label string
	key   string
	index int
	sym   bool // the symbolic item of an unknown list
}

// inst is one instance of a graph: the top level, or one item of a group.
type inst struct {
	g      *graph
	parent *inst
	fan    *fanout
	item   *itemInfo
	st     []nstate
	res    []StepResult // by node ord (graph order), where st says finished
	left   int
	failed bool
	key    []int  // sort key prefix of the plan's mutations
	ikey   string // item key, joined with "/" through nested fan-outs
	ilabel string // item label, joined likewise
}

type nstate struct {
	pending  int
	status   Status
	out      any // outputs as expressions see them (a map, or Unknown)
	skip     bool
	notRun   bool
	finished bool
	fan      *fanout // the node's fan-out once expanded: its items' results
}

type fanout struct {
	in          *inst
	n           *node
	items       []itemInfo
	outs        []any
	next        int
	running     int
	limit       int
	batch       int
	batchOK     int
	failures    int
	notRun      int
	interrupted int
	finished    int
	stopped     bool
	failed      bool
	reason      string
	started     time.Time

	// Item results, by item index: a plain step's executions and the items
	// never started; a group's item instances and the failures of its
	// declared outputs. Kept in place, so results need neither sort keys
	// nor a sort.
	res     []StepResult
	has     []bool
	insts   []*inst
	outErrs map[int]*StepResult
}

type task struct {
	in   *inst
	n    *node
	fan  *fanout // a plain fan-out's item
	item *itemInfo
}

type mutRec struct {
	key []int
	m   PlannedMutation
}

type run struct {
	p   *Program
	o   RunOptions
	ctx context.Context
	log *slog.Logger

	mu          sync.Mutex
	limit       int
	inflight    int
	ready       []task
	head        int
	waiters     []chan struct{}
	stopping    bool
	failed      bool
	interrupted bool
	nresults    int // results recorded so far
	muts        []mutRec
	done        chan struct{}
	top         *inst

	emitMu sync.Mutex
	locks  lockSet

	// Method values made once per run, not per step execution.
	emitFn               EventSink
	releaseFn, acquireFn func()

	inputs, vars, env map[string]any
	dyn               map[*predT]*xexpr.Expr
	redact            *secretSet

	approveOnce sync.Once
	approveErr  error
}

// Run executes the program. The error is for runs that cannot start (bad
// inputs, a filter given by an input that does not compile); step failures
// are in the Result.
func (p *Program) Run(ctx context.Context, o RunOptions) (*Result, error) {
	r := &run{p: p, o: o, ctx: ctx, done: make(chan struct{}), dyn: map[*predT]*xexpr.Expr{}}
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
	r.top = r.newInst(p.root, nil, nil, nil, nil)
	r.startInst(r.top)
	r.mu.Unlock()
	<-r.done

	r.mu.Lock()
	defer r.mu.Unlock()
	res.Finished = time.Now()
	switch {
	case r.interrupted || ctx.Err() != nil:
		res.Status = RunInterrupted
	case r.failed:
		res.Status = RunFailed
	default:
		res.Status = RunSucceeded
	}
	if r.nresults == len(r.top.res) {
		// Only top-level steps, every one finished: their results are in
		// report order already.
		res.Steps = r.top.res
	} else {
		res.Steps = r.collect(r.top, make([]StepResult, 0, r.nresults))
	}
	slices.SortStableFunc(r.muts, func(a, b mutRec) int { return slices.Compare(a.key, b.key) })
	for _, m := range r.muts {
		res.Mutations = append(res.Mutations, m.m)
	}
	r.emit(Event{Type: "run_finished", RunID: o.RunID, Workflow: p.wf.Name, Status: res.Status, Duration: res.Finished.Sub(res.Started)})
	return res, nil
}

// prepare binds what is fixed for the whole run: inputs, env, vars, and the
// filters whose source comes from an input. Nothing has been sent yet.
func (r *run) prepare() error {
	r.inputs = r.o.Inputs
	if r.inputs == nil {
		r.inputs = map[string]any{}
	}
	r.env = map[string]any{}
	for name := range r.p.env {
		v := ""
		if r.o.Getenv != nil {
			v = r.o.Getenv(name)
		}
		r.env[name] = v
	}
	r.vars = map[string]any{}
	scope := map[string]any{"inputs": r.inputs, "vars": r.vars, "env": r.env}
	for _, v := range r.p.vars {
		val, err := resolve(v.val, scope)
		if err != nil {
			return fmt.Errorf("var %s: %w", v.name, err)
		}
		if v.val.secret != "" {
			r.redact.Add(val)
		}
		r.vars[v.name] = val
	}
	for _, n := range r.p.nodes {
		for name, pt := range n.preds {
			if pt.dyn == nil {
				continue
			}
			src, err := pt.dyn.Eval(scope)
			if err != nil {
				return &PosError{Pos: pt.pos, Msg: fmt.Sprintf("step %s: input %s: %v", n.full, name, err)}
			}
			s, ok := src.(string)
			if !ok {
				return &PosError{Pos: pt.pos, Msg: fmt.Sprintf("step %s: input %s: a filter expression must be a string, got %T", n.full, name, src)}
			}
			e, errs := xexpr.Compile(s, pt.env)
			if len(errs) > 0 {
				return &PosError{Pos: pt.pos, Msg: fmt.Sprintf("step %s: filter %q: %s%s", n.full, s, errs[0].Msg, wrappedFilterHint(s))}
			}
			if what, ok := e.Secret(); ok {
				// The filter's text came from an input: it is checked now,
				// as Compile checks a literal one.
				return &PosError{Pos: pt.pos, Msg: fmt.Sprintf("step %s: input %s: the filter reads a secret (%s): a condition on a secret leaks it one bit at a time", n.full, name, what)}
			}
			r.dyn[pt] = e
		}
	}
	return nil
}

func (r *run) emit(ev Event) {
	if r.o.Events == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.RunID == "" {
		ev.RunID = r.o.RunID
	}
	ev.Error = r.redact.Replace(ev.Error)
	ev.Message = r.redact.Replace(ev.Message)
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.o.Events(ev)
}

// --- instances and the ready queue (all under r.mu) ---

func (r *run) newInst(g *graph, parent *inst, fan *fanout, item *itemInfo, key []int) *inst {
	in := &inst{g: g, parent: parent, fan: fan, item: item, st: make([]nstate, len(g.nodes)), res: make([]StepResult, len(g.nodes)), left: len(g.nodes), key: key}
	if parent != nil && item != nil {
		in.ikey, in.ilabel = item.key, item.label
		if parent.ikey != "" {
			in.ikey = parent.ikey + "/" + item.key
			in.ilabel = parent.ilabel + "/" + item.label
		}
	}
	for i, n := range g.nodes {
		in.st[i].pending = len(n.deps)
	}
	return in
}

func (r *run) startInst(in *inst) {
	if len(in.g.nodes) == 0 {
		r.instDone(in)
		return
	}
	var work []task
	for _, n := range in.g.topo {
		if len(n.deps) == 0 {
			work = append(work, task{in: in, n: n})
		}
	}
	r.makeReady(work)
	r.pump()
}

// makeReady settles nodes whose dependencies are all finished: those that
// cannot run finish at once (iteratively, so a long chain of skips does not
// recurse), the others queue for a slot.
func (r *run) makeReady(work []task) {
	for i := 0; i < len(work); i++ {
		t := work[i]
		st := &t.in.st[t.n.idx]
		switch {
		case r.stopping || t.in.failed || st.notRun:
			work = r.finish(t.in, t.n, StepResult{Status: StatusNotRun}, nil, work)
		case st.skip:
			work = r.finish(t.in, t.n, StepResult{Status: StatusSkipped}, nil, work)
		default:
			r.ready = append(r.ready, t)
		}
	}
}

func (r *run) pump() {
	for r.inflight < r.limit {
		if len(r.waiters) > 0 {
			w := r.waiters[0]
			r.waiters = r.waiters[1:]
			r.inflight++
			close(w)
			continue
		}
		if r.head >= len(r.ready) {
			r.ready, r.head = r.ready[:0], 0
			return
		}
		if r.head > 1024 && r.head > len(r.ready)/2 {
			// Keep the queue's memory proportional to what waits, not to
			// everything that ever waited.
			r.ready = r.ready[:copy(r.ready, r.ready[r.head:])]
			r.head = 0
		}
		t := r.ready[r.head]
		r.ready[r.head] = task{}
		r.head++
		r.inflight++
		go r.exec(t)
	}
}

func (r *run) releaseSlot() {
	r.mu.Lock()
	r.inflight--
	r.pump()
	r.mu.Unlock()
}

func (r *run) acquireSlot() {
	r.mu.Lock()
	if r.inflight < r.limit && len(r.waiters) == 0 {
		r.inflight++
		r.mu.Unlock()
		return
	}
	w := make(chan struct{})
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	<-w
}

// finish records a node's end in its instance and settles its dependants.
// It returns work with the dependants that became ready appended.
func (r *run) finish(in *inst, n *node, res StepResult, out any, work []task) []task {
	st := &in.st[n.idx]
	if st.finished {
		return work
	}
	st.finished = true
	st.status = res.Status
	st.out = out
	if res.Step == "" {
		res.Step = n.full
		res.Index = -1
		if in.item != nil {
			res.Item, res.ItemKey, res.Index = in.ilabel, in.ikey, in.item.index
		}
	}
	in.res[n.ord] = res
	r.nresults++
	if res.Status == StatusFailed && !n.step.ContinueOnError {
		// Fail-fast: at top level the run stops starting steps; inside a
		// group item only that item stops (its fan-out decides the rest).
		if in.fan != nil {
			in.failed = true
		} else {
			r.stopping = true
			r.failed = true
		}
	}
	for _, d := range n.dnts {
		ds := &in.st[d]
		dn := in.g.nodes[d]
		switch res.Status {
		case StatusNotRun, StatusInterrupted:
			ds.notRun = true
		case StatusSkipped, StatusFailed:
			if !dn.ifRefs[n.id] {
				ds.skip = true
			}
		}
		ds.pending--
		if ds.pending == 0 {
			work = append(work, task{in: in, n: dn})
		}
	}
	in.left--
	if in.left == 0 {
		r.instDone(in)
	}
	return work
}

// instDone ends an instance: the run, or one item of a group.
func (r *run) instDone(in *inst) {
	if in.fan == nil {
		close(r.done)
		return
	}
	status := StatusSucceeded
	out := map[string]any{}
	for i, n := range in.g.nodes {
		out[n.id] = in.st[i].out
		switch st := in.st[i].status; {
		case st == StatusInterrupted && status != StatusFailed:
			status = StatusInterrupted
		case st == StatusNotRun && status == StatusSucceeded:
			status = StatusNotRun
		}
	}
	if in.failed {
		status = StatusFailed
	}
	fn := in.fan.n
	if status == StatusSucceeded && len(fn.outputs) > 0 {
		env := r.scope(in, nil, fn, nil)
		for _, k := range fn.step.OutputsOrder {
			v, err := resolve(fn.outputs[k], env)
			if err != nil {
				status = StatusFailed
				r.failed = true
				if in.fan.outErrs == nil {
					in.fan.outErrs = map[int]*StepResult{}
				}
				in.fan.outErrs[in.item.index] = &StepResult{Step: fn.full, Item: in.ilabel, ItemKey: in.ikey, Index: in.item.index, Status: StatusFailed, Error: r.redact.Replace("output " + k + ": " + err.Error())}
				r.nresults++
				break
			}
			out[k] = v
		}
	}
	r.itemDone(in.fan, in.item, status, out)
}

// --- fan-outs (under r.mu) ---

func (r *run) startFan(f *fanout) {
	if f.n.body == nil {
		// One queue growth for all the items this call may start, not a
		// doubling series of copies.
		n := len(f.items) - f.next
		if f.limit > 0 {
			n = min(n, f.limit-f.running)
		}
		if n > 0 {
			r.ready = slices.Grow(r.ready, n)
		}
	}
	for !f.stopped && !r.stopping && f.next < len(f.items) && (f.limit <= 0 || f.running < f.limit) {
		if f.batch > 0 && f.next >= f.batch && f.batchOK < f.batch {
			return // canary items still running
		}
		it := &f.items[f.next]
		f.next++
		f.running++
		if f.n.body != nil {
			key := append(slices.Clone(f.in.key), f.n.ord, it.index)
			in := r.newInst(f.n.body, f.in, f, it, key)
			f.insts[it.index] = in
			r.startInst(in)
		} else {
			r.ready = append(r.ready, task{in: f.in, n: f.n, fan: f, item: it})
		}
	}
	r.pump()
}

func (r *run) itemDone(f *fanout, it *itemInfo, status Status, out any) {
	f.running--
	f.finished++
	f.outs[it.index] = out
	switch status {
	case StatusFailed:
		f.failures++
		if it.index < f.batch {
			f.stopped, f.failed = true, true
			f.reason = fmt.Sprintf("canary item %s failed", it.label)
		} else if f.failures > f.maxFailures() {
			f.stopped, f.failed = true, true
			f.reason = fmt.Sprintf("%d of %d items failed", f.failures, len(f.items))
		}
		if !f.n.step.ContinueOnError {
			// Tolerated failures let the fan-out go on, but the run
			// still reports them.
			r.failed = true
		}
	case StatusNotRun:
		f.notRun++
	case StatusInterrupted:
		f.interrupted++
	case StatusSucceeded, StatusUnchanged, StatusSkipped:
		if it.index < f.batch {
			f.batchOK++
		}
	}
	if f.running == 0 && (f.next >= len(f.items) || f.stopped || r.stopping) {
		r.fanDone(f)
		return
	}
	r.startFan(f)
}

func (f *fanout) maxFailures() int {
	s := f.n.step
	limit := 0
	if s.MaxFailures != nil {
		limit = *s.MaxFailures
	}
	if s.MaxFailurePercent != nil {
		p := int(*s.MaxFailurePercent * float64(len(f.items)) / 100)
		if s.MaxFailures == nil || p > limit {
			limit = p
		}
	}
	return limit
}

func (r *run) fanDone(f *fanout) {
	for i := f.next; i < len(f.items); i++ {
		it := &f.items[i]
		f.setResult(it.index, StepResult{Step: f.n.full, Item: r.itemLabel(f.in, it), ItemKey: r.itemKey(f.in, it), Index: it.index, Status: StatusNotRun})
		r.nresults++
	}
	status := StatusSucceeded
	res := StepResult{Step: f.n.full, Index: -1, Started: f.started, Duration: time.Since(f.started)}
	switch {
	case f.failed:
		status = StatusFailed
		res.Error = f.reason
	case f.interrupted > 0:
		status = StatusInterrupted
		res.Error = fmt.Sprintf("%d of %d items interrupted", f.interrupted, len(f.items))
	case f.next < len(f.items) || f.notRun > 0:
		status = StatusNotRun
	}
	res.Status = status
	if f.in.item != nil {
		res.Item, res.ItemKey = f.in.ilabel, f.in.ikey
	}
	items := make([]any, len(f.outs))
	copy(items, f.outs)
	out := map[string]any{"items": items, "count": len(f.items)}
	res.Outputs = out
	r.emit(Event{Type: "step_finished", Step: f.n.full, Item: res.Item, Status: status, Duration: res.Duration, Error: res.Error, Total: len(f.items)})
	work := r.finish(f.in, f.n, res, out, nil)
	r.makeReady(work)
	r.pump()
}

// --- executions (no lock held unless said) ---

// exec runs tasks holding a slot: a node's if and for_each, or one step
// execution. When it is done it takes the next ready task itself, so a
// chain of steps runs on one goroutine (and one grown stack) instead of
// starting a goroutine per step.
func (r *run) exec(t task) {
	for {
		res, out, fan := r.execute(t)
		r.mu.Lock()
		// The slot stays counted while the result settles, so the work it
		// makes ready (the next item of a fan-out) comes back to this
		// goroutine below instead of starting a new one per item.
		switch {
		case fan != nil:
			f := fan
			t.in.st[t.n.idx].fan = f
			if len(f.items) == 0 {
				r.fanDone(f)
			} else {
				r.startFan(f)
			}
		case t.fan != nil:
			t.fan.setResult(t.item.index, res)
			r.nresults++
			r.itemDone(t.fan, t.item, res.Status, out)
		default:
			work := r.finish(t.in, t.n, res, out, nil)
			r.makeReady(work)
		}
		r.inflight--
		next, ok := r.take()
		r.pump()
		r.mu.Unlock()
		if !ok {
			return
		}
		t = next
	}
}

// take pops a ready task for the calling worker when a slot is free and no
// sleeper is waiting to get its slot back (under r.mu).
func (r *run) take() (task, bool) {
	if r.inflight >= r.limit || len(r.waiters) > 0 || r.head >= len(r.ready) {
		return task{}, false
	}
	t := r.ready[r.head]
	r.ready[r.head] = task{}
	r.head++
	r.inflight++
	return t, true
}

// stopped reports whether a queued task must not start: the run is
// stopping, its group item already failed, or its fan-out gave up.
func (r *run) stopped(t task) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping || t.in.failed || (t.fan != nil && t.fan.stopped)
}

func (r *run) execute(t task) (res StepResult, out any, fan *fanout) {
	n := t.n
	res = StepResult{Step: n.full, Index: -1, Started: time.Now()}
	if t.item != nil {
		res.Item, res.Index, res.ItemKey = r.itemLabel(t.in, t.item), t.item.index, r.itemKey(t.in, t.item)
	} else if t.in.item != nil {
		res.Item, res.Index, res.ItemKey = t.in.ilabel, t.in.item.index, t.in.ikey
	}
	if r.stopped(t) {
		res.Status = StatusNotRun
		return res, nil, nil
	}
	if t.item == nil {
		// The node itself: its if, then a fan-out expands or the step runs.
		if n.ifExpr != nil {
			v, err := n.ifExpr.Eval(r.scope(t.in, nil, n, nil))
			if err != nil {
				return r.failNow(res, fmt.Errorf("if: %w", err)), nil, nil
			}
			if !IsUnknown(v) && !truthy(v) {
				res.Status = StatusSkipped
				r.record(res)
				r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: StatusSkipped})
				return res, nil, nil
			}
		}
		if n.fanout() {
			f, err := r.expand(t.in, n)
			if err != nil {
				return r.failNow(res, err), nil, nil
			}
			r.emit(Event{Type: "step_started", Step: n.full, Item: res.Item, Index: idx(res.Index), Total: len(f.items)})
			return res, nil, f
		}
	}
	return r.runStep(t, res)
}

func idx(i int) *int {
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
	r.record(res)
	r.emit(Event{Type: "step_finished", Step: res.Step, Item: res.Item, Index: idx(res.Index), Status: StatusFailed, Error: res.Error, Duration: res.Duration})
	return res
}

func (r *run) record(res StepResult) {
	if r.o.Journal == nil || res.Status == StatusNotRun {
		return
	}
	if err := r.o.Journal.Record(res); err != nil {
		r.log.Error("journal record failed", "step", res.Step, "item", res.Item, "error", err)
	}
}

func (r *run) itemKey(in *inst, it *itemInfo) string {
	if in.ikey == "" {
		return it.key
	}
	return in.ikey + "/" + it.key
}

func (r *run) itemLabel(in *inst, it *itemInfo) string {
	if in.ilabel == "" {
		return it.label
	}
	return in.ilabel + "/" + it.label
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	case int:
		return x != 0
	case float64:
		return x != 0
	}
	return true
}

// expand evaluates a fan-out's for_each into its items.
func (r *run) expand(in *inst, n *node) (*fanout, error) {
	var v any
	var err error
	if n.forEachList != nil {
		v, err = resolve(n.forEachList, r.scope(in, nil, n, nil))
	} else {
		v, err = n.forEach.Eval(r.scope(in, nil, n, nil))
	}
	if err != nil {
		return nil, fmt.Errorf("for_each: %w", err)
	}
	f := &fanout{in: in, n: n, limit: n.step.Concurrency, batch: n.step.Batch, started: time.Now()}
again:
	switch list := v.(type) {
	case nil:
	case []any:
		f.items = make([]itemInfo, 0, len(list))
		seen := make(map[string]bool, len(list))
		for i, e := range list {
			it := itemInfo{value: e, index: i}
			it.label, it.key = itemIdentity(e, i)
			if IsUnknown(e) {
				it.label = EachItem
			}
			if seen[it.key] {
				it.key += "#" + strconv.Itoa(i)
			}
			seen[it.key] = true
			f.items = append(f.items, it)
		}
	default:
		if l, ok := asList(v); ok {
			v = l
			goto again
		}
		if IsUnknown(v) {
			f.items = []itemInfo{{value: Unknown, label: EachItem, key: EachItem, sym: true}}
			break
		}
		return nil, fmt.Errorf("for_each must yield a list, got %T", v)
	}
	limit := n.maxTarget
	if limit <= 0 {
		limit = DefaultMaxTargets
	}
	if n.mutates && limit > 0 && len(f.items) > limit {
		return nil, fmt.Errorf("fan-out over %d items exceeds max_targets %d (raise max_targets on the step or the workflow to allow it)", len(f.items), limit)
	}
	if f.batch > len(f.items) {
		f.batch = len(f.items)
	}
	f.outs = make([]any, len(f.items))
	if n.body != nil {
		f.insts = make([]*inst, len(f.items))
	}
	return f, nil
}

// setResult records the result of item i (under r.mu).
func (f *fanout) setResult(i int, res StepResult) {
	if f.res == nil {
		f.res = make([]StepResult, len(f.items))
		f.has = make([]bool, len(f.items))
	}
	f.res[i], f.has[i] = res, true
}

// collect appends the results of an instance in report order: graph order,
// a fan-out's summary before its items, items by index, a group item's
// output failure before its steps (under r.mu, once the run is done).
func (r *run) collect(in *inst, out []StepResult) []StepResult {
	for _, n := range in.g.topo {
		st := &in.st[n.idx]
		if st.finished {
			out = append(out, in.res[n.ord])
		}
		f := st.fan
		if f == nil {
			continue
		}
		for i := range f.items {
			if f.has != nil && f.has[i] {
				out = append(out, f.res[i])
			}
			if e := f.outErrs[i]; e != nil {
				out = append(out, *e)
			}
			if f.insts != nil && f.insts[i] != nil {
				out = r.collect(f.insts[i], out)
			}
		}
	}
	return out
}

// asList converts typed slices (expr's 1..n gives []int) to []any.
func asList(v any) ([]any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// itemIdentity gives an item's label (for people) and key (for the journal:
// stable across resumes): the id field, else the name, else the index.
func itemIdentity(e any, i int) (label, key string) {
	key = strconv.Itoa(i)
	label = "#" + key
	switch x := e.(type) {
	case map[string]any:
		id, hasID := x["id"].(string)
		name, hasName := x["name"].(string)
		switch {
		case hasID && id != "":
			key = id
		case hasName && name != "":
			key = name
		}
		switch {
		case hasName && name != "":
			label = name
		case hasID && id != "":
			label = id
		}
	case string:
		label, key = x, x
	case int, int64, float64, bool:
		label = fmt.Sprint(x)
	}
	return label, key
}

// scope builds the values an expression of n reads: only the steps it
// references are looked up.
func (r *run) scope(in *inst, it *itemInfo, n *node, raw map[string]any) map[string]any {
	env := map[string]any{"inputs": r.inputs, "vars": r.vars, "env": r.env}
	var chain []*inst
	for x := in; x != nil; x = x.parent {
		chain = append(chain, x)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		x := chain[i]
		if x.item != nil {
			env[x.fan.n.as] = x.item.value
			env["index"] = x.item.index
			if x.item.sym {
				env["index"] = Unknown
			}
		}
	}
	if it != nil {
		env[n.as] = it.value
		env["index"] = it.index
		if it.sym {
			env["index"] = Unknown
		}
	}
	if len(n.refs) > 0 {
		steps := make(map[string]any, len(n.refs))
		for _, id := range n.refs {
			m := r.p.byID[id]
			if m == nil {
				continue
			}
			for x := in; x != nil; x = x.parent {
				if x.g == m.g {
					st := &x.st[m.idx]
					steps[id] = map[string]any{"outputs": st.out, "status": string(st.status)} // a plain string: expr compares values by type
					break
				}
			}
		}
		env["steps"] = steps
	}
	if raw != nil {
		env["outputs"] = raw
	}
	return env
}

// resolve evaluates a compiled value tree.
func resolve(v *valueT, env map[string]any) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case v.isC:
		return v.konst, nil
	case v.tmpl != nil:
		return v.tmpl.Eval(env)
	case v.isList:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			x, err := resolve(e, env)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	default:
		out := make(map[string]any, len(v.m))
		for _, k := range v.keys {
			x, err := resolve(v.m[k], env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	}
}

// runStep performs one execution of a step type: journal, inputs,
// approval, resource locks, attempts.
func (r *run) runStep(t task, res StepResult) (StepResult, any, *fanout) {
	n := t.n
	if r.o.Journal != nil {
		if st, outs, ok := r.o.Journal.Lookup(n.full, res.ItemKey); ok && done(Status(st)) {
			status := Status(st)
			res.Status = status
			res.Outputs = outs
			r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: status, Message: "restored from the journal"})
			return res, outs, nil
		}
	}
	checkOnly := r.o.Mode == ModeOffline && !n.typ.Mutates && r.o.CheckReads
	if r.o.Mode == ModeOffline && !n.typ.Mutates && !checkOnly {
		// Reads are not made offline: everything they would say is unknown.
		res.Status = StatusSucceeded
		r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: StatusSucceeded, Message: "not run offline"})
		return res, Unknown, nil
	}
	var env map[string]any // built only when an input holds an expression
	in := make(map[string]any, len(n.typ.Inputs))
	for _, spec := range n.typ.Inputs {
		if pt, ok := n.preds[spec.Name]; ok {
			if pt.static != nil {
				in[spec.Name] = pt.static.Source()
			} else {
				in[spec.Name] = r.dyn[pt].Source()
			}
			continue
		}
		if v, ok := n.with[spec.Name]; ok {
			if env == nil && !v.isC {
				env = r.scope(t.in, t.item, n, nil)
			}
			x, err := resolve(v, env)
			if err != nil {
				return r.failNow(res, fmt.Errorf("input %s: %w", spec.Name, err)), nil, nil
			}
			if v.secret != "" {
				r.redact.Add(x)
			}
			in[spec.Name] = x
		} else if spec.Default != nil {
			in[spec.Name] = spec.Default
		}
	}
	if r.o.Mode == ModeRun && n.needsOK && r.o.Approve != nil {
		r.approveOnce.Do(func() { r.approveErr = r.o.Approve(r.ctx, slices.Clone(r.p.approvals)) })
		if r.approveErr != nil {
			r.mu.Lock()
			r.stopping, r.failed = true, true
			r.mu.Unlock()
			return r.failNow(res, fmt.Errorf("not approved: %w", r.approveErr)), nil, nil
		}
	}
	if r.o.Mode == ModeRun && n.typ.Resources != nil {
		keys := n.typ.Resources(in)
		if len(keys) > 0 {
			// Waiting for a resource gives the slot back, so the holder can
			// always get one to finish.
			r.releaseSlot()
			release, err := r.locks.acquire(r.ctx, keys)
			if err == nil && r.o.Locks != nil {
				var shared func()
				shared, err = r.o.Locks.Acquire(r.ctx, keys, func(key, holder string) {
					r.emit(Event{Type: "step_progress", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: "waiting",
						Message: fmt.Sprintf("waiting for %s, which holds %s", holder, key)})
				})
				if err != nil {
					release()
				} else {
					inRun := release
					release = func() { shared(); inRun() }
				}
			}
			r.acquireSlot()
			if err != nil {
				if r.ctx.Err() != nil {
					res.Status = StatusNotRun
					return res, nil, nil
				}
				return r.failNow(res, err), nil, nil
			}
			defer release()
		}
	}

	sc := &StepContext{mode: r.o.Mode, wf: r.p.wf, runID: r.o.RunID, approvals: r.o.Approvals, stepID: n.full, item: res.Item, index: res.Index, itemKey: res.ItemKey, logger: r.log, polling: r.p.polling,
		release: r.releaseFn, reacquire: r.acquireFn}
	if sc.item == "" {
		sc.index = -1
	}
	sc.emit = r.emitFn
	sc.recorder = r.recorderFor(t, res)
	sc.predicate = func(name string) (Predicate, error) { return r.predicate(n, name) }

	r.emit(Event{Type: "step_started", Step: n.full, Item: res.Item, Index: idx(res.Index)})
	ctx := r.ctx
	if n.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.timeout)
		defer cancel()
	}
	var outs map[string]any
	var err error
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		sc.beginAttempt()
		actx, acancel := ctx, context.CancelFunc(func() {})
		if n.retry.attempt > 0 {
			actx, acancel = context.WithTimeout(ctx, n.retry.attempt)
		}
		outs, err = safeRun(actx, n.typ, sc, in)
		attemptTimedOut := err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() == context.DeadlineExceeded && r.ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s: %w", n.timeout, err)
			break
		}
		class, after := "error", time.Duration(0)
		if r.o.Classify != nil {
			class, after = r.o.Classify(err)
		}
		if attemptTimedOut {
			err = fmt.Errorf("attempt timed out after %s: %w", n.retry.attempt, err)
			// A mutation cut off after it was written may have taken
			// effect: that stays outcome_unknown, which is never retried.
			if class != ClassOutcomeUnknown {
				class = ClassTimeout
			}
		}
		if ferr := sc.attemptFailed(class, err); ferr != nil {
			// The recorder would answer a retry with the failed task again.
			err = fmt.Errorf("%w (and it cannot be sent again: %v)", err, ferr)
			break
		}
		if attempt >= n.retry.max || !n.retry.retries(class) || r.ctx.Err() != nil {
			break
		}
		d := n.retry.delay(attempt, after)
		r.emit(Event{Type: "step_retrying", Step: n.full, Item: res.Item, Index: idx(res.Index), Attempt: attempt, MaxAttempts: n.retry.max, Delay: d, Error: err.Error(), Message: class})
		if serr := sc.Sleep(ctx, d); serr != nil {
			if ctx.Err() == context.DeadlineExceeded && r.ctx.Err() == nil {
				err = fmt.Errorf("timed out after %s waiting to retry: %w", n.timeout, err)
			}
			break
		}
	}
	res.Duration = time.Since(res.Started)
	if err != nil && r.ctx.Err() != nil {
		// Cut short by an interrupt, not failed: say so, and let resume
		// run it again.
		res.Status = StatusInterrupted
		res.Error = "interrupted"
		res.Err = err
		r.record(res)
		r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: StatusInterrupted, Error: res.Error, Duration: res.Duration, Attempt: res.Attempts})
		return res, nil, nil
	}
	if err != nil {
		return r.failNow(res, err), nil, nil
	}
	if checkOnly {
		// Its inputs passed its checks; what it would read stays unknown.
		res.Status = StatusSucceeded
		r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: StatusSucceeded, Duration: res.Duration, Message: "inputs checked, not run offline"})
		return res, Unknown, nil
	}
	res.Status = StatusSucceeded
	if sc.Unchanged() {
		res.Status = StatusUnchanged
	}
	if outs == nil {
		outs = map[string]any{}
	}
	if len(n.outputs) > 0 {
		oenv := r.scope(t.in, t.item, n, outs)
		merged := make(map[string]any, len(outs)+len(n.outputs))
		for k, v := range outs {
			merged[k] = v
		}
		for _, k := range n.step.OutputsOrder {
			v, err := resolve(n.outputs[k], oenv)
			if err != nil {
				return r.failNow(res, fmt.Errorf("output %s: %w", k, err)), nil, nil
			}
			merged[k] = v
		}
		outs = merged
	}
	res.Outputs = outs
	r.record(res)
	r.emit(Event{Type: "step_finished", Step: n.full, Item: res.Item, Index: idx(res.Index), Status: res.Status, Duration: res.Duration, Attempt: res.Attempts})
	return res, outs, nil
}

func safeRun(ctx context.Context, t *StepType, sc *StepContext, in map[string]any) (out map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("step type %s panicked: %v\n%s", t.Name, p, debug.Stack())
		}
	}()
	return t.Run(ctx, sc, in)
}

func (r *run) predicate(n *node, name string) (Predicate, error) {
	pt, ok := n.preds[name]
	if !ok {
		return nil, fmt.Errorf("input %q of step %s is not a filter", name, n.full)
	}
	e := pt.static
	if e == nil {
		e = r.dyn[pt]
	}
	return func(elem any) (bool, error) {
		env := map[string]any{}
		if m, ok := elem.(map[string]any); ok {
			for k, v := range m {
				env[k] = v
			}
		}
		env[pt.spec.Var] = elem
		env["inputs"], env["vars"], env["env"] = r.inputs, r.vars, r.env
		v, err := e.Eval(env)
		if err != nil {
			return false, err
		}
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("filter %q must yield true or false, got %s", e.Source(), xexpr.Stringify(v))
		}
		return b, nil
	}, nil
}

// recorderFor is where the execution's mutations go: in plan modes the
// engine keeps them (in DAG order) and answers with placeholders, or with
// the caller's recorder.
func (r *run) recorderFor(t task, res StepResult) MutationRecorder {
	if r.o.Mode == ModeRun {
		return r.o.Recorder
	}
	key := append(slices.Clone(t.in.key), t.n.ord)
	if t.item != nil {
		key = append(key, t.item.index)
	}
	return &planRecorder{r: r, key: key, step: res.Step, item: res.Item, index: res.Index}
}

type planRecorder struct {
	r     *run
	key   []int
	step  string
	item  string
	index int
	seq   int
	at    map[string]int // mutation key -> its index in r.muts
}

func (p *planRecorder) Do(ctx context.Context, key string, m *Mutation) (any, error) {
	p.r.mu.Lock()
	rec := PlannedMutation{Step: p.step, Item: p.item, Index: p.index, Mutation: m, Key: key}
	if i, ok := p.at[key]; ok {
		// A retried attempt asks for the same mutation again: the plan
		// holds it once, as the latest attempt made it.
		p.r.muts[i].m = rec
	} else {
		p.seq++
		if p.at == nil {
			p.at = map[string]int{}
		}
		p.at[key] = len(p.r.muts)
		p.r.muts = append(p.r.muts, mutRec{key: append(slices.Clone(p.key), p.seq), m: rec})
	}
	p.r.mu.Unlock()
	if p.r.o.Recorder != nil {
		return p.r.o.Recorder.Do(ctx, key, m)
	}
	if m.Placeholder != nil {
		return m.Placeholder, nil
	}
	return Unknown, nil
}
