package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

type planJSON struct {
	FormatVersion int `json:"format_version"`
	Hash          string
	Mutations     []struct {
		Step, Item, Type, Method, Path string
		Resources                      []string
		Change                         *struct{ Before, After any }
	}
	Summary map[string]any
}

// Issue 5: plan reads live, sends only GETs, and lists 12 clones from the QA
// sandbox pool, 12 publishes and the elasticity changes.
func TestPlanSendsOnlyReads(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(12)})
	r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--format", "json")
	if r.code != 0 {
		t.Fatalf("plan failed:\n%s", r)
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Errorf("plan sent %s %s", q.Method, q.Path)
		}
	}
	var p planJSON
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, r.out)
	}
	if p.FormatVersion != 1 || !strings.HasPrefix(p.Hash, "sha256:") {
		t.Errorf("format_version %d hash %q", p.FormatVersion, p.Hash)
	}
	var qaSandbox string
	state := s.Snapshot()
	for _, a := range state.Accounts {
		if a.Name == "QA" {
			qaSandbox = sandboxPool(state, a.ID)
		}
	}
	counts := map[string]int{}
	for _, m := range p.Mutations {
		counts[m.Type]++
		if m.Type == "sandbox.clone" && !strings.HasSuffix(m.Path, "/pools/"+qaSandbox+"/clone") {
			t.Errorf("clone path %s does not use the QA sandbox pool %s", m.Path, qaSandbox)
		}
		if m.Type == "elasticity.set" && (m.Change == nil || m.Change.Before == nil || m.Change.After == nil) {
			t.Errorf("elasticity mutation without before/after: %+v", m)
		}
	}
	if counts["sandbox.clone"] != 12 || counts["sandbox.publish"] != 12 || counts["elasticity.set"] < 12 {
		t.Errorf("mutations by type: %v", counts)
	}
}

// Issue 5: plan --out then apply --yes sends exactly the planned mutations;
// a plan made stale by a new store is refused with the reason.
func TestPlanOutApply(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3)})
	planFile := filepath.Join(t.TempDir(), "rollout.plan")
	if r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--out", planFile); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	st, err := os.Stat(planFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v %v", err, st)
	}
	r := frameflow(t, env, "apply", planFile, "--yes")
	if r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	mut := 0
	for _, q := range s.Requests() {
		if q.Method != "GET" && q.Status < 300 {
			mut++
		}
	}
	if mut != 9 { // 3 stores x (clone, publish, elasticity)
		t.Errorf("apply sent %d mutations, want 9", mut)
	}

	// A new plan, then the estate changes: apply refuses.
	if r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--input", "max_servers=7", "--out", planFile); r.code != 0 {
		t.Fatalf("plan 2: %s", r)
	}
	if _, err := s.AddAccount(sim.AccountSpec{Name: "Store-Newtown", CloudProvider: "aws"}); err != nil {
		t.Fatal(err)
	}
	before := len(s.Requests())
	r = frameflow(t, env, "apply", planFile, "--yes")
	if r.code == 0 || !strings.Contains(r.err, "stale") || !strings.Contains(r.err, "Store-Newtown") {
		t.Fatalf("stale plan not refused with the reason:\n%s", r)
	}
	for _, q := range s.Requests()[before:] {
		if q.Method != "GET" {
			t.Errorf("stale apply sent %s %s", q.Method, q.Path)
		}
	}
}

// Issue 5, issue 12: a run without --yes in a non-interactive shell plans
// (reads only), prints the plan's summary, sends nothing and exits 2 --
// for every mutating workflow, not only destructive ones.
func TestRunWithoutApprovalSendsNothing(t *testing.T) {
	for _, tc := range []struct{ file, summary string }{
		{"../workflows/qa-rollout.yaml", "Plan: 6 changes (2 sandbox.clone, 2 sandbox.publish, 2 elasticity.set), 0 unchanged."},
		{"../workflows/capacity-schedule.yaml", "Plan: 2 changes (2 elasticity.set), 0 unchanged."},
	} {
		s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
		r := frameflow(t, env, "run", tc.file, "--input", "profile=day")
		if tc.file == "../workflows/qa-rollout.yaml" {
			r = frameflow(t, env, "run", tc.file)
		}
		if r.code != 2 || !strings.Contains(r.err, "--yes") || !strings.Contains(r.err, "Nothing was sent") {
			t.Fatalf("%s: want exit 2 and a refusal naming --yes:\n%s", tc.file, r)
		}
		if !strings.Contains(r.out, tc.summary) {
			t.Errorf("%s: the refusal does not print the plan summary %q:\n%s", tc.file, tc.summary, r)
		}
		for _, q := range s.Requests() {
			if q.Method != "GET" {
				t.Errorf("%s: %s %s sent without approval", tc.file, q.Method, q.Path)
			}
		}
	}
	// --output json keeps stdout for JSON Lines: the summary goes to stderr.
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--output", "json")
	if r.code != 2 || r.out != "" || !strings.Contains(r.err, "Plan: 6 changes") {
		t.Errorf("run --output json without --yes: want exit 2, nothing on stdout, the summary on stderr:\n%s", r)
	}
}

func TestPlanDetailedExitcode(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	if r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--detailed-exitcode"); r.code != 3 {
		t.Fatalf("changes present: want exit 3:\n%s", r)
	}
	if r := frameflow(t, env, "plan", "../workflows/qa-rollout.yaml", "--offline", "--format", "markdown"); r.code != 0 || !strings.Contains(r.out, "known after apply") {
		t.Fatalf("offline plan:\n%s", r)
	}
}
