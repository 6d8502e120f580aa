package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
)

type fallbackEP struct {
	method, path string
	required     []string
	example      []byte
}

// catalogFallbacks lists catalog endpoints, as data, for tests of the
// fallback answers.
func catalogFallbacks(t *testing.T) []fallbackEP {
	t.Helper()
	var out []fallbackEP
	for _, ep := range frame.Catalog() {
		f := fallbackEP{method: ep.Method, path: ep.Path, example: ep.Example}
		for _, p := range ep.Params {
			if p.Required && p.In != frame.InPath {
				f.required = append(f.required, p.Name)
			}
		}
		out = append(out, f)
	}
	return out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// Every catalog endpoint answers something other than "no such endpoint"
// for a known account: modelled, or its documented example.
func TestEveryCatalogEndpointIsRouted(t *testing.T) {
	h := newHarness(t, nil)
	st := h.sim.Snapshot()
	acct := st.Accounts[0].ID
	var poolID string
	for _, p := range st.Pools {
		if p.AccountID == acct && p.Kind == "production" {
			poolID = p.ID
		}
	}
	for _, ep := range frame.Catalog() {
		path := ep.Path
		for _, p := range ep.Params {
			if p.In != frame.InPath {
				continue
			}
			v := "x1"
			switch {
			case strings.Contains(p.Name, "account_id") || (p.Name == "id" && strings.HasPrefix(ep.Path, "/account")):
				v = acct
			case strings.Contains(p.Name, "pool_id"):
				v = poolID
			case p.Name == "organization_id":
				v = st.Organizations[0].ID
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		}
		r := h.do(ep.Method, "/v1"+path, nil)
		if r.status == http.StatusNotFound && strings.Contains(string(r.body), "no such endpoint") {
			t.Errorf("%s (%s %s) is not routed", ep.Name, ep.Method, ep.Path)
		}
		h.clock.Advance(time.Minute) // let any task end so that locks do not pile up
	}
}

func TestTestdataScenariosLoad(t *testing.T) {
	files, err := filepath.Glob("../../testdata/sim/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata/sim")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := sim.LoadScenario(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sim.New(sim.Options{Scenario: sc}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestScenarioFormat(t *testing.T) {
	sc, err := sim.LoadScenario([]byte(`
organizations:
  - name: Acme
    id: org-acme
    accounts:
      - {name: HQ, id: acct-hq, cloud_provider: azure, last_publish: "2026-01-02T03:04:05Z",
         sandbox: {image_version: v2}, production: {image_version: v1, pools: [{name: P1, id: pool-p1, elasticity: {min_servers: 1, buffer_servers: 0, max_servers: 4}}]}}
    generate:
      - {prefix: "Branch-", count: 12, start: 5, cloud_provider: azure, active: false, production: {pools: [{name: P, elasticity: 0/1/2}]}}
task_durations: {default: 2s, clone_pool: 1m}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := mustServer(t, sim.Options{Scenario: sc})
	st := s.Snapshot()
	if len(st.Accounts) != 13 || st.Organizations[0].ID != "org-acme" {
		t.Fatalf("%d accounts, org %+v", len(st.Accounts), st.Organizations)
	}
	hq := st.Accounts[0]
	if hq.ID != "acct-hq" || hq.CloudProvider != "azure" || hq.LastPublish == nil || hq.SandboxImageVersion != "v2" || hq.ProductionImageVersion != "v1" {
		t.Fatalf("HQ %+v", hq)
	}
	if first, last := st.Accounts[1], st.Accounts[12]; first.Name != "Branch-005" || last.Name != "Branch-016" || first.Active {
		t.Fatalf("generated %+v .. %+v", first, last)
	}
	for _, a := range st.Accounts[1:] {
		if !safeID(a.ID) {
			t.Errorf("derived id %q has unsafe characters", a.ID)
		}
	}
	found := false
	for _, p := range st.Pools {
		if p.ID == "pool-p1" && p.Elasticity.MaxServers == 4 {
			found = true
		}
		if p.Name == "P" && p.Elasticity != (sim.ElasticitySpec{MinServers: 0, BufferServers: 1, MaxServers: 2}) {
			t.Errorf("generated pool %+v", p)
		}
	}
	if !found {
		t.Error("pool-p1 missing")
	}
}

func safeID(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != ""
}

func TestScenarioErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"empty", ``, "empty"},
		{"not yaml", `organizations: [`, "scenario"},
		{"unknown key", "organizations: [{name: A, acounts: []}]", "acounts"},
		{"no organizations", "task_durations: {default: 1s}", "no organizations"},
		{"org without name", "organizations: [{accounts: [{name: A}]}]", "name is required"},
		{"account without name", "organizations: [{name: O, accounts: [{cloud_provider: aws}]}]", "name is required"},
		{"duplicate name", "organizations: [{name: O, accounts: [{name: A}, {name: a}]}]", "already used"},
		{"duplicate id", "organizations: [{name: O, accounts: [{name: A, id: x}, {name: B, id: x}]}]", "already used"},
		{"unsafe id", "organizations: [{name: O, accounts: [{name: A, id: \"a/../b\"}]}]", "id \"a/../b\""},
		{"bad provider", "organizations: [{name: O, accounts: [{name: A, cloud_provider: \"AWS Cloud\"}]}]", "cloud_provider"},
		{"bad last_publish", "organizations: [{name: O, accounts: [{name: A, last_publish: yesterday}]}]", "last_publish"},
		{"negative elasticity", "organizations: [{name: O, accounts: [{name: A, production: {pools: [{name: P, elasticity: -1/0/1}]}}]}]", "negative"},
		{"min above max", "organizations: [{name: O, accounts: [{name: A, production: {pools: [{name: P, elasticity: 3/0/1}]}}]}]", "greater than"},
		{"above cap", "organizations: [{name: O, accounts: [{name: A, production: {pools: [{name: P, elasticity: 0/0/5000}]}}]}]", "1000"},
		{"short elasticity", "organizations: [{name: O, accounts: [{name: A, production: {pools: [{name: P, elasticity: 0/1}]}}]}]", "min/buffer/max"},
		{"pool without name", "organizations: [{name: O, accounts: [{name: A, production: {pools: [{elasticity: 0/0/1}]}}]}]", "name is required"},
		{"unknown task kind", "organizations: [{name: O}]\ntask_durations: {cloning: 1s}", "unknown task kind"},
		{"negative duration", "organizations: [{name: O}]\ntask_durations: {default: -1s}", "negative"},
		{"generator without prefix", "organizations: [{name: O, generate: [{count: 2}]}]", "prefix"},
		{"generator too big", "organizations: [{name: O, generate: [{prefix: S, count: 1000000}]}]", "out of range"},
		{"generator with name", "organizations: [{name: O, generate: [{prefix: S, count: 2, name: X}]}]", "derived"},
		{"generator clash", "organizations: [{name: O, accounts: [{name: S002}], generate: [{prefix: S, count: 2}]}]", "already used"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := sim.LoadScenario([]byte(c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestRetailScenarioAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("large estate")
	}
	h := newHarness(t, func(o *sim.Options) { o.Scenario = sim.RetailScenario(2000) })
	var accts []account
	start := time.Now()
	h.must(200, "GET", "/v1/accounts", nil, &accts)
	elapsed := time.Since(start)
	if len(accts) != 2001 {
		t.Fatalf("%d accounts, want 2001", len(accts))
	}
	// Generous bound: this is a smoke check, speed belongs to the benchmark.
	if elapsed > 5*time.Second {
		t.Fatalf("listing 2,001 accounts took %s", elapsed)
	}
	var stores []account
	h.must(200, "GET", "/v1/accounts?name=Store-1999", nil, &stores)
	if len(stores) != 1 {
		t.Fatalf("filter: %v", stores)
	}
	// Several tasks per store, all pending at once, then ended lazily.
	qa := accts[0]
	src, _ := h.pools(qa.ID)
	for i, a := range accts[1:] {
		if i%4 != 0 {
			continue
		}
		h.must(200, "POST", "/v1/accounts/"+a.ID+"/pools/"+src.ID+"/clone", nil, nil)
	}
	h.clock.Advance(time.Minute)
	done := 0
	for _, tk := range h.sim.Snapshot().Tasks {
		if tk.Stage == "done" {
			done++
		}
	}
	if done != 500 {
		t.Fatalf("%d clones done, want 500", done)
	}
}

func BenchmarkAccountsList2000(b *testing.B) {
	s, err := sim.New(sim.Options{Scenario: sim.RetailScenario(2000)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/accounts", nil)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-Frame-ClientId", "sim-client")
		req.Header.Set("X-Frame-Timestamp", ts)
		req.Header.Set("X-Frame-Signature", signature("sim-secret", ts, "sim-client"))
		res, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
}

func BenchmarkTaskStatus2000(b *testing.B) {
	s, err := sim.New(sim.Options{Scenario: sim.RetailScenario(2000), TaskDuration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	st := s.Snapshot()
	src := st.Pools[0].ID
	var last string
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sign := func(r *http.Request) {
		r.Header.Set("X-Frame-ClientId", "sim-client")
		r.Header.Set("X-Frame-Timestamp", ts)
		r.Header.Set("X-Frame-Signature", signature("sim-secret", ts, "sim-client"))
	}
	for _, a := range st.Accounts[1:] {
		req := httptest.NewRequest("POST", "/v1/accounts/"+a.ID+"/pools/"+src+"/clone", nil)
		sign(req)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		var p struct {
			PendingRequest struct{ ID string } `json:"pending_request"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		last = fmt.Sprintf("/v1/accounts/%s/task/%s", a.ID, p.PendingRequest.ID)
	}
	for b.Loop() {
		req := httptest.NewRequest("GET", last, nil)
		sign(req)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func FuzzSimRequest(f *testing.F) {
	s, err := sim.New(sim.Options{Scenario: sim.RetailScenario(3), TaskFailRate: 0.3, ThrottleRPS: 0})
	if err != nil {
		f.Fatal(err)
	}
	st := s.Snapshot()
	acct, pool := st.Accounts[1].ID, st.Pools[0].ID
	f.Add("GET", "/v1/accounts", "", "", true)
	f.Add("POST", "/v1/accounts/"+acct+"/pools/"+pool+"/clone", "join_domain=x", "application/x-www-form-urlencoded", true)
	f.Add("POST", "/v1/pools/"+pool+"/elasticity_settings", `{"max_servers": 1e99}`, "application/json", true)
	f.Add("POST", "/v1/accounts", "--b\r\n", "multipart/form-data; boundary=b", true)
	f.Add("DELETE", "/v1/accounts/"+acct+"/publish/%2e%2e", "", "", true)
	f.Add("PUT", "/_sim/accounts", `{"name":`, "", false)
	f.Add("POST", "/_sim/accounts", `{"name":"x\u0000"}`, "", false)
	f.Fuzz(func(t *testing.T, method, path, body, ctype string, signed bool) {
		u, err := url.Parse(path)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		req := httptest.NewRequest("GET", "/", strings.NewReader(body))
		req.Method = method
		req.URL = u
		req.Header.Set("Content-Type", ctype)
		if signed {
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			req.Header.Set("X-Frame-ClientId", "sim-client")
			req.Header.Set("X-Frame-Timestamp", ts)
			req.Header.Set("X-Frame-Signature", signature("sim-secret", ts, "sim-client"))
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// A scenario can make tasks report stage names other than the documented
// ones, so the poller can be tested against them.
func TestScenarioTaskStages(t *testing.T) {
	sc, err := sim.LoadScenario([]byte("organizations: [{name: Org, accounts: [{name: A}]}]\ntask_stages: {done: DONE, failed: error}\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *sim.Options) { o.Scenario = sc; o.TaskFailRate = 0 })
	a := h.accountByName("A")
	var p struct {
		ID    string `json:"id"`
		Stage string `json:"stage"`
	}
	h.must(200, "POST", "/v1/accounts/"+a.ID+"/sandbox/start", nil, &p)
	if p.Stage != "not_started" {
		t.Fatalf("stage %q, want the documented not_started (not renamed)", p.Stage)
	}
	h.clock.Advance(time.Minute)
	h.must(200, "GET", "/v1/accounts/"+a.ID+"/task/"+p.ID, nil, &p)
	if p.Stage != "DONE" {
		t.Fatalf("stage %q, want DONE", p.Stage)
	}
	if _, err := sim.LoadScenario([]byte("organizations: [{name: Org}]\ntask_stages: {finished: x}\n")); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("unknown stage accepted: %v", err)
	}
}
