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
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"
	"github.com/spf13/cobra"
)

func (a *app) planCmd() *cobra.Command {
	var f runFlags
	var format, out string
	var offline, detailed bool
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
			src, err := os.ReadFile(args[0])
			if err != nil {
				a.printDiagnostics(cmd.ErrOrStderr(), schema.Diagnostics{{Pos: schema.Pos{File: args[0], Line: 1, Col: 1}, Message: readError(err)}})
				return invalidWorkflow(1)
			}
			mode := engine.ModePlan
			if offline {
				mode = engine.ModeOffline
			}
			p, err := a.makePlan(cmd.Context(), args[0], src, f, mode)
			if err != nil {
				return err
			}
			if out != "" {
				if err := p.Save(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			w := a.red.Writer(a.streams.Out)
			if err := renderPlan(a, w, p, format); err != nil {
				return err
			}
			if out != "" && format == "text" {
				fmt.Fprintf(w, "\nSaved to %s. Apply exactly this plan with: frameflow apply %s\n", out, out)
			}
			a.appendStepSummary(func(w io.Writer) { _ = renderPlan(a, w, p, "markdown") })
			if detailed && p.HasChanges() {
				return silentExit(ExitChanges)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "name=value: a workflow input (repeatable)")
	fl.StringVar(&f.inputsFile, "inputs", "", "YAML or JSON file of inputs")
	fl.StringVar(&format, "format", "text", "text, json or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json", "markdown"}, cobra.ShellCompDirectiveNoFileComp))
	fl.StringVar(&out, "out", "", "save the plan to FILE for `frameflow apply`")
	fl.BoolVar(&offline, "offline", false, "send no request at all; reads are unknown")
	fl.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing would change, 3 when changes are present")
	fl.IntVar(&f.parallelism, "parallelism", 0, "most steps in flight")
	return cmd
}

// makePlan runs the workflow in a plan mode and builds the plan.
func (a *app) makePlan(ctx context.Context, file string, src []byte, f runFlags, mode engine.Mode) (*plan.Plan, error) {
	var sink engine.EventSink
	s, err := a.prepare(file, src, f, mode, &sink)
	if err != nil {
		return nil, err
	}
	res, err := s.prog.Run(ctx, engine.RunOptions{
		Mode: mode, RunID: "plan", Inputs: s.inputs, Parallelism: f.parallelism,
		Classify: classify, Getenv: a.getenv, Logger: a.logger,
	})
	if err != nil {
		// Run refuses before starting only over what the inputs make of
		// vars and filters: invalid input.
		return nil, withCode(ExitInvalid, err)
	}
	if res.Status != "succeeded" {
		var msgs []string
		for _, st := range res.Steps {
			if st.Status == "failed" {
				label := st.Step
				if st.Item != "" {
					label += " [" + st.Item + "]"
				}
				msgs = append(msgs, label+": "+st.Error)
			}
		}
		return nil, withCode(ExitFailed, fmt.Errorf("planning failed (nothing was sent):\n  %s", strings.Join(msgs, "\n  ")))
	}
	wf := s.prog.Workflow()
	var secret []string
	for _, in := range wf.Inputs {
		if in.Secret {
			secret = append(secret, in.Name)
		}
	}
	// The inputs go in as given: FromResult needs the secret values to
	// scrub them from every mutation (a secret in a path or body), and
	// stores them as "(sensitive)".
	p := plan.FromResult(plan.WorkflowRef{Name: wf.Name, File: file, FileHash: wf.Hash},
		s.inputs, secret, res, mode == engine.ModeOffline,
		func(t string) bool { st, ok := s.reg.Lookup(t); return ok && st.Destructive })
	return p, nil
}

func renderPlan(a *app, w io.Writer, p *plan.Plan, format string) error {
	return plan.Render(w, p, format, plan.RenderOptions{Color: a.color(), Redact: a.red.String})
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
			if err := f.check(); err != nil {
				return err
			}
			saved, err := plan.Load(args[0])
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			if saved.Offline {
				return usageErr("%s is an offline plan (made without reading the estate); make one with `frameflow plan --out` to apply", args[0])
			}
			file := saved.Workflow.File
			src, err := os.ReadFile(file)
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("the plan's workflow %s: %v", file, err))
			}
			// Inputs come from the plan; secret ones were redacted and must be given again.
			for k, v := range saved.Inputs {
				if s, ok := v.(string); ok && s == "(sensitive)" {
					if !hasInput(f.inputs, k) {
						return usageErr("input %q is secret and not stored in the plan: pass it again with --input %s=...", k, k)
					}
					continue
				}
				f.inputs = append(f.inputs, k+"="+inputString(v))
			}
			fresh, err := a.makePlan(cmd.Context(), file, src, f, engine.ModePlan)
			if err != nil {
				return err
			}
			if diffs := plan.Compare(saved, fresh); len(diffs) > 0 {
				var lines []string
				for _, d := range diffs {
					lines = append(lines, d.String())
				}
				return withCode(ExitFailed, fmt.Errorf("the plan is stale; nothing was sent. What changed since it was made:\n  %s\nMake a new plan", strings.Join(lines, "\n  ")))
			}
			w := a.red.Writer(a.streams.Out)
			fmt.Fprintf(w, "Plan %s is current: %d change(s) to apply.\n", saved.Hash, len(saved.Mutations))
			if !saved.HasChanges() {
				fmt.Fprintln(w, "Nothing to do.")
				return nil
			}
			if !f.yes {
				if !(a.streams.InTTY && a.streams.OutTTY) {
					return withCode(ExitFailed, fmt.Errorf("refusing to apply without approval: pass --yes (the approval is bound to plan %s). Nothing was sent", saved.Hash))
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
			}
			var sink engine.EventSink
			s, err := a.prepare(file, src, f, engine.ModeRun, &sink)
			if err != nil {
				return err
			}
			store, err := a.journalStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			wf := s.prog.Workflow()
			jr, err := store.Create(journal.RunMeta{Workflow: wf.Name, File: file, FileHash: wf.Hash, Inputs: a.redactInputs(s.prog, s.inputs), Mode: "apply", PlanHash: saved.Hash, Started: time.Now().UTC()})
			if err != nil {
				return err
			}
			defer jr.Close()
			// A resume of this run must be held to the same plan: keep a
			// copy next to the journal before anything is sent.
			if err := a.saveAppliedPlan(cmd.Context(), jr.ID(), saved); err != nil {
				_ = jr.Finish("failed")
				return err
			}
			guard := plan.NewGuard(saved)
			guard.Redact = plan.SecretScrubber(s.prog.SecretValues(s.inputs))
			err = a.execute(cmd.Context(), s, f, jr, guard.Wrap, &sink)
			if unused := guard.Unused(); len(unused) > 0 && err == nil {
				fmt.Fprintf(w, "warning: %d planned mutation(s) were not executed\n", len(unused))
			}
			return err
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringArrayVar(&f.inputs, "input", nil, "name=value: secret inputs, which plans do not store")
	return cmd
}

func hasInput(kvs []string, name string) bool {
	for _, kv := range kvs {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// inputString renders a plan's typed input back to the --input form the
// engine coerces by declared type.
func inputString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	default:
		b, _ := jsonMarshal(x)
		return string(b)
	}
}

// saveAppliedPlan keeps the plan an apply run executes in the state
// backend (<state>/plans/RUN.json locally), so that resuming the run, from
// any machine sharing the state, sends nothing the plan does not hold.
func (a *app) saveAppliedPlan(ctx context.Context, runID string, p *plan.Plan) error {
	b, err := a.openState(ctx)
	if err == nil {
		var body []byte
		if body, err = p.Encode(); err == nil {
			err = b.Put(ctx, appliedPlanDoc(runID), body)
		}
	}
	if err != nil {
		return fmt.Errorf("keeping the applied plan: %w; nothing was sent", err)
	}
	return nil
}

// appliedPlanGuard loads the plan an apply run executes and checks it is
// the one the run approved.
func (a *app) appliedPlanGuard(ctx context.Context, meta journal.RunMeta) (*plan.Guard, error) {
	var p *plan.Plan
	b, err := a.openState(ctx)
	if err == nil {
		var body []byte
		if body, err = b.Get(ctx, appliedPlanDoc(meta.RunID)); err == nil && body == nil {
			err = errors.New("not found")
		}
		if err == nil {
			p, err = plan.Parse(body)
		}
	}
	if err != nil {
		return nil, withCode(ExitFailed, fmt.Errorf("run %s applied plan %s, and its copy cannot be read (%v); nothing was sent. Make and apply a new plan", meta.RunID, meta.PlanHash, err))
	}
	if p.Hash != meta.PlanHash {
		return nil, withCode(ExitFailed, fmt.Errorf("run %s applied plan %s, but its kept copy is plan %s; nothing was sent. Make and apply a new plan", meta.RunID, meta.PlanHash, p.Hash))
	}
	return plan.NewGuard(p), nil
}
