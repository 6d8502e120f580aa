package cli_test

import (
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

var update = flag.Bool("update", false, "rewrite generated files (docs/workflow.schema.json)")

// docs/workflow.schema.json is what editors load (the yaml-language-server
// line at the top of each playbook points at it). It must be exactly what
// `frameflow schema --playbooks workflows` prints, so a new step type, or
// a playbook's inputs (uses: ./lib/rollout-account.yaml), cannot be
// missing from it.
func TestSchemaFileUpToDate(t *testing.T) {
	r := frameflow(t, nil, "schema", "--playbooks", "../workflows")
	if r.code != 0 {
		t.Fatalf("schema: %s", r)
	}
	if !json.Valid([]byte(r.out)) {
		t.Fatal("frameflow schema printed invalid JSON")
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("workflow.schema.json", stringsReader(r.out)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("workflow.schema.json"); err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	const file = "../docs/workflow.schema.json"
	if *update {
		if err := os.WriteFile(file, []byte(r.out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil || string(b) != r.out {
		t.Fatalf("%s is out of date: run go test ./cli -run TestSchemaFileUpToDate -update", file)
	}
}
