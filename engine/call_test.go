package engine_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// Composition (uses: ./x.yaml), through the loader: files live in a map.

const libAccount = `version: 1
name: account
inputs:
  account_id: {type: string, required: true}
  label: {type: string, default: plain}
  token: {type: string, default: "", secret: true}
vars:
  path: /accounts/${{ inputs.account_id }}
steps:
  - id: clone
    uses: test.mutate
    with: {path: "${{ vars.path }}/clone"}
  - id: publish
    uses: test.mutate
    needs: clone
    with: {path: "${{ vars.path }}/publish"}
outputs:
  account: ${{ inputs.account_id }}
  label: ${{ inputs.label }}
  task: ${{ steps.publish.outputs.task.id }}
`

const callerMain = `version: 1
name: main
steps:
  - id: targets
    uses: test.read
    with: {filter: 'name startsWith "Store-" && active'}
  - id: rollout
    for_each: ${{ steps.targets.outputs.accounts }}
    as: account
    uses: ./lib/account.yaml
    with:
      account_id: ${{ account.id }}
      label: ${{ account.name }}
  - id: qa
    uses: ./lib/account.yaml
    with: {account_id: q}
  - id: after
    uses: test.ok
    with:
      value: ${{ steps.qa.outputs.task }} ${{ steps.rollout.outputs.items[1].label }} ${{ steps.rollout.outputs.count }}
outputs:
  done: ${{ steps.after.outputs.value }}
`

func loadFiles(t *testing.T, h *harness, files map[string]string, root string) (*schema.Workflow, schema.Diagnostics) {
	t.Helper()
	read := func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
	return schema.Load(root, []byte(files[root]), schema.LoadOptions{StepTypes: h.reg.SchemaInfos(), ReadFile: read})
}

func compileFiles(t *testing.T, h *harness, files map[string]string, root string) (*engine.Program, schema.Diagnostics) {
	t.Helper()
	wf, diags := loadFiles(t, h, files, root)
	if wf == nil {
		return nil, diags
	}
	p, cdiags := engine.Compile(wf, h.reg)
	return p, append(diags, cdiags...)
}

func TestCallRunsThePlaybookPerItemAndOnce(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{"main.yaml": callerMain, "lib/account.yaml": libAccount}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, statuses(res))
	}
	want := "targets=succeeded rollout=succeeded rollout.clone[Store-1]=succeeded rollout.publish[Store-1]=succeeded rollout.clone[Store-2]=succeeded rollout.publish[Store-2]=succeeded qa=succeeded qa.clone=succeeded qa.publish=succeeded after=succeeded"
	if got := statuses(res); got != want {
		t.Errorf("results\n got %s\nwant %s", got, want)
	}
	if got := stepResult(t, res, "after", "").Outputs["value"]; got != "task-/accounts/q/publish Store-2 2" {
		t.Errorf("after read %q", got)
	}
	if got := stepResult(t, res, "rollout.clone", "Store-2").ItemKey; got != "a2" {
		t.Errorf("nested item key %q, want the caller's item key a2", got)
	}
	if len(h.sent) != 6 {
		t.Errorf("sent %v", h.sent)
	}
	if got := res.Outputs["done"]; got != "task-/accounts/q/publish Store-2 2" {
		t.Errorf("workflow output %v", got)
	}
	p := h.compile(wf)
	if dot := p.DOT(); !strings.Contains(dot, `label="rollout: ./lib/account.yaml (for each account)"`) || !strings.Contains(dot, `"qa.publish" [label="publish\ntest.mutate"]`) {
		t.Errorf("DOT does not draw the calls as clusters:\n%s", dot)
	}
	if m := p.Mermaid(); !strings.Contains(m, `subgraph qa["qa: ./lib/account.yaml"]`) {
		t.Errorf("Mermaid:\n%s", m)
	}
}

func TestCallErrorsAreInTheRightFile(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
inputs:
  pw: {type: string, default: x, secret: true}
steps:
  - id: a
    uses: ./lib/account.yaml
    with: {acount_id: q, label: 3, token: "${{ inputs.pw }}"}
  - id: b
    uses: ./lib/account.yaml
    with: {account_id: "${{ inputs.pw }}"}
  - id: c
    uses: test.ok
    with: {value: "${{ steps.b.outputs.acount }}"}
  - id: d
    uses: ./lib/missing.yaml
  - id: e
    uses: ./lib/broken.yaml
  - id: f
    uses: ./lib/account.yaml
    with: {account_id: "${{ steps.c.outputs }}", label: "x-${{ 1 }}"}
  - id: g
    uses: ./lib/account.yaml
    with: {account_id: x}
    retry: {max_attempts: 2}
    approval: not_required
`,
		"lib/account.yaml": libAccount,
		"lib/broken.yaml": `version: 1
name: broken
steps:
  - id: x
    uses: test.ok
    with: {value: "${{ inputs.nope }}"}
`,
	}
	_, diags := compileFiles(t, h, files, "main.yaml")
	got := diags.Error()
	for _, want := range []string{
		`main.yaml:8:11: step "a": missing required input "account_id" of the playbook lib/account.yaml`,
		`main.yaml:8:23: step "a": the playbook lib/account.yaml has no input "acount_id"; did you mean "account_id"?`,
		`main.yaml:8:33: step "a": input "label": want a string, got 3 (declared in lib/account.yaml)`,
		`main.yaml:11:24: step "b": input "account_id" of lib/account.yaml is computed from a secret (inputs.pw), but the playbook does not declare it secret: true`,
		`main.yaml:14:40:`, `unknown output "acount"`, `did you mean "account"?`,
		`main.yaml:16:11: step "d": cannot read the called playbook lib/missing.yaml: no such file`,
		`lib/broken.yaml:6:31:`, `unknown input "nope"`,
		`main.yaml:25:12: step "g" runs the playbook ./lib/account.yaml: retry applies to its steps`,
		`main.yaml:26:15: step "g" runs the playbook ./lib/account.yaml: approval is decided by its steps`,
		`main.yaml:21:24: step "f": input "account_id" of lib/account.yaml is an object, but the input's type is string`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, `main.yaml:8:58`) {
		t.Errorf("a secret passed to a secret input is fine:\n%s", got)
	}
}

func TestCallCyclesAndDepthAreRefused(t *testing.T) {
	h := newHarness(t)
	call := func(to string) string {
		return "version: 1\nname: x\nsteps:\n  - id: next\n    uses: " + to + "\n"
	}
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"self":   {map[string]string{"a.yaml": call("./a.yaml")}, `a.yaml:5:11: step "next": playbooks call each other in a cycle: a.yaml → a.yaml`},
		"a-b-a":  {map[string]string{"a.yaml": call("./lib/b.yaml"), "lib/b.yaml": call("../a.yaml")}, `lib/b.yaml:5:11: step "next": playbooks call each other in a cycle: a.yaml → lib/b.yaml → a.yaml`},
		"deep":   {map[string]string{"a.yaml": call("./1.yaml"), "1.yaml": call("./2.yaml"), "2.yaml": call("./3.yaml"), "3.yaml": call("./4.yaml"), "4.yaml": call("./5.yaml"), "5.yaml": call("./6.yaml"), "6.yaml": call("./7.yaml"), "7.yaml": call("./8.yaml"), "8.yaml": call("./9.yaml"), "9.yaml": call("./10.yaml")}, `8.yaml:5:11: step "next": calling 9.yaml would nest playbooks 9 deep (at most 8)`},
		"not-ym": {map[string]string{"a.yaml": call("./b.json")}, `a.yaml:5:11: step "next": uses "./b.json": a called playbook is a .yaml or .yml file`},
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := compileFiles(t, h, tc.files, "a.yaml")
			if !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("want %q in\n%s", tc.want, diags)
			}
		})
	}
}

func TestCallInsideAGroupAndInPlans(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
inputs:
  pw: {type: string, default: hunter2-secret, secret: true}
steps:
  - id: targets
    uses: test.read
    with: {filter: 'name startsWith "Store-" && active'}
  - id: each
    for_each: ${{ steps.targets.outputs.accounts }}
    as: store
    steps:
      - id: prep
        uses: test.ok
        with: {value: "${{ store.id }}"}
      - id: roll
        uses: ./lib/account.yaml
        with: {account_id: "${{ steps.prep.outputs.value }}", token: "${{ inputs.pw }}"}
      - id: after
        uses: test.ok
        with: {value: "${{ steps.roll.outputs.account }}"}
`,
		"lib/account.yaml": libAccount,
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var events []engine.Event
	var mu sync.Mutex
	res := h.run(wf, engine.RunOptions{Mode: engine.ModePlan, Events: func(e engine.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if res.Status != engine.RunSucceeded {
		t.Fatalf("plan %s: %s", res.Status, statuses(res))
	}
	var got []string
	for _, m := range res.Mutations {
		got = append(got, m.Step+"["+m.Item+"] "+m.Mutation.Path)
	}
	want := "each.roll.clone[Store-1] /accounts/a1/clone each.roll.publish[Store-1] /accounts/a1/publish each.roll.clone[Store-2] /accounts/a2/clone each.roll.publish[Store-2] /accounts/a2/publish"
	if strings.Join(got, " ") != want {
		t.Errorf("planned\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if v := stepResult(t, res, "each.after", "Store-2").Outputs["value"]; v != "a2" {
		t.Errorf("each.after read %v", v)
	}
	p := h.compile(wf)
	if got := p.PlaybookOf("each.roll.clone"); got != "lib/account.yaml" {
		t.Errorf("PlaybookOf = %q", got)
	}
	var names []string
	for _, a := range p.Approvals() {
		names = append(names, a.Step)
	}
	if strings.Join(names, ",") != "each.roll.clone,each.roll.publish" {
		t.Errorf("approvals %v", names)
	}
	seen := false
	for _, e := range events {
		if e.Type == "step_finished" && e.Step == "each.roll.publish" && e.Item == "Store-1" {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no step_finished event for each.roll.publish [Store-1]")
	}
}

func TestCallFailureFailsTheCallingStep(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
steps:
  - id: call
    uses: ./lib/f.yaml
    with: {n: "${{ 'not a number' }}"}
  - id: after
    uses: test.ok
    with: {value: "${{ steps.call.outputs.x }}"}
  - id: call2
    uses: ./lib/f.yaml
    with: {n: 2}
`,
		"lib/f.yaml": `version: 1
name: f
inputs:
  n: {type: integer, required: true}
steps:
  - id: boom
    uses: test.fail
outputs:
  x: ${{ inputs.n }}
`,
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{Parallelism: 1})
	if res.Status != engine.RunFailed {
		t.Fatalf("run %s", res.Status)
	}
	call := stepResult(t, res, "call", "")
	if call.Status != engine.StatusFailed || !strings.Contains(call.Error, `the playbook ./lib/f.yaml failed: input "n": want an integer, got the string "not a number"`) {
		t.Errorf("call: %s %q", call.Status, call.Error)
	}
	if got := stepResult(t, res, "after", "").Status; got != engine.StatusSkipped && got != engine.StatusNotRun {
		t.Errorf("after: %s", got)
	}
	for _, s := range res.Steps {
		if s.Step == "call.boom" {
			t.Errorf("a call whose inputs did not bind ran its steps: %+v", s)
		}
	}
}

func TestWorkflowOutputsThatFailFailTheRun(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{"main.yaml": `version: 1
name: main
steps:
  - id: a
    uses: test.ok
    with: {value: 3}
outputs:
  bad: ${{ steps.a.outputs.value.nope.deeper }}
`}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunFailed || res.OutputsError == "" {
		t.Fatalf("run %s, outputs error %q", res.Status, res.OutputsError)
	}
	if last := res.Steps[len(res.Steps)-1]; last.Step != "outputs" || last.Status != engine.StatusFailed {
		t.Errorf("last result %+v: want the outputs' failure", last)
	}
}

// A called playbook's secret input is redacted wherever the run shows text,
// even when the caller gives it as a literal (no secret of its own).
func TestCalledSecretInputsAreRedacted(t *testing.T) {
	h := newHarness(t)
	h.reg.MustRegister(&engine.StepType{
		Name: "test.leaky", Description: "Fails echoing its secret (a badly written step type).",
		Inputs: []engine.InputSpec{{Name: "token", Type: "string", Sensitive: true}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			return nil, fmt.Errorf("refused token %v", in["token"])
		},
	})
	files := map[string]string{
		"main.yaml":  "version: 1\nname: main\nsteps:\n  - id: call\n    uses: ./lib/l.yaml\n    with: {token: hunter2-in-the-library}\n",
		"lib/l.yaml": "version: 1\nname: l\ninputs:\n  token: {type: string, required: true, secret: true}\nsteps:\n  - id: use\n    uses: test.leaky\n    with: {token: \"${{ inputs.token }}\"}\n",
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var mu sync.Mutex
	var shown []string
	var told []string
	res := h.run(wf, engine.RunOptions{
		Events:   func(e engine.Event) { mu.Lock(); shown = append(shown, e.Error, e.Message); mu.Unlock() },
		OnSecret: func(s string) { mu.Lock(); told = append(told, s); mu.Unlock() },
	})
	for _, s := range res.Steps {
		shown = append(shown, s.Error)
	}
	if res.Status != engine.RunFailed || stepResult(t, res, "call.use", "").Error == "" {
		t.Fatalf("run %s: %s", res.Status, statuses(res))
	}
	for _, s := range shown {
		if strings.Contains(s, "hunter2") {
			t.Errorf("the secret was shown: %q", s)
		}
	}
	if !slices.Contains(told, "hunter2-in-the-library") {
		t.Errorf("OnSecret was not told the called playbook's secret input: %v", told)
	}
}

// Per item, a called playbook's chain advances on its own: item y runs
// both its steps while item x still waits in its first one (no barrier
// between the called playbook's steps across items).
func TestCallItemsArePipelined(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml":      "version: 1\nname: main\nsteps:\n  - id: each\n    for_each: [x, y]\n    uses: ./lib/chain.yaml\n    with: {gate: \"${{ item == 'x' ? 'hold-x' : '' }}\"}\n",
		"lib/chain.yaml": "version: 1\nname: chain\ninputs:\n  gate: {type: string, default: \"\"}\nsteps:\n  - id: first\n    uses: test.ok\n    with: {wait_for: \"${{ inputs.gate }}\"}\n  - id: second\n    uses: test.ok\n    needs: first\n",
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	done := make(chan *engine.Result, 1)
	go func() { done <- h.run(wf, engine.RunOptions{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		ok := slices.Contains(h.finished, "each.second[y]")
		held := !slices.Contains(h.finished, "each.first[x]")
		h.mu.Unlock()
		if ok {
			if !held {
				t.Fatal("item x was not held")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("item y did not finish while x waited: finished %v", h.finished)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.open("hold-x")
	if res := <-done; res.Status != engine.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, statuses(res))
	}
}

func TestCallsThatMultiplyAreBounded(t *testing.T) {
	h := newHarness(t)
	saved := engine.MaxExpandedSteps
	engine.MaxExpandedSteps = 50
	defer func() { engine.MaxExpandedSteps = saved }()
	level := func(next string) string {
		s := "version: 1\nname: x\nsteps:\n"
		for i := range 4 {
			s += fmt.Sprintf("  - id: s%d\n    uses: %s\n", i, next)
		}
		return s
	}
	files := map[string]string{
		"main.yaml": level("./a.yaml"), "a.yaml": level("./b.yaml"), "b.yaml": level("./c.yaml"),
		"c.yaml": "version: 1\nname: c\nsteps:\n  - id: x\n    uses: test.ok\n",
	}
	_, diags := compileFiles(t, h, files, "main.yaml")
	if !strings.Contains(diags.Error(), "the workflow would have more than 50 steps") {
		t.Fatalf("4 x 4 x 4 calls with a limit of 50 steps:\n%s", diags)
	}
	engine.MaxExpandedSteps = 200
	if _, diags := compileFiles(t, h, files, "main.yaml"); len(diags) > 0 {
		t.Fatalf("148 steps (4 + 16 + 64 calls and 64 steps) with a limit of 200:\n%s", diags)
	}
}

// A called playbook without defaults of its own follows its caller's
// (here the retry policy); one with its own keeps them.
func TestCalledPlaybookInheritsDefaultsItDoesNotSet(t *testing.T) {
	h := newHarness(t)
	main := "version: 1\nname: main\ndefaults:\n  retry: {max_attempts: 3, backoff: constant, initial_delay: 1ms, max_delay: 1ms, on: [throttled]}\nsteps:\n  - id: call\n    uses: ./lib/flaky.yaml\n"
	lib := "version: 1\nname: flaky\nsteps:\n  - id: f\n    uses: test.flaky\n    with: {times: 2}\n"
	wf, diags := loadFiles(t, h, map[string]string{"main.yaml": main, "lib/flaky.yaml": lib}, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if res := h.run(wf, engine.RunOptions{}); res.Status != engine.RunSucceeded || stepResult(t, res, "call.f", "").Attempts != 3 {
		t.Fatalf("with the caller's retry: run %s, %s", res.Status, statuses(res))
	}

	h = newHarness(t)
	own := strings.Replace(lib, "steps:", "defaults:\n  retry: {max_attempts: 1}\nsteps:", 1)
	wf, diags = loadFiles(t, h, map[string]string{"main.yaml": main, "lib/flaky.yaml": own}, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if res := h.run(wf, engine.RunOptions{}); res.Status != engine.RunFailed {
		t.Fatalf("with its own retry (one attempt): run %s, %s", res.Status, statuses(res))
	}
}
