package engine_test

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

const rolloutYAML = `version: 1
name: rollout
inputs:
  target_filter:
    type: string
    default: 'name startsWith "Store-" && active'
steps:
  - id: targets
    uses: test.read
    with:
      filter: ${{ inputs.target_filter }}
  - id: each
    for_each: ${{ steps.targets.outputs.accounts }}
    as: account
    steps:
      - id: clone
        uses: test.mutate
        with:
          path: /accounts/${{ account.id }}/clone
      - id: publish
        uses: test.mutate
        if: steps.clone.status == "succeeded"
        with:
          path: /accounts/${{ account.id }}/publish
  - id: colours
    uses: test.ok
    for_each: [red, "${{ inputs.target_filter }}"]
    with:
      value: ${{ item }}
`

func load(t *testing.T, h *harness, src string) (*schema.Workflow, schema.Diagnostics) {
	t.Helper()
	return schema.Load("rollout.yaml", []byte(src), schema.LoadOptions{StepTypes: h.reg.SchemaInfos()})
}

func TestLoadedWorkflowRuns(t *testing.T) {
	h := newHarness(t)
	wf, diags := load(t, h, rolloutYAML)
	if diags != nil {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
	if len(h.sent) != 4 {
		t.Fatalf("sent %v", h.sent)
	}
	if got := stepResult(t, res, "colours", "").Outputs["count"]; got != 2 {
		t.Fatalf("literal for_each: %v", got)
	}
}

func TestLoadedWorkflowDiagnostics(t *testing.T) {
	h := newHarness(t)
	src := strings.Replace(rolloutYAML, "/accounts/${{ account.id }}/clone", "/accounts/${{ account.idd }}/clone", 1)
	src = strings.Replace(src, `if: steps.clone.status == "succeeded"`, `if: "${{  steps.clone.outputs.tsk.id != '' }}"`, 1)
	wf, diags := load(t, h, src)
	if diags != nil {
		t.Fatal(diags)
	}
	_, diags = engine.Compile(wf, h.reg)
	want := "rollout.yaml:19:39: unknown field \"idd\"; did you mean \"id\"?\n" +
		"rollout.yaml:22:39: unknown output \"tsk\" of step \"clone\" (test.mutate); did you mean \"task\"?"
	if diags.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", diags.Error(), want)
	}
}
