package serve

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/plan"
)

// The page shows what an http.request sends, headers included, as the
// text plan does: a reviewer approves what they can read.
func TestPlanViewShowsRequestHeaders(t *testing.T) {
	p := &plan.Plan{Content: plan.Content{Mutations: []plan.Mutation{{
		Step: "tell", Index: -1, Key: "tell[]#1", Type: "http.request", Method: "POST", Path: "https://hooks.example.com/x",
		Headers: map[string]string{"X-Team": "retail", "Authorization": plan.Sensitive},
		Body:    map[string]any{"text": "done"}, BodyEncoding: plan.BodyJSON,
	}}}}
	groups, text := planView(p, nil)
	if len(groups) != 1 || groups[0].Headers != "Authorization: (sensitive), X-Team: retail" {
		t.Fatalf("groups %+v", groups)
	}
	if !strings.Contains(strings.Join(strings.Fields(text), " "), "headers: Authorization: (sensitive), X-Team: retail") {
		t.Fatalf("text plan:\n%s", text)
	}
}
