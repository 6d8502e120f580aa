package plan_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
)

// failer is a downstream recorder that can be told a mutation failed (the
// journal in real applies).
type failer struct {
	told []string
	err  error
}

func (f *failer) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	return m.Send(ctx)
}

func (f *failer) MutationFailed(key, reason string) error {
	f.told = append(f.told, key+": "+reason)
	return f.err
}

// cloneAttempt runs one attempt of Store-Reno's clone through rec, as the
// engine's StepContext does, counting the clones sent.
func cloneAttempt(t *testing.T, rec engine.MutationRecorder, clones *int) string {
	t.Helper()
	sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: "rollout.clone", Item: "acc-11", Recorder: rec})
	m := cloneMutation(stores[0])
	m.Send = func(context.Context) (any, error) {
		*clones++
		return map[string]any{"id": fmt.Sprintf("task-%d", *clones), "stage": "not_started"}, nil
	}
	res, err := sc.Mutate(context.Background(), m)
	if err != nil {
		t.Fatalf("clone attempt refused: %v", err)
	}
	return res.(map[string]any)["id"].(string)
}

// A clone whose task failed changed nothing: the engine tells the guard, and
// the retried step (or resumed apply) clones once more; after that the plan's
// mutation is executed and answered as usual.
func TestGuardReleasesAMutationWhoseTaskFailed(t *testing.T) {
	for _, next := range []*failer{nil, {}} {
		name := "sending itself"
		if next != nil {
			name = "wrapping the journal"
		}
		t.Run(name, func(t *testing.T) {
			g := plan.NewGuard(rolloutPlan())
			var rec engine.MutationRecorder
			if next != nil {
				rec = g.Wrap(next)
			} else {
				rec = g.Wrap(nil)
			}
			f, ok := rec.(engine.MutationFailer)
			if !ok {
				t.Fatal("the guarded recorder is not an engine.MutationFailer")
			}
			clones := 0
			const k = "rollout.clone[acc-11]#1"
			if id := cloneAttempt(t, rec, &clones); id != "task-1" {
				t.Fatalf("first clone answered %s", id)
			}
			if err := f.MutationFailed(k, "task task-1 ended in stage failed"); err != nil {
				t.Fatal(err)
			}
			if next != nil && (len(next.told) != 1 || next.told[0] != k+": task task-1 ended in stage failed") {
				t.Errorf("the wrapped recorder was told %q", next.told)
			}
			if !unused(g, k) {
				t.Error("a mutation whose task failed counts as executed")
			}
			if id := cloneAttempt(t, rec, &clones); id != "task-2" || clones != 2 {
				t.Fatalf("retry answered %s after %d clones; want a second clone", id, clones)
			}
			if id := cloneAttempt(t, rec, &clones); id != "task-2" || clones != 2 {
				t.Fatalf("a further attempt answered %s after %d clones; want the second clone's task, not sent", id, clones)
			}
			if unused(g, k) {
				t.Error("the re-sent clone is still unused")
			}
			// Unknown keys and mutations not executed are left alone.
			if err := f.MutationFailed("rollout.clone[acc-99]#1", "x"); err != nil {
				t.Error(err)
			}
		})
	}
}

// When the journal cannot record the failure, the guard keeps the slot
// executed: the retry gets the first answer, as the journal would give it.
func TestGuardKeepsTheSlotWhenTheJournalRefuses(t *testing.T) {
	g := plan.NewGuard(rolloutPlan())
	next := &failer{err: errors.New("journal: sync: disk full")}
	rec := g.Wrap(next)
	clones := 0
	cloneAttempt(t, rec, &clones)
	if err := rec.(engine.MutationFailer).MutationFailed("rollout.clone[acc-11]#1", "task failed"); err == nil {
		t.Fatal("the journal's error was not returned")
	}
	if id := cloneAttempt(t, rec, &clones); id != "task-1" || clones != 1 {
		t.Fatalf("answered %s after %d clones; want the first answer, nothing sent", id, clones)
	}
}

func unused(g *plan.Guard, key string) bool {
	for _, m := range g.Unused() {
		if m.Key == key {
			return true
		}
	}
	return false
}

// Headers are part of what apply checks (http.request): a header changed
// since the plan is refused before sending; a planned "(known after apply)"
// matches any value, and the same headers pass.
func TestGuardComparesHeaders(t *testing.T) {
	hookMutation := func(h map[string]string) *engine.Mutation {
		return &engine.Mutation{Type: "http.request", Method: "POST", Path: "https://hooks.example.com/x", Headers: h,
			Body: []byte(`{"text":"done"}`)}
	}
	res := &engine.Result{Mutations: []engine.PlannedMutation{{Step: "tell", Index: -1, Key: "tell[]#1",
		Mutation: hookMutation(map[string]string{"X-Team": "retail", "X-Run": "(known after apply)"})}}}
	p := plan.FromResult(workflow, nil, nil, res, false, destructive)
	for _, tc := range []struct {
		headers map[string]string
		pass    bool
	}{
		{map[string]string{"X-Team": "finance", "X-Run": "7"}, false},
		{map[string]string{"X-Team": "retail"}, false},
		{map[string]string{"X-Team": "retail", "X-Run": "7"}, true},
	} {
		sent := 0
		m := hookMutation(tc.headers)
		m.Send = func(context.Context) (any, error) { sent++; return map[string]any{}, nil }
		sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: "tell", Index: -1, Recorder: plan.NewGuard(p).Wrap(nil)})
		_, err := sc.Mutate(context.Background(), m)
		if tc.pass != (err == nil) || sent != map[bool]int{true: 1}[tc.pass] {
			t.Errorf("headers %v: err %v, sent %d", tc.headers, err, sent)
		}
		if err != nil && !errors.Is(err, plan.ErrNotPlanned) {
			t.Errorf("headers %v: want ErrNotPlanned, got %v", tc.headers, err)
		}
	}
}

// An http.request's URL holds its query: a planned value known only after
// apply matches any value of that parameter, nothing else does.
func TestGuardMatchesUnknownQueryValuesInAURL(t *testing.T) {
	const planned = "https://t.example.com/changes/7?note=%28known+after+apply%29&team=retail"
	res := &engine.Result{Mutations: []engine.PlannedMutation{{Step: "tell", Index: -1, Key: "tell[]#1",
		Mutation: &engine.Mutation{Type: "http.request", Method: "POST", Path: planned}}}}
	p := plan.FromResult(workflow, nil, nil, res, false, destructive)
	for url, pass := range map[string]bool{
		"https://t.example.com/changes/7?note=task-42&team=retail":     true,
		"https://t.example.com/changes/7?note=task-42&team=finance":    false,
		"https://t.example.com/changes/7?team=retail&note=task-42":     false,
		"https://t.example.com/changes/7?note=task-42&team=retail&x=1": false,
		"https://t.example.com/changes/8?note=task-42&team=retail":     false,
		"https://t.example.com/changes/7":                              false,
	} {
		sent := 0
		m := &engine.Mutation{Type: "http.request", Method: "POST", Path: url,
			Send: func(context.Context) (any, error) { sent++; return map[string]any{}, nil }}
		sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: "tell", Index: -1, Recorder: plan.NewGuard(p).Wrap(nil)})
		_, err := sc.Mutate(context.Background(), m)
		if pass != (err == nil) || sent != map[bool]int{true: 1}[pass] {
			t.Errorf("%s: err %v, sent %d", url, err, sent)
		}
	}
}
