//go:build linux || darwin || freebsd

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
)

// These tests run the real binary the way a user does: `frameflow demo` in a
// terminal (a pseudo-terminal of 120x40) and piped to a file. They take
// several seconds; -short skips them.

// TestDemoAsAUserSeesIt builds the binary once and runs the demo, side by
// side (the demos mostly wait on simulated tasks), in each of the ways a user
// meets it.
func TestDemoAsAUserSeesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := frameflowBinary(t)
	for name, test := range map[string]func(*testing.T, string){
		"terminal":          demoInATerminal,
		"terminal NO_COLOR": demoInATerminalNoColor,
		"terminal Ctrl-C":   demoInATerminalInterrupted,
		"piped to a file":   demoPipedWritesPlainLines,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, bin)
		})
	}
}

// demoEnv is a clean environment: no credentials or state dir from the
// developer's shell, and colour unless the test says otherwise.
func demoEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TERM=xterm-256color", "LANG=C.UTF-8"}
	return append(env, extra...)
}

var demoArgs = []string{"demo", "--task-duration", "200ms"}

// runInPTY runs bin under a 120x40 pseudo-terminal and returns everything it
// wrote to the terminal.
func runInPTY(t *testing.T, bin string, env []string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, demoArgs...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start in a pty: %v", err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	// Reading ends with EIO on Linux once the child has exited and the last
	// byte was read.
	_, rerr := io.Copy(&out, ptmx)
	werr := cmd.Wait()
	if rerr != nil && !errors.Is(rerr, syscall.EIO) {
		t.Fatalf("read pty: %v", rerr)
	}
	if werr != nil {
		t.Fatalf("frameflow demo in a terminal: %v\n%s", werr, ansi.Strip(out.String()))
	}
	return out.Bytes()
}

func demoInATerminal(t *testing.T, bin string) {
	raw := runInPTY(t, bin, demoEnv())
	assertLiveRun(t, raw, ansi.Strip(string(raw)))
	if !regexp.MustCompile(`\x1b\[[0-9;]*3[12]m`).Match(raw) {
		t.Errorf("no colour in a colour terminal:\n%q", tail(string(raw), 2000))
	}
}

func demoInATerminalNoColor(t *testing.T, bin string) {
	raw := runInPTY(t, bin, demoEnv("NO_COLOR=1"))
	assertLiveRun(t, raw, ansi.Strip(string(raw)))
	// Still updated in place, but no SGR (colour or style) sequence.
	if m := regexp.MustCompile(`\x1b\[[0-9;]*m`).Find(raw); m != nil {
		t.Errorf("NO_COLOR set, yet %q in the output", m)
	}
}

// assertLiveRun checks what a user saw: frames redrawn in place while the
// stores were in flight, the final frame, then the summary and the report.
func assertLiveRun(t *testing.T, raw []byte, screen string) {
	t.Helper()
	// The live view redraws by moving the cursor up over its last frame.
	if !regexp.MustCompile(`\x1b\[\d*A`).Match(raw) {
		t.Errorf("no in-place redraw (cursor up) in the terminal output:\n%s", screen)
	}
	// An intermediate frame: a store's step running, with fewer than all
	// stores done.
	if !regexp.MustCompile(`Store-\w+\s+(clone|publish|capacity)\s+running`).MatchString(screen) {
		t.Errorf("no store shown running:\n%s", screen)
	}
	if !regexp.MustCompile(`rollout\s+[0-7]/8 items done`).MatchString(screen) {
		t.Errorf("no intermediate progress (n/8 items done):\n%s", screen)
	}
	// The final frame, then the summary table and the demo's report.
	for _, want := range []string{"8/8 items done", "qa-rollout succeeded in", "STEP", "ITEM", "rollout.capacity", "What the Frame API received"} {
		if !strings.Contains(screen, want) {
			t.Errorf("missing %q on the screen:\n%s", want, screen)
		}
	}
	if i, j := strings.LastIndex(screen, "qa-rollout succeeded in"), strings.Index(screen, "STEP"); i < 0 || j < 0 || i > j {
		t.Errorf("the final frame should come before the summary table:\n%s", screen)
	}
	if !regexp.MustCompile(`Run \S+ succeeded in`).MatchString(screen) {
		t.Errorf("no summary line:\n%s", screen)
	}
	// The terminal is given back: the cursor hidden while drawing is shown.
	if hide, show := bytes.LastIndex(raw, []byte("\x1b[?25l")), bytes.LastIndex(raw, []byte("\x1b[?25h")); hide >= 0 && show < hide {
		t.Errorf("cursor left hidden")
	}
}

func demoPipedWritesPlainLines(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outPath := filepath.Join(t.TempDir(), "demo.log")
	f, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, demoArgs...)
	cmd.Env = demoEnv()
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = f, &stderr
	runErr := cmd.Run()
	f.Close()
	out, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatalf("frameflow demo > file: %v\nstdout:\n%s\nstderr:\n%s", runErr, out, stderr.Bytes())
	}
	for name, b := range map[string][]byte{"stdout": out, "stderr": stderr.Bytes()} {
		if i := bytes.IndexByte(b, 0x1b); i >= 0 {
			t.Errorf("%s has an escape sequence at byte %d: %q", name, i, b[max(0, i-40):min(len(b), i+40)])
		}
		if bytes.ContainsAny(b, "\r\b") {
			t.Errorf("%s has carriage returns or backspaces (spinner noise)", name)
		}
	}
	s := string(out)
	// One timestamped line per state change, then the summary.
	for _, re := range []string{
		`(?m)^\d\d:\d\d:\d\d start\s+rollout\.clone \[Store-\w+\]$`,
		`(?m)^\d\d:\d\d:\d\d succeeded\s+rollout\.capacity \[Store-\w+\] \(`,
		`(?m)^\d\d:\d\d:\d\d run \S+ succeeded`,
		`(?m)^Run \S+ succeeded in`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("piped output has no line matching %s:\n%s", re, s)
		}
	}
	if strings.Contains(s, "items done") {
		t.Errorf("the live view was drawn into a file:\n%s", s)
	}
}

// Ctrl-C in the terminal interrupts the run, not only the view: the last
// frame says so, the terminal is given back, and the exit code is 130.
func demoInATerminalInterrupted(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--task-duration", "3s")
	cmd.Env = demoEnv()
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
	// Wait for the live view to show a store in flight, then press Ctrl-C.
	running := regexp.MustCompile(`Store-\w+\s+clone\s+running`)
	for !running.MatchString(ansi.Strip(out.String())) {
		select {
		case <-copied:
			t.Fatalf("demo ended before anything ran:\n%s", ansi.Strip(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := ptmx.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	<-copied
	raw := []byte(out.String())
	screen := ansi.Strip(string(raw))
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want code 130\n%s", werr, screen)
	}
	if !strings.Contains(screen, "qa-rollout interrupted") || !strings.Contains(screen, "frameflow resume") {
		t.Errorf("the last frame should say the run was interrupted, and how to resume:\n%s", screen)
	}
	// An interrupt is not a failure: in-flight items are interrupted, and
	// the final header has no spinner left in it.
	if strings.Contains(screen, "context canceled") || regexp.MustCompile(`\d+ of \d+ items failed`).MatchString(screen) {
		t.Errorf("an interrupt is reported as failures:\n%s", screen)
	}
	if !regexp.MustCompile(`Store-\w+\s+clone\s+interrupted|items? interrupted`).MatchString(screen) {
		t.Errorf("no item shown interrupted:\n%s", screen)
	}
	if m := regexp.MustCompile(`(?m)^.*qa-rollout interrupted.*$`).FindAllString(screen, -1); len(m) > 0 && strings.ContainsAny(m[len(m)-1], strings.Join(spinFramesForTest, "")) {
		t.Errorf("a spinner is left in the final header %q", m[len(m)-1])
	}
	if hide, show := bytes.LastIndex(raw, []byte("\x1b[?25l")), bytes.LastIndex(raw, []byte("\x1b[?25h")); hide >= 0 && show < hide {
		t.Errorf("cursor left hidden after Ctrl-C")
	}
}

// spinFramesForTest are the live view's spinner frames.
var spinFramesForTest = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
