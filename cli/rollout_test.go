package cli_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// The acceptance test of issue 4: against a simulator with 12 store
// accounts, the rollout clones each store once from the QA sandbox pool,
// publishes after the clone's task is done, sets capacity to 1/1/5 after the
// publish is done, sends nothing twice, and the stores' chains overlap.
func TestRolloutTwelveStores(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(12), TaskDuration: 80 * time.Millisecond})
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes")
	if r.code != 0 {
		t.Fatalf("run failed:\n%s", r)
	}
	state := s.Snapshot()
	reqs := s.Requests()

	var qaSandbox string
	stores := map[string]string{} // id -> name
	for _, a := range state.Accounts {
		if a.Name == "QA" {
			qaSandbox = sandboxPool(state, a.ID)
		}
		if strings.HasPrefix(a.Name, "Store-") && a.Active {
			stores[a.ID] = a.Name
		}
	}
	if qaSandbox == "" || len(stores) != 12 {
		t.Fatalf("scenario: QA sandbox %q, %d stores", qaSandbox, len(stores))
	}

	type chain struct {
		clone, publish, elasticity []sim.RequestRecord
	}
	chains := map[string]*chain{}
	prodPool := map[string]string{} // pool id -> account id
	for _, p := range state.Pools {
		if p.Kind == "production" {
			prodPool[p.ID] = p.AccountID
		}
	}
	seen := map[string]bool{}
	for _, q := range reqs {
		if q.Method != "GET" {
			key := q.Method + " " + q.Path + "?" + q.Query + " " + q.Body
			if seen[key] && q.Status < 400 {
				t.Errorf("mutation sent twice: %s", key)
			}
			if q.Status < 400 {
				seen[key] = true
			}
		}
		if q.Method != "POST" || q.Status >= 300 {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(q.Path, "/v1"), "/")
		switch {
		case len(parts) == 6 && parts[1] == "accounts" && parts[3] == "pools" && parts[5] == "clone":
			ch := get(chains, parts[2])
			if !strings.HasSuffix(q.Path, "/pools/"+qaSandbox+"/clone") {
				t.Errorf("clone from %s, want the QA sandbox pool %s", q.Path, qaSandbox)
			}
			ch.clone = append(ch.clone, q)
		case len(parts) == 4 && parts[1] == "accounts" && parts[3] == "publish":
			get(chains, parts[2]).publish = append(get(chains, parts[2]).publish, q)
		case len(parts) == 4 && parts[1] == "pools" && parts[3] == "elasticity_settings":
			acc := prodPool[parts[2]]
			get(chains, acc).elasticity = append(get(chains, acc).elasticity, q)
			form, _ := url.ParseQuery(q.Body)
			if got := fmt.Sprintf("%s/%s/%s", form.Get("min_servers"), form.Get("buffer_servers"), form.Get("max_servers")); got != "1/1/5" {
				t.Errorf("elasticity body %q, want 1/1/5", q.Body)
			}
		}
	}
	taskDone := func(acc string, after time.Time) bool {
		// A task-status read of this account that saw the task done, between
		// the mutation and the next one, proves the order.
		for _, q := range reqs {
			if q.Method == "GET" && strings.Contains(q.Path, "/accounts/"+acc+"/task/") && q.Time.After(after) {
				return true
			}
		}
		return false
	}
	var latestStart, earliestEnd time.Time
	for id, name := range stores {
		ch := chains[id]
		if ch == nil || len(ch.clone) != 1 || len(ch.publish) != 1 || len(ch.elasticity) != 1 {
			t.Errorf("%s: want exactly one clone, publish and elasticity change; got %+v", name, ch)
			continue
		}
		if !ch.publish[0].Time.After(ch.clone[0].Time) || !ch.elasticity[0].Time.After(ch.publish[0].Time) {
			t.Errorf("%s: out of order: clone %s publish %s elasticity %s", name, ch.clone[0].Time, ch.publish[0].Time, ch.elasticity[0].Time)
		}
		if !taskDone(id, ch.clone[0].Time) {
			t.Errorf("%s: publish without polling the clone task", name)
		}
		if ch.clone[0].Time.After(latestStart) {
			latestStart = ch.clone[0].Time
		}
		if earliestEnd.IsZero() || ch.elasticity[0].Time.Before(earliestEnd) {
			earliestEnd = ch.elasticity[0].Time
		}
	}
	for id := range chains {
		if _, ok := stores[id]; !ok && id != "" {
			t.Errorf("account %s is not a target but was changed", id)
		}
	}
	// Chains overlap in time: every store's chain had started (clone sent)
	// before the first chain ended (elasticity sent), so no chain waited for
	// another to finish.
	if !latestStart.Before(earliestEnd) {
		t.Errorf("chains ran one after another: last clone at %s, first capacity change at %s", latestStart, earliestEnd)
	}
	for _, a := range s.Snapshot().Accounts {
		if _, ok := stores[a.ID]; ok && (a.LastPublish == nil || a.ProductionImageVersion != a.SandboxImageVersion) {
			t.Errorf("%s not published: %+v", a.Name, a)
		}
	}
}

func get[K comparable, V any](m map[K]*V, k K) *V {
	if m[k] == nil {
		m[k] = new(V)
	}
	return m[k]
}
