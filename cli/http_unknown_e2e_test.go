package cli_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// A planned http.request whose query and header hold a value known only
// after apply (a task id) passes apply's guard with the value the run
// computes, and is sent once with it.
func TestHTTPRequestUnknownQueryAndHeaderPlannedThenApplied(t *testing.T) {
	s, env := simEnv(t, sim.Options{})
	h := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(200) })
	qa := accountID(s.Snapshot(), "QA")
	f := writeHTTPWorkflow(t, fmt.Sprintf(`version: 1
name: start-and-tell
steps:
  - id: start
    uses: sandbox.start
    with: {account_id: %q}
  - id: tell
    uses: http.request
    with:
      method: PUT
      url: http://%s/changes/7?team=retail
      query: {task: "${{ steps.start.outputs.task.id }}"}
      headers: {X-Task: "${{ steps.start.outputs.task.id }}"}
      form: {state: started}
`, qa, h.host))
	out := filepath.Join(t.TempDir(), "p.plan")
	if r := runBinary(t, env, "plan", f, "--out", out); r.code != 0 || !strings.Contains(r.out, "task=%28known+after+apply%29") {
		t.Fatalf("plan: %s", r)
	}
	if r := runBinary(t, env, "apply", out, "--yes"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	got := h.requests()
	if len(got) != 1 || got[0].Method != "PUT" || !strings.HasPrefix(got[0].Path, "/changes/7?task=") || strings.Contains(got[0].Path, "known") ||
		got[0].Header.Get("X-Task") == "" || !strings.HasSuffix(got[0].Path, "&team=retail") || got[0].Body != "state=started" {
		t.Fatalf("hook got %+v", got)
	}
	if task := strings.TrimSuffix(strings.TrimPrefix(got[0].Path, "/changes/7?task="), "&team=retail"); got[0].Header.Get("X-Task") != task {
		t.Fatalf("query task %q, header %q", task, got[0].Header.Get("X-Task"))
	}
}
