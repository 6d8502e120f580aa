package engine

// The scheduler: instances of a graph, the ready queue and its slots,
// settling a finished node's dependants (skip and fail propagation), and the
// workers that run ready tasks. Everything here runs under r.mu unless said.

import xexpr "github.com/frameflow/frameflow/engine/expr"

// graphInstance is one instance of a graph: the top level, or one item of a group.
type graphInstance struct {
	graph      *graph
	parent     *graphInstance
	fan        *fanout
	item       *fanoutItem
	nodeStates []nodeState
	results    []StepResult // by node index (graph order), where nodeStates says finished
	unfinished int
	failed     bool
	planOrder  []int  // sort key prefix of the plan's mutations
	itemKey    string // item key, joined with "/" through nested fan-outs
	itemLabel  string // item label, joined likewise
	// labelItem is the item results are labelled with: item, or for a
	// called playbook run once (no for_each), the item of its caller.
	labelItem *fanoutItem
	// call holds a called playbook's inputs, vars and env, bound from the
	// calling step's with: (nil: not the top graph of a called playbook).
	call *playbookValues
}

// playbookValues are what inputs, vars and env hold in one playbook's
// expressions.
type playbookValues struct {
	inputs, vars, env map[string]any
	// filters are a called playbook's filters given by an expression,
	// compiled from the inputs bound for this call (nil: none).
	filters map[*filterInput]*xexpr.Expr
}

type nodeState struct {
	pending  int
	status   Status
	out      any // outputs as expressions see them (a map, or Unknown)
	skip     bool
	notRun   bool
	finished bool
	fan      *fanout // the node's fan-out once expanded: its items' results
}

type task struct {
	instance *graphInstance
	node     *node
	fan      *fanout // a plain fan-out's item
	item     *fanoutItem
}

// returning is a slot queue entry for an execution waiting to get its slot
// back (acquireSlot) rather than a task to start: its channel is the next
// of r.returning, closed when it has the slot. (A channel in every task
// would make every queued task larger; a 100,000-item fan-out queues them
// all.)
func (t task) returning() bool { return t.node == nil }

func (r *run) newInstance(g *graph, parent *graphInstance, fan *fanout, item *fanoutItem, key []int) *graphInstance {
	instance := &graphInstance{graph: g, parent: parent, fan: fan, item: item, labelItem: item, nodeStates: make([]nodeState, len(g.nodes)), results: make([]StepResult, len(g.nodes)), unfinished: len(g.nodes), planOrder: key}
	if fan != nil && fan.single {
		// A call without for_each adds no item to names: its steps are
		// labelled, and journaled, with the item of the calling step.
		instance.labelItem, instance.itemKey, instance.itemLabel = parent.labelItem, parent.itemKey, parent.itemLabel
	} else if parent != nil && item != nil {
		instance.itemKey, instance.itemLabel = item.key, item.label
		if parent.itemKey != "" {
			instance.itemKey = parent.itemKey + "/" + item.key
			instance.itemLabel = parent.itemLabel + "/" + item.label
		}
	}
	for i, n := range g.nodes {
		instance.nodeStates[i].pending = len(n.deps)
	}
	return instance
}

func (r *run) startInstance(instance *graphInstance) {
	if len(instance.graph.nodes) == 0 {
		r.instanceDone(instance)
		return
	}
	var work []task
	for _, n := range instance.graph.topo {
		if len(n.deps) == 0 {
			work = append(work, task{instance: instance, node: n})
		}
	}
	r.makeReady(work)
	r.dispatch()
}

// makeReady settles nodes whose dependencies are all finished: those that
// cannot run finish at once (iteratively, so a long chain of skips does not
// recurse), the others queue for a slot.
func (r *run) makeReady(work []task) {
	for i := 0; i < len(work); i++ {
		t := work[i]
		st := &t.instance.nodeStates[t.node.index]
		switch {
		case r.stopping || t.instance.failed || st.notRun:
			work = r.finish(t.instance, t.node, StepResult{Status: StatusNotRun}, nil, work)
		case st.skip:
			work = r.finish(t.instance, t.node, StepResult{Status: StatusSkipped}, nil, work)
		default:
			r.ready = append(r.ready, t)
		}
	}
}

// dispatch hands free slots to the queue in order: a task starts on a new
// worker, a waiting execution is woken. One queue, first come first
// served: when returning executions went first, a store's next step could
// wait in the queue for as long as task waits kept coming due (most of a
// second per step at 2,000 stores).
func (r *run) dispatch() {
	for r.inflight < r.limit {
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
		if t.returning() {
			close(r.returning[0])
			r.returning[0] = nil
			r.returning = r.returning[1:]
			continue
		}
		r.startWorker(t)
	}
}

// maxIdleWorkers bounds the workers kept parked for reuse: enough for a
// slot queue's worth of tasks, not one per item of a large fan-out.
const maxIdleWorkers = 64

// startWorker runs t on a parked worker when there is one, else on a new
// goroutine (under r.mu). A goroutine that ran a step has grown its stack
// through the HTTP client and the journal; a new one grows it again,
// copying it twice or three times (~2% of a 2,000-store rollout's CPU:
// every step that waits for a task gives its slot to a new worker).
func (r *run) startWorker(t task) {
	if n := len(r.idleWorkers); n > 0 {
		w := r.idleWorkers[n-1]
		r.idleWorkers = r.idleWorkers[:n-1]
		w <- t // buffered: never blocks under r.mu
		return
	}
	go r.worker(t)
}

// parkWorker keeps the calling worker for a later task and returns it, or
// false when the run is over or enough workers are parked. Called with
// r.mu held; returns with it released.
func (r *run) parkWorker(w chan task) (task, bool) {
	if r.over || len(r.idleWorkers) >= maxIdleWorkers {
		r.mu.Unlock()
		return task{}, false
	}
	r.idleWorkers = append(r.idleWorkers, w)
	r.mu.Unlock()
	t, ok := <-w
	return t, ok
}

// releaseWorkers ends the parked workers once the run is over (under r.mu).
func (r *run) releaseWorkers() {
	r.over = true
	for _, w := range r.idleWorkers {
		close(w)
	}
	r.idleWorkers = nil
}

func (r *run) releaseSlot() {
	r.mu.Lock()
	r.inflight--
	r.dispatch()
	r.mu.Unlock()
}

// acquireSlot takes a slot back, queueing behind whatever asked first.
func (r *run) acquireSlot() {
	r.mu.Lock()
	if r.inflight < r.limit && r.head >= len(r.ready) {
		r.inflight++
		r.mu.Unlock()
		return
	}
	w := make(chan struct{})
	r.ready = append(r.ready, task{})
	r.returning = append(r.returning, w)
	r.mu.Unlock()
	<-w
}

// finish records a node's end in its instance and settles its dependants.
// It returns work with the dependants that became ready appended.
func (r *run) finish(instance *graphInstance, n *node, res StepResult, out any, work []task) []task {
	st := &instance.nodeStates[n.index]
	if st.finished {
		return work
	}
	st.finished = true
	st.status = res.Status
	st.out = out
	if res.Step == "" {
		res.Step = n.full
		res.Index = -1
		if instance.labelItem != nil {
			res.Item, res.ItemKey, res.Index = instance.itemLabel, instance.itemKey, instance.labelItem.index
		}
	}
	instance.results[n.topoIndex] = res
	r.resultCount++
	if res.Status == StatusFailed && !n.step.ContinueOnError {
		// Fail-fast: at top level the run stops starting steps; inside a
		// group item only that item stops (its fan-out decides the rest).
		if instance.fan != nil {
			instance.failed = true
		} else {
			r.stopping = true
			r.failed = true
		}
	}
	for _, d := range n.dependants {
		ds := &instance.nodeStates[d]
		dn := instance.graph.nodes[d]
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
			work = append(work, task{instance: instance, node: dn})
		}
	}
	instance.unfinished--
	if instance.unfinished == 0 {
		r.instanceDone(instance)
	}
	return work
}

// instanceDone ends an instance: the run, or one item of a group.
func (r *run) instanceDone(instance *graphInstance) {
	if instance.fan == nil {
		r.releaseWorkers()
		close(r.done)
		return
	}
	status := StatusSucceeded
	out := map[string]any{}
	reason := ""
	for i, n := range instance.graph.nodes {
		out[n.id] = instance.nodeStates[i].out
		if res := instance.results[n.topoIndex]; res.Status == StatusFailed && reason == "" {
			// The item's first failing step (in plan order) and why.
			reason = n.id + ": " + res.Error
		}
		switch st := instance.nodeStates[i].status; {
		case st == StatusInterrupted && status != StatusFailed:
			status = StatusInterrupted
		case st == StatusNotRun && status == StatusSucceeded:
			status = StatusNotRun
		}
	}
	if instance.failed {
		status = StatusFailed
	}
	fn := instance.fan.node
	if fn.callee != nil {
		// A called playbook's result is its declared outputs alone; when
		// it did not succeed, those that read only steps' statuses.
		if status == StatusSucceeded {
			var err error
			if out, err = r.playbookOutputs(instance, fn.callee); err != nil {
				status = StatusFailed
				r.failed = true
				instance.fan.callError = r.redact.Replace(err.Error())
				reason = instance.fan.callError
			}
		} else {
			out = r.statusOutputs(instance, fn.callee)
		}
	} else if status == StatusSucceeded && len(fn.outputs) > 0 {
		env := r.scope(instance, nil, fn, nil)
		for _, k := range fn.step.OutputsOrder {
			v, err := resolve(fn.outputs[k], env)
			if err != nil {
				status = StatusFailed
				r.failed = true
				if instance.fan.outputErrors == nil {
					instance.fan.outputErrors = map[int]*StepResult{}
				}
				instance.fan.outputErrors[instance.item.index] = &StepResult{Step: fn.full, Item: instance.itemLabel, ItemKey: instance.itemKey, Index: instance.item.index, Status: StatusFailed, Error: r.redact.Replace("output " + k + ": " + err.Error())}
				reason = instance.fan.outputErrors[instance.item.index].Error
				r.resultCount++
				break
			}
			out[k] = v
		}
	}
	r.itemDone(instance.fan, instance.item, status, out, reason)
}

// worker runs tasks holding a slot: a node's if and for_each, or one step
// execution. When it is done it takes the next ready task itself, so a
// chain of steps runs on one goroutine (and one grown stack) instead of
// starting a goroutine per step.
func (r *run) worker(t task) {
	var parked chan task // made when this worker first parks
	for {
		res, out, fan := r.executeTask(t)
		r.mu.Lock()
		// The slot stays counted while the result settles, so the work it
		// makes ready (the next item of a fan-out) comes back to this
		// goroutine below instead of starting a new one per item.
		switch {
		case fan != nil:
			f := fan
			t.instance.nodeStates[t.node.index].fan = f
			if len(f.items) == 0 {
				r.fanoutDone(f)
			} else {
				r.startFanout(f)
			}
		case t.fan != nil:
			t.fan.setResult(t.item.index, res)
			r.resultCount++
			r.itemDone(t.fan, t.item, res.Status, out, res.Error)
		default:
			work := r.finish(t.instance, t.node, res, out, nil)
			r.makeReady(work)
		}
		r.inflight--
		next, ok := r.takeReady()
		r.dispatch()
		if !ok {
			if parked == nil {
				parked = make(chan task, 1)
			}
			if next, ok = r.parkWorker(parked); !ok {
				return
			}
			t = next
			continue
		}
		r.mu.Unlock()
		t = next
	}
}

// takeReady pops the queue's first entry for the calling worker when a
// slot is free and that entry is a task to start (under r.mu); a waiting
// execution first in the queue is dispatch's to wake.
func (r *run) takeReady() (task, bool) {
	if r.inflight >= r.limit || r.head >= len(r.ready) || r.ready[r.head].returning() {
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
	return r.stopping || t.instance.failed || (t.fan != nil && t.fan.stopped)
}

// collect appends the results of an instance in report order: graph order,
// a fan-out's summary before its items, items by index, a group item's
// output failure before its steps (under r.mu, once the run is done).
func (r *run) collect(instance *graphInstance, out []StepResult) []StepResult {
	for _, n := range instance.graph.topo {
		st := &instance.nodeStates[n.index]
		if st.finished {
			out = append(out, instance.results[n.topoIndex])
		}
		f := st.fan
		if f == nil {
			continue
		}
		for i := range f.items {
			if f.hasResult != nil && f.hasResult[i] {
				out = append(out, f.itemResults[i])
			}
			if e := f.outputErrors[i]; e != nil {
				out = append(out, *e)
			}
			if f.itemInstances != nil && f.itemInstances[i] != nil {
				out = r.collect(f.itemInstances[i], out)
			}
		}
	}
	return out
}
