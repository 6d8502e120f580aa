package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"
)

// ResumeRequest names a journaled run to continue.
type ResumeRequest struct {
	RunID string
	// Last resumes the most recently started run instead of RunID.
	Last bool
	// Inputs given again: secret ones (journals do not store them), and
	// any the caller overrides. The rest come from the journal, typed.
	Inputs Inputs
	// Force resumes although the workflow file changed since the run
	// started.
	Force bool
	// AssumeNotSent treats mutations whose outcome cannot be proven as not
	// sent: an operator checked the estate.
	AssumeNotSent bool
	// Parallelism overrides the workflow's concurrency when > 0.
	Parallelism int
	// Approver is who asked for the resume; it is journaled with the
	// new attempt.
	Approver string
}

// AlreadySucceededError is a resume of a run that already succeeded:
// there is nothing to do, and nothing was sent.
type AlreadySucceededError struct{ RunID string }

func (e *AlreadySucceededError) Error() string {
	return fmt.Sprintf("run %s already succeeded; nothing to resume", e.RunID)
}

// Resumption is a run opened for resuming: its journal locked (no other
// process can resume it meanwhile) and its workflow prepared with the
// journal's inputs. Close it when done.
type Resumption struct {
	*Workflow
	jr      *journal.Run
	guard   *plan.Guard // a resumed apply still sends only what its plan holds
	applied *plan.Plan  // that plan, for an apply run
}

// Resume opens a run's journal and prepares its workflow. Errors:
// *AlreadySucceededError, *WorkflowChangedError, *MissingSecretError,
// *AppliedPlanError, journal errors (no such run, locked), and Prepare's.
func (s *Service) Resume(req ResumeRequest) (*Resumption, error) {
	store, err := s.openJournals(req.AssumeNotSent)
	if err != nil {
		return nil, err
	}
	id := req.RunID
	if req.Last {
		if runs, err := store.List(); err == nil && len(runs) == 0 {
			return nil, fmt.Errorf("no runs to resume in %s (--state-dir or --state choose where runs are kept; frameflow runs lists them)", store.Dir())
		}
		if id, err = store.Last(); err != nil {
			return nil, err
		}
	}
	if runs, err := store.List(); err == nil {
		for _, r := range runs {
			if r.ID == id && r.Status == journal.StatusSucceeded {
				return nil, &AlreadySucceededError{RunID: id}
			}
		}
	}
	jr, err := store.ResumeApproved(id, req.Approver)
	if err != nil {
		return nil, err
	}
	r, err := s.prepareResume(jr, req)
	if err != nil {
		_ = jr.Close()
		return nil, err
	}
	return r, nil
}

func (s *Service) prepareResume(jr *journal.Run, req ResumeRequest) (*Resumption, error) {
	meta := jr.Meta()
	src, err := schema.ReadSource(meta.File)
	if err != nil {
		return nil, &PlanSourceError{File: meta.File, Err: err, RunID: meta.RunID}
	}
	changed := func(now string) error {
		return &WorkflowChangedError{RunID: meta.RunID, File: meta.File, Was: meta.FileHash, Now: now}
	}
	in, err := mergeStored(meta.Inputs, req.Inputs, "journal")
	if err != nil {
		if h := fileHash(src); h != meta.FileHash && !req.Force {
			return nil, changed(h)
		}
		return nil, err
	}
	w, err := s.Prepare(Request{File: meta.File, Source: src, Inputs: in, Parallelism: req.Parallelism})
	if err != nil {
		if h := fileHash(src); h != meta.FileHash && !req.Force {
			return nil, changed(h)
		}
		return nil, err
	}
	// The hash covers the playbooks the file calls (uses: ./x.yaml): a
	// changed library is a changed workflow too.
	if h := w.prog.Workflow().Hash; h != meta.FileHash && !req.Force {
		return nil, changed(h)
	}
	r := &Resumption{Workflow: w, jr: jr}
	if meta.Mode == "apply" {
		p, err := s.appliedPlan(meta)
		if err != nil {
			return nil, err
		}
		g := plan.NewGuard(p)
		g.Redact = plan.SecretScrubber(w.prog.SecretValues(w.inputs))
		r.guard, r.applied = g, p
	}
	return r, nil
}

// fileHash is the workflow hash as the loader computes it.
func fileHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// RunID is the run being resumed.
func (r *Resumption) RunID() string { return r.jr.ID() }

// Attempt is this attempt's number (the first run is 1).
func (r *Resumption) Attempt() int { return r.jr.Attempt() }

// Meta is what the journal says about the run.
func (r *Resumption) Meta() journal.RunMeta { return r.jr.Meta() }

// Run continues the run: preflight, the approval check, then the run, in
// which finished steps are not run again and mutations with a recorded
// result are not re-sent.
func (r *Resumption) Run(ctx context.Context, o RunOptions) (*Outcome, error) {
	w := r.Workflow
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.readyToRun(ctx, o.Approved); err != nil {
		return nil, err
	}
	// Accepted: the attempt starts now (a refused one journals nothing).
	if err := r.jr.StartAttempt(); err != nil {
		return nil, err
	}
	var wrap func(engine.MutationRecorder) engine.MutationRecorder
	if r.guard != nil {
		wrap = r.guard.Wrap
	}
	return w.execute(ctx, r.jr, wrap, o)
}

// ResumePlan is what a resume would still send, apart from what the run's
// journal proves was sent, so that a person approves only what remains.
type ResumePlan struct {
	// Remaining is the plan of the mutations a resume may still send:
	// those the journal has no record of, and those it records as failed
	// or proven not sent. Its summary counts only them.
	Remaining *plan.Plan
	// AlreadySent are the planned mutations whose result the journal
	// holds (sent and answered, reconciled, or marked sent by an
	// operator): they are never sent again.
	AlreadySent []plan.Mutation
	// Unsettled are the mutations whose outcome is unknown: each is
	// reconciled through a read before it could be sent again, or waits
	// for an operator's --mark. They are in Remaining when planned.
	Unsettled []journal.PendingMutation
}

// PlanRemaining plans the run again (an apply run: its applied plan, no
// request sent) and splits its mutations by what the journal proves.
// The approval a resume needs is the run's own; this only shows it.
func (r *Resumption) PlanRemaining(ctx context.Context) (*ResumePlan, error) {
	p := r.applied
	if p == nil {
		var err error
		if p, err = r.Plan(ctx, PlanOptions{}); err != nil {
			return nil, err
		}
	}
	sent := map[string]bool{}
	for _, k := range r.jr.Answered() {
		sent[k] = true
	}
	rest := *p
	rest.Mutations, rest.Hash = nil, "" // a part of the plan: not the hash anyone approved
	out := &ResumePlan{Remaining: &rest, Unsettled: r.jr.Pending()}
	for _, m := range p.Mutations {
		if sent[m.Key] {
			out.AlreadySent = append(out.AlreadySent, m)
			delete(sent, m.Key)
		} else {
			rest.Mutations = append(rest.Mutations, m)
		}
	}
	rest.Summarize()
	// Answered mutations the new plan does not hold: their effect now
	// reads as current (a capacity already set is "unchanged"). They were
	// sent all the same, and are listed as such from the journal.
	if len(sent) > 0 {
		store, err := r.svc.openJournals(false)
		if err != nil {
			return nil, err
		}
		d, err := store.Detail(r.RunID())
		if err != nil {
			return nil, err
		}
		// A mutation names its item by key (a pool id); people know the
		// item by the label its step record keeps (the store's name).
		labels := map[[2]string]string{}
		for _, st := range d.Steps {
			labels[[2]string{st.Step, st.ItemKey}] = st.Item
		}
		for _, m := range d.Mutations {
			if sent[m.Key] {
				item := m.Item
				if label := labels[[2]string{m.Step, m.Item}]; label != "" {
					item = label
				}
				out.AlreadySent = append(out.AlreadySent, plan.Mutation{Key: m.Key, Step: m.Step, Item: item, Type: m.Type, Method: m.Method, Path: m.Path})
			}
		}
	}
	return out, nil
}

// Close releases the run's journal and lock.
func (r *Resumption) Close() error { return r.jr.Close() }
