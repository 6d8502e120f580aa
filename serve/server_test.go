package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"
)

// fakeBackend stands in for the CLI's engine in the server's own tests
// (security, forms, single apply); the end-to-end tests use the real one.
type fakeBackend struct {
	dir       string
	applies   atomic.Int32
	stale     bool
	gate      chan struct{} // Apply waits on it after starting, when set
	mu        sync.Mutex
	runs      map[string]*RunDetail
	decisions []DecideRequest
}

func (f *fakeBackend) Playbook(file string) (*Playbook, error) {
	wf, diags := schema.LoadFile(file, schema.LoadOptions{})
	if len(diags) > 0 {
		var p []string
		for _, d := range diags {
			p = append(p, d.String())
		}
		return &Playbook{File: file, Problems: p}, nil
	}
	return &Playbook{File: file, Workflow: wf}, nil
}

func (f *fakeBackend) Plan(_ context.Context, file string, in map[string]string) (*plan.Plan, error) {
	if in["count"] == "bad" {
		return nil, &InputError{Problems: []string{"input count: not an integer"}}
	}
	p := &plan.Plan{Content: plan.Content{FormatVersion: plan.FormatVersion, Workflow: plan.WorkflowRef{Name: "t", File: file},
		Inputs:    map[string]any{"pin": plan.Sensitive, "count": in["count"]},
		Mutations: []plan.Mutation{{Step: "fan.m", Item: "Store-1", Index: 0, Key: "fan.m[Store-1]#1", Type: "sandbox.clone", Method: "POST", Path: "/accounts/a1/clone", Destructive: true}}}}
	p.Summarize()
	p.Hash = p.ComputeHash()
	return p, nil
}

func (f *fakeBackend) Apply(ctx context.Context, r ApplyRequest) (string, error) {
	if f.stale {
		return "", &StaleError{PlanHash: r.Plan.Hash, Differences: []string{"mutation added: Store-2"}}
	}
	n := f.applies.Add(1)
	id := "run-" + string(rune('0'+n))
	f.mu.Lock()
	f.runs[id] = &RunDetail{RunSummary: RunSummary{ID: id, Status: "running", Approver: r.Approver, PlanHash: r.Plan.Hash, Attempts: 1}}
	f.mu.Unlock()
	r.Started(id)
	r.Events(engine.Event{Type: "step_started", Step: "fan.m", Item: "Store-1"})
	if f.gate != nil {
		<-f.gate
	}
	r.Events(engine.Event{Type: "step_finished", Step: "fan.m", Item: "Store-1", Status: engine.StatusSucceeded})
	r.Events(engine.Event{Type: "run_finished", Status: "succeeded"})
	f.mu.Lock()
	f.runs[id].Status = "succeeded"
	f.mu.Unlock()
	return "succeeded", nil
}

func (f *fakeBackend) Resume(ctx context.Context, r ResumeRequest) (string, error) {
	return "", io.EOF
}

func (f *fakeBackend) Runs() ([]RunSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RunSummary
	for _, r := range f.runs {
		out = append(out, r.RunSummary)
	}
	return out, nil
}

func (f *fakeBackend) Run(id string) (*RunDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.runs[id]; ok {
		cp := *r
		return &cp, nil
	}
	return nil, os.ErrNotExist
}

const testPlaybook = `version: 1
name: t
description: A test playbook.
inputs:
  count:
    type: integer
    default: 2
  pin:
    type: string
    secret: true
steps:
  - id: fan
    for_each: [1, 2]
    steps:
      - id: m
        uses: accounts.list
`

func newTestServer(t *testing.T, o Options) (*Server, *fakeBackend, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(testPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{dir: dir, runs: map[string]*RunDetail{}}
	o.Backend = fb
	o.PlaybooksDir = dir
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, fb, ts
}

func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestOffLoopbackNeedsToken(t *testing.T) {
	if _, err := New(Options{Addr: "0.0.0.0:8088", Backend: &fakeBackend{}}); err == nil || !strings.Contains(err.Error(), "FRAMEFLOW_SERVE_TOKEN") {
		t.Fatalf("want a refusal naming FRAMEFLOW_SERVE_TOKEN, got %v", err)
	}
	if _, err := New(Options{Addr: ":8088", Backend: &fakeBackend{}}); err == nil {
		t.Fatal("all interfaces without a token: want a refusal")
	}
	if _, err := New(Options{Addr: "127.0.0.1:8088", Backend: &fakeBackend{}}); err != nil {
		t.Fatalf("loopback needs no token: %v", err)
	}
}

func TestLoginOffLoopback(t *testing.T) {
	const token = "0123456789abcdef-token"
	_, _, ts := newTestServer(t, Options{Addr: "0.0.0.0:0", Token: token})
	c := client(t)
	resp, err := c.Get(ts.URL + "/playbooks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("without a session: %d %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A POST without a session is refused, not redirected.
	resp, _ = c.PostForm(ts.URL+"/playbooks/t.yaml/plan", url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without a session: %d, want 401", resp.StatusCode)
	}
	resp, _ = c.PostForm(ts.URL+"/login", url.Values{"name": {"ann"}, "token": {"wrong-token-000000"}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Wrong token") {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	resp, _ = c.PostForm(ts.URL+"/login", url.Values{"name": {"ann"}, "token": {token}, "next": {"/playbooks"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/playbooks" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Value == token || strings.Contains(ck[0].Value, token) {
		t.Fatalf("session cookie: %+v", ck)
	}
	resp, _ = c.Get(ts.URL + "/playbooks")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ann (token login)") {
		t.Fatalf("with a session: %d\n%s", resp.StatusCode, body)
	}
}

func TestTrustedProxyHeaderOnlyFromTheProxy(t *testing.T) {
	a := newAuthenticator("0123456789abcdef", true, mustPrefix(t, "10.0.0.5"), "X-Forwarded-User", "", time.Hour)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-User", "mallory")
	r.RemoteAddr = "10.0.0.9:1234"
	if u := a.proxyUser(r); u != "" {
		t.Fatalf("header from a non-proxy address was read: %q", u)
	}
	r.RemoteAddr = "10.0.0.5:1234"
	if u := a.proxyUser(r); u != "mallory" {
		t.Fatalf("header from the proxy: %q", u)
	}
}

func mustPrefix(t *testing.T, s string) *netip.Prefix {
	p, err := parsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestCrossSitePostRefused(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{})
	req, _ := http.NewRequest("POST", ts.URL+"/playbooks/t.yaml/plan", strings.NewReader("in.count=3"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "another site") {
		t.Fatalf("cross-site POST: %d\n%s", resp.StatusCode, body)
	}
	if fb.applies.Load() != 0 {
		t.Fatal("something was applied")
	}
}

func TestLoopbackRefusesForeignHost(t *testing.T) {
	_, _, ts := newTestServer(t, Options{})
	req, _ := http.NewRequest("GET", ts.URL+"/playbooks", nil)
	req.Host = "attacker.example:8088"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("rebound host name: %d, want 421", resp.StatusCode)
	}
}

// planOnce posts the form and returns the plan page's path.
func planOnce(t *testing.T, c *http.Client, base string, form url.Values) string {
	t.Helper()
	resp, err := c.PostForm(base+"/playbooks/t.yaml/plan", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("plan: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func TestApplyOnceUnderConcurrentClicks(t *testing.T) {
	s, fb, ts := newTestServer(t, Options{})
	fb.gate = make(chan struct{})
	c := client(t)
	loc := planOnce(t, c, ts.URL, url.Values{"in.count": {"3"}, "in.pin": {"canary-pin-4711"}})
	pp, _ := s.plans.get(context.Background(), strings.TrimPrefix(loc, "/plans/"))
	var wg sync.WaitGroup
	locs := make([]string, 8)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.PostForm(ts.URL+loc+"/apply", url.Values{"plan_hash": {pp.Plan.Hash}})
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			locs[i] = resp.Header.Get("Location")
			if resp.StatusCode == http.StatusConflict && strings.Contains(string(body), `already applied by run <a href="/runs/run-1">`) {
				locs[i] = "409 run-1"
			}
		}()
	}
	wg.Wait()
	close(fb.gate)
	// A click while the run starts is shown it; one after it started is
	// refused (409), naming it.
	for _, l := range locs {
		if l != "/runs/run-1" && l != "409 run-1" {
			t.Errorf("a click went to %q, want /runs/run-1 or a refusal naming run-1", l)
		}
	}
	if n := fb.applies.Load(); n != 1 {
		t.Fatalf("%d applies, want 1", n)
	}
}

func TestApplyRefusesAnotherHash(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{})
	c := client(t)
	loc := planOnce(t, c, ts.URL, url.Values{"in.count": {"3"}})
	resp, _ := c.PostForm(ts.URL+loc+"/apply", url.Values{"plan_hash": {"sha256:0000"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || fb.applies.Load() != 0 {
		t.Fatalf("another hash: %d, %d applies", resp.StatusCode, fb.applies.Load())
	}
}

func TestBadInputShowsFormAndNoSecret(t *testing.T) {
	_, _, ts := newTestServer(t, Options{})
	c := client(t)
	resp, _ := c.PostForm(ts.URL+"/playbooks/t.yaml/plan", url.Values{"in.count": {"bad"}, "in.pin": {"canary-pin-4711"}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "not an integer") {
		t.Fatalf("bad input: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "canary-pin-4711") {
		t.Fatal("the secret input was echoed back")
	}
}

func TestPlanDownloadIsTheSavedFormat(t *testing.T) {
	_, _, ts := newTestServer(t, Options{})
	c := client(t)
	loc := planOnce(t, c, ts.URL, url.Values{"in.count": {"3"}, "in.pin": {"canary-pin-4711"}})
	resp, err := c.Get(ts.URL + loc + "/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "canary-pin-4711") {
		t.Fatal("the downloaded plan holds the secret input")
	}
	f := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(f)
	if err != nil {
		t.Fatalf("the download does not load as a plan file: %v\n%s", err, b)
	}
	if p.Hash == "" || p.Hash != p.ComputeHash() {
		t.Fatalf("hash %q, computed %q", p.Hash, p.ComputeHash())
	}
}

// Two servers sharing one store (as two processes share a state backend):
// a plan made on one is shown by the other, which asks for the secret
// input it never saw and refuses the apply without it; with it, the apply
// runs once, and a click on the first server afterwards is refused naming
// that run. The plan document holds no secret.
func TestPlanSharedBetweenServersThroughTheStore(t *testing.T) {
	store := newMemoryStore()
	_, fb1, ts1 := newTestServer(t, Options{Store: store})
	_, fb2, ts2 := newTestServer(t, Options{Store: store})
	c := client(t)
	loc := planOnce(t, c, ts1.URL, url.Values{"in.count": {"3"}, "in.pin": {"canary-pin-4711"}})
	for name, body := range store.docs {
		if strings.Contains(string(body), "canary-pin-4711") {
			t.Fatalf("%s holds the secret input", name)
		}
	}
	resp, err := c.Get(ts2.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hash := regexp.MustCompile(`name="plan_hash" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || hash == nil || !strings.Contains(string(page), `name="in.pin" type="password"`) {
		t.Fatalf("the other server's plan page: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = c.PostForm(ts2.URL+loc+"/apply", url.Values{"plan_hash": {string(hash[1])}})
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(page), "pin: secret inputs are not stored with the plan") || fb2.applies.Load() != 0 {
		t.Fatalf("apply without the secret: %d, %d applies\n%s", resp.StatusCode, fb2.applies.Load(), page)
	}
	resp, _ = c.PostForm(ts2.URL+loc+"/apply", url.Values{"plan_hash": {string(hash[1])}, "in.pin": {"canary-pin-4711"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs/run-1" {
		t.Fatalf("apply with the secret: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = c.PostForm(ts1.URL+loc+"/apply", url.Values{"plan_hash": {string(hash[1])}})
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(page), `already applied by run <a href="/runs/run-1">`) {
		t.Fatalf("a click on the first server after the run: %d\n%s", resp.StatusCode, page)
	}
	if n := fb1.applies.Load() + fb2.applies.Load(); n != 1 {
		t.Fatalf("%d applies, want 1", n)
	}
}

func (f *fakeBackend) Gates(id string) ([]Gate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.runs[id]; ok {
		return r.Waiting, nil
	}
	return nil, os.ErrNotExist
}

func (f *fakeBackend) Decide(_ context.Context, r DecideRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decisions = append(f.decisions, r)
	run := f.runs[r.RunID]
	for i := range run.Waiting {
		if run.Waiting[i].Step == r.Step {
			if d := run.Waiting[i].Decision; d != nil {
				return errors.New("approve: " + r.Step + " was already decided by " + d.By)
			}
			run.Waiting[i].Decision = &Decision{Approved: !r.Reject, By: r.By, Comment: r.Comment}
		}
	}
	return nil
}

// A run waiting at an approval gate: the run page shows the gate with
// Approve and Reject; a decision is recorded once, as the page's user,
// only on a gate the run waits at, never from another site; the event
// stream tells an open page that the gate changed.
func TestGateDecisionFromThePage(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{LocalUser: "alice"})
	fb.runs["run-g"] = &RunDetail{RunSummary: RunSummary{ID: "run-g", Status: "running", Attempts: 1,
		Waiting: []Gate{{Step: "gate", Message: "canary <b>ok</b>?", Since: time.Now(), Deadline: time.Now().Add(time.Hour), Approve: "frameflow approve run-g gate"}}}}
	c := client(t)
	get := func(path string) (int, string) {
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(form url.Values, crossSite bool) (int, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/runs/run-g/decide", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if crossSite {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Origin", "https://evil.example")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/runs/run-g")
	for _, want := range []string{`action="/runs/run-g/decide"`, `value="approve"`, `value="reject"`, "canary &lt;b&gt;ok&lt;/b&gt;?", "frameflow approve run-g gate", "left; then the step fails"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Fatalf("run page (%d) lacks %q:\n%s", code, want, page)
		}
	}
	if _, hist := get("/runs"); !strings.Contains(hist, "waiting for approval at <code>gate</code>") {
		t.Fatalf("history does not say the run waits:\n%s", hist)
	}

	// The open page's event stream, told what the page shows.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/runs/run-g/events?gates="+url.QueryEscape("gate=waiting;"), nil)
	stream, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()

	if code, _ := post(url.Values{"step": {"gate"}, "decision": {"approve"}}, true); code != http.StatusForbidden {
		t.Fatalf("cross-site decision: %d, want 403", code)
	}
	if code, body := post(url.Values{"step": {"other"}, "decision": {"approve"}}, false); code != http.StatusConflict || !strings.Contains(body, "does not wait at") {
		t.Fatalf("a decision on a step that does not wait: %d\n%s", code, body)
	}
	if code, _ := post(url.Values{"step": {"gate"}, "decision": {"maybe"}}, false); code != http.StatusBadRequest {
		t.Fatalf("neither approve nor reject: %d", code)
	}
	if len(fb.decisions) != 0 {
		t.Fatalf("recorded %+v", fb.decisions)
	}
	if code, _ := post(url.Values{"step": {"gate"}, "decision": {"approve"}, "comment": {" looks fine "}}, false); code != http.StatusSeeOther {
		t.Fatalf("approve: %d, want a redirect to the run", code)
	}
	if len(fb.decisions) != 1 || fb.decisions[0] != (DecideRequest{RunID: "run-g", Step: "gate", Comment: "looks fine", By: "alice (loopback)"}) {
		t.Fatalf("decisions %+v", fb.decisions)
	}
	if _, page := get("/runs/run-g"); !strings.Contains(page, "Approved</span> by alice (loopback)") || strings.Contains(page, `value="approve"`) {
		t.Fatalf("after approving, the page shows:\n%s", page)
	}
	if code, _ := post(url.Values{"step": {"gate"}, "decision": {"reject"}}, false); code != http.StatusConflict || len(fb.decisions) != 1 {
		t.Fatalf("a second decision: %d, %d recorded", code, len(fb.decisions))
	}
	// A gate inside a fan-out is named with its item's key in brackets.
	fb.mu.Lock()
	fb.runs["run-g"].Waiting = append(fb.runs["run-g"].Waiting, Gate{Step: "canary.gate[store-7]", Message: "store 7?", Since: time.Now(), Deadline: time.Now().Add(time.Minute)})
	fb.mu.Unlock()
	if _, page := get("/runs/run-g"); !strings.Contains(page, `value="canary.gate[store-7]"`) {
		t.Fatalf("the fan-out gate is not offered:\n%s", page)
	}
	if code, _ := post(url.Values{"step": {"canary.gate[store-7]"}, "decision": {"reject"}, "comment": {"slow"}}, false); code != http.StatusSeeOther ||
		len(fb.decisions) != 2 || fb.decisions[1].Step != "canary.gate[store-7]" || !fb.decisions[1].Reject {
		t.Fatalf("rejecting a fan-out gate: %d %+v", code, fb.decisions)
	}

	// The stream says the gate changed.
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "event: gates") {
		n, err := stream.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("the stream ended without a gates event: %v\n%s", err, got.String())
		}
	}
	if !strings.Contains(got.String(), `"gates":"gate=decided;`) {
		t.Fatalf("gates event: %s", got.String())
	}
}

// Only runs of playbooks that may wait at a gate have their gates read
// every second: one with an approval step (in a group too) or a call of
// another playbook; not qa-rollout.
func TestOnlyPlaybooksWithGatesArePolled(t *testing.T) {
	for file, want := range map[string]bool{"qa-rollout.yaml": false, "canary-rollout.yaml": true, "publish-if-changed.yaml": false} {
		wf, diags := schema.LoadFile(filepath.Join("..", "workflows", file), schema.LoadOptions{})
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		if got := newLiveRun("r", wf, nil).mayWait; got != want {
			t.Errorf("%s: mayWait = %v, want %v", file, got, want)
		}
	}
	if !newLiveRun("r", nil, nil).mayWait {
		t.Error("a run whose playbook cannot be read must be polled")
	}
	nested := []*schema.Step{{ID: "g", Steps: []*schema.Step{{ID: "x", Uses: "./lib/rollout-account.yaml"}}}}
	if !mayWait(nested) {
		t.Error("a call of another playbook may wait")
	}
}

// A lib/ folder beside the playbooks holds library playbooks (uses:
// ./lib/x.yaml, docs/composition.md): they are not offered, and cannot be
// opened as playbooks, but a playbook calling one loads it.
func TestLibraryPlaybooksAreNotOffered(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{})
	if err := os.MkdirAll(filepath.Join(fb.dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib := "version: 1\nname: the-library\ninputs:\n  id: {type: string, required: true}\nsteps:\n  - id: m\n    uses: accounts.list\n"
	caller := "version: 1\nname: caller\nsteps:\n  - id: c\n    uses: ./lib/x.yaml\n    with: {id: a}\n"
	if err := os.WriteFile(filepath.Join(fb.dir, "lib", "x.yaml"), []byte(lib), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fb.dir, "caller.yaml"), []byte(caller), 0o644); err != nil {
		t.Fatal(err)
	}
	c := client(t)
	resp, err := c.Get(ts.URL + "/playbooks")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !strings.Contains(page, "caller") || strings.Contains(page, "the-library") || strings.Contains(page, "x.yaml") {
		t.Errorf("the playbooks page should offer caller.yaml and not lib/x.yaml:\n%s", page)
	}
	if strings.Contains(page, "no such file") {
		t.Errorf("caller.yaml did not load its library:\n%s", page)
	}
	resp, err = c.Get(ts.URL + "/playbooks/lib%2Fx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /playbooks/lib%%2Fx.yaml: %d, want 404", resp.StatusCode)
	}
}
