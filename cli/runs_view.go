package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/liveview"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

// runsFlags are `frameflow runs`'s.
type runsFlags struct {
	format string
	filter runner.RunsFilter
}

func (a *app) runsCmd() *cobra.Command {
	var f runsFlags
	cmd := &cobra.Command{
		Use:   "runs [RUN_ID]",
		Short: "Run history, newest first; with a run id, that run in detail",
		Long: `Run history from the state directory, newest first. With a run id (or
runs show RUN_ID): its status, inputs (secrets masked), each step and item with
attempts and reasons, the mutations sent and their tasks, and the command that
continues it.`,
		Args: maxArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.showRun(args[0], f.format)
			}
			return a.listRuns(f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "text or json")
	fl.StringVar(&f.filter.Status, "status", "", "only runs with this status (succeeded, failed, interrupted, crashed, running, or waiting: at an approval gate; comma-separated)")
	fl.IntVar(&f.filter.Limit, "limit", 0, "only the newest N runs (default: all)")
	var showFormat string
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "One run in detail: status, inputs, steps, items, mutations and their tasks, how to continue",
		Args:  exactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.showRun(args[0], showFormat)
		},
	}
	show.Flags().StringVar(&showFormat, "format", "text", "text or json")
	cmd.AddCommand(show)
	return cmd
}

func (a *app) listRuns(f runsFlags) error {
	if f.format != "text" && f.format != "json" {
		return usageErr("--format must be text or json, not %q", f.format)
	}
	if f.filter.Limit < 0 {
		return usageErr("--limit must be positive")
	}
	all, err := a.service().Runs()
	if err != nil {
		return err
	}
	runs := runner.FilterRuns(all, f.filter)
	out := a.red.Writer(a.streams.Out)
	if f.format == "json" {
		return a.writeRunsJSON(out, runs)
	}
	if len(runs) == 0 {
		msg := "No runs yet."
		if f.filter != (runner.RunsFilter{}) {
			msg = "No runs match (frameflow runs lists every run)."
		}
		fmt.Fprintln(out, msg)
		return nil
	}
	if err := writeRunsTable(out, runs); err != nil {
		return err
	}
	for _, r := range runs {
		if len(r.Waiting) > 0 {
			fmt.Fprintln(out)
			writeWaiting(out, r, "Run "+r.ID+" ")
		}
	}
	fmt.Fprintln(out, "\nframeflow runs RUN_ID shows one run in detail.")
	return nil
}

// writeRunsJSON is `runs --format json`: each run with what waits for
// `resume --mark`, for scripts.
func (a *app) writeRunsJSON(out io.Writer, runs []journal.RunSummary) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	list := runsJSON(runs)
	for i := range list {
		if p, err := a.service().Undecided(list[i].ID); err == nil {
			for _, m := range p {
				list[i].Undecided = append(list[i].Undecided, undecidedJSON{Key: m.Key, Method: m.Method, Path: m.Path, ProvenSent: m.ProvenSent, Evidence: m.Evidence})
			}
		}
	}
	return enc.Encode(list)
}

// writeRunsTable is the runs table, narrow enough for 80 columns;
// --format json has every time. BY is who drove the last attempt
// (user@host): with shared state, every machine's runs are listed.
func writeRunsTable(out io.Writer, runs []journal.RunSummary) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTARTED\tTOOK\tSTATUS\tATTEMPTS\tBY")
	for _, r := range runs {
		took := "-"
		if !r.Finished.IsZero() {
			took = liveview.FormatDuration(r.Finished.Sub(r.Started))
		}
		by := "-"
		if n := len(r.Attempts); n > 0 && r.Attempts[n-1].Host != "" {
			by = termtext.Line(r.Attempts[n-1].User + "@" + r.Attempts[n-1].Host)
		}
		status := r.Status
		if len(r.Waiting) > 0 {
			status += ", waiting for approval"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, termtext.Line(r.Workflow), r.Started.Local().Format("2006-01-02 15:04"), took, status, attemptsString(r), by)
	}
	return tw.Flush()
}

func (a *app) showRun(id, format string) error {
	if format != "text" && format != "json" {
		return usageErr("--format must be text or json, not %q", format)
	}
	d, err := a.service().RunDetail(id)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	out := a.red.Writer(a.streams.Out)
	rc := a.service().RunRecap(d)
	und, _ := a.service().Undecided(id)
	for _, p := range und {
		rc.Unknown = append(rc.Unknown, p.Key)
	}
	if len(und) > 0 {
		rc.Resume = "" // the --mark commands below say how to continue
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(runDetailJSON(d, rc))
	}
	writeRunDetail(out, d, rc)
	for _, p := range und {
		fmt.Fprintf(out, "  %s %s %s:\n    frameflow resume %s --mark '%s=sent'      # it took effect and finished\n    frameflow resume %s --mark '%s=not-sent'  # it did not take effect\n",
			termtext.Line(p.Key), p.Method, termtext.Line(p.Path), id, termtext.Line(p.Key), id, termtext.Line(p.Key))
	}
	return nil
}

// writeRunDetail is `frameflow runs show RUN`.
func writeRunDetail(w io.Writer, d *journal.RunDetail, rc runner.Recap) {
	writeRunHeader(w, d)
	writeWaiting(w, d.RunSummary, "")
	fmt.Fprintln(w, "Attempts:")
	for _, at := range d.Attempts {
		fin := "-"
		if !at.Finished.IsZero() {
			fin = at.Finished.Local().Format(time.TimeOnly)
		}
		fmt.Fprintf(w, "  %d  %s → %s  %s  pid %d on %s\n", at.N, at.Started.Local().Format(time.DateTime), fin, at.Status, at.PID, termtext.Line(orDash(at.Host)))
	}

	writeRunSteps(w, d)
	writeRecap(w, rc)
}

// writeRunHeader is the run's status, mode, file and inputs (secrets
// masked).
func writeRunHeader(w io.Writer, d *journal.RunDetail) {
	fmt.Fprintf(w, "Run %s · %s (%s)\n", d.ID, termtext.Line(d.Workflow), termtext.Line(d.File))
	fmt.Fprintf(w, "Status:   %s", d.Status)
	if !d.Finished.IsZero() {
		fmt.Fprintf(w, " in %s", d.Finished.Sub(d.Started).Round(time.Millisecond))
	}
	fmt.Fprintf(w, ", started %s\n", d.Started.Local().Format(time.DateTime))
	mode := d.Mode
	if d.PlanHash != "" {
		mode += " of plan " + d.PlanHash
	}
	fmt.Fprintf(w, "Mode:     %s\n", orDash(mode))
	fmt.Fprintf(w, "File:     %s\n", orDash(d.FileHash))
	if len(d.Inputs) > 0 {
		fmt.Fprintln(w, "Inputs (secrets masked):")
		keys := make([]string, 0, len(d.Inputs))
		width := 0
		for k := range d.Inputs {
			keys = append(keys, k)
			width = max(width, len(k))
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-*s = %s\n", width, termtext.Line(k), termtext.Line(compactValue(d.Inputs[k])))
		}
	}
}

// writeRunSteps is the table of step executions and the table of
// mutations, items by their labels.
func writeRunSteps(w io.Writer, d *journal.RunDetail) {
	labels := map[string]string{} // item key → item label
	for _, s := range d.Steps {
		if s.ItemKey != "" && s.Item != "" {
			labels[s.ItemKey] = s.Item
		}
	}
	fmt.Fprintf(w, "\nSteps (%d executions):\n", len(d.Steps))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tITEM\tSTATUS\tATTEMPTS\tDURATION\tERROR")
	for _, s := range d.Steps {
		attempts := fmt.Sprint(s.Attempts)
		if s.Runs > 1 {
			attempts += fmt.Sprintf(" (run %d times)", s.Runs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", termtext.Line(s.Step), termtext.Line(s.Item), s.Status, attempts, s.Duration, termtext.Line(s.Error))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nMutations (%d; ids shortened, whole in --format json):\n", len(d.Mutations))
	if len(d.Mutations) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tITEM\tREQUEST\tSTATE\tTASK")
		for _, m := range d.Mutations {
			state := mutationState(m)
			item := labels[m.Item]
			if item == "" {
				item = m.Item
			}
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\n", termtext.Line(m.Step), termtext.Line(item), m.Method, termtext.Line(shortPath(m.Path)), state, orDash(plan.ShortID(m.TaskID())))
		}
		tw.Flush()
	}
}

// writeWaiting says at which approval steps run r waits, since when, until
// when, and the command that approves each. A run that crashed while
// waiting waits again once resumed; a decision recorded before is found.
func writeWaiting(w io.Writer, r journal.RunSummary, subject string) {
	for _, g := range r.Waiting {
		if r.Status == journal.StatusRunning {
			fmt.Fprintf(w, "%s for approval at %s since %s; times out %s (in %s)\n", capitalize(subject+"waits"), termtext.Line(g.Key),
				g.Since.Local().Format(time.DateTime), g.Deadline.Local().Format(time.DateTime), fmtLeft(time.Until(g.Deadline)))
		} else {
			// A resume waits again, with a new timeout.
			fmt.Fprintf(w, "%s for approval at %s since %s when the run ended (%s)\n", capitalize(subject+"was waiting"), termtext.Line(g.Key),
				g.Since.Local().Format(time.DateTime), r.Status)
		}
		if g.Message != "" {
			fmt.Fprintf(w, "  asks: %s\n", termtext.Line(g.Message))
		}
		fmt.Fprintf(w, "  who may approve: %s\n", termtext.Line(runner.WhoMayApprove(g.Approvers)))
		cmd := runner.ApproveCommand(r.ID, g.Key)
		fmt.Fprintf(w, "  approve: %s   (or --reject --comment \"why\")\n", termtext.Line(cmd))
		if r.Status != journal.StatusRunning {
			fmt.Fprintf(w, "  then:    frameflow resume %s\n", r.ID)
		}
	}
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// fmtLeft is the time left before a deadline; "past" once it passed.
func fmtLeft(d time.Duration) string {
	if d <= 0 {
		return "past"
	}
	return liveview.FormatDuration(d)
}

// mutationState says in words what the journal knows of a mutation.
func mutationState(m journal.MutationDetail) string {
	s := ""
	switch m.State {
	case "intent":
		s = "intent only (crashed before an answer: resume reconciles)"
	case "result":
		s = "sent, answered"
		if m.Via == "reconcile" {
			s = "found by reconcile"
		}
	case "unknown":
		s = "outcome unknown (resume reconciles)"
	case "failed":
		s = "failed (may be sent again)"
	case "not_sent":
		s = "not sent"
		if m.Via == "assumed" {
			s = "not sent (assumed by an operator)"
		}
	default:
		s = m.State
	}
	if m.Sends > 1 {
		s += fmt.Sprintf(", sent %d times", m.Sends)
	}
	if m.Error != "" && m.State == "unknown" {
		// The other states' reasons are the steps' errors, listed above.
		s += ": " + termtext.Line(m.Error)
	}
	return s
}

// shortPath shortens the UUIDs of a request path for a table.
func shortPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = plan.ShortID(s)
	}
	return strings.Join(segs, "/")
}

// compactValue is v as compact JSON without HTML escaping (it is for people).
func compactValue(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runDetailJSON is the documented shape of `frameflow runs show --format json`.
func runDetailJSON(d *journal.RunDetail, rc runner.Recap) any {
	type step struct {
		Step       string `json:"step"`
		Item       string `json:"item,omitempty"`
		ItemKey    string `json:"item_key,omitempty"`
		Status     string `json:"status"`
		Attempts   int    `json:"attempts"`
		Runs       int    `json:"runs"`
		DurationMS int64  `json:"duration_ms"`
		Error      string `json:"error,omitempty"`
	}
	type mutation struct {
		Key    string          `json:"key"`
		Step   string          `json:"step"`
		Type   string          `json:"type,omitempty"`
		Method string          `json:"method,omitempty"`
		Path   string          `json:"path,omitempty"`
		State  string          `json:"state"`
		Via    string          `json:"via,omitempty"`
		Sends  int             `json:"sends"`
		TaskID string          `json:"task_id,omitempty"`
		Result json.RawMessage `json:"result,omitempty"`
		Error  string          `json:"error,omitempty"`
	}
	runs := runsJSON([]journal.RunSummary{d.RunSummary})
	out := struct {
		runJSON
		Mode      string         `json:"mode,omitempty"`
		PlanHash  string         `json:"plan_hash,omitempty"`
		FileHash  string         `json:"file_hash,omitempty"`
		Inputs    map[string]any `json:"inputs"`
		Steps     []step         `json:"steps"`
		Mutations []mutation     `json:"mutations"`
		Recap     runner.Recap   `json:"recap"`
	}{runJSON: runs[0], Mode: d.Mode, PlanHash: d.PlanHash, FileHash: d.FileHash, Inputs: d.Inputs, Steps: []step{}, Mutations: []mutation{}, Recap: rc}
	if out.Inputs == nil {
		out.Inputs = map[string]any{}
	}
	for _, s := range d.Steps {
		out.Steps = append(out.Steps, step{Step: s.Step, Item: s.Item, ItemKey: s.ItemKey, Status: s.Status, Attempts: s.Attempts, Runs: s.Runs, DurationMS: s.Duration.Milliseconds(), Error: s.Error})
	}
	for _, m := range d.Mutations {
		out.Mutations = append(out.Mutations, mutation{Key: m.Key, Step: m.Step, Type: m.Type, Method: m.Method, Path: m.Path, State: m.State, Via: m.Via, Sends: m.Sends, TaskID: m.TaskID(), Result: m.Result, Error: m.Error})
	}
	return out
}
