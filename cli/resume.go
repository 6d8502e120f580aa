package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

func (a *app) resumeCmd() *cobra.Command {
	var f runFlags
	var o resumeFlags
	cmd := &cobra.Command{
		Use:   "resume [RUN_ID | --last]",
		Short: "Continue a crashed, interrupted or failed run without repeating what was done",
		Long: `Continue a run from its journal: finished steps are not run again (their
outputs are restored), mutations whose result was recorded are not re-sent,
and a mutation whose outcome is unknown is reconciled through a read before
anything is re-sent. Failed steps run again.

A mutation whose outcome is unknown (an answer lost with no read that
proves it, or a clone proven sent but not proven finished) stops the run
until you decide, after checking in Frame: --mark KEY=sent if it took
effect and finished (the step carries on without sending or waiting),
--mark KEY=not-sent if it did not (it is sent again). The failed run names
each KEY. Your decision is journaled with user@host and the time.

` + exitCodesHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == o.last {
				return usageErr("usage: frameflow resume RUN_ID | --last")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if !o.last {
				id = args[0]
			}
			return a.runResume(cmd, id, f, o)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputFlags, "input", nil, "name=value: secret inputs, which journals do not store")
	fl.BoolVar(&o.last, "last", false, "resume the most recent run")
	fl.BoolVar(&o.force, "force", false, "resume even though the workflow file changed")
	fl.BoolVar(&o.assumeNotSent, "assume-not-sent", false, "treat mutations whose outcome cannot be proven as not sent (you checked); never applies to one proven sent")
	fl.StringArrayVar(&o.approveSteps, "approve", nil, "STEP: approve this approval step (STEP[item] inside a fan-out) before resuming; repeatable")
	fl.StringArrayVar(&o.marks, "mark", nil, "KEY=sent|not-sent: your decision on a mutation whose outcome is unknown (the failed run names each KEY); repeatable")
	return cmd
}

// resumeFlags are resume's options besides the run flags.
type resumeFlags struct {
	last, force, assumeNotSent bool
	marks, approveSteps        []string
}

// runResume continues run id (or the last run) after checking the inputs,
// the operator's decisions and the approvals, in that order: a refused
// resume journals nothing.
func (a *app) runResume(cmd *cobra.Command, id string, f runFlags, o resumeFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	given, err := parseInputFlags(f.inputFlags)
	if err != nil {
		return err
	}
	decisions, err := parseMarks(o.marks)
	if err != nil {
		return err
	}
	r, err := a.service().Resume(runner.ResumeRequest{RunID: id, Last: o.last, Inputs: runner.Inputs{Text: given}, Force: o.force, AssumeNotSent: o.assumeNotSent, Parallelism: f.parallelism})
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
	approved, err := a.approveResume(cmd.Context(), r, f)
	if err != nil {
		return err
	}
	if err := a.recordResumeDecisions(r, decisions, o.approveSteps); err != nil {
		return err
	}
	view := a.newRunView(f.output)
	out, err := r.Run(cmd.Context(), runner.RunOptions{Events: view.Event, Approved: approved, Ask: a.approvalAsker(view)})
	view.Close()
	return a.finishRun(r.Workflow, out, err, f)
}

// recordResumeDecisions journals the operator's --mark decisions and
// --approve approvals, once everything else was accepted.
func (a *app) recordResumeDecisions(r *runner.Resumption, decisions []runner.Decision, approveSteps []string) error {
	if len(decisions) > 0 {
		by := runner.OperatorName()
		if err := r.Mark(decisions, by); err != nil {
			return a.appErr(err)
		}
		for _, d := range decisions {
			fmt.Fprintf(a.red.Writer(a.streams.Err), "Marked %s as %s (by %s).\n", d.Key, strings.ReplaceAll(d.Decision, "_", "-"), by)
		}
	}
	for _, step := range approveSteps {
		d, err := a.service().Approve(runner.ApproveRequest{RunID: r.RunID(), Step: step})
		if err != nil {
			return withCode(ExitFailed, err)
		}
		fmt.Fprintf(a.red.Writer(a.streams.Err), "Approved %s (by %s).\n", step, d.By)
	}
	return nil
}

// parseMarks reads every --mark at once, reporting all bad ones together.
func parseMarks(marks []string) ([]runner.Decision, error) {
	var out []runner.Decision
	var bad []string
	seen := map[string]bool{}
	for _, m := range marks {
		d, err := runner.ParseMark(m)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case seen[d.Key]:
			bad = append(bad, fmt.Sprintf("--mark %q: %s is marked twice", m, d.Key))
		default:
			seen[d.Key] = true
			out = append(out, d)
		}
	}
	if len(bad) > 0 {
		return nil, usageErr("%s", strings.Join(bad, "\n"))
	}
	return out, nil
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
	// Undecided: mutations whose outcome is unknown, waiting for
	// `frameflow resume RUN --mark KEY=sent|not-sent`.
	Undecided []undecidedJSON `json:"undecided,omitempty"`
	// Waiting: approval steps waiting for `frameflow approve` (or that
	// were when the run crashed: approve, then resume).
	Waiting []waitingJSON `json:"waiting,omitempty"`
}

type waitingJSON struct {
	Step     string    `json:"step"` // the key frameflow approve takes
	Message  string    `json:"message,omitempty"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"timeout_at"`
	Approve  string    `json:"approve"` // the command that approves it
	// Approvers are who may decide (the step's approvers); none: anyone
	// who can reach the run.
	Approvers []string `json:"approvers,omitempty"`
}

type undecidedJSON struct {
	Key        string `json:"key"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	ProvenSent bool   `json:"proven_sent,omitempty"`
	Evidence   string `json:"evidence,omitempty"`
}

type attemptJSON struct {
	N        int        `json:"n"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Status   string     `json:"status"`
	PID      int        `json:"pid,omitempty"`
	Host     string     `json:"host,omitempty"`
	User     string     `json:"user,omitempty"`
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
			j.Attempts = append(j.Attempts, attemptJSON{N: at.N, Started: at.Started, Finished: optTime(at.Finished), Status: at.Status, PID: at.PID, Host: at.Host, User: at.User})
		}
		for _, w := range r.Waiting {
			j.Waiting = append(j.Waiting, waitingJSON{Step: w.Key, Message: w.Message, Since: w.Since, Deadline: w.Deadline, Approve: runner.ApproveCommand(r.ID, w.Key), Approvers: w.Approvers})
		}
		out = append(out, j)
	}
	return out
}
