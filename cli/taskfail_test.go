package cli_test

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// firstTaskFails picks a simulator seed and task fail rate under which the
// first task the simulator makes fails and the next n-1 do not. The
// simulator draws one number per task, in the order tasks are made, from
// PCG(seed, seed^0x9e3779b97f4a7c15) (frame/sim New), and fails the task
// when it is below the rate. The first task of a rollout is a clone; which
// store's clone comes first is up to the scheduler, so tests find the store
// from the simulator's state.
func firstTaskFails(t *testing.T, n int) (int64, float64) {
	t.Helper()
	for seed := uint64(1); seed < 100000; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		first, rest := rng.Float64(), 1.0
		for range n - 1 {
			rest = min(rest, rng.Float64())
		}
		if first < rest/2 { // a margin either side of the rate
			return int64(seed), (first + rest) / 2
		}
	}
	t.Fatal("no seed found")
	return 0, 0
}

// failedClone checks that exactly one task failed, a clone, and returns the
// store it was for.
func failedClone(t *testing.T, s *sim.Running) string {
	t.Helper()
	var failed []sim.TaskState
	for _, tk := range s.Snapshot().Tasks {
		if tk.Stage == sim.StageFailed {
			failed = append(failed, tk)
		}
	}
	if len(failed) != 1 || failed[0].Kind != sim.KindClone {
		t.Fatalf("want exactly one failed task, a clone (the simulator's fault draws changed?); failed: %+v", failed)
	}
	return failed[0].AccountID
}

// clonesByStore counts the clone requests the simulator accepted, per
// target account.
func clonesByStore(s *sim.Running) map[string]int {
	n := map[string]int{}
	for _, q := range s.Requests() {
		if q.Method == "POST" && strings.HasSuffix(q.Path, "/clone") && q.Status == 200 {
			// /v1/accounts/{target}/pools/{source}/clone
			if parts := strings.Split(q.Path, "/"); len(parts) > 3 {
				n[parts[3]]++
			}
		}
	}
	return n
}

// checkRolledOut asserts every store has QA's image published, its clone
// count (two for the store whose first clone task failed, one for the
// others) and one accepted publish.
func checkRolledOut(t *testing.T, s *sim.Running, failedStore string) {
	t.Helper()
	st := s.Snapshot()
	var qaImage string
	for _, a := range st.Accounts {
		if a.Name == "QA" {
			qaImage = a.SandboxImageVersion
		}
	}
	clones := clonesByStore(s)
	publishes := map[string]int{}
	for _, q := range s.Requests() {
		if q.Method == "POST" && strings.HasSuffix(q.Path, "/publish") && q.Status == 200 {
			publishes[strings.Split(q.Path, "/")[3]]++
		}
	}
	stores := 0
	for _, a := range st.Accounts {
		if !strings.HasPrefix(a.Name, "Store-") {
			continue
		}
		stores++
		want := 1
		if a.ID == failedStore {
			want = 2 // the failed task's clone and the good one
		}
		if clones[a.ID] != want {
			t.Errorf("%s: %d clones, want %d", a.Name, clones[a.ID], want)
		}
		if publishes[a.ID] != 1 {
			t.Errorf("%s: %d publishes, want 1", a.Name, publishes[a.ID])
		}
		if a.SandboxImageVersion != qaImage || a.ProductionImageVersion != qaImage || a.LastPublish == nil {
			t.Errorf("%s not rolled out: sandbox %s, production %s, want %s", a.Name, a.SandboxImageVersion, a.ProductionImageVersion, qaImage)
		}
	}
	if stores != 3 {
		t.Fatalf("%d stores in the estate", stores)
	}
}

// A clone whose task failed changed nothing. The run fails for that store;
// `frameflow resume` clones it once more (the journal must not answer with
// the failed task again) and finishes the rollout; no other store is cloned
// twice.
func TestResumeClonesAgainAfterTheCloneTaskFailed(t *testing.T) {
	seed, rate := firstTaskFails(t, 64)
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3), Seed: seed, TaskFailRate: rate})
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes")
	if r.code != 1 {
		t.Fatalf("the run should fail for the store whose clone task failed:\n%s", r)
	}
	failedStore := failedClone(t, s)
	if n := clonesByStore(s)[failedStore]; n != 1 {
		t.Fatalf("%d clones of the failed store in the run, want 1 (the retry policy does not name task_failed)", n)
	}
	if r := frameflow(t, env, "resume", "--last", "--yes"); r.code != 0 {
		t.Fatalf("resume:\n%s", r)
	}
	failedClone(t, s) // the second clone's task did not fail
	checkRolledOut(t, s, failedStore)
	if r := frameflow(t, env, "resume", "--last", "--yes"); r.code != 0 {
		t.Fatalf("a resume of the succeeded run:\n%s", r)
	}
	checkRolledOut(t, s, failedStore) // nothing sent again
}

// With task_failed in the clone's retry policy, the step retry sends the
// clone once more within the run, which then succeeds.
func TestRetryOnTaskFailedClonesAgainInTheRun(t *testing.T) {
	src, err := os.ReadFile("../workflows/qa-rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const on = "on: [throttled, server_error, network, conflict]"
	if !strings.Contains(string(src), on) {
		t.Fatalf("qa-rollout.yaml no longer has %q; update this test", on)
	}
	wf := writeWorkflow(t, strings.Replace(string(src), on, "on: [throttled, server_error, network, conflict, task_failed]", 1))
	seed, rate := firstTaskFails(t, 64)
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3), Seed: seed, TaskFailRate: rate})
	if r := frameflow(t, env, "run", wf, "--yes"); r.code != 0 {
		t.Fatalf("run:\n%s", r)
	}
	checkRolledOut(t, s, failedClone(t, s))
}
