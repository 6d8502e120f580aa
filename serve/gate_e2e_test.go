package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/frameflow/frameflow/frame/sim"
)

// gatePlaybooks is a playbooks directory with canary-rollout (three
// canary stores, an approval gate, then the other five) and the library
// playbook it calls.
func gatePlaybooks(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"canary-rollout.yaml", filepath.Join("lib", "rollout-account.yaml")} {
		src, err := os.ReadFile(filepath.Join("..", "workflows", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitGate waits until the run page shows the gate with its buttons: the
// page learns it from its event stream, whoever runs the run.
func waitGate(t *testing.T, ctx context.Context) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(`#gates .gate[data-step="gate"] button.approve-gate`)); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Text(`#run-status`))
		t.Fatalf("the gate never showed (run %s): %v", st, err)
	}
}

// clonesSent counts the simulator's answered clone requests.
func clonesSent(s *sim.Running) int {
	n := 0
	for k, c := range mutationsSent(s) {
		if strings.HasSuffix(k, "/clone") || strings.Contains(k, "clone") {
			n += c
		}
	}
	return n
}

// canary-rollout started in the page stops at its gate after the three
// canaries; the run page shows the question and the time left; Approve
// (with a comment) is recorded as the page's user through the same path as
// `frameflow approve`, the page follows the run past the gate, and the
// other five stores are rolled out.
func TestE2EApprovalGateApprovedInThePage(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 200 * time.Millisecond})
	s := startServe(t, e, "", gatePlaybooks(t), nil)
	planThroughPages(t, ctx, s, "canary-rollout.yaml", nil)
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	runID := runIDOf(t, ctx)
	waitGate(t, ctx)
	gate := text(t, ctx, "#gates")
	for _, want := range []string{"3 canary stores published", "roll out to the other 5?", "left; then the step fails", "frameflow approve " + runID + " gate"} {
		if !strings.Contains(gate, want) {
			t.Fatalf("the gate says %q, lacking %q", gate, want)
		}
	}
	if n := clonesSent(e.Sim); n != 3 {
		t.Fatalf("%d clones sent before the gate was approved, want the 3 canaries", n)
	}
	who := strings.TrimPrefix(text(t, ctx, ".who"), "Signed in as ")
	run(t, ctx, chromedp.SendKeys(`#comment-0`, "canaries look healthy"))
	screenshot(t, ctx, "run-gate")
	run(t, ctx, chromedp.Click(`#gates button.approve-gate`))
	waitStatus(t, ctx, "succeeded")
	if n := clonesSent(e.Sim); n != 8 {
		t.Fatalf("%d clones sent after approval, want all 8 stores", n)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("gates").hidden`)); err != nil || !hidden {
		t.Fatalf("the gate is still shown after the run ended (%v)", err)
	}
	// Recorded as `frameflow approve` records it: by the page's user, with
	// the comment; the step's output carries the approver.
	docs, _ := filepath.Glob(filepath.Join(s.StateDir, "approvals", runID, "*.json"))
	if len(docs) != 1 {
		t.Fatalf("approval documents: %v", docs)
	}
	d, _ := os.ReadFile(docs[0])
	if !strings.Contains(string(d), `"approved":true`) || !strings.Contains(string(d), `"by":`+jsString(who)) || !strings.Contains(string(d), "canaries look healthy") {
		t.Fatalf("the decision recorded: %s (signed in as %q)", d, who)
	}
	j, _ := os.ReadFile(filepath.Join(s.StateDir, "runs", runID+".jsonl"))
	if !strings.Contains(string(j), `"approved_by":`+jsString(who)) {
		t.Fatal("the gate's output does not name the page's user")
	}
}

// A run started in the terminal waits at its gate; the page lists it as
// waiting in History, shows the gate on its run page, and Reject there
// stops the run as the step defines: the gate fails with the reason, the
// stores after it are not touched, and the terminal's run ends failed.
func TestE2EApprovalGateRejectedInThePage(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 200 * time.Millisecond})
	s := startServe(t, e, "", gatePlaybooks(t), nil)
	cmd := exec.Command(frameflowBinary(t), "run", "--yes", filepath.Join(s.Dir, "canary-rollout.yaml"))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + s.StateDir}, e.Env...)
	var termOut syncBuffer
	cmd.Stdout, cmd.Stderr = &termOut, &termOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		run(t, ctx, chromedp.Navigate(s.URL+"/runs"), chromedp.WaitVisible(`#runs`))
		if h := text(t, ctx, "#runs"); strings.Contains(h, "waiting for approval at gate") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("History never showed the terminal's run waiting:\n%s", termOut.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	screenshot(t, ctx, "history-waiting")
	run(t, ctx, chromedp.Click(`a.waiting-gate`))
	waitGate(t, ctx)
	// At phone width and by keyboard alone: no page-wide horizontal
	// scrolling; the comment, then Tab past Approve to Reject, and Enter.
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Fatalf("the run page with its gate is %d px wide at a 390 px viewport (%v)", w, err)
	}
	run(t, ctx, chromedp.SendKeys(`#comment-0`, "Store-Boston shows errors"), chromedp.Focus(`#gates button.approve-gate`), chromedp.KeyEvent("\t"))
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); focused != "Reject" {
		t.Fatalf("Tab after Approve reaches %q, want Reject", focused)
	}
	screenshotTop(t, ctx, "phone-gate")
	run(t, ctx, chromedp.KeyEvent("\r"))
	waitStatus(t, ctx, "failed")
	if err := <-done; err == nil {
		t.Fatalf("the terminal's run succeeded after the gate was rejected:\n%s", termOut.String())
	}
	if out := termOut.String(); !strings.Contains(out, "rejected by") || !strings.Contains(out, "Store-Boston shows errors") {
		t.Fatalf("the terminal does not say who rejected and why:\n%s", out)
	}
	if n := clonesSent(e.Sim); n != 3 {
		t.Fatalf("%d clones sent, want only the 3 canaries", n)
	}
	// (The detail column is hidden at phone width: read the markup.)
	if h := pageHTML(t, ctx); !strings.Contains(h, "approval gate was rejected by") || !strings.Contains(h, "Store-Boston shows errors") {
		t.Fatalf("the run page does not show the rejection: %q", h)
	}
	screenshot(t, ctx, "run-gate-rejected")
}

// A terminal's run killed while waiting at its gate: its page shows where
// it was waiting, a decision can still be made there, and Resume in the
// page goes on past the gate without touching the canaries again.
func TestE2EApprovalGateOfACrashedRun(t *testing.T) {
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 200 * time.Millisecond})
	s := startServe(t, e, "", gatePlaybooks(t), nil)
	cmd := exec.Command(frameflowBinary(t), "run", "--yes", filepath.Join(s.Dir, "canary-rollout.yaml"))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + s.StateDir}, e.Env...)
	var termOut syncBuffer
	cmd.Stdout, cmd.Stderr = &termOut, &termOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(termOut.String(), "waiting for approval") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the terminal's run never reached its gate:\n%s", termOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill() // kill -9 while waiting
	<-done
	run(t, ctx, chromedp.Navigate(s.URL+"/runs"), chromedp.WaitVisible(`a.waiting-gate`))
	if h := text(t, ctx, "#runs"); !strings.Contains(h, "crashed") || !strings.Contains(h, "was waiting for approval at gate") {
		t.Fatalf("History after a crash while waiting: %q", h)
	}
	run(t, ctx, chromedp.Click(`a.waiting-gate`), chromedp.WaitVisible(`#gates button.approve-gate`))
	if g := text(t, ctx, "#gates"); !strings.Contains(g, "Was waiting for approval") || !strings.Contains(g, "found when the run is resumed") {
		t.Fatalf("the gate of a crashed run says %q", g)
	}
	run(t, ctx, chromedp.Click(`#gates button.approve-gate`), chromedp.WaitVisible(`#gates .decided`))
	if g := text(t, ctx, "#gates .decided"); !strings.Contains(g, "Approved by") {
		t.Fatalf("after approving a crashed run's gate: %q", g)
	}
	run(t, ctx, chromedp.Click(`#resume`))
	waitStatus(t, ctx, "succeeded")
	if n := clonesSent(e.Sim); n != 8 {
		t.Fatalf("%d clones sent, want 8: the 3 canaries once and the other 5", n)
	}
}
