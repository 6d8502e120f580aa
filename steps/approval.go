package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// approval pauses a run until a person approves: the canary of a rollout
// goes to three stores, someone looks, then the rest follow. Steps that
// need it wait; the others go on.

const approvalStep = "approval"

// approvalPoll is how often a waiting approval reads its decision; the slot
// is given back in between (StepContext.Sleep), so a waiting gate holds no
// worker a request needs. A variable for tests.
var approvalPoll = time.Second

// SetApprovalPollForTest shortens the wait between reads of a decision.
func SetApprovalPollForTest(d time.Duration) func() {
	old := approvalPoll
	approvalPoll = d
	return func() { approvalPoll = old }
}

func (s *stepsImpl) approval() *engine.StepType {
	return &engine.StepType{
		Name: approvalStep,
		Description: "Pauses until a person approves (terminal prompt, `frameflow approve RUN STEP`, `resume --approve STEP`, " +
			"or Approve on the run's page of `frameflow serve`); records who approved; fails when rejected or when nobody decided within the timeout.",
		Inputs: []engine.InputSpec{
			{Name: "message", Type: "string", Description: "What the approver is asked, e.g. \"canary stores look healthy?\"."},
			{Name: "timeout", Type: "string", Default: "1h", Description: "How long to wait for a decision (5m, 2h); the step then fails and a resume waits again."},
		},
		Outputs: map[string]*engine.Shape{
			"approved_by": doc(engine.StringShape(), "who approved (user@host, or approve --by)"),
			"approved_at": doc(engine.StringShape(), "when, RFC 3339 UTC"),
			"comment":     doc(engine.StringShape(), "the approver's comment, if any"),
		},
		Run: s.runApproval,
	}
}

func (s *stepsImpl) runApproval(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
	a := args(in)
	timeout, err := approvalTimeout(a)
	if err != nil {
		return nil, err
	}
	if sc.Mode() != engine.ModeRun {
		// Plans do not wait: what follows the gate is planned as if
		// approved. The message may be known only at run time.
		return map[string]any{"approved_by": engine.Unknown, "approved_at": engine.Unknown, "comment": engine.Unknown}, nil
	}
	msg, err := a.str("message")
	if err != nil {
		return nil, invalid(approvalStep, err)
	}
	if timeout <= 0 {
		timeout = time.Hour
	}
	gate := sc.Approvals()
	if gate == nil {
		return nil, invalidf(approvalStep, "this run has no way to record an approval (run the workflow with frameflow run)")
	}
	key := engine.ApprovalKey(sc.StepID(), sc.ItemKey())
	how := fmt.Sprintf("frameflow approve %s '%s'", sc.RunID(), key)
	deadline := time.Now().Add(timeout)
	asked := false
	var ended func()
	defer func() {
		if ended != nil {
			ended()
		}
	}()
	for {
		d, err := gate.Decision(ctx, key)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return approvalOutputs(key, d)
		}
		if !asked {
			asked = true
			text := "waiting for approval"
			if msg != "" {
				text += ": " + msg
			}
			sc.Progress(text + " (" + how + ", or resume --approve)")
			ended = gate.Waiting(ctx, engine.ApprovalWait{Key: key, Message: msg, Deadline: deadline})
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("approval %s: nobody decided within %s; resume the run to wait again, approving first with %s", key, timeout, how)
		}
		if err := sc.Sleep(ctx, approvalPoll); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("approval %s: the step's timeout ended the wait; %s, then resume", key, how)
			}
			return nil, err
		}
	}
}

// approvalTimeout is the timeout input (0 when absent, or known only at
// run time); a bad one is refused in every mode, as validate does.
func approvalTimeout(a args) (time.Duration, error) {
	if a.unknown("timeout") {
		return 0, nil
	}
	d, err := a.duration("timeout")
	if err != nil {
		return 0, invalid(approvalStep, err)
	}
	return d, nil
}

// approvalOutputs are the step's outputs for a person's decision; a
// rejection fails the step, naming who rejected it and why.
func approvalOutputs(key string, d *engine.ApprovalDecision) (map[string]any, error) {
	if !d.Approved {
		why := ""
		if d.Comment != "" {
			why = ": " + d.Comment
		}
		return nil, fmt.Errorf("approval %s was rejected by %s%s", key, d.By, why)
	}
	return map[string]any{"approved_by": d.By, "approved_at": d.At.UTC().Format(time.RFC3339), "comment": d.Comment}, nil
}
