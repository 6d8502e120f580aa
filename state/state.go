// Package state chooses where frameflow keeps what outlives a process: run
// journals (and so history and resume), resource locks shared between
// runs, and named documents (applied plans). Two backends: the local state
// directory (the default, needs nothing) and PostgreSQL (a DSN), which CI
// runners and colleagues share. docs/state.md explains the choice.
package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// Backend is one place state lives.
type Backend interface {
	// Describe names the backend for people: a directory, or the database
	// address without its password.
	Describe() string
	// Journals is the run journals, opened with o.
	Journals(o journal.Options) *journal.Store
	// Locks is the resource locks shared with other runs, taken on behalf
	// of run runID, each wait bounded by timeout.
	Locks(runID string, timeout time.Duration) engine.ResourceLocker
	// Get reads a named document; (nil, nil) when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// Put writes a named document, replacing it.
	Put(ctx context.Context, name string, body []byte) error
	// PutNew writes a named document only if there is none, atomically:
	// of two writers in the same instant, even in two processes or on two
	// machines, exactly one is told created. A loser gets false and the
	// document as the winner wrote it. For write-once records (approval
	// decisions).
	PutNew(ctx context.Context, name string, body []byte) (created bool, existing []byte, err error)
	// DeleteOlder deletes the documents named under folder (a document
	// name prefix ending in "/", e.g. "serve/plans/") last written more
	// than age ago, by the backend's own clock, and says how many it
	// deleted. For documents that expire (plans made in the page).
	DeleteOlder(ctx context.Context, folder string, age time.Duration) (int, error)
	// Close releases the backend's connections (and with them its locks).
	Close() error
}

// DefaultLockTimeout is how long a run waits for a resource another run
// holds before failing that item: long enough for the other run's clone
// and publish of that account to end (minutes), short enough that a
// forgotten lock shows in a CI job's time limit.
const DefaultLockTimeout = 30 * time.Minute

// Options configure Open.
type Options struct {
	// LocalDir is the state directory of the local backend.
	LocalDir string
	// NoSync: local backend without fsync (tests and benchmarks only).
	NoSync bool
}

// Open opens the backend spec names: "" or "local" for the local state
// directory, a postgres:// or postgresql:// DSN for PostgreSQL.
func Open(ctx context.Context, spec string, o Options) (Backend, error) {
	switch {
	case spec == "" || spec == "local":
		return OpenLocal(o.LocalDir, o.NoSync)
	case strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://"):
		return OpenPostgres(ctx, spec)
	default:
		return nil, errors.New("--state must be \"local\" or a postgres:// DSN, not " + fmt.Sprintf("%q", RedactDSN(spec)))
	}
}

// IsPostgres tells whether spec selects PostgreSQL.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// LockTimeoutError says a resource stayed held by another run too long.
type LockTimeoutError struct {
	Key     string
	Holder  string
	Timeout time.Duration
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("%s is held by %s: gave up after waiting %s (--lock-timeout); nothing was sent for it", e.Key, e.Holder, e.Timeout)
}

// holderInfo is who holds a lock, as recorded next to it.
type holderInfo struct {
	RunID string    `json:"run_id"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	User  string    `json:"user"`
	Since time.Time `json:"since"`
}

func (h holderInfo) String() string {
	if h.RunID == "" {
		return "another run"
	}
	s := "run " + h.RunID
	if h.Host != "" {
		s += " on host " + h.Host
	}
	if h.PID != 0 {
		s += fmt.Sprintf(" (pid %d)", h.PID)
	}
	return s
}
