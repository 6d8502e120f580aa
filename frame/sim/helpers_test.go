package sim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// The tests sign with their own few lines, written from the docs, so that
// they depend neither on the client nor on the simulator's verifier.

// fakeClock is a settable clock shared by the simulator and the signer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1764000000, 0).UTC()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t      *testing.T
	sim    *sim.Server
	srv    *httptest.Server
	clock  *fakeClock
	id     string
	secret string
}

// newHarness serves a simulator over real HTTP on 127.0.0.1 with a fake
// clock; opts may adjust the options first.
func newHarness(t *testing.T, opts func(*sim.Options)) *harness {
	t.Helper()
	clk := newClock()
	o := sim.Options{Now: clk.Now, TaskDuration: 10 * time.Second}
	if opts != nil {
		opts(&o)
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &harness{t: t, sim: s, srv: srv, clock: clk, id: "sim-client", secret: "sim-secret"}
}

func signature(secret, ts, id string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + id))
	return hex.EncodeToString(m.Sum(nil))
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a signed request. body may be nil, url.Values (form) or any
// other value (JSON).
func (h *harness) do(method, path string, body any) resp {
	h.t.Helper()
	req := h.request(method, path, body)
	ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
	req.Header.Set("X-Frame-ClientId", h.id)
	req.Header.Set("X-Frame-Timestamp", ts)
	req.Header.Set("X-Frame-Signature", signature(h.secret, ts, h.id))
	return h.send(req)
}

func (h *harness) request(method, path string, body any) *http.Request {
	h.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd, ct = strings.NewReader(string(j)), "application/json"
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req
}

func (h *harness) send(req *http.Request) resp {
	h.t.Helper()
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must asserts the status and decodes the body into v (when not nil).
func (h *harness) must(status int, method, path string, body, v any) resp {
	h.t.Helper()
	r := h.do(method, path, body)
	if r.status != status {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	if v != nil {
		r.decode(h.t, v)
	}
	return r
}

type account struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Active      bool    `json:"active"`
	LastPublish *string `json:"last_publish"`
}

type pool struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type task struct {
	ID         string          `json:"id"`
	AccountID  string          `json:"account_id"`
	PoolID     *string         `json:"pool_id"`
	Kind       string          `json:"kind"`
	Stage      string          `json:"stage"`
	ResultInfo json.RawMessage `json:"result_info"`
}

type pending struct {
	Account        account `json:"account"`
	PendingRequest task    `json:"pending_request"`
}

type elasticity struct {
	Min    int `json:"min_servers"`
	Buffer int `json:"buffer_servers"`
	Max    int `json:"max_servers"`
}

func (h *harness) accountByName(name string) account {
	h.t.Helper()
	var accts []account
	h.must(200, "GET", "/v1/accounts?name="+url.QueryEscape(name), nil, &accts)
	for _, a := range accts {
		if a.Name == name {
			return a
		}
	}
	h.t.Fatalf("no account %q", name)
	return account{}
}

func (h *harness) pools(accountID string) (sandbox pool, production []pool) {
	h.t.Helper()
	var ps []pool
	h.must(200, "GET", "/v1/accounts/"+accountID+"/pools", nil, &ps)
	for _, p := range ps {
		if p.Kind == "sandbox" {
			sandbox = p
		} else {
			production = append(production, p)
		}
	}
	if sandbox.ID == "" {
		h.t.Fatalf("account %s has no sandbox pool", accountID)
	}
	return sandbox, production
}

func (h *harness) taskStage(accountID, taskID string) task {
	h.t.Helper()
	var tk task
	h.must(200, "GET", "/v1/accounts/"+accountID+"/task/"+taskID, nil, &tk)
	return tk
}

func (h *harness) stateAccount(name string) sim.AccountState {
	h.t.Helper()
	for _, a := range h.sim.Snapshot().Accounts {
		if a.Name == name {
			return a
		}
	}
	h.t.Fatalf("no account %q in the snapshot", name)
	return sim.AccountState{}
}
