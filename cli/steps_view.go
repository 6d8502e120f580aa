package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/steps"
)

// stepsTableWidth is the width the `steps` table keeps to (a laptop
// terminal split in two); descriptions are cut to fit, and `steps TYPE`
// shows one whole.
const stepsTableWidth = 100

func writeStepsTable(w io.Writer, types []*engine.StepType) {
	typeWidth := len("TYPE")
	for _, t := range types {
		typeWidth = max(typeWidth, len(t.Name))
	}
	mutWidth := len("destructive")
	descWidth := max(20, stepsTableWidth-typeWidth-mutWidth-4)
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", typeWidth, "TYPE", mutWidth, "MUTATES", "DESCRIPTION")
	for _, t := range types {
		fmt.Fprintf(w, "%-*s  %-*s  %s\n", typeWidth, t.Name, mutWidth, mutatesWord(t), cut(t.Description, descWidth))
	}
	fmt.Fprintln(w, "\nframeflow steps TYPE: inputs, outputs, resume semantics and an example.")
}

func mutatesWord(t *engine.StepType) string {
	switch {
	case t.Destructive:
		return "destructive"
	case t.Mutates:
		return "yes"
	}
	return "no"
}

// cut shortens s to width runes, ending with "…" when it had to.
func cut(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return strings.TrimRight(string(r[:width-1]), " ,.;:") + "…"
}

// writeStepDetail is `frameflow steps TYPE`.
func writeStepDetail(w io.Writer, t *engine.StepType) {
	fmt.Fprintf(w, "%s\n%s\n", t.Name, wrapText(t.Description, 80, ""))
	switch {
	case t.Destructive:
		fmt.Fprintln(w, "Mutates: yes, destructive (a plan marks it !; approval is always asked).")
	case t.Mutates:
		fmt.Fprintln(w, "Mutates: yes (a plan lists each request; approval is asked before the first).")
	default:
		fmt.Fprintln(w, "Mutates: no (reads only; plans run it live).")
	}

	writeStepInputs(w, t)
	writeStepOutputs(w, t)

	fmt.Fprintln(w, "\nResume:")
	fmt.Fprint(w, wrapText(resumeText(t), 80, "  "))

	fmt.Fprintln(w, "\nExample:")
	fmt.Fprint(w, stepExample(t))
}

// writeStepInputs lists a step type's inputs, each with its type, notes
// and description.
func writeStepInputs(w io.Writer, t *engine.StepType) {
	fmt.Fprintln(w, "\nInputs (with:):")
	if len(t.Inputs) == 0 {
		fmt.Fprintln(w, "  none")
	}
	nameWidth := 0
	for _, in := range t.Inputs {
		nameWidth = max(nameWidth, len(in.Name))
	}
	for _, in := range t.Inputs {
		typ := in.Type
		if in.Predicate != nil {
			typ = "expression over " + in.Predicate.Var
		}
		var notes []string
		if in.Required {
			notes = append(notes, "required")
		}
		if in.Default != nil {
			notes = append(notes, fmt.Sprintf("default %v", in.Default))
		}
		if len(in.Enum) > 0 && len(in.Enum) <= 8 {
			notes = append(notes, fmt.Sprintf("one of %v", in.Enum))
		} else if len(in.Enum) > 8 {
			notes = append(notes, fmt.Sprintf("one of %d values", len(in.Enum)))
		}
		extra := ""
		if len(notes) > 0 {
			extra = " (" + strings.Join(notes, ", ") + ")"
		}
		indent := strings.Repeat(" ", nameWidth+4)
		fmt.Fprintf(w, "  %-*s  %s%s\n%s", nameWidth, in.Name, typ, extra, wrapText(in.Description, 80, indent))
	}
	if len(t.AnyOf) > 0 {
		var sets []string
		for _, s := range t.AnyOf {
			sets = append(sets, strings.Join(s, " + "))
		}
		fmt.Fprintf(w, "  Give one of: %s.\n", strings.Join(sets, "; or "))
	}
}

// writeStepOutputs lists a step type's outputs by name.
func writeStepOutputs(w io.Writer, t *engine.StepType) {
	fmt.Fprintln(w, "\nOutputs (steps.ID.outputs.NAME):")
	names := make([]string, 0, len(t.Outputs))
	for n := range t.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := t.Outputs[n]
		line := n + ": " + shapeText(s)
		if s.Doc != "" {
			line += " (" + s.Doc + ")"
		}
		fmt.Fprint(w, wrapTextHanging(line, 80, "  ", "      "))
	}
}

func resumeText(t *engine.StepType) string {
	if n := steps.ResumeNote(t.Name); n != "" {
		return n
	}
	if !t.Mutates {
		return "Reads only: a resumed run reads again (a finished step's outputs are restored from the journal)."
	}
	return "No generic Reconcile: a request whose answer was lost stops the resume, which asks you to check (frameflow resume RUN --assume-not-sent once you have)."
}

func shapeText(s *engine.Shape) string {
	switch s.Kind {
	case "list":
		if s.Elem != nil {
			return "list of " + shapeText(s.Elem)
		}
		return "list"
	case "object":
		if len(s.Fields) == 0 {
			return "object"
		}
		f := make([]string, 0, len(s.Fields))
		for k := range s.Fields {
			f = append(f, k)
		}
		sort.Strings(f)
		if s.Open {
			f = append(f, "...")
		}
		return "object {" + strings.Join(f, ", ") + "}"
	}
	return s.Kind
}

// stepExample is a step using the type with its required inputs (and the
// first complete alternative of AnyOf), each with a value of its type.
func stepExample(t *engine.StepType) string {
	want := map[string]bool{}
	for _, in := range t.Inputs {
		if in.Required {
			want[in.Name] = true
		}
	}
	if len(t.AnyOf) > 0 {
		for _, n := range t.AnyOf[0] {
			want[n] = true
		}
	}
	id := strings.ReplaceAll(strings.TrimPrefix(t.Name, "api."), ".", "_")
	var b strings.Builder
	fmt.Fprintf(&b, "  steps:\n    - id: %s\n      uses: %s\n", id, t.Name)
	var lines []string
	for _, in := range t.Inputs {
		if !want[in.Name] {
			continue
		}
		lines = append(lines, fmt.Sprintf("        %s: %s", in.Name, exampleValue(in)))
	}
	if len(lines) > 0 {
		b.WriteString("      with:\n" + strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

func exampleValue(in engine.InputSpec) string {
	if len(in.Enum) > 0 {
		return fmt.Sprint(in.Enum[0])
	}
	if in.Predicate != nil {
		return in.Predicate.Var + `.name startsWith "Store-"`
	}
	switch {
	case strings.HasSuffix(in.Name, "account_id"):
		return "${{ steps.targets.outputs.accounts[0].id }}"
	case strings.HasSuffix(in.Name, "pool_id"):
		return "${{ steps.pools.outputs.pools[0].id }}"
	case strings.HasSuffix(in.Name, "_id"):
		return "${{ inputs." + in.Name + " }}"
	}
	switch in.Type {
	case "integer", "number":
		return "1"
	case "boolean":
		return "true"
	case "list":
		return "[]"
	case "object":
		return "{}"
	}
	return "${{ inputs." + in.Name + " }}"
}

// wrapText breaks text into lines of at most width columns, each starting with
// indent (a word longer than a line gets a line of its own).
func wrapText(text string, width int, indent string) string {
	return wrapTextHanging(text, width, indent, indent)
}

// wrapTextHanging is wrapText with a different indent for the first line.
func wrapTextHanging(text string, width int, first, rest string) string {
	var b strings.Builder
	line, prefix := "", first
	for _, word := range strings.Fields(text) {
		if line != "" && len([]rune(prefix+line+" "+word)) > width {
			b.WriteString(prefix + line + "\n")
			line, prefix = "", rest
		}
		if line == "" {
			line = word
		} else {
			line += " " + word
		}
	}
	if line != "" {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}
