package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
// A run adopts another run's records only when that run's current attempt
// ran at the same time as one of this run's attempts, and only what that
// attempt sent: a run that ended before this one started, or ran while
// this one lay crashed, is history, not shared work.
// Each lookup stats the directory's journals and reads only the lines
// appended since the last lookup, so two 500-store runs side by side cost
// each other a few small reads per mutation, not a re-read of everything.

// mtimeSlack covers the coarse clock file systems stamp modification
// times with (a tick behind the clock records are timed with).
const mtimeSlack = 2 * time.Second

// fileLedger indexes the journals of one directory; it is shared by the
// runs a FileStorage opens.
type fileLedger struct {
	mu    sync.Mutex
	files map[string]*ledgerFile // by run id
}

type ledgerFile struct {
	attempt      int                        // the run's latest attempt
	attemptStart time.Time                  // when it started (its attempt record)
	lastTime     time.Time                  // the latest record's time
	offset       int64                      // bytes consumed (whole lines only)
	last         map[string]json.RawMessage // mutation key -> its last line
	intent       map[string]ledgerIntent    // mutation key -> its last intent
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
	var since time.Time // the first attempt's start: older files cannot overlap
	for i, m := range mine {
		if i == 0 || m.Start.Before(since) {
			since = m.Start
		}
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.files == nil {
		fl.files = map[string]*ledgerFile{}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, nil, false, err
	}
	var pendingRun string
	var pendingIntent, pendingLast []byte
	var bestTime time.Time
	var best struct {
		run          string
		intent, last []byte
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || id == self || e.IsDir() || checkID(id) != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if info.ModTime().Before(since.Add(-mtimeSlack)) {
			continue // last written before this run started: nothing to adopt
		}
		f := fl.files[id]
		if f == nil {
			f = &ledgerFile{last: map[string]json.RawMessage{}, intent: map[string]ledgerIntent{}}
			fl.files[id] = f
		}
		if err := f.catchUp(filepath.Join(dir, e.Name())); err != nil {
			return "", nil, nil, false, err
		}
		if !Overlaps(mine, f.attemptStart, f.lastTime) {
			continue // its current attempt ran while none of this run's did
		}
		for key, in := range f.intent {
			if in.identity != identity || in.attempt != f.attempt {
				continue // another request, or sent by an earlier attempt
			}
			last := f.last[key]
			var probe struct {
				T string `json:"t"`
			}
			_ = json.Unmarshal(last, &probe)
			switch probe.T {
			case recResult:
				if best.run == "" || in.time.After(bestTime) {
					best.run, best.intent, best.last, bestTime = id, in.line, last, in.time
				}
			case recIntent, recUnknown:
				if pendingRun == "" {
					pendingRun, pendingIntent, pendingLast = id, in.line, last
				}
			}
		}
	}
	if best.run != "" {
		return best.run, best.intent, best.last, true, nil
	}
	if pendingRun != "" {
		return pendingRun, pendingIntent, pendingLast, true, nil
	}
	return "", nil, nil, false, nil
}

// catchUp reads the lines appended to path since the last call.
func (f *ledgerFile) catchUp(path string) error {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := fh.Seek(f.offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return err
	}
	end := bytes.LastIndexByte(data, '\n') + 1 // a line being written is read next time
	for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
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
		if rec.T == recAttempt && rec.Attempt >= f.attempt {
			f.attemptStart = rec.Time
		}
		f.attempt, f.lastTime = max(f.attempt, rec.Attempt), rec.Time
		if rec.Key == "" {
			continue
		}
		cp := json.RawMessage(bytes.Clone(line))
		f.last[rec.Key] = cp
		if rec.T == recIntent {
			f.intent[rec.Key] = ledgerIntent{attempt: rec.Attempt, identity: rec.Identity, time: rec.Time, line: cp}
		}
	}
	f.offset += int64(end)
	return nil
}
