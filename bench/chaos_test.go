package bench_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/workflows"
)

// The chaos suite of issue 8: the rollout against a simulator that answers
// 10% of requests 503, throttles at 20 requests per second, drops 5% of
// connections after acting and fails 5% of tasks. The run (resumed where it
// stops, as an admin would) completes every store that can complete,
// reports the others exactly, and the simulator's log shows no store cloned
// or published twice unless a task failed and the rollout asked again.

// chaosSeeds are fixed for CI; FRAMEFLOW_CHAOS_SEEDS=1,2,3,... tries others.
var chaosSeeds = []int64{7, 20261124}

const (
	chaosStores = 16
	// chaosAttempts bounds run + resumes: with 5% of tasks failing, a store
	// whose task failed three times in a row is the suite's "cannot
	// complete" and must be reported, not retried forever.
	chaosAttempts = 4
)

func TestChaosRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite: about a minute")
	}
	seeds := chaosSeeds
	if s := os.Getenv("FRAMEFLOW_CHAOS_SEEDS"); s != "" {
		seeds = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				t.Fatalf("FRAMEFLOW_CHAOS_SEEDS: %v", err)
			}
			seeds = append(seeds, n)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			chaos(t, seed)
		})
	}
}

// cliRun is one frameflow invocation in this process.
type cliRun struct {
	args     []string
	code     int
	out, err string
}

func (r cliRun) String() string {
	return fmt.Sprintf("frameflow %s: exit %d\n--- stdout (tail)\n%s\n--- stderr\n%s", strings.Join(r.args, " "), r.code, tail(r.out, 4000), r.err)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func frameflow(env map[string]string, args ...string) cliRun {
	var out, errb bytes.Buffer
	code := cli.Main(args, cli.Streams{
		In:  strings.NewReader(""),
		Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return cliRun{args: args, code: code, out: out.String(), err: errb.String()}
}

// event is the part of a JSON Lines event the suite reads.
type event struct {
	Type   string `json:"type"`
	Step   string `json:"step"`
	Item   string `json:"item"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

func events(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if !bytes.HasPrefix(bytes.TrimSpace(sc.Bytes()), []byte("{")) {
			// resume prints "Resuming run ..." on stdout even with
			// --output json (reported); only events are read here.
			continue
		}
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("--output json printed a line that is not JSON: %q", sc.Text())
		}
		evs = append(evs, ev)
	}
	return evs
}

// The issue-11 variant: many dropped answers combined with many failed
// tasks (the combination that once published a store's old image after a
// clone whose answer was lost failed, and exited 0). Every store's final
// images are checked, not only the request counts.
var dropFailSeeds = []int64{3, 11, 4242}

func TestChaosDroppedAnswersWithFailedTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite")
	}
	seeds := dropFailSeeds
	if s := os.Getenv("FRAMEFLOW_CHAOS_SEEDS"); s != "" {
		seeds = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				t.Fatalf("FRAMEFLOW_CHAOS_SEEDS: %v", err)
			}
			seeds = append(seeds, n)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			chaos(t, seed, chaosConfig{stores: 8, attempts: 6, opts: sim.Options{
				TaskDuration: 200 * time.Millisecond,
				Latency:      2 * time.Millisecond,
				FailRate:     0.05,
				DropRate:     0.35,
				TaskFailRate: 0.35,
			}})
		})
	}
}

type chaosConfig struct {
	stores, attempts int
	opts             sim.Options // Scenario and Seed are set by chaos
}

func chaos(t *testing.T, seed int64, cfgs ...chaosConfig) {
	cfg := chaosConfig{stores: chaosStores, attempts: chaosAttempts, opts: sim.Options{
		TaskDuration: 300 * time.Millisecond,
		Latency:      2 * time.Millisecond,
		FailRate:     0.10,
		ThrottleRPS:  20,
		DropRate:     0.05,
		TaskFailRate: 0.05,
	}}
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	o := cfg.opts
	o.Scenario, o.Seed = sim.RetailScenario(cfg.stores), seed
	s, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "qa-rollout.yaml")
	src, err := workflows.FS.ReadFile("qa-rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, src, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FRAME_API_URL":       s.URL(),
		"FRAME_CLIENT_ID":     sim.DefaultClientID,
		"FRAME_CLIENT_SECRET": sim.DefaultClientSecret,
		"FRAMEFLOW_STATE_DIR": filepath.Join(dir, "state"),
	}

	// Run, then resume while the run fails, as an admin would, a bounded
	// number of times. A mutation whose outcome is unknown stops its store
	// and the run names it; the admin looks at the account (here: the
	// simulator's state) and marks it sent when its task ended done,
	// not-sent otherwise.
	var runs []cliRun
	decided := 0 // mutations the admin had to mark
	r := frameflow(env, "run", file, "--yes", "--output", "json")
	runs = append(runs, r)
	for attempt := 2; r.code != 0 && attempt <= cfg.attempts; attempt++ {
		if r.code != 1 {
			t.Fatalf("attempt %d stopped with exit %d, not a step failure:\n%s", attempt-1, r.code, r)
		}
		unknown, _ := unresolved(t, r.out)
		marks := adminMarks(t, s, r.err)
		if len(marks)/2 < len(unknown) {
			t.Errorf("attempt %d: %d steps failed with an unknown outcome, but the run names only %d mutations to decide:\n%s", attempt-1, len(unknown), len(marks)/2, r.err)
		}
		decided += len(marks) / 2
		r = frameflow(env, append([]string{"resume", "--last", "--yes", "--output", "json"}, marks...)...)
		runs = append(runs, r)
	}
	for i, r := range runs {
		t.Logf("attempt %d: exit %d", i+1, r.code)
		if strings.Contains(r.out+r.err, sim.DefaultClientSecret) {
			t.Errorf("attempt %d printed the client secret", i+1)
		}
	}
	last := runs[len(runs)-1]

	st := s.Snapshot()
	reqs := s.Requests()
	w := newWorld(st)
	if len(w.stores) != cfg.stores || w.qaSandbox == "" {
		t.Fatalf("scenario: %d stores, QA sandbox %q", len(w.stores), w.qaSandbox)
	}
	faults := map[string]int{}
	for _, q := range reqs {
		if q.Fault != "" {
			faults[q.Fault]++
		}
	}
	t.Logf("seed %d: %d requests, faults %v, %d tasks failed", seed, len(reqs), faults, w.failedTasks())

	// What the final attempt reports as failed, per store name.
	reported := map[string][]string{}
	for _, ev := range events(t, last.out) {
		if ev.Type == "step_finished" && ev.Status == "failed" && ev.Item != "" {
			reported[ev.Item] = append(reported[ev.Item], ev.Step+": "+ev.Error)
		}
	}
	if last.code == 0 && len(reported) > 0 {
		t.Errorf("exit 0 but failures reported: %v", reported)
	}
	if last.code != 0 && len(reported) == 0 {
		t.Fatalf("run failed without naming a store:\n%s", last)
	}
	// Whatever happened: a publish only ever follows a clone of that
	// store whose task ended done, so what it published is the QA image;
	// and a run that exits 0 leaves every store with the QA image in its
	// sandbox and in production.
	for id, name := range w.stores {
		w.checkPublishFollowsDoneClone(t, name, id, reqs)
		acc := w.account(id)
		if last.code == 0 && (acc.SandboxImageVersion != w.qaImage || acc.ProductionImageVersion != w.qaImage) {
			t.Errorf("exit 0, but %s holds sandbox %s, production %s (want %s)", name, acc.SandboxImageVersion, acc.ProductionImageVersion, w.qaImage)
		}
		if acc.LastPublish != nil && acc.ProductionImageVersion != w.qaImage {
			t.Errorf("%s was published with image %s, not the QA image %s", name, acc.ProductionImageVersion, w.qaImage)
		}
	}

	acted := w.mutations(reqs)
	for id, name := range w.stores {
		a := acted[id]
		// No store cloned or published twice, unless the earlier one's
		// task failed before the repeat was sent.
		w.checkRepeats(t, name, id, "clone", sim.KindClone, a.clone)
		w.checkRepeats(t, name, id, "publish", sim.KindPublish, a.publish)

		if msgs, failed := reported[name]; failed {
			// Reported exactly: the failed step names this store and why,
			// and the simulator agrees: either the store's last task
			// failed, or a mutation of this store acted and its answer was
			// dropped, which no read can prove (the clone) and resume must
			// not repeat.
			for _, m := range msgs {
				switch {
				case strings.Contains(m, unknownOutcome):
					path := mutationPath(m)
					if !strings.Contains(path, id) && !w.ownsPool(id, path) {
						t.Errorf("%s: unknown outcome reported for another resource: %s", name, m)
					}
					if !actedAny(reqs, []string{path}) {
						t.Errorf("%s: reported as possibly sent, but the simulator never acted on %s: %s", name, path, m)
					}
				case strings.Contains(m, answersLost):
					// Sent twice, both answers dropped, neither shown
					// (its task failed, or is still running): the
					// simulator must have dropped two of them.
					path := mutationPath(m)
					if !strings.Contains(path, id) && !w.ownsPool(id, path) {
						t.Errorf("%s: lost answers reported for another resource: %s", name, m)
					}
					if n := droppedOn(reqs, path); n < 2 {
						t.Errorf("%s: reported as sent twice with both answers lost, but the simulator dropped %d answers of %s: %s", name, n, path, m)
					}
				case taskFailed.MatchString(m):
					if !w.lastTaskFailed(id) {
						t.Errorf("%s reported failed (%s) but its last task did not fail", name, m)
					}
				default:
					t.Errorf("%s reported failed for a reason the faults do not explain: %s", name, m)
				}
			}
			continue
		}
		acc := w.account(id)
		if acc.LastPublish == nil || acc.ProductionImageVersion != w.qaImage || acc.SandboxImageVersion != w.qaImage {
			t.Errorf("%s not completed: sandbox %s, production %s, published %v (want %s)", name, acc.SandboxImageVersion, acc.ProductionImageVersion, acc.LastPublish != nil, w.qaImage)
		}
		if e, ok := w.prodElasticity(id); !ok || e != (sim.ElasticitySpec{MinServers: 1, BufferServers: 1, MaxServers: 5}) {
			t.Errorf("%s not completed: production elasticity %+v", name, e)
		}
		if len(a.clone) == 0 || len(a.publish) == 0 {
			t.Errorf("%s completed without its own clone (%d) and publish (%d)", name, len(a.clone), len(a.publish))
		}
	}
	t.Logf("seed %d: %d of %d stores completed; reported: %d after %d attempt(s); %d mutation(s) decided by the admin", seed, len(w.stores)-len(reported), len(w.stores), len(reported), len(runs), decided)
	for name := range reported {
		if _, ok := w.storeID[name]; !ok {
			t.Errorf("failure reported for %q, not a store", name)
		}
	}
	for id := range acted {
		if _, ok := w.stores[id]; !ok {
			t.Errorf("account %s is not a store but was changed", id)
		}
	}
	if t.Failed() {
		for i, r := range runs {
			t.Logf("attempt %d:\n%s", i+1, r)
		}
	}
}

// taskFailed matches frame.TaskFailedError's text: the reason first, then
// `(task "display name" ID failed)`.
var taskFailed = regexp.MustCompile(`\(task( "[^"]*")?( [^ )]+)? failed\)`)

// unknownOutcome is how a failed step says its mutation's outcome is
// unknown (maybe sent, or sent and not proven finished).
const unknownOutcome = "outcome_unknown"

// answersLost is how a failed step says its mutation was sent twice in one
// attempt, both answers were lost, and reads proved neither took effect.
const answersLost = "answers_lost"

// droppedOn counts the POSTs to path the simulator acted on and then
// dropped the connection of.
func droppedOn(reqs []sim.RequestRecord, path string) int {
	n := 0
	for _, q := range reqs {
		if q.Method == "POST" && q.Dropped && path != "" && strings.TrimPrefix(q.Path, "/v1") == path {
			n++
		}
	}
	return n
}

// unresolved splits the failed steps of an attempt's events into the
// mutations whose outcome is unknown (their paths) and any other failure.
func unresolved(t *testing.T, out string) (unknown []string, other int) {
	for _, ev := range events(t, out) {
		if ev.Type != "step_finished" || ev.Status != "failed" || ev.Item == "" {
			continue
		}
		if strings.Contains(ev.Error, unknownOutcome) {
			unknown = append(unknown, mutationPath(ev.Error))
		} else {
			other++
		}
	}
	return unknown, other
}

// mutationPath finds "(POST /accounts/.../clone)" in an unknown-outcome
// message.
func mutationPath(msg string) string {
	i := strings.Index(msg, "(POST ")
	if i < 0 {
		return ""
	}
	rest := msg[i+len("(POST "):]
	if j := strings.IndexAny(rest, ") "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// actedAny reports whether the simulator acted on a POST to any of paths
// (answered it, or acted and dropped the answer).
func actedAny(reqs []sim.RequestRecord, paths []string) bool {
	for _, q := range reqs {
		if q.Method != "POST" || q.Status >= 300 || q.Fault == "fail" || q.Fault == "throttle" {
			continue
		}
		for _, p := range paths {
			if p != "" && strings.TrimPrefix(q.Path, "/v1") == p {
				return true
			}
		}
	}
	return false
}

// world indexes a simulator snapshot.
type world struct {
	st        sim.State
	stores    map[string]string // id -> name
	storeID   map[string]string // name -> id
	qaSandbox string
	qaImage   string
	poolOwner map[string]string // pool id -> account id
	prodPools map[string]bool
	tasks     map[string][]sim.TaskState // account id -> tasks in creation order
}

func newWorld(st sim.State) *world {
	w := &world{st: st, stores: map[string]string{}, storeID: map[string]string{}, poolOwner: map[string]string{}, prodPools: map[string]bool{}, tasks: map[string][]sim.TaskState{}}
	var qa string
	for _, a := range st.Accounts {
		if a.Name == "QA" {
			qa, w.qaImage = a.ID, a.SandboxImageVersion
		}
		if strings.HasPrefix(a.Name, "Store-") && a.Active {
			w.stores[a.ID] = a.Name
			w.storeID[a.Name] = a.ID
		}
	}
	for _, p := range st.Pools {
		w.poolOwner[p.ID] = p.AccountID
		if p.Kind == "production" {
			w.prodPools[p.ID] = true
		}
		if p.AccountID == qa && p.Kind == "sandbox" {
			w.qaSandbox = p.ID
		}
	}
	for _, tk := range st.Tasks {
		w.tasks[tk.AccountID] = append(w.tasks[tk.AccountID], tk)
	}
	for _, ts := range w.tasks {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].InsertedAt < ts[j].InsertedAt })
	}
	return w
}

func (w *world) account(id string) sim.AccountState {
	for _, a := range w.st.Accounts {
		if a.ID == id {
			return a
		}
	}
	return sim.AccountState{}
}

func (w *world) prodElasticity(account string) (sim.ElasticitySpec, bool) {
	for _, p := range w.st.Pools {
		if p.AccountID == account && p.Kind == "production" {
			return p.Elasticity, true
		}
	}
	return sim.ElasticitySpec{}, false
}

func (w *world) ownsPool(account, path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if w.poolOwner[seg] == account {
			return true
		}
	}
	return false
}

func (w *world) failedTasks() int {
	n := 0
	for _, ts := range w.tasks {
		for _, tk := range ts {
			if tk.Stage == "failed" {
				n++
			}
		}
	}
	return n
}

func (w *world) lastTaskFailed(account string) bool {
	ts := w.tasks[account]
	return len(ts) > 0 && ts[len(ts)-1].Stage == "failed"
}

// actedMutations are the requests that changed a store: answered with
// success, or acted on and then dropped (the simulator acts before it
// drops; a 503 or 429 never acted).
type actedMutations struct {
	clone, publish, elasticity []sim.RequestRecord
}

func (w *world) mutations(reqs []sim.RequestRecord) map[string]*actedMutations {
	out := map[string]*actedMutations{}
	get := func(id string) *actedMutations {
		if out[id] == nil {
			out[id] = &actedMutations{}
		}
		return out[id]
	}
	for _, q := range reqs {
		if q.Method == "GET" || q.Status >= 300 || q.Fault == "fail" || q.Fault == "throttle" {
			continue
		}
		p := strings.Split(strings.Trim(strings.TrimPrefix(q.Path, "/v1"), "/"), "/")
		switch {
		case len(p) == 5 && p[0] == "accounts" && p[2] == "pools" && p[4] == "clone":
			get(p[1]).clone = append(get(p[1]).clone, q)
		case len(p) == 3 && p[0] == "accounts" && p[2] == "publish":
			get(p[1]).publish = append(get(p[1]).publish, q)
		case len(p) == 3 && p[0] == "pools" && p[2] == "elasticity_settings":
			get(w.poolOwner[p[1]]).elasticity = append(get(w.poolOwner[p[1]]).elasticity, q)
		}
	}
	return out
}

// checkRepeats: each repeat of a mutation must follow a failed task of its
// kind on that store, created by the earlier mutation (at or after it) and
// failed before the repeat was sent.
func (w *world) checkRepeats(t *testing.T, name, account, what, kind string, acted []sim.RequestRecord) {
	t.Helper()
	for i := 1; i < len(acted); i++ {
		prev, next := acted[i-1], acted[i]
		justified := false
		for _, tk := range w.tasks[account] {
			if tk.Kind != kind || tk.Stage != "failed" {
				continue
			}
			ins, err1 := time.Parse(time.RFC3339Nano, tk.InsertedAt)
			fin, err2 := time.Parse(time.RFC3339Nano, tk.FinishedAt)
			if err1 == nil && err2 == nil && !ins.Before(prev.Time.Truncate(time.Second)) && !fin.After(next.Time) {
				justified = true
				break
			}
		}
		if !justified {
			t.Errorf("%s: %s sent twice (seq %d at %s, seq %d at %s) without a failed %s task in between",
				name, what, prev.Seq, prev.Time.Format(time.StampMilli), next.Seq, next.Time.Format(time.StampMilli), kind)
		}
	}
}

// checkPublishFollowsDoneClone: every publish the simulator accepted
// follows a clone of the same store whose task ended done before the
// publish was sent. Without it, the store's old sandbox image would be
// published (a clone still running, failed, or never made).
func (w *world) checkPublishFollowsDoneClone(t *testing.T, name, account string, reqs []sim.RequestRecord) {
	t.Helper()
	for _, q := range reqs {
		if q.Method != "POST" || q.Status >= 300 || q.Fault == "fail" || q.Fault == "throttle" || strings.TrimPrefix(q.Path, "/v1") != "/accounts/"+account+"/publish" {
			continue
		}
		var latest *sim.TaskState
		for i, tk := range w.tasks[account] {
			ins, err := time.Parse(time.RFC3339Nano, tk.InsertedAt)
			if tk.Kind == sim.KindClone && err == nil && ins.Before(q.Time) {
				latest = &w.tasks[account][i]
			}
		}
		switch {
		case latest == nil:
			t.Errorf("%s published (seq %d) without a clone before it", name, q.Seq)
		case latest.Stage != "done":
			t.Errorf("%s published (seq %d) after a clone whose task ended %s", name, q.Seq, latest.Stage)
		default:
			if fin, err := time.Parse(time.RFC3339Nano, latest.FinishedAt); err != nil || fin.After(q.Time) {
				t.Errorf("%s published (seq %d) while its clone still ran", name, q.Seq)
			}
		}
	}
}

// undecidedLine matches one mutation of a failed run's report:
// "  KEY (label) METHOD PATH: state".
var undecidedLine = regexp.MustCompile(`(?m)^  (\S+#\d+)(?: \([^)]*\))? (POST|PUT|PATCH|DELETE) (\S+): `)

// adminMarks plays the admin on a failed run's report: for each mutation
// it names, wait for the target's running task of that kind to end, then
// mark it sent if the newest one ended done, not-sent otherwise.
func adminMarks(t *testing.T, s *sim.Running, stderr string) []string {
	t.Helper()
	var marks []string
	for _, m := range undecidedLine.FindAllStringSubmatch(stderr, -1) {
		key, path := m[1], m[3]
		p := strings.Split(strings.Trim(path, "/"), "/")
		var kind, account, pool string
		switch {
		case len(p) == 5 && p[4] == "clone":
			kind, account = sim.KindClone, p[1]
		case len(p) == 3 && p[2] == "publish":
			kind, account = sim.KindPublish, p[1]
		case len(p) == 3 && p[0] == "pools":
			kind, pool = sim.KindElasticity, p[1]
		default:
			t.Fatalf("the admin does not know how to check %s", path)
		}
		decision := "not-sent"
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var newest *sim.TaskState
			running := false
			st := s.Snapshot()
			for i, tk := range st.Tasks {
				if tk.Kind == kind && (account == "" || tk.AccountID == account) && (pool == "" || tk.PoolID == pool) {
					running = running || tk.FinishedAt == ""
					if newest == nil || tk.InsertedAt >= newest.InsertedAt {
						newest = &st.Tasks[i]
					}
				}
			}
			if !running {
				if newest != nil && newest.Stage == "done" {
					decision = "sent"
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a %s task on %s still runs after 30 s", kind, path)
			}
		}
		marks = append(marks, "--mark", key+"="+decision)
	}
	return marks
}
