package cli_test

// An outside tester's attack on the safety guarantees (docs/resume.md):
// the real binary is killed with SIGKILL at chosen requests of the retail
// playbooks, or the simulator acts on a mutation and then answers it
// badly, and the checks read the simulator's request log and estate. The
// probes and their results are listed in docs/probes.md.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

const onboardFile = "../workflows/onboard-store.yaml"

// onboardArgs runs onboard-store for Store-Lisbon in the rig's organization.
func (c *crashRig) onboardArgs() []string {
	org := c.sim.Snapshot().Organizations[0].ID
	args := []string{"run", onboardFile, "--yes", "--output", "json"}
	for _, in := range []string{"name=Store-Lisbon", "cloud_service_external_id=aws", "data_center_external_id=gateway-prod.12",
		"sandbox_instance_type_id=gateway-prod.1", "image_family=FrameAWSWindows2019", "master_image_id=base-1.0.0", "organization_id=" + org} {
		args = append(args, "--input", in)
	}
	return args
}

func isCreate(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/v1/accounts" }

// acceptedMutations counts the mutations the simulator acted on (answered
// below 300, or dropped after acting), by method and path.
func (c *crashRig) acceptedMutations() map[string]int {
	out := map[string]int{}
	for _, q := range c.sim.Requests() {
		if q.Method != "GET" && q.Status < 300 {
			out[q.Method+" "+q.Path]++
		}
	}
	return out
}

// checkAtMostOnce fails for every mutation the simulator acted on twice.
func (c *crashRig) checkAtMostOnce() {
	c.t.Helper()
	for k, n := range c.acceptedMutations() {
		if n > 1 {
			c.t.Errorf("%s acted on %d times", k, n)
		}
	}
}

// checkOnboarded: Store-Lisbon created once, cloned, given capacity and
// published once each, nothing else changed.
func (c *crashRig) checkOnboarded() {
	t := c.t
	t.Helper()
	c.checkAtMostOnce()
	st := c.sim.Snapshot()
	var store, qa sim.AccountState
	n := 0
	for _, a := range st.Accounts {
		switch a.Name {
		case "Store-Lisbon":
			store = a
			n++
		case "QA":
			qa = a
		}
	}
	if n != 1 {
		t.Fatalf("%d accounts named Store-Lisbon, want 1", n)
	}
	if store.LastPublish == nil || store.ProductionImageVersion != qa.SandboxImageVersion {
		t.Errorf("Store-Lisbon not published with QA's image: last publish %v, production %s", store.LastPublish, store.ProductionImageVersion)
	}
	var kinds []string
	for k := range c.acceptedMutations() {
		switch {
		case k == "POST /v1/accounts":
			kinds = append(kinds, "create")
		case strings.HasPrefix(k, "POST /v1/accounts/"+store.ID+"/pools/") && strings.HasSuffix(k, "/clone"):
			kinds = append(kinds, "clone")
		case k == "POST /v1/accounts/"+store.ID+"/publish":
			kinds = append(kinds, "publish")
		case strings.HasSuffix(k, "/elasticity_settings"):
			kinds = append(kinds, "elasticity")
		default:
			t.Errorf("unexpected mutation %s", k)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("mutations acted on: %v, want create, clone, elasticity, publish", kinds)
	}
}

// The account creation's answer is lost (the process is killed after Frame
// acted): the resume stops for the operator, who finds the account and
// its creation task done and marks it sent. The rollout must then find the
// account (the answer that named it is lost) and finish, creating nothing
// twice. Before the fix the marked step failed for ever ("no task in
// response"), and the rollout could not read the account id.
func TestProbeOnboardCreateAnswerLostThenMarkedSent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 2, sim.Options{TaskDuration: 300 * time.Millisecond})
	rig.exec(nth(1, "acted", accepted(isCreate)), rig.onboardArgs()...)
	r := rig.resume(nil)
	if r.code != 1 || len(undecided(r)) != 1 {
		t.Fatalf("the resume should stop for a decision on the creation:\n%s", r)
	}
	rig.finish(r, []string{"crashed", "succeeded"}, 2)
	rig.checkOnboarded()
}

const canaryFile = "../workflows/canary-rollout.yaml"

// killCase is one row of the kill table: a playbook, the kills (the first
// kills the run, each later one the next resume) and the check of the
// estate once the run finished.
type killCase struct {
	name     string
	workflow string // rolloutFile, canaryFile or onboardFile
	stores   int
	kills    []func() trigger // fresh triggers per case: they count
}

// armedAfter fires on the first request fire accepts once arm accepted
// one (in its phase "acted"): "the first task read after the first
// elasticity update", for instance.
func armedAfter(arm func(*http.Request) bool, phase string, fire func(*http.Request) bool) trigger {
	armed := false
	return func(p string, r *http.Request, status int) bool {
		if !armed {
			armed = p == "acted" && status < 300 && arm(r)
			return false
		}
		return p == phase && fire(r)
	}
}

func killTable() []killCase {
	clone := func(n int, phase string) func() trigger {
		return func() trigger { return nth(n, phase, accepted(isClone)) }
	}
	received := func(n int, is func(*http.Request) bool) func() trigger {
		return func() trigger { return nth(n, "received", func(r *http.Request, _ int) bool { return is(r) }) }
	}
	acted := func(n int, is func(*http.Request) bool) func() trigger {
		return func() trigger { return nth(n, "acted", accepted(is)) }
	}
	taskAfter := func(is func(*http.Request) bool) func() trigger {
		return func() trigger { return armedAfter(is, "acted", isTaskRead) }
	}
	request := func(k int, phase string) func() trigger { return func() trigger { return atRequest(k, phase) } }
	return []killCase{
		// qa-rollout: the points the other kill tests do not name.
		{"rollout/clone received", rolloutFile, 3, []func() trigger{received(2, isClone)}},
		{"rollout/clone task running", rolloutFile, 3, []func() trigger{taskAfter(isClone)}},
		{"rollout/publish received", rolloutFile, 3, []func() trigger{received(1, isPublish)}},
		{"rollout/publish task running", rolloutFile, 3, []func() trigger{taskAfter(isPublish)}},
		{"rollout/elasticity received", rolloutFile, 3, []func() trigger{received(2, isElasticity)}},
		{"rollout/elasticity task running", rolloutFile, 3, []func() trigger{taskAfter(isElasticity)}},
		// One store, so that no other clone is in flight at a kill (its
		// outcome would stop the next resume for the operator before the
		// next kill point): killed while the clone runs, then each resume
		// after the publish and after the elasticity update acted.
		{"rollout/three kills", rolloutFile, 1, []func() trigger{taskAfter(isClone), acted(1, isPublish), acted(1, isElasticity)}},
		// canary-rollout: in the canaries, then (after the approval) in the rest.
		{"canary/canary clone acted", canaryFile, 5, []func() trigger{clone(2, "acted")}},
		{"canary/canary publish acted, rest clone acted", canaryFile, 5, []func() trigger{acted(1, isPublish), clone(2, "acted")}},
		{"canary/rest publish task running", canaryFile, 5, []func() trigger{acted(3, isPublish), taskAfter(isPublish)}},
		// onboard-store: every mutation, and while its tasks run.
		{"onboard/create received", onboardFile, 1, []func() trigger{received(1, isCreate)}},
		{"onboard/create task running", onboardFile, 1, []func() trigger{taskAfter(isCreate)}},
		{"onboard/clone acted", onboardFile, 1, []func() trigger{acted(1, isClone)}},
		{"onboard/elasticity acted", onboardFile, 1, []func() trigger{acted(1, isElasticity)}},
		{"onboard/publish acted", onboardFile, 1, []func() trigger{acted(1, isPublish)}},
		{"onboard/request 9 received", onboardFile, 1, []func() trigger{request(9, "received")}},
	}
}

// TestProbeKillTable kills the real binary at each row's points of the
// retail playbooks and resumes, playing the operator where a mutation's
// outcome is unknown: every mutation is acted on at most once, and the
// run ends succeeded with every store proven done.
func TestProbeKillTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	for _, kc := range killTable() {
		t.Run(kc.name, func(t *testing.T) {
			t.Parallel()
			rig := newCrashRig(t, kc.stores, sim.Options{TaskDuration: 400 * time.Millisecond})
			runArgs := []string{"run", kc.workflow, "--yes", "--output", "json"}
			if kc.workflow == onboardFile {
				runArgs = rig.onboardArgs()
			}
			approved := false
			resume := func(trig trigger, extra ...string) exitResult {
				if kc.workflow == canaryFile && !approved {
					// The gate's decision, before the resume that meets it.
					if r := rig.exec(nil, "approve", rig.lastRun(), "gate", "--by", "ann@ops"); r.code != 0 {
						t.Fatalf("approve:\n%s", r)
					}
					approved = true
				}
				return rig.resume(trig, extra...)
			}
			for i, k := range kc.kills {
				var r exitResult
				if i == 0 {
					r = rig.exec(k(), runArgs...)
				} else {
					r = resume(k())
				}
				t.Logf("attempt %d killed at %s", i+1, r.killedAt)
			}
			r := resume(nil)
			for round := 0; r.code == 1 && round < 3; round++ {
				marks := rig.operatorMarks(r)
				if len(marks) == 0 {
					t.Fatalf("the run failed without naming a mutation to decide:\n%s", r)
				}
				r = resume(nil, marks...)
			}
			if r.code != 0 {
				t.Fatalf("not finished:\n%s", r)
			}
			switch kc.workflow {
			case onboardFile:
				rig.checkOnboarded()
			case rolloutFile:
				rig.checkExactlyOnce(kc.stores)
			default:
				rig.checkAtMostOnce()
				rig.checkStoresPublishedOnce(kc.stores)
			}
		})
	}
}

// lastRun is the id of the newest run in the rig's state directory.
func (c *crashRig) lastRun() string {
	c.t.Helper()
	r := c.exec(nil, "runs", "--format", "json")
	var runs []runsEntry
	if err := json.Unmarshal([]byte(r.out), &runs); err != nil || len(runs) == 0 {
		c.t.Fatalf("runs --format json: %v\n%s", err, r)
	}
	return runs[0].ID
}

// checkStoresPublishedOnce: every store cloned once from QA and published
// once, both images QA's.
func (c *crashRig) checkStoresPublishedOnce(stores int) {
	t := c.t
	t.Helper()
	st := c.sim.Snapshot()
	qa := c.storeByName("QA")
	muts := c.acceptedMutations()
	n := 0
	for _, a := range st.Accounts {
		if !strings.HasPrefix(a.Name, "Store-") {
			continue
		}
		n++
		if got := muts["POST /v1/accounts/"+a.ID+"/pools/"+sandboxPool(st, qa.ID)+"/clone"]; got != 1 {
			t.Errorf("%s cloned %d times from QA, want once", a.Name, got)
		}
		if got := muts["POST /v1/accounts/"+a.ID+"/publish"]; got != 1 {
			t.Errorf("%s published %d times, want once", a.Name, got)
		}
		if a.SandboxImageVersion != qa.SandboxImageVersion || a.ProductionImageVersion != qa.SandboxImageVersion {
			t.Errorf("%s: sandbox %s, production %s, want %s", a.Name, a.SandboxImageVersion, a.ProductionImageVersion, qa.SandboxImageVersion)
		}
	}
	if n != stores {
		t.Errorf("%d stores, want %d", n, stores)
	}
}

// ---- answers that lie about what the server did --------------------------------

// answerFault replaces the simulator's answer to a mutation it acted on.
type answerFault func(w http.ResponseWriter, acted *httptest.ResponseRecorder)

func statusAfterActing(code int) answerFault {
	return func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"upstream failed"}`))
	}
}

func bodyAfterActing(body string) answerFault {
	return func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body))
	}
}

// resetAfterActing closes the connection with a reset, no answer at all.
func resetAfterActing(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = conn.(*net.TCPConn).SetLinger(0)
		_ = conn.Close()
	}
}

// truncatedAfterActing sends the real answer's status line and headers and
// half its body, then resets the connection: the reset comes mid-answer.
func truncatedAfterActing(w http.ResponseWriter, acted *httptest.ResponseRecorder) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	body := acted.Body.Bytes()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	_ = conn.(*net.TCPConn).SetLinger(0)
	_ = conn.Close()
}

// faultFront puts a server in front of the rig's simulator that lets the
// simulator act on the first request match accepts, then answers it with
// fault instead of the simulator's answer.
func (c *crashRig) faultFront(match func(*http.Request) bool, fault answerFault) {
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit := false
		if match(r) {
			once.Do(func() { hit = true })
		}
		if !hit {
			c.sim.ServeHTTP(w, r)
			return
		}
		acted := httptest.NewRecorder()
		c.sim.ServeHTTP(acted, r)
		if acted.Code >= 300 {
			c.t.Errorf("the faulted request was refused, so it proves nothing: %d %s", acted.Code, acted.Body)
		}
		fault(w, acted)
	}))
	c.t.Cleanup(front.Close)
	for i, kv := range c.env {
		if strings.HasPrefix(kv, "FRAME_API_URL=") {
			c.env[i] = "FRAME_API_URL=" + front.URL + "/v1"
		}
	}
}

// TestProbeAnswerLostAfterActing: the server performs the clone, publish
// or elasticity update and then answers 500/502/504, resets the
// connection (before or in the middle of its answer), or answers 200 with
// a body that names no task or is not JSON. The step must not succeed on
// that answer nor send the POST again: the run reconciles or stops for the
// operator, and in the end each store was cloned and published once.
func TestProbeAnswerLostAfterActing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	cases := []struct {
		name   string
		target func(*http.Request) bool
		fault  answerFault
	}{
		{"clone 500", isClone, statusAfterActing(500)},
		{"clone 502", isClone, statusAfterActing(502)},
		{"clone 504", isClone, statusAfterActing(504)},
		{"clone reset", isClone, resetAfterActing},
		{"clone reset mid-answer", isClone, truncatedAfterActing},
		{"clone 200 without task", isClone, bodyAfterActing(`{}`)},
		{"clone 200 not JSON", isClone, bodyAfterActing(`<html>oops`)},
		{"publish 502", isPublish, statusAfterActing(502)},
		{"publish reset mid-answer", isPublish, truncatedAfterActing},
		{"publish 200 not JSON", isPublish, bodyAfterActing(`<html>oops`)},
		{"elasticity 500", isElasticity, statusAfterActing(500)},
		{"elasticity reset mid-answer", isElasticity, truncatedAfterActing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rig := newCrashRig(t, 2, sim.Options{TaskDuration: 300 * time.Millisecond})
			rig.faultFront(tc.target, tc.fault)
			r := rig.run(nil)
			// Nothing documented proves a clone finished once its task id
			// is lost: the run stops for the operator. Publishes and
			// elasticity updates are proven by reads (their task in the
			// publish list, the values) and may finish on their own.
			if strings.HasPrefix(tc.name, "clone") && (r.code != 1 || len(undecided(r)) != 1) {
				t.Fatalf("a clone whose answer was lost must stop for one decision:\n%s", r)
			}
			if r.code != 0 {
				rig.finish(r, []string{"failed"}, 3)
			}
			rig.checkExactlyOnce(2)
		})
	}
}

// ---- runs at the same time ----------------------------------------------------

// renamedRollout is qa-rollout as another playbook: another name and
// another fan-out id, so no mutation key or run is shared with it, only
// the requests it sends.
func renamedRollout(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(rolloutFile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "name: qa-rollout", "name: store-refresh", 1)
	s = strings.Replace(s, "  - id: rollout\n", "  - id: refresh\n", 1)
	p := filepath.Join(t.TempDir(), "store-refresh.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func probeRig(t *testing.T, backend string, stores int) *pgRig {
	if backend == "local" {
		return &pgRig{crashRig: newCrashRig(t, stores, sim.Options{TaskDuration: 800 * time.Millisecond}), localDir: t.TempDir()}
	}
	return newPGRig(t, stores)
}

// Two different playbooks touching the same stores at once, on one local
// state directory and on one PostgreSQL: both succeed and each request is
// acted on once (the second adopts what the first sent).
func TestProbeTwoPlaybooksOnTheSameStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	for _, backend := range []string{"local", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			const stores = 12
			rig := probeRig(t, backend, stores)
			a := rig.start("qa-rollout", runArgs()...)
			b := rig.start("store-refresh", "run", renamedRollout(t), "--yes", "--output", "json")
			for _, p := range []*proc{a.wait(), b.wait()} {
				if p.code != 0 {
					t.Fatalf("%s", p)
				}
			}
			rig.checkAtMostOnce()
			rig.checkExactlyOnce(stores)
		})
	}
}

// A resume of a run still being driven is refused at once, naming the
// process, and sends nothing; the original finishes alone.
func TestProbeResumeWhileTheRunStillRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	for _, backend := range []string{"local", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			const stores = 4
			rig := probeRig(t, backend, stores)
			var resumed *proc
			var sentByResume int
			rig.mu.Lock()
			rig.trig = func(phase string, r *http.Request, status int) bool {
				if resumed == nil && phase == "acted" && isClone(r) && status < 300 {
					// Inside the first clone: the run waits for this
					// answer, so every request meanwhile is the resume's.
					before := len(rig.sim.Requests())
					resumed = rig.start("resume", "resume", "--last", "--yes", "--output", "json").wait()
					sentByResume = len(rig.sim.Requests()) - before
				}
				return false
			}
			rig.mu.Unlock()
			a := rig.start("run", runArgs()...)
			rig.mu.Lock()
			rig.cmd = a.cmd
			rig.mu.Unlock()
			if a.wait(); a.code != 0 {
				t.Fatalf("%s", a)
			}
			if resumed == nil || resumed.code != 1 || !strings.Contains(resumed.err.String(), "is being driven by pid") {
				t.Fatalf("the resume was not refused:\n%v", resumed)
			}
			if sentByResume != 0 {
				t.Errorf("the refused resume sent %d requests", sentByResume)
			}
			rig.checkExactlyOnce(stores)
		})
	}
}

// Two applies of one saved plan at once (local state and PostgreSQL): each
// planned request is acted on once, both succeed (the second adopts what
// the first sent); a third apply afterwards finds the plan stale and sends
// nothing.
func TestProbeTwoAppliesOfOnePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	for _, backend := range []string{"local", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			const stores = 8
			rig := probeRig(t, backend, stores)
			planFile := filepath.Join(t.TempDir(), "rollout.plan")
			if p := rig.start("plan", "plan", rolloutFile, "--out", planFile).wait(); p.code != 0 {
				t.Fatalf("%s", p)
			}
			a := rig.start("A", "apply", planFile, "--yes", "--output", "json")
			b := rig.start("B", "apply", planFile, "--yes", "--output", "json")
			for _, p := range []*proc{a.wait(), b.wait()} {
				if p.code != 0 {
					t.Fatalf("%s", p)
				}
			}
			rig.checkAtMostOnce()
			rig.checkExactlyOnce(stores)
			before := len(rig.sim.Requests())
			c := rig.start("C", "apply", planFile, "--yes", "--output", "json").wait()
			if c.code != 1 || !strings.Contains(c.err.String(), "the plan is stale; nothing was sent") {
				t.Fatalf("a third apply of the applied plan:\n%s", c)
			}
			for _, q := range rig.sim.Requests()[before:] {
				if q.Method != "GET" {
					t.Errorf("the stale apply sent %s %s", q.Method, q.Path)
				}
			}
		})
	}
}

// ---- hostile input -----------------------------------------------------------------

// A playbook calling a named pipe or /dev/zero, and an inputs file that is
// a named pipe: the real binary refuses each at once with FILE:LINE:COL or
// the file named, exit 2, and sends nothing (it hung before the fix).
func TestProbeNonRegularFilesAreRefusedAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	callFifo := write("call-fifo.yaml", "version: 1\nname: c\nsteps:\n  - id: s\n    uses: ./fifo.yaml\n")
	callZero := write("call-zero.yaml", "version: 1\nname: c\nsteps:\n  - id: s\n    uses: ./zero.yaml\n")
	list := write("list.yaml", "version: 1\nname: l\nsteps:\n  - id: s\n    uses: accounts.list\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", callFifo}, callFifo + ":5:11: "},
		{[]string{"plan", callZero}, callZero + ":5:11: "},
		{[]string{"run", callFifo, "--yes"}, "not a regular file (a named pipe)"},
		{[]string{"validate", fifo}, fifo + ":1:1: cannot read"},
		{[]string{"run", list, "--yes", "--inputs", fifo}, "--inputs " + fifo + ": not a regular file (a named pipe)"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, frameflowBinary(t), tc.args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, _ := cmd.CombinedOutput()
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if timedOut {
			t.Fatalf("frameflow %v still ran after 20 s", tc.args)
		}
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("frameflow %v: exit %d, want 2 and %q:\n%s", tc.args, cmd.ProcessState.ExitCode(), tc.want, out)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent for refused input", n)
	}
}

// A var whose expression fails when evaluated (a conversion, an
// allocation over the memory budget) is refused at its FILE:LINE:COL by
// validate, plan and run alike, exit 2, nothing sent: validate said 1:1
// and run gave no position at all.
func TestProbeFailingVarIsRefusedAtItsPosition(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	wf := writeWorkflow(t, `version: 1
name: v
inputs:
  n: {type: string, default: "a"}
vars:
  fine: ok
  bad: ${{ int(inputs.n) }}
  big: ${{ repeat("a", 2000000000) }}
steps:
  - id: s
    uses: accounts.list
    with:
      filter: name == vars.bad + vars.big
`)
	for _, args := range [][]string{{"validate", wf}, {"plan", wf}, {"run", wf, "--yes"}} {
		r := frameflow(t, env, args...)
		if r.code != 2 || !strings.Contains(r.err+r.out, wf+`:7:8: var bad: evaluating "int(inputs.n)"`) {
			t.Errorf("%s: want exit 2 and the var's position:\n%s", args[0], r)
		}
	}
	r := frameflow(t, env, "validate", wf, "--input", "n=1")
	if r.code != 2 || !strings.Contains(r.err+r.out, wf+`:8:8: var big: evaluating "repeat(\"a\", 2000000000)": memory budget exceeded`) {
		t.Errorf("validate: want the big var refused at its position:\n%s", r)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// A run killed while its capacity update's task runs, the playbook then
// changed (max_servers: inputs.max_servers + 2) and resumed with --force: the capacity step
// must not take the recorded answer to the old request (max 5) as its own
// and succeed; it is refused, naming the mutation, and nothing is sent.
// Before the fix the run exited 0 with the pool at max 5.
func TestProbeForcedResumeDoesNotReplayAnotherRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 1, sim.Options{TaskDuration: 2 * time.Second})
	src, err := os.ReadFile(rolloutFile)
	if err != nil {
		t.Fatal(err)
	}
	wf := filepath.Join(t.TempDir(), "qa-rollout.yaml")
	if err := os.WriteFile(wf, src, 0o600); err != nil {
		t.Fatal(err)
	}
	rig.exec(armedAfter(isElasticity, "acted", isTaskRead), "run", wf, "--yes", "--output", "json")
	// Inputs are journaled (a resume binds the same), so the step itself
	// is changed.
	changed := strings.Replace(string(src), "max_servers: ${{ inputs.max_servers }}", "max_servers: ${{ inputs.max_servers + 2 }}", 1)
	if changed == string(src) {
		t.Fatal("qa-rollout.yaml no longer sets max_servers from its input")
	}
	if err := os.WriteFile(wf, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(rig.acceptedMutations())
	r := rig.resume(nil, "--force")
	if r.code == 0 || !strings.Contains(r.out+r.err, "with another query or body than it has now") {
		t.Fatalf("the forced resume took the old request's answer as the new one's:\n%s", r)
	}
	if after := len(rig.acceptedMutations()); after != before {
		t.Errorf("the refused resume sent %d mutations", after-before)
	}
}

// `apply` of a saved plan that is a named pipe or a device is refused at
// once, exit 2 (it hung before the fix).
func TestProbeApplyOfANonRegularPlanIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	fifo := filepath.Join(t.TempDir(), "rollout.plan")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, plan := range []string{fifo, "/dev/zero"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, frameflowBinary(t), "apply", plan, "--yes")
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, _ := cmd.CombinedOutput()
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if timedOut {
			t.Fatalf("apply %s still ran after 20 s", plan)
		}
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "load plan "+plan+": not a regular file") {
			t.Errorf("apply %s: exit %d, want 2, not a regular file:\n%s", plan, cmd.ProcessState.ExitCode(), out)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
