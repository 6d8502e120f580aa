package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
	"gopkg.in/yaml.v3"
)

func diagnose(t *testing.T, wf *schema.Workflow) string {
	t.Helper()
	h := newHarness(t)
	p, diags := engine.Compile(wf, h.reg)
	if diags == nil {
		t.Fatal("compiled without diagnostics")
	}
	if p != nil {
		t.Fatal("program returned with diagnostics")
	}
	return diags.Error()
}

// Step N of a test workflow sits at line 10*N; its first with value is at
// line 10*N+2, col 13; if/for_each at line 10*N+5, col 11 (see workflow()).
func TestCompileDiagnostics(t *testing.T) {
	read := func() *schema.Step { return with(st("targets", "test.read"), "filter", "active") }
	cases := []struct {
		name string
		wf   func() *schema.Workflow
		want string
	}{
		{"unknown input", func() *schema.Workflow {
			wf := workflow(with(ok("a"), "value", "${{ inputs.regoin }}"))
			wf.Inputs = append(wf.Inputs, input("region", "string", "eu"))
			return wf
		}, `wf.yaml:12:24: unknown input "regoin"; did you mean "region"?`},
		{"unknown step", func() *schema.Workflow {
			return workflow(with(ok("a"), "value", "x ${{ steps.nope.outputs.value }}"))
		}, `wf.yaml:12:25: unknown step "nope"`},
		{"unknown output", func() *schema.Workflow {
			return workflow(read(), with(ok("b"), "value", "${{ steps.targets.outputs.acounts }}"))
		}, `wf.yaml:22:39: unknown output "acounts" of step "targets" (test.read); did you mean "accounts"?`},
		{"unknown field of an item", func() *schema.Workflow {
			return workflow(read(), group("each", "steps.targets.outputs.accounts",
				with(ok("c"), "value", "${{ item.nme }}")))
		}, `wf.yaml:32:22: unknown field "nme"; did you mean "name"?`},
		{"unknown field in a filter", func() *schema.Workflow {
			return workflow(with(st("t", "test.read"), "filter", `account.nme == "x"`))
		}, `wf.yaml:12:21: unknown field "nme"; did you mean "name"?`},
		{"unknown top-level field in a filter", func() *schema.Workflow {
			return workflow(with(st("t", "test.read"), "filter", `activ`))
		}, `wf.yaml:12:13: unknown field "activ"; did you mean "active"?`},
		{"step in another group", func() *schema.Workflow {
			return workflow(read(),
				group("g1", "steps.targets.outputs.accounts", ok("inner")),
				with(ok("b"), "value", "${{ steps.inner.outputs.value }}"))
		}, `wf.yaml:42:23: step "inner" is inside group "g1": only steps of that group can reference it (use steps.g1.outputs.items)`},
		{"env not declared", func() *schema.Workflow {
			return workflow(with(ok("a"), "value", "${{ env.HOME }}"))
		}, `wf.yaml:12:21: unknown environment variable "HOME" (only names declared under env: can be read)`},
		{"bad syntax", func() *schema.Workflow {
			return workflow(with(ok("a"), "value", "${{ 1 + }}"))
		}, `wf.yaml:12:20: syntax error: unexpected token EOF`},
		{"unterminated", func() *schema.Workflow {
			return workflow(with(ok("a"), "value", "ab ${{ 1 + 1"))
		}, `wf.yaml:12:16: unterminated ${{ (missing }})`},
		{"bad if", func() *schema.Workflow {
			a := ok("a")
			a.If = "inputs.x == 1"
			return workflow(a)
		}, `wf.yaml:15:18: unknown input "x"`},
		{"cycle", func() *schema.Workflow {
			return workflow(ok("a", "c"), ok("b", "a"), with(ok("c"), "value", "${{ steps.b.outputs.value }}"), ok("d", "a"))
		}, `wf.yaml:10:5: cycle: a -> b -> c -> a`},
		{"self reference", func() *schema.Workflow {
			return workflow(with(ok("a"), "value", "${{ steps.a.outputs.value }}"))
		}, `wf.yaml:10:5: cycle: a -> a`},
		{"needs unknown", func() *schema.Workflow {
			return workflow(ok("alpha"), ok("b", "alpah"))
		}, `wf.yaml:26:13: needs: unknown step "alpah"; did you mean "alpha"?`},
		{"unknown step type", func() *schema.Workflow {
			return workflow(st("a", "test.okk"))
		}, `wf.yaml:11:11: unknown step type "test.okk"; did you mean "test.ok"?`},
		{"unknown with input", func() *schema.Workflow {
			return workflow(with(ok("a"), "valeu", 1))
		}, `wf.yaml:12:13: step type test.ok has no input "valeu"; did you mean "value"?`},
		{"missing required input", func() *schema.Workflow {
			return workflow(st("a", "test.slow"))
		}, `wf.yaml:10:5: step "a" (test.slow): missing required input "ms"`},
		{"duplicate id", func() *schema.Workflow {
			return workflow(ok("a"), ok("a"))
		}, `wf.yaml:20:9: duplicate step id "a"`},
		{"var defined later", func() *schema.Workflow {
			wf := workflow(ok("a"))
			wf.Vars = []*schema.Var{{Name: "x", Value: val("${{ vars.y }}")}, {Name: "y", Value: val("1")}}
			return wf
		}, `var "y" is defined later`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := diagnose(t, c.wf())
			if !strings.Contains(got, c.want) {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestCompileReportsEverythingAtOnce(t *testing.T) {
	got := diagnose(t, workflow(
		with(ok("a"), "value", "${{ inputs.x }}"),
		with(ok("b"), "value", "${{ steps.zz.outputs.value }}"),
		st("c", "nope"),
	))
	if n := strings.Count(got, "\n") + 1; n != 3 {
		t.Fatalf("want 3 diagnostics, got %d:\n%s", n, got)
	}
	if !strings.HasPrefix(got, "wf.yaml:12:") {
		t.Fatalf("not sorted by position:\n%s", got)
	}
}

func TestQuotedScalarColumns(t *testing.T) {
	// In `value: "${{ inputs.nope }}"` the quote shifts every column by one.
	h := newHarness(t)
	wf := workflow(with(ok("a"), "value", "${{ inputs.nope }}"))
	wf.Steps[0].With["value"].Node = quotedNode()
	_, diags := engine.Compile(wf, h.reg)
	if len(diags) != 1 || diags[0].Pos.Col != 13+1+11 {
		t.Fatalf("%v", diags)
	}
}

func TestGraphRendering(t *testing.T) {
	h := newHarness(t)
	wf := workflow(
		with(st("targets", "test.read"), "filter", "active"),
		group("rollout", "steps.targets.outputs.accounts",
			with(st("clone", "test.mutate"), "path", "/c/${{ item.id }}"),
			with(st("publish", "test.mutate", "clone"), "path", "/p"),
		),
		ok("done", "rollout"),
	)
	p := h.compile(wf)
	dot := p.DOT()
	for _, want := range []string{`subgraph "cluster_rollout"`, `"targets" -> "rollout" [lhead="cluster_rollout"]`, `"rollout.clone" -> "rollout.publish"`, `"rollout" -> "done" [ltail="cluster_rollout"]`} {
		if !strings.Contains(dot, want) {
			t.Fatalf("DOT lacks %s:\n%s", want, dot)
		}
	}
	mm := p.Mermaid()
	for _, want := range []string{"flowchart LR", `subgraph rollout["rollout (for each item)"]`, "targets --> rollout", "rollout__clone --> rollout__publish", "end"} {
		if !strings.Contains(mm, want) {
			t.Fatalf("Mermaid lacks %s:\n%s", want, mm)
		}
	}
}

func TestBindInputs(t *testing.T) {
	h := newHarness(t)
	wf := workflow(ok("a"))
	color := input("color", "string", "red")
	color.Enum = []any{"red", "blue"}
	wf.Inputs = []*schema.Input{
		input("n", "integer", nil), input("ratio", "number", 1), input("on", "boolean", false),
		input("ids", "list", []any{}), color,
	}
	p := h.compile(wf)
	got, err := p.BindInputs(map[string]string{"n": "5", "ids": `["a","b"]`}, map[string]any{"ratio": 2.5, "on": true, "n": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	if got["n"] != 5 || got["ratio"] != 2.5 || got["on"] != true || len(got["ids"].([]any)) != 2 || got["color"] != "red" {
		t.Fatalf("%#v", got)
	}
	// Typed integers from a JSON file become ints; defaults are coerced.
	got, _ = p.BindInputs(nil, map[string]any{"n": 7.0})
	if got["n"] != 7 || got["ratio"] != 1.0 {
		t.Fatalf("%#v", got)
	}
	// A quoted number or boolean in an inputs file is read by the declared
	// type, as --input would; a string that is no number still fails.
	got, err = p.BindInputs(nil, map[string]any{"n": "12", "ratio": "0.5", "on": "true"})
	if err != nil || got["n"] != 12 || got["ratio"] != 0.5 || got["on"] != true {
		t.Fatalf("%#v %v", got, err)
	}
	if _, err := p.BindInputs(nil, map[string]any{"n": "12x"}); err == nil || !strings.Contains(err.Error(), `want an integer, got the string "12x"`) {
		t.Fatal(err)
	}
	for _, c := range []struct {
		raw  map[string]string
		want string
	}{
		{nil, `missing required input "n"`},
		{map[string]string{"n": "x"}, `input "n": want an integer, got the string "x"`},
		{map[string]string{"n": "1", "colour": "red"}, `unknown input "colour"; did you mean "color"?`},
		{map[string]string{"n": "1", "color": "green"}, `input "color": green is not one of red, blue`},
		{map[string]string{"n": "1", "ids": "[1"}, `input "ids": want a JSON list`},
	} {
		_, err := p.BindInputs(c.raw, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %s", c.raw, err, c.want)
		}
	}
	// A secret's value never appears in an error.
	wf.Inputs = append(wf.Inputs, &schema.Input{Name: "pin", Type: "integer", Secret: true})
	p = h.compile(wf)
	_, err = p.BindInputs(map[string]string{"n": "1", "pin": "hunter2"}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatal(err)
	}
}

func quotedNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle} }

// Each problem is reported once with the input it concerns: an input given
// with a bad value is not also "missing", and a raw value replaces a typed
// one without the typed one being checked.
func TestBindInputsListsEachProblemOnce(t *testing.T) {
	h := newHarness(t)
	wf := workflow(ok("a"))
	wf.Inputs = []*schema.Input{input("n", "integer", nil), input("ratio", "number", 1.0)}
	wf.Inputs[0].Required = true
	p := h.compile(wf)
	_, err := p.BindInputs(nil, map[string]any{"n": 3.5, "ratoi": 1})
	var be *engine.BindError
	if !errors.As(err, &be) {
		t.Fatalf("want a *BindError, got %v", err)
	}
	var got []string
	for _, pr := range be.Problems {
		got = append(got, pr.Input+": "+pr.Message)
	}
	want := []string{`n: input "n": want an integer, got 3.5`, `ratoi: unknown input "ratoi"; did you mean "ratio"?`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	in, err := p.BindInputs(map[string]string{"n": "4"}, map[string]any{"n": 3.5})
	if err != nil || in["n"] != 4 {
		t.Fatalf("raw over a bad typed value: %v %v", in, err)
	}
}
