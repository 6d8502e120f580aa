package sim_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

type auditEntry struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	AccountID  string `json:"account_id"`
	UserEmail  string `json:"user_email"`
	InsertedAt string `json:"inserted_at"`
}

// Every accepted mutation leaves an audit-trail entry on its account before
// it answers; refused ones leave none. kind matches as a wildcard, dates
// bound the list, newest first unless order=asc.
func TestAuditTrailRecordsMutations(t *testing.T) {
	h := newHarness(t, func(o *sim.Options) { o.Scenario, o.TaskDuration = sim.RetailScenario(2), time.Second })
	qa := h.accountByName("QA")
	store := h.accountByName("Store-001")
	qaSandbox, _ := h.pools(qa.ID)
	_, prod := h.pools(store.ID)

	var none []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails", nil, &none)
	if len(none) != 0 {
		t.Fatalf("a fresh account has an audit trail: %+v", none)
	}
	beforeClone := h.clock.Now()
	h.must(200, "POST", "/v1/accounts/"+store.ID+"/pools/"+qaSandbox.ID+"/clone", nil, nil)
	// Refused while the clone runs: no entry.
	h.must(409, "POST", "/v1/accounts/"+store.ID+"/publish", nil, nil)
	h.clock.Advance(2 * time.Second)
	h.must(200, "POST", "/v1/accounts/"+store.ID+"/publish", nil, nil)
	h.clock.Advance(2 * time.Second)
	h.must(200, "POST", "/v1/pools/"+prod[0].ID+"/elasticity_settings", url.Values{"min_servers": {"1"}, "buffer_servers": {"1"}, "max_servers": {"5"}}, nil)
	h.clock.Advance(2 * time.Second)
	h.must(200, "POST", "/v1/accounts/"+store.ID+"/sandbox/start", nil, nil)

	var all []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails", nil, &all)
	var kinds []string
	for _, e := range all {
		kinds = append(kinds, e.Kind)
		if e.AccountID != store.ID || e.ID == "" || !strings.HasSuffix(e.InsertedAt, "Z") || !strings.Contains(e.UserEmail, "third-party-api") {
			t.Errorf("entry %+v", e)
		}
	}
	if got := strings.Join(kinds, ","); got != "startSandbox,updateElasticitySettings,publishSandbox,cloneSandbox" {
		t.Fatalf("kinds newest first: %s", got)
	}

	var clones []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails?kind=CLONE&from_date="+beforeClone.Format("2006-01-02T15:04:05.000Z"), nil, &clones)
	if len(clones) != 1 || clones[0].Kind != "cloneSandbox" {
		t.Fatalf("kind=clone since the clone: %+v", clones)
	}
	var later []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails?kind=clone&from_date="+beforeClone.Add(time.Second).Format(time.RFC3339Nano), nil, &later)
	if len(later) != 0 {
		t.Fatalf("kind=clone after the clone: %+v", later)
	}
	var early []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails?order=asc&to_date="+beforeClone.Add(3*time.Second).Format(time.RFC3339), nil, &early)
	if len(early) != 2 || early[0].Kind != "cloneSandbox" || early[1].Kind != "publishSandbox" {
		t.Fatalf("to_date, ascending: %+v", early)
	}
	var page []auditEntry
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails?limit=2&offset=1", nil, &page)
	if len(page) != 2 || page[0].Kind != "updateElasticitySettings" {
		t.Fatalf("page: %+v", page)
	}
	h.must(200, "GET", "/v1/accounts/"+store.ID+"/audit-trails?limit=10&offset=99", nil, &page)
	if len(page) != 0 {
		t.Fatalf("page past the end: %+v", page)
	}
	var other []auditEntry
	h.must(200, "GET", "/v1/accounts/"+qa.ID+"/audit-trails?search=clone", nil, &other)
	if len(other) != 0 {
		t.Fatalf("the source account's trail has the target's clone: %+v", other)
	}

	for _, q := range []string{"from_date=yesterday", "to_date=2026-01-01T00:00:00%2B01:00", "limit=5", "offset=1", "limit=-1&offset=0", "order=sideways", "order_by=kind"} {
		if r := h.do("GET", "/v1/accounts/"+store.ID+"/audit-trails?"+q, nil); r.status != 400 {
			t.Errorf("?%s: status %d, want 400: %s", q, r.status, r.body)
		}
	}
	h.must(404, "GET", "/v1/accounts/nope/audit-trails", nil, nil)
}

// The hook sees a request before it acts and after, with the status it
// will answer, before the client gets anything.
func TestHookSeesReceivedAndActed(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var h *harness
	h = newHarness(t, func(o *sim.Options) {
		o.Scenario = sim.RetailScenario(1)
		o.Hook = func(phase string, r *http.Request, status int) {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasSuffix(r.URL.Path, "/publish") {
				// At received nothing is done yet; at acted the publish task
				// exists, though the client has no answer yet.
				tasks := 0
				for _, tk := range h.sim.Snapshot().Tasks {
					if tk.Kind == sim.KindPublish {
						tasks++
					}
				}
				if want := map[string]int{"received": 0, "acted": 1}[phase]; tasks != want {
					t.Errorf("%s: %d publish tasks, want %d", phase, tasks, want)
				}
			}
			seen = append(seen, phase+" "+r.Method+" "+r.URL.Path+" "+http.StatusText(status))
		}
	})
	store := h.accountByName("Store-001")
	h.must(200, "POST", "/v1/accounts/"+store.ID+"/publish", nil, nil)
	h.must(404, "GET", "/v1/accounts/nope", nil, nil)
	h.do("GET", "/_sim/state", nil)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"received GET /v1/accounts ", "acted GET /v1/accounts OK",
		"received POST /v1/accounts/" + store.ID + "/publish ", "acted POST /v1/accounts/" + store.ID + "/publish OK",
		"received GET /v1/accounts/nope ", "acted GET /v1/accounts/nope Not Found",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("hook saw:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// A request refused before acting (here: a bad signature) is seen as
// received only.
func TestHookNotActedWhenRefused(t *testing.T) {
	var phases []string
	var mu sync.Mutex
	h := newHarness(t, func(o *sim.Options) {
		o.Hook = func(phase string, r *http.Request, status int) {
			mu.Lock()
			defer mu.Unlock()
			phases = append(phases, phase)
		}
	})
	h.secret = "wrong"
	h.must(401, "GET", "/v1/accounts", nil, nil)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(phases, ",") != "received" {
		t.Fatalf("phases %v", phases)
	}
}
