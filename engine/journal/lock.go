package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// A run's lock is a kernel file lock (flock(2)) on <runs>/<id>.lock. The
// kernel drops it when the holding process dies, however it dies, so a
// kill -9 never leaves a stale lock behind and no pid liveness guessing is
// needed. The file's content (pid, host) only serves the refusal message.
//
// The lock file is never removed: removing it would let a process that had
// opened the old inode and one that creates a new one both "hold" the lock.

const lockGrace = 100 * time.Millisecond

// holder is what a lock file says about the process holding it.
type holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// LockedError says another process is driving the run.
type LockedError struct {
	RunID string
	PID   int    // 0 when the holder had not written itself yet
	Host  string // may be empty
	Since time.Time
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("run %s is being driven by another frameflow process; wait for it to end or stop it", e.RunID)
	}
	host := ""
	if e.Host != "" {
		host = " on " + e.Host
	}
	since := ""
	if !e.Since.IsZero() {
		since = " since " + e.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("run %s is being driven by pid %d%s%s; wait for it to end or stop that process", e.RunID, e.PID, host, since)
}

// lockRun takes the run's lock without waiting.
func lockRun(path, runID string) (*flock.Flock, error) {
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	// A short grace rides over List probing the lock (isLocked) at the same
	// instant; a real holder still fails this fast.
	ctx, cancel := context.WithTimeout(context.Background(), lockGrace)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, lockGrace/10)
	if errors.Is(err, context.DeadlineExceeded) {
		ok, err = false, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock run %s: %w", runID, err)
	}
	if !ok {
		le := &LockedError{RunID: runID}
		if b, err := os.ReadFile(path); err == nil {
			var h holder
			if json.Unmarshal(b, &h) == nil {
				le.PID, le.Host, le.Since = h.PID, h.Host, h.Since
			}
		}
		return nil, le
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	// Written through a second descriptor: the lock is on the inode, so this
	// does not disturb it.
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("lock run %s: %w", runID, err)
	}
	return fl, nil
}

// isLocked reports whether some process (this one included, through another
// Run) holds the run's lock.
func isLocked(path string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryRLock() // shared: two Lists do not disturb each other
	if err != nil {
		return false
	}
	if ok {
		_ = fl.Unlock()
		return false
	}
	return true
}
