package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// Mistakes a newcomer makes in their first hour get a message that says
// what to do instead, exit 2 (1 for a resume with nothing to resume), and
// send nothing.
func TestNewcomerMistakesSayWhatToDo(t *testing.T) {
	s, env := simEnv(t, sim.Options{})
	missing := filepath.Join(t.TempDir(), "rollout.plan")
	cases := []struct {
		args []string
		code int
		want string
	}{
		// terraform habit: apply the workflow itself
		{[]string{"apply", rolloutFile}, 2, rolloutFile + " is a workflow, not a plan: make a plan with `frameflow plan " + rolloutFile + " --out rollout.plan` and apply that, or plan, confirm and apply in one go with `frameflow run " + rolloutFile + "`; nothing was sent"},
		{[]string{"apply", missing}, 2, "no plan file " + missing + ": make one with `frameflow plan WORKFLOW --out " + missing + "`; nothing was sent"},
		{[]string{"resume", "--last"}, 1, "no runs to resume in " + filepath.Join(env["FRAMEFLOW_STATE_DIR"], "runs") + " (--state-dir or --state choose where runs are kept"},
	}
	for _, c := range cases {
		r := frameflow(t, env, c.args...)
		if r.code != c.code || !strings.Contains(r.err, "error: "+c.want) || strings.Contains(r.err, "journal:") {
			t.Errorf("frameflow %s: want exit %d and %q\n%s", strings.Join(c.args, " "), c.code, c.want, r)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

// The demo plans, then runs: a note (no doctor findings on its fresh
// simulator) is said once, not before each.
func TestDemoSaysEachNoteOnce(t *testing.T) {
	r := frameflow(t, map[string]string{}, "demo", "--task-duration", "50ms")
	if r.code != 0 {
		t.Fatalf("demo: %s", r)
	}
	if n := strings.Count(r.err, "note: no `frameflow doctor` findings"); n != 1 {
		t.Errorf("the doctor note is said %d times:\n%s", n, r.err)
	}
}

// Flag and file mistakes name the flag, the value given and what is
// accepted, in words a person uses (no Go package names).
func TestFlagMistakesInPlainWords(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	missing := filepath.Join(t.TempDir(), "creds.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud", "runs"}, `error: --log-level must be debug, info, warn or error, not "loud"`},
		{[]string{"api", "get", "/accounts", "--credentials", missing}, "error: credentials file " + missing + " does not exist (--credentials: a file holding client_id and client_secret)"},
	} {
		r := frameflow(t, env, c.args...)
		if r.code != 2 || !strings.Contains(r.err, c.want) || strings.Contains(r.err, "slog") || strings.Contains(r.err, "stat ") {
			t.Errorf("frameflow %s: want exit 2 and %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
}

// A run resumed from another directory than the one it started in: the
// journal keeps the workflow's path as given, so the message says where
// to run the command from, not just "no such file or directory".
func TestResumeFromAnotherDirectorySaysWhereToRunIt(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1), TaskFailRate: 1})
	if r := frameflow(t, env, "run", rolloutFile, "--yes"); r.code != 1 {
		t.Fatalf("the run should fail (every task fails):\n%s", r)
	}
	t.Chdir(t.TempDir())
	r := frameflow(t, env, "resume", "--last", "--yes")
	if r.code == 0 || !strings.Contains(r.err, "its workflow "+rolloutFile+": no such file here; the path is relative to the directory the workflow was planned or run from: run this command there") {
		t.Fatalf("resume elsewhere:\n%s", r)
	}
}
