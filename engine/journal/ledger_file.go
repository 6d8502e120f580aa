package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The local backend's EffectLedger: the other journals of the same
// directory (runs of other processes on this machine), read incrementally.
// A run adopts another run's records only when one of that run's attempts
// ran at the same time as one of this run's: the two are then one rollout,
// whatever attempt did the work (an operator's resume of the other run
// included). A run that ended before this one started, or ran while this
// one lay crashed, is history, not shared work.
//
// Which journals to read comes from the activity log, <dir>/activity/DAY.log:
// every run appends its id there when an attempt starts and on each new day
// it writes records, before those records are written (so before any of its
// requests is sent). A lookup reads the days its attempts cover (new lines
// only) and the journals of the runs named there (new lines only), never
// the whole directory: a state directory with a thousand finished runs
// costs a lookup nothing more than an empty one.

// fileLedger indexes the journals of one directory; it is shared by the
// runs a FileStorage opens.
type fileLedger struct {
	mu    sync.Mutex
	files map[string]*ledgerFile // by run id
	days  map[string]*dayLog     // activity logs read, by day
}

// dayLog is one day's activity log as read so far.
type dayLog struct {
	offset int64
	runs   map[string]bool
}

// activityDay names the activity log of t's day (UTC).
func activityDay(t time.Time) string { return t.UTC().Format("2006-01-02") }

type ledgerFile struct {
	spans  map[int]Interval           // per attempt: its first and last record's time
	offset int64                      // bytes consumed (whole lines only)
	last   map[string]json.RawMessage // mutation key -> its last line
	intent map[string]ledgerIntent    // mutation key -> its last intent
}

type ledgerIntent struct {
	attempt  int
	identity string
	time     time.Time
	line     json.RawMessage
}

// Effect implements EffectLedger for a run's file log.
func (l *fileLog) Effect(_ context.Context, identity string, mine []Interval) (string, []byte, []byte, bool, error) {
	return l.storage.ledger.lookup(l.storage.dir, l.id, identity, mine)
}

func (fl *fileLedger) lookup(dir, self, identity string, mine []Interval) (string, []byte, []byte, bool, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.files == nil {
		fl.files, fl.days = map[string]*ledgerFile{}, map[string]*dayLog{}
	}
	candidates, err := fl.activeRuns(dir, mine)
	if err != nil {
		return "", nil, nil, false, err
	}
	var settled, pending ledgerMatch
	for id := range candidates {
		if id == self || checkID(id) != nil {
			continue
		}
		f, err := fl.file(dir, id)
		if err != nil {
			return "", nil, nil, false, err
		}
		if !f.overlaps(mine) {
			continue // none of its attempts ran while one of this run's did
		}
		f.match(id, identity, &settled, &pending)
	}
	if settled.run != "" {
		return settled.run, settled.intent, settled.last, true, nil
	}
	if pending.run != "" {
		return pending.run, pending.intent, pending.last, true, nil
	}
	return "", nil, nil, false, nil
}

// activeRuns are the runs the activity logs name from the day of this
// run's first attempt (less a heartbeat's slack) to today.
func (fl *fileLedger) activeRuns(dir string, mine []Interval) (map[string]bool, error) {
	since := time.Now() // the first attempt's start: no earlier day matters
	for _, m := range mine {
		if !m.Start.IsZero() && m.Start.Before(since) {
			since = m.Start
		}
	}
	runs := map[string]bool{}
	end := activityDay(time.Now())
	for d := since.Add(-2 * HeartbeatEvery).UTC(); ; d = d.Add(24 * time.Hour) {
		day := activityDay(d)
		if day > end {
			break
		}
		dl := fl.days[day]
		if dl == nil {
			dl = &dayLog{runs: map[string]bool{}}
			fl.days[day] = dl
		}
		if err := dl.catchUp(filepath.Join(dir, "activity", day+".log")); err != nil {
			return nil, err
		}
		for id := range dl.runs {
			runs[id] = true
		}
	}
	return runs, nil
}

// file is run id's journal, read up to its last whole line.
func (fl *fileLedger) file(dir, id string) (*ledgerFile, error) {
	f := fl.files[id]
	if f == nil {
		f = &ledgerFile{last: map[string]json.RawMessage{}, intent: map[string]ledgerIntent{}, spans: map[int]Interval{}}
		fl.files[id] = f
	}
	return f, f.catchUp(filepath.Join(dir, id+".jsonl"))
}

func (f *ledgerFile) overlaps(mine []Interval) bool {
	for _, sp := range f.spans {
		if Overlaps(mine, sp.Start, sp.End) {
			return true
		}
	}
	return false
}

// ledgerMatch is a mutation of another run with the identity looked for.
type ledgerMatch struct {
	run          string
	intent, last []byte
	time         time.Time // its intent's
}

// match offers f's mutations with identity: a settled one (a result, a
// proven send, an operator's decision) replaces a settled match whose
// intent is older; the first still pending one is kept apart, adopted
// only when no run settled it.
func (f *ledgerFile) match(run, identity string, settled, pending *ledgerMatch) {
	for key, in := range f.intent {
		if in.identity != identity {
			continue // another request
		}
		last := f.last[key]
		var probe struct {
			T string `json:"t"`
		}
		_ = json.Unmarshal(last, &probe)
		switch probe.T {
		case recResult, recSent, recDecided: // settled: adopted as it stands
			if settled.run == "" || in.time.After(settled.time) {
				*settled = ledgerMatch{run: run, intent: in.line, last: last, time: in.time}
			}
		case recIntent, recUnknown:
			if pending.run == "" {
				*pending = ledgerMatch{run: run, intent: in.line, last: last}
			}
		}
	}
}

// readAppended returns the whole lines appended to path since offset (a
// line being written is read next time) and the offset after them; a file
// not yet made has none.
func readAppended(path string, offset int64) (lines []byte, next int64, err error) {
	// The files only grow, and are read before every new mutation (the
	// activity log for each, in a 2,000-store rollout): one stat says
	// whether there is anything to read, where open, seek, read and close
	// took five system calls.
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, offset, nil
	}
	if err == nil && st.Size() <= offset {
		return nil, offset, nil
	}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, offset, nil
	}
	if err != nil {
		return nil, offset, err
	}
	defer fh.Close()
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, err
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return nil, offset, err
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	return data[:end], offset + int64(end), nil
}

// catchUp reads the run ids appended to an activity log since the last call.
func (d *dayLog) catchUp(path string) error {
	data, next, err := readAppended(path, d.offset)
	if err != nil {
		return err
	}
	for _, id := range strings.Split(string(data), "\n") {
		if id != "" {
			d.runs[id] = true
		}
	}
	d.offset = next
	return nil
}

// logActivity appends the run's id to today's activity log, once a day per
// attempt, before the batch that needs it is written.
func (l *fileLog) logActivity(now time.Time) error {
	day := activityDay(now)
	if day == l.loggedDay {
		return nil
	}
	dir := filepath.Join(l.storage.dir, "activity")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal: activity log: %w", err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, day+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: activity log: %w", err)
	}
	// One short write with O_APPEND: lines of concurrent runs never mix.
	_, err = fh.Write([]byte(l.id + "\n"))
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: activity log: %w", err)
	}
	l.loggedDay = day
	return nil
}

// catchUp reads the lines appended to path since the last call.
func (f *ledgerFile) catchUp(path string) error {
	data, next, err := readAppended(path, f.offset)
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var rec struct {
			T        string    `json:"t"`
			Time     time.Time `json:"time"`
			Attempt  int       `json:"attempt"`
			Key      string    `json:"key"`
			Identity string    `json:"identity"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		if rec.Attempt > 0 {
			sp := f.spans[rec.Attempt]
			if sp.Start.IsZero() || rec.Time.Before(sp.Start) {
				sp.Start = rec.Time
			}
			if rec.Time.After(sp.End) {
				sp.End = rec.Time
			}
			f.spans[rec.Attempt] = sp
		}
		if rec.Key == "" {
			continue
		}
		cp := json.RawMessage(bytes.Clone(line))
		f.last[rec.Key] = cp
		if rec.T == recIntent {
			f.intent[rec.Key] = ledgerIntent{attempt: rec.Attempt, identity: rec.Identity, time: rec.Time, line: cp}
		}
	}
	f.offset = next
	return nil
}
