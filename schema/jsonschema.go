package schema

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The base schema describes everything but the step types, which arrive as
// data from the engine's registry and are composed in by JSONSchema.
//
//go:embed workflow.schema.json
var baseSchemaJSON []byte

const schemaURL = "https://frameflow.dev/schema/workflow-v1.json"

// JSONSchema returns the complete JSON Schema (draft 2020-12) of workflow
// files: the base schema with each step type's `with` schema composed in (if
// uses is X then with must match X's schema), `uses` limited to the known
// step types, and descriptions for editor hover docs. The output is
// deterministic for a given set of step types, in any order.
//
// types may also describe playbooks (PlaybookInfo, named by the ./path
// callers write): editors then complete those paths in uses, and their
// inputs in with.
func JSONSchema(types []StepTypeInfo) ([]byte, error) {
	doc, err := composeSchema(types, nil)
	if err != nil {
		return nil, err
	}
	return encodeSchema(doc)
}

func encodeSchema(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil { // map keys are sorted: deterministic
		return nil, err
	}
	return buf.Bytes(), nil
}

// composeSchema composes the base schema with the step types. When used is
// not nil, only the `with` schemas of the types in it are composed in; the
// others are still listed for `uses`. A document is validated against the
// types it names alone: they are what its `with` blocks are checked
// against, and compiling all of them (over a hundred, most with several
// properties) would cost a CLI invocation most of its start-up.
func composeSchema(types []StepTypeInfo, used map[string]bool) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(baseSchemaJSON, &doc); err != nil {
		return nil, fmt.Errorf("embedded workflow schema: %w", err)
	}
	if len(types) == 0 {
		return doc, nil
	}
	sorted := append([]StepTypeInfo(nil), types...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })

	defs := doc["$defs"].(map[string]any)
	step := defs["step"].(map[string]any)
	props := step["properties"].(map[string]any)
	var names []any
	var allOf []any
	seen := map[string]bool{}
	for _, t := range sorted {
		if t.Name == "" {
			return nil, fmt.Errorf("step type with an empty name")
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("step type %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		names = append(names, t.Name)
		if used != nil && !used[t.Name] {
			continue
		}
		rule, err := withRule(t, defs)
		if err != nil {
			return nil, err
		}
		allOf = append(allOf, rule)
	}
	uses := props["uses"].(map[string]any)
	uses["enum"] = names
	if used != nil {
		// A called playbook (uses: ./x.yaml) is no step type: the paths
		// this document names pass here, and the loader checks them (a
		// .json file, a missing file) with a message of its own.
		var paths []string
		for u := range used {
			if IsPlaybookPath(u) {
				paths = append(paths, u)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			uses["enum"] = append(uses["enum"].([]any), p)
		}
		// Validation reads no descriptions; the full text is for editors.
		if len(allOf) > 0 { // an empty allOf is not a valid schema
			step["allOf"] = allOf
		}
		return doc, nil
	}
	describeUsesForEditors(uses, sorted, names)
	step["allOf"] = allOf
	return doc, nil
}

// withRule defines the with: mapping of step type t under defs and returns
// the rule that applies it to steps with uses: t.
func withRule(t StepTypeInfo, defs map[string]any) (map[string]any, error) {
	with, err := prepareWith(t)
	if err != nil {
		return nil, err
	}
	def := "with." + t.Name
	defs[def] = with
	return map[string]any{
		"if": map[string]any{
			"required":   []any{"uses"},
			"properties": map[string]any{"uses": map[string]any{"const": t.Name}},
		},
		"then": map[string]any{
			"properties": map[string]any{"with": map[string]any{"$ref": "#/$defs/" + escapePointer(def)}},
		},
	}, nil
}

// describeUsesForEditors lists each step type with its description under
// uses:, which accepts a step type's name or a playbook path.
func describeUsesForEditors(uses map[string]any, sorted []StepTypeInfo, names []any) {
	var desc strings.Builder
	desc.WriteString(uses["description"].(string))
	for _, t := range sorted {
		if t.Description != "" {
			fmt.Fprintf(&desc, "\n- %s: %s", t.Name, t.Description)
		}
	}
	uses["description"] = desc.String()
	delete(uses, "enum")
	uses["anyOf"] = []any{map[string]any{"enum": names}, map[string]any{"$ref": "#/$defs/playbook_path"}}
}

// prepareWith copies a step type's `with` schema and makes two promises of
// the format hold whatever the registry wrote: unknown inputs are errors, and
// every typed input also accepts a string that is exactly one ${{ }}
// expression (its type is checked by the engine instead).
func prepareWith(t StepTypeInfo) (map[string]any, error) {
	var s map[string]any
	if t.WithSchema == nil {
		s = map[string]any{"type": "object"}
	} else {
		raw, err := json.Marshal(t.WithSchema)
		if err != nil {
			return nil, fmt.Errorf("step type %q: with schema: %w", t.Name, err)
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("step type %q: with schema: %w", t.Name, err)
		}
	}
	// Composed into one document: an own $id would re-base our $refs.
	delete(s, "$id")
	delete(s, "$schema")
	if _, ok := s["description"]; !ok && t.Description != "" {
		s["description"] = t.Description
	}
	props, _ := s["properties"].(map[string]any)
	_, ap := s["additionalProperties"]
	_, pp := s["patternProperties"]
	_, up := s["unevaluatedProperties"]
	if props != nil && !ap && !pp && !up {
		s["additionalProperties"] = false
	}
	for name, p := range props {
		ps, ok := p.(map[string]any)
		if !ok || acceptsExpression(ps) {
			continue
		}
		w := map[string]any{"anyOf": []any{ps, map[string]any{"$ref": "#/$defs/expression"}}}
		if d, ok := ps["description"]; ok {
			w["description"] = d
		}
		props[name] = w
	}
	return s, nil
}

// acceptsExpression reports whether a property schema already accepts any
// string (and so a ${{ }} expression), or composes alternatives itself.
func acceptsExpression(p map[string]any) bool {
	if _, ok := p["anyOf"]; ok {
		return true
	}
	if _, ok := p["oneOf"]; ok {
		return true
	}
	for _, k := range []string{"enum", "const", "pattern", "format", "maxLength", "minLength", "not", "$ref", "allOf"} {
		if _, ok := p[k]; ok {
			return false
		}
	}
	switch t := p["type"].(type) {
	case nil:
		return true
	case string:
		return t == "string"
	case []any:
		for _, e := range t {
			if e == "string" {
				return true
			}
		}
	}
	return false
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// compiled is a composed schema, compiled once per distinct set of step types.
type compiled struct {
	schema *jsonschema.Schema
	doc    map[string]any // the same schema as plain data, to read keywords back
	err    error
}

var (
	compiledMu    sync.Mutex
	compiledCache = map[[32]byte]*compiled{}
)

// compiledSchema compiles the schema that validates documents naming the
// step types in used (see composeSchema).
func compiledSchema(types []StepTypeInfo, used map[string]bool) *compiled {
	if used == nil {
		used = map[string]bool{}
	}
	doc, err := composeSchema(types, used)
	if err != nil {
		return &compiled{err: err}
	}
	raw, err := encodeSchema(doc)
	if err != nil {
		return &compiled{err: err}
	}
	key := sha256.Sum256(raw)
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if c, ok := compiledCache[key]; ok {
		return c
	}
	c := &compiled{}
	if err := json.Unmarshal(raw, &c.doc); err != nil {
		c.err = err
	} else {
		comp := jsonschema.NewCompiler()
		comp.Draft = jsonschema.Draft2020
		if err := comp.AddResource(schemaURL, bytes.NewReader(raw)); err != nil {
			c.err = err
		} else {
			c.schema, c.err = comp.Compile(schemaURL)
		}
	}
	if len(compiledCache) > 16 { // a long-lived process with changing registries
		clear(compiledCache)
	}
	compiledCache[key] = c
	return c
}

// validateSchema validates the tree against the composed schema and maps
// every error back to a YAML position with a human message.
func validateSchema(file string, root *tnode, types []StepTypeInfo) Diagnostics {
	inst := root.json()
	fillWith(inst)
	c := compiledSchema(types, usedTypes(inst))
	if c.err != nil {
		return Diagnostics{{Pos: root.pos, Message: fmt.Sprintf("internal error: the workflow schema does not compile: %v", c.err)}}
	}
	err := c.schema.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return Diagnostics{{Pos: root.pos, Message: fmt.Sprintf("cannot validate the workflow: %v", err)}}
	}
	m := &mapper{file: file, root: root, doc: c.doc, inst: inst, types: map[string]StepTypeInfo{}}
	for _, t := range types {
		m.types[t.Name] = t
	}
	m.walk(ve)
	return m.out
}

// usedTypes collects every string under a "uses" key anywhere in the
// document: a superset of the step types its steps name, wherever the
// schema finds steps. A type too many costs only its compile.
func usedTypes(inst any) map[string]bool {
	used := map[string]bool{}
	// The loader has already refused documents deeper than its limit.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["uses"].(string); ok {
				used[s] = true
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(inst)
	return used
}

// fillWith gives every step that names a step type a `with` mapping, so that
// the step type's required inputs are checked when `with` is absent or empty.
func fillWith(inst any) {
	top, ok := inst.(map[string]any)
	if !ok {
		return
	}
	var walk func(steps any)
	walk = func(steps any) {
		list, _ := steps.([]any)
		for _, s := range list {
			st, ok := s.(map[string]any)
			if !ok {
				continue
			}
			if _, ok := st["uses"]; ok {
				if w, present := st["with"]; !present || w == nil {
					st["with"] = map[string]any{}
				}
			}
			walk(st["steps"])
		}
	}
	walk(top["steps"])
}
