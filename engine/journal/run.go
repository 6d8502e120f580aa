package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/gofrs/flock"
)

// Run is one run's journal, held under its lock. Its methods are safe for
// concurrent use by the engine's goroutines.
type Run struct {
	store      *Store
	opts       Options
	meta       RunMeta
	attempt    int
	prevStatus string

	mu       sync.Mutex
	f        *os.File
	fl       *flock.Flock
	size     int64 // length of the intact journal: a failed write is cut back to it
	closed   bool
	finished bool
	steps    map[stepKey]stepState
	muts     map[string]*mutState

	// Group commit: lines are written under mu as they come and numbered;
	// one fsync, made without holding mu, covers every line written before
	// it started, and wakes (synced) the writers it covered.
	synced     sync.Cond // L is &mu
	written    uint64    // lines written by this process
	durable    uint64    // lines covered by a successful fsync
	durableLen int64     // r.size when that fsync started
	syncing    bool      // an fsync is under way
	broken     error     // an fsync failed: the run takes no more records
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
	witness      json.RawMessage // the intent's Mutation.Witness
	result       json.RawMessage
	evidence     string // sent: what proved it was sent
	busy         bool   // a Do for this key is under way in this process
}

func newRun(s *Store, meta RunMeta, f *os.File, fl *flock.Flock, attempt int, size int64) *Run {
	r := &Run{store: s, opts: s.opts, meta: meta, attempt: attempt, f: f, fl: fl, size: size, durableLen: size,
		steps: map[stepKey]stepState{}, muts: map[string]*mutState{}}
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

func (r *Run) attemptRecord() *record {
	host, _ := os.Hostname()
	return &record{T: recAttempt, PID: os.Getpid(), Host: host}
}

// append writes one record and returns once it is durable: an fsync that
// began after the line was written has returned. The caller must not hold
// r.mu. What is applied to the in-memory state is the record as written,
// redacted, so that this process and a later resume see the same.
func (r *Run) append(rec *record) error { return r.appendIf(rec, nil) }

// appendIf is append with a check made under r.mu just before the write
// (Finish: not finished yet); its error is returned and nothing written.
func (r *Run) appendIf(rec *record, check func() error) error {
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
	if _, err := r.f.Write(line); err != nil {
		// Cut a partial line back so the next record starts cleanly.
		_ = r.f.Truncate(r.size)
		return fmt.Errorf("journal: write: %w", err)
	}
	r.size += int64(len(line))
	r.written++
	r.apply(written)
	if r.opts.NoSync {
		return nil
	}
	return r.waitDurable(r.written)
}

// waitDurable returns once line n is covered by an fsync, making that fsync
// itself when none is under way. Called with r.mu held; it is released
// while the fsync runs, so that other writers add their lines meanwhile and
// the next fsync covers them all.
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
		r.syncOnce(true)
	}
	return nil
}

// syncOnce makes one fsync covering every line written so far. Called with
// r.mu held; unlock says whether to release it during the fsync.
func (r *Run) syncOnce(unlock bool) {
	r.syncing = true
	upTo, size := r.written, r.size
	if unlock {
		r.mu.Unlock()
	}
	err := r.f.Sync()
	if unlock {
		r.mu.Lock()
	}
	r.syncing = false
	if err != nil {
		// The lines since the last good fsync may or may not be on disk,
		// and after a failed fsync the kernel may drop them silently (a
		// later fsync can succeed all the same). Cut them off so that a
		// resume reads what was last known durable, and take no more
		// records: every writer still waiting gets the error, and nothing
		// whose intent it held is sent.
		_ = r.f.Truncate(r.durableLen)
		r.size = r.durableLen
		r.broken = fmt.Errorf("journal: sync: %w; the run journal takes no more records", err)
	} else {
		r.durable, r.durableLen = upTo, size
	}
	r.synced.Broadcast()
}

// finishedStatus: a step that ended so is not run again on resume.
func finishedStatus(s string) bool {
	return s == "succeeded" || s == "unchanged" || s == "skipped"
}

// apply folds one record into the in-memory state.
func (r *Run) apply(rec *record) {
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
		b, err := json.Marshal(res.Outputs)
		if err != nil {
			return fmt.Errorf("journal: outputs of %s: %w", res.Step, err)
		}
		rec.Outputs = b
	}
	return r.append(rec)
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
	var err error
	// Lines written but not yet covered (their writers are waiting) are
	// synced now rather than left to chance.
	if !r.opts.NoSync && r.broken == nil && r.durable < r.written {
		if r.syncOnce(false); r.broken != nil {
			err = r.broken
		}
	}
	r.closed = true
	r.synced.Broadcast()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if uerr := r.fl.Unlock(); err == nil {
		err = uerr
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
