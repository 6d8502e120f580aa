package runner

import (
	"context"
	"errors"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
)

// CheckOffline is what validate knows beyond the file: it binds the inputs
// it can (defaults, and raw/typed values given) and runs the workflow
// offline as run's preflight does, read steps' input checks included,
// turning each refusal of invalid input into a diagnostic at its step,
// with run's message. Required inputs that have no default and were not
// given are checked as unknown and returned in missing: what is computed
// from them was not checked, everything else was. Secret input values are
// registered with secrets first.
func CheckOffline(ctx context.Context, prog *engine.Program, given Inputs, getenv func(string) string, secrets Secrets) (ds schema.Diagnostics, missing []string) {
	wf := prog.Workflow()
	in, missing, err := prog.BindKnownInputs(given.Text, given.Values)
	var be *engine.BindError
	if errors.As(err, &be) {
		for _, p := range be.Problems {
			ds = append(ds, schema.Diagnostic{Pos: inputPos(wf, given, p.Input), Message: p.Message})
		}
		return ds, nil
	}
	if err != nil {
		return schema.Diagnostics{{Pos: wf.Pos, Message: err.Error()}}, nil
	}
	// A required input not given is checked as unknown: what is computed
	// from it is known only after apply and not checked (the steps say
	// so, not as invalid input), and everything else still is (a literal
	// a called playbook refuses, a bound from the catalog).
	if secrets != nil {
		secrets.Add(prog.SecretValues(in)...)
	}
	for _, name := range missing {
		in[name] = engine.Unknown
	}
	isInvalid := func(err error) bool { c, _ := Classify(err); return c == string(frame.ClassInvalid) }
	for _, p := range prog.CheckOffline(ctx, in, getenv, isInvalid) {
		ds = append(ds, schema.Diagnostic{Pos: p.Pos, Message: p.String()})
	}
	return ds, missing
}

// inputPos is where a problem with input name is shown: its value in the
// inputs file, else its declaration, else the workflow.
func inputPos(wf *schema.Workflow, given Inputs, name string) schema.Pos {
	if p, ok := given.filePos(name); ok {
		return p
	}
	for _, in := range wf.Inputs {
		if in.Name == name {
			return in.Pos
		}
	}
	return wf.Pos
}
