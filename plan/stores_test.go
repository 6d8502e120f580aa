package plan_test

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
)

// The store fixtures are the reference rollout (workflows/qa-rollout.yaml)
// as the engine reports its plan over n stores, with UUIDs like Frame's:
// accounts.list outputs (names), each store's clone from the QA account's
// Sandbox pool, its publish, and its production pool's elasticity. Every
// 7th store's pool already has the settings (unchanged); every 5th starts
// from 0/0/2 instead of 0/0/1 (a second elasticity group).

func uuid(seed string) string {
	h := sha256.Sum256([]byte(seed))
	x := fmt.Sprintf("%x", h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

type storeFixture struct {
	name, account, pool string
}

func storeFixtures(n int) []storeFixture {
	out := make([]storeFixture, n)
	for i := range out {
		name := fmt.Sprintf("Store-%03d", i+1)
		out[i] = storeFixture{name: name, account: uuid("account " + name), pool: uuid("pool " + name)}
	}
	return out
}

var (
	qaAccount = uuid("account QA")
	qaPool    = uuid("pool QA sandbox")
)

func storesPlan(n int) *plan.Plan {
	stores := storeFixtures(n)
	res := &engine.Result{}
	accounts := []any{map[string]any{"id": qaAccount, "name": "QA", "active": true}}
	for _, s := range stores {
		accounts = append(accounts, map[string]any{"id": s.account, "name": s.name, "active": true})
	}
	res.Steps = append(res.Steps,
		engine.StepResult{Step: "source", Index: -1, Status: "succeeded", Outputs: map[string]any{"accounts": accounts[:1]}},
		engine.StepResult{Step: "targets", Index: -1, Status: "succeeded", Outputs: map[string]any{"accounts": accounts[1:]}})
	add := func(step string, i int, s storeFixture, m *engine.Mutation) {
		res.Mutations = append(res.Mutations, engine.PlannedMutation{Step: step, Item: s.name, Index: i, Mutation: m, Key: key(step, s.account, 1)})
		res.Steps = append(res.Steps, engine.StepResult{Step: step, Item: s.name, Index: i, Status: "succeeded"})
	}
	for i, s := range stores {
		add("rollout.clone", i, s, &engine.Mutation{
			Type: "sandbox.clone", Method: "POST",
			Path:        "/accounts/" + s.account + "/pools/" + qaPool + "/clone",
			Resources:   []string{"account:" + s.account},
			Placeholder: map[string]any{"id": engine.Unknown, "account_id": s.account, "kind": "clone_pool", "stage": engine.Unknown},
			Action:      engine.ActionUpdate,
			Names:       map[string]string{qaPool: "Sandbox"},
			Details: []engine.Detail{
				{Label: "source account", Value: qaAccount},
				{Label: "source pool", Value: qaPool},
				{Label: "cloned", Value: "Sandbox image, overwriting the target's Sandbox"},
			},
		})
		add("rollout.publish", i, s, &engine.Mutation{
			Type: "sandbox.publish", Method: "POST", Path: "/accounts/" + s.account + "/publish",
			Resources: []string{"account:" + s.account},
			Action:    engine.ActionUpdate,
			Details:   []engine.Detail{{Label: "published", Value: "the account's Sandbox image, to its production pools"}},
		})
		if (i+1)%7 == 0 {
			res.Steps = append(res.Steps, engine.StepResult{Step: "rollout.capacity", Item: s.name, Index: i, Status: "unchanged"})
			continue
		}
		before := elasticity(0, 0, 1)
		if (i+1)%5 == 0 {
			before = elasticity(0, 0, 2)
		}
		add("rollout.capacity", i, s, &engine.Mutation{
			Type: "elasticity.set", Method: "POST", Path: "/pools/" + s.pool + "/elasticity_settings",
			Body:      url.Values{"min_servers": {"1"}, "buffer_servers": {"1"}, "max_servers": {"5"}},
			Resources: []string{"pool:" + s.pool, "account:" + s.account},
			Change:    &engine.Change{Before: before, After: elasticity(1, 1, 5)},
			Action:    engine.ActionUpdate,
			Names:     map[string]string{s.pool: "Production"},
		})
	}
	inputs := map[string]any{"source_account": "QA", "target_filter": `name startsWith "Store-" && active`,
		"min_servers": 1, "buffer_servers": 1, "max_servers": 5}
	p := plan.FromResult(workflow, inputs, nil, res, false, destructive)
	p.CreatedAt = fixedTime
	return p
}

func TestGoldenStorePlans(t *testing.T) {
	for _, n := range []int{8, 500} {
		p := storesPlan(n)
		golden(t, fmt.Sprintf("stores-%d.txt", n), render(t, p, "text", plan.RenderOptions{}))
		golden(t, fmt.Sprintf("stores-%d-detail.txt", n), render(t, p, "text", plan.RenderOptions{Detail: true}))
		golden(t, fmt.Sprintf("stores-%d.md", n), render(t, p, "markdown", plan.RenderOptions{FullPlan: "plan.json"}))
	}
}

func TestStorePlanReadsLikeAReview(t *testing.T) {
	p := storesPlan(500)
	text := render(t, p, "text", plan.RenderOptions{})
	for _, want := range []string{
		"! replace rollout.clone (sandbox.clone) × 500",
		"source account: QA (" + qaAccount[:8] + ")",
		"source pool:    Sandbox (" + qaPool[:8] + ")",
		"~ update  rollout.publish (sandbox.publish) × 500",
		"change:   min 0 → 1, buffer 0 → 1, max 1 → 5",
		"change:   min 0 → 1, buffer 0 → 1, max 2 → 5",
		"… +495 more (--detail lists every target)",
		"Unchanged (the desired state is already in place): 71 (rollout.capacity × 71)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, qaAccount) || strings.Contains(text, "(known after apply)") {
		t.Errorf("text plan shows full UUIDs or placeholders a reviewer does not need:\n%s", text)
	}
	if lines := strings.Count(text, "\n"); lines > 60 {
		t.Errorf("the grouped plan of 500 stores is %d lines; want it to fit a screen or two", lines)
	}
	detail := render(t, p, "text", plan.RenderOptions{Detail: true})
	for _, want := range []string{
		"- Store-500: account " + storeFixtures(500)[499].account[:8],
		"- Store-499: pool Production (" + storeFixtures(500)[498].pool[:8] + "), account " + storeFixtures(500)[498].account[:8],
		"  = rollout[Store-007].capacity",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("--detail plan lacks %q", want)
		}
	}
	// The full ids stay in the plan file.
	if js := render(t, p, "json", plan.RenderOptions{}); !strings.Contains(js, qaAccount) || !strings.Contains(js, `"QA"`) {
		t.Error("the JSON plan lacks the full ids or the names")
	}
}

func TestMarkdownPlanFitsAComment(t *testing.T) {
	for _, n := range []int{8, 110, 500, 2000} {
		md := render(t, storesPlan(n), "markdown", plan.RenderOptions{FullPlan: "plan.json"})
		if len(md) > plan.DefaultMarkdownMax {
			t.Errorf("%d stores: Markdown plan is %d characters, over %d", n, len(md), plan.DefaultMarkdownMax)
		}
		if !strings.HasPrefix(md, "### frameflow plan: qa-rollout\n\n**Plan: ") {
			t.Errorf("%d stores: Markdown plan does not start with its summary:\n%.300s", n, md)
		}
		cut := strings.Contains(md, "shortened to fit")
		if n >= 2000 && !cut {
			t.Errorf("%d stores: a cut plan does not say so", n)
		}
		if cut && !strings.Contains(md, "`plan.json`") {
			t.Errorf("%d stores: a cut plan does not point to the full plan file", n)
		}
		if n == 8 && cut {
			t.Errorf("8 stores: the plan was cut although it fits")
		}
	}
	// A tiny limit still gives a summary and the pointer, within the limit.
	md := render(t, storesPlan(500), "markdown", plan.RenderOptions{MaxChars: 700, FullPlan: "plan.json"})
	if len(md) > 700 || !strings.Contains(md, "**Plan: ") || !strings.Contains(md, "`plan.json`") {
		t.Errorf("a 700-character Markdown plan (%d) lacks its summary or pointer:\n%s", len(md), md)
	}
}

func TestPlanShowsWhatNeedsNoApproval(t *testing.T) {
	p := storesPlan(8)
	p.MarkNoApproval(func(step string) bool { return step == "rollout.capacity" || step == "rollout.clone" })
	if got := p.NeedsApproval(); got != 16 {
		t.Errorf("NeedsApproval = %d, want 16 (a destructive clone needs approval whatever the playbook says)", got)
	}
	text := render(t, p, "text", plan.RenderOptions{})
	for _, want := range []string{
		"approval: not required (the playbook says approval: not_required)",
		"Approval required for 16 changes (8 destructive); 7 declared approval: not_required.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
	if md := render(t, p, "markdown", plan.RenderOptions{}); !strings.Contains(md, "Approval required for 16 of 23 changes.") {
		t.Errorf("Markdown plan does not say what needs approval:\n%s", md)
	}
	before := p.Hash
	p.MarkNoApproval(func(string) bool { return false })
	if p.Hash == before {
		t.Error("the hash does not cover what needs approval")
	}
}
