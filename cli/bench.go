package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/frameflow/frameflow/bench"
	"github.com/frameflow/frameflow/state"
	"github.com/spf13/cobra"
)

// benchCmd measures the rollout against the simulator (issue 8): for each
// estate size it runs workflows/qa-rollout.yaml in a child frameflow
// process --runs times and prints the medians.
func (a *app) benchCmd() *cobra.Command {
	var o benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark the rollout against the in-process simulator",
		Long: `Runs workflows/qa-rollout.yaml against a simulator started in this process
(on 127.0.0.1, with the given latency per request and duration per task) for
each estate size, in a child frameflow process so that its peak memory is the
runner's own, and prints the median of --runs runs: wall time next to the
critical-path limit (one store's chain with every request costing exactly
the latency and every task exactly its duration), requests per account,
polls per task and peak RSS, with the targets of BENCHMARKS.md.

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runBench(cmd, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.accounts, "accounts", "10,100,500,2000", "comma-separated estate sizes (store accounts)")
	fl.DurationVar(&o.latency, "latency", bench.DefaultLatency, "latency the simulator adds to every request")
	fl.DurationVar(&o.taskDuration, "task-duration", bench.DefaultTaskDuration, "duration of every simulated task")
	fl.IntVar(&o.runs, "runs", 3, "runs per estate size; the table shows medians")
	fl.StringVar(&o.binary, "binary", "", "frameflow binary to run as the child (default: this one)")
	fl.StringVar(&o.workflow, "workflow", "", "playbook to run instead of the embedded workflows/qa-rollout.yaml (to try a change)")
	fl.IntVar(&o.parallelism, "parallelism", 0, "passed to the child's run --parallelism")
	fl.StringVar(&o.format, "format", "text", "text or json")
	fl.StringVar(&o.requestLog, "request-log", "", "write the simulator's request log of the last run to FILE (JSON Lines)")
	fl.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each run's child runner to FILE (the last run's stays) and of the simulator to FILE.sim")
	fl.StringVar(&o.traceFile, "trace", "", "write an execution trace of each run's child runner to FILE (the last run's stays; go tool trace FILE)")
	fl.StringVar(&o.eventLog, "event-log", "", "write the child's JSON Lines events of the last run to FILE")
	fl.StringVar(&o.memProfile, "memprofile", "", "write the allocations of each run's child runner to FILE (the last run's stays)")
	fl.DurationVar(&o.timeout, "timeout", 10*time.Minute, "longest one run may take")
	fl.StringVar(&o.states, "states", "local", "comma-separated state backends the child runs with: local and/or postgres://... DSNs (each size runs on each, alternating)")
	fl.BoolVar(&o.durationFromStart, "duration-from-start", false, "the simulator counts duration_sec from each task's start, not its creation (a server that does not share the poller's assumptions)")
	return cmd
}

// benchFlags are bench's options.
type benchFlags struct {
	accounts          string
	latency           time.Duration
	taskDuration      time.Duration
	runs              int
	binary            string
	workflow          string
	parallelism       int
	format            string
	timeout           time.Duration
	requestLog        string
	cpuProfile        string
	traceFile         string
	eventLog          string
	memProfile        string
	states            string
	durationFromStart bool
}

// runBench checks the options, runs every size on every backend and
// prints the medians.
func (a *app) runBench(cmd *cobra.Command, o benchFlags) error {
	sizes, err := parseSizes(o.accounts)
	if err != nil {
		return err
	}
	if o.runs < 1 {
		return usageErr("--runs must be at least 1")
	}
	if o.latency < 0 || o.taskDuration <= 0 {
		return usageErr("--latency must not be negative and --task-duration must be positive")
	}
	if o.format != "text" && o.format != "json" {
		return usageErr("--format must be text or json, not %q", o.format)
	}
	cfg, err := o.rolloutConfig()
	if err != nil {
		return err
	}
	specs := strings.Split(o.states, ",")
	for _, sp := range specs {
		if sp != "local" && !state.IsPostgres(sp) {
			return usageErr("--states: %q is neither local nor a postgres:// DSN", state.RedactDSN(sp))
		}
		a.red.Add(state.DSNPassword(sp))
	}
	var sums []bench.Summary
	for _, n := range sizes {
		s, err := a.benchSize(cmd, cfg, n, specs, o.runs)
		if err != nil {
			return err
		}
		sums = append(sums, s...)
	}
	return a.writeBenchSummaries(sums, o)
}

// rolloutConfig is the child run's configuration from o.
func (o benchFlags) rolloutConfig() (bench.RolloutConfig, error) {
	binary := o.binary
	if binary == "" {
		var err error
		if binary, err = os.Executable(); err != nil {
			return bench.RolloutConfig{}, fmt.Errorf("cannot find this frameflow binary to run as the child (pass --binary): %w", err)
		}
	}
	cfg := bench.RolloutConfig{Latency: o.latency, TaskDuration: o.taskDuration, Binary: binary, Timeout: o.timeout, RequestLog: o.requestLog, CPUProfile: o.cpuProfile, Trace: o.traceFile, EventLog: o.eventLog, MemProfile: o.memProfile, DurationFromStart: o.durationFromStart}
	if o.latency == 0 {
		cfg.Latency = -1 // zero means none here, not the default
	}
	if o.workflow != "" {
		var err error
		if cfg.Workflow, err = os.ReadFile(o.workflow); err != nil {
			return cfg, withCode(ExitInvalid, fmt.Errorf("--workflow: %w", err))
		}
	}
	if o.parallelism > 0 {
		cfg.Args = []string{"--parallelism", strconv.Itoa(o.parallelism)}
	}
	return cfg, nil
}

// benchSize runs n accounts runs times on each backend of specs and
// summarizes each backend's runs.
func (a *app) benchSize(cmd *cobra.Command, cfg bench.RolloutConfig, n int, specs []string, runs int) ([]bench.Summary, error) {
	errw := a.red.Writer(a.streams.Err)
	// Backends alternate run by run, so that a noisy minute on
	// a shared machine weighs on each alike.
	rs := make([][]*bench.RolloutResult, len(specs))
	for i := 1; i <= runs; i++ {
		for j, sp := range specs {
			cfg.Accounts, cfg.State = n, sp
			r, err := bench.RunRollout(cmd.Context(), cfg)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(errw, "%d accounts, %s state, run %d/%d: wall %s (run %s), limit %s (%.2f×), %.2f requests/account, %.2f polls/task, peak RSS %.0f MiB, CPU %s (simulator %s, floor %s), load %.1f\n",
				n, stateName(sp), i, runs, r.Wall.Round(time.Millisecond), r.RunDuration.Round(time.Millisecond), r.Limit.Round(time.Millisecond), r.Ratio, r.RequestsPerAccount, r.PollsPerTask, float64(r.PeakRSS)/(1<<20), r.CPU.Round(time.Millisecond), r.HarnessCPU.Round(time.Millisecond), r.CPUFloor.Round(time.Millisecond), r.LoadAverage)
			rs[j] = append(rs[j], r)
		}
	}
	var sums []bench.Summary
	for j, sp := range specs {
		sum := bench.Summarize(rs[j])
		if len(specs) > 1 || sp != "local" {
			sum.State = stateName(sp)
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

// writeBenchSummaries prints the medians as JSON or as the table with the
// last size's critical path.
func (a *app) writeBenchSummaries(sums []bench.Summary, o benchFlags) error {
	out := a.red.Writer(a.streams.Out)
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	}
	if err := bench.WriteTable(out, sums); err != nil {
		return err
	}
	if len(sums) > 0 {
		fmt.Fprintf(out, "\nlatency %s per request, tasks %s; medians of %d run(s). Critical path of one store (%d accounts):\n  %s\n",
			o.latency, o.taskDuration, o.runs, sums[len(sums)-1].Accounts, strings.Join(sums[len(sums)-1].Chain, " → "))
	}
	return nil
}

// stateName names a backend in the table without its address.
func stateName(spec string) string {
	if state.IsPostgres(spec) {
		return "postgres"
	}
	return "local"
}

// parseSizes reads --accounts: positive integers, at most 100,000 (the
// simulator holds the whole estate in memory).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 100_000 {
			return nil, usageErr("--accounts: %q is not a number of accounts between 1 and 100000", f)
		}
		out = append(out, n)
	}
	return out, nil
}
