package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
	"github.com/frameflow/frameflow/steps"
	"github.com/spf13/cobra"
)

// runFlags are shared by run, resume and apply.
type runFlags struct {
	inputs      []string
	inputsFile  string
	yes         bool
	parallelism int
	output      string
	junit       string
}

func (f *runFlags) register(cmd *cobra.Command, withInputs bool) {
	fl := cmd.Flags()
	if withInputs {
		fl.StringArrayVar(&f.inputs, "input", nil, "name=value: a workflow input (repeatable)")
		fl.StringVar(&f.inputsFile, "inputs", "", "YAML or JSON file of inputs")
	}
	fl.BoolVar(&f.yes, "yes", false, "approve destructive steps without asking")
	fl.IntVar(&f.parallelism, "parallelism", 0, "most steps in flight (overrides the workflow's concurrency)")
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
		Use:               "run FILE",
		Short:             "Validate and run a workflow",
		Long:              "Validate and run a workflow. Destructive steps (clone, ...) need --yes, or a yes typed at the terminal after the plan is shown.\n\n" + exitCodesHelp,
		Args:              exactArgs(1, "FILE"),
		ValidArgsFunction: yamlFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				a.printDiagnostics(cmd.ErrOrStderr(), schema.Diagnostics{{Pos: schema.Pos{File: args[0], Line: 1, Col: 1}, Message: readError(err)}})
				return invalidWorkflow(1)
			}
			return a.runWorkflow(cmd.Context(), args[0], src, f)
		},
	}
	f.register(cmd, true)
	return cmd
}

// runSession is one execution of a workflow against the API.
type runSession struct {
	a       *app
	client  *frame.Client
	reg     *engine.Registry
	prog    *engine.Program
	inputs  map[string]any
	events  engine.EventSink
	out     io.Writer
	started time.Time
}

// prepare builds the client (read-only when planning), the registry and the
// compiled program, and binds inputs. Nothing is sent.
func (a *app) prepare(file string, src []byte, f runFlags, mode engine.Mode, sink *engine.EventSink) (*runSession, error) {
	s := &runSession{a: a, out: a.red.Writer(a.streams.Out), started: time.Now()}
	if mode != engine.ModeOffline {
		c, err := a.newClient(clientOptions{readOnly: mode == engine.ModePlan, onRequest: func(ri frame.RequestInfo) {
			if sink != nil && *sink != nil {
				(*sink)(requestEvent(ri))
			}
		}})
		if err != nil {
			return nil, err
		}
		s.client = c
	}
	reg, err := newRegistry(s.client, steps.NewPoller(steps.PollConfig{}))
	if err != nil {
		return nil, err
	}
	s.reg = reg
	prog, diags := compileSource(file, src, reg)
	if len(diags) > 0 {
		a.printDiagnostics(a.red.Writer(a.streams.Err), diags)
		return nil, invalidWorkflow(len(diags))
	}
	s.prog = prog
	raw, err := parseInputFlags(f.inputs)
	if err != nil {
		return nil, err
	}
	typed, err := readInputsFile(f.inputsFile)
	if err != nil {
		return nil, err
	}
	in, err := prog.BindInputs(raw, typed)
	if err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	a.red.Add(prog.SecretValues(in)...)
	s.inputs = in
	return s, nil
}

func requestEvent(ri frame.RequestInfo) engine.Event {
	ev := engine.Event{Type: "request", Time: time.Now(), Method: ri.Method, Path: ri.Path, HTTPStatus: ri.Status, Duration: ri.Duration, Attempt: ri.Attempt}
	ev.Error = ri.Err
	return ev
}

// destructiveSteps lists the steps that need approval: destructive step
// types and steps marked confirm: true.
func destructiveSteps(prog *engine.Program, reg *engine.Registry) []string {
	var out []string
	var walk func(ss []*schema.Step, prefix string)
	walk = func(ss []*schema.Step, prefix string) {
		for _, st := range ss {
			if st.IsGroup() {
				walk(st.Steps, prefix+st.ID+".")
				continue
			}
			t, ok := reg.Lookup(st.Uses)
			if st.Confirm || ok && t.Destructive {
				out = append(out, fmt.Sprintf("%s%s (%s)", prefix, st.ID, st.Uses))
			}
		}
	}
	walk(prog.Workflow().Steps, "")
	return out
}

// approve decides whether destructive steps may run: --yes, or a yes typed
// at a terminal after seeing the plan. Without either nothing is sent.
func (a *app) approve(ctx context.Context, file string, src []byte, f runFlags, need []string) error {
	if len(need) == 0 || f.yes {
		return nil
	}
	if !(a.streams.InTTY && a.streams.OutTTY) {
		return withCode(ExitFailed, fmt.Errorf("refusing to run without approval: %s overwrite or delete data; pass --yes, or run in a terminal to review the plan and confirm. Nothing was sent", strings.Join(need, ", ")))
	}
	p, err := a.makePlan(ctx, file, src, f, engine.ModePlan)
	if err != nil {
		return err
	}
	if err := renderPlan(a, a.red.Writer(a.streams.Out), p, "text"); err != nil {
		return err
	}
	ok, err := confirmPrompt(a, "\nDo you want to perform these actions?")
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitFailed, errors.New("not approved; nothing was changed"))
	}
	return nil
}

func (a *app) runWorkflow(ctx context.Context, file string, src []byte, f runFlags) error {
	var sink engine.EventSink
	s, err := a.prepare(file, src, f, engine.ModeRun, &sink)
	if err != nil {
		return err
	}
	if err := a.preflight(ctx, s, f); err != nil {
		return err
	}
	if err := a.approve(ctx, file, src, f, destructiveSteps(s.prog, s.reg)); err != nil {
		return err
	}
	store, err := a.journalStore(ctx, false)
	if err != nil {
		return err
	}
	wf := s.prog.Workflow()
	jr, err := store.Create(journal.RunMeta{
		Workflow: wf.Name, File: file, FileHash: wf.Hash, Inputs: a.redactInputs(s.prog, s.inputs),
		Mode: "run", Started: time.Now().UTC(),
	})
	if err != nil {
		return err
	}
	defer jr.Close()
	return a.execute(ctx, s, f, jr, nil, &sink)
}

// preflight runs the workflow offline (no request at all) to find inputs
// that a step would refuse: a capacity of -1, min above max. Without it
// such a typo is found by the last step of each chain, after every store
// was cloned and published. Only refusals of invalid input count here;
// anything else offline is not evidence about the real run.
func (a *app) preflight(ctx context.Context, s *runSession, f runFlags) error {
	var mu sync.Mutex
	var bad []string
	res, err := s.prog.Run(ctx, engine.RunOptions{
		Mode: engine.ModeOffline, RunID: "preflight", Inputs: s.inputs, Parallelism: f.parallelism, Getenv: a.getenv,
		Classify: func(err error) (string, time.Duration) {
			if c, _ := frame.Classify(err); c == frame.ClassInvalid {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
			}
			return classify(err)
		},
	})
	if err != nil {
		// Run refuses before starting only over what the inputs make of
		// vars and filters (target_filter='name =='): invalid input.
		return withCode(ExitInvalid, err)
	}
	if res.Status == "succeeded" || len(bad) == 0 {
		return nil
	}
	var msgs []string
	for _, st := range res.Steps {
		if st.Status != "failed" || !slices.Contains(bad, st.Error) {
			continue
		}
		label := st.Step
		if st.Item != "" {
			label += " [" + st.Item + "]"
		}
		msgs = append(msgs, label+": "+st.Error)
	}
	if len(msgs) == 0 {
		return nil
	}
	return withCode(ExitInvalid, fmt.Errorf("invalid input, found before sending anything (nothing was sent):\n  %s", strings.Join(msgs, "\n  ")))
}

func (a *app) journalOptions(assumeNotSent bool) journal.Options {
	return journal.Options{
		AssumeNotSent:    assumeNotSent,
		IsOutcomeUnknown: func(err error) bool { var ou *frame.OutcomeUnknownError; return errors.As(err, &ou) },
		Redact:           a.red.String,
		Estate:           a.estate(),
	}
}

// journalStore is the run journals of the state backend (--state).
func (a *app) journalStore(ctx context.Context, assumeNotSent bool) (*journal.Store, error) {
	b, err := a.openState(ctx)
	if err != nil {
		return nil, err
	}
	return b.Journals(a.journalOptions(assumeNotSent)), nil
}

// redactInputs returns inputs with secret values replaced, for journals and
// plans.
func (a *app) redactInputs(prog *engine.Program, in map[string]any) map[string]any {
	secret := map[string]bool{}
	for _, i := range prog.Workflow().Inputs {
		if i.Secret {
			secret[i.Name] = true
		}
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		if secret[k] {
			out[k] = "(sensitive)"
			continue
		}
		out[k] = v
	}
	return out
}

// execute runs the program in run mode through the journal, rendering events,
// and turns the outcome into an exit code.
func (a *app) execute(ctx context.Context, s *runSession, f runFlags, jr *journal.Run, wrap func(engine.MutationRecorder) engine.MutationRecorder, sink *engine.EventSink) error {
	view := a.newRunView(f.output)
	*sink = view.Event
	var rec engine.MutationRecorder = jr
	if wrap != nil {
		rec = wrap(jr)
	}
	res, err := s.prog.Run(ctx, engine.RunOptions{
		Mode:        engine.ModeRun,
		RunID:       jr.ID(),
		Inputs:      s.inputs,
		Parallelism: f.parallelism,
		Events:      view.Event,
		Recorder:    rec,
		Journal:     jr,
		Classify:    classify,
		Getenv:      a.getenv,
		Logger:      a.logger,
		Locks:       a.sharedLocks(jr.ID()),
	})
	view.Close()
	if err != nil {
		_ = jr.Finish("failed")
		return err
	}
	if ferr := jr.Finish(res.Status); ferr != nil {
		fmt.Fprintln(a.red.Writer(a.streams.Err), "warning: journal:", ferr)
	}
	if f.output == "text" {
		fmt.Fprintln(s.out)
		writeSummary(s.out, res)
	}
	if f.junit != "" {
		if err := writeJUnit(f.junit, s.prog.Workflow().Name, res, a.red); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	a.appendStepSummary(func(w io.Writer) { writeRunMarkdown(w, res) })
	switch res.Status {
	case "succeeded":
		return nil
	case "interrupted":
		return withCode(ExitInterrupted, fmt.Errorf("interrupted; continue with: frameflow resume %s", res.RunID))
	default:
		return withCode(ExitFailed, fmt.Errorf("run %s failed; after fixing the cause, continue with: frameflow resume %s", res.RunID, res.RunID))
	}
}

func classify(err error) (string, time.Duration) {
	c, d := frame.Classify(err)
	return string(c), d
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
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", s.Step, s.Item, s.Status, s.Duration.Round(time.Millisecond), strings.ReplaceAll(stripControl(s.Error), "|", "\\|"))
	}
	fmt.Fprintln(w)
}
