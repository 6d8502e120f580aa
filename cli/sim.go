package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/spf13/cobra"
)

func (a *app) simCmd() *cobra.Command {
	var o sim.Options
	var addr, scenario string
	var stages []string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a local Frame Admin API simulator",
		Long: `Run a local stand-in for the Frame Admin API, with state, task timing and
fault injection. It verifies request signatures like Frame. Credentials come
from FRAME_CLIENT_ID / FRAME_CLIENT_SECRET when set, else sim-client / sim-secret.
GET /_sim/requests lists every request received; GET /_sim/state the estate.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSim(cmd, o, addr, scenario, stages)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	fl.StringVar(&scenario, "scenario", "", "YAML scenario seeding the organisation (default: the built-in retail estate)")
	fl.DurationVar(&o.TaskDuration, "task-duration", 0, "duration of every task (default: per kind, from the scenario)")
	fl.DurationVar(&o.Latency, "latency", 0, "latency added to every request")
	fl.Float64Var(&o.FailRate, "fail-rate", 0, "share of requests answered 503 before acting")
	fl.Float64Var(&o.ThrottleRPS, "throttle-rps", 0, "answer 429 with Retry-After above this many requests per second")
	fl.Float64Var(&o.TaskFailRate, "task-fail-rate", 0, "share of tasks that fail")
	fl.Float64Var(&o.DropRate, "drop-rate", 0, "share of mutations that act, then drop the connection without answering")
	fl.BoolVar(&o.DurationFromStart, "duration-from-start", false, "count duration_sec from each task's start (not_started -> in_progress), not its creation")
	fl.StringArrayVar(&stages, "task-stage", nil, "STAGE=NAME: report a task stage (not_started, in_progress, done, failed) by another name, e.g. failed=error, done=DONE")
	_ = time.Second
	return cmd
}

// runSim serves the simulator on addr until interrupted, after printing
// the environment a run needs to reach it.
func (a *app) runSim(cmd *cobra.Command, o sim.Options, addr, scenario string, stages []string) error {
	if err := simScenario(&o, scenario, stages); err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"--fail-rate", o.FailRate}, {"--task-fail-rate", o.TaskFailRate}, {"--drop-rate", o.DropRate}} {
		if r.v < 0 || r.v > 1 {
			return usageErr("%s must be between 0 and 1", r.name)
		}
	}
	o.Logger = a.logger
	o.ClientID = a.getenv("FRAME_CLIENT_ID")
	o.ClientSecret = a.getenv("FRAME_CLIENT_SECRET")
	running, err := sim.Start(o, addr)
	if err != nil {
		return err
	}
	defer running.Close()
	id, secret := o.ClientID, o.ClientSecret
	if id == "" {
		id = "sim-client"
	}
	if secret == "" {
		secret = "sim-secret"
	}
	// The export lines are the point of this output; a real secret
	// taken from the environment is still redacted.
	w := a.red.Writer(a.streams.Out)
	fmt.Fprintf(w, "frameflow simulator listening on %s\n\n", running.URL())
	fmt.Fprintf(w, "export FRAME_API_URL=%s\nexport FRAME_CLIENT_ID=%s\nexport FRAME_CLIENT_SECRET=%s\n\n", running.URL(), id, secret)
	fmt.Fprintf(w, "The v1alpha web API is served under %s (frameflow api get --api v1alpha finds it from FRAME_API_URL).\n", frame.V1AlphaURLFor(running.URL()))
	fmt.Fprintln(w, "Requests received: GET /_sim/requests. Stop with Ctrl-C.")
	<-cmd.Context().Done()
	return nil
}

// simScenario sets o.Scenario from the --scenario file and the
// --task-stage names.
func simScenario(o *sim.Options, scenario string, stages []string) error {
	if scenario != "" {
		b, err := os.ReadFile(scenario)
		if err != nil {
			return usageErr("--scenario: %v", err)
		}
		sc, err := sim.LoadScenario(b)
		if err != nil {
			return usageErr("--scenario %s: %v", scenario, err)
		}
		o.Scenario = sc
	}
	if len(stages) == 0 {
		return nil
	}
	if o.Scenario == nil {
		o.Scenario = sim.DefaultScenario()
	}
	if o.Scenario.TaskStages == nil {
		o.Scenario.TaskStages = map[string]string{}
	}
	for _, kv := range stages {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok || strings.TrimSpace(v) == "":
			return usageErr("--task-stage wants STAGE=NAME (e.g. failed=error), got %q", kv)
		case k != sim.StageNotStarted && k != sim.StageInProgress && k != sim.StageDone && k != sim.StageFailed:
			return usageErr("--task-stage: unknown stage %q (known: not_started, in_progress, done, failed)", k)
		}
		o.Scenario.TaskStages[k] = v
	}
	return nil
}
