package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/workflows"
	"github.com/spf13/cobra"
)

func (a *app) demoCmd() *cobra.Command {
	var taskDuration time.Duration
	var output string
	var inPage bool
	var addr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The retail rollout, end to end, against the built-in simulator",
		Long: `Starts the simulator in-process with the built-in retail estate (a QA account
and the regional store accounts), shows the plan of workflows/qa-rollout.yaml,
runs it, and shows what the simulated Frame API received.

With --serve it opens the same rollout in the web page instead (frameflow
serve on --addr, with the example playbooks): click through accounts, the
plan, "Approve and apply" and the live run. Stop with Ctrl-C.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDemo(cmd, taskDuration, output, inPage, addr)
		},
	}
	cmd.Flags().DurationVar(&taskDuration, "task-duration", 400*time.Millisecond, "how long each simulated task takes")
	cmd.Flags().StringVar(&output, "output", "text", "text or json")
	cmd.Flags().BoolVar(&inPage, "serve", false, "open the rollout in the web page (frameflow serve) instead of the terminal")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8088", "with --serve: the page's listen address")
	return cmd
}

// runDemo starts the simulator, points this app at it and runs the
// rollout in the terminal (plan, run, what the API received) or the page.
func (a *app) runDemo(cmd *cobra.Command, taskDuration time.Duration, output string, inPage bool, addr string) error {
	const file = "workflows/qa-rollout.yaml"
	src, err := workflows.FS.ReadFile("qa-rollout.yaml")
	if err != nil {
		return err
	}
	running, err := sim.Start(sim.Options{TaskDuration: taskDuration, Latency: 5 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer running.Close()
	stateDir, err := os.MkdirTemp("", "frameflow-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	a.useDemoSimulator(running.URL(), stateDir)
	w := a.red.Writer(a.streams.Out)
	fmt.Fprintf(w, "Simulator: %s (built-in retail estate, tasks take %s)\n\n", running.URL(), taskDuration)
	if inPage {
		return a.demoServe(cmd.Context(), addr, stateDir)
	}

	f := runFlags{yes: true, output: output}
	if output == "text" {
		fmt.Fprintf(w, "== Plan: %s ==\n\n", file)
		p, err := a.makePlan(cmd.Context(), file, src, f, false)
		if err != nil {
			return err
		}
		if err := renderPlan(a, w, p, "text"); err != nil {
			return err
		}
		// The demo approves for you, and says so: against a real
		// estate, run shows this plan and asks.
		fmt.Fprintf(w, "\n== Run: %s (approved by the demo: it changes only its own simulator) ==\n\n", file)
	}
	runErr := a.runWorkflow(cmd.Context(), file, src, f)
	if output == "text" {
		fmt.Fprintln(w, "\n== What the Frame API received ==")
		demoReport(w, running.Requests())
	}
	return runErr
}

// useDemoSimulator points this app at the demo's simulator whatever the
// environment says, its journal in a throwaway local directory, never a
// team's database.
func (a *app) useDemoSimulator(apiURL, stateDir string) {
	env := map[string]string{"FRAME_API_URL": apiURL, "FRAME_CLIENT_ID": "sim-client", "FRAME_CLIENT_SECRET": "sim-secret", "FRAMEFLOW_STATE_DIR": stateDir, "FRAMEFLOW_STATE": "local"}
	outer := a.streams.Getenv
	a.streams.Getenv = func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return outer(k)
	}
	a.apiURL, a.credentials, a.stateDir, a.stateFlag = "", "", "", ""
}

// demoServe serves the example playbooks against the demo's simulator.
func (a *app) demoServe(ctx context.Context, addr, stateDir string) error {
	dir := filepath.Join(stateDir, "playbooks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names, err := fs.Glob(workflows.FS, "*.yaml")
	if err != nil {
		return err
	}
	// The library playbooks the examples call (uses: ./lib/x.yaml) go
	// beside them; the page lists only the top-level files.
	libs, err := fs.Glob(workflows.FS, "lib/*.yaml")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		return err
	}
	names = append(names, libs...)
	for _, n := range names {
		b, err := workflows.FS.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return a.serve(ctx, serveFlags{addr: addr, playbooks: dir, userHeader: "X-Forwarded-User"}, func(url string) {
		fmt.Fprintf(a.red.Writer(a.streams.Out), "\nOpen %s/playbooks/qa-rollout.yaml in a browser: fill the form, look at the plan, approve it, watch the stores.\n", url)
	})
}

// demoReport counts the requests per method and endpoint shape.
func demoReport(w io.Writer, reqs []sim.RequestRecord) {
	counts := map[string]int{}
	for _, r := range reqs {
		counts[r.Method+" "+shapeOf(r.Path)+fmt.Sprintf(" -> %d", r.Status)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %5d  %s\n", counts[k], k)
	}
	fmt.Fprintf(w, "  %5d  requests in all\n", len(reqs))
}

// shapeOf replaces the IDs of a path by placeholders so that requests group
// by endpoint.
func shapeOf(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if i > 0 && (parts[i-1] == "accounts" || parts[i-1] == "pools" || parts[i-1] == "task" || (parts[i-1] == "publish" && s != "tasks")) && s != "" {
			parts[i] = ":id"
		}
	}
	return strings.Join(parts, "/")
}
