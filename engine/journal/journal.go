package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Options tune a Store. The zero value is the safe default.
type Options struct {
	// AssumeNotSent lets Do re-send a mutation whose intent was recorded
	// without a result when nothing can prove whether it took effect (the
	// admin's --assume-not-sent). The decision is journaled.
	AssumeNotSent bool
	// Operator is who runs this process (user@host); an assumed not_sent is
	// journaled with it.
	Operator string
	// IsOutcomeUnknown tells whether a Send error means the request may have
	// reached the server (frame.OutcomeUnknownError). Nil treats every Send
	// error as possibly sent, which never duplicates but makes refused
	// mutations need a Reconcile (or --assume-not-sent) before a retry.
	IsOutcomeUnknown func(error) bool
	// Redact is applied to every string before it is written (and so to what
	// Lookup and Do give back, which always come from the journal's copy).
	Redact func(string) string
	// NoSync skips fsync. Only for tests and benchmarks: without fsync an
	// intent may be lost in a power cut after its request was sent.
	NoSync bool
}

// Store is a state directory's run journals.
type Store struct {
	dir  string // <state>/runs
	opts Options
}

// Open opens (creating it 0700 if needed) the journal directory
// <stateDir>/runs with default options.
func Open(stateDir string) (*Store, error) { return OpenWith(stateDir, Options{}) }

// OpenWith is Open with options.
func OpenWith(stateDir string, o Options) (*Store, error) {
	if stateDir == "" {
		return nil, errors.New("journal: empty state directory")
	}
	dir := filepath.Join(stateDir, "runs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Store{dir: dir, opts: o}, nil
}

// Dir is the directory holding the journals (<state>/runs).
func (s *Store) Dir() string { return s.dir }

// RunMeta describes a run; it is the journal's header.
type RunMeta struct {
	RunID    string         // empty: Create makes one
	Workflow string         // the workflow's name
	File     string         // the workflow file as given
	FileHash string         // e.g. "sha256:..."; resume refuses a changed file unless forced
	Inputs   map[string]any // secrets already redacted by the caller
	Mode     string         // run, apply
	PlanHash string         // apply: the saved plan's hash
	Started  time.Time      // zero: now
}

// RunSummary is one run of List.
type RunSummary struct {
	ID       string
	Workflow string
	File     string
	Started  time.Time
	Finished time.Time // zero while running or after a crash
	// Status is the last attempt's: succeeded, failed, interrupted, running
	// (its lock is held now) or crashed (it ended without saying how).
	// "unreadable" when the journal cannot be read (Error says why).
	Status   string
	Attempts []AttemptSummary
	Error    string
}

// AttemptSummary is one process's go at a run (the first run, each resume).
type AttemptSummary struct {
	N        int
	Started  time.Time
	Finished time.Time
	Status   string
	PID      int
	Host     string
}

// Run statuses an attempt can Finish with.
const (
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
	// Reported by List only.
	StatusRunning    = "running"
	StatusCrashed    = "crashed"
	StatusUnreadable = "unreadable"
)

// validID keeps run ids to file-name-safe text: an id is joined to a path.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("journal: invalid run id %q (letters, digits, '.', '_' and '-' only)", id)
	}
	return nil
}

// NewRunID makes an id that sorts by time: 20261124T013000Z-3f9a.
func NewRunID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func (s *Store) journalPath(id string) string { return filepath.Join(s.dir, id+".jsonl") }
func (s *Store) lockPath(id string) string    { return filepath.Join(s.dir, id+".lock") }

// Create starts a new run: it takes the run's lock, writes the header and
// the first attempt record. The caller must Close the run.
func (s *Store) Create(meta RunMeta) (*Run, error) {
	if meta.Started.IsZero() {
		meta.Started = time.Now()
	}
	meta.Started = meta.Started.UTC()
	generated := meta.RunID == ""
	for try := 0; ; try++ {
		if generated {
			meta.RunID = NewRunID(meta.Started)
		}
		if err := checkID(meta.RunID); err != nil {
			return nil, err
		}
		r, err := s.create(meta)
		if generated && errors.Is(err, fs.ErrExist) && try < 10 {
			continue // same second, same random suffix: draw again
		}
		return r, err
	}
}

func (s *Store) create(meta RunMeta) (*Run, error) {
	fl, err := lockRun(s.lockPath(meta.RunID), meta.RunID)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.journalPath(meta.RunID), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		_ = fl.Unlock()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("journal: run %s already exists: %w", meta.RunID, err)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	r := newRun(s, meta, f, fl, 1, 0)
	started := meta.Started
	hdr := &record{T: recHeader, Time: started, V: formatVersion, RunID: meta.RunID, Workflow: meta.Workflow,
		File: meta.File, FileHash: meta.FileHash, Inputs: meta.Inputs, Mode: meta.Mode, PlanHash: meta.PlanHash, Started: &started}
	err = r.append(hdr)
	if err == nil {
		err = r.append(r.attemptRecord())
	}
	if err == nil && !s.opts.NoSync {
		err = syncDir(s.dir) // the new file's name must survive a crash too
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Resume takes an existing run's lock (failing at once, with the holder's
// pid, when another process has it), loads its records, cuts off a torn last
// line and starts a new attempt.
func (s *Store) Resume(runID string) (*Run, error) {
	if err := checkID(runID); err != nil {
		return nil, err
	}
	path := s.journalPath(runID)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("journal: no run %s in %s", runID, s.dir)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	fl, err := lockRun(s.lockPath(runID), runID)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Run, error) { _ = fl.Unlock(); return nil, err }
	recs, good, err := readFile(path)
	if err != nil {
		return fail(fmt.Errorf("journal: run %s: %w", runID, err))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	// Drop a torn tail now, while holding the lock, so the next record
	// starts on a line of its own.
	if err := f.Truncate(good); err != nil {
		_ = f.Close()
		return fail(fmt.Errorf("journal: run %s: cut torn tail: %w", runID, err))
	}
	h := recs[0]
	meta := RunMeta{RunID: h.RunID, Workflow: h.Workflow, File: h.File, FileHash: h.FileHash, Inputs: h.Inputs, Mode: h.Mode, PlanHash: h.PlanHash}
	if h.Started != nil {
		meta.Started = *h.Started
	}
	if meta.RunID == "" {
		meta.RunID = runID
	}
	prev := 0
	for _, rec := range recs {
		if rec.T == recAttempt && rec.Attempt > prev {
			prev = rec.Attempt
		}
	}
	r := newRun(s, meta, f, fl, prev+1, good)
	r.prevStatus = summarize(runID, recs, false).Status
	for i := range recs {
		r.apply(&recs[i])
	}
	if err := r.append(r.attemptRecord()); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// ids lists the run ids present, in no particular order.
func (s *Store) ids() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var ids []string
	for _, e := range ents {
		name := e.Name()
		if id, ok := strings.CutSuffix(name, ".jsonl"); ok && !e.IsDir() && checkID(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// List returns every run, newest first (by start time, then id).
func (s *Store) List() ([]RunSummary, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	out := make([]RunSummary, 0, len(ids))
	for _, id := range ids {
		recs, _, err := readFile(s.journalPath(id))
		if err != nil {
			out = append(out, RunSummary{ID: id, Status: StatusUnreadable, Error: err.Error()})
			continue
		}
		out = append(out, summarize(id, recs, isLocked(s.lockPath(id))))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Last returns the id of the most recently started run.
func (s *Store) Last() (string, error) {
	runs, err := s.List()
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("journal: no runs in %s", s.dir)
	}
	return runs[0].ID, nil
}

// summarize folds a journal into its summary. locked says whether a process
// holds the run now (an unfinished last attempt is then running, not crashed).
func summarize(id string, recs []record, locked bool) RunSummary {
	h := recs[0]
	sum := RunSummary{ID: id, Workflow: h.Workflow, File: h.File}
	if h.Started != nil {
		sum.Started = *h.Started
	} else {
		sum.Started = h.Time
	}
	for _, r := range recs {
		switch r.T {
		case recAttempt:
			sum.Attempts = append(sum.Attempts, AttemptSummary{N: r.Attempt, Started: r.Time, PID: r.PID, Host: r.Host})
		case recFinish:
			if n := len(sum.Attempts); n > 0 && sum.Attempts[n-1].N == r.Attempt {
				sum.Attempts[n-1].Finished = r.Time
				sum.Attempts[n-1].Status = r.Status
			}
		}
	}
	for i := range sum.Attempts {
		if sum.Attempts[i].Status == "" {
			sum.Attempts[i].Status = StatusCrashed
		}
	}
	if n := len(sum.Attempts); n > 0 {
		last := &sum.Attempts[n-1]
		if last.Finished.IsZero() && locked {
			last.Status = StatusRunning
		}
		sum.Status = last.Status
		sum.Finished = last.Finished
	} else {
		sum.Status = StatusCrashed
	}
	return sum
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}
