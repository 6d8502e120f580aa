package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// hookServer is a local HTTP service (a chat webhook, a ticket API) on
// 127.0.0.1 recording every request; onRequest may block or answer.
type hookServer struct {
	mu   sync.Mutex
	reqs []hookRequest
	srv  *httptest.Server
	host string // 127.0.0.1:port
}

type hookRequest struct {
	Method, Path, Body string
	Header             http.Header
}

func newHookServer(t *testing.T, onRequest func(w http.ResponseWriter, r *http.Request, n int)) *hookServer {
	t.Helper()
	h := &hookServer{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{r.Method, r.URL.RequestURI(), string(b), r.Header.Clone()})
		n := len(h.reqs)
		h.mu.Unlock()
		onRequest(w, r, n)
	}))
	h.srv.Listener.Close()
	h.srv.Listener = l
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	h.host = l.Addr().String()
	return h
}

func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func writeHTTPWorkflow(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// notifyWorkflow posts to the hook with a secret token in a header and the
// body; extra goes under the step's with.
func notifyWorkflow(host, extra string) string {
	return fmt.Sprintf(`version: 1
name: notify
inputs:
  token:
    type: string
    secret: true
    required: true
http:
  allow: [%s]
steps:
  - id: notify
    uses: http.request
    with:
      method: POST
      url: http://%s/hook
      headers:
        X-Signal: ${{ inputs.token }}
      json:
        text: "rollout done (sig ${{ inputs.token }})"
%s`, host, host, extra)
}

const hookSecret = "tok-9f8e7d6c5b4a"

// stateText is every file under the state directory (journals, plans), to
// check that no secret was written anywhere.
func stateText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func TestHTTPRequestValidateRefusesHostOutsideAllow(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	f := writeHTTPWorkflow(t, `version: 1
name: notify
http:
  allow: [hooks.example.com]
steps:
  - id: ok
    uses: http.request
    with: {method: POST, url: "https://hooks.example.com/services/T0"}
  - id: elsewhere
    uses: http.request
    with:
      method: POST
      url: "https://evil.example.net/x"
`)
	r := runBinary(t, env, "validate", f)
	want := f + `:13:12: step "elsewhere" (http.request): host "evil.example.net" is not in the workflow's http.allow (hooks.example.com)`
	if r.code != 2 || !strings.Contains(r.err+r.out, want) {
		t.Fatalf("want exit 2 and %q, got %s", want, r)
	}
}

// A POST runs once, after approval; the secret reaches the server but
// nothing a person sees (plan, output, events, journal).
func TestHTTPRequestRunMasksSecretsAndNeedsApproval(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	f := writeHTTPWorkflow(t, notifyWorkflow(h.host, ""))
	in := "token=" + hookSecret

	r := runBinary(t, env, "plan", f, "--input", in)
	t.Log(r)
	if r.code != 0 || !strings.Contains(r.out, "POST") || !strings.Contains(r.out, "/hook") || len(h.requests()) != 0 {
		t.Fatalf("plan: %s (%d requests)", r, len(h.requests()))
	}
	if strings.Contains(r.out+r.err, hookSecret) {
		t.Fatalf("plan shows the secret: %s", r)
	}

	r = runBinary(t, env, "run", f, "--input", in)
	if r.code == 0 || len(h.requests()) != 0 {
		t.Fatalf("run without --yes: want a refusal, got %s (%d requests)", r, len(h.requests()))
	}
	if !strings.Contains(r.out+r.err, "notify") {
		t.Fatalf("the refusal does not name the step: %s", r)
	}

	r = runBinary(t, env, "run", f, "--input", in, "--yes", "--output", "json")
	reqs := h.requests()
	if r.code != 0 || len(reqs) != 1 {
		t.Fatalf("run --yes: %s (%d requests)", r, len(reqs))
	}
	if reqs[0].Header.Get("X-Signal") != hookSecret || !strings.Contains(reqs[0].Body, hookSecret) {
		t.Fatalf("the server did not get the token: %+v", reqs[0])
	}
	if strings.Contains(r.out+r.err, hookSecret) {
		t.Fatalf("run output shows the secret: %s", r)
	}
	if s := stateText(t, env["FRAMEFLOW_STATE_DIR"]); strings.Contains(s, hookSecret) || s == "" {
		t.Fatalf("state directory holds the secret (or nothing): %d bytes", len(s))
	}
}

// killedRun starts the binary, kills it as soon as the hook receives a
// request (before it answers), and returns once the process is gone.
func killedRun(t *testing.T, env map[string]string, got <-chan struct{}, args ...string) {
	t.Helper()
	cmd := exec.Command(frameflowBinary(t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		_ = cmd.Process.Kill()
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the request never arrived:\n%s", out.String())
	}
	_ = cmd.Wait()
}

// A POST whose answer was lost in a crash is not sent again by resume: the
// step ends outcome_unknown for an operator. Declared idempotent (an
// Idempotency-Key header), resume sends it again.
func TestHTTPRequestKilledMidPostIsNotResentUnlessIdempotent(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		wantSent    int
	}{
		{"plain", "", 1},
		{"idempotency key header", "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, env := simEnv(t, sim.Options{})
			got := make(chan struct{}, 4)
			release := make(chan struct{})
			h := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					got <- struct{}{}
					select { // hold the answer until the process is dead
					case <-release:
					case <-time.After(30 * time.Second):
					}
					return
				}
				w.WriteHeader(200)
			})
			defer close(release)
			text := notifyWorkflow(h.host, tc.extra)
			if tc.wantSent == 2 {
				text = strings.Replace(text, "        X-Signal:", "        Idempotency-Key: rollout-2026-11-30\n        X-Signal:", 1)
			}
			f := writeHTTPWorkflow(t, text)
			killedRun(t, env, got, "run", f, "--input", "token="+hookSecret, "--yes")

			r := runBinary(t, env, "resume", "--last", "--yes", "--input", "token="+hookSecret)
			if n := len(h.requests()); n != tc.wantSent {
				t.Fatalf("sent %d times, want %d; resume: %s", n, tc.wantSent, r)
			}
			t.Log(r)
			if tc.wantSent == 1 {
				if r.code == 0 || !strings.Contains(r.out+r.err, "outcome_unknown") || !strings.Contains(r.out+r.err, "--mark") {
					t.Fatalf("resume should stop for an operator: %s", r)
				}
			} else if r.code != 0 {
				t.Fatalf("idempotent resume: %s", r)
			}
			if strings.Contains(r.out+r.err, hookSecret) {
				t.Fatalf("resume shows the secret: %s", r)
			}
		})
	}
}

// A planned POST whose body holds a value known only after apply (a task
// id) passes apply's guard, and is sent once.
func TestHTTPRequestPlannedThenApplied(t *testing.T) {
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
      method: POST
      url: http://%s/hook
      json: {task: "${{ steps.start.outputs.task.id }}"}
`, qa, h.host))
	out := filepath.Join(t.TempDir(), "p.plan")
	if r := runBinary(t, env, "plan", f, "--out", out); r.code != 0 || !strings.Contains(r.out, "POST http://"+h.host+"/hook") {
		t.Fatalf("plan: %s", r)
	}
	if r := runBinary(t, env, "apply", out, "--yes"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	got := h.requests()
	if len(got) != 1 || !strings.Contains(got[0].Body, `"task":"`) || strings.Contains(got[0].Body, "known after apply") {
		t.Fatalf("hook got %+v", got)
	}
}
