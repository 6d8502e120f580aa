package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strings"
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
	var marks []string
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
			if len(args) > 1 || (len(args) == 1) == last {
				return usageErr("usage: frameflow resume RUN_ID | --last")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			store, err := journal.OpenWith(a.stateDirectory(), a.journalOptions(assumeNotSent))
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
			decisions, err := parseMarks(marks)
			if err != nil {
				return err
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
				guard, err := appliedPlanGuard(a.stateDirectory(), meta)
				if err != nil {
					return err
				}
				guard.Redact = plan.SecretScrubber(s.prog.SecretValues(s.inputs))
				wrap = guard.Wrap
			}
			if err := a.approve(cmd.Context(), meta.File, src, f, destructiveSteps(s.prog, s.reg)); err != nil {
				return err
			}
			// The operator's decisions, once everything else was accepted:
			// a refused resume journals none of them.
			if len(decisions) > 0 {
				by := operatorName()
				for _, d := range decisions {
					if err := jr.Decide(d.key, d.decision, by); err != nil {
						return withCode(ExitInvalid, err)
					}
					fmt.Fprintf(a.red.Writer(a.streams.Err), "Marked %s as %s (by %s).\n", d.key, strings.ReplaceAll(d.decision, "_", "-"), by)
				}
			}
			return a.execute(cmd.Context(), s, f, jr, wrap, &sink)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "name=value: secret inputs, which journals do not store")
	fl.BoolVar(&last, "last", false, "resume the most recent run")
	fl.BoolVar(&force, "force", false, "resume even though the workflow file changed")
	fl.BoolVar(&assumeNotSent, "assume-not-sent", false, "treat mutations whose outcome cannot be proven as not sent (you checked); never applies to one proven sent")
	fl.StringArrayVar(&marks, "mark", nil, "KEY=sent|not-sent: your decision on a mutation whose outcome is unknown (the failed run names each KEY); repeatable")
	return cmd
}

type decision struct{ key, decision string }

// parseMarks reads --mark KEY=sent|not-sent values, all problems at once.
func parseMarks(marks []string) ([]decision, error) {
	var out []decision
	var bad []string
	seen := map[string]bool{}
	for _, m := range marks {
		i := strings.LastIndexByte(m, '=')
		if i <= 0 {
			bad = append(bad, fmt.Sprintf("--mark %q: want KEY=sent or KEY=not-sent", m))
			continue
		}
		key, v := m[:i], m[i+1:]
		var d string
		switch v {
		case "sent":
			d = journal.DecisionSent
		case "not-sent", "not_sent":
			d = journal.DecisionNotSent
		default:
			bad = append(bad, fmt.Sprintf("--mark %q: %q is neither sent nor not-sent", m, v))
			continue
		}
		if seen[key] {
			bad = append(bad, fmt.Sprintf("--mark %q: %s is marked twice", m, key))
			continue
		}
		seen[key] = true
		out = append(out, decision{key, d})
	}
	if len(bad) > 0 {
		return nil, usageErr("%s", strings.Join(bad, "\n"))
	}
	return out, nil
}

// operatorName is who decides, as the journal records it: user@host.
func operatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}

func (a *app) runsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Run history from the state directory",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := journal.Open(a.stateDirectory())
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
				list := runsJSON(runs)
				for i := range list {
					// What waits for `resume --mark`, for scripts.
					if p, err := store.Undecided(list[i].ID); err == nil {
						for _, m := range p {
							list[i].Undecided = append(list[i].Undecided, undecidedJSON{Key: m.Key, Method: m.Method, Path: m.Path, ProvenSent: m.ProvenSent, Evidence: m.Evidence})
						}
					}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTARTED\tFINISHED\tSTATUS\tATTEMPTS")
			for _, r := range runs {
				fin := "-"
				if !r.Finished.IsZero() {
					fin = r.Finished.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Started.Local().Format(time.DateTime), fin, r.Status, attemptsString(r))
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
	// Undecided are the mutations whose outcome is unknown: each waits for
	// `frameflow resume ID --mark KEY=sent|not-sent`.
	Undecided []undecidedJSON `json:"undecided,omitempty"`
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
