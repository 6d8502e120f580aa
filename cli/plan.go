package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

func (a *app) planCmd() *cobra.Command {
	var f runFlags
	var format, out string
	var offline, detailed, detail bool
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Dry run: reads are live, every mutation is listed and none is sent",
		Long: `Dry run: the workflow runs with reads (GET) live, so filters and fan-outs
resolve against the real estate, and every mutation recorded instead of sent.
With --offline no request is made at all and the plan shows the shape of the work.

Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error,
2 invalid workflow, input or usage, 3 changes present (--detailed-exitcode).`,
		Args:              exactArgs(1, "FILE"),
		ValidArgsFunction: yamlFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "json", "markdown":
			default:
				return usageErr("--format must be text, json or markdown, not %q", format)
			}
			p, err := a.makePlan(cmd.Context(), args[0], nil, f, offline)
			if err != nil {
				return err
			}
			if out != "" {
				if err := p.Save(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			w := a.red.Writer(a.streams.Out)
			opts := plan.RenderOptions{Detail: detail, FullPlan: out}
			if err := renderPlanOpts(a, w, p, format, opts); err != nil {
				return err
			}
			if out != "" && format == "text" {
				fmt.Fprintf(w, "\nSaved to %s. Apply exactly this plan with: frameflow apply %s\n", out, out)
			}
			a.appendStepSummary(func(w io.Writer) { _ = renderPlanOpts(a, w, p, "markdown", opts) })
			if detailed && p.HasChanges() {
				return silentExit(ExitChanges)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputFlags, "input", nil, "name=value: a workflow input (repeatable)")
	fl.StringVar(&f.inputsFile, "inputs", "", "YAML or JSON file of inputs")
	fl.StringVar(&format, "format", "text", "text, json or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json", "markdown"}, cobra.ShellCompDirectiveNoFileComp))
	fl.StringVar(&out, "out", "", "save the plan to `FILE`, for frameflow apply FILE")
	fl.BoolVar(&detail, "detail", false, "list every target of every change and every unchanged step")
	fl.BoolVar(&offline, "offline", false, "send no request at all; reads are unknown")
	fl.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing would change, 3 when changes are present")
	fl.IntVar(&f.parallelism, "parallelism", 0, "most steps in flight (default: the workflow's concurrency, else 256)")
	return cmd
}

// makePlan prepares the workflow and plans it: reads live (none when
// offline), mutations recorded, nothing sent. src nil: read file.
func (a *app) makePlan(ctx context.Context, file string, src []byte, f runFlags, offline bool) (*plan.Plan, error) {
	in, err := f.inputs()
	if err != nil {
		return nil, err
	}
	w, err := a.service().Prepare(runner.Request{File: file, Source: src, Inputs: in, Parallelism: f.parallelism, Offline: offline})
	if err != nil {
		return nil, a.appErr(err)
	}
	// The same check run makes first: bad input is exit 2, reported once,
	// before any read (not once per item the plan fans out to).
	if err := w.Preflight(ctx); err != nil {
		return nil, a.appErr(err)
	}
	a.printNotes(w)
	p, err := w.Plan(ctx, runner.PlanOptions{Offline: offline})
	return p, a.appErr(err)
}

func renderPlan(a *app, w io.Writer, p *plan.Plan, format string) error {
	return renderPlanOpts(a, w, p, format, plan.RenderOptions{})
}

// explainPlanLoad says what to do when PLAN is no plan file: a missing
// file is made with plan --out, and a workflow given where a plan was
// expected (terraform habits) is planned first, or run in one go.
func explainPlanLoad(path string, err error) error {
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no plan file %s: make one with `frameflow plan WORKFLOW --out %s`; nothing was sent", path, path)
	case (ext == ".yaml" || ext == ".yml") && !errors.Is(err, plan.ErrTampered):
		return fmt.Errorf("%s is a workflow, not a plan: make a plan with `frameflow plan %s --out rollout.plan` and apply that, "+
			"or plan, confirm and apply in one go with `frameflow run %s`; nothing was sent", path, path, path)
	}
	return fmt.Errorf("%w; nothing was sent", err)
}

// renderPlanOpts renders with the caller's Detail and FullPlan, colour and
// redaction being the app's.
func renderPlanOpts(a *app, w io.Writer, p *plan.Plan, format string, opts plan.RenderOptions) error {
	if format == "json" {
		// Same document, with DEL, C1 and bidi characters \u-escaped.
		w = termtext.JSONWriter(w)
	}
	opts.Color = format == "text" && a.color()
	opts.Redact = a.red.String
	return plan.Render(w, p, format, opts)
}

func (a *app) applyCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "apply PLAN",
		Short: "Execute exactly a saved plan, after checking it is not stale",
		Long: `Execute exactly the mutations of a plan saved with 'frameflow plan --out PLAN'.
The workflow is planned again first; if the estate or the workflow changed since
the plan was made, apply refuses and says what changed. Only planned mutations
are sent.

` + exitCodesHelp,
		Args: exactArgs(1, "PLAN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runApply(cmd, args[0], f)
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringArrayVar(&f.inputFlags, "input", nil, "name=value: secret inputs, which plans do not store")
	return cmd
}

// runApply checks the saved plan at path is current, asks for approval
// (bound to the plan's hash) unless --yes, and executes exactly it.
func (a *app) runApply(cmd *cobra.Command, path string, f runFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	saved, err := plan.Load(path)
	if err != nil {
		return withCode(ExitInvalid, explainPlanLoad(path, err))
	}
	secrets, err := parseInputFlags(f.inputFlags)
	if err != nil {
		return err
	}
	wf, err := a.service().PrepareApply(runner.ApplyRequest{Plan: saved, Path: path, Secrets: runner.Inputs{Text: secrets}, Parallelism: f.parallelism})
	if err != nil {
		return a.appErr(err)
	}
	if err := wf.CheckPlan(cmd.Context(), saved); err != nil {
		return a.appErr(err)
	}
	w := a.red.Writer(a.streams.Out)
	fmt.Fprintf(w, "Plan %s is current: %d change(s) to apply.\n", saved.Hash, len(saved.Mutations))
	if !saved.HasChanges() {
		fmt.Fprintln(w, "Nothing to do.")
		return nil
	}
	approval := runner.ApplyApproval(saved)
	if !f.yes {
		if err := a.confirmApply(w, saved); err != nil {
			return err
		}
	}
	view := a.newRunView(f.output)
	res, err := wf.Apply(cmd.Context(), saved, runner.RunOptions{Events: view.Event, Approved: &approval, Ask: a.approvalAsker(view)})
	view.Close()
	err = a.finishRun(wf, res, err, f)
	if err == nil && res.Unused > 0 {
		fmt.Fprintf(w, "warning: %d planned mutation(s) were not executed\n", res.Unused)
	}
	return err
}

// confirmApply shows the plan and asks at the terminal; without one it
// refuses (--yes is the way to approve in CI).
func (a *app) confirmApply(w io.Writer, saved *plan.Plan) error {
	if !(a.streams.InTTY && a.streams.OutTTY) {
		return withCode(ExitInvalid, fmt.Errorf("refusing to apply without approval: there is no terminal to ask in; pass --yes (the approval is bound to plan %s). Nothing was sent", saved.Hash))
	}
	if err := renderPlan(a, w, saved, "text"); err != nil {
		return err
	}
	ok, err := confirmPrompt(a, fmt.Sprintf("\nApply plan %s?", saved.Hash))
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitFailed, fmt.Errorf("not approved; nothing was changed"))
	}
	return nil
}
