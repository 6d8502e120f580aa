package cli_test

// Team state in PostgreSQL, end to end (issue 14): real frameflow
// processes, each with its own local state directory, share one throwaway
// PostgreSQL server (internal/pgtest) and run workflows/qa-rollout.yaml
// against one simulator at the same time; the simulator's request log must
// show every store cloned once and published once.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// proc is one frameflow process started by a pgRig.
type proc struct {
	name    string
	args    []string
	cmd     *exec.Cmd
	out     bytes.Buffer
	err     bytes.Buffer
	done    chan struct{}
	code    int
	killed  bool
	elapsed time.Duration
}

func (p *proc) String() string {
	how := fmt.Sprintf("exit %d", p.code)
	if p.killed {
		how = "killed"
	}
	return fmt.Sprintf("%s: frameflow %s: %s after %s\n--- stdout (tail)\n%s\n--- stderr\n%s", p.name, strings.Join(p.args, " "), how,
		p.elapsed.Round(time.Millisecond), tail(p.out.String(), 3000), tail(p.err.String(), 3000))
}

// pgRig is a crashRig (its simulator, kill hook and checks) whose
// processes run concurrently against one PostgreSQL state, each with its
// own state directory.
type pgRig struct {
	*crashRig
	dsn      string
	localDir string // set: the processes share this local state directory instead
}

func newPGRig(t *testing.T, stores int) *pgRig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	dsn := pgtest.DSN(t)
	return &pgRig{crashRig: newCrashRig(t, stores, sim.Options{TaskDuration: 800 * time.Millisecond}), dsn: dsn}
}

// startVictim starts a process that the crashRig's hook kills with -9
// when trig fires.
func (r *pgRig) startVictim(trig trigger, name string, args ...string) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.start(name, args...)
	r.cmd, r.done, r.trig = p.cmd, p.done, trig
	return p
}

// start runs frameflow with args in a state directory of its own and
// FRAMEFLOW_STATE set to the shared database.
func (r *pgRig) start(name string, args ...string) *proc {
	t := r.t
	t.Helper()
	p := &proc{name: name, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(frameflowBinary(t), args...)
	if r.localDir != "" {
		p.cmd.Env = append(append([]string{}, r.env...), "FRAMEFLOW_STATE_DIR="+r.localDir, "FRAMEFLOW_STATE=local")
	} else {
		p.cmd.Env = append(append([]string{}, r.env...), "FRAMEFLOW_STATE_DIR="+t.TempDir(), "FRAMEFLOW_STATE="+r.dsn)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	began := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.elapsed = time.Since(began)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				p.killed = true
			}
		}
		close(p.done)
	}()
	return p
}

func (p *proc) wait() *proc { <-p.done; return p }

func runArgs() []string { return []string{"run", rolloutFile, "--yes", "--output", "json"} }

// Two runners, separate local state, one PostgreSQL, the same rollout at
// the same time: both exit 0 and every store is cloned and published once.
func TestTwoRunnersShareOnePostgres(t *testing.T) {
	t.Parallel()
	const stores = 30
	rig := newPGRig(t, stores)
	a := rig.start("A", runArgs()...)
	b := rig.start("B", runArgs()...)
	for _, p := range []*proc{a.wait(), b.wait()} {
		if p.code != 0 {
			t.Fatalf("%s", p)
		}
	}
	rig.checkExactlyOnce(stores)
	adopted := strings.Count(a.out.String(), "waiting for run") + strings.Count(b.out.String(), "waiting for run")
	t.Logf("A %s, B %s; %d lock waits shown", a.elapsed.Round(time.Millisecond), b.elapsed.Round(time.Millisecond), adopted)
	// runs lists both, from either machine, with host and user.
	runs := rig.start("runs", "runs", "--format", "json").wait()
	var list []struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Attempts []struct {
			Host string `json:"host"`
			User string `json:"user"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(runs.out.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("runs: %v\n%s", err, runs)
	}
	for _, r := range list {
		if r.Status != "succeeded" || len(r.Attempts) != 1 || r.Attempts[0].Host == "" || r.Attempts[0].User == "" {
			t.Fatalf("runs: %+v", list)
		}
	}
}

// The same on the local backend: two processes on one machine sharing a
// state directory (file locks, and each other's journals).
func TestTwoRunnersShareOneStateDir(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	const stores = 30
	rig := &pgRig{crashRig: newCrashRig(t, stores, sim.Options{TaskDuration: 800 * time.Millisecond}), localDir: t.TempDir()}
	a := rig.start("A", runArgs()...)
	b := rig.start("B", runArgs()...)
	for _, p := range []*proc{a.wait(), b.wait()} {
		if p.code != 0 {
			t.Fatalf("%s", p)
		}
	}
	rig.checkExactlyOnce(stores)
}

// A runner killed with -9 while it holds locks: the other, started with
// it, waits, then finishes once the killed one's session is gone; the
// killed run resumed from a third process (another state directory, as on
// another machine) sends nothing twice.
//
// The clones A sent whose answers died with it are proven sent (audit
// trail) but not finished: B, adopting them, stops for the operator's
// decision as A's own resume would (docs/resume.md), the operator marks
// them in B's run, and B's resume finishes. A's resume then stops for the
// same mutations in its own journal and is marked the same way.
func TestKilledRunnerReleasesLocksAndResumesElsewhere(t *testing.T) {
	t.Parallel()
	const stores = 12
	rig := newPGRig(t, stores)
	a := rig.startVictim(nth(stores/2, "acted", accepted(isClone)), "A", runArgs()...)
	// B starts once A is talking to the API: on a loaded machine B could
	// otherwise make the clones that kill A before A has journaled a run.
	rig.waitForRequests(1)
	b := rig.start("B", runArgs()...)
	if a.wait(); !a.killed {
		t.Fatalf("A was not killed:\n%s", a)
	}
	killedAt := time.Now()
	b = rig.settle(b.wait(), runIDOf(t, b))
	t.Logf("B finished %s after A was killed", time.Since(killedAt).Round(time.Millisecond))
	// A died before its output was flushed: its run is the other one.
	aID := ""
	var list []struct {
		ID string `json:"id"`
	}
	runs := rig.start("runs", "runs", "--format", "json").wait()
	if err := json.Unmarshal(runs.out.Bytes(), &list); err != nil {
		t.Fatalf("runs: %v\n%s", err, runs)
	}
	for _, r := range list {
		if r.ID != runIDOf(t, b) {
			aID = r.ID
		}
	}
	before := rig.mutations()
	res := rig.settle(rig.start("A-resumed", "resume", aID, "--yes", "--output", "json").wait(), aID)
	rig.checkExactlyOnce(stores)
	t.Logf("A's resume, from a third state directory, sent %d mutations (%d were accepted before it, from A and B)", rig.mutations()-before, before)
	_ = res
}

// settle plays the operator for a run that stopped on mutations whose
// outcome is unknown: it marks each from the simulator's truth and resumes
// (from yet another state directory) until the run succeeds.
func (r *pgRig) settle(p *proc, runID string) *proc {
	r.t.Helper()
	for round := 0; p.code != 0 && round < 4; round++ {
		if p.code != 1 {
			r.t.Fatalf("%s", p)
		}
		marks := r.operatorMarks(exitResult{err: p.err.String()})
		if len(marks) == 0 {
			r.t.Fatalf("the run failed with nothing to decide:\n%s", p)
		}
		p = r.start(p.name+"-marked", append([]string{"resume", runID, "--yes", "--output", "json"}, marks...)...).wait()
	}
	if p.code != 0 {
		r.t.Fatalf("not finished after 4 resumes:\n%s", p)
	}
	return p
}

// A run killed mid-rollout is resumed from another process with another
// local state directory: 0 duplicates.
func TestResumeFromAnotherMachine(t *testing.T) {
	t.Parallel()
	const stores = 8
	rig := newPGRig(t, stores)
	a := rig.startVictim(nth(3, "acted", accepted(isPublish)), "A", runArgs()...)
	if a.wait(); !a.killed {
		t.Fatalf("A was not killed:\n%s", a)
	}
	before := rig.mutations()
	res := rig.start("B", "resume", "--last", "--yes", "--output", "json").wait()
	if res.code != 0 {
		t.Fatalf("%s\n\n%s", res, a)
	}
	t.Logf("killed after %d accepted mutations; the resume from another state directory took %s and sent %d", before, res.elapsed.Round(time.Millisecond), rig.mutations()-before)
	if !strings.Contains(res.out.String(), "restored from the journal") {
		t.Errorf("the resume restored nothing from the journal:\n%s", res)
	}
	rig.checkExactlyOnce(stores)
}

// waitForRequests waits until the simulator has answered n requests.
func (r *pgRig) waitForRequests(n int) {
	r.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(r.sim.Requests()) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the simulator saw fewer than %d requests in 30s", n)
		}
	}
}

// mutations counts the accepted mutations the simulator has seen.
func (r *pgRig) mutations() int {
	n := 0
	for _, q := range r.sim.Requests() {
		if q.Method != "GET" && q.Status < 300 {
			n++
		}
	}
	return n
}

// runIDOf reads the run id from a process's JSON events.
func runIDOf(t *testing.T, p *proc) string {
	t.Helper()
	for _, line := range strings.Split(p.out.String(), "\n") {
		var ev struct {
			Type  string `json:"type"`
			RunID string `json:"run_id"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "run_started" && ev.RunID != "" {
			return ev.RunID
		}
	}
	t.Fatalf("no run_started event:\n%s", p)
	return ""
}

// The DSN's password appears nowhere a person or a log can see: not in
// history, errors or debug logs, not even when it is wrong.
func TestStatePasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	rig := newPGRig(t, 2)
	pw := pgtest.Shared(t).Password
	check := func(p *proc, wantCode int, wantOut string) {
		t.Helper()
		if p.code != wantCode || !strings.Contains(p.out.String()+p.err.String(), wantOut) {
			t.Fatalf("want exit %d and %q:\n%s", wantCode, wantOut, p)
		}
		if strings.Contains(p.out.String()+p.err.String(), pw) {
			t.Fatalf("the DSN's password was printed:\n%s", p)
		}
	}
	check(rig.start("run", append(runArgs(), "--log-level", "debug")...).wait(), 0, "run_finished")
	check(rig.start("runs", "runs", "--log-level", "debug").wait(), 0, "qa-rollout")
	check(rig.start("resume", "resume", "NOPE", "--yes", "--log-level", "debug").wait(), 1, "no run NOPE in postgres://frameflow:xxxxx@127.0.0.1")
	wrong := strings.Replace(rig.dsn, pw, pw+"x", 1)
	rig.dsn = wrong
	p := rig.start("runs", "runs").wait()
	if p.code == 0 || strings.Contains(p.out.String()+p.err.String(), pw) {
		t.Fatalf("a wrong password: want an error without it:\n%s", p)
	}
	t.Logf("wrong password: %s", strings.TrimSpace(p.err.String()))
}

// apply keeps the plan it executes in the database, so that a resume from
// another machine is held to it; an apply killed mid-way is resumed from
// another state directory and sends only what the plan holds, once.
func TestApplyOnPostgresResumedElsewhere(t *testing.T) {
	t.Parallel()
	const stores = 6
	rig := newPGRig(t, stores)
	planFile := filepath.Join(t.TempDir(), "rollout.plan")
	if p := rig.start("plan", "plan", rolloutFile, "--out", planFile).wait(); p.code != 0 {
		t.Fatalf("%s", p)
	}
	a := rig.startVictim(nth(2, "acted", accepted(isPublish)), "apply", "apply", planFile, "--yes", "--output", "json")
	if a.wait(); !a.killed {
		t.Fatalf("apply was not killed:\n%s", a)
	}
	id := runIDOf(t, a)
	conn, err := pgx.Connect(context.Background(), rig.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE name = $1`, "plans/"+id+".json").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the applied plan is not in the database: %d rows, %v", n, err)
	}
	res := rig.start("resume", "resume", id, "--yes", "--output", "json").wait()
	if res.code != 0 {
		t.Fatalf("%s\n\n%s", res, a)
	}
	rig.checkExactlyOnce(stores)
}

// A run that meets accounts another run holds longer than --lock-timeout
// fails those items, saying who holds them, and sends nothing for them.
func TestLockTimeoutFailsTheItem(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	const stores = 4
	rig := &pgRig{crashRig: newCrashRig(t, stores, sim.Options{TaskDuration: 3 * time.Second}), localDir: t.TempDir()}
	a := rig.start("A", runArgs()...)
	// B starts once A holds the accounts: A's first clone was accepted.
	for deadline := time.Now().Add(20 * time.Second); rig.mutations() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("A sent nothing:\n%s", a.wait())
		}
	}
	b := rig.start("B", "run", rolloutFile, "--yes", "--lock-timeout", "500ms").wait()
	if a.wait(); a.code != 0 {
		t.Fatalf("%s", a)
	}
	out := b.out.String() + b.err.String()
	if b.code != 1 || !strings.Contains(out, "waiting for run") || !strings.Contains(out, "gave up after waiting 500ms (--lock-timeout); nothing was sent for it") {
		t.Fatalf("B: want exit 1, the wait and the timeout shown:\n%s", b)
	}
	for _, line := range strings.Split(b.out.String(), "\n") {
		if strings.Contains(line, "gave up") {
			t.Logf("B: %s", strings.TrimSpace(line))
			break
		}
	}
	rig.checkExactlyOnce(stores)
}
