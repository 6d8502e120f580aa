package steps_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/steps"
)

var update = flag.Bool("update", false, "rewrite docs/steps.md from the registry")

const stepsDoc = "../docs/steps.md"

func renderDoc(types []*engine.StepType) string {
	var b strings.Builder
	b.WriteString("# Step types\n\n")
	b.WriteString("<!-- Generated from the step registry by `go test ./steps -run TestStepsDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every step type a workflow can use: what it does, its inputs (`with:`), its outputs ")
	b.WriteString("(`steps.<id>.outputs.<name>`, checked against these shapes when the workflow is loaded), ")
	b.WriteString("whether it mutates and whether it is destructive (destructive steps need approval). ")
	b.WriteString("Mutations go through the plan and the run journal; see [polling.md](polling.md) for `wait` and `task.wait`, ")
	b.WriteString("[resume.md](resume.md) for reconciliation, [adding-a-step.md](adding-a-step.md) to add one.\n\n")
	b.WriteString("| step type | effect | mutates |\n| --- | --- | --- |\n")
	for _, t := range types {
		if strings.HasPrefix(t.Name, "api.") && t.Name != "api.call" {
			continue
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", t.Name, anchor(t.Name), cell(t.Description), mutates(t))
	}
	b.WriteString("\nThe generic `api.<catalog name>` step types, one per endpoint of the catalog ")
	b.WriteString("([api-catalog.md](api-catalog.md)), are listed after the hand-written ones.\n")
	for _, t := range types {
		fmt.Fprintf(&b, "\n## `%s`\n\n%s\n\n", t.Name, t.Description)
		fmt.Fprintf(&b, "Mutates: %s.", mutates(t))
		if len(t.AnyOf) > 0 {
			var sets []string
			for _, s := range t.AnyOf {
				sets = append(sets, "`"+strings.Join(s, "` + `")+"`")
			}
			fmt.Fprintf(&b, " Give one of: %s.", strings.Join(sets, "; or "))
		}
		b.WriteString("\n")
		if n := steps.ResumeNote(t.Name); n != "" {
			fmt.Fprintf(&b, "\nResume: %s\n", n)
		}
		if len(t.Inputs) > 0 {
			b.WriteString("\n| input | type | required | default | description |\n| --- | --- | --- | --- | --- |\n")
			for _, in := range t.Inputs {
				typ := in.Type
				if in.Predicate != nil {
					typ = "expression over `" + in.Predicate.Var + "`"
				}
				def := ""
				if in.Default != nil {
					def = fmt.Sprintf("`%v`", in.Default)
				}
				req := ""
				if in.Required {
					req = "yes"
				}
				desc := in.Description
				if len(in.Enum) > 0 {
					desc += fmt.Sprintf(" One of %d catalog names.", len(in.Enum))
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", in.Name, typ, req, def, cell(desc))
			}
		}
		if len(t.Outputs) > 0 {
			b.WriteString("\n| output | shape | description |\n| --- | --- | --- |\n")
			for _, name := range sortedKeys(t.Outputs) {
				s := t.Outputs[name]
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, cell(shapeString(s)), cell(s.Doc))
			}
		}
	}
	return b.String()
}

func mutates(t *engine.StepType) string {
	switch {
	case t.Destructive:
		return "yes, destructive"
	case t.Mutates:
		return "yes"
	}
	return "no"
}

func shapeString(s *engine.Shape) string {
	switch s.Kind {
	case "list":
		return "list of " + shapeString(s.Elem)
	case "object":
		if len(s.Fields) == 0 {
			return "object"
		}
		f := sortedKeys(s.Fields)
		if s.Open {
			f = append(f, "...")
		}
		return "object {" + strings.Join(f, ", ") + "}"
	}
	return s.Kind
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func anchor(name string) string { return strings.ReplaceAll(name, ".", "") }

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

// TestStepsDoc keeps docs/steps.md equal to what the registry says.
func TestStepsDoc(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	want := renderDoc(steps.Types(steps.Deps{}))
	if *update {
		if err := os.WriteFile(stepsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(stepsDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./steps -run TestStepsDoc -update)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: run go test ./steps -run TestStepsDoc -update", stepsDoc)
	}
	for _, st := range reg.Types() {
		if !strings.Contains(string(got), "\n## `"+st.Name+"`\n") {
			t.Errorf("%s has no section for %s", stepsDoc, st.Name)
		}
	}
}

// TestStepTypesDeclared: every step type says what it does, describes every
// input, declares outputs, and mutating hand-written ones name resources.
// (That every type has a test is checked in TestMain.)
func TestStepTypesDeclared(t *testing.T) {
	types := steps.Types(steps.Deps{})
	if len(types) < 11 {
		t.Fatalf("only %d step types", len(types))
	}
	for _, st := range types {
		if strings.TrimSpace(st.Description) == "" || strings.Contains(st.Description, "\n") {
			t.Errorf("%s: description must be one line", st.Name)
		}
		for _, in := range st.Inputs {
			if strings.TrimSpace(in.Description) == "" {
				t.Errorf("%s: input %s has no description", st.Name, in.Name)
			}
		}
		if len(st.Outputs) == 0 {
			t.Errorf("%s: no outputs declared", st.Name)
		}
		if st.Mutates && st.Resources == nil {
			t.Errorf("%s mutates but declares no resources", st.Name)
		}
		if st.Destructive && !st.Mutates {
			t.Errorf("%s: destructive but not mutating", st.Name)
		}
	}
	for _, name := range steps.ResumeNoteTypes() {
		found := false
		for _, st := range types {
			found = found || st.Name == name
		}
		if !found {
			t.Errorf("resume note for unknown step type %s", name)
		}
	}
}
