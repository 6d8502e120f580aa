package steps_test

import (
	"errors"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// An elasticity change whose answer was lost while its update task still
// runs (the simulator, like a server that applies the values when the task
// finishes, still shows the old ones) is reconciled as sent: the reconcile
// waits for the values within the grace instead of concluding "not sent"
// and sending it again into the running task.
func TestElasticityReconcileWaitsForRunningUpdate(t *testing.T) {
	e := newEnv(t, sim.Options{TaskDuration: 600 * time.Millisecond})
	store := e.accountID("Store-001")
	in := map[string]any{"account_id": store, "min_servers": 1, "buffer_servers": 1, "max_servers": 7}
	crash := &crashRecorder{send: true}
	if _, _, err := e.run("elasticity.set", in, runOpts{recorder: crash}); !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	resume := &crashRecorder{restore: crash.witness}
	if _, _, err := e.run("elasticity.set", in, runOpts{recorder: resume}); err != nil {
		t.Fatal(err)
	}
	if !resume.found {
		t.Fatal("a running elasticity update was taken as not sent")
	}
	if n := e.count("POST /pools/"); n != 1 {
		t.Errorf("elasticity POSTs = %d, want 1", n)
	}
}
