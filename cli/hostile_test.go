package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// Names and messages come from the server (account names, task errors) and
// from the workflow (its name). None of them may reach a terminal, a CI log,
// a JUnit file or a step summary able to set the title, move the cursor or
// forge a line: every renderer goes through termtext.
const (
	hostileName = "Store-\u001b]0;pwned\u0007\nFAKE-LINE succeeded"
	hostileMsg  = "task failed\r\n\u001b[2K\u001b[1Asucceeded \u009b31m \u202eevil"
)

// assertTame fails when out carries a control character (other than the
// line structure the renderer itself writes) or a forged line.
func assertTame(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\u001b", "\u0007", "\r", "\u009b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s carries %q:\n%s", what, bad, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "FAKE-LINE") || strings.HasPrefix(strings.TrimSpace(l), "succeeded") {
			t.Errorf("%s has a forged line %q:\n%s", what, l, out)
		}
	}
	if !strings.Contains(out, `\x1b`) {
		t.Errorf("%s does not show the escape sequence escaped:\n%s", what, out)
	}
}

func hostileResult() *engine.Result {
	t0 := time.Date(2026, 11, 24, 1, 30, 0, 0, time.UTC)
	return &engine.Result{RunID: "r-1", Status: "failed", Started: t0, Finished: t0.Add(time.Second), Steps: []engine.StepResult{
		{Step: "clone", Item: hostileName, Status: "failed", Attempts: 1, Error: hostileMsg},
		{Step: "clone", Item: "Store-Reno", Status: "succeeded", Attempts: 1},
	}}
}

func zeroIndex() *int { i := 0; return &i }

// hostileEvents are a run's events carrying hostile names and messages
// (liveview has the same test for the live view).
func hostileEvents() []engine.Event {
	return []engine.Event{
		{Type: "run_started", RunID: "r-1", Workflow: "wf\u001b]0;x\u0007"},
		{Type: "step_started", Step: "clone", Item: hostileName, Index: zeroIndex()},
		{Type: "step_progress", Step: "clone", Item: hostileName, Index: zeroIndex(), Message: hostileMsg},
		{Type: "step_retrying", Step: "clone", Item: hostileName, Index: zeroIndex(), Attempt: 1, MaxAttempts: 3, Error: hostileMsg},
		{Type: "step_finished", Step: "clone", Item: hostileName, Index: zeroIndex(), Status: "failed", Error: hostileMsg},
		{Type: "run_finished", RunID: "r-1", Status: "failed"},
	}
}

func TestHostileTextIsEscapedInEveryRenderer(t *testing.T) {
	t.Run("summary", func(t *testing.T) {
		var b bytes.Buffer
		writeSummary(&b, hostileResult(), 0)
		assertTame(t, "summary", b.String())
	})
	t.Run("plain", func(t *testing.T) {
		var b bytes.Buffer
		p := &plainRenderer{w: &b}
		for _, ev := range hostileEvents() {
			p.Event(ev)
		}
		assertTame(t, "plain lines", b.String())
	})
	t.Run("json events", func(t *testing.T) {
		// JSON is escaped by the encoder except DEL, C1 and bidi: those are
		// \u-escaped too, so a terminal showing the stream is safe and the
		// decoded values are unchanged.
		var b bytes.Buffer
		j := newJSONRenderer(&b)
		for _, ev := range hostileEvents() {
			j.Event(ev)
		}
		for _, bad := range []string{"\u001b", "\u0007", "\r", "\u009b", "\u202e"} {
			if strings.Contains(b.String(), bad) {
				t.Errorf("json events carry %q", bad)
			}
		}
		if !strings.Contains(b.String(), `\u009b`) {
			t.Errorf("C1 CSI not escaped: %s", b.String())
		}
	})
	t.Run("step summary markdown", func(t *testing.T) {
		var b bytes.Buffer
		writeRunMarkdown(&b, hostileResult())
		out := b.String()
		assertTame(t, "step summary", out)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[2:] {
			// Every row keeps its five cells: a pipe in a name cannot add one.
			if n := strings.Count(l, "|"); n != 6 {
				t.Errorf("row %q has %d pipes", l, n)
			}
		}
	})
	t.Run("junit", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "j.xml")
		if err := writeJUnit(p, "wf", hostileResult(), nil); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		assertTame(t, "junit", string(b))
	})
	t.Run("diagnostics and annotations", func(t *testing.T) {
		a := &app{streams: Streams{Getenv: func(k string) string {
			if k == "GITHUB_ACTIONS" {
				return "true"
			}
			return ""
		}}}
		var b bytes.Buffer
		a.printDiagnostics(&b, schema.Diagnostics{{Pos: schema.Pos{File: "w.yaml", Line: 3, Col: 5}, Message: "unknown step " + hostileName}})
		assertTame(t, "diagnostics", b.String())
	})
	t.Run("final error", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := Main([]string{"validate", "/nonexistent/" + hostileName + ".yaml"}, Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
		if code == 0 {
			t.Fatal("validate of a missing file succeeded")
		}
		assertTame(t, "error line", errb.String()+out.String())
	})
}
