//go:build !unix

package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/gofrs/flock"
)

// Without POSIX record locks: one lock file per key, <dir>/<key>.lock,
// holding the holder's description.
type fileLocker struct {
	dir     string
	runID   string
	timeout time.Duration
	poll    time.Duration
	held    map[string]*flock.Flock
}

// lockFileName keeps a key readable in the file name and unique through a
// digest suffix.
func lockFileName(key string) string {
	safe := regexp.MustCompile(`[^A-Za-z0-9._-]`).ReplaceAllString(key, "_")
	if len(safe) > 80 {
		safe = safe[:80]
	}
	sum := sha256.Sum256([]byte(key))
	return safe + "-" + hex.EncodeToString(sum[:4]) + ".lock"
}

func newFileLocker(dir, runID string, timeout time.Duration) engine.ResourceLocker {
	return &fileLocker{dir: dir, runID: runID, timeout: timeout, poll: 100 * time.Millisecond}
}

func (l *fileLocker) Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (func(), error) {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("resource locks: %w", err)
	}
	locks := map[string]*flock.Flock{}
	return acquireSorted(ctx, keys, l.timeout, l.poll, waiting,
		func(k string) (bool, string, error) {
			path := filepath.Join(l.dir, lockFileName(k))
			fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
			ok, err := fl.TryLock()
			if err != nil || !ok {
				return false, readHolder(path), err
			}
			b, _ := json.Marshal(thisHolder(l.runID))
			_ = os.WriteFile(path, append(b, '\n'), 0o600)
			locks[k] = fl
			return true, "", nil
		},
		func(k string) {
			if fl := locks[k]; fl != nil {
				_ = fl.Unlock()
			}
		})
}
