package steps

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// Typed step parameters. A step declares its inputs as a struct; each field
// carries the input's name and options in a `param` tag and its one-line
// documentation in a `doc` tag:
//
//	type publishParams struct {
//		AccountID any  `param:"account_id,id,required" doc:"Frame account ID ..."`
//		Wait      bool `param:"wait,wait=publish"`
//	}
//
// Field types: string, bool, int (an integer input that must be given),
// *int and *bool (absent: nil), time.Duration (a string such as 30s), and
// any with the "id" option (a Frame ID: its string, or engine.Unknown in
// plans where it is known only after apply; checked as a path segment) or
// the "object" option (an object, kept as given; a map[string]any field
// refuses anything but an object). Options: "required"; "id"; "object";
// "default=<text>" (a string input's value when absent); "enum=<list>" (a
// string input's allowed values, from paramEnums: the schema refuses other
// constants; a value known only at run time is the step's to check, with a
// message that can say more than "not one of");
// "predicate=<var>" (an expression over each element, compiled by
// the engine and read with predicateOf);
// "wait=<what>" (the shared `wait` input, see waitInput). inputsOf makes
// the step's InputSpecs from the struct, and with a catalog endpoint, the
// bounds of the parameters of the same name (a doc may say "{maximum}",
// replaced by the catalog's); decodeParams fills the struct
// from the resolved inputs and checks those bounds (frame.CheckLimits), so
// the catalog stays the one statement of each limit.

// predicateShapes are the element shapes predicate inputs are checked
// against, by the variable they bind.
var predicateShapes = map[string]func() *engine.Shape{"account": accountShape}

// paramEnums are the allowed values of enum inputs, by the name their
// "enum=<list>" option gives.
var paramEnums = map[string]func() []any{
	"apis":              func() []any { return []any{frame.APIv1, frame.APIv1Alpha} },
	"callableEndpoints": callableEndpointNames,
}

// paramField is one parsed field of a parameter struct.
type paramField struct {
	index    int
	name     string
	doc      string
	required bool
	id       bool
	object   bool // an object input, kept as given (any field)
	// predicate=<var>: an expression input evaluated per element bound to
	// <var>; not decoded (the step gets it compiled, see predicateOf), and
	// its shape comes from predicateShapes.
	predicate string
	wait      string // "wait=<what>": the shared wait input
	def       string // "default=<text>": a string input's value when absent
	enum      string // "enum=<list>": a key of paramEnums
}

// paramFields is the parsed fields of parameter struct t, parsed once per
// type: decodeParams runs for every step execution (6,000 at 2,000
// stores), and parsing the tags each time was ~1% of a rollout's CPU and
// 3% of its allocations. The slice is shared: callers only read it.
func paramFields(t reflect.Type) []paramField {
	if cached, ok := parsedParams.Load(t); ok {
		return cached.([]paramField)
	}
	out := parseParamFields(t)
	parsedParams.Store(t, out)
	return out
}

var parsedParams sync.Map // reflect.Type -> []paramField

func parseParamFields(t reflect.Type) []paramField {
	var out []paramField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("param")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		pf := paramField{index: i, name: parts[0], doc: f.Tag.Get("doc")}
		for _, o := range parts[1:] {
			switch {
			case o == "required":
				pf.required = true
			case o == "id":
				pf.id = true
			case o == "object":
				pf.object = true
			case strings.HasPrefix(o, "predicate="):
				pf.predicate = strings.TrimPrefix(o, "predicate=")
			case strings.HasPrefix(o, "wait="):
				pf.wait = strings.TrimPrefix(o, "wait=")
			case strings.HasPrefix(o, "default="):
				pf.def = strings.TrimPrefix(o, "default=")
			case strings.HasPrefix(o, "enum="):
				pf.enum = strings.TrimPrefix(o, "enum=")
				if paramEnums[pf.enum] == nil {
					panic(fmt.Sprintf("steps: %s.%s: no enum list %q", t.Name(), f.Name, pf.enum))
				}
			default:
				panic(fmt.Sprintf("steps: %s.%s: unknown param option %q", t.Name(), f.Name, o))
			}
		}
		out = append(out, pf)
	}
	return out
}

// inputsOf makes the InputSpecs of parameter struct P, in field order. With
// endpoint (a catalog name), an integer input takes the catalog's minimum
// for the parameter of the same name.
func inputsOf[P any](endpoint string) []engine.InputSpec {
	t := reflect.TypeFor[P]()
	var ep *frame.Endpoint
	if endpoint != "" {
		e, ok := frame.LookupEndpoint(endpoint)
		if !ok {
			panic("steps: unknown catalog endpoint " + endpoint)
		}
		ep = e
	}
	var out []engine.InputSpec
	for _, pf := range paramFields(t) {
		if pf.wait != "" {
			out = append(out, waitInput(pf.wait))
			continue
		}
		spec := engine.InputSpec{Name: pf.name, Type: paramType(t.Field(pf.index).Type, pf), Required: pf.required, Description: pf.doc}
		if pf.def != "" {
			spec.Default = pf.def
		}
		if pf.enum != "" {
			spec.Enum = paramEnums[pf.enum]()
		}
		if pf.predicate != "" {
			shape, ok := predicateShapes[pf.predicate]
			if !ok {
				panic("steps: " + pf.name + ": no predicate shape for " + pf.predicate)
			}
			spec.Predicate = &engine.PredicateSpec{Var: pf.predicate, Shape: shape()}
		}
		if ep != nil && spec.Type == "integer" {
			if p, ok := ep.Param(pf.name); ok {
				if p.Minimum != nil {
					m := *p.Minimum
					spec.Minimum = &m
				}
				if p.Maximum != nil {
					m := *p.Maximum
					spec.Maximum = &m
					spec.Description = strings.ReplaceAll(spec.Description, "{maximum}", fmt.Sprint(*p.Maximum))
				}
			}
		}
		if strings.Contains(spec.Description, "{maximum}") {
			panic("steps: " + pf.name + ": {maximum} without a catalog maximum")
		}
		out = append(out, spec)
	}
	return out
}

func paramType(t reflect.Type, pf paramField) string {
	if pf.id {
		return "string"
	}
	if pf.object {
		return "object"
	}
	if t == reflect.TypeFor[time.Duration]() {
		return "string"
	}
	if t == reflect.TypeFor[map[string]any]() {
		return "object"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int:
		return "integer"
	}
	panic(fmt.Sprintf("steps: parameter %s: unsupported type %s", pf.name, t))
}

// KnownAfterApplyError says a step input a typed parameter needs (a
// number, a flag, a name) is known only after apply: computed from a read
// or a task in an offline run, or from a task in a plan. It is not invalid
// input, so preflight and validate do not refuse the workflow for it; the
// step cannot be checked or planned offline.
type KnownAfterApplyError struct{ Input string }

func (e *KnownAfterApplyError) Error() string {
	return "input " + e.Input + " is known only after apply (it is computed from a read or a task), so this step cannot be checked or planned without it"
}

// decodeParams fills *p from a step's resolved inputs, checking each as
// its field declares, and the integers against endpoint's catalog bounds
// ("" for none). Errors name the input.
func decodeParams[P any](in map[string]any, endpoint string, p *P) error {
	a := args(in)
	v := reflect.ValueOf(p).Elem()
	given := map[string]any{}
	// An input known only after apply does not stop the others' checks:
	// a bad one is still reported offline.
	var later error
	for _, pf := range paramFields(v.Type()) {
		f := v.Field(pf.index)
		if pf.required && !pf.id && !a.has(pf.name) { // an id says so itself
			return fmt.Errorf("%s is required", pf.name)
		}
		if err := decodeField(a, pf, f); err != nil {
			var ka *KnownAfterApplyError
			if errors.As(err, &ka) {
				if later == nil {
					later = err
				}
				continue
			}
			return err
		}
		if n, ok := f.Interface().(int); ok && a.has(pf.name) {
			given[pf.name] = n
		} else if np, ok := f.Interface().(*int); ok && np != nil {
			given[pf.name] = *np
		}
	}
	if endpoint != "" {
		if err := frame.CheckLimits(endpoint, given); err != nil {
			return err
		}
	}
	return later
}

func decodeField(a args, pf paramField, f reflect.Value) error {
	if !pf.id && pf.predicate == "" && f.Kind() != reflect.Interface && engine.IsUnknown(a[pf.name]) {
		// Offline (preflight, validate, plan --offline) a value computed
		// from a read is unknown: it is not a bad input, and the field
		// cannot hold it.
		return &KnownAfterApplyError{Input: pf.name}
	}
	switch {
	case pf.predicate != "":
		return nil // compiled by the engine: see predicateOf
	case pf.wait != "":
		b, err := a.boolean(pf.name, false)
		f.SetBool(b)
		return err
	case pf.id:
		if !pf.required && !a.has(pf.name) {
			return nil
		}
		id, err := knownID(a, pf.name)
		if err != nil {
			return err
		}
		if _, err := resolvePath("/{"+pf.name+"}", map[string]any{pf.name: id}); err != nil {
			return err
		}
		f.Set(reflect.ValueOf(&id).Elem())
		return nil
	}
	if pf.object {
		return decodeObject(a, pf.name, f)
	}
	if err := decodeByType(a, pf.name, f); err != nil {
		return err
	}
	if s, ok := f.Interface().(string); ok && s == "" && pf.def != "" {
		f.SetString(pf.def)
	}
	return nil
}

// decodeObject fills an object field: an any field takes the value as
// given, a map[string]any field only an object.
func decodeObject(a args, name string, f reflect.Value) error {
	v := a[name]
	if v == nil {
		return nil
	}
	if f.Kind() == reflect.Map {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("input %s: want an object, got %s", name, describe(v))
		}
		f.Set(reflect.ValueOf(m))
		return nil
	}
	f.Set(reflect.ValueOf(v))
	return nil
}

// decodeByType fills a plain field by its Go type.
func decodeByType(a args, name string, f reflect.Value) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := a.duration(name)
		f.SetInt(int64(d))
		return err
	case string:
		s, err := a.str(name)
		f.SetString(s)
		return err
	case bool:
		b, err := a.boolean(name, false)
		f.SetBool(b)
		return err
	case int:
		n, _, err := a.integer(name)
		f.SetInt(int64(n))
		return err
	case *int:
		n, ok, err := a.integer(name)
		if ok && err == nil {
			f.Set(reflect.ValueOf(&n))
		}
		return err
	case *bool:
		if !a.has(name) {
			return nil
		}
		b, err := a.boolean(name, false)
		if err == nil {
			f.Set(reflect.ValueOf(&b))
		}
		return err
	}
	return errors.New("unsupported parameter type for " + name)
}
