package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	xexpr "github.com/frameflow/frameflow/engine/expr"
	"github.com/frameflow/frameflow/schema"
)

// BindInputs merges --input k=v pairs (raw, coerced by the declared type;
// list and object as JSON) over --inputs FILE values (typed), applies
// defaults, and checks required inputs and enums. Raw values win over typed
// ones of the same name. Errors never echo a secret input's value.
func (p *Program) BindInputs(raw map[string]string, typed map[string]any) (map[string]any, error) {
	out, _, err := p.bind(raw, typed, false)
	return out, err
}

// BindKnownInputs is BindInputs for checks made before the inputs are all
// known (validate): a required input that is neither given nor defaulted is
// listed in missing instead of being an error; every other problem is one.
func (p *Program) BindKnownInputs(raw map[string]string, typed map[string]any) (in map[string]any, missing []string, err error) {
	return p.bind(raw, typed, true)
}

// BindError lists every problem with a run's inputs, all at once; its text
// is one problem a line.
type BindError struct{ Problems []BindProblem }

// BindProblem is one input's problem: Input names the input (as given, for
// an unknown one).
type BindProblem struct {
	Input   string
	Message string
}

func (e *BindError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Message
	}
	return strings.Join(lines, "\n")
}

// binding is one BindInputs call in progress.
type binding struct {
	p        *Program
	out      map[string]any
	given    map[string]bool // named by the caller, valid or not
	problems []BindProblem
}

func (b *binding) problem(input, msg string) {
	b.problems = append(b.problems, BindProblem{Input: input, Message: msg})
}

func (p *Program) bind(raw map[string]string, typed map[string]any, allowMissing bool) (map[string]any, []string, error) {
	b := &binding{p: p, out: map[string]any{}, given: map[string]bool{}}
	for _, k := range sortedKeys(typed) {
		if _, over := raw[k]; over {
			continue // the raw value wins, and a bad typed one is moot
		}
		b.bindGiven(k, func(in *schema.Input) (any, error) { return coerceTyped(in, typed[k]) })
	}
	for _, k := range sortedKeys(raw) {
		b.bindGiven(k, func(in *schema.Input) (any, error) { return coerceRaw(in, raw[k]) })
	}
	missing := b.bindDefaults(allowMissing)
	b.checkEnums()
	if len(b.problems) > 0 {
		return nil, missing, &BindError{Problems: b.problems}
	}
	return b.out, missing, nil
}

// bindGiven binds input k from the caller's value (raw values are bound
// after typed ones, and win).
func (b *binding) bindGiven(k string, coerce func(*schema.Input) (any, error)) {
	in := b.p.inputs[k]
	if in == nil {
		b.problem(k, b.unknownInput(k))
		return
	}
	b.given[k] = true
	v, err := coerce(in)
	if err != nil {
		b.problem(k, err.Error())
		return
	}
	b.out[k] = v
}

func (b *binding) unknownInput(k string) string {
	names := make([]string, 0, len(b.p.wf.Inputs))
	for _, in := range b.p.wf.Inputs {
		names = append(names, in.Name)
	}
	msg := fmt.Sprintf("unknown input %q", k)
	if s := xexpr.DidYouMean(k, names); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	if len(names) > 0 {
		return msg + fmt.Sprintf(" (inputs: %s)", strings.Join(names, ", "))
	}
	return msg + " (the workflow declares no inputs)"
}

// bindDefaults gives inputs not given their defaults, and reports required
// ones without any (listed in missing when allowMissing). An input given
// with a bad value is not missing: its problem is already reported.
func (b *binding) bindDefaults(allowMissing bool) (missing []string) {
	for _, in := range b.p.wf.Inputs {
		if _, ok := b.out[in.Name]; ok || b.given[in.Name] {
			continue
		}
		switch {
		case in.HasDefault:
			v, err := coerceTyped(in, in.Default)
			if err != nil {
				b.problem(in.Name, "default of "+err.Error())
				continue
			}
			b.out[in.Name] = v
		case in.Required && allowMissing:
			missing = append(missing, in.Name)
		case in.Required:
			b.problem(in.Name, fmt.Sprintf("missing required input %q (give it with --input %s=...)", in.Name, in.Name))
		}
	}
	return missing
}

func (b *binding) checkEnums() {
	for _, in := range b.p.wf.Inputs {
		v, ok := b.out[in.Name]
		if !ok || len(in.Enum) == 0 {
			continue
		}
		if slices.ContainsFunc(in.Enum, func(e any) bool { return equalValue(e, v) }) {
			continue
		}
		if in.Secret {
			b.problem(in.Name, fmt.Sprintf("input %q: not one of the allowed values", in.Name))
			continue
		}
		var opts []string
		for _, e := range in.Enum {
			opts = append(opts, fmt.Sprint(e))
		}
		b.problem(in.Name, fmt.Sprintf("input %q: %v is not one of %s", in.Name, v, strings.Join(opts, ", ")))
	}
}

// SecretValues lists the values of inputs marked secret, for redaction.
func (p *Program) SecretValues(inputs map[string]any) []string {
	var out []string
	for _, in := range p.wf.Inputs {
		if !in.Secret {
			continue
		}
		if v, ok := inputs[in.Name]; ok && v != nil {
			if s := xexpr.Stringify(v); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func equalValue(a, b any) bool {
	fa, oka := toFloat(a)
	fb, okb := toFloat(b)
	if oka && okb {
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func bad(in *schema.Input, want string, v any) error {
	if in.Secret {
		return fmt.Errorf("input %q: want %s", in.Name, want)
	}
	if s, ok := v.(string); ok {
		// Quoted, so that "12" (a string) is not shown as 12.
		return fmt.Errorf("input %q: want %s, got the string %q", in.Name, want, s)
	}
	return fmt.Errorf("input %q: want %s, got %s", in.Name, want, xexpr.Stringify(v))
}

func coerceRaw(in *schema.Input, s string) (any, error) {
	switch in.Type {
	case "", "string":
		return s, nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, bad(in, "an integer", s)
		}
		return int(n), nil
	case "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad(in, "a number", s)
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, bad(in, "true or false", s)
		}
		return b, nil
	case "list", "object":
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, bad(in, "a JSON "+in.Type, s)
		}
		return coerceTyped(in, v)
	}
	return s, nil
}

// coerceTyped checks a typed value (from a file or a default) and gives it
// the Go type expressions expect: int for integers, float64 for numbers.
func coerceTyped(in *schema.Input, v any) (any, error) {
	// A string for a number or boolean input (max_servers: "12" in an
	// inputs file) is read as the command line reads it, when that is
	// unambiguous: the same rules as --input name=value.
	if s, ok := v.(string); ok {
		switch in.Type {
		case "integer", "number", "boolean":
			if c, err := coerceRaw(in, s); err == nil {
				return c, nil
			}
		}
	}
	switch in.Type {
	case "", "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad(in, "a string", v)
	case "integer":
		switch x := v.(type) {
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int(x), nil
			}
		}
		return nil, bad(in, "an integer", v)
	case "number":
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return nil, bad(in, "a number", v)
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, bad(in, "true or false", v)
	case "list":
		if l, ok := v.([]any); ok {
			return l, nil
		}
		return nil, bad(in, "a list", v)
	case "object":
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		return nil, bad(in, "an object", v)
	}
	return v, nil
}
