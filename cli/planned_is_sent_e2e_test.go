package cli_test

// One construction per mutation (issue 16 item 1): for every mutating step
// type, the request a plan records is, byte for byte, the request apply
// sends. The real binary plans a workflow holding each mutating step type
// against the simulator, applies the saved plan, and every request the
// simulator received that was not a GET must be one planned mutation
// (method, path, query, body bytes, content type), and each planned
// mutation must have been received exactly once. http.request, which calls
// no Frame API, is held to the same rule against a local server on
// 127.0.0.1 that records what it received, headers included.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

// everyMutationWorkflow uses each hand-written mutating step type, api.call
// and a catalog api.* type. elasticity.set omits min_servers and
// buffer_servers: the case where plan and wire once differed. The two
// http.request steps post JSON (with a query, a plain and a credential
// header, and text JSON escapes) and put a form to inputs.hook.
const everyMutationWorkflow = `version: 1
name: every-mutation
inputs:
  qa: {type: string}
  store: {type: string}
  hook: {type: string}
steps:
  - id: clone
    uses: sandbox.clone
    with: {target_account_id: "${{ inputs.store }}", source_account_id: "${{ inputs.qa }}", join_domain: true, wait: true}
  - id: publish
    uses: sandbox.publish
    needs: clone
    with: {account_id: "${{ inputs.store }}", wait: true}
  - id: elasticity
    uses: elasticity.set
    needs: publish
    with: {account_id: "${{ inputs.store }}", max_servers: 7, wait: true}
  - id: capacity
    uses: persistent_desktop.capacity.set
    with: {account_id: "${{ inputs.qa }}", max_users: 12, keep_instances_running_for_new_users: true, number_of_backups_to_save: 3, wait: true}
  - id: start
    uses: sandbox.start
    with: {account_id: "${{ inputs.store }}", wait: true}
    needs: elasticity
  - id: stop
    uses: sandbox.stop
    needs: start
    with: {account_id: "${{ inputs.store }}"}
  - id: maintenance
    uses: api.accounts.maintenance_mode.set
    with: {account_id: "${{ inputs.qa }}", under_maintenance: true, maintenance_message: "back at 5 & soon"}
  - id: call
    uses: api.call
    needs: maintenance
    with:
      endpoint: accounts.maintenance_mode.set
      params: {account_id: "${{ inputs.qa }}", under_maintenance: false}
  - id: tell
    uses: http.request
    needs: call
    with:
      method: POST
      url: "http://${{ inputs.hook }}/hooks/rollout?team=retail"
      query: {run: 7, note: "a b&c"}
      headers: {X-Team: retail, Authorization: "Bearer hook-credential"}
      json: {text: "rollout <done> & tidy", stores: [1, 2.5, "three"], ok: true}
  - id: ticket
    uses: http.request
    needs: tell
    with:
      method: PUT
      url: "http://${{ inputs.hook }}/tickets/42"
      form: {state: closed, comment: "done: 100% & more"}
`

// The step types this test must cover: every registered type that
// mutates, except catalog api.* types beyond the one used (they share
// runEndpoint with api.call).
var coveredMutatingTypes = map[string]bool{
	"sandbox.clone": true, "sandbox.publish": true, "elasticity.set": true,
	"persistent_desktop.capacity.set": true, "sandbox.start": true,
	"sandbox.stop": true, "api.call": true, "http.request": true,
}

// hookCredential is the Authorization header's value: the plan shows it as
// (sensitive), the server must get it as written.
const hookCredential = "Bearer hook-credential"

func TestPlannedRequestIsSentByteForByte(t *testing.T) {
	for _, st := range steps.Types(steps.Deps{}) {
		if st.Mutates && !strings.HasPrefix(st.Name, "api.") || st.Name == "api.call" {
			if !coveredMutatingTypes[st.Name] {
				t.Errorf("mutating step type %s is not in this test's workflow", st.Name)
			}
		}
	}

	s, env := simEnv(t, sim.Options{})
	hook := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusNoContent) })
	ids := map[string]string{}
	for _, a := range s.Snapshot().Accounts {
		ids[a.Name] = a.ID
	}
	dir := t.TempDir()
	wf := filepath.Join(dir, "every-mutation.yaml")
	if err := os.WriteFile(wf, []byte(everyMutationWorkflow), 0o600); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")
	inputs := []string{"--input", "qa=" + ids["QA"], "--input", "store=" + ids["Store-Boston"], "--input", "hook=" + hook.host}
	if r := runBinary(t, env, append([]string{"plan", wf, "--out", planFile}, inputs...)...); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Fatalf("plan sent %s %s", q.Method, q.Path)
		}
	}
	if n := len(hook.requests()); n != 0 {
		t.Fatalf("plan sent %d requests to the hook", n)
	}
	before := len(s.Requests())
	r := runBinary(t, env, "apply", planFile, "--yes")
	if r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	// The credential header reached the server (below) but nothing a
	// person sees: apply's output, the journal, the state directory.
	if strings.Contains(r.out+r.err+stateText(t, env["FRAMEFLOW_STATE_DIR"]), "hook-credential") {
		t.Errorf("apply's output or the state directory holds the Authorization header's value")
	}

	raw, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "hook-credential") {
		t.Errorf("the plan file holds the Authorization header's value")
	}
	var p struct {
		Mutations []struct {
			Step         string            `json:"step"`
			Type         string            `json:"type"`
			Method       string            `json:"method"`
			Path         string            `json:"path"`
			Query        map[string]string `json:"query"`
			Headers      map[string]string `json:"headers"`
			Body         any               `json:"body"`
			BodyEncoding string            `json:"body_encoding"`
		} `json:"mutations"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	planned := map[string]int{}
	steps := map[string]bool{}
	for _, m := range p.Mutations {
		w := wireForm(t, m.Method, m.Path, m.Query, m.Body, m.BodyEncoding)
		if m.Type == "http.request" {
			w += " " + plannedHeaders(t, m.Headers)
		}
		planned[w]++
		steps[m.Step] = true
	}
	if len(steps) != 10 {
		t.Errorf("planned mutations of %d steps, want all 10: %v", len(steps), steps)
	}
	// The simulator logs paths with its base URL's path (/v1); plans hold
	// them relative to it, as the client sends them.
	base, err := url.Parse(env["FRAME_API_URL"])
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for _, q := range s.Requests()[before:] {
		if q.Method == "GET" {
			continue
		}
		path := strings.TrimPrefix(q.Path, strings.TrimSuffix(base.Path, "/"))
		sent[fmt.Sprintf("%s %s?%s [%s] %s", q.Method, path, q.Query, q.ContentType, q.Body)]++
	}
	for _, q := range hook.requests() {
		// http.request plans its URL whole, the query in it (no query map).
		u := "http://" + hook.host + q.Path
		sent[fmt.Sprintf("%s %s? [%s] %s %s", q.Method, u, q.Header.Get("Content-Type"), q.Body, receivedHeaders(q.Header))]++
	}
	for k, n := range planned {
		if sent[k] != n {
			t.Errorf("planned %d×, sent %d×:\n  %s", n, sent[k], k)
		}
	}
	for k, n := range sent {
		if planned[k] == 0 {
			t.Errorf("sent %d× but not planned as such:\n  %s", n, k)
		}
	}
	if t.Failed() {
		t.Logf("planned:\n  %s\nsent:\n  %s", keys(planned), keys(sent))
	}
}

// plannedHeaders renders planned headers as receivedHeaders renders what
// arrived: the credential, shown (sensitive) in the plan, as it must arrive.
func plannedHeaders(t *testing.T, h map[string]string) string {
	t.Helper()
	if v, ok := h["Authorization"]; ok && v != "(sensitive)" {
		t.Errorf("the plan shows Authorization as %q", v)
	}
	c := http.Header{}
	for k, v := range h {
		if v == "(sensitive)" {
			v = hookCredential
		}
		c.Set(k, v)
	}
	return headerLine(c)
}

// receivedHeaders is every header that arrived but those Go's transport
// adds itself (framing and compression), which no step sets.
func receivedHeaders(h http.Header) string {
	c := h.Clone()
	c.Del("Content-Length")
	c.Del("Accept-Encoding")
	return headerLine(c)
}

func headerLine(h http.Header) string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	sort.Strings(out)
	return "{" + strings.Join(out, "; ") + "}"
}

// wireForm renders a planned mutation as the simulator logs a request: the
// body encoded as its body_encoding says it travels.
func wireForm(t *testing.T, method, path string, query map[string]string, body any, enc string) string {
	t.Helper()
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	var ct, b string
	switch enc {
	case "":
	case "form":
		f := url.Values{}
		for k, v := range body.(map[string]any) {
			switch x := v.(type) {
			case string:
				f.Set(k, x)
			case []any:
				for _, e := range x {
					f.Add(k, e.(string))
				}
			default:
				t.Fatalf("form value %s=%v is not a string", k, v)
			}
		}
		ct, b = "application/x-www-form-urlencoded", f.Encode()
	case "json":
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, b = "application/json", string(j)
	default:
		t.Fatalf("body encoding %q", enc)
	}
	return fmt.Sprintf("%s %s?%s [%s] %s", method, path, q.Encode(), ct, b)
}

func keys(m map[string]int) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, "\n  ")
}
