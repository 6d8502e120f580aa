package cli_test

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// frameflowAtTerminal runs the CLI in-process as at a terminal (prompts
// asked), with answer typed at the prompt.
func frameflowAtTerminal(t *testing.T, env map[string]string, answer string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, cli.Streams{
		In: strings.NewReader(answer), Out: &out, Err: &errb, InTTY: true, OutTTY: true, Width: 120,
		Getenv: func(k string) string { return env[k] },
	})
	return result{out: out.String(), err: errb.String(), code: code}
}

// A resume at a terminal shows what the journal proves already sent apart
// from what it will still send: the plan the person approves counts only
// what remains, and the stores whose clone was answered are listed as sent,
// not planned again. Refusing sends nothing.
func TestResumeShowsOnlyWhatRemainsForApproval(t *testing.T) {
	const stores = 4
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(stores), TaskFailRate: 0.5, Seed: 2})
	// One at a time, so that the simulator's seeded task failures fall on
	// the same tasks every time.
	if r := frameflow(t, env, "run", rolloutFile, "--yes", "--parallelism", "1"); r.code != 1 {
		t.Fatalf("the run should fail (half the tasks fail):\n%s", r)
	}
	before := len(s.Requests())
	r := frameflowAtTerminal(t, env, "no\n", "resume", "--last", "--no-color")
	if r.code != 1 || !strings.Contains(r.err, "not approved; nothing was changed") {
		t.Fatalf("resume answered no:\n%s", r)
	}
	for _, q := range s.Requests()[before:] {
		if q.Method != "GET" {
			t.Fatalf("a resume that was not approved sent %s %s", q.Method, q.Path)
		}
	}
	done := regexp.MustCompile(`Already sent by earlier attempts \(their results are in the journal; not sent again\): (\d+)`).FindStringSubmatch(r.out)
	left := regexp.MustCompile(`frameflow will make (\d+) changes`).FindStringSubmatch(r.out)
	if done == nil || left == nil {
		t.Fatalf("the resume does not show what was sent apart from what remains:\n%s", r)
	}
	nDone, _ := strconv.Atoi(done[1])
	nLeft, _ := strconv.Atoi(left[1])
	// Every store has a clone, a publish and an elasticity change; one
	// sent before reads as unchanged in the new plan, and is listed as
	// sent all the same. (Seed 2: one store done, three stopped at
	// clone, publish and capacity.)
	if nDone == 0 || nLeft == 0 || nDone+nLeft != 3*stores {
		t.Fatalf("%d already sent + %d remaining, want both > 0 and %d in all:\n%s", nDone, nLeft, 3*stores, r.out)
	}
	// What is listed as sent is not in the plan that follows.
	sentPart, planPart, _ := strings.Cut(r.out, "What remains:")
	if !strings.Contains(sentPart, "✓ rollout.clone (sandbox.clone) × ") {
		t.Errorf("no clone is listed as already sent:\n%s", r.out)
	}
	for _, step := range []string{"clone", "publish", "capacity"} {
		sent := regexp.MustCompile(`✓ rollout\.` + step + ` \([a-z.]+\) × \d+: ([^\n]+)`).FindStringSubmatch(sentPart)
		planned := regexp.MustCompile(`(?s)rollout\.` + step + ` \([a-z.]+\) × \d+\n.*?targets: +([^\n]+)`).FindStringSubmatch(planPart)
		if sent == nil || planned == nil {
			continue
		}
		for _, store := range strings.Split(sent[1], ", ") {
			if !strings.HasPrefix(store, "Store-") && !strings.HasPrefix(store, "… +") {
				t.Errorf("%s already sent is listed as %q, not by its store's name:\n%s", step, store, r.out)
			}
			if strings.Contains(planned[1], store) {
				t.Errorf("%s's %s, which the journal proves sent, is in the plan to approve again:\n%s", store, step, r.out)
			}
		}
	}
	if strings.Contains(planPart, "Plan hash:") {
		t.Errorf("what remains is shown with the whole plan's hash:\n%s", planPart)
	}
	if !strings.Contains(planPart, "Do you want to perform these actions?") {
		t.Errorf("no question after what remains:\n%s", planPart)
	}
}

// A resumed apply shows what remains of its applied plan, read back from
// the state backend, not of a new plan: every planned mutation is either
// already sent or remaining (a new plan would read a capacity already set
// as unchanged and leave it out).
func TestResumedApplyShowsWhatRemainsOfItsPlan(t *testing.T) {
	const stores = 4
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(stores), TaskFailRate: 0.5, Seed: 2})
	planFile := t.TempDir() + "/rollout.plan"
	if r := frameflow(t, env, "plan", rolloutFile, "--out", planFile); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	if r := frameflow(t, env, "apply", planFile, "--yes", "--parallelism", "1"); r.code != 1 {
		t.Fatalf("the apply should fail (half the tasks fail):\n%s", r)
	}
	before := len(s.Requests())
	r := frameflowAtTerminal(t, env, "no\n", "resume", "--last", "--no-color")
	if r.code != 1 || !strings.Contains(r.err, "not approved; nothing was changed") {
		t.Fatalf("resume answered no:\n%s", r)
	}
	done := regexp.MustCompile(`Already sent by earlier attempts \(their results are in the journal; not sent again\): (\d+)`).FindStringSubmatch(r.out)
	left := regexp.MustCompile(`frameflow will make (\d+) changes`).FindStringSubmatch(r.out)
	if done == nil || left == nil {
		t.Fatalf("the resumed apply does not show what was sent apart from what remains:\n%s", r)
	}
	nDone, _ := strconv.Atoi(done[1])
	nLeft, _ := strconv.Atoi(left[1])
	if nDone == 0 || nLeft == 0 || nDone+nLeft != 3*stores {
		t.Fatalf("%d already sent + %d remaining, want both > 0 and %d in all (the applied plan's):\n%s", nDone, nLeft, 3*stores, r.out)
	}
	for _, q := range s.Requests()[before:] {
		if q.Method != "GET" {
			t.Fatalf("a resume that was not approved sent %s %s", q.Method, q.Path)
		}
	}
}
