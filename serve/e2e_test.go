package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/plan"
)

// The end-to-end tests run the real frameflow binary (`frameflow serve`)
// against the simulator over HTTP, and drive it with headless Chromium.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m) // stops the PostgreSQL server the state tests started
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func frameflowBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "serve-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "frameflow")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuffer collects a process's output for the secret checks.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// served is a running `frameflow serve`.
type served struct {
	URL      string
	StateDir string
	Dir      string // playbooks
	Log      *syncBuffer
	cmd      *exec.Cmd
}

// estate is the simulator and the environment that reaches it.
type estate struct {
	Sim *sim.Running
	Env []string
}

func startSim(t *testing.T, o sim.Options) *estate {
	t.Helper()
	if o.TaskDuration == 0 {
		o.TaskDuration = 300 * time.Millisecond
	}
	s, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &estate{Sim: s, Env: []string{"FRAME_API_URL=" + s.URL(), "FRAME_CLIENT_ID=sim-client", "FRAME_CLIENT_SECRET=sim-secret"}}
}

// secretInput makes qa-rollout-ticketed: qa-rollout with a secret input
// (a change ticket's one-time code) that must never be shown. It is not
// read by any step: a condition on a secret is refused (it would leak it
// one bit at a time), and no step of the rollout takes one.
const secretInput = `
  change_code:
    type: string
    secret: true
    description: One-time code of the change ticket (secret).
`

func playbooksDir(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "workflows", "qa-rollout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qa-rollout.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "name: qa-rollout", "name: qa-rollout-ticketed", 1)
	s = strings.Replace(s, "\ninputs:\n", "\ninputs:"+secretInput, 1)
	if err := os.WriteFile(filepath.Join(dir, "ticketed-rollout.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("version: 1\nname: broken\nsteps:\n  - id: a\n    uses: accounts.lst\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServe runs `frameflow serve` on 127.0.0.1 and returns once it listens.
func startServe(t *testing.T, e *estate, stateDir, dir string, extraEnv []string, args ...string) *served {
	t.Helper()
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	if dir == "" {
		dir = playbooksDir(t)
	}
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--playbooks", dir, "--log-level", "debug"}, args...)
	cmd := exec.Command(frameflowBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + stateDir, "USER=tester"}, e.Env...)
	cmd.Env = append(cmd.Env, extraEnv...)
	log := &syncBuffer{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{StateDir: stateDir, Dir: dir, Log: log, cmd: cmd}
	t.Cleanup(func() { s.stop(t) })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`listening on (http://\S+)/ `)
		for sc.Scan() {
			line := sc.Text()
			log.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case s.URL = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("frameflow serve did not start:\n%s", log.String())
	}
	return s
}

// stop interrupts the server as Ctrl-C would and waits for it.
func (s *served) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		t.Errorf("frameflow serve did not stop on SIGINT")
	}
}

// html returns the current page's markup.
func pageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mutationsSent are the simulator's answered non-GET requests, by
// "METHOD path", counted.
func mutationsSent(s *sim.Running) map[string]int {
	n := map[string]int{}
	for _, q := range s.Requests() {
		if q.Method != http.MethodGet && q.Status < 300 {
			n[q.Method+" "+q.Path]++
		}
	}
	return n
}

// appliedPlan reads the plan an apply run executed from the state dir.
func appliedPlan(t *testing.T, stateDir, runID string) *plan.Plan {
	t.Helper()
	p, err := plan.Load(filepath.Join(stateDir, "plans", runID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkExactlyPlanned: the simulator received each planned mutation once
// and nothing else that changes state.
func checkExactlyPlanned(t *testing.T, s *sim.Running, p *plan.Plan, base string) {
	t.Helper()
	want := map[string]int{}
	for _, m := range p.Mutations {
		want[m.Method+" "+base+m.Path]++
	}
	got := mutationsSent(s)
	var bad []string
	for k, n := range got {
		if want[k] != n {
			bad = append(bad, fmt.Sprintf("%s: sent %d, planned %d", k, n, want[k]))
		}
	}
	for k, n := range want {
		if got[k] == 0 {
			bad = append(bad, fmt.Sprintf("%s: planned %d, never sent", k, n))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("the mutations sent are not exactly the plan's:\n  %s", strings.Join(bad, "\n  "))
	}
}

func runIDOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(loc, "/runs/")
	if i < 0 {
		t.Fatalf("not on a run page: %s", loc)
	}
	return loc[i+len("/runs/"):]
}

// planThroughPages walks Playbooks -> the playbook -> its form -> the plan.
func planThroughPages(t *testing.T, ctx context.Context, s *served, book string, fill func()) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(s.URL+"/playbooks"),
		chromedp.WaitVisible(`a[href="/playbooks/`+book+`"]`),
		chromedp.Click(`a[href="/playbooks/`+book+`"]`),
		chromedp.WaitVisible(`#plan-form`),
	)
	if fill != nil {
		fill()
	}
	run(t, ctx, chromedp.Click(`#make-plan`), chromedp.WaitVisible(`#plan-summary`))
}

func waitStatus(t *testing.T, ctx context.Context, status string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(`#run-status.s-`+status)); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Text(`#run-status`))
		t.Fatalf("run status %q, want %s: %v", st, status, err)
	}
}

// The story: accounts, pick qa-rollout, fill its inputs, see the plan,
// approve, watch every store reach done; the simulator received exactly
// the planned mutations, once each; the approver is journaled.
func TestE2ERolloutInTheBrowser(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 2500 * time.Millisecond})
	s := startServe(t, e, "", "", nil)

	run(t, ctx, chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(`#accounts`))
	if h := pageHTML(t, ctx); !strings.Contains(h, "Store-Seattle") || !strings.Contains(h, "QA") {
		t.Fatal("the accounts page does not list the estate")
	}
	screenshot(t, ctx, "accounts")
	run(t, ctx, chromedp.Click(`//a[text()="Store-Seattle"]`), chromedp.WaitVisible(`#pools`))
	if h := text(t, ctx, "#pools"); !strings.Contains(h, "production") || !strings.Contains(h, " / ") {
		t.Fatalf("the account page shows no pools with elasticity: %q", h)
	}
	screenshot(t, ctx, "account")
	run(t, ctx, chromedp.Click(`//nav//a[text()="Playbooks"]`), chromedp.WaitVisible(`.cards`))
	if h := pageHTML(t, ctx); !strings.Contains(h, "broken.yaml:5:11") {
		t.Fatalf("the invalid playbook's problem is not shown as FILE:LINE:COL")
	}
	screenshot(t, ctx, "playbooks")
	planThroughPages(t, ctx, s, "qa-rollout.yaml", func() {
		run(t, ctx, chromedp.SetValue(`#in-max_servers`, "6"))
		screenshot(t, ctx, "plan-form")
	})
	summary := text(t, ctx, "#plan-summary")
	if !strings.Contains(summary, "destructive") {
		t.Fatalf("plan summary: %q", summary)
	}
	screenshot(t, ctx, "plan")
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	runID := runIDOf(t, ctx)
	// Mid-run: stores wait on their tasks (2.5 s each).
	run(t, ctx, chromedp.WaitVisible(`#progress .s-waiting`))
	screenshot(t, ctx, "run-live")
	waitStatus(t, ctx, "succeeded")
	h := pageHTML(t, ctx)
	for _, store := range []string{"Store-Seattle", "Store-Boston", "Store-Atlanta", "Store-Austin", "Store-Chicago", "Store-Denver", "Store-Phoenix", "Store-Portland"} {
		re := regexp.MustCompile(`<tr data-key="rollout\[` + store + `\]"><th scope="row">` + store + `</th><td>capacity</td><td><span class="state s-done">done</span>`)
		if !re.MatchString(h) {
			t.Errorf("%s did not reach done in the live table", store)
		}
	}
	screenshot(t, ctx, "run-done")
	p := appliedPlan(t, s.StateDir, runID)
	checkExactlyPlanned(t, e.Sim, p, "/v1")
	run(t, ctx, chromedp.Click(`//nav//a[text()="History"]`), chromedp.WaitVisible(`#runs`))
	who := strings.TrimPrefix(text(t, ctx, ".who"), "Signed in as ")
	if h := text(t, ctx, "#runs"); !strings.Contains(h, runID) || !strings.HasSuffix(who, " (loopback)") || !strings.Contains(h, who) {
		t.Fatalf("history (signed in as %q): %q", who, h)
	}
	screenshot(t, ctx, "history")
	// The approver is in the journal itself.
	j, err := os.ReadFile(filepath.Join(s.StateDir, "runs", runID+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"approver":`+jsString(who)) {
		t.Fatal("the approval is not journaled with its approver")
	}
}

// A plan made before the estate changed is refused with the differences,
// and nothing is sent.
func TestE2EStalePlanRefused(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{})
	s := startServe(t, e, "", "", nil)
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	yes := true
	if _, err := e.Sim.AddAccount(sim.AccountSpec{Name: "Store-Newark", CloudProvider: "aws", Active: &yes}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#stale`))
	if st := text(t, ctx, "#stale"); !strings.Contains(st, "Store-Newark") || !strings.Contains(st, "Nothing was sent") {
		t.Fatalf("stale message: %q", st)
	}
	screenshotTop(t, ctx, "plan-stale")
	if n := len(mutationsSent(e.Sim)); n != 0 {
		t.Fatalf("%d mutations sent for a stale plan", n)
	}
}

// Two browsers approving the same plan at once, and a burst of posts of
// it, apply it once: a click lands on the run, or is refused naming it.
func TestE2EDoubleApplyAppliesOnce(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{})
	s := startServe(t, e, "", "", nil)
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	planURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	// The second approver is a second browser: two people (and so two
	// tabs) with the plan open.
	tab2 := browser(t)
	run(t, tab2, chromedp.Navigate(planURL), chromedp.WaitVisible(`#approve`))
	// Both click within the same moment: each schedules a script click
	// 300 ms ahead. The page's script cannot help across browsers.
	for _, c := range []context.Context{ctx, tab2} {
		cc, cancel := context.WithTimeout(c, 10*time.Second)
		_, err := chromedp.Run(cc, chromedp.Evaluate[bool](`setTimeout(() => document.getElementById("approve").click(), 300), true`))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each lands on the run (the click that started it, or one that came
	// while it started) or on the plan, refused, naming the run.
	id1, how1 := landedOn(t, ctx)
	id2, how2 := landedOn(t, tab2)
	if id1 != id2 || (how1 == "refused" && how2 == "refused") {
		t.Fatalf("two browsers: %s %s and %s %s, want one run", how1, id1, how2, id2)
	}
	t.Logf("browser 1: %s %s; browser 2: %s %s", how1, id1, how2, id2)
	if how1 == "refused" {
		run(t, ctx, chromedp.Navigate(s.URL+"/runs/"+id1), chromedp.WaitVisible(`#progress`))
	}
	// And the form posted again and again, as a double click without the
	// page's script would: refused, naming that run.
	waitStatus(t, ctx, "succeeded")
	p := appliedPlan(t, s.StateDir, id1)
	for range 3 {
		loc, err := chromedp.Run(tab2, chromedp.Evaluate[string](
			`(async () => { const f = new FormData(); f.append("plan_hash", `+jsString(p.Hash)+`);
			  const r = await fetch(`+jsString(strings.TrimPrefix(planURL, s.URL))+` + "/apply", {method: "POST", body: new URLSearchParams(f)});
			  const b = await r.text(); const m = b.match(/already applied by run <a href="\/runs\/([^"]+)"/);
			  return r.url + " " + r.status + " " + (m ? m[1] : ""); })()`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(loc, " 409 "+id1) {
			t.Fatalf("another post of the plan: %q, want a refusal (409) naming run %s", loc, id1)
		}
	}
	checkExactlyPlanned(t, e.Sim, p, "/v1")
	entries, _ := filepath.Glob(filepath.Join(s.StateDir, "runs", "*.jsonl"))
	if len(entries) != 1 {
		t.Fatalf("%d runs journaled, want 1", len(entries))
	}
}

// landedOn waits until a browser that clicked Approve shows the run
// ("run", its id) or the plan's refusal naming the run ("refused", that id).
func landedOn(t *testing.T, ctx context.Context) (runID, how string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		  if (document.getElementById("progress")) return "run " + location.pathname.split("/runs/")[1];
		  const a = document.querySelector('.notice a[href^="/runs/"]');
		  return a ? "refused " + a.getAttribute("href").slice("/runs/".length) : ""; })()`))
		if err == nil && got != "" {
			how, runID, _ = strings.Cut(got, " ")
			return runID, how
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the browser shows neither a run nor a refusal naming one")
	return "", ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A run that fails (a store's clone task fails) is resumed from the page
// and finishes; only the failed store's clone is sent again.
func TestE2EFailedRunResumedFromPage(t *testing.T) {
	ctx := browser(t)
	seed, rate := firstTaskFails(t, 40)
	e := startSim(t, sim.Options{Seed: seed, TaskFailRate: rate})
	s := startServe(t, e, "", "", nil)
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	runID := runIDOf(t, ctx)
	waitStatus(t, ctx, "failed")
	run(t, ctx, chromedp.WaitVisible(`#resume`))
	if h := text(t, ctx, "#progress"); !strings.Contains(h, "failed") {
		t.Fatalf("no failed row with its reason: %q", h)
	}
	screenshot(t, ctx, "run-failed")
	run(t, ctx, chromedp.Click(`#resume`), chromedp.WaitVisible(`#progress`))
	waitStatus(t, ctx, "succeeded")
	if got := runIDOf(t, ctx); got != runID {
		t.Fatalf("resume went to run %s, want %s", got, runID)
	}
	// The resume is journaled with who asked for it.
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(`#attempts`))
	if a := text(t, ctx, "#attempts"); strings.Count(a, "(loopback)") != 2 {
		t.Fatalf("attempts: %q, want both approved by the page's user", a)
	}
	screenshot(t, ctx, "run-resumed")
	clones := map[string]int{}
	for k, n := range mutationsSent(e.Sim) {
		if strings.HasSuffix(k, "/clone") {
			clones[k] += n
		}
	}
	twice := 0
	for _, n := range clones {
		switch n {
		case 1:
		case 2:
			twice++
		default:
			t.Fatalf("a clone was sent %d times", n)
		}
	}
	if twice != 1 {
		t.Fatalf("%d stores cloned twice, want exactly the failed one: %v", twice, clones)
	}
}

// firstTaskFails picks a simulator seed and task fail rate under which the
// simulator's first task fails and the next n-1 do not (see
// cli/taskfail_test.go: one draw per task, from PCG(seed, seed^k)).
func firstTaskFails(t *testing.T, n int) (int64, float64) {
	t.Helper()
	for seed := uint64(1); seed < 100000; seed++ {
		first, rest := pcgDraws(seed, n)
		if first < rest/2 {
			return int64(seed), (first + rest) / 2
		}
	}
	t.Fatal("no seed found")
	return 0, 0
}

// Off loopback (or with --require-login) every page needs the token, which
// is exchanged for a session cookie; the token never is the cookie.
func TestE2ELoginRequired(t *testing.T) {
	e := startSim(t, sim.Options{})
	// Refused before listening: all interfaces without a token.
	cmd := exec.Command(frameflowBinary(t), "serve", "--addr", "0.0.0.0:0", "--playbooks", t.TempDir())
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.Env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FRAMEFLOW_SERVE_TOKEN") {
		t.Fatalf("serve on 0.0.0.0 without a token: %v\n%s", err, out)
	}
	const token = "e2e-token-0123456789abcdef"
	ctx := browser(t)
	s := startServe(t, e, "", "", []string{"FRAMEFLOW_SERVE_TOKEN=" + token}, "--require-login")
	run(t, ctx, chromedp.Navigate(s.URL+"/accounts"), chromedp.WaitVisible(`#token`))
	screenshot(t, ctx, "login")
	run(t, ctx, chromedp.SendKeys(`#name`, "Ann Admin"), chromedp.SendKeys(`#token`, "not-the-token-000"), chromedp.Click(`//button[text()="Log in"]`), chromedp.WaitVisible(`#login-error`))
	run(t, ctx, chromedp.SendKeys(`#token`, token), chromedp.Click(`//button[text()="Log in"]`), chromedp.WaitVisible(`#accounts`))
	if who := text(t, ctx, ".who"); !strings.Contains(who, "Ann Admin (token login)") {
		t.Fatalf("signed in as %q", who)
	}
	// No request without the cookie reaches a page.
	resp, err := http.Get(s.URL + "/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("without a session /runs ended on %s", resp.Request.URL.Path)
	}
	if strings.Contains(s.Log.String(), token) {
		t.Fatal("the token appears in the server's log")
	}
}

// A page of another site that posts to the server (an approval, say) is
// refused, and nothing is applied.
func TestE2ECrossSitePostRefused(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{})
	s := startServe(t, e, "", "", nil)
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	planURL, _ := chromedp.Run(ctx, chromedp.Location())
	hash, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('input[name=plan_hash]').value`))
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's page, on another origin (localhost vs 127.0.0.1, and
	// another port), submits the approval form by itself.
	evil := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id=f method=post action=%q><input name=plan_hash value=%q></form><script>document.getElementById("f").submit()</script>`, planURL+"/apply", hash)
	})}
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(l)
	defer evil.Close()
	evilURL := "http://localhost:" + portOf(l.Addr().String()) + "/"
	run(t, ctx, chromedp.Navigate(evilURL), chromedp.WaitVisible(`//h1[text()="Refused"]`))
	if h := pageHTML(t, ctx); !strings.Contains(h, "came from another site") {
		t.Fatal("no refusal page")
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(mutationsSent(e.Sim)); n != 0 {
		t.Fatalf("a cross-site post sent %d mutations", n)
	}
	entries, _ := filepath.Glob(filepath.Join(s.StateDir, "runs", "*.jsonl"))
	if len(entries) != 0 {
		t.Fatalf("a cross-site post started %d runs", len(entries))
	}
}

// A secret input's value appears in no page, no event stream, no log, no
// journal and no plan kept on disk.
func TestE2ENoSecretAnywhere(t *testing.T) {
	const canary = "CANARY-7f3a91-secret"
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 100 * time.Millisecond})
	s := startServe(t, e, "", "", nil)
	var pages []string
	// Bad input first: the form comes back without the secret.
	run(t, ctx,
		chromedp.Navigate(s.URL+"/playbooks/ticketed-rollout.yaml"), chromedp.WaitVisible(`#plan-form`),
		chromedp.SendKeys(`#in-change_code`, canary), chromedp.SetValue(`#in-max_servers`, "-3"),
		chromedp.Click(`#make-plan`), chromedp.WaitVisible(`#form-problems`))
	pages = append(pages, pageHTML(t, ctx))
	screenshot(t, ctx, "plan-form-invalid")
	if v, _ := chromedp.Run(ctx, chromedp.Value(`#in-change_code`)); v != "" {
		t.Fatalf("the secret field came back filled")
	}
	run(t, ctx, chromedp.SendKeys(`#in-change_code`, canary), chromedp.SetValue(`#in-max_servers`, "5"), chromedp.Click(`#make-plan`), chromedp.WaitVisible(`#approve`))
	pages = append(pages, pageHTML(t, ctx))
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	runID := runIDOf(t, ctx)
	waitStatus(t, ctx, "succeeded")
	pages = append(pages, pageHTML(t, ctx))
	for _, path := range []string{"/runs", "/runs/" + runID, "/accounts", "/playbooks"} {
		run(t, ctx, chromedp.Navigate(s.URL+path), chromedp.WaitReady(`main`))
		pages = append(pages, pageHTML(t, ctx))
	}
	resp, err := http.Get(s.URL + "/runs/" + runID + "/events?after=0")
	if err != nil {
		t.Fatal(err)
	}
	stream, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(stream), "event: row") {
		t.Fatalf("no events in the stream: %q", stream)
	}
	for i, p := range pages {
		if strings.Contains(p, canary) {
			t.Errorf("page %d shows the secret input", i)
		}
	}
	if strings.Contains(string(stream), canary) {
		t.Error("the event stream carries the secret input")
	}
	s.stop(t)
	if strings.Contains(s.Log.String(), canary) || strings.Contains(s.Log.String(), "sim-secret") {
		t.Error("the server's log carries a secret")
	}
	_ = filepath.Walk(s.StateDir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(canary)) {
				t.Errorf("%s holds the secret input", path)
			}
		}
		return nil
	})
}

// pcgDraws are the simulator's first draw and the least of the next n-1.
func pcgDraws(seed uint64, n int) (first, rest float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	first, rest = rng.Float64(), 1.0
	for range n - 1 {
		rest = min(rest, rng.Float64())
	}
	return first, rest
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// `frameflow demo --serve` opens the rollout against its own simulator in
// the page: the playbook form and the estate are there, nothing to set up.
func TestE2EDemoServe(t *testing.T) {
	cmd := exec.Command(frameflowBinary(t), "demo", "--serve", "--addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGINT); _ = cmd.Wait() }()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`^Open (http://\S+)/playbooks/qa-rollout.yaml`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatal("demo --serve printed no URL")
	}
	for path, want := range map[string]string{"/playbooks/qa-rollout.yaml": `id="in-max_servers"`, "/accounts": "Store-Seattle"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d, no %q", path, resp.StatusCode, want)
		}
	}
}

// One engine, one journal: a run started in the terminal shows up live in
// the page, and a run started (and failed) in the page is resumed from the
// terminal.
func TestE2ETerminalAndPageShareRuns(t *testing.T) {
	ctx := browser(t)
	seed, rate := firstTaskFails(t, 80)
	e := startSim(t, sim.Options{TaskDuration: 1500 * time.Millisecond, Seed: seed, TaskFailRate: rate})
	s := startServe(t, e, "", "", nil)
	terminal := func(args ...string) *exec.Cmd {
		cmd := exec.Command(frameflowBinary(t), args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + s.StateDir}, e.Env...)
		return cmd
	}
	// The page's apply fails: the simulator's first task (a clone) fails.
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	pageRun := runIDOf(t, ctx)
	waitStatus(t, ctx, "failed")
	// The terminal resumes it.
	if out, err := terminal("resume", pageRun, "--yes").CombinedOutput(); err != nil {
		t.Fatalf("frameflow resume %s: %v\n%s", pageRun, err, out)
	}
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(`#run-status.s-succeeded`))
	// A run started in the terminal, watched live from the page.
	cmd := terminal("run", "--yes", filepath.Join(s.Dir, "qa-rollout.yaml"), "--input", "max_servers=7")
	var termOut syncBuffer
	cmd.Stdout, cmd.Stderr = &termOut, &termOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var termRun string
	deadline := time.Now().Add(30 * time.Second)
	for termRun == "" && time.Now().Before(deadline) {
		run(t, ctx, chromedp.Navigate(s.URL+"/runs"), chromedp.WaitVisible(`#runs`))
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#runs tbody th a")).map(a => a.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id != pageRun {
				termRun = id
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if termRun == "" {
		t.Fatalf("the terminal's run never showed in the history:\n%s", termOut.String())
	}
	run(t, ctx, chromedp.Click(`//a[text()="`+termRun+`"]`), chromedp.WaitVisible(`#run-status.s-running`))
	screenshot(t, ctx, "run-from-terminal")
	waitStatus(t, ctx, "succeeded")
	if h := text(t, ctx, "#progress"); strings.Count(h, "done") < 8 {
		t.Fatalf("the terminal's run did not show its stores done: %q", h)
	}
	if err := <-done; err != nil {
		t.Fatalf("frameflow run: %v\n%s", err, termOut.String())
	}
}

// Keyboard only, at phone width: fill the form, plan, approve and watch,
// without a pointer. States read as words, not colours.
func TestE2EKeyboardAndPhoneWidth(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 200 * time.Millisecond})
	s := startServe(t, e, "", "", nil)
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(s.URL+"/accounts"), chromedp.WaitVisible(`#accounts`))
	// No horizontal scrolling of the page itself at phone width.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Fatalf("the accounts page is %d px wide at a 390 px viewport (%v)", w, err)
	}
	screenshot(t, ctx, "phone-accounts")
	// The first Tab reaches the skip link; Enter moves to the content.
	run(t, ctx, chromedp.KeyEvent("\t"))
	if f, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); f != "Skip to content" {
		t.Fatalf("first tab stop: %q", f)
	}
	run(t, ctx, chromedp.Navigate(s.URL+"/playbooks/qa-rollout.yaml"), chromedp.WaitVisible(`#plan-form`),
		chromedp.Clear(`#in-max_servers`), chromedp.Focus(`#in-max_servers`), chromedp.KeyEvent("4"), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`#approve`))
	// Tab from the top of the plan page to the approve button, then Enter.
	for i := 0; i < 40; i++ {
		id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
		if id == "approve" {
			break
		}
		run(t, ctx, chromedp.KeyEvent("\t"))
	}
	if id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != "approve" {
		t.Fatal("the approve button is not reachable with Tab")
	}
	run(t, ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(`#progress`))
	waitStatus(t, ctx, "succeeded")
	screenshot(t, ctx, "phone-run")
	if h := text(t, ctx, "#progress"); !strings.Contains(h, "done") {
		t.Fatalf("states are not written as words: %q", h)
	}
	if w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		t.Fatalf("the run page is %d px wide at a 390 px viewport", w)
	}
}

// A plan made in the page, downloaded, is applied by `frameflow apply`
// from a terminal: the same plan file, the same hash, exactly its
// mutations sent.
func TestE2EPagePlanAppliedFromTerminal(t *testing.T) {
	e := startSim(t, sim.Options{TaskDuration: 100 * time.Millisecond})
	s := startServe(t, e, "", "", nil)
	resp, err := http.PostForm(s.URL+"/playbooks/qa-rollout.yaml/plan", url.Values{"in.max_servers": {"4"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	planPage := resp.Request.URL.String()
	resp, err = http.Get(planPage + "/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	file := filepath.Join(t.TempDir(), "qa.plan.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(frameflowBinary(t), "apply", "--yes", file)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + s.StateDir}, e.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("frameflow apply: %v\n%s", err, out)
	}
	checkExactlyPlanned(t, e.Sim, p, "/v1")
}

// A failed run whose playbook has a secret input: Resume asks for it again
// (journals do not hold it), refuses without it, and never shows it.
func TestE2EResumeAsksForSecretInputsAgain(t *testing.T) {
	const canary = "CANARY-resume-5b1e"
	ctx := browser(t)
	seed, rate := firstTaskFails(t, 40)
	e := startSim(t, sim.Options{Seed: seed, TaskFailRate: rate})
	s := startServe(t, e, "", "", nil)
	planThroughPages(t, ctx, s, "ticketed-rollout.yaml", func() {
		run(t, ctx, chromedp.SendKeys(`#in-change_code`, canary))
	})
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	waitStatus(t, ctx, "failed")
	run(t, ctx, chromedp.WaitVisible(`#in-change_code`))
	// Without the secret: refused, nothing resumed.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("in-change_code").removeAttribute("required"), true`)); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Click(`#resume`), chromedp.WaitVisible(`//li[contains(., "secret inputs are not kept")]`))
	run(t, ctx, chromedp.SendKeys(`#in-change_code`, canary), chromedp.Click(`#resume`), chromedp.WaitVisible(`#progress`))
	waitStatus(t, ctx, "succeeded")
	if strings.Contains(pageHTML(t, ctx), canary) {
		t.Fatal("the run page shows the secret input")
	}
}
