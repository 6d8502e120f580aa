package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
	"github.com/frameflow/frameflow/steps"
)

// registry builds the step registry. client may be nil (validate, schema,
// steps, offline plans): step types then never touch the API.
func newRegistry(client *frame.Client, poller *steps.Poller) (*engine.Registry, error) {
	return newRegistryWith(steps.Deps{Client: client, Poller: poller})
}

func newRegistryWith(d steps.Deps) (*engine.Registry, error) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, d); err != nil {
		return nil, err
	}
	return reg, nil
}

// loadProgram reads, checks and compiles one workflow file. Every problem is
// returned at once, sorted by position, duplicates removed.
func loadProgram(file string, reg *engine.Registry) (*engine.Program, schema.Diagnostics) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, schema.Diagnostics{{Pos: schema.Pos{File: file, Line: 1, Col: 1}, Message: readError(err)}}
	}
	return compileSource(file, data, reg)
}

func compileSource(file string, data []byte, reg *engine.Registry) (*engine.Program, schema.Diagnostics) {
	wf, diags := schema.Load(file, data, schema.LoadOptions{StepTypes: reg.SchemaInfos()})
	if wf == nil {
		return nil, dedupe(diags)
	}
	prog, cdiags := engine.Compile(wf, reg)
	diags = dedupe(append(diags, cdiags...))
	if len(diags) > 0 {
		return nil, diags
	}
	return prog, nil
}

func readError(err error) string {
	if os.IsNotExist(err) {
		return "no such file"
	}
	return "cannot read: " + err.Error()
}

func dedupe(ds schema.Diagnostics) schema.Diagnostics {
	seen := make(map[string]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		k := d.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// printDiagnostics writes FILE:LINE:COL: message lines, and GitHub Actions
// annotations when running there.
func (a *app) printDiagnostics(w io.Writer, ds schema.Diagnostics) {
	gh := a.getenv("GITHUB_ACTIONS") == "true"
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
		if gh {
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d::%s\n", d.Pos.File, d.Pos.Line, d.Pos.Col, ghEscape(d.Message))
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
