package cli_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// faultySim serves a simulator through fail, which may answer a request
// itself (returning true) instead of the simulator.
func faultySim(t *testing.T, o sim.Options, fail func(w http.ResponseWriter, r *http.Request) bool) (*sim.Server, map[string]string) {
	t.Helper()
	if o.TaskDuration == 0 {
		o.TaskDuration = 60 * time.Millisecond
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail(w, r) {
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return s, map[string]string{
		"FRAME_API_URL":       ts.URL + "/v1",
		"FRAME_CLIENT_ID":     "sim-client",
		"FRAME_CLIENT_SECRET": "sim-secret",
		"FRAMEFLOW_STATE_DIR": t.TempDir(),
	}
}

func writeWorkflow(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const capacityWorkflow = `version: 1
name: capacity
steps:
  - id: targets
    uses: accounts.list
    with:
      filter: name startsWith "Store-"
  - id: capacity
    for_each: ${{ steps.targets.outputs.accounts }}
    as: account
    uses: elasticity.set
    with:
      account_id: ${{ account.id }}
      max_servers: 3
`

// apply executes exactly the saved plan, and so must a resume of a failed
// apply: a store that appeared after the plan was reviewed is not changed.
func TestResumeOfAnApplySendsOnlyWhatThePlanHolds(t *testing.T) {
	var lists atomic.Int32
	s, env := faultySim(t, sim.Options{Scenario: sim.RetailScenario(2)}, func(w http.ResponseWriter, r *http.Request) bool {
		// The third listing is apply's run after its staleness check: it
		// fails, so the apply fails before sending anything.
		if r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/accounts") && lists.Add(1) == 3 {
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
			return true
		}
		return false
	})
	wf := writeWorkflow(t, capacityWorkflow)
	planFile := filepath.Join(t.TempDir(), "capacity.plan")
	if r := frameflow(t, env, "plan", wf, "--out", planFile); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	if r := frameflow(t, env, "apply", planFile, "--yes"); r.code != 1 {
		t.Fatalf("apply should have failed on the listing:\n%s", r)
	}
	newStore, err := s.AddAccount(sim.AccountSpec{Name: "Store-Newtown", CloudProvider: "aws"})
	if err != nil {
		t.Fatal(err)
	}
	r := frameflow(t, env, "resume", "--last", "--yes")
	var newPool string
	for _, p := range s.Snapshot().Pools {
		if p.AccountID == newStore && p.Kind == "production" {
			newPool = p.ID
		}
	}
	sentTo := map[string]bool{}
	for _, q := range s.Requests() {
		if q.Method != "GET" {
			sentTo[q.Path] = true
			if newPool != "" && strings.Contains(q.Path, newPool) {
				t.Errorf("resume of an apply changed a pool the plan never held: %s %s", q.Method, q.Path)
			}
		}
	}
	if len(sentTo) != 2 {
		t.Errorf("want the 2 planned elasticity changes sent, got %v", sentTo)
	}
	if r.code != 1 || !strings.Contains(r.err+r.out, "not in the saved plan") {
		t.Errorf("resume should refuse the unplanned change and fail:\n%s", r)
	}
}

const secretPoolWorkflow = `version: 1
name: secret-password
inputs:
  account: {type: string}
  password:
    type: string
    secret: true
steps:
  - id: join
    uses: api.accounts.domain_join_settings.update
    with:
      account_id: ${{ inputs.account }}
      domain_name: corp.example
      service_account_password: ${{ inputs.password }}
`

// An input marked secret never reaches a plan, its saved file included, even
// when a mutation sends it (in the body field the API marks secret, the
// only place a secret may go); and apply still matches the plan.
func TestSecretInputsStayOutOfSavedPlans(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	account := s.Snapshot().Accounts[0].ID
	const password = "pw-zq9SECRETzq9"
	wf := writeWorkflow(t, secretPoolWorkflow)
	planFile := filepath.Join(t.TempDir(), "secret.plan")
	r := frameflow(t, env, "plan", wf, "--input", "account="+account, "--input", "password="+password, "--format", "json", "--out", planFile)
	if r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	saved, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(saved), password) || strings.Contains(r.out+r.err, password) {
		t.Fatalf("the secret input is in the plan:\n%s", saved)
	}
	r = frameflow(t, env, "apply", planFile, "--yes", "--input", "password="+password)
	if r.code != 0 {
		t.Fatalf("apply of a plan with a secret input: %s", r)
	}
	if strings.Contains(r.out+r.err, password) {
		t.Fatalf("the secret input is in apply's output:\n%s", r)
	}
	var sent int
	for _, q := range s.Requests() {
		if q.Method == "POST" {
			sent++
			if !strings.Contains(q.Body, password) {
				t.Errorf("the password did not reach its field: %s", q.Body)
			}
		}
	}
	if sent != 1 {
		t.Fatalf("%d changes sent, want 1", sent)
	}
}

// A secret may not be sent in a path or a query, where it would be logged by
// every proxy: the workflow is refused before anything is sent.
func TestSecretInputInAPathIsRefused(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	wf := writeWorkflow(t, secretAccountWorkflow)
	r := frameflow(t, env, "plan", wf, "--input", "account=zq9SECRETzq9")
	if r.code != 2 || !strings.Contains(r.err, `input "account_id" of step "get" is computed from a secret (inputs.account)`) {
		t.Fatalf("%s", r)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// Bad input is refused before anything is sent: a capacity that the last
// step of each store's chain would refuse must not first clone and publish
// every store.
func TestBadCapacityInputIsRefusedBeforeAnyClone(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{"min_servers=9", "min_servers 9 is more than max_servers 5"},
		{"max_servers=-1", "max_servers must not be negative"},
	} {
		s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
		r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes", "--input", c.input)
		if r.code != 2 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "nothing was sent") {
			t.Errorf("--input %s: want exit 2 saying %q:\n%s", c.input, c.want, r)
		}
		for _, q := range s.Requests() {
			if q.Method != "GET" {
				t.Errorf("--input %s: sent %s %s", c.input, q.Method, q.Path)
			}
		}
	}
}

const secretAccountWorkflow = `version: 1
name: secret-account
inputs:
  account:
    type: string
    secret: true
steps:
  - id: get
    uses: accounts.get
    with:
      account_id: ${{ inputs.account }}
`

const secretFieldWorkflow = `version: 1
name: secret-field
inputs:
  password:
    type: string
    secret: true
steps:
  - id: join
    uses: api.accounts.domain_join_settings.update
    with:
      account_id: no-such-account
      service_account_password: ${{ inputs.password }}
`

// A secret written escaped (in a URL path, a Go-quoted or JSON string, XML)
// is still the secret: it is redacted in each of those forms.
func TestSecretWithSpecialCharactersIsRedactedInEveryEncoding(t *testing.T) {
	const mark = "zq9SECRETzq9"
	const secret = mark + `&"<x>'y`
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	wf := writeWorkflow(t, secretFieldWorkflow)
	out := t.TempDir()
	var all strings.Builder
	for _, args := range [][]string{
		{"run", wf, "--yes", "--input", "password=" + secret, "--log-level", "debug", "--junit", filepath.Join(out, "j.xml")},
		{"run", wf, "--yes", "--input", "password=" + secret, "--output", "json", "--log-level", "debug", "--log-format", "json"},
		{"plan", wf, "--input", "password=" + secret, "--format", "json"},
	} {
		r := frameflow(t, env, args...)
		if r.code == 0 && args[0] == "run" {
			t.Errorf("%v: want a failure (no such account):\n%s", args[0], r)
		}
		all.WriteString(r.out + r.err)
	}
	if i := strings.Index(all.String(), mark); i >= 0 {
		t.Errorf("the secret in output: %q", all.String()[max(0, i-40):min(len(all.String()), i+60)])
	}
	for _, dir := range []string{env["FRAMEFLOW_STATE_DIR"], out} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), mark) {
					t.Errorf("the secret written to %s", p)
				}
			}
			return nil
		})
	}
}

// The task description's own case: clone with wait: true, the clone POST
// succeeds, then polling its task fails with 503s beyond the client's
// retries; the step's retry policy runs the step again. The retried attempt
// must wait on the first clone's task, not clone again.
func TestRetriedCloneStepWaitsOnTheFirstCloneInsteadOfCloningAgain(t *testing.T) {
	var polls atomic.Int32
	s, env := faultySim(t, sim.Options{Scenario: sim.RetailScenario(2)}, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "GET" && strings.Contains(r.URL.Path, "/task/") && polls.Add(1) <= 8 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"unavailable"}`))
			return true
		}
		return false
	})
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	if !strings.Contains(r.out, "retrying") && !strings.Contains(r.out, "retry") {
		t.Logf("no step retry shown (the 503s may have been absorbed by the client):\n%s", r.out)
	}
	clones := map[string]int{}
	for _, q := range s.Requests() {
		if q.Method == "POST" && strings.HasSuffix(q.Path, "/clone") {
			clones[q.Path]++
		}
	}
	if len(clones) != 2 {
		t.Fatalf("clones: %v", clones)
	}
	for p, n := range clones {
		if n != 1 {
			t.Errorf("%s sent %d times", p, n)
		}
	}
}

// A filter given as an input that does not compile is invalid input: exit 2
// and nothing sent, for plan and run alike.
func TestBadFilterInputIsInvalidInput(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	for _, cmd := range [][]string{{"plan"}, {"run", "--yes"}} {
		args := append(cmd, "../workflows/qa-rollout.yaml", "--input", "target_filter=name ==")
		r := frameflow(t, env, args...)
		if r.code != 2 || !strings.Contains(r.err, "syntax error") {
			t.Errorf("%v: want exit 2 with the syntax error:\n%s", cmd, r)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent for an invalid input", n)
	}
}
