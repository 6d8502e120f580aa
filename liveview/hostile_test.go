package liveview

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
)

// A server's names and messages cannot drive the terminal through the live
// view: every string goes through termtext (the other renderers have the
// same test in cli).
func TestLiveViewEscapesHostileNamesAndMessages(t *testing.T) {
	const name = "Store-\u001b]0;pwned\u0007\nFAKE-LINE succeeded"
	const msg = "task failed\r\n\u001b[2K\u001b[1Asucceeded \u009b31m \u202eevil"
	s := newLiveScript(t, false, 200, 40)
	s.at(0,
		engine.Event{Type: "run_started", RunID: "r-1", Workflow: "wf\u001b]0;x\u0007"},
		engine.Event{Type: "step_started", Step: "clone", Item: name, Index: ix(0)},
		engine.Event{Type: "step_progress", Step: "clone", Item: name, Index: ix(0), Message: msg},
		engine.Event{Type: "step_retrying", Step: "clone", Item: name, Index: ix(0), Attempt: 1, MaxAttempts: 3, Error: msg},
		engine.Event{Type: "step_finished", Step: "clone", Item: name, Index: ix(0), Status: "failed", Error: msg},
		engine.Event{Type: "run_finished", RunID: "r-1", Status: "failed"},
	)
	v := s.view()
	for _, bad := range []string{"\u001b", "\u0007", "\r", "\u009b", "\u202e"} {
		if strings.Contains(v, bad) {
			t.Errorf("the live view carries %q:\n%s", bad, v)
		}
	}
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "FAKE-LINE") {
			t.Errorf("forged line %q:\n%s", l, v)
		}
	}
	if !strings.Contains(v, `\x1b`) {
		t.Errorf("the escape sequence is not shown escaped:\n%s", v)
	}
}
