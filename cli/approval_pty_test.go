//go:build linux || darwin || freebsd

package cli_test

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// TestRunAsksInATerminal runs the real binary in a pseudo-terminal against
// the simulator: `run` of a non-destructive playbook shows the grouped plan
// and asks before the first change; "no" sends nothing, "yes" sends exactly
// the planned changes.
func TestRunAsksInATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := frameflowBinary(t)
	playbook, err := filepath.Abs("../workflows/capacity-schedule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []string{"no", "yes"} {
		t.Run(answer, func(t *testing.T) {
			s, err := sim.Start(sim.Options{Scenario: sim.RetailScenario(3), TaskDuration: 50 * time.Millisecond}, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			screen, code := runAnswering(t, bin, answer, []string{"run", playbook, "--input", "profile=day"},
				"FRAME_API_URL="+s.URL(), "FRAME_CLIENT_ID=sim-client", "FRAME_CLIENT_SECRET=sim-secret")
			for _, want := range []string{"~ update  scale.capacity (elasticity.set) × 3", "change:   min 0 → 2, buffer 0 → 2, max 1 → 10",
				"Approval required for 3 changes.", "Do you want to perform these actions?"} {
				if !strings.Contains(screen, want) {
					t.Errorf("the terminal did not show %q:\n%s", want, screen)
				}
			}
			var posts int
			for _, q := range s.Requests() {
				if q.Method != "GET" {
					posts++
				}
			}
			switch answer {
			case "no":
				if code != cli.ExitFailed || posts != 0 || !strings.Contains(screen, "not approved; nothing was sent") {
					t.Errorf("answered no: exit %d, %d mutations sent\n%s", code, posts, screen)
				}
			case "yes":
				if code != 0 || posts != 3 {
					t.Errorf("answered yes: exit %d, %d mutations sent (want 3)\n%s", code, posts, screen)
				}
			}
		})
	}
}

// runAnswering runs bin in a 120x40 pseudo-terminal, types answer once the
// approval prompt is shown, and returns the screen text and exit code.
func runAnswering(t *testing.T, bin, answer string, args []string, env ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = demoEnv(append(env, "FRAMEFLOW_STATE_DIR="+t.TempDir())...)
	cmd.Dir = t.TempDir()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start in a pty: %v", err)
	}
	defer ptmx.Close()
	var out syncBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&out, ptmx)
	}()
	for !strings.Contains(out.String(), "Only 'yes' will be accepted") {
		select {
		case <-copied:
			t.Fatalf("ended before asking:\n%s", ansi.Strip(out.String()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := ptmx.Write([]byte(answer + "\r")); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	<-copied
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	return ansi.Strip(out.String()), code
}
