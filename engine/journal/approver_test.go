package journal_test

import (
	"testing"

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
