package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
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
	// Estate names the API the run mutates (its base URL). Runs sharing a
	// storage adopt each other's mutations only for the same estate.
	Estate string
	// NoSync skips fsync. Only for tests and benchmarks: without fsync an
	// intent may be lost in a power cut after its request was sent.
	NoSync bool
}

// Store is the run journals of one state backend.
type Store struct {
	storage Storage
	opts    Options
}

// Open opens (creating it 0700 if needed) the journal directory
// <stateDir>/runs with default options.
func Open(stateDir string) (*Store, error) { return OpenWith(stateDir, Options{}) }

// OpenWith is Open with options: the local backend.
func OpenWith(stateDir string, o Options) (*Store, error) {
	if stateDir == "" {
		return nil, errors.New("journal: empty state directory")
	}
	fs, err := NewFileStorage(filepath.Join(stateDir, "runs"), o.NoSync)
	if err != nil {
		return nil, err
	}
	return NewStore(fs, o), nil
}

// NewStore keeps journals in storage (a directory, a database).
func NewStore(storage Storage, o Options) *Store { return &Store{storage: storage, opts: o} }

// Dir is where the journals are: <state>/runs for the local backend, the
// database's redacted address otherwise.
func (s *Store) Dir() string { return s.storage.Where() }

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
	// Approver is who approved the run (a person's name as the caller
	// authenticated it); "" when nothing needed approving or the caller
	// does not know (--yes on a command line).
	Approver string
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
	Mode     string // run, apply
	PlanHash string // apply: the plan it executes
	Approver string // who approved the first attempt, when recorded
	// Waiting is the approval steps the last attempt waits at: while it
	// runs, or, when it crashed, where it was waiting (a resume waits
	// again). Empty once the attempt finished.
	Waiting []WaitingApproval
}

// WaitingApproval is an approval step waiting for a person's decision.
type WaitingApproval struct {
	Key      string    // the step's full id, [item] inside a fan-out: what `frameflow approve RUN KEY` names
	Message  string    // what the approver is asked (secrets redacted)
	Since    time.Time // when it started waiting
	Deadline time.Time // when the step gives up (fails) unless someone decides
	// Approvers are who may decide (the step's approvers input); empty:
	// anyone who can reach the run.
	Approvers []string
}

// AttemptSummary is one process's go at a run (the first run, each resume).
type AttemptSummary struct {
	N        int
	Started  time.Time
	Finished time.Time
	Status   string
	PID      int
	Host     string
	User     string
	Approver string // who approved this attempt (a resume), when recorded
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
	l, err := s.storage.Create(meta.RunID)
	if err != nil {
		return nil, err
	}
	r := newRun(s, meta, l, 1)
	started := meta.Started
	hdr := &record{T: recHeader, Time: started, V: formatVersion, RunID: meta.RunID, Workflow: meta.Workflow,
		File: meta.File, FileHash: meta.FileHash, Inputs: meta.Inputs, Mode: meta.Mode, PlanHash: meta.PlanHash, Started: &started, Approver: meta.Approver}
	err = r.append(hdr)
	if err == nil {
		err = r.append(r.attemptRecord(meta.Approver))
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Resume takes an existing run's lock (failing at once, with the holder,
// when another process has it), loads its records and starts a new attempt.
// The run may have been started on another machine when the storage is
// shared.
func (s *Store) Resume(runID string) (*Run, error) { return s.ResumeApproved(runID, "") }

// ResumeApproved is Resume recording who approved the new attempt.
func (s *Store) ResumeApproved(runID, approver string) (*Run, error) {
	if err := checkID(runID); err != nil {
		return nil, err
	}
	l, data, err := s.storage.Open(runID)
	if err != nil {
		return nil, err
	}
	recs, _, err := readRecords(bytes.NewReader(data))
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("journal: run %s: %w", runID, err)
	}
	h := recs[0]
	meta := RunMeta{RunID: h.RunID, Workflow: h.Workflow, File: h.File, FileHash: h.FileHash, Inputs: h.Inputs, Mode: h.Mode, PlanHash: h.PlanHash, Approver: h.Approver}
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
	r := newRun(s, meta, l, prev+1)
	r.prevStatus = summarize(runID, recs, false).Status
	for i := range recs {
		r.apply(&recs[i])
	}
	r.deferAttempt(r.attemptRecord(approver))
	return r, nil
}

// List returns every run, newest first (by start time, then id).
func (s *Store) List() ([]RunSummary, error) {
	ids, err := s.storage.IDs()
	if err != nil {
		return nil, err
	}
	out := make([]RunSummary, 0, len(ids))
	read := s.storage.Read
	if sr, ok := s.storage.(SummaryReader); ok {
		all, locked, err := sr.ReadSummaries()
		if err != nil {
			return nil, err
		}
		read = func(id string) ([]byte, bool, error) { return all[id], locked[id], nil }
	}
	for _, id := range ids {
		data, locked, err := read(id)
		var recs []record
		if err == nil {
			recs, _, err = readRecords(bytes.NewReader(data))
		}
		if err != nil {
			out = append(out, RunSummary{ID: id, Status: StatusUnreadable, Error: err.Error()})
			continue
		}
		out = append(out, summarize(id, recs, locked))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Summary is one run's summary, as List has it, read from its journal
// alone (no lock taken). It decodes only the lines a summary reads: a page
// asks every second while a run waits at a gate, and a 2,000-store run's
// journal has some 18,000 others.
func (s *Store) Summary(id string) (RunSummary, error) {
	if err := checkID(id); err != nil {
		return RunSummary{}, err
	}
	var data []byte
	var locked bool
	var err error
	if sr, ok := s.storage.(RunSummaryReader); ok {
		data, locked, err = sr.ReadSummary(id)
	} else {
		data, locked, err = s.storage.Read(id)
	}
	if err != nil {
		return RunSummary{}, err
	}
	recs, err := readSummaryRecords(data)
	if err != nil {
		return RunSummary{}, err
	}
	return summarize(id, recs, locked), nil
}

// RunSummaryReader is a Storage that can read one run's summary lines
// (header, attempt, finish, waiting, waited) without the others, and
// whether the run is locked now: PostgreSQL, by the lines' kind.
type RunSummaryReader interface {
	ReadSummary(id string) (data []byte, locked bool, err error)
}

// SummaryKinds are the record types a run summary reads.
var SummaryKinds = []string{recHeader, recAttempt, recFinish, recWaiting, recWaited}

// readSummaryRecords decodes the lines of data whose type a summary reads,
// skipping the others by their first bytes (every line starts with its
// "t" field: encode writes the record struct, T first). A torn last line
// is ignored, as readRecords does.
func readSummaryRecords(data []byte) ([]record, error) {
	var recs []record
	err := eachWholeLine(data, func(line int, raw []byte) error {
		if !summaryLine(raw) {
			return nil
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("line %d is damaged: %v", line, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err == nil {
		err = checkHeader(recs)
	}
	if err != nil {
		return nil, err
	}
	return recs, nil
}

func summaryLine(raw []byte) bool {
	const prefix = `{"t":"`
	if !bytes.HasPrefix(raw, []byte(prefix)) {
		return len(bytes.TrimSpace(raw)) > 0 // not ours: decode it, and let it say so
	}
	rest := raw[len(prefix):]
	for _, k := range SummaryKinds {
		if len(rest) > len(k) && string(rest[:len(k)]) == k && rest[len(k)] == '"' {
			return true
		}
	}
	return false
}

// Lines returns a run's journal as JSON Lines, whole lines in order
// (the format of docs/decisions/journal-format.md), without taking its
// lock: for viewers such as a history page, whatever the storage.
func (s *Store) Lines(id string) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	data, _, err := s.storage.Read(id)
	if err != nil {
		return nil, fmt.Errorf("journal: run %s: %w", id, err)
	}
	return data[:bytes.LastIndexByte(data, '\n')+1], nil
}

// SummaryReader is what a Storage may offer to make List cheap: the
// header, attempt and finish lines of every run (what a summary reads) and
// which runs are locked now, at once, instead of every line of every run
// one by one.
type SummaryReader interface {
	ReadSummaries() (data map[string][]byte, locked map[string]bool, err error)
}

// Last returns the id of the most recently started run.
func (s *Store) Last() (string, error) {
	runs, err := s.List()
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("journal: no runs in %s", s.storage.Where())
	}
	return runs[0].ID, nil
}

// summarize folds a journal into its summary. locked says whether a process
// holds the run now (an unfinished last attempt is then running, not crashed).
func summarize(id string, recs []record, locked bool) RunSummary {
	h := recs[0]
	sum := RunSummary{ID: id, Workflow: h.Workflow, File: h.File, Mode: h.Mode, PlanHash: h.PlanHash, Approver: h.Approver}
	if h.Started != nil {
		sum.Started = *h.Started
	} else {
		sum.Started = h.Time
	}
	for _, r := range recs {
		switch r.T {
		case recAttempt:
			sum.Attempts = append(sum.Attempts, AttemptSummary{N: r.Attempt, Started: r.Time, PID: r.PID, Host: r.Host, User: r.User, Approver: r.Approver})
			sum.Waiting = nil // a new attempt waits again (its own record)
		case recWaiting:
			w := WaitingApproval{Key: r.Step, Message: r.Message, Since: r.Time, Approvers: r.Approvers}
			if r.Deadline != nil {
				w.Deadline = *r.Deadline
			}
			sum.Waiting = append(sum.Waiting, w)
		case recWaited:
			sum.Waiting = slices.DeleteFunc(sum.Waiting, func(w WaitingApproval) bool { return w.Key == r.Step })
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
		if !last.Finished.IsZero() {
			sum.Waiting = nil
		}
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
