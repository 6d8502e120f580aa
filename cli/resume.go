package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/plan"
	"github.com/spf13/cobra"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

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
			store, err := a.journalStore(cmd.Context(), assumeNotSent)
			if err != nil {
				return err
			}
			id := ""
			if last {
				if id, err = store.Last(); err != nil {
					return err
				}
			} else {
				id = args[0]
			}
			if runs, err := store.List(); err == nil {
				for _, r := range runs {
					if r.ID == id && r.Status == journal.StatusSucceeded {
						fmt.Fprintf(a.red.Writer(a.streams.Out), "Run %s already succeeded; nothing to resume.\n", id)
						return nil
					}
				}
			}
			jr, err := store.Resume(id)
			if err != nil {
				return err
			}
			defer jr.Close()
			meta := jr.Meta()

			src, err := os.ReadFile(meta.File)
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("run %s: its workflow %s: %v", id, meta.File, err))
			}
			if h := fileHash(src); h != meta.FileHash && !force {
				return withCode(ExitInvalid, fmt.Errorf("run %s: %s changed since the run started (%s, now %s); resume with --force to run the new file", id, meta.File, meta.FileHash, h))
			}
			given, err := parseInputFlags(f.inputs)
			if err != nil {
				return err
			}
			for k, v := range meta.Inputs {
				if _, ok := given[k]; ok {
					continue
				}
				if s, ok := v.(string); ok && s == "(sensitive)" {
					return usageErr("input %q is secret and not stored in the journal: pass it again with --input %s=...", k, k)
				}
				f.inputs = append(f.inputs, k+"="+inputString(v))
			}
			if f.output != "json" { // stdout is JSON Lines only with --output json
				fmt.Fprintf(a.red.Writer(a.streams.Out), "Resuming run %s (attempt %d) of %s\n", id, jr.Attempt(), meta.File)
			}
			var sink engine.EventSink
			s, err := a.prepare(meta.File, src, f, engine.ModeRun, &sink)
			if err != nil {
				return err
			}
			if err := a.preflight(cmd.Context(), s, f); err != nil {
				return err
			}
			// A resumed apply still sends only what its plan holds.
			var wrap func(engine.MutationRecorder) engine.MutationRecorder
			if meta.Mode == "apply" {
				guard, err := a.appliedPlanGuard(cmd.Context(), meta)
				if err != nil {
					return err
				}
				guard.Redact = plan.SecretScrubber(s.prog.SecretValues(s.inputs))
				wrap = guard.Wrap
			}
			if err := a.approve(cmd.Context(), meta.File, src, f, destructiveSteps(s.prog, s.reg)); err != nil {
				return err
			}
			return a.execute(cmd.Context(), s, f, jr, wrap, &sink)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "name=value: secret inputs, which journals do not store")
	fl.BoolVar(&last, "last", false, "resume the most recent run")
	fl.BoolVar(&force, "force", false, "resume even though the workflow file changed")
	fl.BoolVar(&assumeNotSent, "assume-not-sent", false, "treat mutations whose outcome cannot be proven as not sent (you checked)")
	return cmd
}

func (a *app) runsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Run history from the state backend (every machine's runs when it is shared)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := a.journalStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			runs, err := store.List()
			if err != nil {
				return err
			}
			sort.SliceStable(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
			out := a.red.Writer(a.streams.Out)
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(runsJSON(runs))
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTARTED\tFINISHED\tSTATUS\tATTEMPTS\tHOST\tUSER")
			for _, r := range runs {
				fin := "-"
				if !r.Finished.IsZero() {
					fin = r.Finished.Local().Format(time.DateTime)
				}
				host, user := "-", "-"
				if n := len(r.Attempts); n > 0 { // the last attempt's: where the run is, or ended
					host, user = orDash(r.Attempts[n-1].Host), orDash(r.Attempts[n-1].User)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Started.Local().Format(time.DateTime), fin, r.Status, attemptsString(r), host, user)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
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
	User     string     `json:"user,omitempty"`
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
		out = append(out, j)
	}
	return out
}
