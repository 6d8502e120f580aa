package journal_test

import (
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// Who approved a run is in its header, and who approved each resume in
// that attempt's record; both read back through Detail and List.
func TestApproversAreJournaled(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r, err := s.Create(journal.RunMeta{Workflow: "qa-rollout", File: "f.yaml", Mode: "apply", PlanHash: "sha256:p1", Approver: "ann (token login)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Record(engine.StepResult{Step: "rollout.clone", Item: "Store-1", ItemKey: "a1", Index: 0, Status: engine.StatusFailed, Error: "task failed"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish("failed"); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	r2, err := s.ResumeApproved(r.ID(), "bob (via proxy)")
	if err != nil {
		t.Fatal(err)
	}
	if r2.Meta().Approver != "ann (token login)" {
		t.Fatalf("resumed meta approver %q", r2.Meta().Approver)
	}
	if err := r2.StartAttempt(); err != nil {
		t.Fatal(err)
	}
	_ = r2.Close()
	d, err := s.Detail(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if d.Approver != "ann (token login)" || d.RunSummary.PlanHash != "sha256:p1" || d.RunSummary.Mode != "apply" {
		t.Fatalf("summary: %+v", d.RunSummary)
	}
	if len(d.Attempts) != 2 || d.Attempts[0].Approver != "ann (token login)" || d.Attempts[1].Approver != "bob (via proxy)" {
		t.Fatalf("attempts: %+v", d.Attempts)
	}
	runs, err := s.List()
	if err != nil || len(runs) != 1 || runs[0].Approver != "ann (token login)" {
		t.Fatalf("list: %+v %v", runs, err)
	}
}

// A resume refused before it started (an approval declined, a changed
// workflow) journals nothing: the run keeps the status its last attempt
// ended with, instead of showing an attempt that crashed, and the next
// resume takes the number the refused one would have had.
func TestRefusedResumeJournalsNoAttempt(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	if err := r.Finish("interrupted"); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	defer func(every time.Duration) { journal.HeartbeatEvery = every }(journal.HeartbeatEvery)
	journal.HeartbeatEvery = 3 * time.Millisecond
	refused, err := s.Resume(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if refused.Attempt() != 2 {
		t.Fatalf("attempt %d", refused.Attempt())
	}
	time.Sleep(20 * time.Millisecond) // past several heartbeats, were they not held back
	_ = refused.Close()
	runs, err := s.List()
	if err != nil || len(runs) != 1 || runs[0].Status != "interrupted" || len(runs[0].Attempts) != 1 {
		t.Fatalf("after a refused resume: %+v %v", runs, err)
	}
	again, err := s.Resume(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Attempt() != 2 {
		t.Fatalf("the next resume is attempt %d, want 2", again.Attempt())
	}
	if err := again.Record(engine.StepResult{Step: "source", Status: engine.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.List(); len(runs[0].Attempts) != 2 || runs[0].Status != journal.StatusRunning {
		t.Fatalf("a record starts the attempt: %+v", runs[0])
	}
}
