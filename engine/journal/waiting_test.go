package journal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
)

// An approval step's wait is journaled: List and Detail show the run as
// waiting at the step while it waits, not once the wait ended; a run that
// crashed while waiting still shows where (resume waits again), and the
// resumed attempt's own wait replaces it.
func TestWaitingApprovalIsJournaled(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	deadline := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	if err := r.Waiting("canary.gate[store-7]", "canary looks fine?", deadline); err != nil {
		t.Fatal(err)
	}
	if err := r.Waiting("gate", "go on?", deadline); err != nil {
		t.Fatal(err)
	}
	waiting := func() []journal.WaitingApproval {
		t.Helper()
		runs, err := s.List()
		if err != nil || len(runs) != 1 {
			t.Fatalf("list: %+v %v", runs, err)
		}
		d, err := s.Detail(r.ID())
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Waiting) != len(runs[0].Waiting) {
			t.Fatalf("Detail waits at %+v, List at %+v", d.Waiting, runs[0].Waiting)
		}
		// Summary reads the summary's lines only: the same answer.
		one, err := s.Summary(r.ID())
		if err != nil || fmt.Sprint(one) != fmt.Sprint(runs[0]) {
			t.Fatalf("Summary %+v (%v), List %+v", one, err, runs[0])
		}
		return runs[0].Waiting
	}
	w := waiting()
	if len(w) != 2 || w[0].Key != "canary.gate[store-7]" || w[0].Message != "canary looks fine?" || !w[0].Deadline.Equal(deadline) || w[0].Since.IsZero() {
		t.Fatalf("waiting: %+v", w)
	}
	if err := r.Waited("canary.gate[store-7]"); err != nil {
		t.Fatal(err)
	}
	if w := waiting(); len(w) != 1 || w[0].Key != "gate" {
		t.Fatalf("after one wait ended: %+v", w)
	}
	// A crash while waiting (no finish): still shown, status crashed.
	_ = r.Close()
	runs, _ := s.List()
	if runs[0].Status != journal.StatusCrashed || len(runs[0].Waiting) != 1 {
		t.Fatalf("crashed while waiting: %s %+v", runs[0].Status, runs[0].Waiting)
	}
	// The resumed attempt has not reached the gate yet: nothing waits.
	r2, err := s.Resume(r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.StartAttempt(); err != nil {
		t.Fatal(err)
	}
	if w := waiting(); len(w) != 0 {
		t.Fatalf("a new attempt inherited the old wait: %+v", w)
	}
	if err := r2.Waiting("gate", "go on?", deadline); err != nil {
		t.Fatal(err)
	}
	if w := waiting(); len(w) != 1 {
		t.Fatalf("the resumed wait: %+v", w)
	}
	// A finished attempt waits for nothing.
	if err := r2.Finish(journal.StatusFailed); err != nil {
		t.Fatal(err)
	}
	if w := waiting(); len(w) != 0 {
		t.Fatalf("finished but waiting: %+v", w)
	}
	_ = r2.Close()
}
