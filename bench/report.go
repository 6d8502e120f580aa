package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is the median of several runs of one estate size.
type Summary struct {
	Accounts           int           `json:"accounts"`
	State              string        `json:"state,omitempty"` // the state backend: local, postgres (no DSN)
	Runs               int           `json:"runs"`
	Wall               time.Duration `json:"wall_ns"`
	RunDuration        time.Duration `json:"run_ns"`
	Limit              time.Duration `json:"limit_ns"`
	Ratio              float64       `json:"ratio"`
	RequestsPerAccount float64       `json:"requests_per_account"`
	PollsPerTask       float64       `json:"polls_per_task"`
	PeakRSS            int64         `json:"peak_rss_bytes"`
	CPU                time.Duration `json:"cpu_ns"`         // the runner's
	HarnessCPU         time.Duration `json:"harness_cpu_ns"` // the simulator's (this process)
	CPUFloor           time.Duration `json:"cpu_floor_ns"`
	LoadAverage        float64       `json:"load_average"`
	Faults             int           `json:"faults"`
	Chain              []string      `json:"chain"` // of the median run
	Misses             []string      `json:"misses,omitempty"`
}

// Targets of issue 8, with default settings.
const (
	TargetRequestsPerAccount = 12
	TargetRSS2000            = 200 << 20
)

// TargetRatio is the most wall time may be, as a multiple of the limit, at
// an estate size; 0 when the issue sets none.
func TargetRatio(accounts int) float64 {
	switch {
	case accounts >= 2000:
		return 1.5
	case accounts >= 500:
		return 1.25
	}
	return 0
}

// Summarize takes the median of each figure over runs of one size (each
// figure on its own, so a figure is always one a run measured).
func Summarize(rs []*RolloutResult) Summary {
	if len(rs) == 0 {
		return Summary{}
	}
	s := Summary{Accounts: rs[0].Accounts, Runs: len(rs)}
	s.Wall = median(rs, func(r *RolloutResult) time.Duration { return r.Wall })
	s.RunDuration = median(rs, func(r *RolloutResult) time.Duration { return r.RunDuration })
	s.Limit = median(rs, func(r *RolloutResult) time.Duration { return r.Limit })
	s.Ratio = median(rs, func(r *RolloutResult) float64 { return r.Ratio })
	s.RequestsPerAccount = median(rs, func(r *RolloutResult) float64 { return r.RequestsPerAccount })
	s.PollsPerTask = median(rs, func(r *RolloutResult) float64 { return r.PollsPerTask })
	s.PeakRSS = median(rs, func(r *RolloutResult) int64 { return r.PeakRSS })
	s.Faults = median(rs, func(r *RolloutResult) int { return r.Faults })
	s.CPU = median(rs, func(r *RolloutResult) time.Duration { return r.CPU })
	s.HarnessCPU = median(rs, func(r *RolloutResult) time.Duration { return r.HarnessCPU })
	s.CPUFloor = median(rs, func(r *RolloutResult) time.Duration { return r.CPUFloor })
	s.LoadAverage = median(rs, func(r *RolloutResult) float64 { return r.LoadAverage })
	byWall := slices.Clone(rs)
	slices.SortFunc(byWall, func(a, b *RolloutResult) int { return int(a.Wall - b.Wall) })
	s.Chain = byWall[(len(byWall)-1)/2].Chain
	s.Misses = misses(s)
	return s
}

func median[T int | int64 | float64 | time.Duration](rs []*RolloutResult, f func(*RolloutResult) T) T {
	v := make([]T, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func misses(s Summary) []string {
	var out []string
	if t := TargetRatio(s.Accounts); t > 0 && s.Ratio > t {
		out = append(out, fmt.Sprintf("wall %.2f× limit > %.2f×", s.Ratio, t))
	}
	if s.RequestsPerAccount > TargetRequestsPerAccount {
		out = append(out, fmt.Sprintf("%.1f requests/account > %d", s.RequestsPerAccount, TargetRequestsPerAccount))
	}
	if s.Accounts >= 2000 && s.PeakRSS > TargetRSS2000 {
		out = append(out, fmt.Sprintf("peak RSS %s > %s", mib(s.PeakRSS), mib(TargetRSS2000)))
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// WriteTable prints summaries as an aligned table, one estate size a row.
func WriteTable(w io.Writer, ss []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	states := false
	for _, s := range ss {
		states = states || s.State != ""
	}
	head := "accounts\truns\twall\tlimit\twall/limit\treq/account\tpolls/task\tpeak RSS\trunner CPU\tsim CPU\tCPU floor\tload\ttargets\t"
	if states {
		head = "state\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, s := range ss {
		verdict := "met"
		if len(s.Misses) > 0 {
			verdict = "MISSED: " + strings.Join(s.Misses, "; ")
		}
		if states {
			fmt.Fprintf(tw, "%s\t", s.State)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.2f×\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%.1f\t%s\t\n",
			s.Accounts, s.Runs, s.Wall.Round(10*time.Millisecond), s.Limit.Round(10*time.Millisecond),
			s.Ratio, s.RequestsPerAccount, s.PollsPerTask, mib(s.PeakRSS),
			s.CPU.Round(10*time.Millisecond), s.HarnessCPU.Round(10*time.Millisecond), s.CPUFloor.Round(10*time.Millisecond), s.LoadAverage, verdict)
	}
	return tw.Flush()
}

// BuildBinary compiles frameflow (the module's main package) into dir and
// returns the executable's path; for tests and benchmarks, which run inside
// the module.
func BuildBinary(dir string) (string, error) {
	out := filepath.Join(dir, "frameflow")
	cmd := exec.Command("go", "build", "-o", out, "github.com/frameflow/frameflow")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: go build frameflow: %w", err)
	}
	return out, nil
}
