package runner

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// ApprovalPrompt is what a person is asked when an approval step of a run
// starts waiting (RunOptions.Ask).
type ApprovalPrompt struct {
	RunID   string
	Key     string // the step's full id, with [item] inside a fan-out
	Message string
	// Approvers are who may decide; empty: anyone who can reach the run.
	Approvers []string
	// NotAnApprover: the person at this terminal is not among them. The
	// asker should say so, ask nothing and return nil: the gate waits.
	NotAnApprover bool
}

// ApprovalAsker asks a person (a terminal prompt) whether to approve. It
// returns nil when it could not ask or got no answer; the run then waits for
// `frameflow approve`. It runs on its own goroutine and should end when ctx
// does.
type ApprovalAsker func(ctx context.Context, p ApprovalPrompt) *engine.ApprovalDecision

// approvalGate is the engine's ApprovalGate for one journaled run: decisions
// are documents of the state backend, so another process (`frameflow approve`)
// can record one, and one made while nothing ran is found on resume.
type approvalGate struct {
	svc *Service
	jr  *journal.Run
	ask ApprovalAsker
}

func (g *approvalGate) Decision(ctx context.Context, key string) (*engine.ApprovalDecision, error) {
	return g.svc.approvalOf(ctx, g.jr.ID(), key)
}

// Waiting journals the wait, so `runs`, `runs show` and the web page list
// the run as waiting at the step (from any process reading the state), and
// asks at the terminal when the run has one.
func (g *approvalGate) Waiting(ctx context.Context, w engine.ApprovalWait) func() {
	// A journal that cannot take this record fails the step's own record
	// right after; the wait itself does not depend on it.
	_ = g.jr.WaitingFor(w.Key, w.Message, w.Deadline, w.Approvers)
	// A person at this terminal who is not among the approvers is told,
	// not asked: the gate waits for one who is (page, frameflow approve).
	if g.ask != nil {
		notApprover := !engine.MayDecide(w.Approvers, OperatorName())
		runID := g.jr.ID()
		go func() {
			d := g.ask(ctx, ApprovalPrompt{RunID: runID, Key: w.Key, Message: w.Message, Approvers: w.Approvers, NotAnApprover: notApprover})
			if d == nil || notApprover {
				return
			}
			// Another approver may have been first: theirs stands.
			_ = g.svc.recordApproval(context.Background(), runID, w.Key, *d)
		}()
	}
	return func() { _ = g.jr.Waited(w.Key) }
}

// Decisions are documents of the state backend (a file under
// <state>/approvals locally, a row with PostgreSQL), so `frameflow approve`
// can record one from another process or machine while the run waits, or
// while no process runs at all, and the waiting step or the resumed run
// finds it. The key is hex-encoded: step ids and item keys hold characters
// document names do not allow.
func approvalDoc(runID, key string) string {
	return "approvals/" + runID + "/" + hex.EncodeToString([]byte(key)) + ".json"
}

// recordApproval writes the decision on key of run runID unless there is
// one. The backend's PutNew makes it atomic: of two approvers in the same
// instant (two terminals, the page and a terminal, two machines sharing
// PostgreSQL) exactly one is recorded; the other gets an
// *AlreadyDecidedError naming who decided first.
func (s *Service) recordApproval(ctx context.Context, runID, key string, d engine.ApprovalDecision) error {
	b, err := s.backend()
	if err != nil {
		return err
	}
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	created, existing, err := b.PutNew(ctx, approvalDoc(runID, key), body)
	if err != nil {
		return err
	}
	if created {
		return nil
	}
	first := &AlreadyDecidedError{RunID: runID, Step: key}
	if err := json.Unmarshal(existing, &first.First); err != nil {
		return fmt.Errorf("approval %s of run %s is unreadable: %v", key, runID, err)
	}
	return first
}

// AlreadyDecidedError refuses a second decision on one approval: a decision
// is written once, so an approval cannot be turned into a rejection after
// the run went on (or the other way round). First is the decision that
// stands.
type AlreadyDecidedError struct {
	RunID, Step string
	First       engine.ApprovalDecision
}

func (e *AlreadyDecidedError) Error() string {
	verb := "approved"
	if !e.First.Approved {
		verb = "rejected"
	}
	return fmt.Sprintf("approve: %s of run %s was already %s by %s at %s", e.Step, e.RunID, verb, e.First.By, e.First.At.Format(time.RFC3339))
}

// approvalOf is the decision recorded on key of run runID, nil when none.
func (s *Service) approvalOf(ctx context.Context, runID, key string) (*engine.ApprovalDecision, error) {
	b, err := s.backend()
	if err != nil {
		return nil, err
	}
	body, err := b.Get(ctx, approvalDoc(runID, key))
	if err != nil || body == nil {
		return nil, err
	}
	var d engine.ApprovalDecision
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("approval %s of run %s is unreadable: %v", key, runID, err)
	}
	return &d, nil
}

// ApprovalDecision is the decision recorded on key of run runID, nil while
// nobody decided.
func (s *Service) ApprovalDecision(runID, key string) (*engine.ApprovalDecision, error) {
	return s.approvalOf(context.Background(), runID, key)
}

// ApproveRequest records a decision on an approval step of a run.
type ApproveRequest struct {
	RunID string
	// Step is the approval step's full id ("gate", "canary.gate"), with
	// [item] inside a fan-out ("stores.gate[store-7]").
	Step    string
	Reject  bool
	By      string // who decides; empty: OperatorName()
	Comment string
}

// Approve records a decision on an approval step of a run, waiting or not
// yet reached: the step finds it when it runs (or while it waits). The step
// must be an approval step of the run's workflow. A decision is final:
// a second one is refused (*AlreadyDecidedError names the first).
func (s *Service) Approve(req ApproveRequest) (*engine.ApprovalDecision, error) {
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	if req.RunID == "" {
		return nil, errors.New("approve: which run? (frameflow runs lists them)")
	}
	var meta *journal.RunSummary
	runs, err := store.List()
	if err != nil {
		return nil, err
	}
	for i := range runs {
		if runs[i].ID == req.RunID {
			meta = &runs[i]
		}
	}
	if meta == nil {
		return nil, fmt.Errorf("approve: no run %s in %s (frameflow runs lists them)", req.RunID, store.Dir())
	}
	approvers, err := s.checkApprovalStep(meta.File, req.Step)
	if err != nil {
		return nil, err
	}
	by := req.By
	if by == "" {
		by = OperatorName()
	}
	// The gate's approvers as the waiting run journaled them (computed at
	// run time), else as the file writes them.
	for _, w := range meta.Waiting {
		if w.Key == req.Step {
			approvers.Names, approvers.Known = w.Approvers, true
		}
	}
	if !approvers.Known {
		return nil, fmt.Errorf("approve: who may decide on %s is known only when run %s waits there (its approvers are an expression); nothing was recorded: approve once `frameflow runs %s` shows it waiting", req.Step, req.RunID, req.RunID)
	}
	if !engine.MayDecide(approvers.Names, by) {
		return nil, &NotApproverError{RunID: req.RunID, Step: req.Step, By: by, Approvers: approvers.Names}
	}
	d := engine.ApprovalDecision{Approved: !req.Reject, By: by, At: time.Now().UTC(), Comment: req.Comment}
	if err := s.recordApproval(context.Background(), req.RunID, req.Step, d); err != nil {
		return nil, err
	}
	return &d, nil
}

// checkApprovalStep refuses a step that is not an approval step of the
// workflow file, so a typo is not recorded as a decision nobody reads.
// It returns the step's approvers as the file writes them.
func (s *Service) checkApprovalStep(file, key string) (gateApprovers, error) {
	step, _, _ := strings.Cut(key, "[")
	reg, err := NewRegistry(nil, nil)
	if err != nil {
		return gateApprovers{}, err
	}
	prog, diags := Load(file, reg)
	if prog == nil || len(diags) > 0 {
		// The file changed or went away: the step cannot be checked, and
		// a decision on a key no step reads does no harm (the step also
		// checks its approvers against the decision it reads).
		return gateApprovers{Known: true}, nil
	}
	var gates []string
	for _, id := range prog.StepsUsing("approval") {
		gates = append(gates, id)
		if id == step {
			return approversInFile(prog, step), nil
		}
	}
	if len(gates) == 0 {
		return gateApprovers{}, fmt.Errorf("approve: %s has no approval step", file)
	}
	return gateApprovers{}, fmt.Errorf("approve: %q is not an approval step of %s (its approval steps: %s)", step, file, strings.Join(gates, ", "))
}

// gateApprovers are who may decide on a gate; Known is false when they
// are an expression only the run computes.
type gateApprovers struct {
	Names []string
	Known bool
}

// approversInFile reads an approval step's approvers input as written.
func approversInFile(prog *engine.Program, step string) gateApprovers {
	v, given, constant := prog.ConstantInput(step, "approvers")
	if !given {
		return gateApprovers{Known: true}
	}
	if !constant {
		return gateApprovers{}
	}
	list, _ := v.([]any)
	var names []string
	for _, e := range list {
		if n, ok := e.(string); ok {
			names = append(names, strings.TrimSpace(n))
		}
	}
	return gateApprovers{Names: names, Known: true}
}

// WhoMayApprove says, for people, who may decide on a gate with these
// approvers.
func WhoMayApprove(approvers []string) string {
	if len(approvers) == 0 {
		return "anyone who can reach this run (its state backend, or the page); the gate names no approvers"
	}
	return strings.Join(approvers, ", ") + " (by name, as signed in to the page or as the terminal's user@host)"
}

// NotApproverError refuses a decision by someone the gate does not name
// among its approvers; nothing was recorded.
type NotApproverError struct {
	RunID, Step, By string
	Approvers       []string
}

func (e *NotApproverError) Error() string {
	return fmt.Sprintf("approve: %s may not decide on %s of run %s: its approvers are %s; nothing was recorded", e.By, e.Step, e.RunID, strings.Join(e.Approvers, ", "))
}

// ApproveCommand is the command that approves key of run runID, quoted for
// a POSIX shell (engine.ApproveCommand: the step's progress text uses it too).
func ApproveCommand(runID, key string) string { return engine.ApproveCommand(runID, key) }
