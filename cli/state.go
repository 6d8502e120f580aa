package cli

import (
	"context"

	"github.com/frameflow/frameflow/state"
)

// stateSpec is --state, else $FRAMEFLOW_STATE, else the local directory.
func (a *app) stateSpec() string {
	if a.stateFlag != "" {
		return a.stateFlag
	}
	return a.getenv("FRAMEFLOW_STATE")
}

// openState opens the state backend once per command; Main closes it. The
// DSN's password is registered with the redactor before anything can
// print it.
func (a *app) openState(ctx context.Context) (state.Backend, error) {
	if a.backend != nil {
		return a.backend, nil
	}
	spec := a.stateSpec()
	a.red.Add(state.DSNPassword(spec))
	b, err := state.Open(ctx, spec, state.Options{LocalDir: a.stateDirectory()})
	if err != nil {
		if !state.IsPostgres(spec) && spec != "" && spec != "local" {
			return nil, withCode(ExitInvalid, err)
		}
		return nil, err
	}
	a.backend = b
	return b, nil
}

func (a *app) closeState() {
	if a.backend != nil {
		_ = a.backend.Close()
		a.backend = nil
	}
}

const defaultLockTimeout = state.DefaultLockTimeout
