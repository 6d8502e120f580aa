package cli_test

// One construction per mutation (issue 16 item 1): for every mutating step
// type, the request a plan records is, byte for byte, the request apply
// sends. The real binary plans a workflow holding each mutating step type
// against the simulator, applies the saved plan, and every request the
// simulator received that was not a GET must be one planned mutation
// (method, path, query, body bytes, content type), and each planned
// mutation must have been received exactly once.

import (
	"encoding/json"
	"fmt"
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
// buffer_servers: the case where plan and wire once differed.
const everyMutationWorkflow = `version: 1
name: every-mutation
inputs:
  qa: {type: string}
  store: {type: string}
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
`

// The step types this test must cover: every registered type that
// mutates, except catalog api.* types beyond the one used (they share
// runEndpoint with api.call).
var coveredMutatingTypes = map[string]bool{
	"sandbox.clone": true, "sandbox.publish": true, "elasticity.set": true,
	"persistent_desktop.capacity.set": true, "sandbox.start": true,
	"sandbox.stop": true, "api.call": true,
}

// notFrameMutations are mutating step types that do not talk to the Frame
// API, so the simulator's log cannot show what they sent. http.request is
// one: its plan-then-apply path, through apply's guard, is tested against a
// local server in TestHTTPRequestPlannedThenApplied (cli/http_e2e_test.go).
// It does not yet build its request once as one value, as the Frame steps
// do, so the byte-for-byte claim is not made for it (issue 16's note).
var notFrameMutations = map[string]bool{"http.request": true}

func TestPlannedRequestIsSentByteForByte(t *testing.T) {
	for _, st := range steps.Types(steps.Deps{}) {
		if st.Mutates && !strings.HasPrefix(st.Name, "api.") || st.Name == "api.call" {
			if !coveredMutatingTypes[st.Name] && !notFrameMutations[st.Name] {
				t.Errorf("mutating step type %s is not in this test's workflow", st.Name)
			}
		}
	}

	s, env := simEnv(t, sim.Options{})
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
	inputs := []string{"--input", "qa=" + ids["QA"], "--input", "store=" + ids["Store-Boston"]}
	if r := runBinary(t, env, append([]string{"plan", wf, "--out", planFile}, inputs...)...); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			t.Fatalf("plan sent %s %s", q.Method, q.Path)
		}
	}
	before := len(s.Requests())
	if r := runBinary(t, env, "apply", planFile, "--yes"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}

	raw, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Mutations []struct {
			Step         string            `json:"step"`
			Method       string            `json:"method"`
			Path         string            `json:"path"`
			Query        map[string]string `json:"query"`
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
		planned[wireForm(t, m.Method, m.Path, m.Query, m.Body, m.BodyEncoding)]++
		steps[m.Step] = true
	}
	if len(steps) != 8 {
		t.Errorf("planned mutations of %d steps, want all 8: %v", len(steps), steps)
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
