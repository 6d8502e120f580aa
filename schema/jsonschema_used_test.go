package schema_test

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/schema"
)

// A document is validated against the `with` schemas of the step types it
// names, wherever they are named (here inside a group), and a type it does
// not name plays no part.
func TestValidationUsesTheStepTypesTheDocumentNames(t *testing.T) {
	types := append(testTypes(), schema.StepTypeInfo{Name: "broken.type", WithSchema: map[string]any{"type": 7}})
	src := `version: 1
name: n
steps:
  - id: each
    for_each: [a, b]
    steps:
      - id: clone
        uses: sandbox.clone
        with:
          target_acount_id: x
`
	_, diags := schema.Load("w.yaml", []byte(src), schema.LoadOptions{StepTypes: types})
	if len(diags) == 0 {
		t.Fatal("an unknown input inside a group must be reported")
	}
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.String())
		if strings.Contains(d.Message, "does not compile") {
			t.Errorf("a type the document does not name was compiled: %v", d)
		}
	}
	if all := strings.Join(msgs, "\n"); !strings.Contains(all, "target_acount_id") || !strings.Contains(all, "w.yaml:10:11") {
		t.Errorf("want the misspelt input reported at its key, got:\n%s", all)
	}

	good := strings.Replace(src, "target_acount_id", "target_account_id", 1)
	if _, diags := schema.Load("w.yaml", []byte(good), schema.LoadOptions{StepTypes: types}); len(diags) > 0 {
		t.Errorf("valid document: %v", diags)
	}
}
