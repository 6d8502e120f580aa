package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// A composed rollout (composedRollout, calling the shipped library) run
// in-process: events, JUnit and the plan name the library's steps under
// their caller, and a plan goes stale when only the library changed.
func TestComposedRolloutNestingAndStaleness(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3)})
	file := composedDir(t)
	dir := filepath.Dir(file)
	mutations := func() int {
		n := 0
		for _, q := range s.Requests() {
			if q.Method != "GET" {
				n++
			}
		}
		return n
	}

	p := frameflow(t, env, "plan", file, "--out", filepath.Join(dir, "rollout.plan"), "--format", "json")
	if p.code != 0 {
		t.Fatalf("plan:\n%s", p)
	}
	var planned struct {
		Mutations []struct {
			Step     string `json:"step"`
			Item     string `json:"item"`
			Playbook string `json:"playbook"`
		} `json:"mutations"`
	}
	if err := json.Unmarshal([]byte(p.out), &planned); err != nil {
		t.Fatalf("plan json: %v\n%s", err, p.out)
	}
	if len(planned.Mutations) != 9 {
		t.Fatalf("planned %d mutations, want clone, capacity and publish for 3 stores:\n%s", len(planned.Mutations), p.out)
	}
	for _, m := range planned.Mutations {
		if !strings.HasPrefix(m.Step, "rollout.") || m.Playbook != "lib/rollout-account.yaml" || m.Item == "" {
			t.Errorf("planned mutation %+v: want a rollout.* step of lib/rollout-account.yaml, per store", m)
		}
	}

	// The saved plan applies as it is (its playbook fields match the fresh
	// plan apply compares it with).
	if a := frameflow(t, env, "apply", filepath.Join(dir, "rollout.plan"), "--yes"); a.code != 0 {
		t.Fatalf("apply of the composed plan:\n%s", a)
	}
	if p := frameflow(t, env, "plan", file, "--out", filepath.Join(dir, "rollout.plan")); p.code != 0 {
		t.Fatalf("plan:\n%s", p)
	}

	// Only the library changes: the saved plan no longer describes what
	// would run, and apply refuses it without sending anything.
	lib := filepath.Join(dir, "lib", "rollout-account.yaml")
	src, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, []byte(strings.Replace(string(src), "description: Clone", "description: Now clone", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := mutations()
	a := frameflow(t, env, "apply", filepath.Join(dir, "rollout.plan"), "--yes")
	if a.code == 0 || !strings.Contains(a.err+a.out, "stale") {
		t.Fatalf("apply after the library changed should refuse the stale plan:\n%s", a)
	}
	if mutations() != before {
		t.Fatalf("the refused apply sent %d mutations", mutations()-before)
	}

	junit := filepath.Join(dir, "report.xml")
	r := frameflow(t, env, "run", file, "--yes", "--output", "json", "--junit", junit)
	if r.code != 0 {
		t.Fatalf("run:\n%s", r)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var ev struct{ Type, Step, Item, Status string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Type == "step_finished" && ev.Step == "rollout.publish" && ev.Item == "Store-001" && ev.Status == "succeeded" {
			found = true
		}
	}
	if !found {
		t.Errorf("no step_finished event for rollout.publish [Store-001]:\n%s", r.out)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name="rollout.clone [Store-001]"`, `classname="composed-rollout.rollout.publish"`} {
		if !strings.Contains(string(x), want) {
			t.Errorf("JUnit report lacks %s:\n%s", want, x)
		}
	}
}

// A run that failed is not resumed with a changed library: the journal's
// hash covers the called files.
func TestResumeRefusesAChangedLibrary(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2), TaskFailRate: 1})
	file := composedDir(t)
	if r := frameflow(t, env, "run", file, "--yes"); r.code != 1 {
		t.Fatalf("run with every task failing should fail:\n%s", r)
	}
	if r := frameflow(t, env, "resume", "--last", "--yes"); strings.Contains(r.err, "changed since") {
		t.Fatalf("resume with nothing changed was refused as changed:\n%s", r)
	}
	lib := filepath.Join(filepath.Dir(file), "lib", "rollout-account.yaml")
	src, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, append(src, "# changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := frameflow(t, env, "resume", "--last", "--yes")
	if r.code == 0 || !strings.Contains(r.err, "changed since the run started") {
		t.Fatalf("resume after the library changed:\n%s", r)
	}
}

// A value the called playbook refuses, known only once the caller's inputs
// are (an expression), is refused by validate at the calling step and by
// run's preflight, before anything is sent.
func TestCallInputRefusedBeforeSending(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	file := composedDir(t)
	src := strings.Replace(composedRollout, "set_capacity: true", "set_capacity: ${{ inputs.capacity }}", 1)
	src = strings.Replace(src, "steps:\n", "inputs:\n  capacity: {type: string, default: \"yes please\"}\nsteps:\n", 1)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	v := frameflow(t, env, "validate", file)
	if v.code != 2 || !strings.Contains(v.err+v.out, `composed-rollout.yaml:20:7: rollout: input "set_capacity": want true or false, got the string "yes please"`) {
		t.Fatalf("validate:\n%s", v)
	}
	if v := frameflow(t, env, "validate", file, "--input", "capacity=true"); v.code != 0 {
		t.Fatalf("validate with a boolean the library accepts:\n%s", v)
	}
	r := frameflow(t, env, "run", file, "--yes")
	if r.code != 2 {
		t.Fatalf("run should refuse the input before sending:\n%s", r)
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Fatalf("sent %s %s although an input was invalid", q.Method, q.Path)
		}
	}
}

// A library cannot widen its caller's http.allow: without a list of its
// own it inherits the caller's, and a literal URL is checked against both.
func TestCalledPlaybookHTTPAllow(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.yaml", "version: 1\nname: main\nhttp: {allow: [hooks.example.com]}\nsteps:\n  - id: a\n    uses: ./lib/open.yaml\n  - id: b\n    uses: ./lib/own.yaml\n")
	write("lib/open.yaml", "version: 1\nname: open\nsteps:\n  - id: post\n    uses: http.request\n    with: {method: POST, url: \"https://evil.example.org/x\", json: {}}\n")
	write("lib/own.yaml", "version: 1\nname: own\nhttp: {allow: [evil.example.org]}\nsteps:\n  - id: post\n    uses: http.request\n    with: {method: POST, url: \"https://evil.example.org/y\", json: {}}\n")
	v := frameflow(t, nil, "validate", filepath.Join(dir, "main.yaml"))
	for _, want := range []string{"lib/open.yaml:6:31:", "lib/own.yaml:7:31:", `host "evil.example.org" is not in the workflow's http.allow (hooks.example.com)`,
		`main.yaml:8:11: step "b": ` + filepath.Join(dir, "lib/own.yaml") + ` allows http.request to "evil.example.org", which this playbook's http.allow does not; a called playbook cannot widen it`} {
		if v.code != 2 || !strings.Contains(v.err, want) {
			t.Errorf("validate: want %q:\n%s", want, v)
		}
	}
	if strings.Count(v.err, "is not in the workflow's http.allow (evil.example.org)") != 0 {
		t.Errorf("own.yaml's own list allows its URL:\n%s", v)
	}
}
