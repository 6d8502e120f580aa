package liveview

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
)

// Names and messages from a server or workflow cannot drive the terminal
// through the live view (the same rule as cli's renderers: termtext).
func TestHostileTextIsEscapedInTheLiveView(t *testing.T) {
	const (
		name = "Store-\u001b]0;pwned\u0007\nFAKE-LINE succeeded"
		msg  = "task failed\r\n\u001b[2K\u001b[1Asucceeded \u009b31m \u202eevil"
	)
	s := newLiveScript(t, false, 200, 40)
	s.at(0,
		engine.Event{Type: "run_started", RunID: "r-1", Workflow: "wf\u001b]0;x\u0007"},
		engine.Event{Type: "step_started", Step: "clone", Item: name, Index: ix(0)},
		engine.Event{Type: "step_progress", Step: "clone", Item: name, Index: ix(0), Message: msg},
		engine.Event{Type: "step_retrying", Step: "clone", Item: name, Index: ix(0), Attempt: 1, MaxAttempts: 3, Error: msg},
		engine.Event{Type: "step_finished", Step: "clone", Item: name, Index: ix(0), Status: "failed", Error: msg},
		engine.Event{Type: "run_finished", RunID: "r-1", Status: "failed"},
	)
	out := s.view()
	for _, bad := range []string{"\u001b", "\u0007", "\r", "\u009b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("live view carries %q:\n%s", bad, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "FAKE-LINE") {
			t.Errorf("live view has a forged line %q", l)
		}
	}
	if !strings.Contains(out, `\x1b`) {
		t.Errorf("live view does not show the escape sequence escaped:\n%s", out)
	}
}
