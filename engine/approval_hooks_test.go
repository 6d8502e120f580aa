package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// A mutating type's NeedsApproval narrows which of its steps need
// approval (a read verb does not); it sees the constant with values and the names
// written as expressions; Check's problems are reported at the input.
func TestStepTypeApprovalAndCheckHooks(t *testing.T) {
	h := newHarness(t)
	err := h.reg.Register(&engine.StepType{
		Name:        "test.call",
		Description: "A call that mutates unless its verb is read.",
		Mutates:     true,
		Inputs:      []engine.InputSpec{{Name: "verb", Type: "string", Description: "verb"}, {Name: "to", Type: "string", Description: "target"}},
		NeedsApproval: func(constants map[string]any, dynamic map[string]bool) bool {
			return dynamic["verb"] || (constants["verb"] != nil && constants["verb"] != "read")
		},
		Check: func(wf *schema.Workflow, constants map[string]any) []engine.InputProblem {
			if to, ok := constants["to"].(string); ok && strings.HasPrefix(to, "bad") {
				return []engine.InputProblem{{Input: "to", Message: "no bad targets (" + wf.Name + ")"}}
			}
			return nil
		},
		Run: func(_ context.Context, _ *engine.StepContext, _ map[string]any) (map[string]any, error) {
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wf := workflow(
		with(st("read", "test.call"), "verb", "read"),
		st("none", "test.call"),
		with(st("write", "test.call"), "verb", "write"),
		with(st("dyn", "test.call"), "verb", "${{ 'read' }}"),
	)
	var got []string
	for _, a := range h.compile(wf).Approvals() {
		got = append(got, a.Step)
	}
	if strings.Join(got, ",") != "write,dyn" {
		t.Fatalf("approvals %v, want write and the expression's dyn", got)
	}

	bad := workflow(with(st("x", "test.call"), "to", "bad-host"))
	_, diags := engine.Compile(bad, h.reg)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, `step "x" (test.call): no bad targets (test)`) || diags[0].Pos != bad.Steps[0].With["to"].Pos {
		t.Fatalf("diagnostics %v", diags)
	}
}
