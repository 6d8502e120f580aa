package engine

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ApprovalGate is where an approval step (a pause inside a run until a
// person says go) finds its decision. The run's owner supplies it
// (RunOptions.Approvals): the CLI records decisions made by
// `frameflow approve`, `resume --approve` or a terminal prompt in the state
// directory, so a decision made while the process was down is found when
// the run resumes.
type ApprovalGate interface {
	// Decision returns the decision recorded for key (ApprovalKey), nil
	// while there is none.
	Decision(ctx context.Context, key string) (*ApprovalDecision, error)
	// Waiting says an approval step started waiting. The gate may ask a
	// person (a terminal prompt) and record the answer, and journals the
	// wait so `runs` and the web page show it; it must not block. The step
	// calls the returned function once the wait ends, however it ends.
	Waiting(ctx context.Context, w ApprovalWait) (ended func())
}

// ApprovalWait is an approval step waiting for a decision.
type ApprovalWait struct {
	Key      string // ApprovalKey
	Message  string // what the approver is asked
	Deadline time.Time
	// Approvers are who may decide (the step's approvers input); empty:
	// anyone who can reach the run.
	Approvers []string
}

// MayDecide tells whether the person recorded as by may decide on a gate
// whose approvers are approvers; anyone may when there are none. People
// are named as frameflow records deciders: "alice@laptop" in a terminal
// (or what approve --by says), "alice (token login)" in the page. An
// approver "alice" matches each of these; "alice@laptop" only the first.
func MayDecide(approvers []string, by string) bool {
	if len(approvers) == 0 {
		return true
	}
	name, _, _ := strings.Cut(by, " (")
	user, _, _ := strings.Cut(name, "@")
	for _, a := range approvers {
		if a = strings.TrimSpace(a); a != "" && (a == name || a == user) {
			return true
		}
	}
	return false
}

// ApprovalDecision is a recorded decision on an approval step.
type ApprovalDecision struct {
	Approved bool      `json:"approved"`
	By       string    `json:"by"` // who decided (user@host, or --by)
	At       time.Time `json:"at"`
	Comment  string    `json:"comment,omitempty"`
}

// ApprovalRejectedError fails an approval step a person rejected. The
// decision stands: a resume runs the step again and it fails again, so
// what follows is a new run, not a resume.
type ApprovalRejectedError struct {
	Key, By, Comment string
}

func (e *ApprovalRejectedError) Error() string {
	why := ""
	if e.Comment != "" {
		why = ": " + e.Comment
	}
	return fmt.Sprintf("approval %s was rejected by %s%s", e.Key, e.By, why)
}

// ApprovalKey names one approval: the step's full id, and its item key in
// brackets inside a fan-out ("canary.gate[store-7]").
func ApprovalKey(step, itemKey string) string {
	if itemKey == "" {
		return step
	}
	return step + "[" + itemKey + "]"
}

// ApproveCommand is the command that approves key of run runID, quoted for
// a POSIX shell only where needed (keys inside fan-outs hold brackets, item
// keys anything): a step's progress text and every page and table that
// names the command print this one string.
func ApproveCommand(runID, key string) string {
	return "frameflow approve " + runID + " " + shellQuote(key)
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Approvals is the run's approval gate; nil when the run has none (tests,
// plans), in which case an approval step cannot be approved.
func (sc *StepContext) Approvals() ApprovalGate { return sc.approvals }

// RunID is the id of the run (empty outside a journaled run).
func (sc *StepContext) RunID() string { return sc.runID }

// ItemKey is the stable key of the item being run ("" outside fan-outs).
func (sc *StepContext) ItemKey() string { return sc.itemKey }
