package schema_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/schema"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

func readFrom(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
}

const calleeYAML = "version: 1\nname: lib\ninputs:\n  n: {type: integer, default: 1}\nsteps:\n  - id: x\n    uses: t.ok\noutputs:\n  n: ${{ inputs.n }}\n"

func TestLoadResolvesCallsOnceAndHashesThem(t *testing.T) {
	types := []schema.StepTypeInfo{{Name: "t.ok"}}
	files := map[string]string{
		"dir/lib/x.yaml": calleeYAML,
	}
	main := "version: 1\nname: main\nsteps:\n  - id: a\n    uses: ./lib/x.yaml\n  - id: b\n    uses: ./lib/x.yaml\n    with: {n: 2}\n"
	wf, diags := schema.Load("dir/main.yaml", []byte(main), schema.LoadOptions{StepTypes: types, ReadFile: readFrom(files)})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	a, b := wf.Steps[0].Callee, wf.Steps[1].Callee
	if a == nil || a != b || a.File != "dir/lib/x.yaml" || a.OutputsOrder[0] != "n" {
		t.Fatalf("callees %+v %+v: want one load of dir/lib/x.yaml", a, b)
	}
	if wf.Hash == wf.SourceHash {
		t.Errorf("the hash of a calling workflow must cover its callees")
	}
	files["dir/lib/x.yaml"] = strings.Replace(calleeYAML, "default: 1", "default: 3", 1)
	wf2, _ := schema.Load("dir/main.yaml", []byte(main), schema.LoadOptions{StepTypes: types, ReadFile: readFrom(files)})
	if wf2.SourceHash != wf.SourceHash || wf2.Hash == wf.Hash {
		t.Errorf("changing only the called file must change Hash, not SourceHash")
	}
}

func TestUsesPathHints(t *testing.T) {
	types := []schema.StepTypeInfo{{Name: "t.ok"}}
	main := "version: 1\nname: main\nsteps:\n  - id: a\n    uses: lib/x.yaml\n"
	_, diags := schema.Load("main.yaml", []byte(main), schema.LoadOptions{StepTypes: types, ReadFile: readFrom(nil)})
	if got := diags.Error(); !strings.Contains(got, `main.yaml:5:11: step "a": unknown step type "lib/x.yaml"; to run another playbook, write its path starting with ./ or ../ (relative to this file): ./lib/x.yaml`) {
		t.Errorf("got %s", got)
	}
}

// Editors: the published schema accepts a step type or a ./ or ../ path
// to a .yaml file in uses, and nothing else.
func TestJSONSchemaAcceptsPlaybookPaths(t *testing.T) {
	raw, err := schema.JSONSchema([]schema.StepTypeInfo{{Name: "t.ok"}})
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	for uses, ok := range map[string]bool{"t.ok": true, "./lib/x.yaml": true, "../shared/y.yml": true, "lib/x.yaml": false, "./x.json": false, "t.nope": false} {
		doc := map[string]any{"version": 1, "name": "n", "steps": []any{map[string]any{"id": "a", "uses": uses}}}
		if err := s.Validate(doc); (err == nil) != ok {
			t.Errorf("uses %q: valid=%v, want %v (%v)", uses, err == nil, ok, err)
		}
	}
}

// With a playbook described (PlaybookInfo), editors check a call's with:
// against its declared inputs, as they do a step type's.
func TestJSONSchemaChecksACallsInputs(t *testing.T) {
	lib, diags := schema.Load("lib/x.yaml", []byte(calleeYAML+"description: x\n"), schema.LoadOptions{StepTypes: []schema.StepTypeInfo{{Name: "t.ok"}}})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	lib.Inputs = append(lib.Inputs, &schema.Input{Name: "who", Type: "string", Required: true})
	raw, err := schema.JSONSchema([]schema.StepTypeInfo{{Name: "t.ok"}, schema.PlaybookInfo("./lib/x.yaml", lib)})
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		with map[string]any
		ok   bool
	}{
		{map[string]any{"who": "a", "n": 2}, true},
		{map[string]any{"who": "a", "n": "${{ inputs.count }}"}, true},
		{map[string]any{"who": "a", "n": "two"}, false},
		{map[string]any{"who": "a", "m": 2}, false},
		{map[string]any{"n": 2}, false},
	} {
		doc := map[string]any{"version": 1, "name": "n", "steps": []any{map[string]any{"id": "a", "uses": "./lib/x.yaml", "with": tc.with}}}
		if err := s.Validate(doc); (err == nil) != tc.ok {
			t.Errorf("with %v: valid=%v, want %v (%v)", tc.with, err == nil, tc.ok, err)
		}
	}
}
