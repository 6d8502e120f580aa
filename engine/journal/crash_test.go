package journal_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

const helperEnv = "FRAMEFLOW_JOURNAL_HELPER_DIR"

// TestHelperProcess is the child of TestKill9MidRequest, not a test of its
// own: it starts a run, journals a clone's intent and hangs inside Send, as
// a process does while its request is out, until it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("only run as a child process")
	}
	s, err := journal.OpenWith(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create(journal.RunMeta{Workflow: "qa-rollout", FileHash: "sha256:abc"})
	if err != nil {
		t.Fatal(err)
	}
	m := (&mutation{}).build()
	m.Send = func(context.Context) (any, error) {
		// Tell the parent the request is out, then never answer.
		if err := os.WriteFile(filepath.Join(dir, "sent"), []byte(r.ID()), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		return nil, errors.New("unreachable")
	}
	_, _ = r.Do(context.Background(), key, m)
}

func TestKill9MidRequest(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Wait (generously) for the child to be inside Send.
	var id string
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "sent"))
		if err == nil && len(b) > 0 {
			id = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never sent; its output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	s := openStore(t, dir, testOptions())
	// While the child lives, its run cannot be resumed, and the refusal names it.
	_, err := s.Resume(id)
	var le *journal.LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("resume of a live run: %v (child pid %d)", err, cmd.Process.Pid)
	}
	if runs, _ := s.List(); len(runs) != 1 || runs[0].Status != journal.StatusRunning {
		t.Errorf("list while the child runs: %+v", runs)
	}

	// kill -9: no deferred code, no cleanup; the kernel drops the lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	r := resume(t, s, id)
	if r.Attempt() != 2 || r.PreviousStatus() != journal.StatusCrashed {
		t.Errorf("attempt %d after %q", r.Attempt(), r.PreviousStatus())
	}
	if p := r.Pending(); len(p) != 1 || p[0].Key != key {
		t.Fatalf("pending after the crash: %+v", p)
	}
	// The clone did happen: Reconcile proves it, and it is not sent again.
	var sends, reconciles atomic.Int32
	// The same request as the child's (mutation.build): a key is one request.
	m := &engine.Mutation{Type: "sandbox.clone", Method: "POST", Path: "/accounts/store-1/pools/qa-pool/clone",
		Body: map[string]any{"target_account_id": "store-1"},
		Send: func(context.Context) (any, error) { sends.Add(1); return map[string]any{"id": "task-dup"}, nil },
		Reconcile: func(context.Context) (any, bool, error) {
			reconciles.Add(1)
			return map[string]any{"id": "task-1", "stage": "in_progress"}, true, nil
		},
	}
	res, err := r.Do(context.Background(), key, m)
	if err != nil {
		t.Fatal(err)
	}
	if sends.Load() != 0 || reconciles.Load() != 1 {
		t.Fatalf("sends=%d reconciles=%d, want 0 and 1", sends.Load(), reconciles.Load())
	}
	if res.(map[string]any)["id"] != "task-1" {
		t.Errorf("result %v", res)
	}
	if err := r.Finish(journal.StatusSucceeded); err != nil {
		t.Fatal(err)
	}
	r.Close()
	runs, err := s.List()
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	if a := runs[0].Attempts; runs[0].Status != journal.StatusSucceeded || len(a) != 2 || a[0].Status != journal.StatusCrashed || a[0].PID != le.PID {
		t.Errorf("history %+v", runs[0])
	}
}
