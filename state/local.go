package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// Local is the state directory backend: journals in <dir>/runs, resource
// locks as kernel file locks in <dir>/locks (across processes of one
// machine), documents as files.
type Local struct {
	dir    string
	noSync bool
}

// OpenLocal opens (creating it 0700) a state directory.
func OpenLocal(dir string, noSync bool) (*Local, error) {
	if dir == "" {
		return nil, errors.New("state: empty state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Local{dir: dir, noSync: noSync}, nil
}

// Describe is the directory.
func (l *Local) Describe() string { return l.dir }

// Dir is the state directory.
func (l *Local) Dir() string { return l.dir }

// Journals opens <dir>/runs.
func (l *Local) Journals(o journal.Options) *journal.Store {
	o.NoSync = o.NoSync || l.noSync
	fs, err := journal.NewFileStorage(filepath.Join(l.dir, "runs"), o.NoSync)
	if err != nil {
		// OpenLocal made the directory; a failure here is a permission
		// change since, reported by the first Create or List.
		return journal.NewStore(brokenStorage{err}, o)
	}
	return journal.NewStore(fs, o)
}

// Close does nothing: file locks are released with each lock.
func (l *Local) Close() error { return nil }

var docName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

func checkDocName(name string) error {
	if !docName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("state: invalid document name %q", name)
	}
	return nil
}

// Get reads <dir>/<name>.
func (l *Local) Get(_ context.Context, name string) ([]byte, error) {
	if err := checkDocName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Put replaces <dir>/<name> atomically (mode 0600).
func (l *Local) Put(_ context.Context, name string, body []byte) error {
	if err := checkDocName(name); err != nil {
		return err
	}
	path := filepath.Join(l.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".doc-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		return err
	}
	if !l.noSync {
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// checkFolder accepts a document folder: a valid document name and "/".
func checkFolder(folder string) error {
	if !strings.HasSuffix(folder, "/") {
		return fmt.Errorf("state: document folder %q does not end in /", folder)
	}
	return checkDocName(strings.TrimSuffix(folder, "/"))
}

// DeleteOlder removes the files under <dir>/<folder> modified more than
// age ago (documents are replaced whole by Put, so a file's modification time is
// when the document was last written). Files another process removed
// first are not counted; temporary files of a Put in progress (".doc-*")
// are left alone.
func (l *Local) DeleteOlder(_ context.Context, folder string, age time.Duration) (int, error) {
	if err := checkFolder(folder); err != nil {
		return 0, err
	}
	t := time.Now().Add(-age)
	root := filepath.Join(l.dir, filepath.FromSlash(folder))
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no such folder yet, or removed meanwhile
		}
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(t) {
			return err
		}
		switch err := os.Remove(path); {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		return nil
	})
	return n, err
}

// PutNew creates <dir>/<name> unless it exists. The body is written and
// synced to a temporary file first, then hard-linked to the name: link(2)
// fails with EEXIST when the name exists, atomically even between
// processes, and a reader never sees a half-written document (which
// O_CREATE|O_EXCL on the name itself would allow).
func (l *Local) PutNew(_ context.Context, name string, body []byte) (bool, []byte, error) {
	if err := checkDocName(name); err != nil {
		return false, nil, err
	}
	path := filepath.Join(l.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".doc-*")
	if err != nil {
		return false, nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		return false, nil, err
	}
	if !l.noSync {
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return false, nil, err
		}
	}
	if err := tmp.Close(); err != nil {
		return false, nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			existing, rerr := os.ReadFile(path)
			return false, existing, rerr
		}
		return false, nil, err
	}
	if !l.noSync {
		// The new name is durable only once its directory is.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			err = d.Sync()
			_ = d.Close()
			if err != nil {
				return true, nil, err
			}
		}
	}
	return true, nil, nil
}

// Locks are kernel locks in <dir>/locks/ that the kernel drops when the
// holding process dies, however it dies (lockfile_unix.go: byte ranges of
// one file; elsewhere one file per key).
func (l *Local) Locks(runID string, timeout time.Duration) engine.ResourceLocker {
	return newFileLocker(filepath.Join(l.dir, "locks"), runID, timeout)
}

// acquireSorted takes keys in sorted order with try, polling while another
// run holds one, and releases what it took when it gives up.
func acquireSorted(ctx context.Context, keys []string, timeout, poll time.Duration, waiting func(key, holder string),
	try func(key string) (ok bool, holder string, err error), unlock func(key string)) (func(), error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var held []string
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			unlock(held[i])
		}
	}
	for _, k := range keys {
		deadline := time.Now().Add(timeout)
		last := ""
		for {
			ok, h, err := try(k)
			if err != nil {
				release()
				return nil, fmt.Errorf("resource lock %s: %w", k, err)
			}
			if ok {
				held = append(held, k)
				break
			}
			if h != last {
				last = h
				waiting(k, h)
			}
			if !time.Now().Before(deadline) {
				release()
				return nil, &LockTimeoutError{Key: k, Holder: h, Timeout: timeout}
			}
			select {
			case <-ctx.Done():
				release()
				return nil, ctx.Err()
			case <-time.After(min(poll, time.Until(deadline))):
			}
		}
	}
	return release, nil
}

func readHolder(path string) string {
	var h holderInfo
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &h)
	}
	return h.String()
}

func thisHolder(runID string) holderInfo {
	host, _ := os.Hostname()
	u := os.Getenv("USER")
	if cu, err := user.Current(); err == nil {
		u = cu.Username
	}
	return holderInfo{RunID: runID, Host: host, PID: os.Getpid(), User: u, Since: time.Now().UTC()}
}

// brokenStorage reports err from every call.
type brokenStorage struct{ err error }

func (b brokenStorage) Where() string                            { return "(unusable state directory)" }
func (b brokenStorage) Create(string) (journal.Log, error)       { return nil, b.err }
func (b brokenStorage) Open(string) (journal.Log, []byte, error) { return nil, nil, b.err }
func (b brokenStorage) IDs() ([]string, error)                   { return nil, b.err }
func (b brokenStorage) Read(string) ([]byte, bool, error)        { return nil, false, b.err }
