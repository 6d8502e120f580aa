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

func (p *Program) bind(raw map[string]string, typed map[string]any, allowMissing bool) (map[string]any, []string, error) {
	var missing []string
	out := map[string]any{}
	var errs []string
	names := make([]string, 0, len(p.wf.Inputs))
	for _, in := range p.wf.Inputs {
		names = append(names, in.Name)
	}
	unknown := func(k string) {
		msg := fmt.Sprintf("unknown input %q", k)
		if s := xexpr.DidYouMean(k, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if len(names) > 0 {
			msg += fmt.Sprintf(" (inputs: %s)", strings.Join(names, ", "))
		} else {
			msg += " (the workflow declares no inputs)"
		}
		errs = append(errs, msg)
	}
	for _, k := range sortedKeys(typed) {
		in := p.inputs[k]
		if in == nil {
			unknown(k)
			continue
		}
		v, err := coerceTyped(in, typed[k])
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[k] = v
	}
	for _, k := range sortedKeys(raw) {
		in := p.inputs[k]
		if in == nil {
			unknown(k)
			continue
		}
		v, err := coerceRaw(in, raw[k])
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[k] = v
	}
	for _, in := range p.wf.Inputs {
		if _, ok := out[in.Name]; ok {
			continue
		}
		if in.HasDefault {
			v, err := coerceTyped(in, in.Default)
			if err != nil {
				errs = append(errs, "default of "+err.Error())
				continue
			}
			out[in.Name] = v
			continue
		}
		if in.Required && allowMissing {
			missing = append(missing, in.Name)
			continue
		}
		if in.Required {
			errs = append(errs, fmt.Sprintf("missing required input %q (give it with --input %s=...)", in.Name, in.Name))
		}
	}
	for _, in := range p.wf.Inputs {
		v, ok := out[in.Name]
		if !ok || len(in.Enum) == 0 {
			continue
		}
		if !slices.ContainsFunc(in.Enum, func(e any) bool { return equalValue(e, v) }) {
			var opts []string
			for _, e := range in.Enum {
				opts = append(opts, fmt.Sprint(e))
			}
			if in.Secret {
				errs = append(errs, fmt.Sprintf("input %q: not one of the allowed values", in.Name))
			} else {
				errs = append(errs, fmt.Sprintf("input %q: %v is not one of %s", in.Name, v, strings.Join(opts, ", ")))
			}
		}
	}
	if len(errs) > 0 {
		return nil, missing, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, missing, nil
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
