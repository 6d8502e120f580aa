package runner_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/runner"
)

const rollout = "../workflows/qa-rollout.yaml"

// service starts a simulator on 127.0.0.1 and a Service that reaches it
// over HTTP, as the CLI and the web server do.
func service(t *testing.T, stores int) (*runner.Service, *sim.Running) {
	t.Helper()
	s, err := sim.Start(sim.Options{Scenario: sim.RetailScenario(stores), TaskDuration: 30 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	env := map[string]string{"FRAME_API_URL": s.URL(), "FRAME_CLIENT_ID": "sim-client", "FRAME_CLIENT_SECRET": "sim-secret"}
	return runner.New(runner.Config{StateDir: t.TempDir(), Getenv: func(k string) string { return env[k] }}), s
}

func mutations(s *sim.Running) int {
	n := 0
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			n++
		}
	}
	return n
}

// events collects a sink's events; sinks are called concurrently.
type events struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (e *events) sink(ev engine.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }

func (e *events) count(typ engine.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.evs {
		if ev.Type == typ || typ == "" {
			n++
		}
	}
	return n
}

// A web page's path: plan, show the approval, apply exactly that plan hash
// later. Apply without the confirmed approval sends nothing.
func TestPlanThenApplyByHash(t *testing.T) {
	svc, s := service(t, 3)
	w, err := svc.Prepare(runner.Request{File: rollout})
	if err != nil {
		t.Fatal(err)
	}
	var planEvents events
	p, err := w.Plan(context.Background(), runner.PlanOptions{Events: planEvents.sink})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Mutations) != 9 || mutations(s) != 0 {
		t.Fatalf("plan: %d mutations planned, %d sent", len(p.Mutations), mutations(s))
	}
	if planEvents.count("request") == 0 {
		t.Errorf("the plan's reads were not reported to its sink")
	}

	_, err = w.Apply(context.Background(), p, runner.RunOptions{})
	var na *runner.NotApprovedError
	if !errors.As(err, &na) || na.Approval.PlanHash != p.Hash || mutations(s) != 0 {
		t.Fatalf("apply without approval: err %v, %d mutations sent", err, mutations(s))
	}
	wrong := runner.Approval{PlanHash: "sha256:other"}
	if _, err := w.Apply(context.Background(), p, runner.RunOptions{Approved: &wrong}); !errors.As(err, &na) || mutations(s) != 0 {
		t.Fatalf("apply approved for another plan: err %v, %d mutations sent", err, mutations(s))
	}

	approval := runner.ApplyApproval(p)
	planned := planEvents.count("")
	var runEvents events
	out, err := w.Apply(context.Background(), p, runner.RunOptions{Events: runEvents.sink, Approved: &approval})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Status != engine.RunSucceeded || mutations(s) != 9 || out.Unused != 0 {
		t.Fatalf("apply: status %s, %d mutations sent, %d unused", out.Result.Status, mutations(s), out.Unused)
	}
	if runEvents.count("run_finished") != 1 || runEvents.count("request") == 0 {
		t.Errorf("apply events: %d run_finished, %d requests", runEvents.count("run_finished"), runEvents.count("request"))
	}
	if planEvents.count("") != planned {
		t.Errorf("the apply's events reached the plan's sink")
	}

	runs, err := svc.Runs()
	if err != nil || len(runs) != 1 || runs[0].ID != out.RunID || runs[0].Status != "succeeded" {
		t.Fatalf("runs after apply: %+v, %v", runs, err)
	}
	sum, err := svc.RunSummary(out.RunID)
	if err != nil || sum.Workflow != runs[0].Workflow {
		t.Fatalf("run summary: %+v, %v", sum, err)
	}
}

// A stale plan is refused with the differences as data, and nothing sent.
func TestStalePlanReturnsDifferences(t *testing.T) {
	svc, s := service(t, 2)
	w, err := svc.Prepare(runner.Request{File: rollout})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Plan(context.Background(), runner.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAccount(sim.AccountSpec{Name: "Store-Newtown", CloudProvider: "aws"}); err != nil {
		t.Fatal(err)
	}
	// A fresh preparation, as a later request of a web server would make.
	w2, err := svc.PrepareApply(runner.ApplyRequest{Plan: p, Path: "saved.plan"})
	if err != nil {
		t.Fatal(err)
	}
	approval := runner.ApplyApproval(p)
	_, err = w2.Apply(context.Background(), p, runner.RunOptions{Approved: &approval})
	var stale *runner.StaleError
	if !errors.As(err, &stale) || len(stale.Diffs) == 0 {
		t.Fatalf("want a StaleError with differences, got %v", err)
	}
	found := false
	for _, d := range stale.Diffs {
		found = found || strings.Contains(d.Message, "Store-Newtown")
	}
	if !found {
		t.Errorf("the differences do not name the new store: %+v", stale.Diffs)
	}
	if mutations(s) != 0 {
		t.Errorf("a stale apply sent %d mutations", mutations(s))
	}
}

// Run needs the engine's own approval list confirmed; without it nothing
// is sent, and the error carries the list to show.
func TestRunNeedsConfirmedApproval(t *testing.T) {
	svc, s := service(t, 2)
	w, err := svc.Prepare(runner.Request{File: rollout})
	if err != nil {
		t.Fatal(err)
	}
	need := w.Approval()
	if !need.Needed() || !strings.Contains(strings.Join(need.Labels(), ","), "(sandbox.clone)") {
		t.Fatalf("approval: %+v", need)
	}
	_, err = w.Run(context.Background(), runner.RunOptions{})
	var na *runner.NotApprovedError
	if !errors.As(err, &na) || len(na.Approval.Steps) != len(need.Steps) {
		t.Fatalf("want NotApprovedError with the steps, got %v", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests sent without approval", n)
	}
	out, err := w.Run(context.Background(), runner.RunOptions{Approved: &need})
	if err != nil || out.Result.Status != engine.RunSucceeded || mutations(s) != 6 {
		t.Fatalf("approved run: %v, %d mutations", err, mutations(s))
	}
}

// Preflight finds a refused input offline, by the error's type, before
// any request: min above max fails at the elasticity step.
func TestPreflightFindsInvalidInputOffline(t *testing.T) {
	svc, s := service(t, 2)
	w, err := svc.Prepare(runner.Request{File: rollout, Inputs: runner.Inputs{Values: map[string]any{"min_servers": 9, "max_servers": 5}}})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Preflight(context.Background())
	var pf *runner.PreflightError
	if !errors.As(err, &pf) || len(pf.Failures) == 0 {
		t.Fatalf("want a PreflightError, got %v", err)
	}
	for _, f := range pf.Failures {
		if !strings.Contains(f.Error, "min_servers 9 is more than max_servers 5") {
			t.Errorf("unexpected failure %+v", f)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("preflight sent %d requests", n)
	}
	need := w.Approval()
	if _, err := w.Run(context.Background(), runner.RunOptions{Approved: &need}); !errors.As(err, &pf) || len(s.Requests()) != 0 {
		t.Errorf("Run did not refuse the input before sending: %v", err)
	}
}

// Bad input and a bad file are typed errors; the file's problems are all
// there with their positions.
func TestPrepareErrorsAreTyped(t *testing.T) {
	svc, _ := service(t, 1)
	_, err := svc.Prepare(runner.Request{File: rollout, Inputs: runner.Inputs{Text: map[string]string{"max_servrs": "3"}}})
	var ie *runner.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `did you mean "max_servers"`) {
		t.Errorf("unknown input: %v", err)
	}
	_, err = svc.Prepare(runner.Request{File: "bad.yaml", Source: []byte("version: 1\nname: x\nsteps:\n  - id: a\n    uses: nope.nope\n")})
	var we *runner.WorkflowError
	if !errors.As(err, &we) || len(we.Diagnostics) == 0 || we.Diagnostics[0].Pos.Line != 5 {
		t.Errorf("bad workflow: %v %v", err, we.Diagnostics)
	}
	_, err = svc.Prepare(runner.Request{File: "/nonexistent/x.yaml"})
	if !errors.As(err, &we) || we.Diagnostics[0].Message != "no such file" {
		t.Errorf("missing file: %v", err)
	}
}

// Secret inputs are registered for redaction and stored as "(sensitive)".
func TestSecretsInOnePlace(t *testing.T) {
	src := []byte("version: 1\nname: s\ninputs:\n  token:\n    type: string\n    secret: true\nsteps:\n  - id: list\n    uses: accounts.list\n")
	var got []string
	svc := runner.New(runner.Config{StateDir: t.TempDir(), Secrets: recorder{&got}})
	w, err := svc.Prepare(runner.Request{File: "s.yaml", Source: src, Offline: true, Inputs: runner.Inputs{Text: map[string]string{"token": "hunter22"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "hunter22" {
		t.Errorf("secrets registered: %q", got)
	}
	if v := w.RedactedInputs()["token"]; v != runner.Sensitive {
		t.Errorf("redacted input: %v", v)
	}
}

type recorder struct{ got *[]string }

func (r recorder) Add(v ...string) {
	for _, s := range v {
		if s != "" {
			*r.got = append(*r.got, s)
		}
	}
}
func (r recorder) String(s string) string { return s }

// A workflow prepared offline can be planned offline and nothing else: it
// has no client to read or change the estate with.
func TestOfflinePreparationOnlyPlansOffline(t *testing.T) {
	svc, s := service(t, 2)
	w, err := svc.Prepare(runner.Request{File: rollout, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Plan(context.Background(), runner.PlanOptions{Offline: true})
	if err != nil || !p.Offline {
		t.Fatalf("offline plan: %v", err)
	}
	if _, err := w.Plan(context.Background(), runner.PlanOptions{}); err == nil {
		t.Errorf("a live plan from an offline preparation did not fail")
	}
	need := w.Approval()
	if _, err := w.Run(context.Background(), runner.RunOptions{Approved: &need}); err == nil {
		t.Errorf("a run from an offline preparation did not fail")
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
