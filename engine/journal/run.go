package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/jsonvalue"
)

// currentUser names who started an attempt, for `runs` across machines.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// Run is one run's journal, held under its lock. Its methods are safe for
// concurrent use by the engine's goroutines.
type Run struct {
	store      *Store
	opts       Options
	meta       RunMeta
	attempt    int
	prevStatus string

	mu       sync.Mutex
	log      Log
	ledger   EffectLedger // the log's, when it shares mutations between runs
	closed   bool
	finished bool
	steps    map[stepKey]stepState
	muts     map[string]*mutState
	spans    map[int]Interval // per attempt: its first and last record's time
	lastRec  time.Time        // when this process last queued a record
	stopBeat chan struct{}    // closed by Close: ends the heartbeat

	// A resumed attempt is journaled with its first record, not when the
	// run is opened: a resume refused before it journals anything (an
	// approval declined, a changed workflow, bad marks) leaves no attempt
	// that would read as crashed, and the next one keeps its number.
	startMu      sync.Mutex
	startRec     *record     // the attempt record still to write (nil: written)
	startPending atomic.Bool // startRec != nil, read without startMu

	// Group commit: lines are queued under mu as they come and numbered;
	// one Append (a write and an fsync, or one database transaction), made
	// without holding mu, covers every line queued before it started, and
	// wakes (synced) the writers it covered. Writers arriving meanwhile
	// queue for the next one, so a busy run makes few, larger commits.
	synced  sync.Cond // L is &mu
	pending *Batch    // lines queued, not yet handed to the log
	spare   *Batch    // the other buffer: the log writes one while the next fills
	written uint64    // lines queued by this process
	durable uint64    // lines covered by a successful Append
	syncing bool      // an Append is under way
	broken  error     // an Append failed: the run takes no more records
}

type stepKey struct{ step, item string }

type stepState struct {
	status  string
	outputs json.RawMessage
}

// mutState is what the journal knows of one mutation key.
type mutState struct {
	state        string // the type of its last record: intent, result, unknown, failed, not_sent
	typ          string
	method, path string
	identity     string          // the intent's request identity (method, path, query, body as written); "" in old journals
	witness      json.RawMessage // the intent's Mutation.Witness
	result       json.RawMessage
	evidence     string // sent: what proved it was sent
	busy         bool   // a Do for this key is under way in this process
}

func newRun(s *Store, meta RunMeta, l Log, attempt int) *Run {
	r := &Run{store: s, opts: s.opts, meta: meta, attempt: attempt, log: l, pending: &Batch{}, spare: &Batch{},
		steps: map[stepKey]stepState{}, muts: map[string]*mutState{}, spans: map[int]Interval{}}
	r.ledger, _ = l.(EffectLedger)
	r.stopBeat = make(chan struct{})
	go r.heartbeat(HeartbeatEvery)
	r.synced.L = &r.mu
	return r
}

// ID is the run's id.
func (r *Run) ID() string { return r.meta.RunID }

// Meta is the run's header as recorded (on resume: as the first attempt wrote it).
func (r *Run) Meta() RunMeta { return r.meta }

// Attempt is this process's attempt number: 1 for a new run, 2 for the
// first resume, and so on.
func (r *Run) Attempt() int { return r.attempt }

// PreviousStatus is how the attempt before this one ended (succeeded,
// failed, interrupted, crashed), "" for a new run. A resume of a succeeded
// run has nothing to do.
func (r *Run) PreviousStatus() string { return r.prevStatus }

func (r *Run) attemptRecord(approver string) *record {
	host, _ := os.Hostname()
	return &record{T: recAttempt, PID: os.Getpid(), Host: host, User: currentUser(), Approver: approver}
}

// append writes one record and returns once it is durable: an fsync that
// began after the line was written has returned. The caller must not hold
// r.mu. What is applied to the in-memory state is the record as written,
// redacted, so that this process and a later resume see the same.
func (r *Run) append(rec *record) error { return r.appendIf(rec, nil) }

// deferAttempt holds a resumed attempt's record until the first record of
// that attempt is written.
func (r *Run) deferAttempt(rec *record) {
	r.startRec = rec
	r.startPending.Store(true)
}

// StartAttempt journals a resumed attempt as started: the caller has
// accepted it (inputs, decisions, approval) and is about to run it. Any
// record of the attempt starts it too; for a new run it does nothing.
func (r *Run) StartAttempt() error {
	if !r.startPending.Load() {
		return nil
	}
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.startRec == nil {
		return nil
	}
	if err := r.appendRecord(r.startRec, nil); err != nil {
		return err
	}
	r.startRec = nil
	r.startPending.Store(false)
	return nil
}

// appendIf is append with a check made under r.mu just before the write
// (Finish: not finished yet); its error is returned and nothing written.
func (r *Run) appendIf(rec *record, check func() error) error {
	if err := r.StartAttempt(); err != nil {
		return err
	}
	return r.appendRecord(rec, check)
}

func (r *Run) appendRecord(rec *record, check func() error) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	if rec.Attempt == 0 && rec.T != recHeader {
		rec.Attempt = r.attempt
	}
	// Encoded before taking the lock: it is most of a record's CPU, and
	// concurrent writers need not queue for it.
	line, written, err := encode(rec, r.opts.Redact)
	if err != nil {
		return fmt.Errorf("journal: encode %s record: %w", rec.T, err)
	}
	if written.T == recIntent {
		// The request's identity is computed from the record as written
		// (redacted), so it reveals nothing the line does not, and is
		// added to the line: other runs sharing the storage look for it.
		id, err := r.identity(written)
		if err != nil {
			return err
		}
		written.Identity = id
		line = append(append(line[:len(line)-2:len(line)-2], `,"identity":"`+id+`"}`...), '\n')
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("journal: run is closed")
	}
	if r.broken != nil {
		return r.broken
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	r.lastRec = written.Time
	r.pending.Data = append(r.pending.Data, line...)
	r.pending.Lines = append(r.pending.Lines, LineInfo{End: len(r.pending.Data), Kind: written.T, Key: written.Key, Identity: written.Identity})
	r.written++
	r.apply(written)
	return r.waitDurable(r.written)
}

// waitDurable returns once line n is covered by an Append, making that
// Append itself when none is under way. Called with r.mu held; it is
// released while the Append runs, so that other writers queue their lines
// meanwhile and the next Append covers them all.
func (r *Run) waitDurable(n uint64) error {
	for r.durable < n {
		if r.broken != nil {
			return r.broken
		}
		if r.closed {
			return errors.New("journal: run closed before its record was synced")
		}
		if r.syncing {
			r.synced.Wait()
			continue
		}
		r.flushOnce(true)
	}
	return nil
}

// flushOnce hands every queued line to the log in one Append. Called with
// r.mu held; unlock says whether to release it during the Append.
func (r *Run) flushOnce(unlock bool) {
	r.syncing = true
	upTo, buf := r.written, r.pending
	r.pending, r.spare = r.spare, nil
	r.pending.Data, r.pending.Lines = r.pending.Data[:0], r.pending.Lines[:0]
	if unlock {
		r.mu.Unlock()
	}
	err := r.log.Append(buf)
	if unlock {
		r.mu.Lock()
	}
	r.spare = buf
	r.syncing = false
	if err != nil {
		// The log kept only what was durable before. Take no more records:
		// every writer still waiting gets the error, and nothing whose
		// intent it held is sent.
		r.broken = fmt.Errorf("%w; the run journal takes no more records", err)
	} else {
		r.durable = upTo
	}
	r.synced.Broadcast()
}

// HeartbeatEvery is how often a run that wrote nothing else records that
// it is still running (an "alive" record): a run waiting two hours on a
// task must not look dead to another run deciding whose work it may adopt
// (docs/state.md). Its records then tell when each attempt ran to within
// this interval.
var HeartbeatEvery = 15 * time.Second

func (r *Run) heartbeat(every time.Duration) {
	t := time.NewTicker(every / 3)
	defer t.Stop()
	for {
		select {
		case <-r.stopBeat:
			return
		case now := <-t.C:
			r.mu.Lock()
			// An attempt not started yet (a resume asking its person)
			// has nothing to keep alive and must not start it either.
			due := now.Sub(r.lastRec) >= every && !r.closed && r.broken == nil && !r.startPending.Load()
			r.mu.Unlock()
			if due {
				_ = r.append(&record{T: recAlive})
			}
		}
	}
}

// finishedStatus: a step that ended so is not run again on resume.
func finishedStatus(s string) bool {
	return s == "succeeded" || s == "unchanged" || s == "skipped"
}

// apply folds one record into the in-memory state.
func (r *Run) apply(rec *record) {
	if rec.Attempt > 0 {
		sp := r.spans[rec.Attempt]
		if sp.Start.IsZero() || rec.Time.Before(sp.Start) {
			sp.Start = rec.Time
		}
		if rec.Time.After(sp.End) {
			sp.End = rec.Time
		}
		r.spans[rec.Attempt] = sp
	}
	switch rec.T {
	case recStep:
		if finishedStatus(rec.Status) {
			r.steps[stepKey{rec.Step, rec.ItemKey}] = stepState{status: rec.Status, outputs: rec.Outputs}
		}
	case recIntent, recResult, recUnknown, recFailed, recNotSent, recSent, recDecided:
		st := r.muts[rec.Key]
		if st == nil {
			st = &mutState{}
			r.muts[rec.Key] = st
		}
		st.state = rec.T
		if rec.T == recDecided {
			applyDecision(st, rec)
		}
		switch rec.T {
		case recSent:
			st.evidence = rec.Error
		case recIntent:
			// A copy: the witness may be the caller's Mutation.Witness.
			st.typ, st.method, st.path, st.witness = rec.Type, rec.Method, rec.Path, bytes.Clone(rec.Witness)
			st.identity = rec.Identity
			st.result = nil
		case recResult:
			st.result = rec.Result
			if st.result == nil {
				st.result = json.RawMessage("null")
			}
		}
	case recFinish:
		if rec.Attempt == r.attempt {
			r.finished = true
		}
	}
}

// Lookup reports the last finished execution (succeeded, unchanged or
// skipped) of a step or of one item of it, with its outputs. It implements
// engine.StepJournal: the engine does not run such a step again on resume.
func (r *Run) Lookup(stepID, itemKey string) (string, map[string]any, bool) {
	r.mu.Lock()
	st, ok := r.steps[stepKey{r.redact(stepID), r.redact(itemKey)}]
	r.mu.Unlock()
	if !ok {
		return "", nil, false
	}
	var out map[string]any
	if len(st.outputs) > 0 {
		// Decoded afresh each time: callers may change what they get.
		if err := json.Unmarshal(st.outputs, &out); err != nil {
			return "", nil, false
		}
	}
	return st.status, out, true
}

// Record journals the end of a step or of one item of it. Outputs are kept
// only for finished executions: they are what a resume restores, and a
// failed step runs again anyway.
func (r *Run) Record(res engine.StepResult) error {
	if res.Step == "" || res.Status == "" {
		return errors.New("journal: step result without step or status")
	}
	rec := &record{T: recStep, Step: res.Step, Item: res.Item, ItemKey: res.ItemKey, Status: string(res.Status),
		Attempts: res.Attempts, DurationMS: res.Duration.Milliseconds(), Error: res.Error}
	if !res.Started.IsZero() {
		t := res.Started.UTC()
		rec.Started = &t
	}
	if res.Index >= 0 && (res.Item != "" || res.ItemKey != "") {
		i := res.Index
		rec.Index = &i
	}
	if finishedStatus(string(res.Status)) && len(res.Outputs) > 0 {
		// Outputs are generic values: jsonvalue writes them as Marshal
		// does, without reflection; anything else takes Marshal.
		b, ok := jsonvalue.Append(make([]byte, 0, 512), res.Outputs)
		if !ok {
			var err error
			if b, err = json.Marshal(res.Outputs); err != nil {
				return fmt.Errorf("journal: outputs of %s: %w", res.Step, err)
			}
		}
		rec.Outputs, rec.ownJSON = b, true
	}
	return r.append(rec)
}

// Waiting journals that the approval step key (ApprovalKey) started waiting
// for a person's decision, asked message, until deadline: `runs` shows the
// run as waiting there and says how to approve. Waited ends it.
func (r *Run) Waiting(key, message string, deadline time.Time) error {
	return r.WaitingFor(key, message, deadline, nil)
}

// WaitingFor is Waiting for a gate that names who may decide on it, so
// that `runs show`, the web page and `frameflow approve` know them.
func (r *Run) WaitingFor(key, message string, deadline time.Time, approvers []string) error {
	if key == "" {
		return errors.New("journal: waiting without an approval key")
	}
	d := deadline.UTC()
	return r.append(&record{T: recWaiting, Step: key, Message: message, Deadline: &d, Approvers: approvers})
}

// Waited journals that the wait of approval step key ended, however it did
// (decided, timed out, interrupted).
func (r *Run) Waited(key string) error {
	return r.append(&record{T: recWaited, Step: key})
}

// Finish records how this attempt ended: succeeded, failed or interrupted.
func (r *Run) Finish(status string) error {
	switch status {
	case StatusSucceeded, StatusFailed, StatusInterrupted:
	default:
		return fmt.Errorf("journal: invalid finish status %q (succeeded, failed or interrupted)", status)
	}
	return r.appendIf(&record{T: recFinish, Status: status}, func() error {
		if r.finished {
			return errors.New("journal: attempt already finished")
		}
		return nil
	})
}

// Close releases the run's lock. An attempt closed without Finish is listed
// as crashed. Close is idempotent.
func (r *Run) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.syncing {
		r.synced.Wait()
	}
	if r.closed {
		return nil
	}
	close(r.stopBeat)
	var err error
	// Lines queued but not yet covered (their writers are waiting) are
	// made durable now rather than left to chance.
	if r.broken == nil && r.durable < r.written && len(r.pending.Lines) > 0 {
		if r.flushOnce(false); r.broken != nil {
			err = r.broken
		}
	}
	r.closed = true
	r.synced.Broadcast()
	if cerr := r.log.Close(); err == nil {
		err = cerr
	}
	return err
}

// PendingMutation is a mutation recorded as (maybe) sent without a result.
type PendingMutation struct {
	Key, Type, Method, Path string
	Unknown                 bool // a send failed with an unknown outcome (else the process died mid-request)
	// ProvenSent: a read proved it was sent but not that its effect
	// finished; it is never sent again, only an operator's mark settles it.
	ProvenSent bool
	Evidence   string // for ProvenSent: what proved it, and what is missing
}

// Answered lists the keys of the mutations whose result is recorded (sent
// and answered, reconciled, or marked sent by an operator): nothing sends
// them again. Sorted.
func (r *Run) Answered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, st := range r.muts {
		if st.state == recResult {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Pending lists mutations with an intent and no result: on resume each is
// reconciled before anything is re-sent. Sorted by key.
func (r *Run) Pending() []PendingMutation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []PendingMutation
	for k, st := range r.muts {
		if st.state == recIntent || st.state == recUnknown || st.state == recSent {
			out = append(out, PendingMutation{Key: k, Type: st.typ, Method: st.method, Path: st.path, Unknown: st.state == recUnknown,
				ProvenSent: st.state == recSent, Evidence: st.evidence})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
