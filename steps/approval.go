package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
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
			{Name: "approvers", Type: "list", Description: "Who may decide, by name: `alice` matches alice@any-host in a terminal (or `approve --by alice`) and alice signed in to the page; `alice@ops-1` only that terminal user. " +
				"Shown on the gate (page, `runs show`, the terminal); a decision by anyone else is refused and nothing is recorded. " +
				"Names are what people give (login, --by), not proof of identity. Default: anyone who can reach the run."},
		},
		Check: checkApprovers,
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
	approvers, err := approversOf(a)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Hour
	}
	gate := sc.Approvals()
	if gate == nil {
		return nil, invalidf(approvalStep, "this run has no way to record an approval (run the workflow with frameflow run)")
	}
	key := engine.ApprovalKey(sc.StepID(), sc.ItemKey())
	return waitForDecision(ctx, sc, gate, engine.ApprovalWait{Key: key, Message: msg, Deadline: time.Now().Add(timeout), Approvers: approvers}, timeout)
}

// waitForDecision polls the gate for w's decision until w.Deadline,
// journaling the wait (and asking at a terminal) the first time round.
func waitForDecision(ctx context.Context, sc *engine.StepContext, gate engine.ApprovalGate, w engine.ApprovalWait, timeout time.Duration) (map[string]any, error) {
	key, msg, approvers, deadline := w.Key, w.Message, w.Approvers, w.Deadline
	how := engine.ApproveCommand(sc.RunID(), key)
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
			if !engine.MayDecide(approvers, d.By) {
				// Every way of deciding checks this first; a decision
				// recorded otherwise (the file changed) does not count.
				return nil, fmt.Errorf("approval %s was decided by %s, who is not among its approvers (%s)", key, d.By, strings.Join(approvers, ", "))
			}
			return approvalOutputs(key, d)
		}
		if !asked {
			asked = true
			text := "waiting for approval"
			if msg != "" {
				text += ": " + msg
			}
			sc.Progress(text + " (" + how + ", or resume --approve)")
			ended = gate.Waiting(ctx, w)
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

// approversOf is the approvers input: nil when absent, else a list of
// names, none empty.
func approversOf(a args) ([]string, error) {
	if !a.has("approvers") {
		return nil, nil
	}
	names, problem := approverNames(a["approvers"])
	if problem != "" {
		return nil, invalidf(approvalStep, "approvers: %s", problem)
	}
	return names, nil
}

// approverNames checks an approvers value: a non-empty list of non-empty
// strings. problem says what is wrong, "" when nothing is.
func approverNames(v any) (names []string, problem string) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Sprintf("want a list of names, got %T", v)
	}
	if len(list) == 0 {
		return nil, "an empty list lets nobody decide; leave approvers out to let anyone who can reach the run decide"
	}
	for i, e := range list {
		name, ok := e.(string)
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Sprintf("item %d: want a person's name, got %v", i+1, e)
		}
		names = append(names, strings.TrimSpace(name))
	}
	return names, ""
}

// checkApprovers finds a bad literal approvers list when the workflow is
// validated, at its position.
func checkApprovers(_ *schema.Workflow, constants map[string]any) []engine.InputProblem {
	v, ok := constants["approvers"]
	if !ok {
		return nil
	}
	if _, problem := approverNames(v); problem != "" {
		return []engine.InputProblem{{Input: "approvers", Message: "approvers: " + problem}}
	}
	return nil
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
		return nil, &engine.ApprovalRejectedError{Key: key, By: d.By, Comment: d.Comment}
	}
	return map[string]any{"approved_by": d.By, "approved_at": d.At.UTC().Format(time.RFC3339), "comment": d.Comment}, nil
}
