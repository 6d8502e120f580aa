package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

// These tests feed the fallback a catalog of their own, so they do not
// depend on what catalog.json holds at the moment.

func fakeCatalog() []frame.Endpoint {
	path := func(name string) frame.Param {
		return frame.Param{Name: name, In: frame.InPath, Type: "string", Required: true}
	}
	return []frame.Endpoint{
		{Name: "things.list", Method: "GET", Path: "/accounts/{account_id}/things", Response: frame.RespList,
			Params:  []frame.Param{path("account_id"), {Name: "from_date", In: frame.InQuery, Required: true}},
			Example: json.RawMessage(`["a","b"]`)},
		{Name: "things.bare_task", Method: "POST", Path: "/accounts/{account_id}/do_thing", Response: frame.RespTask, Mutates: true,
			Params:  []frame.Param{path("account_id")},
			Example: json.RawMessage(`{"id":"fixed-id","kind":"do_thing","display_name":"Doing","stage":"not_started"}`)},
		{Name: "things.wrapped_task", Method: "POST", Path: "/accounts/{account_id}/wrap", Response: frame.RespTask, Mutates: true,
			Params:  []frame.Param{path("account_id"), {Name: "mode", In: frame.InJSON, Required: true}},
			Example: json.RawMessage(`{"account":{"id":"x"},"pending_request":{"id":"fixed-id","stage":"not_started"},"extra":1}`)},
		{Name: "things.gone", Method: "DELETE", Path: "/accounts/{account_id}/things", Response: frame.RespEmpty, Status: 204,
			Params: []frame.Param{path("account_id")}},
		{Name: "pools.thing", Method: "GET", Path: "/pools/{pool_id}/thing", Response: frame.RespObject,
			Params: []frame.Param{path("pool_id")}},
		// Two patterns that net/http considers in conflict: the second is
		// skipped rather than taking the simulator down.
		{Name: "a.one", Method: "GET", Path: "/a/{x}/b", Response: frame.RespObject, Params: []frame.Param{path("x")}, Example: json.RawMessage(`{"one":1}`)},
		{Name: "a.two", Method: "GET", Path: "/a/c/{y}", Response: frame.RespObject, Params: []frame.Param{path("y")}},
		// Same shape as a modelled endpoint under other parameter names: the
		// model wins.
		{Name: "accounts.get.alias", Method: "GET", Path: "/accounts/:id", Response: frame.RespObject, Params: []frame.Param{path("id")}, Example: json.RawMessage(`{"example":true}`)},
	}
}

// fakePlacements say where fakeCatalog's parameters travel; the docs'
// table has no entry for endpoints that do not exist.
var fakePlacements = []docPlacement{
	{method: "GET", path: "/accounts/{account_id}/things", params: "q:from_date"},
	{method: "POST", path: "/accounts/{account_id}/wrap", params: "j:mode"},
}

func serve(t *testing.T, s *Server, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(DefaultClientSecret))
	m.Write([]byte(ts + DefaultClientID))
	req.Header.Set("X-Frame-ClientId", DefaultClientID)
	req.Header.Set("X-Frame-Timestamp", ts)
	req.Header.Set("X-Frame-Signature", hex.EncodeToString(m.Sum(nil)))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func TestFallbackWithOwnCatalog(t *testing.T) {
	now := time.Unix(1764000000, 0)
	s, err := newServer(Options{Now: func() time.Time { return now }, TaskDuration: time.Second}, fakeCatalog(), fakePlacements...)
	if err != nil {
		t.Fatal(err)
	}
	acct := s.accounts[0].id

	if w := serve(t, s, "GET", "/v1/accounts/"+acct+"/things", ""); w.Code != 400 || !strings.Contains(w.Body.String(), "from_date") {
		t.Fatalf("missing query param: %d %s", w.Code, w.Body)
	}
	if w := serve(t, s, "GET", "/v1/accounts/"+acct+"/things?from_date=2026-01-01", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `["a","b"]` {
		t.Fatalf("example: %d %s", w.Code, w.Body)
	}
	if w := serve(t, s, "GET", "/v1/accounts/nope/things?from_date=x", ""); w.Code != 404 {
		t.Fatalf("unknown account: %d", w.Code)
	}
	if w := serve(t, s, "GET", "/v1/pools/nope/thing", ""); w.Code != 404 {
		t.Fatalf("unknown pool: %d", w.Code)
	}
	if w := serve(t, s, "GET", "/v1/pools/"+s.accounts[0].sandbox.id+"/thing", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{}" {
		t.Fatalf("no example: %d %s", w.Code, w.Body)
	}
	if w := serve(t, s, "DELETE", "/v1/accounts/"+acct+"/things", ""); w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("204: %d %q", w.Code, w.Body)
	}
	if w := serve(t, s, "GET", "/v1/a/z/b", ""); w.Code != 200 {
		t.Fatalf("first of two conflicting patterns: %d", w.Code)
	}
	if w := serve(t, s, "GET", "/v1/accounts/"+acct, ""); strings.Contains(w.Body.String(), "example") {
		t.Fatalf("the example shadowed the model: %s", w.Body)
	}

	// Task endpoints answer a real task, which the task endpoint then knows.
	w := serve(t, s, "POST", "/v1/accounts/"+acct+"/do_thing", "")
	var bare struct {
		ID, Kind, Stage string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &bare); err != nil || w.Code != 200 {
		t.Fatalf("bare task: %d %s", w.Code, w.Body)
	}
	if bare.ID == "fixed-id" || bare.Kind != "do_thing" || bare.Stage != StageNotStarted {
		t.Fatalf("bare task %+v", bare)
	}
	now = now.Add(2 * time.Second)
	if w := serve(t, s, "GET", "/v1/accounts/"+acct+"/task/"+bare.ID, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"stage":"done"`) {
		t.Fatalf("task of a fallback: %d %s", w.Code, w.Body)
	}
	if w := serve(t, s, "POST", "/v1/accounts/"+acct+"/wrap", `{}`); w.Code != 400 {
		t.Fatalf("missing JSON param: %d", w.Code)
	}
	w = serve(t, s, "POST", "/v1/accounts/"+acct+"/wrap", `{"mode": "fast"}`)
	var wrapped struct {
		Account        struct{ ID string }
		PendingRequest struct{ ID string } `json:"pending_request"`
		Extra          int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &wrapped); err != nil {
		t.Fatal(err)
	}
	if wrapped.Account.ID != acct || wrapped.PendingRequest.ID == "fixed-id" || wrapped.PendingRequest.ID == "" || wrapped.Extra != 1 {
		t.Fatalf("wrapped task %s", w.Body)
	}
}

func TestTasksEndInTimeOrder(t *testing.T) {
	now := time.Unix(1764000000, 0)
	s, err := newServer(Options{Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := s.accounts[0]
	var order []string
	s.mu.Lock()
	s.durations = map[string]time.Duration{"slow": 3 * time.Second, "fast": time.Second}
	s.newTask(now, "slow", "", a, nil, func(time.Time) { order = append(order, "slow") })
	s.newTask(now, "fast", "", a, nil, func(time.Time) { order = append(order, "fast") })
	s.advance(now.Add(2 * time.Second))
	if strings.Join(order, ",") != "fast" {
		t.Fatalf("after 2s: %v", order)
	}
	s.advance(now.Add(time.Hour))
	s.mu.Unlock()
	if strings.Join(order, ",") != "fast,slow" {
		t.Fatalf("order %v", order)
	}
}
