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

// resumeNotes say how each hand-written mutating step is reconciled on
// resume (see docs/resume.md); generated into docs/steps.md.
var resumeNotes = map[string]string{
	"sandbox.clone":                   "Before sending, the step reads the target account's audit-trail entries of the last hour (`GET /accounts/:id/audit-trails`): of exactly the kinds `frameflow doctor` confirmed for clones on this estate, else those whose kind contains `clone`; it keeps their ids as the mutation's witness (journaled with the intent). The read is best-effort: a 403, 404 or error never stops the clone, and the witness then says none was taken. Reconcile reads them again: a new entry proves the clone was sent but not that it finished (the entry names no task), so the item ends `outcome_unknown` for the operator (`frameflow resume RUN --mark KEY=sent|not-sent`) and nothing that depends on it runs. No new entry proves it was not sent only with a confirmed kind, once 20 s have passed since sending; otherwise an operator decides. Without the journaled witness it refuses to guess.",
	"sandbox.publish":                 "Before sending, the step lists the account's publish tasks (`GET /accounts/:id/publish/tasks`) and keeps their ids as the mutation's witness (journaled with the intent). Reconcile lists them again: an id not in the witness proves the publish was made (its publish id is kept as `publish_id` and waited on through `GET /accounts/:id/publish/:task_id`); none proves it was not, once 20 s have passed since sending (a task may be listed late). Without the journaled witness it refuses to guess.",
	"elasticity.set":                  "Idempotent: Reconcile reads the pool's settings; equal to the desired values proves the change took effect. Different values prove nothing for 20 s after sending (an update task may still be running: it was sent), and then that it was not sent. A re-run step that finds them equal sends nothing and is reported unchanged.",
	"persistent_desktop.capacity.set": "Idempotent: Reconcile reads the current capacity and compares it with the desired one, as elasticity.set (20 s for a running update to show).",
	"sandbox.start":                   "Reconcile reads the Sandbox status: running servers prove the start; none proves it was not (starting is idempotent).",
	"sandbox.stop":                    "Reconcile reads the Sandbox status: no running servers prove the stop.",
	"api.call":                        "No generic Reconcile: a call whose answer was lost stops the resume.",
}

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
		if n := resumeNotes[t.Name]; n != "" {
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
	for name := range resumeNotes {
		found := false
		for _, st := range types {
			found = found || st.Name == name
		}
		if !found {
			t.Errorf("resume note for unknown step type %s", name)
		}
	}
}
