package steps_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
	"github.com/frameflow/frameflow/steps"
)

// hook is a local HTTP service on 127.0.0.1 that records what it got.
type hook struct {
	mu   sync.Mutex
	got  []*http.Request
	body []string
	srv  *httptest.Server
}

func newHook(t *testing.T, h http.HandlerFunc) *hook {
	t.Helper()
	k := &hook{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		k.got = append(k.got, r)
		k.body = append(k.body, string(b))
		k.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *hook) n() int { k.mu.Lock(); defer k.mu.Unlock(); return len(k.got) }

func runHTTP(t *testing.T, in map[string]any, o runOpts) (map[string]any, error) {
	t.Helper()
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	out, _, err := runStep(t, reg, "http.request", in, o)
	return out, err
}

func okHTTP(t *testing.T, in map[string]any, o runOpts) map[string]any {
	t.Helper()
	out, err := runHTTP(t, in, o)
	return mustOK(t, out, err)
}

func TestHTTPRequestGetDecodesJSONAndText(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/text" {
			_, _ = io.WriteString(w, "hello")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"stores":["a","b"],"q":"`+r.URL.Query().Get("region")+`"}`)
	})
	out := okHTTP(t, map[string]any{"url": k.srv.URL + "/stores", "query": map[string]any{"region": "eu"}}, runOpts{})
	if out["status"] != float64(200) {
		t.Fatalf("status %v", out["status"])
	}
	body, _ := out["body"].(map[string]any)
	if body["q"] != "eu" || len(body["stores"].([]any)) != 2 {
		t.Fatalf("body %#v", out["body"])
	}
	out = okHTTP(t, map[string]any{"url": k.srv.URL + "/text"}, runOpts{})
	if out["body"] != "hello" || out["text"] != "hello" {
		t.Fatalf("text body %#v", out)
	}
}

func TestHTTPRequestPostIsAMutation(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	in := map[string]any{"method": "POST", "url": k.srv.URL + "/hook", "json": map[string]any{"text": "done: 3"},
		"headers": map[string]any{"Authorization": "Bearer s3cr3t", "X-Team": "retail"}}
	// Plan mode: recorded, not sent; credential headers masked.
	rec := &recorder{}
	okHTTP(t, in, runOpts{mode: engine.ModePlan, recorder: rec})
	if k.n() != 0 {
		t.Fatalf("plan sent %d requests", k.n())
	}
	muts := rec.all()
	if len(muts) != 1 || muts[0].Method != "POST" || muts[0].Path != k.srv.URL+"/hook" {
		t.Fatalf("planned %#v", muts)
	}
	// What the plan shows of the request: its headers and body.
	b, _ := json.Marshal([]any{muts[0].Headers, muts[0].Body})
	if strings.Contains(string(b), "s3cr3t") || !strings.Contains(string(b), "retail") || !strings.Contains(string(b), "done: 3") {
		t.Fatalf("plan body %s", b)
	}
	// Run mode: sent once, JSON body and headers as given.
	out := okHTTP(t, in, runOpts{})
	if out["status"] != float64(201) || k.n() != 1 {
		t.Fatalf("status %v, %d sent", out["status"], k.n())
	}
	if k.body[0] != `{"text":"done: 3"}` || k.got[0].Header.Get("Authorization") != "Bearer s3cr3t" || k.got[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("sent %q %v", k.body[0], k.got[0].Header)
	}
}

func TestHTTPRequestFormAndExpectStatus(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(409)
		_, _ = io.WriteString(w, "ticket already closed")
	})
	_, err := runHTTP(t, map[string]any{"method": "PUT", "url": k.srv.URL + "/t/1", "form": map[string]any{"state": "closed"}}, runOpts{})
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 409 || api.Method != "PUT" || !strings.Contains(err.Error(), "/t/1") || !strings.Contains(err.Error(), "ticket already closed") {
		t.Fatalf("want an APIError with method, path, status and message, got %v", err)
	}
	if k.body[0] != "state=closed" || k.got[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("sent %q", k.body[0])
	}
	out := okHTTP(t, map[string]any{"method": "PUT", "url": k.srv.URL + "/t/1", "form": map[string]any{"state": "closed"}, "expect_status": []any{200, 409}}, runOpts{})
	if out["status"] != float64(409) {
		t.Fatalf("status %v", out["status"])
	}
}

// A server error to a non-idempotent mutation may follow its effect: the
// outcome is unknown (never retried, reconciled by an operator); declared
// idempotent, it is an ordinary server error.
func TestHTTPRequestServerErrorToMutationIsOutcomeUnknown(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	_, err := runHTTP(t, map[string]any{"method": "POST", "url": k.srv.URL + "/x?token=abc"}, runOpts{})
	if c, _ := frame.Classify(err); c != frame.ClassOutcomeUnknown {
		t.Fatalf("class %s: %v", c, err)
	}
	if strings.Contains(err.Error(), "abc") {
		t.Fatalf("error shows the query: %v", err)
	}
	_, err = runHTTP(t, map[string]any{"method": "POST", "url": k.srv.URL + "/x", "headers": map[string]any{"Idempotency-Key": "run-1"}}, runOpts{})
	if c, _ := frame.Classify(err); c != frame.ClassServerError {
		t.Fatalf("idempotent: class %s: %v", c, err)
	}
}

func TestHTTPRequestRefusesBeforeSending(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) {})
	wf := &schema.Workflow{HTTPAllow: []string{"hooks.example.com"}}
	for name, in := range map[string]map[string]any{
		"outside allow": {"method": "POST", "url": k.srv.URL},
		"scheme":        {"url": "ftp://hooks.example.com/x"},
		"both bodies":   {"method": "POST", "url": "https://hooks.example.com/x", "json": 1, "form": map[string]any{"a": "b"}},
		"get with body": {"url": "https://hooks.example.com/x", "json": 1},
		"bad status":    {"url": "https://hooks.example.com/x", "expect_status": []any{7}},
		"line break":    {"url": "https://hooks.example.com/x", "headers": map[string]any{"X": "a\r\nB: c"}},
	} {
		reg := engine.NewRegistry()
		_ = steps.Register(reg, steps.Deps{})
		st, _ := reg.Lookup("http.request")
		sc := engine.NewTestContext(engine.TestContextOptions{StepID: "s", Index: -1, Workflow: wf})
		_, err := st.Run(t.Context(), sc, in)
		if c, _ := frame.Classify(err); c != frame.ClassInvalid {
			t.Errorf("%s: want an invalid request, got %v", name, err)
		}
	}
	if k.n() != 0 {
		t.Fatalf("%d requests sent", k.n())
	}
}

func TestHTTPRequestOfflineAndUnknown(t *testing.T) {
	k := newHook(t, func(w http.ResponseWriter, r *http.Request) {})
	out := okHTTP(t, map[string]any{"url": k.srv.URL}, runOpts{mode: engine.ModeOffline})
	if !engine.IsUnknown(out["body"]) || k.n() != 0 {
		t.Fatalf("offline GET: %v, %d sent", out, k.n())
	}
	rec := &recorder{}
	okHTTP(t, map[string]any{"method": "POST", "url": k.srv.URL, "json": map[string]any{"id": engine.Unknown}}, runOpts{mode: engine.ModePlan, recorder: rec})
	if len(rec.all()) != 1 || k.n() != 0 {
		t.Fatalf("plan with an unknown body: %d planned, %d sent", len(rec.all()), k.n())
	}
}

// Only mutations of one URL are serialized; reads never wait for a lock.
func TestHTTPRequestResources(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	st, _ := reg.Lookup("http.request")
	if got := st.Resources(map[string]any{"url": "https://inv.example.com/stores?page=2"}); len(got) != 0 {
		t.Fatalf("a GET locks %v", got)
	}
	got := st.Resources(map[string]any{"method": "PATCH", "url": "https://t.example.com/changes/1?token=x"})
	if len(got) != 1 || got[0] != "http:https://t.example.com/changes/1" {
		t.Fatalf("a PATCH locks %v", got)
	}
}
