package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/runner"
	"github.com/frameflow/frameflow/schema"
)

// newRegistry builds the step registry without an API client (validate,
// graph, schema, steps): step types then never touch the API.
func newRegistry() (*engine.Registry, error) { return runner.NewRegistry(nil, nil) }

// loadProgram reads, checks and compiles one workflow file.
func loadProgram(file string, reg *engine.Registry) (*engine.Program, schema.Diagnostics) {
	return runner.Load(file, reg)
}

// printDiagnostics writes FILE:LINE:COL: message lines, and GitHub Actions
// annotations when running there.
func (a *app) printDiagnostics(w io.Writer, ds schema.Diagnostics) {
	gh := a.getenv("GITHUB_ACTIONS") == "true"
	for _, d := range ds {
		fmt.Fprintln(w, termtext.Line(d.String()))
		if gh {
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d::%s\n", d.Pos.File, d.Pos.Line, d.Pos.Col, ghEscape(termtext.Line(d.Message)))
		}
	}
}

// ghEscape escapes a workflow-command message as GitHub documents.
func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func invalidWorkflow(n int) error {
	if n == 1 {
		return withCode(ExitInvalid, fmt.Errorf("1 problem found; nothing was sent"))
	}
	return withCode(ExitInvalid, fmt.Errorf("%d problems found; nothing was sent", n))
}
