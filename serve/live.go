package serve

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// Item states the live page shows.
const (
	stateQueued   = "queued"
	stateRunning  = "running"
	stateWaiting  = "waiting"
	stateRetrying = "retrying"
	stateDone     = "done"
	stateFailed   = "failed"
	stateSkipped  = "skipped"
)

// liveRuns are the runs whose events this process sees.
type liveRuns struct {
	mu   sync.Mutex
	runs map[string]*liveRun
}

func newLiveRuns() *liveRuns { return &liveRuns{runs: map[string]*liveRun{}} }

func (l *liveRuns) get(id string) *liveRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[id]
}

func (l *liveRuns) add(r *liveRun) {
	l.mu.Lock()
	l.runs[r.id] = r
	l.mu.Unlock()
}

func (l *liveRuns) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.runs {
		r.finish("interrupted")
	}
}

// liveRun folds a run's engine events into one row per item (a store of the
// rollout) and keeps every change numbered, so that an event stream can
// start anywhere and a page rendered at change N continues from N.
type liveRun struct {
	id     string
	redact func(string) string
	chains map[string][]string // a top-level group's id -> the full ids of its steps

	mu      sync.Mutex
	rows    []*row
	byKey   map[string]*row
	changes []rowChange // changes[i] has Seq i+1
	status  string      // running until the run ends
	errText string
	counts  counts        // kept as rows change: a 2,000-item run does not recount per event
	wake    chan struct{} // closed and replaced at every change

	// mayWait: the run's playbook may have an approval gate, so its pages
	// read the gates every second; false only when the playbook is known
	// and has none.
	mayWait bool
}

// row is one item's progress: a store's chain, or a top-level step.
type row struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Step   string `json:"step"`   // the step it is at
	State  string `json:"state"`  // queued, running, waiting, retrying, done, failed, skipped
	Detail string `json:"detail"` // what it waits for, why it retries or failed
	ok     map[string]bool
}

// rowChange is one numbered change: a row's new state, or the run's end.
type rowChange struct {
	Seq    int    `json:"seq"`
	Row    *row   `json:"row,omitempty"`
	Run    string `json:"run,omitempty"`
	Error  string `json:"error,omitempty"`
	Counts counts `json:"counts"`
}

type counts struct {
	Total   int `json:"total"`
	Queued  int `json:"queued"`
	Active  int `json:"active"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

func newLiveRun(id string, wf *schema.Workflow, redact func(string) string) *liveRun {
	r := &liveRun{id: id, redact: redact, chains: map[string][]string{}, byKey: map[string]*row{},
		status: "running", wake: make(chan struct{}), mayWait: wf == nil || mayWait(wf.Steps)}
	if wf != nil {
		for _, st := range wf.Steps {
			if st.IsGroup() {
				r.chains[st.ID] = leafSteps(st.Steps, st.ID+".")
			}
		}
	}
	return r
}

// mayWait tells whether steps may pause at an approval gate: one uses
// approval, or calls another playbook (uses: ./other.yaml), which may.
func mayWait(steps []*schema.Step) bool {
	for _, st := range steps {
		if st.Uses == "approval" || strings.Contains(st.Uses, "/") || strings.HasSuffix(st.Uses, ".yaml") || mayWait(st.Steps) {
			return true
		}
	}
	return false
}

func leafSteps(ss []*schema.Step, prefix string) []string {
	var out []string
	for _, st := range ss {
		if st.IsGroup() {
			out = append(out, leafSteps(st.Steps, prefix+st.ID+".")...)
			continue
		}
		out = append(out, prefix+st.ID)
	}
	return out
}

// rowKey places a step execution in its row: a group's item is one row
// whatever step of the chain it is at.
func rowKey(step, item string) (key, label string) {
	top := step
	if i := strings.IndexByte(step, '.'); i >= 0 {
		top = step[:i]
	}
	if item == "" {
		return top, top
	}
	return top + "[" + item + "]", item
}

// expect adds queued rows for items known before they start (a plan's).
func (r *liveRun) expect(step, item string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key, label := rowKey(step, item)
	if _, ok := r.byKey[key]; ok {
		return
	}
	r.addRow(key, label)
}

// addRow adds a queued row; r.mu is held.
func (r *liveRun) addRow(key, label string) *row {
	rw := &row{Key: key, Label: label, State: stateQueued, ok: map[string]bool{}}
	r.rows = append(r.rows, rw)
	r.byKey[key] = rw
	r.counts.Total++
	r.counts.bump(stateQueued, 1)
	return rw
}

func (c *counts) bump(state string, d int) {
	switch state {
	case stateQueued:
		c.Queued += d
	case stateDone:
		c.Done += d
	case stateFailed:
		c.Failed += d
	case stateSkipped:
		c.Skipped += d
	default:
		c.Active += d
	}
}

// Event is the engine's event sink for this run.
func (r *liveRun) Event(ev engine.Event) {
	switch ev.Type {
	case "step_started", "step_progress", "step_retrying", "step_finished":
	case "run_finished":
		r.finish(string(ev.Status))
		return
	default:
		return
	}
	if ev.Item == "" && ev.Total > 0 {
		return // a fan-out as a whole: its items have their own rows
	}
	if ev.Item == "" && strings.Contains(ev.Step, ".") {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key, label := rowKey(ev.Step, ev.Item)
	rw := r.byKey[key]
	if rw == nil {
		rw = r.addRow(key, label)
	}
	if rw.State == stateFailed && ev.Type != "step_finished" {
		return
	}
	before := rw.State
	short := ev.Step
	if i := strings.IndexByte(short, '.'); i >= 0 {
		short = short[i+1:]
	}
	rw.Step = short
	r.update(rw, key, ev)
	r.counts.bump(before, -1)
	r.counts.bump(rw.State, 1)
	r.changed(rw)
}

// update sets rw's state and detail from a step event.
func (r *liveRun) update(rw *row, key string, ev engine.Event) {
	switch ev.Type {
	case "step_started":
		rw.State, rw.Detail = stateRunning, ""
	case "step_progress":
		rw.State, rw.Detail = stateWaiting, r.redact(ev.Message)
	case "step_retrying":
		rw.State = stateRetrying
		rw.Detail = r.redact(fmt.Sprintf("attempt %d of %d failed (%s): %s; next in %s", ev.Attempt, ev.MaxAttempts, ev.Message, ev.Error, ev.Delay.Round(time.Millisecond)))
	case "step_finished":
		r.finished(rw, key, ev)
	}
}

// finished sets rw's state from a step's end: done only when the row's
// whole chain finished well.
func (r *liveRun) finished(rw *row, key string, ev engine.Event) {
	switch ev.Status {
	case engine.StatusSucceeded, engine.StatusUnchanged, engine.StatusSkipped:
		rw.ok[ev.Step] = true
		rw.Detail = ""
		if ev.Status == engine.StatusUnchanged {
			rw.Detail = "already in place"
		}
		if ev.Message != "" {
			rw.Detail = r.redact(ev.Message)
		}
		rw.State = stateQueued // until the chain's next step starts
		if r.chainDone(key, ev.Step, rw) {
			rw.State = stateDone
			if ev.Status == engine.StatusSkipped && len(rw.ok) == 1 {
				rw.State = stateSkipped
			}
		}
	case engine.StatusFailed:
		rw.State, rw.Detail = stateFailed, r.redact(ev.Error)
	default: // not_run: the run stopped before it
		rw.State, rw.Detail = stateQueued, "not run"
	}
}

// chainDone: every step of the row's chain finished well.
func (r *liveRun) chainDone(key, step string, rw *row) bool {
	top := step
	if i := strings.IndexByte(step, '.'); i >= 0 {
		top = step[:i]
	}
	chain, ok := r.chains[top]
	if !ok {
		return true
	}
	for _, s := range chain {
		if !rw.ok[s] {
			return false
		}
	}
	return true
}

// changed numbers a change; r.mu is held.
func (r *liveRun) changed(rw *row) {
	cp := *rw
	cp.ok = nil
	r.changes = append(r.changes, rowChange{Seq: len(r.changes) + 1, Row: &cp, Counts: r.countsLocked()})
	close(r.wake)
	r.wake = make(chan struct{})
}

func (r *liveRun) finish(status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status != "running" {
		return
	}
	if status == "" {
		status = "failed"
	}
	r.status = status
	r.changes = append(r.changes, rowChange{Seq: len(r.changes) + 1, Run: status, Error: r.errText, Counts: r.countsLocked()})
	close(r.wake)
	r.wake = make(chan struct{})
}

// fail ends a run that stopped with an error of its own (not an event).
func (r *liveRun) fail(err error) {
	r.mu.Lock()
	r.errText = r.redact(err.Error())
	r.mu.Unlock()
	r.finish("failed")
}

func (r *liveRun) countsLocked() counts { return r.counts }

// state is the run's status: running until it ends.
func (r *liveRun) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// snapshot is the run as a page shows it, and the change it is current to.
type snapshot struct {
	Rows   []row
	Status string
	Error  string
	Counts counts
	Seq    int
}

func (r *liveRun) snapshot() snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshot{Rows: make([]row, len(r.rows)), Status: r.status, Error: r.errText, Counts: r.countsLocked(), Seq: len(r.changes)}
	for i, rw := range r.rows {
		s.Rows[i] = *rw
		s.Rows[i].ok = nil
	}
	return s
}

// since returns the changes after seq, a channel closed at the next change,
// and whether the run has ended.
func (r *liveRun) since(seq int) ([]rowChange, <-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq < 0 || seq > len(r.changes) {
		seq = 0
	}
	return r.changes[seq:len(r.changes):len(r.changes)], r.wake, r.status != "running"
}

// seed starts a resumed run's rows where its journal left them.
func (r *liveRun) seed(rw row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[rw.Key]; ok {
		return
	}
	n := r.addRow(rw.Key, rw.Label)
	r.counts.bump(stateQueued, -1)
	n.Step, n.State, n.Detail = rw.Step, rw.State, rw.Detail
	if n.State == stateFailed {
		// It runs again: queued until it starts.
		n.State = stateQueued
	}
	r.counts.bump(n.State, 1)
}
