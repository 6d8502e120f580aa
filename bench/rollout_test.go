package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/bench"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// frameflowBinary builds the frameflow binary once per test process.
func frameflowBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "frameflow-bench-bin-")
		if binErr == nil {
			binPath, binErr = bench.BuildBinary(binDir)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The harness measures a real run: every store gets its chain, the limit
// is derived from the chain's requests, the child's memory is read.
func TestRolloutHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the frameflow binary against a simulator")
	}
	diag := t.TempDir()
	cfg := bench.RolloutConfig{
		Accounts: 4, Latency: 5 * time.Millisecond, TaskDuration: 200 * time.Millisecond, Binary: frameflowBinary(t),
		// What --cpuprofile, --memprofile, --trace and --event-log write.
		CPUProfile: filepath.Join(diag, "cpu"), MemProfile: filepath.Join(diag, "mem"),
		Trace: filepath.Join(diag, "trace"), EventLog: filepath.Join(diag, "events"),
	}
	res, err := bench.RunRollout(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cfg.CPUProfile, cfg.CPUProfile + ".sim", cfg.MemProfile, cfg.Trace, cfg.EventLog} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("diagnostic file %s not written (%v)", filepath.Base(f), err)
		}
	}
	if ev, _ := os.ReadFile(cfg.EventLog); !strings.Contains(string(ev), `"type":"run_finished"`) {
		t.Errorf("event log lacks the run's events:\n%s", ev)
	}
	if res.CPU <= 0 || res.CPUFloor != (res.CPU+res.HarnessCPU)/time.Duration(runtime.NumCPU()) {
		t.Errorf("CPU %s, simulator %s, floor %s: the floor is their sum over %d cores", res.CPU, res.HarnessCPU, res.CPUFloor, runtime.NumCPU())
	}
	t.Logf("%+v", res)
	if res.Status != "succeeded" || res.ExitCode != 0 {
		t.Fatalf("run: status %q exit %d", res.Status, res.ExitCode)
	}
	if res.Tasks != 3*4 {
		t.Errorf("tasks polled: %d, want 3 per store", res.Tasks)
	}
	// clone, publish, elasticity: three tasks, each costing its duration.
	tasks := 0
	for _, c := range res.Chain {
		if strings.HasPrefix(c, "task ") {
			tasks++
		}
	}
	if tasks != 3 {
		t.Errorf("chain has %d tasks, want 3: %q", tasks, res.Chain)
	}
	if min := 3 * 200 * time.Millisecond; res.Limit <= min || res.Wall < res.Limit {
		t.Errorf("limit %s, wall %s: want limit above the tasks' %s and wall at least the limit", res.Limit, res.Wall, min)
	}
	if res.PeakRSS <= 0 && runtimeIsLinux() {
		t.Errorf("peak RSS not measured")
	}
	if res.PollsPerTask < 1 || res.RequestsPerAccount < 3 {
		t.Errorf("polls/task %.2f, requests/account %.2f: implausible", res.PollsPerTask, res.RequestsPerAccount)
	}
	var b strings.Builder
	if err := bench.WriteTable(&b, []bench.Summary{bench.Summarize([]*bench.RolloutResult{res})}); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
}

// BenchmarkRollout runs the rollout at a small size for CI's benchmark
// smoke (go test -run '^$' -bench Rollout -benchtime 1x ./bench); the full
// figures come from `frameflow bench` (BENCHMARKS.md). It prints the
// figures and asserts none.
func BenchmarkRollout(b *testing.B) {
	bin := frameflowBinary(b)
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			var rs []*bench.RolloutResult
			for b.Loop() {
				r, err := bench.RunRollout(context.Background(), bench.RolloutConfig{Accounts: n, Binary: bin})
				if err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			s := bench.Summarize(rs)
			b.ReportMetric(s.Wall.Seconds(), "wall-s")
			b.ReportMetric(s.Limit.Seconds(), "limit-s")
			b.ReportMetric(s.Ratio, "wall/limit")
			b.ReportMetric(s.RequestsPerAccount, "req/account")
			b.ReportMetric(s.CPU.Seconds(), "runner-cpu-s")
			b.ReportMetric(s.HarnessCPU.Seconds(), "sim-cpu-s")
			b.ReportMetric(s.PollsPerTask, "polls/task")
			b.ReportMetric(float64(s.PeakRSS)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(0, "ns/op") // one run is one rollout; wall-s says it
		})
	}
}
