package plan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plans")

func render(t *testing.T, p *plan.Plan, format string, opts plan.RenderOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := plan.Render(&buf, p, format, opts); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "plans", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./plan -update to accept):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestGoldenRenderings(t *testing.T) {
	p := rolloutPlan()
	golden(t, "rollout.txt", render(t, p, "text", plan.RenderOptions{}))
	golden(t, "rollout.json", render(t, p, "json", plan.RenderOptions{}))
	golden(t, "rollout.md", render(t, p, "markdown", plan.RenderOptions{}))

	empty := plan.FromResult(workflow, map[string]any{"max_servers": 5}, nil, &engine.Result{Steps: []engine.StepResult{
		{Step: "rollout.elasticity", Item: "Store-Reno", Index: 0, Status: "unchanged"},
	}}, false, destructive)
	empty.CreatedAt = fixedTime
	golden(t, "no-changes.txt", render(t, empty, "text", plan.RenderOptions{}))
	golden(t, "no-changes.md", render(t, empty, "markdown", plan.RenderOptions{}))
}

func TestTextRendering(t *testing.T) {
	p := rolloutPlan()
	text := render(t, p, "text", plan.RenderOptions{})
	for _, want := range []string{
		"! replace rollout.clone (sandbox.clone) × 3",
		"request:  POST /accounts/{account}/pools/pool-qa-sbx/clone?join_domain=false",
		"+ create  rollout.publish (sandbox.publish) × 3",
		"~ update  rollout.elasticity (elasticity.set) × 2",
		"change:   min 0 → 1, buffer 0 → 1, max 1 → 5",
		"targets:  Store-Reno, Store-Vegas",
		"Unchanged (the desired state is already in place): 1 (rollout.elasticity × 1)",
		"Plan: 8 changes (3 sandbox.clone, 3 sandbox.publish, 2 elasticity.set), 1 unchanged.",
		"Plan hash: " + p.Hash,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text plan lacks %q:\n%s", want, text)
		}
	}
	if detail := render(t, p, "text", plan.RenderOptions{Detail: true}); !strings.Contains(detail, "= rollout[Store-Tahoe].elasticity") {
		t.Errorf("--detail does not list the unchanged steps:\n%s", detail)
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("text without colour has escape sequences")
	}
	if colored := render(t, p, "text", plan.RenderOptions{Color: true}); !strings.Contains(colored, "\x1b[31m!\x1b[0m") {
		t.Errorf("coloured text does not mark destructive changes in red:\n%q", colored)
	}
}

func TestMarkdownRendering(t *testing.T) {
	p := rolloutPlan()
	md := render(t, p, "markdown", plan.RenderOptions{})
	for _, want := range []string{
		"**Plan: 8 changes (3 sandbox.clone, 3 sandbox.publish, 2 elasticity.set), 1 unchanged.**",
		"| ~ | update: min 0 → 1, buffer 0 → 1, max 1 → 5 | `rollout.elasticity (elasticity.set)` | 2 | `POST /pools/{pool}/elasticity_settings` |",
		"<details><summary>~ update rollout.elasticity (elasticity.set) × 2</summary>",
		"- body: `buffer_servers=1&max_servers=5&min_servers=1`",
		"plan hash `" + p.Hash + "`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown plan lacks %q:\n%s", want, md)
		}
	}
}

func TestJSONRenderingIsTheDocumentedFormat(t *testing.T) {
	p := rolloutPlan()
	var doc map[string]any
	if err := json.Unmarshal([]byte(render(t, p, "json", plan.RenderOptions{})), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "workflow", "inputs", "offline", "mutations", "unchanged", "summary", "hash", "created_at"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON plan lacks %q", k)
		}
	}
	m := doc["mutations"].([]any)[2].(map[string]any)
	for _, k := range []string{"step", "item", "index", "key", "type", "method", "path", "body", "body_encoding", "resources", "change", "result", "destructive"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON mutation lacks %q: %v", k, m)
		}
	}
	if m["body"].(map[string]any)["max_servers"] != "5" || m["body_encoding"] != "form" {
		t.Errorf("form body not kept as an object of strings: %v", m["body"])
	}
	sum := doc["summary"].(map[string]any)
	if sum["changes"] != 8.0 || sum["unchanged"] != 1.0 || sum["destructive"] != 3.0 {
		t.Errorf("summary = %v", sum)
	}
}

func TestRenderingsAreDeterministic(t *testing.T) {
	for _, format := range []string{"text", "json", "markdown"} {
		first := render(t, rolloutPlan(), format, plan.RenderOptions{})
		for range 5 {
			if again := render(t, rolloutPlan(), format, plan.RenderOptions{}); again != first {
				t.Fatalf("%s rendering differs between identical plans", format)
			}
		}
	}
}

func TestJSONBodyIsCompact(t *testing.T) {
	res := &engine.Result{Mutations: []engine.PlannedMutation{{
		Step: "capacity", Index: -1, Key: "capacity[]#1",
		Mutation: &engine.Mutation{Type: "persistent_desktop.capacity.set", Method: "PUT", Path: "/accounts/acc-1/persistent_desktops/capacity",
			Body: map[string]any{"max_instances": 10, "buffer": 2, "note": "<night>"}},
	}}}
	p := plan.FromResult(workflow, nil, nil, res, false, nil)
	text := render(t, p, "text", plan.RenderOptions{})
	if !strings.Contains(text, `body:     {"buffer":2,"max_instances":10,"note":"<night>"}`) {
		t.Errorf("JSON body not rendered as compact JSON with sorted keys:\n%s", text)
	}
	if !strings.Contains(text, "+ create  capacity (persistent_desktop.capacity.set)\n      request:  PUT /accounts/acc-1/persistent_desktops/capacity") {
		t.Errorf("mutation without a read change not marked +:\n%s", text)
	}
}

func TestOfflinePlanSaysSo(t *testing.T) {
	res := &engine.Result{Mutations: []engine.PlannedMutation{{
		Step: "rollout.publish", Item: "(known after apply)", Index: 0, Key: "rollout.publish[(known after apply)]#1",
		Mutation: &engine.Mutation{Type: "sandbox.publish", Method: "POST", Path: "/accounts/" + plan.KnownAfterApply + "/publish"},
	}}}
	p := plan.FromResult(workflow, nil, nil, res, true, nil)
	for _, format := range []string{"text", "markdown"} {
		if out := render(t, p, format, plan.RenderOptions{}); !strings.Contains(out, "Offline plan") {
			t.Errorf("%s rendering of an offline plan does not say it is offline:\n%s", format, out)
		}
	}
}

func TestSecretsAreNeverRendered(t *testing.T) {
	// The secret input's value also reaches a request body and a path, as a
	// careless playbook might do.
	res := rolloutResult()
	res.Mutations = append(res.Mutations, engine.PlannedMutation{
		Step: "notify", Index: -1, Key: "notify[]#1",
		Mutation: &engine.Mutation{Type: "api.call", Method: "POST", Path: "/hooks/" + secretValue,
			Query:  map[string]string{"token": secretValue},
			Body:   map[string]any{"token": secretValue, "text": "rollout planned"},
			Change: &engine.Change{Before: map[string]any{"token": "old-" + secretValue}, After: map[string]any{"token": secretValue}}},
	})
	clientSecret := "client-SECRET-99x"
	res.Mutations = append(res.Mutations, engine.PlannedMutation{
		Step: "leak", Index: -1, Key: "leak[]#1",
		Mutation: &engine.Mutation{Type: "api.call", Method: "POST", Path: "/x", Body: map[string]any{"s": clientSecret}},
	})
	p := plan.FromResult(workflow, rolloutInputs(), secretInputs, res, false, destructive)
	redact := func(s string) string { return strings.ReplaceAll(s, clientSecret, "***") }

	outputs := map[string]string{}
	for _, format := range []string{"text", "json", "markdown"} {
		outputs[format] = render(t, p, format, plan.RenderOptions{Redact: redact, Color: true})
	}
	file := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(file); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(file)
	outputs["saved file"] = string(saved)

	for name, out := range outputs {
		if strings.Contains(out, secretValue) {
			t.Errorf("%s contains the secret input's value:\n%s", name, out)
		}
		if name != "saved file" && strings.Contains(out, clientSecret) {
			t.Errorf("%s contains a value the caller's Redact removes:\n%s", name, out)
		}
	}
	if !strings.Contains(outputs["text"], "webhook_token  = (sensitive)") {
		t.Errorf("secret input not shown as (sensitive):\n%s", outputs["text"])
	}
	if _, err := plan.Load(file); err != nil {
		t.Errorf("a plan with scrubbed secrets does not load: %v", err)
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := plan.Render(&bytes.Buffer{}, rolloutPlan(), "yaml", plan.RenderOptions{}); err == nil {
		t.Error("Render accepted an unknown format")
	}
}

func TestControlCharactersFromTheAPIAreMadeVisible(t *testing.T) {
	// An account name is API data; it must not drive the terminal or forge
	// a line of the plan.
	evil := "Store-\x1b[2J\nPlan: 0 changes"
	res := &engine.Result{Mutations: []engine.PlannedMutation{{
		Step: "rollout.publish", Item: evil, Index: 0, Key: "rollout.publish[acc-1]#1",
		Mutation: publishMutation(store{evil, "acc-1", "p-1"}),
	}}}
	p := plan.FromResult(workflow, nil, nil, res, false, nil)
	for _, format := range []string{"text", "markdown"} {
		out := render(t, p, format, plan.RenderOptions{})
		if strings.Contains(out, "\x1b") || strings.Contains(out, "\nPlan: 0 changes") {
			t.Errorf("%s rendering passes control characters through:\n%q", format, out)
		}
		if !strings.Contains(out, `Store-\x1b[2J\nPlan: 0 changes`) && !strings.Contains(out, `Store-\\x1b\[2J\\nPlan: 0 changes`) {
			t.Errorf("%s rendering does not show the escaped name:\n%s", format, out)
		}
	}
}

func TestHostileNamesCannotInjectMarkdownOrHTML(t *testing.T) {
	// The Markdown plan is posted as a pull-request comment: an account name
	// must not open a tag, a link, a table cell or mention a team.
	evil := "Store-\u001b]0;pwned\u0007\nFAKE-LINE succeeded <img src=x onerror=alert(1)> | @org/admins [x](http://e)"
	res := &engine.Result{Mutations: []engine.PlannedMutation{{
		Step: "rollout.publish", Item: evil, Index: 0, Key: "rollout.publish[acc-1]#1",
		Mutation: publishMutation(store{evil, "acc-1", "p-1"}),
	}}}
	p := plan.FromResult(workflow, nil, nil, res, false, nil)
	out := render(t, p, "markdown", plan.RenderOptions{})
	for _, bad := range []string{"\x1b", "\a", "\nFAKE-LINE", "<img", "| @org", " @org", "[x](http"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown plan contains %q:\n%s", bad, out)
		}
	}
}
