package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/workflows"
)

// Library playbooks (lib/*.yaml, docs/composition.md) are run through the
// playbooks that call them, so they have no case of their own in the
// playbooks table; here each must validate on its own, be called by at
// least one playbook, and be embedded with them.
func TestLibraryPlaybooks(t *testing.T) {
	libs, err := filepath.Glob("lib/*.yaml")
	if err != nil || len(libs) == 0 {
		t.Fatalf("no library playbooks in workflows/lib: %v", err)
	}
	if r := frameflow(t, nil, append([]string{"validate"}, libs...)...); r.code != 0 {
		t.Fatalf("validate %v:\n%s", libs, r)
	}
	var callers []string
	for _, f := range yamlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, string(b))
	}
	for _, lib := range libs {
		called := false
		for _, src := range callers {
			called = called || strings.Contains(src, "uses: ./"+filepath.ToSlash(lib))
		}
		if !called {
			t.Errorf("%s is called by no playbook in workflows/", lib)
		}
		if _, err := workflows.FS.ReadFile(filepath.ToSlash(lib)); err != nil {
			t.Errorf("%s is not embedded (workflows.FS): %v", lib, err)
		}
	}
}
