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
// one byte each, at an offset hashed from the key, of one of lockShards
// files <dir>/locks/resources-NN.lock. Creating a lock file per account
// cost about 0.5 ms per new account on this machine's disk (ext4), most of
// a 500-store rollout's extra CPU; a byte range costs a system call. The
// kernel keeps a file's record locks in one list that every lock and
// unlock walks: with the 2,000 locks of a 2,000-store rollout in one file
// a lock and its unlock cost ~53 µs (~0.3 s of a run's CPU), with ~30 per
// file ~2 µs, hence the shards. The kernel drops the locks when the
// process dies, however it dies, and F_GETLK names the holder's pid, whose
// run is in <dir>/locks/holders/<pid>.json.
//
// Earlier versions locked bytes of the single file resources.lock. So that
// a run of such a version and one of this version never mutate one
// account at once, this process holds a read lock over the whole of that
// file, taken before its first resource lock: an earlier version's lock
// (a write lock on one byte) waits for it, naming this run as the holder,
// and this process waits while an earlier version holds any.
//
// POSIX record locks belong to the process, and closing any descriptor of
// the file drops all of them: the files are opened once per process and
// never closed, and handles in one process (tests run several runs in one)
// exclude each other through an in-process table first.

// lockShards is how many files the locks are spread over.
const lockShards = 64

type procLocks struct {
	mu     sync.Mutex
	dir    string
	shards [lockShards]*os.File // opened on first use
	// legacy is resources.lock, read-locked whole once legacyHeld.
	legacy     *os.File
	legacyHeld bool
	held       map[uint64]*heldLock // by key hash
	// holderWritten is the run whose holder file this process wrote last.
	holderWritten string
}

type heldLock struct {
	owner *fileLocker
	count int // keys of one owner sharing the hash (a collision)
}

var (
	procMu    sync.Mutex
	procFiles = map[string]*procLocks{} // by lock directory
)

func lockTable(dir string) (*procLocks, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	procMu.Lock()
	defer procMu.Unlock()
	if t := procFiles[dir]; t != nil {
		return t, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "holders"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "resources.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	t := &procLocks{dir: dir, legacy: f, held: map[uint64]*heldLock{}}
	procFiles[dir] = t
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

// keyHash hashes a key to a shard (its low 6 bits) and a byte of the
// shard's file (the rest: collisions between the keys of one estate are
// negligible, and only serialise).
func keyHash(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64() >> 2
}

func shardOf(h uint64) (shard int, off int64) { return int(h % lockShards), int64(h / lockShards) }

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
		func(k string) (bool, string, error) { return t.try(l, keyHash(k)) },
		func(k string) { t.unlock(l, keyHash(k)) })
}

func (t *procLocks) try(l *fileLocker, h uint64) (bool, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if hl := t.held[h]; hl != nil {
		if hl.owner == l {
			hl.count++
			return true, "", nil
		}
		return false, holderInfo{RunID: hl.owner.runID, Host: thisHolder("").Host, PID: os.Getpid()}.String(), nil
	}
	if t.holderWritten != l.runID {
		// Written before the lock is taken: whoever finds the lock held
		// finds this file current.
		b, _ := json.Marshal(thisHolder(l.runID))
		if err := os.WriteFile(filepath.Join(t.dir, "holders", strconv.Itoa(os.Getpid())+".json"), append(b, '\n'), 0o600); err != nil {
			return false, "", err
		}
		t.holderWritten = l.runID
	}
	if !t.legacyHeld {
		// Len 0: to the end of the file and beyond, every byte an earlier
		// version may lock.
		ok, holder, err := t.lockRange(t.legacy, syscall.F_RDLCK, 0, 0)
		if !ok {
			return false, holder, err
		}
		t.legacyHeld = true
	}
	shard, off := shardOf(h)
	f := t.shards[shard]
	if f == nil {
		var err error
		f, err = os.OpenFile(filepath.Join(t.dir, fmt.Sprintf("resources-%02d.lock", shard)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return false, "", err
		}
		t.shards[shard] = f
	}
	ok, holder, err := t.lockRange(f, syscall.F_WRLCK, off, 1)
	if ok {
		t.held[h] = &heldLock{owner: l, count: 1}
	}
	return ok, holder, err
}

// lockRange tries to take a record lock; when another process holds a
// conflicting one, it returns who (from the holder's file).
func (t *procLocks) lockRange(f *os.File, typ int16, off, n int64) (bool, string, error) {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: off, Len: n}
	err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	if err == nil {
		return true, "", nil
	}
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		return false, "", err
	}
	probe := syscall.Flock_t{Type: typ, Whence: 0, Start: off, Len: n}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &probe); err != nil || probe.Type == syscall.F_UNLCK {
		return false, "another run", nil // released meanwhile: the next try takes it
	}
	return false, readHolder(filepath.Join(t.dir, "holders", strconv.Itoa(int(probe.Pid))+".json")), nil
}

func (t *procLocks) unlock(l *fileLocker, h uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hl := t.held[h]
	if hl == nil || hl.owner != l {
		return
	}
	if hl.count--; hl.count > 0 {
		return
	}
	delete(t.held, h)
	shard, off := shardOf(h)
	lk := syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0, Start: off, Len: 1}
	_ = syscall.FcntlFlock(t.shards[shard].Fd(), syscall.F_SETLK, &lk)
}
