package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// Issue 12, item 2, against the simulator: the plan a reviewer reads groups
// a fan-out's identical changes, names what ids are, labels every setting,
// says where a clone comes from, shows publish as an update, and its
// Markdown fits a pull-request comment even for 500 stores.
func TestPlanForHumansAgainstTheSimulator(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3)})
	r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml")
	if r.code != 0 {
		t.Fatalf("plan:\n%s", r)
	}
	for _, re := range []string{
		`(?m)^! replace rollout\.clone \(sandbox\.clone\) × 3$`,
		`(?m)^      source account: QA \([0-9a-f]{8}\)$`,
		`(?m)^      source pool:    \S.* \([0-9a-f]{8}\)$`,
		`(?m)^~ update  rollout\.publish \(sandbox\.publish\) × 3$`,
		`(?m)^      change:   min 0 → 1, buffer 0 → 1, max \d+ → 5$`,
		`(?m)^Approval required for \d+ changes \(3 destructive\)\.$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.out) {
			t.Errorf("plan lacks %s:\n%s", re, r.out)
		}
	}
	if regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`).MatchString(r.out) || strings.Contains(r.out, "known after apply") {
		t.Errorf("the text plan shows whole UUIDs or placeholders:\n%s", r.out)
	}

	_, env = simEnv(t, sim.Options{Scenario: sim.RetailScenario(500)})
	planFile := filepath.Join(t.TempDir(), "rollout.plan")
	r = frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--format", "markdown", "--out", planFile)
	if r.code != 0 {
		t.Fatalf("plan of 500 stores:\n%.2000s", r)
	}
	if n := len([]rune(r.out)); n > 60000 {
		t.Errorf("the Markdown plan of 500 stores is %d characters, over 60,000", n)
	}
	if !strings.HasPrefix(r.out, "### frameflow plan: qa-rollout\n\n**Plan: 1500 changes") || !strings.Contains(r.out, "| ! | replace | `rollout.clone (sandbox.clone)` | 500 |") {
		t.Errorf("the Markdown plan does not start with its summary table:\n%.1500s", r.out)
	}
	if strings.Contains(r.out, "shortened to fit") && !strings.Contains(r.out, "`"+planFile+"`") {
		t.Errorf("a shortened Markdown plan does not point to the plan file")
	}
	if text := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml"); strings.Count(text.out, "\n") > 60 {
		t.Errorf("the text plan of 500 stores is %d lines", strings.Count(text.out, "\n"))
	}
}
