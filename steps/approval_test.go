package steps_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/steps"
)

// fakeGate answers with decision once waiting was reported, as a person
// running `frameflow approve` would.
type fakeGate struct {
	mu       sync.Mutex
	decision *engine.ApprovalDecision
	waiting  []string
	decide   *engine.ApprovalDecision // set when Waiting is called
	ended    int                      // waits ended
}

func (g *fakeGate) Decision(_ context.Context, key string) (*engine.ApprovalDecision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.decision, nil
}

func (g *fakeGate) Waiting(_ context.Context, w engine.ApprovalWait) func() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting = append(g.waiting, w.Key+": "+w.Message)
	g.decision = g.decide
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.ended++
	}
}

func runApproval(t *testing.T, in map[string]any, mode engine.Mode, gate engine.ApprovalGate) (map[string]any, error) {
	t.Helper()
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	st, _ := reg.Lookup("approval")
	exercised.Store("approval", true)
	var events []engine.Event
	sc := engine.NewTestContext(engine.TestContextOptions{Mode: mode, StepID: "stores.gate", Index: -1, Approvals: gate, RunID: "R1", ItemKey: "store-7",
		Events: func(e engine.Event) { events = append(events, e) }})
	return st.Run(t.Context(), sc, in)
}

func TestApprovalStep(t *testing.T) {
	defer steps.SetApprovalPollForTest(5 * time.Millisecond)()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

	// Approved while waiting: the approver and time are the outputs.
	g := &fakeGate{decide: &engine.ApprovalDecision{Approved: true, By: "ann@ops", At: at, Comment: "looks fine"}}
	out, err := runApproval(t, map[string]any{"message": "canary ok?"}, engine.ModeRun, g)
	if err != nil || out["approved_by"] != "ann@ops" || out["approved_at"] != "2026-11-30T09:00:00Z" || out["comment"] != "looks fine" {
		t.Fatalf("approved: %v %v", out, err)
	}
	if len(g.waiting) != 1 || g.waiting[0] != "stores.gate[store-7]: canary ok?" {
		t.Fatalf("waiting reported as %v", g.waiting)
	}
	if g.ended != 1 {
		t.Fatalf("the wait's end was reported %d times, want once (runs would list it as waiting forever)", g.ended)
	}

	// Decided before the step ran (resume --approve): no wait, no prompt.
	g = &fakeGate{decision: &engine.ApprovalDecision{Approved: true, By: "bob", At: at}}
	if out, err := runApproval(t, nil, engine.ModeRun, g); err != nil || out["approved_by"] != "bob" || len(g.waiting) != 0 {
		t.Fatalf("decided before: %v %v %v", out, err, g.waiting)
	}

	// Rejected: the step fails with who rejected and why.
	g = &fakeGate{decide: &engine.ApprovalDecision{Approved: false, By: "carol", Comment: "store 2 is slow"}}
	if _, err := runApproval(t, nil, engine.ModeRun, g); err == nil || !strings.Contains(err.Error(), "rejected by carol: store 2 is slow") {
		t.Fatalf("rejected: %v", err)
	}

	// Nobody decides: the timeout fails the step and says how to go on.
	g = &fakeGate{}
	_, err = runApproval(t, map[string]any{"timeout": "30ms"}, engine.ModeRun, g)
	if err == nil || !strings.Contains(err.Error(), "nobody decided within 30ms") || !strings.Contains(err.Error(), "frameflow approve R1 'stores.gate[store-7]'") {
		t.Fatalf("timeout: %v", err)
	}

	// Plans do not wait; a run without a gate cannot be approved.
	if out, err := runApproval(t, nil, engine.ModePlan, nil); err != nil || !engine.IsUnknown(out["approved_by"]) {
		t.Fatalf("plan: %v %v", out, err)
	}
	if _, err := runApproval(t, nil, engine.ModeRun, nil); err == nil {
		t.Fatal("a run without a gate was approved")
	}
	if _, err := runApproval(t, map[string]any{"timeout": "soon"}, engine.ModeRun, &fakeGate{}); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("bad timeout: %v", err)
	}
}

// TestApprovalProgressNamesTheApproveCommand: the progress text a waiting
// gate prints quotes the approve command exactly as `runs`, `runs show` and
// the page print it (quoted only where a shell needs it).
func TestApprovalProgressNamesTheApproveCommand(t *testing.T) {
	defer steps.SetApprovalPollForTest(5 * time.Millisecond)()
	for _, c := range []struct{ step, item, want string }{
		{"gate", "", "frameflow approve R1 gate"},
		{"stores.gate", "store-7", "frameflow approve R1 'stores.gate[store-7]'"},
	} {
		reg := engine.NewRegistry()
		if err := steps.Register(reg, steps.Deps{}); err != nil {
			t.Fatal(err)
		}
		st, _ := reg.Lookup("approval")
		var mu sync.Mutex
		var progress []string
		g := &fakeGate{decide: &engine.ApprovalDecision{Approved: true, By: "ann@ops", At: time.Now()}}
		sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: c.step, Index: -1, Approvals: g, RunID: "R1", ItemKey: c.item,
			Events: func(e engine.Event) { mu.Lock(); progress = append(progress, e.Message); mu.Unlock() }})
		if _, err := st.Run(t.Context(), sc, map[string]any{"message": "ok?"}); err != nil {
			t.Fatal(err)
		}
		if got := engine.ApproveCommand("R1", engine.ApprovalKey(c.step, c.item)); got != c.want {
			t.Errorf("ApproveCommand: %q, want %q", got, c.want)
		}
		if joined := strings.Join(progress, "\n"); !strings.Contains(joined, "("+c.want+", or resume --approve)") {
			t.Errorf("progress does not quote %q as the approve command does:\n%s", c.want, joined)
		}
	}
}
