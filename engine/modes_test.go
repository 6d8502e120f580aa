package engine_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// rollout: list accounts, then per account mutate twice (a chain), the
// second mutation using the first one's task.
func rollout() []*schema.Step {
	return []*schema.Step{
		with(st("targets", "test.read"), "filter", `name startsWith "Store-" && active`),
		group("each", "${{ steps.targets.outputs.accounts }}",
			with(st("clone", "test.mutate"), "path", "/accounts/${{ item.id }}/clone"),
			with(st("publish", "test.mutate"), "path", "/accounts/${{ item.id }}/publish/${{ steps.clone.outputs.task.id }}"),
		),
	}
}

func TestPlanRecordsMutationsInOrder(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(rollout()...), engine.RunOptions{Mode: engine.ModePlan})
	if len(h.sent) != 0 {
		t.Fatalf("plan sent %v", h.sent)
	}
	var got []string
	for _, m := range res.Mutations {
		got = append(got, m.Step+"["+m.Item+"] "+m.Mutation.Method+" "+m.Mutation.Path)
	}
	// Reads ran live (the filter chose two stores); the publish path holds a
	// task id that exists only after apply, so it is unknown.
	want := []string{
		"each.clone[Store-1] POST /accounts/a1/clone",
		"each.publish[Store-1] POST (known after apply)",
		"each.clone[Store-2] POST /accounts/a2/clone",
		"each.publish[Store-2] POST (known after apply)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Mutations[0].Key != "each.clone[a1]#1" {
		t.Fatalf("key %q", res.Mutations[0].Key)
	}
	if !engine.IsUnknown(stepResult(t, res, "each.clone", "Store-1").Outputs["task"].(map[string]any)["id"]) {
		t.Fatal("placeholder not returned")
	}
}

func TestRunSendsMutations(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(rollout()...), engine.RunOptions{})
	if res.Status != engine.RunSucceeded || len(res.Mutations) != 0 {
		t.Fatal(statuses(res))
	}
	got := strings.Join(h.sent, "\n")
	for _, want := range []string{"POST /accounts/a1/clone", "POST /accounts/a1/publish/task-/accounts/a1/clone", "POST /accounts/a2/publish/task-/accounts/a2/clone"} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %s in\n%s", want, got)
		}
	}
}

func TestOfflineRunsShapeOnly(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(rollout()...), engine.RunOptions{Mode: engine.ModeOffline})
	if indexOf(h.startedList(), "targets") >= 0 {
		t.Fatal("a read ran offline")
	}
	if len(res.Mutations) != 2 {
		t.Fatalf("want one symbolic item with two mutations, got %+v", res.Mutations)
	}
	m := res.Mutations[0]
	if m.Item != engine.EachItem || m.Mutation.Path != "(known after apply)" {
		t.Fatalf("%+v %s", m, m.Mutation.Path)
	}
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
}

type memJournal struct {
	mu   sync.Mutex
	prev map[string]engine.StepResult
	rec  []engine.StepResult
}

func (j *memJournal) Lookup(step, item string) (string, map[string]any, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.prev[step+"|"+item]
	return string(r.Status), r.Outputs, ok
}

func (j *memJournal) Record(r engine.StepResult) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rec = append(j.rec, r)
	return nil
}

func TestJournalResume(t *testing.T) {
	h := newHarness(t)
	wf := workflow(rollout()...)
	// First attempt: everything ran except Store-2's publish, which failed.
	j := &memJournal{prev: map[string]engine.StepResult{
		"targets|": {Status: "succeeded", Outputs: map[string]any{"accounts": []any{
			map[string]any{"id": "a1", "name": "Store-1"}, map[string]any{"id": "a2", "name": "Store-2"}}, "count": 2}},
		"each.clone|a1":   {Status: "succeeded", Outputs: map[string]any{"task": map[string]any{"id": "t1"}}},
		"each.publish|a1": {Status: "succeeded", Outputs: map[string]any{"task": map[string]any{"id": "p1"}}},
		"each.clone|a2":   {Status: "succeeded", Outputs: map[string]any{"task": map[string]any{"id": "t2"}}},
		"each.publish|a2": {Status: "failed"},
	}}
	res := h.run(wf, engine.RunOptions{Journal: j})
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
	if strings.Join(h.sent, ",") != "POST /accounts/a2/publish/t2" {
		t.Fatalf("resume sent %v", h.sent)
	}
	if len(j.rec) != 1 || j.rec[0].Step != "each.publish" || j.rec[0].ItemKey != "a2" || j.rec[0].Status != "succeeded" {
		t.Fatalf("recorded %+v", j.rec)
	}
	if stepResult(t, res, "each.clone", "Store-1").Status != "succeeded" {
		t.Fatal(statuses(res))
	}
}

func TestSecretsRedacted(t *testing.T) {
	h := newHarness(t)
	wf := workflow(with(st("f", "test.read"), "filter", "${{ inputs.token }}"))
	in := input("token", "string", nil)
	in.Secret = true
	wf.Inputs = append(wf.Inputs, in)
	// A filter computed from a secret is refused before anything runs (a
	// condition leaks its secret one bit at a time).
	if _, diags := engine.Compile(wf, h.reg); len(diags) != 1 || !strings.Contains(diags[0].Message, "leaks it one bit at a time") {
		t.Fatalf("want the filter refused, got %v", diags)
	}
	wf = workflow(with(st("f", "test.read"), "filter", "${{ inputs.f }}"))
	wf.Inputs = append(wf.Inputs, in, input("f", "string", "true"))
	p := h.compile(wf)
	inputs, err := p.BindInputs(map[string]string{"token": "s3cr3t ++", "f": "s3cr3t ++ and more"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(t.Context(), engine.RunOptions{Inputs: inputs})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("want a redacted error, got %v", err)
	}
	if got := p.SecretValues(inputs); len(got) != 1 || got[0] != "s3cr3t ++" {
		t.Fatal(got)
	}
}

func TestDynamicFilterCompiledAtStart(t *testing.T) {
	h := newHarness(t)
	wf := workflow(with(st("t", "test.read"), "filter", "${{ inputs.f }}"))
	wf.Inputs = append(wf.Inputs, input("f", "string", `name startsWith "Store-" && active`))
	res := h.run(wf, engine.RunOptions{})
	if n := stepResult(t, res, "t", "").Outputs["count"]; n != 2 {
		t.Fatalf("count %v", n)
	}
	// A bad filter fails before anything runs, with the element's fields
	// checked.
	p := h.compile(wf)
	_, err := p.Run(t.Context(), engine.RunOptions{Inputs: map[string]any{"f": "nme == 'x'"}})
	if err == nil || !strings.Contains(err.Error(), `unknown field "nme"; did you mean "name"?`) {
		t.Fatalf("err %v", err)
	}
	if len(h.startedList()) != 1 {
		t.Fatal("steps ran despite a bad filter")
	}
}

func TestPredicateSeesVarAndInputs(t *testing.T) {
	h := newHarness(t)
	wf := workflow(with(st("t", "test.read"), "filter", "account.name == inputs.source"))
	wf.Inputs = append(wf.Inputs, input("source", "string", "QA"))
	res := h.run(wf, engine.RunOptions{})
	accs := stepResult(t, res, "t", "").Outputs["accounts"].([]any)
	if len(accs) != 1 || accs[0].(map[string]any)["id"] != "q" {
		t.Fatal(accs)
	}
}

func TestVarsAndEnv(t *testing.T) {
	h := newHarness(t)
	wf := workflow(with(ok("a"), "value", "${{ vars.greeting }} from ${{ env.REGION }}"))
	wf.Env = []string{"REGION"}
	wf.Inputs = append(wf.Inputs, input("who", "string", "ops"))
	wf.Vars = append(wf.Vars, &schema.Var{Name: "greeting", Value: val("hello ${{ inputs.who }}")})
	res := h.run(wf, engine.RunOptions{Getenv: func(k string) string { return map[string]string{"REGION": "eu"}[k] }})
	if v := stepResult(t, res, "a", "").Outputs["value"]; v != "hello ops from eu" {
		t.Fatal(v)
	}
}

func TestDeclaredOutputs(t *testing.T) {
	h := newHarness(t)
	a := with(st("t", "test.read"))
	a.Outputs = map[string]*schema.Value{"ids": val("${{ map(outputs.accounts, .id) }}")}
	a.OutputsOrder = []string{"ids"}
	res := h.run(workflow(a, with(ok("b"), "value", "${{ steps.t.outputs.ids }}")), engine.RunOptions{})
	if v := stepResult(t, res, "b", "").Outputs["value"].([]any); len(v) != 4 {
		t.Fatal(v)
	}
}
