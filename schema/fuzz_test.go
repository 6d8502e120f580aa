package schema_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, must
// return well-formed, sorted diagnostics, and must stay fast even on alias
// bombs and deep nesting. CI runs it briefly: go test ./schema -fuzz FuzzLoad -fuzztime 30s
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../testdata/workflows/bad/*.yaml", "../testdata/workflows/good/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("version: 1\nname: x\nsteps: [{id: a, uses: task.wait, with: {<<: {task_id: 1}}}]"))
	f.Add([]byte("version: 1\nname: x\nsteps: [{id: a, uses: ./lib.yaml, with: {n: 2}}, {id: b, uses: ./f.yaml}, {id: c, uses: ../x.yml}]"))
	types := testTypes()
	// Called playbooks (uses: ./x.yaml) come from memory, never the disk:
	// one library, anything else does not exist.
	const lib = "version: 1\nname: lib\ninputs:\n  n: {type: integer, default: 1}\nsteps:\n  - id: w\n    uses: task.wait\n    with: {task_id: \"1\", account_id: a}\noutputs:\n  n: ${{ inputs.n }}\n"
	read := func(p string) ([]byte, error) {
		if p == "lib.yaml" {
			return []byte(lib), nil
		}
		return nil, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		wf, diags := schema.Load("f.yaml", data, schema.LoadOptions{StepTypes: types, MaxNodes: 100_000, ReadFile: read})
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Load took %v", d)
		}
		for i, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Col < 1 || (d.Pos.File != "f.yaml" && d.Pos.File != "lib.yaml") || d.Message == "" {
				t.Errorf("malformed diagnostic %q", d)
			}
			if i > 0 && diags[i-1] == d {
				t.Errorf("duplicate diagnostic %q", d)
			}
		}
		if wf != nil && len(diags) == 0 && (wf.Version != 1 || wf.Name == "" || len(wf.Steps) == 0) {
			t.Errorf("a clean load must have version, name and steps: %+v", wf)
		}
	})
}
