package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// The engine is specified through fake step types registered in a fresh
// registry, and workflows built in Go (no loader needed):
//
//	ok("b", "a")      step b (test.ok) needs a
//	flaky("c", 2)     step c fails twice with a throttled error, then succeeds
//	slow("d", 50ms)   step d sleeps (holding its slot)
//	fail("e")         step e always fails

const file = "wf.yaml"

type harness struct {
	t   *testing.T
	reg *engine.Registry

	mu         sync.Mutex
	started    []string // "step[item]" in start order
	finished   []string
	running    int
	maxRunning int
	attempts   map[string]int
	sent       []string // mutations sent in run mode
	inflight   map[string]int
	overlap    bool // two mutations of one resource overlapped
	gates      map[string]chan struct{}
}

// classified errors, as frame.Classify would report them.
type classErr struct {
	class string
	after time.Duration
}

func (e *classErr) Error() string { return e.class + " error" }

func classify(err error) (string, time.Duration) {
	var ce *classErr
	if errors.As(err, &ce) {
		return ce.class, ce.after
	}
	return "error", 0
}

var accountShape = engine.ObjectShape(map[string]*engine.Shape{
	"id": engine.StringShape(), "name": engine.StringShape(), "active": engine.BoolShape(),
})

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, reg: engine.NewRegistry(), attempts: map[string]int{}, inflight: map[string]int{}, gates: map[string]chan struct{}{}}
	name := func(sc *engine.StepContext) string {
		item, _ := sc.Item()
		if item == "" {
			return sc.StepID()
		}
		return sc.StepID() + "[" + item + "]"
	}
	track := func(sc *engine.StepContext) func() {
		h.mu.Lock()
		n := name(sc)
		h.started = append(h.started, n)
		h.running++
		h.maxRunning = max(h.maxRunning, h.running)
		h.attempts[n]++
		h.mu.Unlock()
		return func() {
			h.mu.Lock()
			h.running--
			h.finished = append(h.finished, n)
			h.mu.Unlock()
		}
	}
	h.reg.MustRegister(&engine.StepType{
		Name: "test.ok", Description: "Echoes value.",
		Inputs:  []engine.InputSpec{{Name: "value", Type: "any"}, {Name: "wait_for", Type: "string"}},
		Outputs: map[string]*engine.Shape{"value": engine.AnyShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			if g, ok := in["wait_for"].(string); ok && g != "" {
				select {
				case <-h.gate(g):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return map[string]any{"value": in["value"]}, nil
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.flaky", Description: "Fails `times` times with `class`, then succeeds.",
		Inputs: []engine.InputSpec{{Name: "times", Type: "integer", Required: true}, {Name: "class", Type: "string", Default: "throttled"}, {Name: "retry_after_ms", Type: "integer"}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			h.mu.Lock()
			n := h.attempts[name(sc)]
			h.mu.Unlock()
			if n <= in["times"].(int) {
				after, _ := in["retry_after_ms"].(int)
				return nil, &classErr{class: in["class"].(string), after: time.Duration(after) * time.Millisecond}
			}
			return map[string]any{"attempts": n}, nil
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.slow", Description: "Sleeps ms milliseconds.",
		Inputs: []engine.InputSpec{{Name: "ms", Type: "integer", Required: true}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			select {
			case <-time.After(time.Duration(in["ms"].(int)) * time.Millisecond):
				return map[string]any{}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.fail", Description: "Always fails.",
		Inputs: []engine.InputSpec{{Name: "class", Type: "string"}, {Name: "when", Type: "any"}},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			if w, ok := in["when"]; ok && w != true {
				return map[string]any{}, nil
			}
			class, _ := in["class"].(string)
			if class == "" {
				return nil, errors.New("boom")
			}
			return nil, &classErr{class: class}
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.read", Description: "Lists accounts.",
		Inputs:  []engine.InputSpec{{Name: "filter", Type: "string", Predicate: &engine.PredicateSpec{Var: "account", Shape: accountShape}}},
		Outputs: map[string]*engine.Shape{"accounts": engine.ListShape(accountShape), "count": engine.IntShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			all := []any{
				map[string]any{"id": "a1", "name": "Store-1", "active": true},
				map[string]any{"id": "a2", "name": "Store-2", "active": true},
				map[string]any{"id": "a3", "name": "Store-3", "active": false},
				map[string]any{"id": "q", "name": "QA", "active": true},
			}
			out := []any{}
			pred, err := sc.Predicate("filter")
			for _, a := range all {
				if err == nil && in["filter"] != nil {
					keep, err := pred(a)
					if err != nil {
						return nil, err
					}
					if !keep {
						continue
					}
				}
				out = append(out, a)
			}
			return map[string]any{"accounts": out, "count": len(out)}, nil
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.mutate", Description: "POSTs to path; serialized on resource.", Mutates: true,
		Inputs:  []engine.InputSpec{{Name: "path", Type: "string", Required: true}, {Name: "resource", Type: "string"}, {Name: "ms", Type: "integer"}, {Name: "poll_ms", Type: "integer"}},
		Outputs: map[string]*engine.Shape{"task": engine.ObjectShape(map[string]*engine.Shape{"id": engine.StringShape()})},
		Resources: func(in map[string]any) []string {
			if r, ok := in["resource"].(string); ok && r != "" {
				return []string{r}
			}
			return nil
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			res, _ := in["resource"].(string)
			path := fmt.Sprint(in["path"])
			task, err := sc.Mutate(ctx, &engine.Mutation{
				Type: "test.mutate", Method: "POST", Path: path, Resources: []string{res},
				Placeholder: map[string]any{"id": engine.Unknown},
				Send: func(ctx context.Context) (any, error) {
					h.mu.Lock()
					h.inflight[res]++
					if res != "" && h.inflight[res] > 1 {
						h.overlap = true
					}
					h.sent = append(h.sent, "POST "+path)
					h.mu.Unlock()
					ms, _ := in["ms"].(int)
					time.Sleep(time.Duration(ms) * time.Millisecond)
					h.mu.Lock()
					h.inflight[res]--
					h.mu.Unlock()
					return map[string]any{"id": "task-" + path}, nil
				},
			})
			if err != nil {
				return nil, err
			}
			if ms, _ := in["poll_ms"].(int); ms > 0 {
				// A task wait: sleeps without holding a slot.
				if err := sc.Sleep(ctx, time.Duration(ms)*time.Millisecond); err != nil {
					return nil, err
				}
			}
			return map[string]any{"task": task}, nil
		},
	})
	h.reg.MustRegister(&engine.StepType{
		Name: "test.destroy", Description: "Overwrites something.", Mutates: true, Destructive: true,
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			defer track(sc)()
			_, err := sc.Mutate(ctx, &engine.Mutation{Type: "test.destroy", Method: "DELETE", Path: "/x", Send: func(context.Context) (any, error) {
				h.mu.Lock()
				h.sent = append(h.sent, "DELETE /x")
				h.mu.Unlock()
				return nil, nil
			}})
			return nil, err
		},
	})
	return h
}

func (h *harness) gate(name string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.gates[name]
	if !ok {
		g = make(chan struct{})
		h.gates[name] = g
	}
	return g
}

func (h *harness) open(name string) { close(h.gate(name)) }

func (h *harness) startedList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.started...)
}

// --- workflow builders ---

func st(id, uses string, needs ...string) *schema.Step {
	return &schema.Step{ID: id, Uses: uses, Needs: needs, With: map[string]*schema.Value{}}
}

func ok(id string, needs ...string) *schema.Step { return st(id, "test.ok", needs...) }
func fail(id string, needs ...string) *schema.Step {
	return st(id, "test.fail", needs...)
}
func flaky(id string, times int) *schema.Step {
	return with(st(id, "test.flaky"), "times", times)
}
func slow(id string, d time.Duration, needs ...string) *schema.Step {
	return with(st(id, "test.slow", needs...), "ms", int(d/time.Millisecond))
}

// with sets inputs: with(s, "k", v, "k2", v2).
func with(s *schema.Step, kv ...any) *schema.Step {
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if s.With[k] == nil {
			s.WithOrder = append(s.WithOrder, k)
		}
		s.With[k] = val(kv[i+1])
	}
	return s
}

func group(id, forEach string, steps ...*schema.Step) *schema.Step {
	return &schema.Step{ID: id, ForEach: forEach, Steps: steps}
}

func val(x any) *schema.Value {
	switch v := x.(type) {
	case []any:
		out := &schema.Value{Kind: schema.ListValue}
		for _, e := range v {
			out.List = append(out.List, val(e))
		}
		return out
	case map[string]any:
		out := &schema.Value{Kind: schema.MapValue, Map: map[string]*schema.Value{}}
		for k := range v {
			out.Keys = append(out.Keys, k)
		}
		sort.Strings(out.Keys)
		for _, k := range out.Keys {
			out.Map[k] = val(v[k])
		}
		return out
	}
	return &schema.Value{Kind: schema.ScalarValue, Scalar: x}
}

// workflow numbers every step from line 10 on (step N at line 10*N, col 5;
// its id at col 9, uses on the next line, with values from the line after,
// each at col 13; if/for_each on line +5 at col 11), so tests can assert
// positions.
func workflow(steps ...*schema.Step) *schema.Workflow {
	wf := &schema.Workflow{File: file, Version: 1, Name: "test", Steps: steps}
	line := 0
	var number func(ss []*schema.Step, parent *schema.Step)
	number = func(ss []*schema.Step, parent *schema.Step) {
		for _, s := range ss {
			line += 10
			s.Parent = parent
			s.Pos = schema.Pos{File: file, Line: line, Col: 5}
			s.IDPos = schema.Pos{File: file, Line: line, Col: 9}
			s.UsesPos = schema.Pos{File: file, Line: line + 1, Col: 11}
			s.IfPos = schema.Pos{File: file, Line: line + 5, Col: 11}
			s.ForEachPos = schema.Pos{File: file, Line: line + 5, Col: 11}
			for i := range s.Needs {
				s.NeedsPos = append(s.NeedsPos, schema.Pos{File: file, Line: line + 6, Col: 13 + 4*i})
			}
			for i, k := range s.WithOrder {
				s.With[k].Pos = schema.Pos{File: file, Line: line + 2 + i, Col: 13}
			}
			number(s.Steps, s)
		}
	}
	number(steps, nil)
	return wf
}

func input(name, typ string, def any) *schema.Input {
	return &schema.Input{Name: name, Type: typ, Default: def, HasDefault: def != nil, Required: def == nil}
}

func (h *harness) compile(wf *schema.Workflow) *engine.Program {
	h.t.Helper()
	p, diags := engine.Compile(wf, h.reg)
	if diags != nil {
		h.t.Fatalf("compile:\n%s", diags)
	}
	return p
}

func (h *harness) run(wf *schema.Workflow, o engine.RunOptions) *engine.Result {
	h.t.Helper()
	p := h.compile(wf)
	if o.Inputs == nil {
		in, err := p.BindInputs(nil, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		o.Inputs = in
	}
	if o.Classify == nil {
		o.Classify = classify
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Run(ctx, o)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// statuses renders results as "step[item]=status" in result order.
func statuses(res *engine.Result) string {
	var parts []string
	for _, s := range res.Steps {
		n := s.Step
		if s.Item != "" {
			n += "[" + s.Item + "]"
		}
		parts = append(parts, n+"="+string(s.Status))
	}
	return strings.Join(parts, " ")
}

func stepResult(t *testing.T, res *engine.Result, step, item string) engine.StepResult {
	t.Helper()
	for _, s := range res.Steps {
		if s.Step == step && s.Item == item {
			return s
		}
	}
	t.Fatalf("no result for %s[%s] in %s", step, item, statuses(res))
	return engine.StepResult{}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
