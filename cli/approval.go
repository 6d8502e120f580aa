package cli

import (
	"context"
	"fmt"
	"github.com/frameflow/frameflow/internal/termtext"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

func (a *app) approveCmd() *cobra.Command {
	var reject bool
	var by, comment string
	cmd := &cobra.Command{
		Use:   "approve RUN_ID STEP",
		Short: "Approve (or --reject) an approval step of a run, waiting or not yet reached",
		Long: `Record a decision on an approval step of a run. A run waiting on the step
goes on within a second; a run that is not running (crashed, interrupted,
timed out) finds the decision when it is resumed. Inside a fan-out, name
the item as the waiting run shows it: STEP[item]. A decision is final and
is kept with who made it (--by, else user@host) and when; the step's
outputs approved_by and approved_at carry it.

` + exitCodesHelp,
		Args: exactArgs(2, "RUN_ID STEP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.service().Approve(runner.ApproveRequest{RunID: args[0], Step: args[1], Reject: reject, By: by, Comment: comment})
			if err != nil {
				return withCode(ExitFailed, err)
			}
			verb := "Approved"
			if !d.Approved {
				verb = "Rejected"
			}
			fmt.Fprintf(a.red.Writer(a.streams.Out), "%s %s of run %s (by %s).\n", verb, args[1], args[0], d.By)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&reject, "reject", false, "reject: the step fails")
	fl.StringVar(&by, "by", "", "who decides (default user@host)")
	fl.StringVar(&comment, "comment", "", "a note kept with the decision")
	return cmd
}

// approvalAsker asks at the terminal when an approval step starts waiting;
// nil when stdin is not a terminal (CI: `frameflow approve` decides). One
// question at a time; an answer other than yes or no asks again.
func (a *app) approvalAsker(view runView) runner.ApprovalAsker {
	if !a.streams.InTTY || a.streams.In == nil {
		return nil
	}
	var mu sync.Mutex
	return func(ctx context.Context, p runner.ApprovalPrompt) *engine.ApprovalDecision {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		w := a.red.Writer(a.streams.Err)
		// The message may hold values read from the API: one clean line.
		msg := termtext.Line(p.Message)
		if msg == "" {
			msg = "go on?"
		}
		if p.NotAnApprover {
			say := fmt.Sprintf("Approval %s (run %s): %s\n  You (%s) are not among its approvers (%s): it waits for one of them (the page, or %s).",
				p.Key, p.RunID, msg, runner.OperatorName(), termtext.Line(strings.Join(p.Approvers, ", ")), termtext.Line(runner.ApproveCommand(p.RunID, p.Key)))
			if live, ok := view.(interface{ Say(string) }); ok {
				live.Say(a.red.String(say))
			} else {
				fmt.Fprintln(w, "\n"+say)
			}
			return nil
		}
		ask := func() {
			fmt.Fprintf(w, "\nApproval %s (run %s): %s\n  Type yes to approve, no to reject: ", p.Key, p.RunID, msg)
		}
		if live, ok := view.(interface{ Say(string) }); ok {
			// The live view redraws its frame many times a second: the
			// question goes above it, where it stays visible.
			ask = func() {
				live.Say(a.red.String(fmt.Sprintf("Approval %s (run %s): %s\n  Type yes to approve or no to reject, then Enter.", p.Key, p.RunID, msg)))
			}
		}
		for {
			ask()
			line, err := readLine(a.streams.In)
			if err != nil {
				return nil
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "yes":
				return &engine.ApprovalDecision{Approved: true, By: runner.OperatorName() + " (terminal)", At: time.Now().UTC()}
			case "no":
				return &engine.ApprovalDecision{Approved: false, By: runner.OperatorName() + " (terminal)", At: time.Now().UTC()}
			}
		}
	}
}

// readLine reads up to a newline one byte at a time, so that nothing after
// the line is taken from stdin.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			if b.Len() > 0 && err == io.EOF {
				return b.String(), nil
			}
			return "", err
		}
	}
}
