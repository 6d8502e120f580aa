package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/runner"
	"github.com/frameflow/frameflow/state"
	"github.com/spf13/cobra"
)

// runFlags are shared by run, resume and apply.
type runFlags struct {
	inputFlags  []string // --input name=value
	inputsFile  string
	yes         bool
	parallelism int
	output      string
	junit       string
}

func (f *runFlags) register(cmd *cobra.Command, withInputs bool) {
	fl := cmd.Flags()
	if withInputs {
		fl.StringArrayVar(&f.inputFlags, "input", nil, "name=value: a workflow input (repeatable)")
		fl.StringVar(&f.inputsFile, "inputs", "", "YAML or JSON file of inputs")
	}
	fl.BoolVar(&f.yes, "yes", false, "approve destructive steps without asking")
	fl.IntVar(&f.parallelism, "parallelism", 0, "most steps in flight (default: the workflow's concurrency, else 256)")
	fl.StringVar(&f.output, "output", "text", "text or json (JSON Lines events on stdout)")
	fl.StringVar(&f.junit, "junit", "", "write a JUnit XML report to FILE")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// yamlFiles completes workflow file arguments.
func yamlFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

func (f *runFlags) check() error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output must be text or json, not %q", f.output)
	}
	if f.parallelism < 0 {
		return usageErr("--parallelism must be positive")
	}
	return nil
}

func (a *app) runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Validate, plan, ask, then run a workflow (like terraform apply)",
		Long: `Validate the workflow, plan it (reads live, nothing sent), show the plan and
ask before the first change; then send exactly the planned changes. Every
mutation is approved: with --yes, or a yes typed at the terminal. Without a
terminal and without --yes, run prints the plan summary and exits 2 before
sending anything. A playbook or step may declare approval: not_required for
reversible work (destructive steps always ask); a workflow with nothing to
approve runs at once.

` + exitCodesHelp,
		Args:              exactArgs(1, "FILE"),
		ValidArgsFunction: yamlFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return a.runWorkflow(cmd.Context(), args[0], nil, f)
		},
	}
	f.register(cmd, true)
	return cmd
}

// service is the application layer, configured from the global flags and
// the environment. Built per command: the demo changes both before a run.
func (a *app) service() *runner.Service {
	return runner.New(runner.Config{
		StateDir:    a.stateDirectory(),
		OpenState:   func() (state.Backend, error) { return a.openState(context.Background()) },
		LockTimeout: a.lockTimeout,
		APIURL:      a.apiURL,
		Credentials: a.credentials,
		UserAgent:   "frameflow/" + Version,
		Getenv:      a.getenv,
		Logger:      a.logger,
		Secrets:     a.red,
	})
}

// inputs reads --input and --inputs into the application layer's typed form.
func (f *runFlags) inputs() (runner.Inputs, error) {
	text, err := parseInputFlags(f.inputFlags)
	if err != nil {
		return runner.Inputs{}, err
	}
	typed, pos, err := readInputsFile(f.inputsFile)
	if err != nil {
		return runner.Inputs{}, err
	}
	return runner.Inputs{Text: text, Values: typed, Positions: pos}, nil
}

// appErr turns the application layer's typed errors into exit codes, and
// prints a workflow's problems as FILE:LINE:COL lines.
func (a *app) appErr(err error) error {
	var (
		wfErr    *runner.WorkflowError
		invalid  = []any{new(*runner.InputError), new(*runner.ConfigError), new(*runner.RefusedError), new(*runner.PreflightError), new(*runner.WorkflowChangedError), new(*runner.PlanSourceError), new(*runner.OfflinePlanError), new(*runner.MissingSecretError), new(*runner.FixedInputError)}
		refusals = []any{new(*runner.PlanFailedError), new(*runner.StaleError), new(*runner.NotApprovedError), new(*runner.AppliedPlanError)}
	)
	if err == nil {
		return nil
	}
	if errors.As(err, &wfErr) {
		a.printDiagnostics(a.red.Writer(a.streams.Err), wfErr.Diagnostics)
		return withCode(ExitInvalid, err)
	}
	for _, target := range invalid {
		if errors.As(err, target) {
			return withCode(ExitInvalid, asReport(err))
		}
	}
	for _, target := range refusals {
		if errors.As(err, target) {
			return withCode(ExitFailed, asReport(err))
		}
	}
	return err
}

// approveResume decides whether a resumed run's steps that need approval
// may run: --yes, or a yes typed at a terminal after seeing what remains
// (what the journal proves sent is listed apart, not in the plan). Without
// either nothing is sent. It returns the approval the engine's list asked
// for, confirmed.
func (a *app) approveResume(ctx context.Context, r *runner.Resumption, f runFlags) (*runner.Approval, error) {
	need := r.Approval()
	if !need.Needed() || f.yes {
		return &need, nil
	}
	if !(a.streams.InTTY && a.streams.OutTTY) {
		return nil, withCode(ExitInvalid, fmt.Errorf("refusing to continue without approval: %s change the estate; pass --yes, or run in a terminal to review what remains and confirm. Nothing was sent", strings.Join(need.Labels(), ", ")))
	}
	rp, err := r.PlanRemaining(ctx)
	if err != nil {
		return nil, a.appErr(err)
	}
	out := a.red.Writer(a.streams.Out)
	writeResumeProgress(out, rp)
	if err := renderPlan(a, out, rp.Remaining, "text"); err != nil {
		return nil, err
	}
	question := "\nDo you want to perform these actions?"
	if !rp.Remaining.HasChanges() {
		question = "\nNothing is left to send. Do you want to continue the run (waits, reads and the steps after them)?"
	}
	ok, err := confirmPrompt(a, question)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, withCode(ExitFailed, errors.New("not approved; nothing was changed"))
	}
	return &need, nil
}

// writeResumeProgress says, before the plan of what remains, what the
// run's journal proves was already sent (never sent again) and which
// mutations' outcome is unknown (read before anything is sent again), so
// that the person approves only what is left.
func writeResumeProgress(w io.Writer, rp *runner.ResumePlan) {
	if len(rp.AlreadySent) > 0 {
		fmt.Fprintf(w, "Already sent by earlier attempts (their results are in the journal; not sent again): %d\n", len(rp.AlreadySent))
		type group struct {
			label string
			items []string
		}
		var groups []*group
		byLabel := map[string]*group{}
		for _, m := range rp.AlreadySent {
			label := m.Step + " (" + m.Type + ")"
			g := byLabel[label]
			if g == nil {
				g = &group{label: label}
				byLabel[label] = g
				groups = append(groups, g)
			}
			item := m.Item
			if item == "" {
				item = m.Method + " " + m.Path
			}
			g.items = append(g.items, item)
		}
		for _, g := range groups {
			items := g.items
			more := ""
			if len(items) > 5 {
				more = fmt.Sprintf(", … +%d more", len(items)-5)
				items = items[:5]
			}
			fmt.Fprintf(w, "  ✓ %s × %d: %s%s\n", termtext.Line(g.label), len(g.items), termtext.Line(strings.Join(items, ", ")), more)
		}
		fmt.Fprintln(w)
	}
	if len(rp.Unsettled) > 0 {
		fmt.Fprintf(w, "Outcome unknown (each is read before anything is sent again; frameflow resume RUN --mark KEY=sent|not-sent settles it): %d\n", len(rp.Unsettled))
		for _, m := range rp.Unsettled {
			why := "answer lost"
			if m.ProvenSent {
				why = "proven sent, not proven finished"
			}
			fmt.Fprintf(w, "  ? %s  %s %s (%s)\n", termtext.Line(m.Key), m.Method, termtext.Line(m.Path), why)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "What remains:")
}

// runWorkflow prepares, checks, asks approval for and runs a workflow.
// src nil: read file.
func (a *app) runWorkflow(ctx context.Context, file string, src []byte, f runFlags) error {
	in, err := f.inputs()
	if err != nil {
		return err
	}
	w, err := a.service().Prepare(runner.Request{File: file, Source: src, Inputs: in, Parallelism: f.parallelism})
	if err != nil {
		return a.appErr(err)
	}
	a.printNotes(w)
	if err := w.Preflight(ctx); err != nil {
		return a.appErr(err)
	}
	need := w.Approval()
	if !need.Needed() || f.yes {
		view := a.newRunView(f.output)
		out, err := w.Run(ctx, runner.RunOptions{Events: view.Event, Approved: &need, Ask: a.approvalAsker(view)})
		view.Close()
		return a.finishRun(w, out, err, f)
	}
	// Plan, show, ask, then apply exactly that plan: what the person
	// approved is what is sent (terraform apply without a saved plan).
	p, err := w.PlanToApply(ctx, runner.PlanOptions{})
	if err != nil {
		return a.appErr(err)
	}
	stdout := a.red.Writer(a.streams.Out)
	if !(a.streams.InTTY && a.streams.OutTTY) || f.output == "json" {
		// --output json keeps stdout for JSON Lines: no prompt there.
		summary := stdout
		if f.output == "json" {
			summary = a.red.Writer(a.streams.Err)
		}
		fmt.Fprintln(summary, termtext.Line(p.SummaryLine()))
		return withCode(ExitInvalid, fmt.Errorf("refusing to run without approval: there is no terminal to ask in and no --yes. Nothing was sent. Review the plan with `frameflow plan %s --out rollout.plan`, then `frameflow apply rollout.plan --yes`; or pass --yes", file))
	}
	if err := renderPlanOpts(a, stdout, p, "text", plan.RenderOptions{}); err != nil {
		return err
	}
	if !p.HasChanges() {
		fmt.Fprintln(stdout, "\nNothing to change; nothing was sent.")
		return nil
	}
	ok, err := confirmPrompt(a, "\nDo you want to perform these actions?")
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitFailed, errors.New("not approved; nothing was sent"))
	}
	approved := runner.ApplyApproval(p)
	view := a.newRunView(f.output)
	out, err := w.Apply(ctx, p, runner.RunOptions{Events: view.Event, Approved: &approved, Ask: a.approvalAsker(view)})
	view.Close()
	return a.finishRun(w, out, err, f)
}

// printNotes says, on stderr and before anything is sent, what a person
// should know about how this run will decide (e.g. no doctor findings).
func (a *app) printNotes(w *runner.Workflow) {
	for _, n := range w.Notes() {
		if a.notesSaid[n] {
			continue
		}
		if a.notesSaid == nil {
			a.notesSaid = map[string]bool{}
		}
		a.notesSaid[n] = true
		fmt.Fprintln(a.red.Writer(a.streams.Err), "note: "+n)
	}
}

// finishRun renders a run's outcome (summary, JUnit, the CI step summary)
// and turns it into an exit code.
func (a *app) finishRun(w *runner.Workflow, out *runner.Outcome, err error, f runFlags) error {
	if err != nil {
		return a.appErr(err)
	}
	if out.JournalErr != nil {
		fmt.Fprintln(a.red.Writer(a.streams.Err), "warning: journal:", out.JournalErr)
	}
	res := out.Result
	if res == nil { // an apply with nothing to do
		return nil
	}
	// Refused credentials or an unreachable API before anything was sent:
	// say what to check; resuming would only start the run again.
	accessHint := ""
	if res.Status == engine.RunFailed {
		if h := runner.AccessHint(res); h != "" && a.nothingSent(res.RunID) {
			accessHint = h
		}
	}
	if f.output == "text" {
		a.writeRunOutcome(out, accessHint != "")
	}
	if f.junit != "" {
		if err := writeJUnit(f.junit, w.Program().Workflow().Name, res, a.red); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	a.appendStepSummary(func(w io.Writer) { writeRunMarkdown(w, res) })
	if accessHint != "" {
		return withCode(ExitFailed, &reportError{err: errors.New(accessHint), head: "nothing was sent, and there is nothing to resume: " + accessHint + ".",
			lines: []string{"Fix it, then run again."}})
	}
	return runStatusErr(out)
}

// writeRunOutcome prints the summary table and the recap; accessProblem
// says the run failed before anything was sent, so nothing is resumed.
func (a *app) writeRunOutcome(out *runner.Outcome, accessProblem bool) {
	res := out.Result
	stdout := a.red.Writer(a.streams.Out)
	fmt.Fprintln(stdout)
	width := 0 // pipes and files get every word of every reason
	if a.streams.OutTTY {
		width = a.streams.Width
		if width <= 0 {
			width = 100
		}
	}
	writeSummary(stdout, res, width)
	rc := runner.RecapOf(res)
	if accessProblem {
		rc.Resume = ""
	}
	if und := out.Undecided(); len(und) > 0 {
		// Resuming decides nothing by itself: the error that follows
		// gives the --mark commands for each.
		rc.Unknown = undecidedLabels(res, und)
		rc.Resume = ""
	}
	writeRecap(stdout, rc)
}

// runStatusErr is the exit code and error for the run's status.
func runStatusErr(out *runner.Outcome) error {
	res := out.Result
	switch res.Status {
	case engine.RunSucceeded:
		return nil
	case engine.RunInterrupted:
		return withCode(ExitInterrupted, fmt.Errorf("run %s interrupted; continue with: frameflow resume %s", res.RunID, res.RunID))
	default:
		// Mutations whose outcome is unknown wait for an operator: say
		// which and how to decide, wherever the output goes.
		if rep := out.UndecidedReport(); rep != "" {
			return withCode(ExitFailed, fmt.Errorf("run %s failed: %s", res.RunID, rep))
		}
		if rc := runner.RecapOf(res); rc.Resume == "" && len(rc.Rejected) > 0 {
			return withCode(ExitFailed, fmt.Errorf("run %s stopped: approval %s rejected; the decision stands, so a resume would stop there again: start a new run once the cause is addressed",
				res.RunID, strings.Join(rc.Rejected, "; ")))
		}
		return withCode(ExitFailed, fmt.Errorf("run %s failed; after fixing the cause, continue with: frameflow resume %s", res.RunID, res.RunID))
	}
}

// appendStepSummary appends Markdown to $GITHUB_STEP_SUMMARY when set.
func (a *app) appendStepSummary(write func(io.Writer)) {
	p := a.getenv("GITHUB_STEP_SUMMARY")
	if p == "" {
		return
	}
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer fh.Close()
	write(a.red.Writer(fh))
}

func writeRunMarkdown(w io.Writer, res *engine.Result) {
	fmt.Fprintf(w, "### frameflow run `%s`: %s\n\n| step | item | status | duration | error |\n|---|---|---|---|---|\n", res.RunID, res.Status)
	for _, s := range res.Steps {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", termtext.Markdown(s.Step), termtext.Markdown(s.Item), s.Status, s.Duration.Round(time.Millisecond), termtext.Markdown(s.Error))
	}
	fmt.Fprintln(w)
}

// nothingSent reports whether run id's journal holds no mutation at all (so
// resuming it would only start it again).
func (a *app) nothingSent(runID string) bool {
	d, err := a.service().RunDetail(runID)
	return err == nil && len(d.Mutations) == 0
}

// undecidedLabels names mutations waiting for an operator: their item, else
// their key.
func undecidedLabels(res *engine.Result, und []journal.PendingMutation) []string {
	labels := map[string]string{} // step[item key] -> item label
	for _, st := range res.Steps {
		if st.Item != "" && st.ItemKey != "" {
			labels[st.Step+"["+st.ItemKey+"]"] = st.Item
		}
	}
	out := make([]string, 0, len(und))
	for _, p := range und {
		l := p.Key
		if i := strings.LastIndexByte(p.Key, '#'); i > 0 && labels[p.Key[:i]] != "" {
			l = labels[p.Key[:i]]
		}
		out = append(out, l)
	}
	return out
}
