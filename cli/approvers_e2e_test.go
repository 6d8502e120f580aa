package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// A gate that names its approvers: `runs` and `runs show` say who may
// approve; a decision by anyone else is refused and records nothing; an
// approver's goes through and reaches the steps after the gate. The real
// binary, against the simulator.
func TestGateApproversShownAndEnforced(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	wf := strings.Replace(gateWorkflow(h.host, "1m"), "      timeout: 1m\n", "      timeout: 1m\n      approvers: [ann, bob@ops]\n", 1)
	f := writeHTTPWorkflow(t, wf)
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the wait to be journaled", func() bool {
		return strings.Contains(runBinary(t, env, "runs").out, "waiting for approval")
	})
	if r := runBinary(t, env, "runs", "show", id); !strings.Contains(r.out, "who may approve: ann, bob@ops (by name") {
		t.Fatalf("runs show does not say who may approve:\n%s", r)
	}
	r := runBinary(t, env, "runs", "show", id, "--format", "json")
	var shown struct {
		Waiting []struct{ Approvers []string }
	}
	if err := json.Unmarshal([]byte(r.out), &shown); err != nil || len(shown.Waiting) != 1 || fmt.Sprint(shown.Waiting[0].Approvers) != "[ann bob@ops]" {
		t.Fatalf("runs show --format json: %v\n%s", err, r)
	}
	for _, by := range []string{"carol@ops", "bob@laptop", "annette"} {
		r := runBinary(t, env, "approve", id, "gate", "--by", by)
		if r.code == 0 || !strings.Contains(r.err, by+" may not decide on gate of run "+id+": its approvers are ann, bob@ops; nothing was recorded") {
			t.Fatalf("approve --by %s:\n%s", by, r)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got := paths(h); len(got) != 1 {
		t.Fatalf("a refused decision let the run past the gate: %v", got)
	}
	if r := runBinary(t, env, "approve", id, "gate", "--by", "ann@laptop"); r.code != 0 {
		t.Fatalf("an approver's decision: %s", r)
	}
	run.wait(t)
	reqs := h.requests()
	if run.code != 0 || len(reqs) != 2 || !strings.Contains(reqs[1].Body, `"approved_by":"ann@laptop"`) {
		t.Fatalf("after the approver's decision: exit %d %+v\n%s", run.code, reqs, run.out.String())
	}
}

// A gate without approvers says anyone who can reach the run may decide;
// an approvers list that lets nobody decide, or holds something that is
// not a name, is refused by validate at its line and column.
func TestGateApproversValidatedAndDefault(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the wait to be journaled", func() bool {
		return strings.Contains(runBinary(t, env, "runs").out, "who may approve: anyone who can reach this run")
	})
	if r := runBinary(t, env, "approve", id, "gate"); r.code != 0 {
		t.Fatalf("approve: %s", r)
	}
	run.wait(t)

	for _, c := range []struct{ value, want string }{
		{"[]", "approvers: an empty list lets nobody decide"},
		{"[ann, 3]", "approvers: item 2: want a person's name, got 3"},
	} {
		bad := writeHTTPWorkflow(t, strings.Replace(gateWorkflow(h.host, "1m"), "      timeout: 1m\n", "      timeout: 1m\n      approvers: "+c.value+"\n", 1))
		r := runBinary(t, env, "validate", bad)
		if r.code != 2 || !strings.Contains(r.err, bad+":") || !strings.Contains(r.err, c.want) {
			t.Errorf("validate approvers: %s:\n%s", c.value, r)
		}
	}
}

// Approvers written as an expression are known once the run waits at the
// gate: an approve before that is refused (nothing recorded); once it
// waits, the journaled list is shown and enforced.
func TestGateApproversFromAnExpression(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	release := make(chan struct{})
	h := newHookServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Path == "/canary" {
			<-release
		}
		w.WriteHeader(204)
	})
	wf := strings.Replace(gateWorkflow(h.host, "1m"), "steps:\n", "inputs:\n  approver: {type: string, default: ann}\nsteps:\n", 1)
	wf = strings.Replace(wf, "      timeout: 1m\n", "      timeout: 1m\n      approvers: [\"${{ inputs.approver }}\"]\n", 1)
	f := writeHTTPWorkflow(t, wf)
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the canary", func() bool { return len(h.requests()) == 1 })
	r := runBinary(t, env, "approve", id, "gate", "--by", "ann")
	close(release)
	if r.code == 0 || !strings.Contains(r.err, "who may decide on gate is known only when run "+id+" waits there") {
		t.Fatalf("approve before the gate computed its approvers:\n%s", r)
	}
	waitFor(t, "the wait to be journaled", func() bool {
		return strings.Contains(runBinary(t, env, "runs", "show", id).out, "who may approve: ann (by name")
	})
	if r := runBinary(t, env, "approve", id, "gate", "--by", "bob"); r.code == 0 || !strings.Contains(r.err, "its approvers are ann") {
		t.Fatalf("approve by someone else: %s", r)
	}
	if r := runBinary(t, env, "approve", id, "gate", "--by", "ann"); r.code != 0 {
		t.Fatalf("approve by ann: %s", r)
	}
	run.wait(t)
	if run.code != 0 {
		t.Fatalf("run: exit %d\n%s", run.code, run.out.String())
	}
}

// A rejected gate's run does not end by telling the person to resume it
// (the rejection stands, and a resume stops there again): it says so, and
// says to start a new run.
func TestRejectedGateDoesNotSayResume(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, gateWorkflow(h.host, "1m"))
	run := startBinary(t, env, "run", f, "--yes")
	id := lastRunID(t, env)
	waitFor(t, "the canary", func() bool { return len(h.requests()) == 1 })
	if r := runBinary(t, env, "approve", id, "gate", "--reject", "--by", "ann", "--comment", "store 2 is slow"); r.code != 0 {
		t.Fatalf("reject: %s", r)
	}
	run.wait(t)
	out := run.out.String()
	if run.code != 1 || strings.Contains(out, "Continue with: frameflow resume") || strings.Contains(out, "continue with: frameflow resume") ||
		!strings.Contains(out, "1 approval gate rejected (the decision stands: a resume stops there again): gate, by ann") ||
		!strings.Contains(out, "error: run "+id+" stopped: approval gate, by ann rejected; the decision stands, so a resume would stop there again: start a new run") {
		t.Fatalf("the end of a rejected run: exit %d\n%s", run.code, out)
	}
	// runs show reads the rejection back from the decision document.
	r := runBinary(t, env, "runs", "show", id)
	if !strings.Contains(r.out, "1 approval gate rejected (the decision stands: a resume stops there again): gate, by ann") || strings.Contains(r.out, "Continue with") {
		t.Fatalf("runs show of a rejected run:\n%s", r)
	}
}

// At a terminal, a person who is not among a gate's approvers is told so
// and not asked; the run waits until an approver decides.
func TestTerminalNonApproverIsToldNotAsked(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, okHook)
	f := writeHTTPWorkflow(t, strings.Replace(gateWorkflow(h.host, "1m"), "      timeout: 1m\n", "      timeout: 1m\n      approvers: [ann-not-this-user]\n", 1))
	done := make(chan result, 1)
	go func() { done <- frameflowAtTerminal(t, env, "yes\nyes\n", "run", f, "--yes") }()
	id := lastRunID(t, env)
	waitFor(t, "the wait to be journaled", func() bool {
		return strings.Contains(frameflow(t, env, "runs", "show", id).out, "who may approve: ann-not-this-user")
	})
	time.Sleep(300 * time.Millisecond) // the typed "yes" must not count
	if got := paths(h); len(got) != 1 {
		t.Fatalf("a non-approver's typed yes let the run past the gate: %v", got)
	}
	if r := frameflow(t, env, "approve", id, "gate", "--by", "ann-not-this-user"); r.code != 0 {
		t.Fatalf("the approver: %s", r)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end after the approver decided")
	}
	if r.code != 0 || !strings.Contains(r.out+r.err, "are not among its approvers (ann-not-this-user): it waits for one of them") ||
		strings.Contains(r.out+r.err, "Type yes to approve") {
		t.Fatalf("the terminal run:\n%s", r)
	}
}
