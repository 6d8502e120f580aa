package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

func (a *app) resumeCmd() *cobra.Command {
	var f runFlags
	var last, force, assumeNotSent bool
	cmd := &cobra.Command{
		Use:   "resume [RUN_ID | --last]",
		Short: "Continue a crashed, interrupted or failed run without repeating what was done",
		Long: `Continue a run from its journal: finished steps are not run again (their
outputs are restored), mutations whose result was recorded are not re-sent,
and a mutation whose outcome is unknown is reconciled through a read before
anything is re-sent. Failed steps run again.

` + exitCodesHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == last {
				return usageErr("usage: frameflow resume RUN_ID | --last")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			given, err := parseInputFlags(f.inputFlags)
			if err != nil {
				return err
			}
			id := ""
			if !last {
				id = args[0]
			}
			r, err := a.service().Resume(runner.ResumeRequest{RunID: id, Last: last, Inputs: runner.Inputs{Text: given}, Force: force, AssumeNotSent: assumeNotSent, Parallelism: f.parallelism})
			var done *runner.AlreadySucceededError
			if errors.As(err, &done) {
				fmt.Fprintf(a.red.Writer(a.streams.Out), "Run %s already succeeded; nothing to resume.\n", done.RunID)
				return nil
			}
			if err != nil {
				return a.appErr(err)
			}
			defer r.Close()
			if f.output != "json" { // stdout is JSON Lines only with --output json
				fmt.Fprintf(a.red.Writer(a.streams.Out), "Resuming run %s (attempt %d) of %s\n", r.RunID(), r.Attempt(), r.Meta().File)
			}
			if err := r.Preflight(cmd.Context()); err != nil {
				return a.appErr(err)
			}
			approved, err := a.approve(cmd.Context(), r.Workflow, f)
			if err != nil {
				return err
			}
			view := a.newRunView(f.output)
			out, err := r.Run(cmd.Context(), runner.RunOptions{Events: view.Event, Approved: approved})
			view.Close()
			return a.finishRun(r.Workflow, out, err, f)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputFlags, "input", nil, "name=value: secret inputs, which journals do not store")
	fl.BoolVar(&last, "last", false, "resume the most recent run")
	fl.BoolVar(&force, "force", false, "resume even though the workflow file changed")
	fl.BoolVar(&assumeNotSent, "assume-not-sent", false, "treat mutations whose outcome cannot be proven as not sent (you checked)")
	return cmd
}

// runJSON is the documented shape of `frameflow runs --format json`.
type runJSON struct {
	ID       string        `json:"id"`
	Workflow string        `json:"workflow"`
	File     string        `json:"file"`
	Started  time.Time     `json:"started"`
	Finished *time.Time    `json:"finished,omitempty"`
	Status   string        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Attempts []attemptJSON `json:"attempts"`
}

type attemptJSON struct {
	N        int        `json:"n"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Status   string     `json:"status"`
	PID      int        `json:"pid,omitempty"`
	Host     string     `json:"host,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func runsJSON(runs []journal.RunSummary) []runJSON {
	out := make([]runJSON, 0, len(runs))
	for _, r := range runs {
		j := runJSON{ID: r.ID, Workflow: r.Workflow, File: r.File, Started: r.Started, Finished: optTime(r.Finished), Status: r.Status, Error: r.Error, Attempts: []attemptJSON{}}
		for _, at := range r.Attempts {
			j.Attempts = append(j.Attempts, attemptJSON{N: at.N, Started: at.Started, Finished: optTime(at.Finished), Status: at.Status, PID: at.PID, Host: at.Host})
		}
		out = append(out, j)
	}
	return out
}
