package engine

import (
	"context"
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
}

// ApprovalDecision is a recorded decision on an approval step.
type ApprovalDecision struct {
	Approved bool      `json:"approved"`
	By       string    `json:"by"` // who decided (user@host, or --by)
	At       time.Time `json:"at"`
	Comment  string    `json:"comment,omitempty"`
}

// ApprovalKey names one approval: the step's full id, and its item key in
// brackets inside a fan-out ("canary.gate[store-7]").
func ApprovalKey(step, itemKey string) string {
	if itemKey == "" {
		return step
	}
	return step + "[" + itemKey + "]"
}

// Approvals is the run's approval gate; nil when the run has none (tests,
// plans), in which case an approval step cannot be approved.
func (sc *StepContext) Approvals() ApprovalGate { return sc.approvals }

// RunID is the id of the run (empty outside a journaled run).
func (sc *StepContext) RunID() string { return sc.runID }

// ItemKey is the stable key of the item being run ("" outside fan-outs).
func (sc *StepContext) ItemKey() string { return sc.itemKey }
