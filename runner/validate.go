package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
)

// CheckOffline is what validate knows beyond the file: it binds the inputs
// it can (defaults, and raw/typed values given) and runs the workflow
// offline as run's preflight does, read steps' input checks included,
// turning each refusal of invalid input into a diagnostic at its step,
// with run's message. Required inputs that have no default and were not
// given are returned in missing: the steps that read them were not
// checked. Secret input values are registered with secrets first.
func CheckOffline(ctx context.Context, prog *engine.Program, raw map[string]string, typed map[string]any, getenv func(string) string, secrets Secrets) (ds schema.Diagnostics, missing []string) {
	wf := prog.Workflow()
	in, missing, err := prog.BindKnownInputs(raw, typed)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			ds = append(ds, schema.Diagnostic{Pos: inputPos(wf, line), Message: line})
		}
		return ds, nil
	}
	if len(missing) > 0 {
		return nil, missing
	}
	if secrets != nil {
		secrets.Add(prog.SecretValues(in)...)
	}
	isInvalid := func(err error) bool { c, _ := Classify(err); return c == string(frame.ClassInvalid) }
	for _, p := range prog.CheckOffline(ctx, in, getenv, isInvalid) {
		ds = append(ds, schema.Diagnostic{Pos: p.Pos, Message: p.String()})
	}
	return ds, nil
}

// inputPos is the position of the input a BindInputs message names.
func inputPos(wf *schema.Workflow, msg string) schema.Pos {
	for _, in := range wf.Inputs {
		if strings.Contains(msg, fmt.Sprintf("%q", in.Name)) {
			return in.Pos
		}
	}
	return wf.Pos
}
