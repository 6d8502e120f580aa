package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// Issue 12, item 5: the same bad input gets the same behaviour from every
// command: exit 2, reported once, nothing sent.
func TestBadInputIsOneBehaviour(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(8)})
	for _, cmd := range []string{"validate", "plan", "run"} {
		r := frameflow(t, env, cmd, "../workflows/qa-rollout.yaml", "--input", "min_servers=7")
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", cmd, r.code, r)
		}
		if n := strings.Count(r.out+r.err, "min_servers 7 is more than max_servers 5"); n != 1 {
			t.Errorf("%s reports the error %d times, want once:\n%s", cmd, n, r)
		}
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Errorf("bad input sent %s %s", q.Method, q.Path)
		}
	}
}

// A saved plan's inputs are fixed, and a run's: apply and resume refuse a
// non-secret --input with a message saying why (one run never mixes two
// sets of inputs).
func TestApplyAndResumeRefuseNonSecretInputs(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2), TaskFailRate: 1})
	planFile := filepath.Join(t.TempDir(), "rollout.plan")
	if r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--out", planFile); r.code != 0 {
		t.Fatalf("plan:\n%s", r)
	}
	r := frameflow(t, env, "apply", planFile, "--yes", "--input", "max_servers=99")
	if r.code != 2 || !strings.Contains(r.err, `input "max_servers" is fixed by the plan (max_servers = 5)`) || !strings.Contains(r.err, "make a new plan") {
		t.Errorf("apply --input of a plan's input:\n%s", r)
	}
	if r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes"); r.code != 1 {
		t.Fatalf("the run should fail (every task fails):\n%s", r)
	}
	r = frameflow(t, env, "resume", "--last", "--yes", "--input", "organization_id=other")
	if r.code != 2 {
		t.Errorf("resume --input of an input the run does not have: exit %d\n%s", r.code, r)
	}
	r = frameflow(t, env, "resume", "--last", "--yes", "--input", "max_servers=3")
	if r.code != 2 || !strings.Contains(r.err, `input "max_servers" is fixed by the run (max_servers = 5)`) {
		t.Errorf("resume --input of a run's input:\n%s", r)
	}
}

// Refused credentials before anything was sent: say what to check, and do
// not send the user to resume a run that did nothing.
func TestRefusedCredentialsSayWhatToCheck(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	env["FRAME_CLIENT_SECRET"] = "not-the-secret"
	for _, args := range [][]string{
		{"run", "../workflows/capacity-schedule.yaml", "--input", "profile=day", "--yes"},
		{"plan", "../workflows/capacity-schedule.yaml", "--input", "profile=day"},
	} {
		r := frameflow(t, env, args...)
		if r.code != 1 || !strings.Contains(r.err, "check FRAME_CLIENT_ID and FRAME_CLIENT_SECRET") || !strings.Contains(r.err, "clock") {
			t.Errorf("%v: want what to check:\n%s", args, r)
		}
		if strings.Contains(r.out+r.err, "frameflow resume") {
			t.Errorf("%v suggests resuming a run that sent nothing:\n%s", args, r)
		}
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Errorf("sent %s %s", q.Method, q.Path)
		}
	}
}
