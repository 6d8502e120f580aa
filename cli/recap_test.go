package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// Issue 12: failures you can read. Piped, every row keeps its whole reason
// (reason first, the task after), and the run ends with a recap grouping
// the failed items by reason and the command that continues the run.
func TestFailedRunEndsWithARecap(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(12), TaskFailRate: 0.4, Seed: 7})
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes")
	if r.code != 1 {
		t.Fatalf("want a failed run (exit 1):\n%s", r)
	}
	// Reason first, then the whole task reference: never cut in a pipe.
	row := regexp.MustCompile(`(?m)^rollout\.\w+\s+Store-\w+\s+failed\s+\d+\s+\S+\s+(simulated failure of \w+ \(task-fail-rate\) \(task "[^"]+" [0-9a-f-]{36} failed\))$`)
	if !row.MatchString(r.out) {
		t.Errorf("no failed row with the reason first and the whole task reference:\n%s", r.out)
	}
	recap := regexp.MustCompile(`(?m)^(\d+) items? failed:\n  (\d+) × "simulated failure of (\w+) \(task-fail-rate\)"\n      in rollout\.\w+: Store-`)
	m := recap.FindStringSubmatch(r.out)
	if m == nil {
		t.Fatalf("no recap grouping the failures by reason:\n%s", r.out)
	}
	runID := regexp.MustCompile(`Run (\S+) failed`).FindStringSubmatch(r.out)
	if runID == nil || !strings.Contains(r.out, "Continue with: frameflow resume "+runID[1]+"\n") {
		t.Errorf("the recap does not say how to continue:\n%s", r.out)
	}
	// The groups add up to the failures counted.
	total := 0
	for _, g := range regexp.MustCompile(`(?m)^  (\d+) × `).FindAllStringSubmatch(r.out, -1) {
		total += atoi(g[1])
	}
	if total == 0 || total != atoi(m[1]) {
		t.Errorf("recap groups add up to %d, the header says %s", total, m[1])
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
