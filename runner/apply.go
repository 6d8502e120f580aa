package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/plan"
)

// PlanSourceError is a saved plan's or a journaled run's workflow file
// that cannot be read.
// RunID set: the workflow of a journaled run.
type PlanSourceError struct {
	File  string
	Err   error
	RunID string
}

func (e *PlanSourceError) Error() string {
	why := e.Err.Error()
	var pe *fs.PathError
	if errors.As(e.Err, &pe) && errors.Is(e.Err, fs.ErrNotExist) {
		why = "no such file"
		if !filepath.IsAbs(e.File) {
			// Journals and plans keep the path as it was given.
			why += " here; the path is relative to the directory the workflow was planned or run from: run this command there"
		}
	}
	if e.RunID != "" {
		return fmt.Sprintf("run %s: its workflow %s: %s", e.RunID, e.File, why)
	}
	return fmt.Sprintf("the plan's workflow %s: %s", e.File, why)
}

func (e *PlanSourceError) Unwrap() error { return e.Err }

// ApplyRequest names a saved plan to apply.
type ApplyRequest struct {
	Plan *plan.Plan
	// Path is where the plan was read from, for messages.
	Path string
	// Secrets are the secret inputs, which plans do not store; every other
	// input comes from the plan, typed as it was bound.
	Secrets Inputs
	// Parallelism overrides the workflow's concurrency when > 0.
	Parallelism int
}

// PrepareApply prepares the workflow of a saved plan with the plan's own
// inputs (and the secret ones given again). Errors: *OfflinePlanError,
// *PlanSourceError, *MissingSecretError, and Prepare's.
func (s *Service) PrepareApply(req ApplyRequest) (*Workflow, error) {
	saved := req.Plan
	if saved.Offline {
		return nil, &OfflinePlanError{Path: req.Path}
	}
	file := saved.Workflow.File
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, &PlanSourceError{File: file, Err: err}
	}
	in, err := mergeStored(saved.Inputs, req.Secrets, "plan")
	if err != nil {
		return nil, err
	}
	return s.Prepare(Request{File: file, Source: src, Inputs: in, Parallelism: req.Parallelism})
}

// mergeStored combines inputs a plan or journal stored (typed) with those
// given again; a secret input (stored as Sensitive) must be given again,
// and only secret ones may be: the others are fixed (*FixedInputError), so
// that one run never mixes two sets of inputs.
func mergeStored(stored map[string]any, given Inputs, where string) (Inputs, error) {
	for _, k := range givenNames(given) {
		if v, ok := stored[k]; ok {
			if s, secret := v.(string); !secret || s != Sensitive {
				return Inputs{}, &FixedInputError{Input: k, Where: where, Value: v}
			}
		}
	}
	out := Inputs{Values: map[string]any{}, Text: given.Text, Positions: given.Positions}
	for k, v := range given.Values {
		out.Values[k] = v
	}
	for k, v := range stored {
		_, text := given.Text[k]
		_, typed := given.Values[k]
		if text || typed {
			continue
		}
		if s, ok := v.(string); ok && s == Sensitive {
			return Inputs{}, &MissingSecretError{Input: k, Where: where}
		}
		out.Values[k] = plainNumbers(v)
	}
	return out, nil
}

// plainNumbers turns the json.Numbers of a stored value (plans keep each
// number's literal text) into float64, as decoding the value's JSON does
// for input given on the command line; binding makes integers of them.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainNumbers(e)
		}
		return out
	}
	return v
}

// CheckPlan plans again and compares with saved: nil when saved still
// describes exactly what apply would send. Errors: *StaleError, and
// Plan's.
func (w *Workflow) CheckPlan(ctx context.Context, saved *plan.Plan) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checkPlan(ctx, saved)
}

func (w *Workflow) checkPlan(ctx context.Context, saved *plan.Plan) error {
	if w.planChecked == saved.Hash {
		return nil
	}
	fresh, err := w.plan(ctx, PlanOptions{})
	if err != nil {
		return err
	}
	if diffs := plan.Compare(saved, fresh); len(diffs) > 0 {
		return &StaleError{PlanHash: saved.Hash, Diffs: diffs}
	}
	w.planChecked = saved.Hash
	return nil
}

// ApplyApproval is what applying saved needs confirmed: the plan, by hash.
func ApplyApproval(saved *plan.Plan) Approval { return Approval{PlanHash: saved.Hash} }

// Apply executes exactly the mutations of saved in a new journaled run:
// it checks that the approval confirmed is for this plan's hash, that the
// plan is current (unless CheckPlan just did), keeps a copy of the plan
// next to the journal (so a resume is held to it), and sends only what the
// plan holds. A plan without changes sends nothing and returns an empty
// Outcome.
func (w *Workflow) Apply(ctx context.Context, saved *plan.Plan, o RunOptions) (*Outcome, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.client == nil {
		return nil, errOffline
	}
	if !saved.HasChanges() {
		return &Outcome{}, nil
	}
	need := ApplyApproval(saved)
	if !need.coveredBy(o.Approved) {
		return nil, &NotApprovedError{Approval: need, Reason: "apply needs approval bound to plan " + saved.Hash}
	}
	if err := w.checkPlan(ctx, saved); err != nil {
		return nil, err
	}
	jr, err := w.createJournal("apply", saved.Hash, o.Approved.by())
	if err != nil {
		return nil, err
	}
	defer jr.Close()
	if err := w.svc.saveAppliedPlan(jr.ID(), saved); err != nil {
		_ = jr.Finish("failed")
		return nil, err
	}
	guard := plan.NewGuard(saved)
	guard.Redact = plan.SecretScrubber(w.prog.SecretValues(w.inputs))
	out, err := w.execute(ctx, jr, guard.Wrap, o)
	if out != nil {
		out.Unused = len(guard.Unused())
	}
	return out, err
}

// appliedPlanDoc names the copy of the plan an apply run executes, kept
// in the state backend (<state>/plans/RUN.json locally) so that resuming
// the run, from any machine sharing the state, sends nothing the plan does
// not hold.
func appliedPlanDoc(runID string) string { return "plans/" + runID + ".json" }

func (s *Service) saveAppliedPlan(runID string, p *plan.Plan) error {
	b, err := s.backend()
	if err == nil {
		var body []byte
		if body, err = p.Encode(); err == nil {
			err = b.Put(context.Background(), appliedPlanDoc(runID), body)
		}
	}
	if err != nil {
		return fmt.Errorf("keeping the applied plan: %w; nothing was sent", err)
	}
	return nil
}

// AppliedPlan is the plan apply run runID executes, as kept in the state
// backend (the web page shows it with the run).
func (s *Service) AppliedPlan(runID string) (*plan.Plan, error) {
	b, err := s.backend()
	if err != nil {
		return nil, err
	}
	body, err := b.Get(context.Background(), appliedPlanDoc(runID))
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, fmt.Errorf("run %s keeps no applied plan", runID)
	}
	return plan.Parse(body)
}

// appliedPlanGuard loads the plan an apply run executes and checks it is
// the one the run approved.
func (s *Service) appliedPlanGuard(meta journal.RunMeta) (*plan.Guard, error) {
	p, err := s.appliedPlan(meta)
	if err != nil {
		return nil, err
	}
	return plan.NewGuard(p), nil
}

// appliedPlan reads the plan an apply run executes, kept in the state
// backend; it must be the one its journal names.
func (s *Service) appliedPlan(meta journal.RunMeta) (*plan.Plan, error) {
	var p *plan.Plan
	b, err := s.backend()
	if err == nil {
		var body []byte
		if body, err = b.Get(context.Background(), appliedPlanDoc(meta.RunID)); err == nil && body == nil {
			err = errors.New("not found")
		}
		if err == nil {
			p, err = plan.Parse(body)
		}
	}
	if err != nil {
		return nil, &AppliedPlanError{RunID: meta.RunID, PlanHash: meta.PlanHash, Err: fmt.Errorf("and its copy cannot be read (%v)", err)}
	}
	if p.Hash != meta.PlanHash {
		return nil, &AppliedPlanError{RunID: meta.RunID, PlanHash: meta.PlanHash, Err: fmt.Errorf("but its kept copy is plan %s", p.Hash)}
	}
	return p, nil
}

// givenNames lists the inputs given, sorted (errors name the first).
func givenNames(in Inputs) []string {
	var out []string
	for k := range in.Text {
		out = append(out, k)
	}
	for k := range in.Values {
		if _, dup := in.Text[k]; !dup {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
