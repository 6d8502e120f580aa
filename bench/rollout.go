package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/workflows"
)

// Defaults of RolloutConfig: the figures issue 8 asks for.
const (
	DefaultLatency      = 20 * time.Millisecond
	DefaultTaskDuration = time.Second
	DefaultWorkflow     = "qa-rollout.yaml"
)

// DefaultAccounts are the estate sizes the benchmark reports.
var DefaultAccounts = []int{10, 100, 500, 2000}

// RolloutConfig describes one benchmark run.
type RolloutConfig struct {
	Accounts     int           // store accounts in the simulated estate (> 0)
	Latency      time.Duration // added by the simulator to every request; 0: DefaultLatency, <0: none
	TaskDuration time.Duration // every task's duration; 0: DefaultTaskDuration
	// Binary is the frameflow executable run as the child process.
	Binary string
	// Workflow is the playbook's source; nil: workflows/qa-rollout.yaml
	// from the embedded playbooks. Above engine.DefaultMaxTargets accounts
	// a top-level max_targets is added when the playbook has none.
	Workflow []byte
	// State is the child's state backend (FRAMEFLOW_STATE): "" or "local"
	// for a fresh state directory, a postgres:// DSN for PostgreSQL.
	State string
	// Args are extra arguments to `frameflow run` (e.g. --parallelism 500).
	Args []string
	// Timeout bounds the child; 0: 10 minutes.
	Timeout time.Duration
	// RequestLog, when set, is a file that receives the simulator's request
	// log as JSON Lines (method, path, status, arrival time, duration), to
	// see where a run spent its time.
	RequestLog string
	// Stderr receives the child's stderr (logs, errors); nil: kept, and
	// its tail quoted in the error when the run fails.
	Stderr io.Writer
	// DurationFromStart makes the simulator count duration_sec from each
	// task's start rather than its creation: a server that does not share
	// the poller's assumptions (see docs/polling.md).
	DurationFromStart bool
	// CPUProfile, when set, is a file that receives a CPU profile of the
	// child runner (through FRAMEFLOW_CPUPROFILE); CPUProfile+".sim"
	// receives one of this process during the run, which is almost all the
	// simulator: the two share the machine's cores.
	CPUProfile string
	// Trace, when set, is a file that receives an execution trace of the
	// child runner (through FRAMEFLOW_TRACE; go tool trace reads it).
	Trace string
	// MemProfile, when set, is a file that receives the child runner's
	// allocations (through FRAMEFLOW_MEMPROFILE).
	MemProfile string
	// EventLog, when set, is a file that receives the child's JSON Lines
	// events as printed (each with its time), to see where a chain waited.
	EventLog string
}

// RolloutResult is what one run measured.
type RolloutResult struct {
	Accounts int `json:"accounts"`
	// Wall is the child process's lifetime: start, validation, the whole
	// run, the journal's fsyncs, exit.
	Wall time.Duration `json:"wall_ns"`
	// RunDuration is the run as the engine reported it (run_finished).
	RunDuration time.Duration `json:"run_ns"`
	// Limit is the critical-path limit: one account's chain with every
	// request costing exactly the latency and every task exactly its
	// duration, measured from the requests that chain actually needed.
	Limit time.Duration `json:"limit_ns"`
	Ratio float64       `json:"ratio"` // Wall / Limit
	// Chain lists the requests the limit counts, in order ("task" marks a
	// task's duration, "poll" the one poll that must see it done).
	Chain              []string `json:"chain"`
	Requests           int      `json:"requests"`
	RequestsPerAccount float64  `json:"requests_per_account"`
	Tasks              int      `json:"tasks"`
	Polls              int      `json:"polls"`
	PollsPerTask       float64  `json:"polls_per_task"`
	Faults             int      `json:"faults"` // 429, 503 and drops the simulator injected
	PeakRSS            int64    `json:"peak_rss_bytes"`
	// CPU is the child's user + system CPU time: what the runner itself
	// burnt (the simulator's share is this process's).
	CPU time.Duration `json:"cpu_ns"`
	// HarnessCPU is this process's CPU time during the run: the simulator
	// serving every request, and reading the child's events. On a small
	// machine the two compete for the same cores.
	HarnessCPU time.Duration `json:"harness_cpu_ns"`
	// CPUFloor is the least wall time the runner and the simulator could
	// take on this machine's cores if their CPU time never overlapped a
	// wait: (CPU + HarnessCPU) / cores. Where it comes near the limit, the
	// limit (which counts only latency and task time) cannot be reached
	// here whatever the runner does; with the server on its own cores the
	// simulator's share would not count against the runner.
	CPUFloor time.Duration `json:"cpu_floor_ns"`
	// LoadAverage is the machine's 1-minute load average when the run
	// started (0 where unknown): other processes' share of the cores.
	LoadAverage float64 `json:"load_average"`
	ExitCode    int     `json:"exit_code"`
	Status      string  `json:"status"` // run_finished status
}

// RunRollout starts a simulator with cfg.Accounts store accounts on
// 127.0.0.1, runs the rollout in a child frameflow process against it and
// measures the run. A run that does not succeed is an error (with the
// result so far).
func RunRollout(ctx context.Context, cfg RolloutConfig) (*RolloutResult, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	src, err := cfg.source()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "frameflow-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "qa-rollout.yaml")
	if err := os.WriteFile(file, src, 0o600); err != nil {
		return nil, err
	}

	running, err := cfg.startSimulator()
	if err != nil {
		return nil, err
	}
	defer running.Close()

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cmd, stopProfile, err := cfg.command(ctx, file, dir, running.URL())
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	var errTail tailBuffer
	if cfg.Stderr != nil {
		cmd.Stderr = io.MultiWriter(cfg.Stderr, &errTail)
	} else {
		cmd.Stderr = &errTail
	}
	res, ev, werr, err := cfg.measure(cmd)
	if err != nil {
		return nil, err
	}
	reqs := running.Requests()
	analyse(res, running.Snapshot(), reqs, cfg.Latency, cfg.TaskDuration)
	if cfg.RequestLog != "" {
		if err := writeRequestLog(cfg.RequestLog, reqs); err != nil {
			return res, err
		}
	}
	if werr != nil || res.Status != "succeeded" {
		msg := strings.TrimSpace(errTail.String())
		if ev.firstFailure != "" {
			msg = ev.firstFailure + "\n" + msg
		}
		return res, fmt.Errorf("bench: rollout of %d accounts: %v (status %q): %s", cfg.Accounts, werr, res.Status, msg)
	}
	return res, nil
}

// startSimulator serves cfg.Accounts store accounts on 127.0.0.1.
func (cfg *RolloutConfig) startSimulator() (*sim.Running, error) {
	return sim.Start(sim.Options{
		Scenario:     sim.RetailScenario(cfg.Accounts),
		Latency:      cfg.Latency,
		TaskDuration: cfg.TaskDuration,

		DurationFromStart: cfg.DurationFromStart,
	}, "127.0.0.1:0")
}

// setDefaults checks cfg and fills in what was left zero.
func (cfg *RolloutConfig) setDefaults() error {
	if cfg.Accounts <= 0 {
		return fmt.Errorf("bench: accounts must be positive, got %d", cfg.Accounts)
	}
	if cfg.Binary == "" {
		return errors.New("bench: no frameflow binary to run")
	}
	// The child runs in a temporary directory: a relative path would not
	// find it there.
	if !filepath.IsAbs(cfg.Binary) && strings.ContainsRune(cfg.Binary, filepath.Separator) {
		abs, err := filepath.Abs(cfg.Binary)
		if err != nil {
			return err
		}
		cfg.Binary = abs
	}
	switch {
	case cfg.Latency == 0:
		cfg.Latency = DefaultLatency
	case cfg.Latency < 0:
		cfg.Latency = 0
	}
	if cfg.TaskDuration <= 0 {
		cfg.TaskDuration = DefaultTaskDuration
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	return nil
}

// source is the playbook to run, its fan-out sized to cfg.Accounts.
func (cfg *RolloutConfig) source() ([]byte, error) {
	src := cfg.Workflow
	if src == nil {
		var err error
		if src, err = workflows.FS.ReadFile(DefaultWorkflow); err != nil {
			return nil, err
		}
	}
	return withMaxTargets(src, cfg.Accounts), nil
}

// command is the child frameflow run of file against apiURL, with the
// profiles asked for; stop ends this process's own CPU profile.
func (cfg *RolloutConfig) command(ctx context.Context, file, dir, apiURL string) (cmd *exec.Cmd, stop func(), err error) {
	stop = func() {}
	args := append([]string{"run", file, "--yes", "--output", "json"}, cfg.Args...)
	cmd = exec.CommandContext(ctx, cfg.Binary, args...)
	cmd.Env = childEnv(apiURL, filepath.Join(dir, "state"))
	if cfg.State != "" {
		cmd.Env = append(cmd.Env, "FRAMEFLOW_STATE="+cfg.State)
	}
	if cfg.CPUProfile != "" {
		abs, err := filepath.Abs(cfg.CPUProfile)
		if err != nil {
			return nil, stop, err
		}
		cmd.Env = append(cmd.Env, "FRAMEFLOW_CPUPROFILE="+abs)
		if stop, err = profileSelf(abs + ".sim"); err != nil {
			return nil, func() {}, err
		}
	}
	for env, path := range map[string]string{"FRAMEFLOW_TRACE": cfg.Trace, "FRAMEFLOW_MEMPROFILE": cfg.MemProfile} {
		if path != "" {
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, stop, err
			}
			cmd.Env = append(cmd.Env, env+"="+abs)
		}
	}
	cmd.Dir = dir
	return cmd, stop, nil
}

// measure runs cmd to its end, reading its events, and measures it. werr
// is how the child ended; err what kept it from running.
func (cfg *RolloutConfig) measure(cmd *exec.Cmd) (res *RolloutResult, ev eventSummary, werr, err error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, ev, nil, err
	}
	load := loadAverage()
	cpu0 := selfCPU()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, ev, nil, err
	}
	var events io.Reader = stdout
	if cfg.EventLog != "" {
		f, err := os.Create(cfg.EventLog)
		if err != nil {
			return nil, ev, nil, fmt.Errorf("bench: event log: %w", err)
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<20)
		defer w.Flush()
		events = io.TeeReader(stdout, w)
	}
	ev = readEvents(events)
	werr = cmd.Wait()
	wall := time.Since(started)
	harnessCPU := selfCPU() - cpu0

	res = &RolloutResult{Accounts: cfg.Accounts, Wall: wall, RunDuration: ev.runDuration, Status: ev.status, HarnessCPU: harnessCPU, LoadAverage: load}
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		res.PeakRSS = peakRSS(ps)
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	res.CPUFloor = (res.CPU + res.HarnessCPU) / time.Duration(runtime.NumCPU())
	return res, ev, werr, nil
}

// profileSelf profiles this process's CPU into path until stop is called.
func profileSelf(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeRequestLog(path string, reqs []sim.RequestRecord) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: request log: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, q := range reqs {
		q.Body = "" // bodies are not needed for timing, and may be large
		if err := enc.Encode(q); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var (
	maxTargetsLine = regexp.MustCompile(`(?m)^max_targets:`)
	versionLine    = regexp.MustCompile(`(?m)^version:.*$`)
)

// withMaxTargets lets a playbook without its own top-level max_targets fan
// out over n accounts: the engine refuses a mutating fan-out over more than
// engine.DefaultMaxTargets items unless the workflow raises the guardrail,
// as an admin rolling out to 2,000 stores would. Nothing else changes.
func withMaxTargets(src []byte, n int) []byte {
	if n <= engine.DefaultMaxTargets || maxTargetsLine.Match(src) {
		return src
	}
	loc := versionLine.FindIndex(src)
	if loc == nil {
		return src
	}
	out := append([]byte(nil), src[:loc[1]]...)
	out = append(out, fmt.Sprintf("\nmax_targets: %d", n)...)
	return append(out, src[loc[1]:]...)
}

// childEnv is the child's whole environment: the simulator's URL and
// credentials and nothing of ours (no real API credentials leak into, or
// change, a benchmark).
func childEnv(url, stateDir string) []string {
	env := []string{
		"FRAME_API_URL=" + url,
		"FRAME_CLIENT_ID=" + sim.DefaultClientID,
		"FRAME_CLIENT_SECRET=" + sim.DefaultClientSecret,
		"FRAMEFLOW_STATE_DIR=" + stateDir,
		"NO_COLOR=1",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

type eventSummary struct {
	status       string
	runDuration  time.Duration
	firstFailure string
}

// readEvents reads the child's JSON Lines events as they come (a large
// rollout prints tens of thousands), keeping only what the result needs.
func readEvents(r io.Reader) eventSummary {
	var s eventSummary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"run_finished"`)) && !bytes.Contains(line, []byte(`"failed"`)) {
			continue
		}
		var ev struct {
			Type     string  `json:"type"`
			Step     string  `json:"step"`
			Item     string  `json:"item"`
			Status   string  `json:"status"`
			Duration float64 `json:"duration"`
			Error    string  `json:"error"`
		}
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "run_finished":
			s.status = ev.Status
			s.runDuration = time.Duration(ev.Duration * float64(time.Second))
		case ev.Type == "step_finished" && ev.Status == "failed" && s.firstFailure == "":
			s.firstFailure = fmt.Sprintf("step %s [%s] failed: %s", ev.Step, ev.Item, ev.Error)
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line too long must not block the child
	return s
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = append(t.b[:0], t.b[len(t.b)-8<<10:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// analyse fills the request figures and the critical-path limit from the
// simulator's request log.
func analyse(res *RolloutResult, st sim.State, reqs []sim.RequestRecord, latency, taskDur time.Duration) {
	res.Requests = len(reqs)
	res.RequestsPerAccount = float64(len(reqs)) / float64(res.Accounts)
	tasks := map[string]bool{}
	for _, q := range reqs {
		if q.Fault != "" {
			res.Faults++
		}
		if _, task, ok := taskPoll(q); ok {
			res.Polls++
			tasks[task] = true
		}
	}
	res.Tasks = len(tasks)
	if res.Tasks > 0 {
		res.PollsPerTask = float64(res.Polls) / float64(res.Tasks)
	}
	res.Chain, res.Limit = criticalPath(st, reqs, latency, taskDur)
	if res.Limit > 0 {
		res.Ratio = float64(res.Wall) / float64(res.Limit)
	}
}

// taskPoll recognises GET /accounts/{account}/task/{task}.
func taskPoll(q sim.RequestRecord) (account, task string, ok bool) {
	if q.Method != "GET" {
		return "", "", false
	}
	p := strings.Split(strings.Trim(strings.TrimPrefix(q.Path, "/v1"), "/"), "/")
	if len(p) == 4 && p[0] == "accounts" && p[2] == "task" {
		return p[1], p[3], true
	}
	return "", "", false
}

// storeOfRequest returns a function naming the active store account a
// request is about (its path holds the account's or one of its pools' id),
// "" for none.
func storeOfRequest(st sim.State) func(sim.RequestRecord) string {
	owner := map[string]string{} // account or pool id -> account id
	isStore := map[string]bool{}
	for _, a := range st.Accounts {
		owner[a.ID] = a.ID
		isStore[a.ID] = strings.HasPrefix(a.Name, "Store-") && a.Active
	}
	for _, p := range st.Pools {
		owner[p.ID] = p.AccountID
	}
	return func(q sim.RequestRecord) string {
		for _, seg := range strings.Split(q.Path, "/") {
			if acc, ok := owner[seg]; ok && isStore[acc] {
				return acc
			}
		}
		return ""
	}
}

// criticalPath derives the limit from the requests one store's chain
// actually needed: the shared requests before the fan-out (counted as deep
// as they were sequential: two concurrent lists cost one latency), then the
// chain's own requests that succeeded, with each task polled exactly once,
// just as it finishes. Retries and extra polls are the runner's cost, not
// the chain's, so they are left out.
func criticalPath(st sim.State, reqs []sim.RequestRecord, latency, taskDur time.Duration) ([]string, time.Duration) {
	storeOf := storeOfRequest(st)
	// The chain of the store whose first request came first: its shared
	// prerequisites are exactly the requests before it.
	first := -1
	var store string
	for i, q := range reqs {
		if s := storeOf(q); s != "" {
			first, store = i, s
			break
		}
	}
	if first < 0 {
		return nil, 0
	}
	ok := func(q sim.RequestRecord) bool { return q.Status < 400 && !q.Dropped && q.Fault == "" }

	var shared []sim.RequestRecord
	for _, q := range reqs[:first] {
		if ok(q) {
			shared = append(shared, q)
		}
	}
	var chain []string
	for _, wave := range sequentialWaves(shared) {
		chain = append(chain, strings.Join(wave, " | "))
	}
	polled := map[string]bool{}
	var n, tasks int
	for _, q := range reqs[first:] {
		if storeOf(q) != store || !ok(q) {
			continue
		}
		if _, task, isPoll := taskPoll(q); isPoll {
			if !polled[task] {
				polled[task] = true
				tasks++
				chain = append(chain, "task "+taskDur.String(), "poll "+shortPath(q.Path))
			}
			continue
		}
		n++
		chain = append(chain, q.Method+" "+shortPath(q.Path))
	}
	reqCount := len(sequentialWaves(shared)) + n + tasks
	return chain, time.Duration(reqCount)*latency + time.Duration(tasks)*taskDur
}

// sequentialWaves groups requests that overlapped in time (sent together)
// into waves; the waves ran one after another.
func sequentialWaves(rs []sim.RequestRecord) [][]string {
	type iv struct {
		start, end time.Time
		name       string
	}
	ivs := make([]iv, len(rs))
	for i, q := range rs {
		ivs[i] = iv{q.Time, q.Time.Add(time.Duration(q.DurationMS * float64(time.Millisecond))), q.Method + " " + shortPath(q.Path)}
		if q.Query != "" {
			ivs[i].name += "?" + q.Query
		}
	}
	sort.SliceStable(ivs, func(i, j int) bool { return ivs[i].start.Before(ivs[j].start) })
	var waves [][]string
	var end time.Time
	for _, v := range ivs {
		if len(waves) == 0 || !v.start.Before(end) {
			waves = append(waves, nil)
			end = v.end
		}
		waves[len(waves)-1] = append(waves[len(waves)-1], v.name)
		if v.end.After(end) {
			end = v.end
		}
	}
	return waves
}

// shortPath replaces ids in a path with their role so chains read alike.
func shortPath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/v1"), "/")
	for i, s := range segs {
		if len(s) >= 32 && strings.Count(s, "-") == 4 {
			segs[i] = ":id"
		}
	}
	return strings.Join(segs, "/")
}
