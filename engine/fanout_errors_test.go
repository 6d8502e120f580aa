package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/frameflow/frameflow/engine"
)

// A fan-out's outputs.errors says why each item failed ("" for one that
// did not), next to items: a summary step can report the reason, not only
// the failed stage. A group item's reason names its failing step. The text
// is one safe line, and a secret (or a value computed from one) that the
// error echoes is masked like everywhere else.
func TestFanoutErrorsReachExpressions(t *testing.T) {
	const canary = "test-secret-canary"
	h := newHarness(t)
	var mu sync.Mutex
	var report any
	h.reg.MustRegister(&engine.StepType{
		Name: "test.store", Description: "Fails for item b, echoing its secret input and a forged line.",
		Inputs:  []engine.InputSpec{{Name: "item", Type: "any"}, {Name: "password", Type: "any", Sensitive: true}},
		Outputs: map[string]*engine.Shape{"ok": engine.AnyShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			if in["item"] == "b" {
				return nil, fmt.Errorf("store b refused password %v\nFAKE-LINE succeeded \x1b[31m", in["password"])
			}
			return map[string]any{"ok": true}, nil
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.report", Description: "Keeps what it is given.",
		Inputs: []engine.InputSpec{{Name: "value", Type: "any"}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			mu.Lock()
			report = in["value"]
			mu.Unlock()
			return map[string]any{}, nil
		},
	})
	src := `version: 1
name: errors
inputs:
  api_token: {type: string, secret: true}
steps:
  - id: group
    for_each: [a, b, c]
    max_failure_percent: 100
    steps:
      - id: first
        uses: test.store
        with:
          item: ${{ item }}
          password: ${{ "p-" + inputs.api_token + "-q" }}
      - id: second
        uses: test.ok
        needs: first
  - id: plain
    for_each: [a, b]
    max_failure_percent: 100
    uses: test.store
    with:
      item: ${{ item }}
  - id: summary
    uses: test.report
    needs: [group, plain]
    with:
      value:
        group: ${{ steps.group.outputs.errors }}
        plain: ${{ steps.plain.outputs.errors }}
        failed: '${{ join(map(filter(0..steps.group.outputs.count - 1, steps.group.outputs.items[#].second == nil), steps.group.outputs.errors[#]), "; ") }}'
`
	wf, diags := load(t, h, src)
	if diags != nil {
		t.Fatal(diags)
	}
	p := h.compile(wf)
	in, err := p.BindInputs(map[string]string{"api_token": canary}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(t.Context(), engine.RunOptions{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.RunFailed {
		t.Fatalf("a failed item must still fail the run: %s", res.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	got, _ := report.(map[string]any)
	if got == nil {
		t.Fatalf("the summary step did not run: %v", statuses(res))
	}
	const why = `store b refused password (sensitive)\nFAKE-LINE succeeded \x1b[31m`
	group := fmt.Sprint(got["group"])
	if group != "[ first: "+why+" ]" {
		t.Errorf("group errors = %q", group)
	}
	if plain := fmt.Sprint(got["plain"]); plain != "[ store b refused password <nil>\\nFAKE-LINE succeeded \\x1b[31m]" {
		t.Errorf("plain errors = %q", plain)
	}
	if got["failed"] != "first: "+why {
		t.Errorf("the failed items' reasons = %q", got["failed"])
	}
	all := fmt.Sprint(got)
	if strings.Contains(all, canary) || strings.ContainsAny(all, "\n\x1b") {
		t.Errorf("the errors carry the secret or a control character: %q", all)
	}
}

// A fan-out over a called playbook (uses: ./x.yaml): errors[i] names the
// called playbook's failing step and its error, or why its inputs did not
// bind.
func TestFanoutErrorsOfACall(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var report any
	h.reg.MustRegister(&engine.StepType{
		Name: "test.report", Description: "Keeps what it is given.",
		Inputs: []engine.InputSpec{{Name: "value", Type: "any"}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			mu.Lock()
			report = in["value"]
			mu.Unlock()
			return map[string]any{}, nil
		},
	})
	files := map[string]string{
		"main.yaml": `version: 1
name: main
steps:
  - id: stores
    for_each: [1, x, 3]
    max_failure_percent: 100
    uses: ./lib/store.yaml
    with: {n: "${{ item }}"}
  - id: summary
    uses: test.report
    needs: stores
    with: {value: "${{ steps.stores.outputs.errors }}"}
`,
		"lib/store.yaml": `version: 1
name: store
inputs:
  n: {type: integer, required: true}
steps:
  - id: first
    uses: test.ok
  - id: boom
    uses: test.fail
    needs: first
    if: inputs.n == 3
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
	mu.Lock()
	defer mu.Unlock()
	got, _ := report.([]any)
	if len(got) != 3 || got[0] != "" {
		t.Fatalf("errors = %#v", report)
	}
	if s, _ := got[1].(string); !strings.Contains(s, `input "n": want an integer`) {
		t.Errorf("the item whose inputs did not bind: %q", s)
	}
	if s, _ := got[2].(string); !strings.HasPrefix(s, "boom: ") {
		t.Errorf("the item whose step failed: %q", s)
	}
}
