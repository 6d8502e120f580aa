package expr

import (
	"strings"
	"testing"
)

// A list that came back empty (the source account does not exist) makes an
// index fail at run time; the message names the empty list, not only the
// index.
func TestIndexIntoAnEmptyListSaysWhichListIsEmpty(t *testing.T) {
	tp, errs := CompileTemplate("${{ steps.targets.outputs.accounts[0].id }}", env())
	if errs != nil {
		t.Fatal(errs)
	}
	vals := map[string]any{"steps": map[string]any{"targets": map[string]any{"outputs": map[string]any{"accounts": []any{}}}}}
	_, err := tp.Eval(vals)
	if err == nil {
		t.Fatal("no error")
	}
	want := `evaluating "steps.targets.outputs.accounts[0].id": index out of range: 0 (array length is 0); steps.targets.outputs.accounts is an empty list`
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("got %q, want it to contain %q", err, want)
	}
}
