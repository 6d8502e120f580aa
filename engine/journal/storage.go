package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Storage keeps run journals: per run, an append-only sequence of JSON
// lines and a lock saying which process drives the run. The journal's
// logic (intents, results, reconcile, resume) is the same whatever keeps
// the lines; FileStorage keeps them in a directory, the state package adds
// PostgreSQL.
type Storage interface {
	// Where names the storage in messages: a directory, or a database
	// address without its password.
	Where() string
	// Create makes run id's journal and takes its lock. An error wrapping
	// fs.ErrExist says the id is taken.
	Create(id string) (Log, error)
	// Open takes run id's lock (a *LockedError when another process holds
	// it) and returns its journal's intact content: whole lines only, a
	// torn last line already cut off. An error wrapping fs.ErrNotExist
	// says there is no such run.
	Open(id string) (Log, []byte, error)
	// IDs lists the run ids present, in no particular order.
	IDs() ([]string, error)
	// Read returns a run's journal without taking its lock, and whether a
	// process holds the lock now.
	Read(id string) (data []byte, locked bool, err error)
}

// Batch is lines handed to a Log at once: Data holds them end to end, each
// ending in '\n'; Lines says what each is, for storages that index them.
type Batch struct {
	Data  []byte
	Lines []LineInfo
}

// LineInfo describes one line of a Batch.
type LineInfo struct {
	End  int    // offset just past the line's '\n' in Data
	Kind string // the record type: header, attempt, step, intent, result, ...
	Key  string // mutation records: the mutation key (redacted)
	// Identity is set on intents: a digest of the request (estate, method,
	// path, query, body) that is the same in every run sending it.
	Identity string
}

// Log is one run's journal, open for appending under the run's lock.
type Log interface {
	// Append writes whole lines and returns once they are durable. After
	// an error none of them counts: the storage keeps what was durable
	// before.
	Append(b *Batch) error
	// Close releases the run's lock.
	Close() error
}

// FileStorage is the local backend: <dir>/<id>.jsonl per run, guarded by
// a kernel file lock on <dir>/<id>.lock.
type FileStorage struct {
	dir    string
	noSync bool
	ledger *fileLedger // other processes' journals in dir, for EffectLedger
}

// NewFileStorage opens (creating it 0700 if needed) dir as a journal
// directory. noSync skips fsync: tests and benchmarks only.
func NewFileStorage(dir string, noSync bool) (*FileStorage, error) {
	if dir == "" {
		return nil, errors.New("journal: empty state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &FileStorage{dir: dir, noSync: noSync, ledger: &fileLedger{}}, nil
}

// Where is the directory.
func (s *FileStorage) Where() string { return s.dir }

func (s *FileStorage) journalPath(id string) string { return filepath.Join(s.dir, id+".jsonl") }
func (s *FileStorage) lockPath(id string) string    { return filepath.Join(s.dir, id+".lock") }

// Create makes <id>.jsonl exclusively, under the run's lock.
func (s *FileStorage) Create(id string) (Log, error) {
	fl, err := lockRun(s.lockPath(id), id)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.journalPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		_ = fl.Unlock()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("journal: run %s already exists: %w", id, err)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	l := &fileLog{f: f, unlock: fl.Unlock, noSync: s.noSync, storage: s, id: id}
	if !s.noSync {
		// The new file's name must survive a crash too.
		if err := syncDir(s.dir); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Open locks the run, reads its journal and cuts a torn last line (a write
// of a crashed process, never acted upon) off the file.
func (s *FileStorage) Open(id string) (Log, []byte, error) {
	path := s.journalPath(id)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("journal: no run %s in %s: %w", id, s.dir, fs.ErrNotExist)
		}
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	fl, err := lockRun(s.lockPath(id), id)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (Log, []byte, error) { _ = fl.Unlock(); return nil, nil, err }
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	good := bytes.LastIndexByte(data, '\n') + 1
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	// Drop a torn tail now, while holding the lock, so the next record
	// starts on a line of its own.
	if err := f.Truncate(int64(good)); err != nil {
		_ = f.Close()
		return fail(fmt.Errorf("journal: run %s: cut torn tail: %w", id, err))
	}
	return &fileLog{f: f, unlock: fl.Unlock, size: int64(good), noSync: s.noSync, storage: s, id: id}, data[:good], nil
}

// IDs lists the *.jsonl files.
func (s *FileStorage) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok && !e.IsDir() && checkID(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Read reads a journal file and probes its lock.
func (s *FileStorage) Read(id string) ([]byte, bool, error) {
	data, err := os.ReadFile(s.journalPath(id))
	if err != nil {
		return nil, false, err
	}
	return data, isLocked(s.lockPath(id)), nil
}

// fileLog appends to a journal file; each Append is one write and one fsync.
type fileLog struct {
	storage   *FileStorage
	id        string
	loggedDay string // the day this attempt last appended to the activity log
	f         *os.File
	unlock    func() error
	size      int64 // length of the durable journal: a failed Append is cut back to it
	noSync    bool
	broken    bool
}

func (l *fileLog) Append(b *Batch) error {
	lines := b.Data
	if l.broken {
		return errors.New("journal: an earlier write failed")
	}
	// Others find this run through the activity log: written before the
	// lines, so before anything they record is sent.
	if err := l.logActivity(time.Now()); err != nil {
		return err
	}
	if _, err := l.f.Write(lines); err != nil {
		// Cut a partial write back so the next record starts cleanly.
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("journal: write: %w", err)
	}
	if !l.noSync {
		if err := l.f.Sync(); err != nil {
			// After a failed fsync the kernel may drop the lines silently
			// (a later fsync can succeed all the same): cut them off so a
			// resume reads what was last known durable.
			_ = l.f.Truncate(l.size)
			l.broken = true
			return fmt.Errorf("journal: sync: %w", err)
		}
	}
	l.size += int64(len(lines))
	return nil
}

func (l *fileLog) Close() error {
	err := l.f.Close()
	if uerr := l.unlock(); err == nil {
		err = uerr
	}
	return err
}
