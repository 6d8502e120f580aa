//go:build unix

package state_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/state"
)

// A run of an earlier version (one lock file, resources.lock, a write lock
// on the byte hashed from the key) and a run of this one (sharded lock
// files) never hold one account at once, whichever came first.
func TestEarlierVersionsLocksAndThisOnesExcludeEachOther(t *testing.T) {
	dir := t.TempDir()
	const key = "account:Store-012"

	// The earlier version holds the key: this one waits, naming it.
	cmd, lines := startLegacyHelper(t, dir, key, "hold")
	if got := <-lines; got != "locked" {
		t.Fatalf("helper: %q", got)
	}
	b, err := state.OpenLocal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var holder string
	_, err = b.Locks("run-new", 300*time.Millisecond).Acquire(context.Background(), []string{key}, func(_, h string) { holder = h })
	var timeout *state.LockTimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("took %s while an earlier version held it: %v", key, err)
	}
	if !strings.Contains(holder, "run-legacy") {
		t.Fatalf("waiting named %q, want the earlier version's run-legacy", holder)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	rel, err := b.Locks("run-new", 10*time.Second).Acquire(context.Background(), []string{key}, func(string, string) {})
	if err != nil {
		t.Fatalf("lock not taken after the earlier version died: %v", err)
	}

	// This one holds it: the earlier version's lock of the key fails.
	cmd, lines = startLegacyHelper(t, dir, key, "try")
	if got := <-lines; !strings.HasPrefix(got, "held by ") || !strings.Contains(got, strconv.Itoa(os.Getpid())) {
		t.Fatalf("earlier version's lock while this one held %s: %q, want held by pid %d", key, got, os.Getpid())
	}
	_ = cmd.Wait()
	rel()
}

func startLegacyHelper(t *testing.T, dir, key, mode string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGSTATE_HELPER=legacy", "LEGACY_DIR="+dir, "LEGACY_KEY="+key, "LEGACY_MODE="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		lines <- sc.Text()
	}()
	return cmd, lines
}

// legacyHelper locks the way versions before the lock shards did: hold
// takes the key's byte of resources.lock and waits to be killed; try
// reports whether it could take it.
func legacyHelper() {
	locks := filepath.Join(os.Getenv("LEGACY_DIR"), "locks")
	_ = os.MkdirAll(filepath.Join(locks, "holders"), 0o700)
	f, err := os.OpenFile(filepath.Join(locks, "resources.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(os.Getenv("LEGACY_KEY")))
	off := int64(h.Sum64() >> 2)
	holder, _ := json.Marshal(map[string]any{"run_id": "run-legacy", "pid": os.Getpid()})
	_ = os.WriteFile(filepath.Join(locks, "holders", strconv.Itoa(os.Getpid())+".json"), holder, 0o600)
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Start: off, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		probe := syscall.Flock_t{Type: syscall.F_WRLCK, Start: off, Len: 1}
		_ = syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &probe)
		fmt.Printf("held by pid %d (%v)\n", probe.Pid, err)
		os.Exit(0)
	}
	fmt.Println("locked")
	if os.Getenv("LEGACY_MODE") == "try" {
		os.Exit(0)
	}
	time.Sleep(time.Minute)
	os.Exit(3)
}
