package plan_test

import (
	"fmt"
	"net/url"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
)

// The fixture is the retail rollout over three stores: each is cloned from
// the QA sandbox pool, published, and its production pool's elasticity set;
// Store-Tahoe's pool already has the wanted settings (unchanged).

type store struct{ name, account, pool string }

var stores = []store{
	{"Store-Reno", "acc-11", "pool-p11"},
	{"Store-Tahoe", "acc-12", "pool-p12"},
	{"Store-Vegas", "acc-13", "pool-p13"},
}

func elasticity(min, buffer, max int) map[string]any {
	return map[string]any{"min_servers": min, "buffer_servers": buffer, "max_servers": max}
}

func cloneMutation(s store) *engine.Mutation {
	return &engine.Mutation{
		Type:        "sandbox.clone",
		Method:      "POST",
		Path:        "/accounts/" + s.account + "/pools/pool-qa-sbx/clone",
		Query:       map[string]string{"join_domain": "false"},
		Resources:   []string{"account:" + s.account},
		Placeholder: map[string]any{"id": engine.Unknown, "account_id": s.account, "stage": "not_started"},
	}
}

func publishMutation(s store) *engine.Mutation {
	return &engine.Mutation{
		Type:      "sandbox.publish",
		Method:    "POST",
		Path:      "/accounts/" + s.account + "/publish",
		Resources: []string{"account:" + s.account},
	}
}

func elasticityMutation(s store, before map[string]any) *engine.Mutation {
	return &engine.Mutation{
		Type:      "elasticity.set",
		Method:    "POST",
		Path:      "/pools/" + s.pool + "/elasticity_settings",
		Body:      url.Values{"min_servers": {"1"}, "buffer_servers": {"1"}, "max_servers": {"5"}},
		Resources: []string{"pool:" + s.pool},
		Change:    &engine.Change{Before: before, After: elasticity(1, 1, 5)},
	}
}

// key is the engine's mutation key: step[item key]#ordinal, the item key
// being the item's stable key (here the account id).
func key(step, item string, n int) string {
	return fmt.Sprintf("%s[%s]#%d", step, item, n)
}

// rolloutResult is what the engine returns for a plan of the rollout.
func rolloutResult() *engine.Result {
	res := &engine.Result{}
	add := func(step string, i int, s store, m *engine.Mutation) {
		res.Mutations = append(res.Mutations, engine.PlannedMutation{Step: step, Item: s.name, Index: i, Mutation: m, Key: key(step, s.account, 1)})
		res.Steps = append(res.Steps, engine.StepResult{Step: step, Item: s.name, Index: i, Status: "succeeded"})
	}
	res.Steps = append(res.Steps, engine.StepResult{Step: "targets", Index: -1, Status: "succeeded"})
	for i, s := range stores {
		add("rollout.clone", i, s, cloneMutation(s))
		add("rollout.publish", i, s, publishMutation(s))
		if s.name == "Store-Tahoe" {
			res.Steps = append(res.Steps, engine.StepResult{Step: "rollout.elasticity", Item: s.name, Index: i, Status: "unchanged"})
			continue
		}
		add("rollout.elasticity", i, s, elasticityMutation(s, elasticity(0, 0, 1)))
	}
	return res
}

var workflow = plan.WorkflowRef{
	Name:     "qa-rollout",
	File:     "workflows/qa-rollout.yaml",
	FileHash: "sha256:1f0c3e4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566",
}

const secretValue = "s3cr3t-Zebra-7781"

func rolloutInputs() map[string]any {
	return map[string]any{
		"source_account": "QA",
		"target_filter":  `account.name startsWith "Store-" && account.active`,
		"min_servers":    1,
		"buffer_servers": 1,
		"max_servers":    5,
		// The caller should have redacted this; the plan must not rely on it.
		"webhook_token": secretValue,
	}
}

var secretInputs = []string{"webhook_token"}

func destructive(t string) bool { return t == "sandbox.clone" }

var fixedTime = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

func rolloutPlan() *plan.Plan {
	p := plan.FromResult(workflow, rolloutInputs(), secretInputs, rolloutResult(), false, destructive)
	p.CreatedAt = fixedTime
	return p
}
