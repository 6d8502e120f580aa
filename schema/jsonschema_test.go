package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"

	"github.com/frameflow/frameflow/schema"
)

// compileForEditor compiles the printed schema the way an editor would: on
// its own, from the bytes `frameflow schema` prints.
func compileForEditor(t *testing.T, raw []byte) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("frameflow.schema.json", bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("frameflow.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

func yamlToJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON to get the validator's data model.
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJSONSchemaIsValidAndComposed(t *testing.T) {
	raw, err := schema.JSONSchema(testTypes())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}
	s := compileForEditor(t, raw)

	if err := s.Validate(yamlToJSON(t, "../testdata/workflows/good/qa-rollout.yaml")); err != nil {
		t.Errorf("the reference playbook does not validate: %#v", err)
	}
	// The step types' own schemas are composed in: a typo in an input fails.
	err = s.Validate(yamlToJSON(t, "../testdata/workflows/bad/with_inputs.yaml"))
	if err == nil || !strings.Contains(detail(err), "acount_id") {
		t.Errorf("bad with inputs pass the schema: %v", err)
	}

	defs := doc["$defs"].(map[string]any)
	for _, name := range []string{"with.sandbox.clone", "with.accounts.list", "with.elasticity.set"} {
		if _, ok := defs[name]; !ok {
			t.Errorf("$defs lacks %s", name)
		}
	}
	uses := defs["step"].(map[string]any)["properties"].(map[string]any)["uses"].(map[string]any)
	if !strings.Contains(uses["description"].(string), "sandbox.clone: Overwrites") {
		t.Errorf("uses has no hover docs for step types: %v", uses["description"])
	}
	// Every property of the top level and of a step documents itself.
	for _, props := range []any{doc["properties"], defs["step"].(map[string]any)["properties"]} {
		for name, p := range props.(map[string]any) {
			if d, _ := p.(map[string]any)["description"].(string); d == "" {
				t.Errorf("property %s has no description", name)
			}
		}
	}
}

func detail(err error) string {
	if ve, ok := err.(*jsonschema.ValidationError); ok {
		return ve.GoString()
	}
	return err.Error()
}

func TestJSONSchemaIsDeterministic(t *testing.T) {
	types := testTypes()
	a, err := schema.JSONSchema(types)
	if err != nil {
		t.Fatal(err)
	}
	reversed := make([]schema.StepTypeInfo, len(types))
	for i, ty := range types {
		reversed[len(types)-1-i] = ty
	}
	for range 5 {
		b, err := schema.JSONSchema(reversed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("JSONSchema output depends on the order of step types or on map iteration")
		}
	}
	// The caller's schemas are not modified by composition.
	if _, ok := types[0].WithSchema["additionalProperties"]; ok {
		t.Error("JSONSchema modified the caller's with schema")
	}
}

func TestJSONSchemaWithoutStepTypes(t *testing.T) {
	raw, err := schema.JSONSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := compileForEditor(t, raw)
	if err := s.Validate(yamlToJSON(t, "../testdata/workflows/good/qa-rollout.yaml")); err != nil {
		t.Errorf("the reference playbook does not validate: %v", err)
	}
}

func TestJSONSchemaRejectsBadStepTypes(t *testing.T) {
	types := append(testTypes(), testTypes()[0])
	if _, err := schema.JSONSchema(types); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate step type: %v", err)
	}
	bad := []schema.StepTypeInfo{{Name: "x.y", WithSchema: map[string]any{"type": 7}}}
	_, diags := schema.Load("w.yaml", []byte("version: 1\nname: n\nsteps: [{id: a, uses: x.y}]\n"), schema.LoadOptions{StepTypes: bad})
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "does not compile") {
		t.Errorf("a broken registry schema must be reported, got %v", diags)
	}
}
