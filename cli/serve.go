package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/runner"
	"github.com/frameflow/frameflow/serve"
	"github.com/frameflow/frameflow/state"
	"github.com/spf13/cobra"
)

// serveFlags are the flags of `frameflow serve` (and `demo --serve`).
type serveFlags struct {
	addr         string
	playbooks    string
	trustedProxy string
	userHeader   string
	requireLogin bool
}

func (a *app) serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "The rollout as web pages: accounts, playbooks, plan, one-click approve and apply, live runs, history",
		Long: `Serves a web application from this binary: the organization's accounts, the
playbooks of --playbooks, a form per playbook, its plan, "Approve and apply"
bound to that plan's hash, the run live, and the history of the state backend
(--state: the state directory or PostgreSQL). It plans, applies, resumes and
journals exactly as the command line does. Plans made in the page are kept in
the state backend (not their secret inputs), so servers sharing it apply each
plan once between them.

Security: it listens on 127.0.0.1 by default and then asks no login. On any
other address it requires FRAMEFLOW_SERVE_TOKEN (16 characters or more), which
a person types once to get a session cookie; wrong tokens are rate-limited per
address and in all (429 with Retry-After). With --trusted-proxy, the user
name comes from the proxy's --user-header, read only on requests from that
proxy. Every approval is journaled with its approver.

Environment: FRAME_API_URL, FRAME_CLIENT_ID, FRAME_CLIENT_SECRET as for every
command; FRAMEFLOW_SERVE_TOKEN.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), f, nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8088", "listen address; other than loopback needs FRAMEFLOW_SERVE_TOKEN")
	fl.StringVar(&f.playbooks, "playbooks", "workflows", "directory of the playbooks offered")
	fl.StringVar(&f.trustedProxy, "trusted-proxy", "", "IP or CIDR of a reverse proxy whose user header names the person")
	fl.StringVar(&f.userHeader, "user-header", "X-Forwarded-User", "the trusted proxy's user name header")
	fl.BoolVar(&f.requireLogin, "require-login", false, "ask for FRAMEFLOW_SERVE_TOKEN on loopback too (a shared machine)")
	return cmd
}

// serve runs the web application until ctx ends. ready, when set, gets the
// base URL once it listens.
func (a *app) serve(ctx context.Context, f serveFlags, ready func(url string)) error {
	if st, err := os.Stat(f.playbooks); err != nil || !st.IsDir() {
		return usageErr("--playbooks %s: not a directory", f.playbooks)
	}
	token := a.getenv("FRAMEFLOW_SERVE_TOKEN")
	a.red.Add(token)
	svc := a.service()
	be := &serveBackend{svc: svc}
	// Plans made in the page, and which run applied each, are kept in the
	// state backend: they survive a restart, and serve processes sharing
	// it (PostgreSQL) apply a plan once between them.
	backend, err := a.openState(ctx)
	if err != nil {
		return err
	}
	local := "local user"
	if u, err := user.Current(); err == nil && u.Username != "" {
		local = u.Username
	}
	var clientOnce sync.Once
	var reader serve.AccountReader
	var clientErr error
	srv, err := serve.New(serve.Options{
		Addr: f.addr, PlaybooksDir: f.playbooks, Token: token, RequireLogin: f.requireLogin, TrustedProxy: f.trustedProxy, UserHeader: f.userHeader,
		LocalUser: local, Backend: be, Store: serveStore{backend}, Logger: a.logger, Redact: a.red.String, Version: Version,
		Accounts: func() (serve.AccountReader, error) {
			clientOnce.Do(func() {
				c, err := svc.Client(true, nil)
				reader, clientErr = c, err
			})
			return reader, clientErr
		},
	})
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	url := "http://" + l.Addr().String()
	w := a.red.Writer(a.streams.Out)
	fmt.Fprintf(w, "frameflow serve listening on %s/ (playbooks: %s, state: %s). Stop with Ctrl-C.\n", url, f.playbooks, backend.Describe())
	if ready != nil {
		ready(url)
	}
	return srv.Serve(ctx, l)
}

// serveStore is the state backend as the page keeps plans in it.
type serveStore struct{ state.Backend }

// applyLockTimeout bounds how long a click waits for another serve
// process that is starting the same plan's run (reading the estate again
// first): long enough for a large estate's reads, short of forever.
const applyLockTimeout = 10 * time.Minute

func (s serveStore) Lock(ctx context.Context, name string) (func(), error) {
	release, err := s.Locks("serve", applyLockTimeout).Acquire(ctx, []string{name}, func(string, string) {})
	var lt *state.LockTimeoutError
	if errors.As(err, &lt) {
		// Not a run's resource: say what the wait was for, without the
		// run flag (--lock-timeout) the generic message names.
		return nil, fmt.Errorf("another serve process (%s) has been starting this plan's run for %s", strings.TrimPrefix(lt.Holder, "run serve on "), lt.Timeout)
	}
	return release, err
}

// serveBackend is the page's engine: the runner, exactly as the commands
// use it. It adds nothing but translation between the two packages' types.
type serveBackend struct {
	svc *runner.Service

	regOnce sync.Once
	reg     *engine.Registry
	regErr  error
}

func (b *serveBackend) Playbook(file string) (*serve.Playbook, error) {
	b.regOnce.Do(func() { b.reg, b.regErr = runner.NewRegistry(nil, nil) })
	if b.regErr != nil {
		return nil, b.regErr
	}
	prog, diags := runner.Load(file, b.reg)
	if len(diags) > 0 {
		p := &serve.Playbook{File: file}
		for _, d := range diags {
			p.Problems = append(p.Problems, d.String())
		}
		return p, nil
	}
	return &serve.Playbook{File: file, Workflow: prog.Workflow()}, nil
}

// inputProblems turns the runner's refusals of bad input into the form's
// problems; any other error stays as it is.
func inputProblems(err error) error {
	var we *runner.WorkflowError
	var ie *runner.InputError
	var re *runner.RefusedError
	var pe *runner.PreflightError
	switch {
	case errors.As(err, &we):
		var ps []string
		for _, d := range we.Diagnostics {
			ps = append(ps, d.String())
		}
		return &serve.InputError{Problems: ps}
	case errors.As(err, &ie), errors.As(err, &re):
		return &serve.InputError{Problems: strings.Split(err.Error(), "\n")}
	case errors.As(err, &pe):
		var ps []string
		for _, f := range pe.Failures {
			ps = append(ps, f.Label()+": "+f.Error)
		}
		return &serve.InputError{Problems: ps}
	}
	return err
}

func (b *serveBackend) Plan(ctx context.Context, file string, inputs map[string]string) (*plan.Plan, error) {
	w, err := b.svc.Prepare(runner.Request{File: file, Inputs: runner.Inputs{Text: inputs}})
	if err != nil {
		return nil, inputProblems(err)
	}
	// The offline preflight finds inputs a step would refuse (min above
	// max) before the plan reads anything, as run does.
	if err := w.Preflight(ctx); err != nil {
		return nil, inputProblems(err)
	}
	p, err := w.Plan(ctx, runner.PlanOptions{})
	if err != nil {
		return nil, inputProblems(err)
	}
	return p, nil
}

// startedSink calls started once with the run's id (the engine's
// run_started event comes after the journal exists), then forwards.
func startedSink(events engine.EventSink, started func(string)) engine.EventSink {
	var once sync.Once
	return func(ev engine.Event) {
		if ev.Type == "run_started" && started != nil {
			once.Do(func() { started(ev.RunID) })
		}
		if events != nil {
			events(ev)
		}
	}
}

func (b *serveBackend) Apply(ctx context.Context, r serve.ApplyRequest) (string, error) {
	// One plan is applied once: a run that already executes this plan
	// (from the page or `frameflow apply`) is the place to continue.
	if runs, err := b.svc.Runs(); err == nil {
		for _, run := range runs {
			if run.Mode == "apply" && run.PlanHash == r.Plan.Hash {
				return "", &serve.AlreadyAppliedError{PlanHash: r.Plan.Hash, RunID: run.ID}
			}
		}
	}
	w, err := b.svc.PrepareApply(runner.ApplyRequest{Plan: r.Plan, Secrets: runner.Inputs{Text: r.Inputs}})
	if err != nil {
		return "", inputProblems(err)
	}
	approval := runner.ApplyApproval(r.Plan)
	approval.By = r.Approver
	out, err := w.Apply(ctx, r.Plan, runner.RunOptions{Events: startedSink(r.Events, r.Started), Approved: &approval})
	var stale *runner.StaleError
	if errors.As(err, &stale) {
		se := &serve.StaleError{PlanHash: stale.PlanHash}
		for _, d := range stale.Diffs {
			se.Differences = append(se.Differences, d.String())
		}
		return "", se
	}
	if err != nil {
		return "", inputProblems(err)
	}
	if out == nil || out.Result == nil {
		return "", errors.New("the plan has no changes; nothing was sent")
	}
	return string(out.Result.Status), nil
}

func (b *serveBackend) Resume(ctx context.Context, r serve.ResumeRequest) (string, error) {
	res, err := b.svc.Resume(runner.ResumeRequest{RunID: r.RunID, Inputs: runner.Inputs{Text: r.Inputs}, Approver: r.Approver})
	if err != nil {
		return "", inputProblems(err)
	}
	defer res.Close()
	if r.Started != nil {
		r.Started(res.RunID())
	}
	approval := res.Approval()
	approval.By = r.Approver
	out, err := res.Run(ctx, runner.RunOptions{Events: r.Events, Approved: &approval})
	if err != nil {
		return "", inputProblems(err)
	}
	return string(out.Result.Status), nil
}

func summaryOf(r journal.RunSummary) serve.RunSummary {
	return serve.RunSummary{ID: r.ID, Workflow: r.Workflow, File: r.File, Mode: r.Mode, PlanHash: r.PlanHash, Approver: r.Approver,
		Started: r.Started, Finished: r.Finished, Status: r.Status, Attempts: len(r.Attempts), Error: r.Error, Waiting: gatesOf(r.ID, r.Waiting)}
}

func gatesOf(runID string, ws []journal.WaitingApproval) []serve.Gate {
	var out []serve.Gate
	for _, w := range ws {
		out = append(out, serve.Gate{Step: w.Key, Message: w.Message, Since: w.Since, Deadline: w.Deadline, Approve: runner.ApproveCommand(runID, w.Key), Approvers: w.Approvers})
	}
	return out
}

func (b *serveBackend) Gates(id string) ([]serve.Gate, error) {
	ws, err := b.svc.Waiting(id)
	if err != nil {
		return nil, err
	}
	return b.withDecisions(id, gatesOf(id, ws)), nil
}

// withDecisions adds to gates what was decided on them already.
func (b *serveBackend) withDecisions(id string, gates []serve.Gate) []serve.Gate {
	for i := range gates {
		if d, err := b.svc.ApprovalDecision(id, gates[i].Step); err == nil && d != nil {
			gates[i].Decision = &serve.Decision{Approved: d.Approved, By: d.By, At: d.At, Comment: d.Comment}
		}
	}
	return gates
}

// Decide goes through runner's Approve, as `frameflow approve` does: the
// same step check, the same write-once document.
func (b *serveBackend) Decide(_ context.Context, r serve.DecideRequest) error {
	_, err := b.svc.Approve(runner.ApproveRequest{RunID: r.RunID, Step: r.Step, Reject: r.Reject, By: r.By, Comment: r.Comment})
	return err
}

func (b *serveBackend) Runs() ([]serve.RunSummary, error) {
	runs, err := b.svc.Runs()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]serve.RunSummary, 0, len(runs))
	for _, r := range runs {
		out = append(out, summaryOf(r))
	}
	return out, nil
}

func (b *serveBackend) Run(id string) (*serve.RunDetail, error) {
	// The same data as `frameflow runs show`.
	det, err := b.svc.RunDetail(id)
	if err != nil {
		return nil, err
	}
	d := &serve.RunDetail{RunSummary: summaryOf(det.RunSummary), Inputs: det.Inputs}
	d.Waiting = b.withDecisions(id, d.Waiting)
	if det.Status == journal.StatusFailed { // not while running: the page polls those
		rc := b.svc.RunRecap(det)
		d.Rejected, d.OnlyRejected = rc.Rejected, len(rc.Rejected) > 0 && rc.Resume == ""
	}
	for _, at := range det.Attempts {
		d.AttemptList = append(d.AttemptList, serve.Attempt{N: at.N, Started: at.Started, Finished: at.Finished, Status: at.Status, Approver: at.Approver, Host: at.Host, PID: at.PID})
	}
	for k, v := range det.Inputs {
		if s, ok := v.(string); ok && s == plan.Sensitive {
			d.SecretInputs = append(d.SecretInputs, k)
		}
	}
	sort.Strings(d.SecretInputs)
	for _, st := range det.Steps {
		d.Steps = append(d.Steps, serve.StepRecord{Step: st.Step, Item: st.Item, Status: st.Status, Error: st.Error, Attempts: st.Attempts, Duration: st.Duration})
	}
	if det.Mode == "apply" {
		if p, err := b.svc.AppliedPlan(id); err == nil {
			d.Plan = p
		}
	}
	return d, nil
}
