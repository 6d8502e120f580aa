package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine knows no concrete step and no API: steps register into it,
// the CLI wires them. This keeps the arrows pointing one way.
func TestEngineImportsNoStepsOrAPI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/frameflow/frameflow/engine", "github.com/frameflow/frameflow/engine/expr").Output()
	if err != nil {
		t.Skip("go list failed:", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"/frameflow/steps", "/frameflow/frame", "/frameflow/cli"} {
			if strings.HasPrefix(dep, "github.com/frameflow"+banned) {
				t.Errorf("engine depends on %s", dep)
			}
		}
	}
}
