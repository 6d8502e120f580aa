package steps_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame/sim"
)

// failNth lets the journal send the first n mutations and refuses the rest
// (as a network error before sending would).
type failNth struct {
	next engine.MutationRecorder
	n    int
}

func (f *failNth) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	if f.n == 0 {
		return nil, errors.New("connection refused")
	}
	f.n--
	return f.next.Do(ctx, key, m)
}

// elasticity.set over an account with two production pools, run again (a
// step retry, or a resume) after the first pool's change took effect: the
// first pool is now unchanged and the second's mutation must keep its own
// key, or the journal finds "#1" recorded for the other pool and fails the
// step ("the workflow or its inputs changed").
func TestElasticitySetKeepsMutationKeysWhenAnEarlierPoolIsDone(t *testing.T) {
	sc := sim.RetailScenario(1)
	sc.Organizations[0].Generate[0].Production.Pools = []sim.PoolSpec{
		{Name: "Day", Elasticity: sim.ElasticitySpec{MaxServers: 1}},
		{Name: "Night", Elasticity: sim.ElasticitySpec{MaxServers: 1}},
	}
	e := newEnv(t, sim.Options{Scenario: sc, TaskDuration: time.Millisecond})
	store, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jr, err := store.Create(journal.RunMeta{Workflow: "t", File: "t.yaml", Mode: "run"})
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Close()
	in := map[string]any{"account_id": e.accountID("Store-001"), "max_servers": 4, "wait": true}

	// Attempt 1 sets the first pool (and waits for it), then fails to send
	// the second.
	if _, _, err := e.run("elasticity.set", in, runOpts{recorder: &failNth{next: jr, n: 1}}); err == nil {
		t.Fatal("attempt 1 should have failed")
	}
	// Attempt 2: the first pool is as desired now.
	out, _, err := e.run("elasticity.set", in, runOpts{recorder: jr})
	if err != nil {
		t.Fatalf("the second attempt failed: %v", err)
	}
	pools := out["pools"].([]any)
	if len(pools) != 2 || pools[0].(map[string]any)["changed"] != false || pools[1].(map[string]any)["changed"] != true {
		t.Fatalf("pools: %v", pools)
	}
	if n := len(e.mutations()); n != 2 {
		t.Fatalf("%d mutations sent, want 2: %v", n, e.mutations())
	}
}
