//go:build unix

package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// Resource locks of the local backend are POSIX record locks (fcntl) on
// one byte each of a single file, <dir>/locks/resources.lock, at an offset
// hashed from the key. Creating a lock file per account cost about 0.5 ms
// per new account on this machine's disk (ext4), most of a 500-store
// rollout's extra CPU; a byte range costs a system call. The kernel drops
// the locks when the process dies, however it dies, and F_GETLK names the
// holder's pid, whose run is in <dir>/locks/holders/<pid>.json.
//
// POSIX record locks belong to the process, and closing any descriptor of
// the file drops all of them: the file is opened once per process and
// never closed, and handles in one process (tests run several runs in one)
// exclude each other through an in-process table first.

type procLocks struct {
	mu   sync.Mutex
	f    *os.File
	held map[int64]*heldLock // by offset
	// holderWritten is the run whose holder file this process wrote last.
	holderWritten string
}

type heldLock struct {
	owner *fileLocker
	count int // keys of one owner sharing the offset (a hash collision)
}

var (
	procMu    sync.Mutex
	procFiles = map[string]*procLocks{} // by lock file path
)

func lockTable(dir string) (*procLocks, error) {
	path, err := filepath.Abs(filepath.Join(dir, "resources.lock"))
	if err != nil {
		return nil, err
	}
	procMu.Lock()
	defer procMu.Unlock()
	if t := procFiles[path]; t != nil {
		return t, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "holders"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	t := &procLocks{f: f, held: map[int64]*heldLock{}}
	procFiles[path] = t
	return t, nil
}

type fileLocker struct {
	dir     string
	runID   string
	timeout time.Duration
	poll    time.Duration

	// table is the process's lock table for dir, looked up once: every
	// step of a 2,000-store rollout takes a lock, and the lookup (a global
	// mutex and a path cleaning) was a point where they all queued.
	table atomic.Pointer[procLocks]
}

func newFileLocker(dir, runID string, timeout time.Duration) engine.ResourceLocker {
	return &fileLocker{dir: dir, runID: runID, timeout: timeout, poll: 100 * time.Millisecond}
}

// offset hashes a key to a byte of the lock file (62 bits: collisions
// between the keys of one estate are negligible, and only serialise).
func offset(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64() >> 2)
}

func (l *fileLocker) Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (func(), error) {
	t := l.table.Load()
	if t == nil {
		var err error
		if t, err = lockTable(l.dir); err != nil {
			return nil, fmt.Errorf("resource locks: %w", err)
		}
		l.table.Store(t)
	}
	return acquireSorted(ctx, keys, l.timeout, l.poll, waiting,
		func(k string) (bool, string, error) { return t.try(l, offset(k)) },
		func(k string) { t.unlock(l, offset(k)) })
}

func (t *procLocks) try(l *fileLocker, off int64) (bool, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.held[off]; h != nil {
		if h.owner == l {
			h.count++
			return true, "", nil
		}
		return false, holderInfo{RunID: h.owner.runID, Host: thisHolder("").Host, PID: os.Getpid()}.String(), nil
	}
	if t.holderWritten != l.runID {
		// Written before the lock is taken: whoever finds the lock held
		// finds this file current.
		b, _ := json.Marshal(thisHolder(l.runID))
		if err := os.WriteFile(filepath.Join(l.dir, "holders", strconv.Itoa(os.Getpid())+".json"), append(b, '\n'), 0o600); err != nil {
			return false, "", err
		}
		t.holderWritten = l.runID
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: off, Len: 1}
	err := syscall.FcntlFlock(t.f.Fd(), syscall.F_SETLK, &lk)
	if err == nil {
		t.held[off] = &heldLock{owner: l, count: 1}
		return true, "", nil
	}
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		return false, "", err
	}
	probe := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: off, Len: 1}
	if err := syscall.FcntlFlock(t.f.Fd(), syscall.F_GETLK, &probe); err != nil || probe.Type == syscall.F_UNLCK {
		return false, "another run", nil // released meanwhile: the next try takes it
	}
	return false, readHolder(filepath.Join(l.dir, "holders", strconv.Itoa(int(probe.Pid))+".json")), nil
}

func (t *procLocks) unlock(l *fileLocker, off int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.held[off]
	if h == nil || h.owner != l {
		return
	}
	if h.count--; h.count > 0 {
		return
	}
	delete(t.held, off)
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0, Start: off, Len: 1}
	_ = syscall.FcntlFlock(t.f.Fd(), syscall.F_SETLK, &lk)
}
