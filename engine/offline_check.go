package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// OfflineProblem is a step input a step type refuses, found without the
// network: a constant, or an input's default or given value, that breaks a
// step's constraint (min_servers above max_servers, a capacity above the
// catalog's bound).
type OfflineProblem struct {
	Step    string     // full step id
	Pos     schema.Pos // the step's with: (the step when it has none)
	Message string
}

// CheckOffline runs the program offline (nothing read, nothing sent; reads
// are Unknown) with inputs, and returns every step execution that failed
// with an error isInvalid recognises as invalid input: what `run` would
// refuse in its preflight, with the same messages, so that `validate` can
// report it first. A refusal before any step (a var or filter the inputs
// make invalid) is one problem at the workflow's position.
func (p *Program) CheckOffline(ctx context.Context, inputs map[string]any, getenv func(string) string, isInvalid func(error) bool) []OfflineProblem {
	var mu sync.Mutex
	invalid := map[string]bool{}
	res, err := p.Run(ctx, RunOptions{
		Mode: ModeOffline, RunID: "validate", Inputs: inputs, Getenv: getenv, CheckReads: true,
		Classify: func(err error) (string, time.Duration) {
			if isInvalid(err) {
				mu.Lock()
				invalid[err.Error()] = true
				mu.Unlock()
			}
			return "error", 0
		},
	})
	if err != nil {
		var pe *PosError
		if errors.As(err, &pe) {
			return []OfflineProblem{{Pos: pe.Pos, Message: pe.Msg}}
		}
		return []OfflineProblem{{Pos: p.wf.Pos, Message: err.Error()}}
	}
	seen := map[string]bool{}
	var out []OfflineProblem
	for _, st := range res.Steps {
		if st.Status != StatusFailed || !isInvalidMessage(invalid, st.Error) {
			continue
		}
		// A fan-out offline runs once per known item: one problem per step
		// and message is enough.
		key := st.Step + "\x00" + st.Error
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, OfflineProblem{Step: st.Step, Pos: p.stepPos(st.Step), Message: st.Error})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// isInvalidMessage matches a step's (possibly redacted, possibly prefixed)
// error with one the classifier saw.
func isInvalidMessage(invalid map[string]bool, msg string) bool {
	if invalid[msg] {
		return true
	}
	for m := range invalid {
		if strings.HasSuffix(msg, m) {
			return true
		}
	}
	return false
}

// stepPos is where a step's inputs are written.
func (p *Program) stepPos(full string) schema.Pos {
	p.byFullOnce.Do(func() {
		p.byFull = make(map[string]*node, len(p.nodes))
		for _, n := range p.nodes {
			p.byFull[n.full] = n
		}
	})
	n := p.byFull[full]
	if n == nil || n.step == nil {
		return p.wf.Pos
	}
	if n.step.WithPos.Line > 0 {
		return n.step.WithPos
	}
	return n.step.Pos
}

// String is "step: message", as run's preflight lists it.
func (o OfflineProblem) String() string {
	if o.Step == "" {
		return o.Message
	}
	return fmt.Sprintf("%s: %s", o.Step, o.Message)
}

// PosError is a refusal at a place in the workflow file (a filter whose
// text, given by an input, does not compile): FILE:LINE:COL: message.
type PosError struct {
	Pos schema.Pos
	Msg string
}

func (e *PosError) Error() string { return e.Pos.String() + ": " + e.Msg }
