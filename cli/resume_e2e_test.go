package cli_test

// "Never lose a run", end to end (issue 6): a real frameflow process runs
// workflows/qa-rollout.yaml against an in-process simulator and is killed
// with SIGKILL at chosen moments; `frameflow resume --last --yes` must then
// finish the run with exit 0 (after the operator's --mark where a clone's
// answer was lost: its task is unknown, issue 11), and the simulator's
// request log must show each store cloned once from the QA sandbox pool and
// published once.
//
// Kills are synchronised on the simulator's Hook, not on sleeps: the hook
// runs inside the request, after the simulator acted and before it answers,
// and returns only once the killed process has been reaped, so "the clone
// happened but its answer never arrived" is exact.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
)

const rolloutFile = "../workflows/qa-rollout.yaml"

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m) // stops the PostgreSQL server of state_e2e_test.go
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// frameflowBinary builds the command once per test binary run.
func frameflowBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "frameflow-e2e-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "frameflow")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// trigger decides, for each request the simulator sees, whether to kill the
// process now. It runs under the rig's lock, so it may count freely.
type trigger func(phase string, r *http.Request, status int) bool

// crashRig is one simulator and the frameflow processes driving it, one at
// a time, sharing a state directory.
type crashRig struct {
	t   *testing.T
	sim *sim.Running
	env []string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	trig     trigger
	killedAt string
}

func newCrashRig(t *testing.T, stores int, o sim.Options) *crashRig {
	t.Helper()
	rig := &crashRig{t: t}
	o.Scenario = sim.RetailScenario(stores)
	if o.TaskDuration == 0 {
		// Long enough that kills land while tasks run, short enough for CI.
		o.TaskDuration = 1200 * time.Millisecond
	}
	o.Hook = rig.hook
	s, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rig.sim = s
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FRAME_") || strings.HasPrefix(k, "FRAMEFLOW_") || k == "GITHUB_STEP_SUMMARY" {
			continue
		}
		rig.env = append(rig.env, kv)
	}
	rig.env = append(rig.env,
		"FRAME_API_URL="+s.URL(),
		"FRAME_CLIENT_ID=sim-client",
		"FRAME_CLIENT_SECRET=sim-secret",
		"FRAMEFLOW_STATE_DIR="+t.TempDir(),
	)
	return rig
}

func (c *crashRig) hook(phase string, r *http.Request, status int) {
	c.mu.Lock()
	fire := c.trig != nil && c.cmd != nil && c.trig(phase, r, status)
	var cmd *exec.Cmd
	var done chan struct{}
	if fire {
		c.trig = nil
		c.killedAt = phase + " " + r.Method + " " + r.URL.Path
		cmd, done = c.cmd, c.done
	}
	c.mu.Unlock()
	if fire {
		_ = cmd.Process.Kill() // SIGKILL
		<-done                 // reaped: it can no longer read the answer
	}
}

// exitResult is how one frameflow process ended.
type exitResult struct {
	args     []string
	code     int
	killed   bool
	killedAt string
	out, err string
}

func (r exitResult) String() string {
	how := fmt.Sprintf("exit %d", r.code)
	if r.killed {
		how = "killed at " + r.killedAt
	}
	// The step failures say why; the tail says where it stopped.
	var failed []string
	for _, line := range strings.Split(r.out, "\n") {
		if strings.Contains(line, `"type":"step_finished"`) && strings.Contains(line, `"error"`) {
			failed = append(failed, line)
		}
	}
	return fmt.Sprintf("frameflow %s: %s\n--- failed steps\n%s\n--- stdout (tail)\n%s\n--- stderr\n%s",
		strings.Join(r.args, " "), how, strings.Join(failed, "\n"), tail(r.out, 2000), r.err)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// exec runs frameflow with args, killing it when trig fires (nil: never).
func (c *crashRig) exec(trig trigger, args ...string) exitResult {
	c.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(frameflowBinary(c.t), args...)
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan struct{})
	// Hold the lock across Start so the hook never sees a trigger without
	// the process it is for.
	c.mu.Lock()
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	c.cmd, c.done, c.trig, c.killedAt = cmd, done, trig, ""
	c.mu.Unlock()
	waitErr := cmd.Wait()
	close(done)

	c.mu.Lock()
	c.cmd, c.trig = nil, nil
	res := exitResult{args: args, killedAt: c.killedAt, out: out.String(), err: errb.String()}
	c.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.killed = true
		}
	default:
		c.t.Fatalf("frameflow %v: %v", args, waitErr)
	}
	if trig != nil && !res.killed {
		c.t.Fatalf("the kill point was never reached:\n%s", res)
	}
	return res
}

func (c *crashRig) run(trig trigger) exitResult {
	return c.exec(trig, "run", rolloutFile, "--yes", "--output", "json")
}

func (c *crashRig) resume(trig trigger, extra ...string) exitResult {
	return c.exec(trig, append([]string{"resume", "--last", "--yes", "--output", "json"}, extra...)...)
}

// ---- kill points --------------------------------------------------------------

func isClone(r *http.Request) bool {
	return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/clone")
}

func isPublish(r *http.Request) bool {
	return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/publish")
}

func isTaskRead(r *http.Request) bool {
	return r.Method == "GET" && strings.Contains(r.URL.Path, "/task/")
}

// nth fires on the n-th request in phase that match says is one.
func nth(n int, phase string, match func(*http.Request, int) bool) trigger {
	seen := 0
	return func(p string, r *http.Request, status int) bool {
		if p != phase || !match(r, status) {
			return false
		}
		seen++
		return seen == n
	}
}

// accountsListed fires once the account list has been answered for both
// the source and the targets: after every read the rollout starts with,
// before any POST.
func accountsListed() trigger {
	return nth(2, "acted", func(r *http.Request, _ int) bool {
		return r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/v1/accounts")
	})
}

func accepted(is func(*http.Request) bool) func(*http.Request, int) bool {
	return func(r *http.Request, status int) bool { return is(r) && status < 300 }
}

// atRequest fires at the k-th API request of a run, before or after the
// simulator acted on it.
func atRequest(k int, phase string) trigger {
	return nth(k, phase, func(*http.Request, int) bool { return true })
}

// ---- the checks ------------------------------------------------------------------

// checkExactlyOnce asserts from the simulator's request log and state that
// every store was cloned once from the QA sandbox pool and published once,
// that each store's production pools ended at 1/1/5, and that nothing
// else was changed.
func (c *crashRig) checkExactlyOnce(stores int) {
	t := c.t
	t.Helper()
	st := c.sim.Snapshot()
	var qaID, qaSandbox, qaImage string
	storeNames := map[string]string{}
	for _, a := range st.Accounts {
		if a.Name == "QA" {
			qaID, qaSandbox, qaImage = a.ID, sandboxPool(st, a.ID), a.SandboxImageVersion
		}
		if strings.HasPrefix(a.Name, "Store-") && a.Active {
			storeNames[a.ID] = a.Name
		}
	}
	if qaSandbox == "" || len(storeNames) != stores {
		t.Fatalf("scenario: QA sandbox %q, %d stores", qaSandbox, len(storeNames))
	}
	prodOf := map[string]string{}
	for _, p := range st.Pools {
		if p.Kind == "production" {
			prodOf[p.ID] = p.AccountID
		}
	}
	clones := map[string][]sim.RequestRecord{}
	publishes := map[string][]sim.RequestRecord{}
	refused := map[string]int{}
	for _, q := range c.sim.Requests() {
		if q.Method == "GET" {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(q.Path, "/v1/"), "/")
		switch {
		case len(parts) == 5 && parts[0] == "accounts" && parts[2] == "pools" && parts[4] == "clone":
			if parts[3] != qaSandbox {
				t.Errorf("clone of %s from pool %s, want the QA sandbox pool %s", parts[1], parts[3], qaSandbox)
			}
			// Every clone request counts, refused or not: a clone is never
			// re-sent once it may have been made.
			clones[parts[1]] = append(clones[parts[1]], q)
		case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "publish":
			if q.Status >= 300 {
				// A publish refused with 409 while the account's clone still
				// ran changed nothing; the retry policy sends it again.
				refused[parts[1]]++
				if q.Status != http.StatusConflict {
					t.Errorf("publish of %s answered %d", parts[1], q.Status)
				}
				continue
			}
			publishes[parts[1]] = append(publishes[parts[1]], q)
		case len(parts) == 3 && parts[0] == "pools" && parts[2] == "elasticity_settings":
			if _, ok := storeNames[prodOf[parts[1]]]; !ok {
				t.Errorf("elasticity of pool %s, not a store's production pool", parts[1])
			}
			form, _ := url.ParseQuery(q.Body)
			if got := form.Get("min_servers") + "/" + form.Get("buffer_servers") + "/" + form.Get("max_servers"); got != "1/1/5" {
				t.Errorf("elasticity body %q, want 1/1/5", q.Body)
			}
		default:
			t.Errorf("unexpected mutation %s %s", q.Method, q.Path)
		}
	}
	for id, name := range storeNames {
		if n := len(clones[id]); n != 1 {
			t.Errorf("%s cloned %d times, want once: %+v", name, n, clones[id])
		}
		if n := len(publishes[id]); n != 1 {
			t.Errorf("%s published %d times, want once: %+v", name, n, publishes[id])
		}
		if len(clones[id]) == 1 && len(publishes[id]) == 1 && !publishes[id][0].Time.After(clones[id][0].Time) {
			t.Errorf("%s published before it was cloned", name)
		}
	}
	for id := range clones {
		if _, ok := storeNames[id]; !ok {
			t.Errorf("account %s is not a store but was cloned", id)
		}
	}
	if _, ok := publishes[qaID]; ok {
		t.Errorf("the QA account was published")
	}
	for _, a := range st.Accounts {
		if _, ok := storeNames[a.ID]; ok && (a.LastPublish == nil || a.SandboxImageVersion != qaImage || a.ProductionImageVersion != qaImage) {
			t.Errorf("%s: sandbox %s, production %s, last publish %v; want both %s, published", a.Name, a.SandboxImageVersion, a.ProductionImageVersion, a.LastPublish, qaImage)
		}
	}
	for _, p := range st.Pools {
		if _, ok := storeNames[p.AccountID]; ok && p.Kind == "production" {
			if e := p.Elasticity; e.MinServers != 1 || e.BufferServers != 1 || e.MaxServers != 5 {
				t.Errorf("%s pool %s elasticity %+v, want 1/1/5", storeNames[p.AccountID], p.Name, e)
			}
		}
	}
	if t.Failed() {
		return
	}
	n409 := 0
	for _, n := range refused {
		n409 += n
	}
	t.Logf("%d stores cloned and published once each (%d publishes refused with 409 and retried)", stores, n409)
}

type runsEntry struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Status   string `json:"status"`
	Finished *time.Time
	Attempts []struct {
		N      int    `json:"n"`
		Status string `json:"status"`
	} `json:"attempts"`
}

// checkRuns asserts that `frameflow runs --format json` shows one run,
// succeeded, whose attempts ended as want (the last one succeeded).
func (c *crashRig) checkRuns(want ...string) {
	t := c.t
	t.Helper()
	r := c.exec(nil, "runs", "--format", "json")
	if r.code != 0 {
		t.Fatalf("runs:\n%s", r)
	}
	var runs []runsEntry
	if err := json.Unmarshal([]byte(r.out), &runs); err != nil {
		t.Fatalf("runs --format json: %v\n%s", err, r.out)
	}
	if len(runs) != 1 {
		t.Fatalf("want one run, got %d:\n%s", len(runs), r.out)
	}
	got := make([]string, 0, len(runs[0].Attempts))
	for _, a := range runs[0].Attempts {
		got = append(got, a.Status)
	}
	if runs[0].Status != "succeeded" || runs[0].Workflow != "qa-rollout" || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("runs: %s %s, attempts %v; want qa-rollout succeeded, attempts %v\n%s", runs[0].Workflow, runs[0].Status, got, want, r.out)
	}
}

// ---- the scenarios -------------------------------------------------------------------

const e2eStores = 6

// crashThenResume kills the run at each trigger in turn (the first kills
// the run, later ones the resumes), resumes once more without a kill, and
// checks the outcome. afterKill, when set, looks at the simulator after
// each kill.
func crashThenResume(t *testing.T, o sim.Options, afterKill func(rig *crashRig, attempt int), kills ...trigger) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, e2eStores, o)
	var attempts []string
	for i, k := range kills {
		var r exitResult
		if i == 0 {
			r = rig.run(k)
		} else {
			r = rig.resume(k)
		}
		t.Logf("attempt %d killed at %s", i+1, r.killedAt)
		if afterKill != nil {
			afterKill(rig, i+1)
		}
		attempts = append(attempts, "crashed")
	}
	// A clone whose answer was lost is proven sent but not finished: the
	// resume stops for the operator's decision (outcome_unknown), who
	// checks the account and marks it; then the run finishes.
	r := rig.resume(nil)
	_, attempts = rig.finish(r, append(attempts, "succeeded"), 4)
	rig.checkExactlyOnce(e2eStores)
	rig.checkRuns(attempts...)
}

func TestKillBeforeAnyPostThenResume(t *testing.T) {
	crashThenResume(t, sim.Options{}, func(rig *crashRig, _ int) {
		for _, q := range rig.sim.Requests() {
			if q.Method != "GET" {
				t.Fatalf("killed too late: %s %s was sent", q.Method, q.Path)
			}
		}
	}, accountsListed())
}

func TestKillAfterCloneActedBeforeAnswerThenResume(t *testing.T) {
	crashThenResume(t, sim.Options{}, nil, nth(1, "acted", accepted(isClone)))
}

func TestKillAfterPublishActedBeforeAnswerThenResume(t *testing.T) {
	crashThenResume(t, sim.Options{}, nil, nth(2, "acted", accepted(isPublish)))
}

func TestKillWhileWaitingForTasksThenResume(t *testing.T) {
	crashThenResume(t, sim.Options{}, nil, nth(4, "acted", func(r *http.Request, _ int) bool { return isTaskRead(r) }))
}

// A resume killed in its turn is resumed again: here the run dies right
// after a clone acted, and the first resume dies while it reconciles that
// clone (the second audit-trail read of that account: the first is the
// re-run step's fresh witness, the second Reconcile's).
func TestKillRunThenKillResumeThenResume(t *testing.T) {
	var lost string // the account whose clone answer was lost; set under the rig's lock
	killClone := nth(3, "acted", accepted(isClone))
	crashThenResume(t, sim.Options{}, nil,
		func(phase string, r *http.Request, status int) bool {
			if killClone(phase, r, status) {
				lost = strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/accounts/"), "/")[0]
				return true
			}
			return false
		},
		nth(2, "acted", func(r *http.Request, _ int) bool {
			return r.Method == "GET" && lost != "" && r.URL.Path == "/v1/accounts/"+lost+"/audit-trails"
		}),
	)
}

// Kills at pseudo-random requests (fixed seeds, so a failure reproduces):
// before or after the simulator acted on the k-th request of the run.
func TestKillAtSeededRandomMomentsThenResume(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 0xf1a3e))
		k := 3 + rng.IntN(50)
		phase := []string{"received", "acted"}[rng.IntN(2)]
		t.Run(fmt.Sprintf("seed%d_request%d_%s", seed, k, phase), func(t *testing.T) {
			crashThenResume(t, sim.Options{}, nil, atRequest(k, phase))
		})
	}
}

// With the simulator dropping a share of mutations' connections after
// acting, outcome-unknown mutations are reconciled, not re-sent, both in the
// run and in a resume after a kill.
func TestDroppedConnectionsAreReconciledNotResent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Run("no kill", func(t *testing.T) {
		t.Parallel()
		rig := newCrashRig(t, e2eStores, sim.Options{DropRate: 0.3, Seed: 11})
		r := rig.run(nil)
		// A clone whose answer was dropped is proven sent by its audit
		// entry but not finished (its task id was lost): the run fails for
		// it (outcome_unknown) and the operator marks it. A mutation proven
		// absent twice in a row goes back to the engine and may exhaust its
		// retries; a resume finishes it. Either way nothing is sent twice.
		_, want := rig.finish(r, []string{"succeeded"}, 4)
		dropped := countDropped(rig.sim.Requests())
		if dropped == 0 {
			t.Fatal("the simulator dropped no connection: the variant tests nothing")
		}
		t.Logf("%d connections dropped after acting; attempts %v", dropped, want)
		rig.checkExactlyOnce(e2eStores)
		rig.checkRuns(want...)
	})
	t.Run("kill after publish", func(t *testing.T) {
		crashThenResume(t, sim.Options{DropRate: 0.25, Seed: 7}, nil, nth(3, "acted", accepted(isPublish)))
	})
}

func countDropped(reqs []sim.RequestRecord) int {
	n := 0
	for _, q := range reqs {
		if q.Dropped {
			n++
		}
	}
	return n
}
