package workflows_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// The playbooks that talk to services around Frame run against local HTTP
// servers on 127.0.0.1 standing in for a chat webhook and a ticket system.

type received struct {
	Method, Path, Auth, IdemKey string
	Body                        map[string]any
}

type service struct {
	mu   sync.Mutex
	got  []received
	srv  *httptest.Server
	resp func(r received) (int, string)
}

func newService(t *testing.T, resp func(r received) (int, string)) *service {
	t.Helper()
	s := &service{resp: resp}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec := received{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), IdemKey: r.Header.Get("Idempotency-Key")}
		_ = json.Unmarshal(b, &rec.Body)
		s.mu.Lock()
		s.got = append(s.got, rec)
		s.mu.Unlock()
		code, body := s.resp(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// firstCloneFails picks a simulator seed and task fail rate under which the
// first task the simulator makes (a clone: rollouts clone first) fails and
// the next n-1 do not. The simulator draws one number per task from
// PCG(seed, seed^0x9e3779b97f4a7c15) (frame/sim New) and fails the task
// when it is below the rate.
func firstCloneFails(n int) func(t *testing.T) sim.Options {
	return func(t *testing.T) sim.Options {
		for seed := uint64(1); seed < 100000; seed++ {
			rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			first, rest := rng.Float64(), 1.0
			for range n - 1 {
				rest = min(rest, rng.Float64())
			}
			if first < rest/2 {
				return sim.Options{Seed: int64(seed), TaskFailRate: (first + rest) / 2}
			}
		}
		t.Fatal("no seed found")
		return sim.Options{}
	}
}

// failedStore is the name of the one store whose task failed.
func failedStore(t *testing.T, e *estate) string {
	t.Helper()
	st := e.state()
	var failed []sim.TaskState
	for _, tk := range st.Tasks {
		if tk.Stage == sim.StageFailed {
			failed = append(failed, tk)
		}
	}
	if len(failed) != 1 || failed[0].Kind != sim.KindClone {
		t.Fatalf("want exactly one failed task, a clone; failed: %+v", failed)
	}
	for _, a := range st.Accounts {
		if a.ID == failed[0].AccountID {
			return a.Name
		}
	}
	t.Fatalf("no account %s", failed[0].AccountID)
	return ""
}

const webhookSecretPath = "/services/T01/B02/k3yXYZsecret"

// One store's clone fails: the others are done, and one summary is posted
// naming the failed store, its stage and why (the task's message); the webhook URL, a secret, is
// shown nowhere. The run ends failed.
func checkRolloutNotify(t *testing.T, e *estate) {
	hook := newService(t, func(received) (int, string) { return 200, `"ok"` })
	url := hook.srv.URL + webhookSecretPath

	p := e.plan("webhook_url=" + url)
	if p.code != 0 || !strings.Contains(p.out, "notify (http.request)") || strings.Contains(p.out+p.err, "k3yXYZsecret") || len(hook.requests()) != 0 {
		t.Fatalf("plan:\n%s", p)
	}
	r := frameflow(t, e.env, "run", e.file, "--yes", "--input", "webhook_url="+url)
	if r.code != 1 {
		t.Fatalf("a failed store must fail the run:\n%s", r)
	}
	if strings.Contains(r.out+r.err, "k3yXYZsecret") {
		t.Fatalf("the webhook URL was shown:\n%s", r)
	}
	failed := failedStore(t, e)
	got := hook.requests()
	if len(got) != 1 || got[0].Method != "POST" || got[0].Path != webhookSecretPath {
		t.Fatalf("webhook got %+v", got)
	}
	text, _ := got[0].Body["text"].(string)
	if text != "Sandbox rollout from QA: 5 of 6 stores done, 1 failed." {
		t.Fatalf("summary %q", text)
	}
	att, _ := got[0].Body["attachments"].([]any)
	if len(att) != 1 {
		t.Fatalf("attachments %v", got[0].Body)
	}
	a := att[0].(map[string]any)
	// The reason, not only the stage: the failed task's message as Frame
	// gave it (the simulator's result_info), after the failing step.
	why, _ := a["text"].(string)
	if a["color"] != "danger" || !strings.HasPrefix(why, failed+": clone: simulated failure of clone_pool (task-fail-rate)") || strings.Contains(why, "\n") {
		t.Fatalf("attachment %v, want %s: clone: and the task's failure message", a, failed)
	}
}

// The change is opened before any store is touched and closed after the
// last, with the bearer token and the result; nothing shows the token.
func checkChangeTicket(t *testing.T, e *estate) {
	const token = "tkt-8c1d55aa"
	tickets := newService(t, func(r received) (int, string) {
		if r.Method == "POST" {
			return 201, `{"id": "CHG0042", "state": "in_progress"}`
		}
		return 200, `{"id": "CHG0042", "state": "closed"}`
	})
	_, reqs := e.run("ticket_api="+tickets.srv.URL, "ticket_token="+token, "change_key=rollout-2026-11-30")
	got := tickets.requests()
	if len(got) != 2 || got[0].Method != "POST" || got[0].Path != "/changes" || got[1].Method != "PATCH" || got[1].Path != "/changes/CHG0042" {
		t.Fatalf("ticket calls %+v", got)
	}
	if got[0].Auth != "Bearer "+token || got[1].Auth != "Bearer "+token || got[0].IdemKey != "rollout-2026-11-30" {
		t.Fatalf("headers %+v", got)
	}
	if stores, _ := got[0].Body["stores"].([]any); len(stores) != 4 {
		t.Fatalf("opened with %v", got[0].Body)
	}
	if got[1].Body["state"] != "closed_successful" || got[1].Body["published"] != float64(4) {
		t.Fatalf("closed with %v", got[1].Body)
	}
	// Every clone and publish happened between the two ticket calls: the
	// simulator saw them, and the PATCH carries their count.
	if n := len(mutations(reqs)); n != 8 {
		t.Fatalf("%d Frame mutations, want 4 clones and 4 publishes", n)
	}
	r := frameflow(t, e.env, "runs")
	if strings.Contains(r.out+r.err, token) {
		t.Fatal("runs shows the token")
	}
}

// storesTouched counts the accepted clone and publish requests, per account.
func storesTouched(reqs []sim.RequestRecord) (clones, publishes map[string]int) {
	clones, publishes = map[string]int{}, map[string]int{}
	for _, q := range mutations(reqs) {
		parts := strings.Split(q.Path, "/") // /v1/accounts/{id}/...
		if len(parts) < 4 {
			continue
		}
		switch {
		case strings.HasSuffix(q.Path, "/clone"):
			clones[parts[3]]++
		case strings.HasSuffix(q.Path, "/publish"):
			publishes[parts[3]]++
		}
	}
	return clones, publishes
}

// Three canary stores are done, then the run waits at the gate (nothing
// else is cloned) until `frameflow approve`; then the other three follow.
// syncBuffer is an output the test reads while the run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func checkCanaryRollout(t *testing.T, e *estate) {
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main([]string{"run", e.file, "--yes"}, cli.Streams{
			In: strings.NewReader(""), Out: out, Err: out,
			Getenv: func(k string) string { return e.env[k] },
		})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "waiting for approval") {
		if time.Now().After(deadline) {
			t.Fatalf("the gate was never reached:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the gate holds
	if clones, pubs := storesTouched(e.sim.Requests()); len(clones) != 3 || len(pubs) != 3 {
		t.Fatalf("%d stores cloned, %d published before the approval, want the 3 canaries", len(clones), len(pubs))
	}
	runs, _ := filepath.Glob(filepath.Join(e.env["FRAMEFLOW_STATE_DIR"], "runs", "*.jsonl"))
	if len(runs) != 1 {
		t.Fatalf("runs %v", runs)
	}
	id := strings.TrimSuffix(filepath.Base(runs[0]), ".jsonl")
	if r := frameflow(t, e.env, "approve", id, "gate", "--by", "ann@ops"); r.code != 0 {
		t.Fatalf("approve:\n%s", r)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "3 canary stores published (Store-001, Store-002, Store-003); roll out to the other 3?") {
			t.Fatalf("run: exit %d\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not finish after the approval")
	}
	clones, pubs := storesTouched(e.sim.Requests())
	if len(clones) != 6 || len(pubs) != 6 {
		t.Fatalf("cloned %v, published %v: want each of the 6 stores once", clones, pubs)
	}
	for acc, n := range clones {
		if n != 1 || pubs[acc] != 1 {
			t.Fatalf("store %s: %d clones, %d publishes", acc, n, pubs[acc])
		}
	}
}
