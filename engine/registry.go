package engine

import (
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/frameflow/frameflow/schema"
)

// Registry holds the step types a program may use. Step types register
// themselves from one explicit list (steps.Register); the engine knows none
// by name.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*StepType
}

// NewRegistry makes an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*StepType{}} }

var stepTypeName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

var inputTypes = map[string]string{
	"string": "string", "integer": "integer", "number": "number",
	"boolean": "boolean", "list": "array", "object": "object", "any": "",
}

// Register adds t. A duplicate name or a malformed declaration is an error.
func (r *Registry) Register(t *StepType) error {
	if t == nil {
		return fmt.Errorf("register: nil step type")
	}
	if !stepTypeName.MatchString(t.Name) {
		return fmt.Errorf("register: step type name %q is not dotted lower_snake_case", t.Name)
	}
	if t.Run == nil {
		return fmt.Errorf("register %s: no Run function", t.Name)
	}
	seen := map[string]bool{}
	for _, in := range t.Inputs {
		if in.Name == "" {
			return fmt.Errorf("register %s: an input has no name", t.Name)
		}
		if seen[in.Name] {
			return fmt.Errorf("register %s: input %q declared twice", t.Name, in.Name)
		}
		seen[in.Name] = true
		if _, ok := inputTypes[in.Type]; !ok {
			return fmt.Errorf("register %s: input %q has unknown type %q", t.Name, in.Name, in.Type)
		}
		if in.Predicate != nil && (in.Predicate.Var == "" || in.Type != "string") {
			return fmt.Errorf("register %s: predicate input %q must be a string and name its element variable", t.Name, in.Name)
		}
	}
	for _, set := range t.AnyOf {
		for _, n := range set {
			if !seen[n] {
				return fmt.Errorf("register %s: any_of names unknown input %q", t.Name, n)
			}
		}
	}
	if t.Resources != nil && !t.Mutates {
		return fmt.Errorf("register %s: Resources declared on a step type that does not mutate", t.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[t.Name]; dup {
		return fmt.Errorf("register: step type %q registered twice", t.Name)
	}
	r.types[t.Name] = t
	return nil
}

// MustRegister is Register that panics, for the static list of step types.
func (r *Registry) MustRegister(t *StepType) {
	if err := r.Register(t); err != nil {
		panic(err)
	}
}

// Lookup finds a step type by name.
func (r *Registry) Lookup(name string) (*StepType, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	return t, ok
}

// Types lists every step type, sorted by name.
func (r *Registry) Types() []*StepType {
	r.mu.RLock()
	out := make([]*StepType, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) names() []string {
	ts := r.Types()
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// ExprPattern matches a string that is exactly one ${{ ... }} expression:
// any typed input accepts one in place of a literal.
const ExprPattern = `^\s*\$\{\{([^}]|\}[^}])*\}\}\s*$`

// SchemaInfos gives the loader each step type's `with` JSON Schema,
// generated from its InputSpecs.
func (r *Registry) SchemaInfos() []schema.StepTypeInfo {
	ts := r.Types()
	out := make([]schema.StepTypeInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, schema.StepTypeInfo{Name: t.Name, Description: t.Description, WithSchema: WithSchema(t)})
	}
	return out
}

// WithSchema is the JSON Schema of t's `with` block.
func WithSchema(t *StepType) map[string]any {
	props := map[string]any{}
	var required []any
	for _, in := range t.Inputs {
		props[in.Name] = inputSchema(in)
		if in.Required {
			required = append(required, in.Name)
		}
	}
	s := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(t.AnyOf) > 0 {
		var alts []any
		for _, set := range t.AnyOf {
			req := make([]any, len(set))
			for i, n := range set {
				req[i] = n
			}
			alts = append(alts, map[string]any{"required": req})
		}
		s["anyOf"] = alts
	}
	return s
}

func inputSchema(in InputSpec) map[string]any {
	s := map[string]any{}
	if in.Description != "" {
		s["description"] = in.Description
	}
	if in.Default != nil {
		s["default"] = in.Default
	}
	if in.Predicate != nil {
		s["type"] = "string"
		return s
	}
	typed := map[string]any{}
	if jt := inputTypes[in.Type]; jt != "" {
		typed["type"] = jt
	}
	if len(in.Enum) > 0 {
		typed["enum"] = in.Enum
	}
	if in.Minimum != nil {
		typed["minimum"] = *in.Minimum
	}
	if in.Maximum != nil {
		typed["maximum"] = *in.Maximum
	}
	if in.Type == "any" || (in.Type == "string" && len(in.Enum) == 0) {
		// Any string already admits an expression.
		for k, v := range typed {
			s[k] = v
		}
		return s
	}
	s["anyOf"] = []any{typed, map[string]any{"type": "string", "pattern": ExprPattern}}
	return s
}
