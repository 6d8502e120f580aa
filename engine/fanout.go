package engine

// Fan-outs: expanding for_each into items, starting items within the
// concurrency, batch (canary) and failure limits, and summarising them.
// Everything here runs under r.mu unless said.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/frameflow/frameflow/internal/termtext"
)

type fanoutItem struct {
	value    any
	label    string
	key      string
	index    int
	symbolic bool // the symbolic item of an unknown list
}

type fanout struct {
	instance    *graphInstance
	node        *node
	items       []fanoutItem
	outs        []any
	errs        []any // why each item failed ("" when it did not): outputs.errors
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
	// single: a call (uses: ./x.yaml) without for_each, run as one
	// unlabelled item; its result is the called playbook's outputs.
	single bool
	// callError: why the called playbook's item failed outside its steps
	// (its inputs could not be bound, an output could not be evaluated).
	callError string
	callErr   error // the same, unredacted, for StepResult.Err (classes)
	started   time.Time

	// Item results, by item index: a plain step's executions and the items
	// never started; a group's item instances and the failures of its
	// declared outputs. Kept in place, so results need neither sort keys
	// nor a sort.
	itemResults   []StepResult
	hasResult     []bool
	itemInstances []*graphInstance
	outputErrors  map[int]*StepResult
}

func (r *run) startFanout(f *fanout) {
	if f.node.body == nil {
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
		if f.node.body != nil {
			key := append(slices.Clone(f.instance.planOrder), f.node.topoIndex, it.index)
			instance := r.newInstance(f.node.body, f.instance, f, it, key)
			if f.node.callee != nil {
				if err := r.bindCall(instance, f, it); err != nil {
					r.callFailed(f, it, err)
					continue
				}
			}
			f.itemInstances[it.index] = instance
			r.startInstance(instance)
		} else {
			r.ready = append(r.ready, task{instance: f.instance, node: f.node, fan: f, item: it})
		}
	}
	r.dispatch()
}

func (r *run) itemDone(f *fanout, it *fanoutItem, status Status, out any, reason string) {
	f.running--
	f.finished++
	f.outs[it.index] = out
	f.errs[it.index] = r.itemError(status, reason)
	switch status {
	case StatusFailed:
		f.failures++
		if f.single {
			f.stopped, f.failed = true, true
			f.reason = fmt.Sprintf("the playbook %s failed", f.node.step.Uses)
			if f.callError != "" {
				f.reason += ": " + f.callError
			}
		} else if it.index < f.batch {
			f.stopped, f.failed = true, true
			f.reason = fmt.Sprintf("canary item %s failed", it.label)
		} else if f.failures > f.maxFailures() {
			f.stopped, f.failed = true, true
			f.reason = fmt.Sprintf("%d of %d items failed", f.failures, len(f.items))
		}
		if !f.node.step.ContinueOnError {
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
		r.fanoutDone(f)
		return
	}
	r.startFanout(f)
}

func (f *fanout) maxFailures() int {
	s := f.node.step
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

func (r *run) fanoutDone(f *fanout) {
	for i := f.next; i < len(f.items); i++ {
		it := &f.items[i]
		f.setResult(it.index, StepResult{Step: f.node.full, Item: r.itemLabel(f.instance, it), ItemKey: r.itemKey(f.instance, it), Index: it.index, Status: StatusNotRun})
		f.errs[it.index] = r.itemError(StatusNotRun, "")
		r.resultCount++
	}
	status := StatusSucceeded
	res := StepResult{Step: f.node.full, Index: -1, Started: f.started, Duration: time.Since(f.started)}
	switch {
	case f.failed:
		status = StatusFailed
		res.Error = f.reason
		res.Err = f.callErr
	case f.interrupted > 0:
		status = StatusInterrupted
		res.Error = fmt.Sprintf("%d of %d items interrupted", f.interrupted, len(f.items))
	case f.next < len(f.items) || f.notRun > 0:
		status = StatusNotRun
	}
	res.Status = status
	if f.instance.labelItem != nil {
		res.Item, res.ItemKey = f.instance.itemLabel, f.instance.itemKey
	}
	var out map[string]any
	total := len(f.items)
	if f.single {
		out, _ = f.outs[0].(map[string]any)
		total = 0
	} else {
		items := make([]any, len(f.outs))
		copy(items, f.outs)
		errs := make([]any, len(f.errs))
		copy(errs, f.errs)
		out = map[string]any{"items": items, "errors": errs, "count": len(f.items)}
	}
	res.Outputs = out
	r.emit(Event{Type: "step_finished", Step: f.node.full, Item: res.Item, Status: status, Duration: res.Duration, Error: res.Error, Total: total})
	work := r.finish(f.instance, f.node, res, out, nil)
	r.makeReady(work)
	r.dispatch()
}

// itemError is what outputs.errors says of an item that ended with status:
// "" when it did not fail or stop, else why, so a summary (a chat message,
// a ticket) can say why a store failed and not only where. The text is
// the step's error as events show it, passed again through the redaction
// list (it may have grown since: a secret computed later) and made one
// safe line (termtext.Line): it goes into messages other systems render.
func (r *run) itemError(status Status, reason string) string {
	switch status {
	case StatusFailed:
		if reason == "" {
			reason = "failed"
		}
		return termtext.Line(r.redact.Replace(reason))
	case StatusNotRun:
		return "not run"
	case StatusInterrupted:
		return "interrupted"
	}
	return ""
}

func (r *run) itemKey(instance *graphInstance, it *fanoutItem) string {
	if instance.itemKey == "" {
		return it.key
	}
	return instance.itemKey + "/" + it.key
}

func (r *run) itemLabel(instance *graphInstance, it *fanoutItem) string {
	if instance.itemLabel == "" {
		return it.label
	}
	return instance.itemLabel + "/" + it.label
}

// fanoutItems makes the items of a for_each value: each with its label and
// stable key (a repeated key gets its index), or one symbolic item for a
// list known only after apply.
func fanoutItems(v any) ([]fanoutItem, error) {
	for {
		switch list := v.(type) {
		case nil:
			return nil, nil
		case []any:
			items := make([]fanoutItem, 0, len(list))
			seen := make(map[string]bool, len(list))
			for i, e := range list {
				it := fanoutItem{value: e, index: i}
				it.label, it.key = itemIdentity(e, i)
				if IsUnknown(e) {
					it.label = EachItem
				}
				if seen[it.key] {
					it.key += "#" + strconv.Itoa(i)
				}
				seen[it.key] = true
				items = append(items, it)
			}
			return items, nil
		}
		if l, ok := asList(v); ok {
			v = l
			continue
		}
		if IsUnknown(v) {
			return []fanoutItem{{value: Unknown, label: EachItem, key: EachItem, symbolic: true}}, nil
		}
		return nil, fmt.Errorf("for_each must yield a list, got %T", v)
	}
}

// expand evaluates a fan-out's for_each into its items.
func (r *run) expand(instance *graphInstance, n *node) (*fanout, error) {
	if !n.fanout() { // a call (uses: ./x.yaml) run once
		f := &fanout{instance: instance, node: n, single: true, started: time.Now(), items: []fanoutItem{{}}, outs: make([]any, 1), errs: []any{""}, itemInstances: make([]*graphInstance, 1)}
		return f, nil
	}
	var v any
	var err error
	if n.forEachList != nil {
		v, err = resolve(n.forEachList, r.scope(instance, nil, n, nil))
	} else {
		v, err = n.forEach.Eval(r.scope(instance, nil, n, nil))
	}
	if err != nil {
		return nil, fmt.Errorf("for_each: %w", err)
	}
	f := &fanout{instance: instance, node: n, limit: n.step.Concurrency, batch: n.step.Batch, started: time.Now()}
	if f.items, err = fanoutItems(v); err != nil {
		return nil, err
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
	f.errs = make([]any, len(f.items))
	for i := range f.errs {
		f.errs[i] = ""
	}
	if n.body != nil {
		f.itemInstances = make([]*graphInstance, len(f.items))
	}
	return f, nil
}

// setResult records the result of item i (under r.mu).
func (f *fanout) setResult(i int, res StepResult) {
	if f.itemResults == nil {
		f.itemResults = make([]StepResult, len(f.items))
		f.hasResult = make([]bool, len(f.items))
	}
	f.itemResults[i], f.hasResult[i] = res, true
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
