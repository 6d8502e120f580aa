package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/runner"
	"github.com/frameflow/frameflow/state"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Approvers deciding on one gate at the same instant, each through its own
// Service and state handle (as separate processes, or the page and a
// terminal): exactly one is recorded; every other one gets an
// *AlreadyDecidedError naming the first decision, on both backends.
func TestConcurrentApproversOneWins(t *testing.T) {
	backends := map[string]func(t *testing.T) func() (state.Backend, error){
		"local": func(t *testing.T) func() (state.Backend, error) {
			dir := t.TempDir()
			return func() (state.Backend, error) { return state.OpenLocal(dir, true) }
		},
		"postgres": func(t *testing.T) func() (state.Backend, error) {
			dsn := pgtest.DSN(t)
			return func() (state.Backend, error) {
				b, err := state.Open(context.Background(), dsn, state.Options{})
				if err == nil {
					t.Cleanup(func() { _ = b.Close() })
				}
				return b, err
			}
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			open := mk(t)
			b, err := open()
			if err != nil {
				t.Fatal(err)
			}
			jr, err := b.Journals(journal.Options{}).Create(journal.RunMeta{Workflow: "canary-rollout", File: "../workflows/canary-rollout.yaml", Mode: "run"})
			if err != nil {
				t.Fatal(err)
			}
			runID := jr.ID()
			_ = jr.Close()

			const approvers = 8
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, approvers)
			for i := range approvers {
				hb, err := open()
				if err != nil {
					t.Fatal(err)
				}
				svc := runner.New(runner.Config{OpenState: func() (state.Backend, error) { return hb, nil }})
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = svc.Approve(runner.ApproveRequest{RunID: runID, Step: "gate", Reject: i%2 == 1, By: fmt.Sprintf("approver-%d", i)})
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				if err == nil {
					if winner >= 0 {
						t.Fatalf("approver-%d and approver-%d were both recorded", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("nobody was recorded: %v", errs)
			}
			for i, err := range errs {
				var ad *runner.AlreadyDecidedError
				if i == winner {
					continue
				}
				if !errors.As(err, &ad) || ad.First.By != fmt.Sprintf("approver-%d", winner) || ad.First.Approved != (winner%2 == 0) {
					t.Fatalf("approver-%d lost with %v, want who decided first (approver-%d)", i, err, winner)
				}
			}
			svc := runner.New(runner.Config{OpenState: open})
			d, err := svc.ApprovalDecision(runID, "gate")
			if err != nil || d == nil || d.By != fmt.Sprintf("approver-%d", winner) {
				t.Fatalf("the decision that stands: %+v %v", d, err)
			}
		})
	}
}
