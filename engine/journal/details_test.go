package journal_test

import (
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

func TestDetailsAndApprovers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r, err := s.Create(journal.RunMeta{Workflow: "qa-rollout", File: "f.yaml", Mode: "apply", PlanHash: "sha256:p1", Approver: "ann (token login)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Record(engine.StepResult{Step: "rollout.clone", Item: "Store-1", ItemKey: "a1", Index: 0, Status: engine.StatusFailed, Error: "task failed", Attempts: 2}); err != nil {
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
	if err := r2.Record(engine.StepResult{Step: "rollout.clone", Item: "Store-1", ItemKey: "a1", Index: 0, Status: engine.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Details(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.Approver != "ann (token login)" || d.Summary.Approver != "ann (token login)" || d.Summary.PlanHash != "sha256:p1" || d.Summary.Mode != "apply" {
		t.Fatalf("header: %+v / %+v", d.Meta, d.Summary)
	}
	if d.Summary.Status != journal.StatusRunning {
		t.Fatalf("a resumed run held by its lock reads running, got %s", d.Summary.Status)
	}
	if len(d.Summary.Attempts) != 2 || d.Summary.Attempts[0].Approver != "ann (token login)" || d.Summary.Attempts[1].Approver != "bob (via proxy)" {
		t.Fatalf("attempts: %+v", d.Summary.Attempts)
	}
	if len(d.Steps) != 2 || d.Steps[0].Status != "failed" || d.Steps[0].Error != "task failed" || d.Steps[0].Attempts != 2 || d.Steps[1].Attempt != 2 || d.Steps[1].Item != "Store-1" {
		t.Fatalf("steps: %+v", d.Steps)
	}
	_ = r2.Close()
	if _, err := s.Details("../etc"); err == nil {
		t.Fatal("a bad id was read")
	}
}
