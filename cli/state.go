package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/frameflow/frameflow/state"
	"github.com/spf13/cobra"
)

// stateSpec is --state, else $FRAMEFLOW_STATE, else the local directory.
func (a *app) stateSpec() string {
	if a.stateFlag != "" {
		return a.stateFlag
	}
	return a.getenv("FRAMEFLOW_STATE")
}

// commandsWithoutState never open the state backend: a bad
// $FRAMEFLOW_STATE left in the environment must not stop them, though a
// bad --state typed on their command line still does.
var commandsWithoutState = map[string]bool{
	"validate": true, "graph": true, "schema": true, "steps": true, "api": true,
	"sim": true, "demo": true, "version": true, "help": true, "completion": true,
}

// checkStateSpec rejects a --state (or $FRAMEFLOW_STATE) that names no
// backend before anything is read or sent, in one error that says what
// was given and which forms are accepted.
func (a *app) checkStateSpec(cmd *cobra.Command) error {
	spec, from := a.stateFlag, "--state"
	if spec == "" {
		top := cmd
		for top.HasParent() && top.Parent().HasParent() {
			top = top.Parent()
		}
		if commandsWithoutState[top.Name()] {
			return nil
		}
		spec, from = a.getenv("FRAMEFLOW_STATE"), "$FRAMEFLOW_STATE"
	}
	if err := validStateSpec(spec); err != nil {
		return usageErr("%s %q: %v; accepted: \"local\" (the state directory, --state-dir) "+
			"or a PostgreSQL URL such as postgres://USER@HOST:5432/DB (docs/state.md)", from, state.RedactDSN(spec), err)
	}
	return nil
}

// validStateSpec says why spec is no state backend, nil when it is one.
func validStateSpec(spec string) error {
	switch {
	case spec == "" || spec == "local":
		return nil
	case state.IsPostgres(spec):
		// The parser's own error would quote the DSN, password and all.
		if _, err := url.Parse(spec); err != nil {
			return fmt.Errorf("not a valid URL")
		}
		return nil
	default:
		return fmt.Errorf("not a state backend")
	}
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
