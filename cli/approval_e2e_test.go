package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// gateWorkflow: a canary call, an approval gate, then the rest.
func gateWorkflow(host, timeout string) string {
	return fmt.Sprintf(`version: 1
name: canary-gate
http:
  allow: [%s]
steps:
  - id: canary
    uses: http.request
    with: {method: POST, url: "http://%s/canary"}
  - id: gate
    uses: approval
    needs: [canary]
    with:
      message: canary stores look healthy?
      timeout: %s
  - id: rest
    uses: http.request
    needs: [gate]
    with:
      method: POST
      url: http://%s/rest
      json: {approved_by: "${{ steps.gate.outputs.approved_by }}"}
`, host, host, timeout, host)
}

// background is the binary running while the test acts on it.
type background struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	code int
}

func startBinary(t *testing.T, env map[string]string, args ...string) *background {
	t.Helper()
	b := &background{cmd: exec.Command(frameflowBinary(t), args...), done: make(chan struct{})}
	b.cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for k, v := range env {
		b.cmd.Env = append(b.cmd.Env, k+"="+v)
	}
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := b.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		}
		close(b.done)
	}()
	t.Cleanup(func() { _ = b.cmd.Process.Kill(); <-b.done })
	return b
}

func (b *background) wait(t *testing.T) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the run did not end:\n%s", b.out.String())
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func paths(h *hookServer) []string {
	var out []string
	for _, r := range h.requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// lastRunID is the only run in the state directory.
func lastRunID(t *testing.T, env map[string]string) string {
	t.Helper()
	var id string
	waitFor(t, "the run's journal", func() bool {
		m, _ := filepath.Glob(filepath.Join(env["FRAMEFLOW_STATE_DIR"], "runs", "*.jsonl"))
		if len(m) == 1 {
			id = strings.TrimSuffix(filepath.Base(m[0]), ".jsonl")
		}
		return id != ""
	})
	return id
}

func okHook(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(204) }

// In CI (no terminal) the run waits at the gate until `frameflow approve`;
// the approver is recorded and reaches the steps after the gate.
func TestApprovalGateWaitsForApproveCommand(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the canary", func() bool { return len(h.requests()) == 1 })
	time.Sleep(300 * time.Millisecond) // the gate holds: nothing after it is sent
	if got := paths(h); len(got) != 1 {
		t.Fatalf("sent past the gate: %v", got)
	}

	r := runBinary(t, env, "approve", id, "canary")
	if r.code == 0 || !strings.Contains(r.err, `"canary" is not an approval step`) || !strings.Contains(r.err, "gate") {
		t.Fatalf("approving a step that is no gate: %s", r)
	}
	// The wait is journaled: runs and runs show list it, with the command.
	waitFor(t, "runs to list the wait", func() bool {
		return strings.Contains(runBinary(t, env, "runs").out, "running, waiting for approval")
	})
	if r := runBinary(t, env, "runs", "--status", "waiting", "--format", "json"); !strings.Contains(r.out, `"id": "`+id+`"`) {
		t.Fatalf("runs --status waiting does not list the run: %s", r)
	}
	r = runBinary(t, env, "runs")
	if !strings.Contains(r.out, "Run "+id+" waits for approval at gate since") || !strings.Contains(r.out, "frameflow approve "+id+" gate") ||
		!strings.Contains(r.out, "asks: canary stores look healthy?") {
		t.Fatalf("runs while waiting: %s", r)
	}
	r = runBinary(t, env, "runs", "show", id, "--format", "json")
	var shown struct {
		Waiting []struct{ Step, Message, Approve string }
	}
	if err := json.Unmarshal([]byte(r.out), &shown); err != nil || len(shown.Waiting) != 1 || shown.Waiting[0].Step != "gate" ||
		shown.Waiting[0].Approve != "frameflow approve "+id+" gate" || !strings.Contains(r.out, `"timeout_at"`) {
		t.Fatalf("runs show --format json while waiting: %v %s", err, r)
	}

	// Two approvers at once: exactly one is recorded, the other is told
	// who was first.
	var wg sync.WaitGroup
	answers := make([]result, 2)
	for i, by := range []string{"ann@ops", "bob@ops"} {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = runBinary(t, env, "approve", id, "gate", "--by", by) }()
	}
	wg.Wait()
	winner, loser := answers[0], answers[1]
	winnerName := "ann@ops"
	if winner.code != 0 {
		winner, loser = loser, winner
		winnerName = "bob@ops"
	}
	if winner.code != 0 || !strings.Contains(winner.out, "Approved gate of run "+id+" (by "+winnerName+")") ||
		loser.code == 0 || !strings.Contains(loser.err, "already approved by "+winnerName) {
		t.Fatalf("two approvers at once (%s first):\n%s\n%s", winnerName, answers[0], answers[1])
	}
	run.wait(t)
	if run.code != 0 {
		t.Fatalf("run after approval: exit %d\n%s", run.code, run.out.String())
	}
	reqs := h.requests()
	if len(reqs) != 2 || reqs[1].Path != "/rest" || !strings.Contains(reqs[1].Body, `"approved_by":"`+winnerName+`"`) {
		t.Fatalf("after approval: %+v", reqs)
	}
	if r := runBinary(t, env, "approve", id, "gate", "--reject"); r.code == 0 || !strings.Contains(r.err, "already approved by "+winnerName) {
		t.Fatalf("a second decision: %s", r)
	}
	if r := runBinary(t, env, "runs"); strings.Contains(r.out, "waiting") || strings.Contains(r.out, "Waits") {
		t.Fatalf("runs after the run ended still lists a wait: %s", r)
	}
	if r := runBinary(t, env, "runs", "--status", "waiting"); !strings.Contains(r.out, "No runs match") {
		t.Fatalf("runs --status waiting after the run ended: %s", r)
	}
}

// The process dies while waiting; the decision is made while nothing runs,
// and resume goes on from the gate without repeating the canary.
func TestApprovalGateSurvivesCrash(t *testing.T) {
	for _, how := range []string{"approve command", "resume --approve"} {
		t.Run(how, func(t *testing.T) {
			_, env := simEnv(t, sim.Options{})
			h := newHookServer(t, okHook)
			f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
			run := startBinary(t, env, "run", f, "--yes")
			id := lastRunID(t, env)
			waitFor(t, "the canary", func() bool { return len(h.requests()) == 1 })
			time.Sleep(200 * time.Millisecond)
			_ = run.cmd.Process.Kill()
			run.wait(t)
			// The journal says where it was waiting, and how to go on.
			if r := runBinary(t, env, "runs", "show", id); !strings.Contains(r.out, "Was waiting for approval at gate since") ||
				!strings.Contains(r.out, "frameflow approve "+id+" gate") || !strings.Contains(r.out, "then:    frameflow resume "+id) {
				t.Fatalf("runs show after a crash while waiting: %s", r)
			}

			args := []string{"resume", id, "--yes"}
			if how == "approve command" {
				if r := runBinary(t, env, "approve", id, "gate"); r.code != 0 {
					t.Fatalf("approve: %s", r)
				}
			} else {
				args = append(args, "--approve", "gate")
			}
			r := runBinary(t, env, args...)
			if r.code != 0 {
				t.Fatalf("resume: %s", r)
			}
			if got := paths(h); len(got) != 2 || got[0] != "POST /canary" || got[1] != "POST /rest" {
				t.Fatalf("sent %v, want the canary once and the rest once", got)
			}
		})
	}
}

func TestApprovalGateRejectedOrTimedOut(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the canary", func() bool { return len(h.requests()) == 1 })
	if r := runBinary(t, env, "approve", id, "gate", "--reject", "--comment", "store 2 is slow"); r.code != 0 {
		t.Fatalf("reject: %s", r)
	}
	run.wait(t)
	if run.code == 0 || !strings.Contains(run.out.String(), "rejected by") || !strings.Contains(run.out.String(), "store 2 is slow") || len(h.requests()) != 1 {
		t.Fatalf("rejected gate: exit %d, %v\n%s", run.code, paths(h), run.out.String())
	}
	// A rejection is final for the run: a resume stops at the gate again.
	if r := runBinary(t, env, "resume", id, "--yes"); r.code == 0 || !strings.Contains(r.out+r.err, "rejected by") || len(h.requests()) != 1 {
		t.Fatalf("resume after a rejection: %s %v", r, paths(h))
	}

	_, env = simEnv(t, sim.Options{})
	h = newHookServer(t, okHook)
	f = writeHTTPWorkflow(t, gateWorkflow(h.host, "1s"))
	r := runBinary(t, env, "run", f, "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.err, "nobody decided within 1s") || len(h.requests()) != 1 {
		t.Fatalf("timed out gate: %s %v", r, paths(h))
	}
}

// At a terminal the run asks; the answer is recorded with who gave it.
func TestApprovalGateTerminalPrompt(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
	var out, errb bytes.Buffer
	code := cli.Main([]string{"run", f, "--yes"}, cli.Streams{
		In: strings.NewReader("maybe\nyes\n"), InTTY: true,
		Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	if code != 0 || !strings.Contains(errb.String(), "Approval gate (run ") || !strings.Contains(errb.String(), "canary stores look healthy?") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	reqs := h.requests()
	t.Log(errb.String())
	if len(reqs) != 2 || !strings.Contains(reqs[1].Body, "(terminal)") {
		t.Fatalf("after the prompt: %+v", reqs)
	}
}
