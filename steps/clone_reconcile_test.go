package steps_test

import (
	"errors"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

// A clone whose answer was lost is proven through the target's audit trail
// against the journaled witness: found without re-sending, and not waited
// on (its task id is unknown); a clone never sent is proven absent.
func TestSandboxCloneReconcileThroughAuditTrail(t *testing.T) {
	old := steps.CloneAuditGrace
	steps.CloneAuditGrace = 400 * time.Millisecond
	t.Cleanup(func() { steps.CloneAuditGrace = old })
	e := newEnv(t, sim.Options{})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	in := map[string]any{"target_account_id": store, "source_account_id": qa, "wait": true}
	clonePath := "POST /accounts/" + store + "/pools/" + e.pool("QA", "sandbox") + "/clone"

	// A clone made by someone else earlier is in the witness, so it does
	// not count as this one.
	e.ok("sandbox.clone", in, runOpts{})

	crash := &crashRecorder{send: true}
	if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: crash}); !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	if n := e.count(clonePath); n != 2 {
		t.Fatalf("clones = %d, want 2", n)
	}
	taskReads := e.count("GET /accounts/" + store + "/task/")
	resume := &crashRecorder{restore: crash.witness}
	out := e.ok("sandbox.clone", in, runOpts{recorder: resume})
	if !resume.found {
		t.Fatal("reconcile did not find the clone that was sent")
	}
	if n := e.count(clonePath); n != 2 {
		t.Errorf("resume re-sent the clone: %d POSTs", n)
	}
	task := out["task"].(map[string]any)
	if task["audit_trail_id"] == nil || task["id"] != nil || task["kind"] != "clone_pool" || task["account_id"] != store || task["stage"] != frame.StageInProgress {
		t.Errorf("reconciled task = %v", task)
	}
	if n := e.count("GET /accounts/" + store + "/task/"); n != taskReads {
		t.Errorf("the reconciled clone was polled (%d task reads, was %d): it has no task id", n, taskReads)
	}

	// Without the journaled witness: an error, not a guess.
	noRestore := &crashRecorder{}
	if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: noRestore}); !errors.Is(err, steps.ErrNoCloneWitness) {
		t.Errorf("unrestored witness: err = %v", err)
	}

	// A crash before the POST: the audit trail proves absence, but only
	// once the grace period for a late audit entry has passed.
	notSent := &crashRecorder{}
	start := time.Now()
	_, _, _ = e.run("sandbox.clone", in, runOpts{recorder: notSent})
	again := &crashRecorder{restore: notSent.witness}
	if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: again}); err != nil || again.found {
		t.Errorf("not sent: err %v found %v", err, again.found)
	}
	if d := time.Since(start); d < steps.CloneAuditGrace {
		t.Errorf("absence concluded after %s, before the %s grace period", d, steps.CloneAuditGrace)
	}
	if n := e.count(clonePath); n != 2 {
		t.Errorf("clones = %d, want 2", n)
	}
}
