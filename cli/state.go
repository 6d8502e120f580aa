package cli

import (
	"context"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
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

// sharedLocks is the run's resource locks shared with other runs.
func (a *app) sharedLocks(runID string) engine.ResourceLocker {
	if a.backend == nil {
		return nil
	}
	return a.backend.Locks(runID, a.lockTimeout)
}

// estate names the API a run mutates, for the journal: runs sharing a
// state backend adopt each other's requests only on the same estate.
func (a *app) estate() string {
	u := a.apiURL
	if u == "" {
		u = a.getenv(frame.EnvAPIURL)
	}
	if u == "" {
		u = frame.DefaultBaseURL
	}
	return strings.TrimRight(u, "/")
}

// appliedPlanDoc names the copy of the plan an apply run executes.
func appliedPlanDoc(runID string) string { return "plans/" + runID + ".json" }

const defaultLockTimeout = state.DefaultLockTimeout
