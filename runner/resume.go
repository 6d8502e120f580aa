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
	jr    *journal.Run
	guard *plan.Guard // a resumed apply still sends only what its plan holds
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
		g, err := s.appliedPlanGuard(meta)
		if err != nil {
			return nil, err
		}
		g.Redact = plan.SecretScrubber(w.prog.SecretValues(w.inputs))
		r.guard = g
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
	var wrap func(engine.MutationRecorder) engine.MutationRecorder
	if r.guard != nil {
		wrap = r.guard.Wrap
	}
	return w.execute(ctx, r.jr, wrap, o)
}

// Close releases the run's journal and lock.
func (r *Resumption) Close() error { return r.jr.Close() }
