package engine_test

// Composition (issue 17 follow-up): status outputs of failed items, filters
// given by a called playbook's inputs, and a called playbook's concurrency.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
)

// A called playbook may take a filter as an input, like a workflow: the
// filter is compiled when the call binds its inputs, once per distinct
// text, and each run of the playbook filters with its own.
const libFiltered = `version: 1
name: filtered
inputs:
  which: {type: string, required: true}
vars:
  active_only: 'active && (${{ inputs.which }})'
steps:
  - id: pick
    uses: test.read
    with: {filter: '${{ vars.active_only }}'}
outputs:
  names: ${{ map(steps.pick.outputs.accounts, .name) }}
`

func TestCalledPlaybookFiltersFromItsInputs(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
steps:
  - id: each
    for_each: ['name == "Store-1"', 'name startsWith "Store-"', 'name == "QA"']
    as: which
    uses: ./lib/filtered.yaml
    with: {which: '${{ which }}'}
`,
		"lib/filtered.yaml": libFiltered,
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, statuses(res))
	}
	items, _ := stepResult(t, res, "each", "").Outputs["items"].([]any)
	var got []string
	for _, it := range items {
		names, _ := it.(map[string]any)["names"].([]any)
		var s []string
		for _, n := range names {
			s = append(s, n.(string))
		}
		got = append(got, strings.Join(s, ","))
	}
	// Store-3 is inactive: the library's own var narrows every filter.
	if want := "Store-1|Store-1,Store-2|QA"; strings.Join(got, "|") != want {
		t.Errorf("each call filtered %q, want %q", strings.Join(got, "|"), want)
	}
}

// A filter the caller's inputs make invalid refuses the call before any of
// its steps run, at the filter's position in the called file; validate
// (CheckOffline) reports it when the value is known without the network.
func TestCalledPlaybookFilterThatDoesNotCompileIsRefused(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
steps:
  - id: bad
    uses: ./lib/filtered.yaml
    with: {which: 'name ==== "x"'}
`,
		"lib/filtered.yaml": libFiltered,
	}
	p, diags := compileFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	isCallInput := func(err error) bool {
		_, ok := err.(*engine.CallInputError)
		return ok
	}
	probs := p.CheckOffline(context.Background(), nil, nil, isCallInput)
	if len(probs) != 1 || probs[0].Step != "bad" || !strings.Contains(probs[0].Message, "lib/filtered.yaml:10:20: step bad.pick: filter ") {
		t.Fatalf("offline problems %+v", probs)
	}
	wf, _ := loadFiles(t, h, files, "main.yaml")
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunFailed || len(h.sent) != 0 {
		t.Fatalf("run %s, sent %v: %s", res.Status, h.sent, statuses(res))
	}
	if got := stepResult(t, res, "bad", "").Error; !strings.Contains(got, "filter ") {
		t.Errorf("the call failed with %q", got)
	}
}

// A library's top-level concurrency limits a run of it on its own; called,
// it would be ignored, so it is refused at its line in the library, naming
// the call.
func TestCalledPlaybookConcurrencyIsRefused(t *testing.T) {
	h := newHarness(t)
	lib := "version: 1\nname: lib\nconcurrency: 4\nsteps:\n  - id: x\n    uses: test.ok\n"
	files := map[string]string{
		"main.yaml":  "version: 1\nname: main\nsteps:\n  - id: c\n    uses: ./lib/x.yaml\n",
		"lib/x.yaml": lib,
	}
	_, diags := compileFiles(t, h, files, "main.yaml")
	want := `lib/x.yaml:3:14: concurrency: 4 limits a run of lib/x.yaml on its own; called by step "c" (main.yaml:5:11), it runs within its caller's limit`
	if len(diags) != 1 || !strings.Contains(diags.Error(), want) {
		t.Fatalf("diagnostics\n%s\nwant %s", diags.Error(), want)
	}
	// On its own, the library is fine.
	if _, diags := compileFiles(t, h, map[string]string{"lib/x.yaml": lib}, "lib/x.yaml"); len(diags) > 0 {
		t.Fatal(diags)
	}
}

// A called playbook's outputs that read only steps' statuses (and inputs)
// are there for an item that failed; those that read a step's outputs, or
// a step as a whole, only for one that succeeded.
func TestCallStatusOutputsOfAFailedItem(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"main.yaml": `version: 1
name: main
steps:
  - id: each
    for_each: [ok, fail]
    as: how
    max_failure_percent: 100
    uses: ./lib/stage.yaml
    with: {how: '${{ how }}'}
`,
		"lib/stage.yaml": `version: 1
name: stage
inputs:
  how: {type: string, required: true}
steps:
  - id: first
    uses: test.ok
    with: {value: one}
  - id: second
    uses: test.ok
    needs: first
    if: inputs.how == "ok"
    with: {value: two}
  - id: broken
    uses: test.fail
    needs: first
    if: inputs.how == "fail"
  - id: last
    uses: test.ok
    needs: broken
    with: {value: three}
outputs:
  how: ${{ inputs.how }}
  stages: {first: '${{ steps.first.status }}', second: '${{ steps.second.status }}', broken: '${{ steps.broken.status }}', last: '${{ steps.last.status }}'}
  value: ${{ steps.first.outputs.value }}
  whole: ${{ steps.first }}
`,
	}
	wf, diags := loadFiles(t, h, files, "main.yaml")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	res := h.run(wf, engine.RunOptions{})
	items, _ := stepResult(t, res, "each", "").Outputs["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items %v", items)
	}
	ok, _ := items[0].(map[string]any)
	failed, _ := items[1].(map[string]any)
	if ok["value"] != "one" || ok["whole"] == nil || ok["how"] != "ok" {
		t.Errorf("the item that succeeded has %v", ok)
	}
	want := map[string]any{"first": "succeeded", "second": "skipped", "broken": "failed", "last": "not_run"}
	// second and broken both wait only for first: when broken fails first,
	// the item stops before second's if is read, and second never ran.
	if stages, _ := failed["stages"].(map[string]any); stages != nil && stages["second"] == "not_run" {
		want["second"] = "not_run"
	}
	if len(failed) != 2 || failed["how"] != "fail" || fmt.Sprint(failed["stages"]) != fmt.Sprint(want) {
		t.Errorf("the item that failed has %v, want how and stages %v only", failed, want)
	}
}
