package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/runner"
)

// reportError is an error shown as a head line and indented detail lines,
// each sanitized on its own (Main): a server message can neither forge a
// line nor be flattened into one unreadable "\n"-studded line.
type reportError struct {
	err   error
	head  string
	lines []string
}

func (e *reportError) Error() string { return e.err.Error() }
func (e *reportError) Unwrap() error { return e.err }

// Report is the head and the detail lines.
func (e *reportError) Report() (string, []string) { return e.head, e.lines }

// asReport gives the application layer's multi-line errors their report
// form; other errors are returned as they are.
func asReport(err error) error {
	var (
		planErr   *runner.PlanFailedError
		preflight *runner.PreflightError
		stale     *runner.StaleError
	)
	switch {
	case errors.As(err, &preflight):
		return &reportError{err: err, head: "invalid input, found before sending anything (nothing was sent):", lines: failureReport(preflight.Failures)}
	case errors.As(err, &planErr):
		lines := failureReport(planErr.Failures)
		if planErr.Hint != "" {
			lines = append(lines, "The workflow is fine: "+planErr.Hint+".")
		}
		return &reportError{err: err, head: "planning failed (nothing was sent):", lines: lines}
	case errors.As(err, &stale):
		lines := make([]string, 0, len(stale.Diffs)+1)
		for _, d := range stale.Diffs {
			lines = append(lines, d.String())
		}
		return &reportError{err: err, head: "the plan is stale; nothing was sent. What changed since it was made:", lines: append(lines, "Make a new plan (frameflow plan FILE --out PLAN) and review it.")}
	}
	return err
}

// failureReport reports each distinct failure once: the items of a step
// that failed for the same reason share a line ("rollout.capacity [8
// items: Store-Boston, ... +5]: min_servers 7 is more than max_servers 5"),
// and a fan-out's own "N of M items failed" is left out when its items are
// listed.
func failureReport(fs []runner.StepFailure) []string {
	type group struct {
		step, reason string
		items        []string
	}
	var groups []*group
	byKey := map[string]*group{}
	hasItems := map[string]bool{}
	for _, f := range fs {
		if f.Item != "" {
			hasItems[f.Step] = true
			if i := strings.LastIndexByte(f.Step, '.'); i > 0 {
				hasItems[f.Step[:i]] = true
			}
		}
	}
	for _, f := range fs {
		if f.Item == "" && hasItems[f.Step] {
			continue // the fan-out's summary of items listed below
		}
		k := f.Step + "\x00" + f.Error
		g := byKey[k]
		if g == nil {
			g = &group{step: f.Step, reason: f.Error}
			byKey[k] = g
			groups = append(groups, g)
		}
		if f.Item != "" {
			g.items = append(g.items, f.Item)
		}
	}
	lines := make([]string, 0, len(groups))
	for _, g := range groups {
		label := g.step
		switch len(g.items) {
		case 0:
		case 1:
			label += " [" + g.items[0] + "]"
		default:
			label += fmt.Sprintf(" [%d items: %s]", len(g.items), someNames(g.items, 3))
		}
		lines = append(lines, label+": "+g.reason)
	}
	return lines
}
