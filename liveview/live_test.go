package liveview

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/frameflow/frameflow/engine"
)

// liveScript feeds events to a live model on a clock the test moves.
type liveScript struct {
	t   testing.TB
	m   *liveModel
	now time.Time
}

func newLiveScript(t testing.TB, color bool, width, height int) *liveScript {
	s := &liveScript{t: t, now: time.Date(2026, 11, 24, 1, 30, 0, 0, time.UTC)}
	s.m = newLiveModel(liveOptions{color: color, width: width, now: func() time.Time { return s.now }})
	s.m.Update(sizeMsg(width, height))
	return s
}

func sizeMsg(w, h int) tickMsg { return tickMsg{w: w, h: h, ok: true} }

// at moves the clock forward by d and sends the events stamped with it.
func (s *liveScript) at(d time.Duration, evs ...engine.Event) {
	s.now = s.now.Add(d)
	for i := range evs {
		evs[i].Time = s.now
	}
	s.m.Update(eventsMsg(evs))
}

func (s *liveScript) view() string {
	s.t.Helper()
	return s.m.View()
}

func ix(i int) *int { return &i }

func started(step string) engine.Event { return engine.Event{Type: "step_started", Step: step} }
func finished(step, status string, d time.Duration) engine.Event {
	return engine.Event{Type: "step_finished", Step: step, Status: engine.Status(status), Duration: d}
}
func itemStarted(step, item string, i int) engine.Event {
	return engine.Event{Type: "step_started", Step: step, Item: item, Index: ix(i)}
}
func itemFinished(step, item string, i int, status string, d time.Duration) engine.Event {
	return engine.Event{Type: "step_finished", Step: step, Item: item, Index: ix(i), Status: engine.Status(status), Duration: d}
}

// lineWith returns the view's line containing all of subs, or fails.
func lineWith(t *testing.T, view string, subs ...string) string {
	t.Helper()
	for _, l := range strings.Split(view, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	t.Fatalf("no line with %q in view:\n%s", subs, view)
	return ""
}

func TestLiveTopLevelStepsShowStateStageAndElapsed(t *testing.T) {
	s := newLiveScript(t, false, 120, 40)
	s.at(0, engine.Event{Type: "run_started", RunID: "r-1", Workflow: "qa-rollout"})
	s.at(0, started("source"))
	v := s.view()
	lineWith(t, v, "qa-rollout", "running", "r-1")
	lineWith(t, v, "source", "running", "0ms")

	s.at(120*time.Millisecond, finished("source", "succeeded", 120*time.Millisecond), started("targets"))
	s.at(1500*time.Millisecond, engine.Event{Type: "step_progress", Step: "targets", Message: "waiting for task 42: CLONING"})
	v = s.view()
	lineWith(t, v, "✓ source", "done", "120ms")
	lineWith(t, v, "targets", "running", "1.5s", "waiting for task 42: CLONING")
	lineWith(t, v, "1 steps done", "1.6s elapsed")

	s.at(time.Second, engine.Event{Type: "step_retrying", Step: "targets", Attempt: 1, MaxAttempts: 4, Delay: 2 * time.Second, Error: "503 Service Unavailable"})
	lineWith(t, s.view(), "↻ targets", "retrying", "2/4", "in 2.0s", "503 Service Unavailable")

	s.at(time.Second, started("targets"), finished("targets", "unchanged", 300*time.Millisecond), finished("skipme", "skipped", 0))
	v = s.view()
	lineWith(t, v, "targets", "unchanged")
	lineWith(t, v, "skipme", "skipped")
}

// rollout: a group fanned out over three stores, each cloning then
// publishing.
func TestLiveFanOutItemsRetriesFailuresAndProgress(t *testing.T) {
	s := newLiveScript(t, false, 120, 40)
	s.at(0, engine.Event{Type: "run_started", RunID: "r-2", Workflow: "qa-rollout"})
	s.at(0, engine.Event{Type: "step_started", Step: "rollout", Total: 3},
		itemStarted("rollout.clone", "Store-Austin", 0),
		itemStarted("rollout.clone", "Store-Boston", 1),
		itemStarted("rollout.clone", "Store-Denver", 2))
	v := s.view()
	lineWith(t, v, "rollout", "0/3 items done", "3 running")
	lineWith(t, v, "Store-Austin", "clone", "running")

	s.at(2*time.Second,
		engine.Event{Type: "step_progress", Step: "rollout.clone", Item: "Store-Austin", Message: "task 7: COPYING_IMAGE"},
		engine.Event{Type: "step_retrying", Step: "rollout.clone", Item: "Store-Boston", Index: ix(1), Attempt: 1, MaxAttempts: 4, Delay: time.Second, Error: "429 Too Many Requests"},
		itemFinished("rollout.clone", "Store-Denver", 2, "succeeded", 2*time.Second),
		itemStarted("rollout.publish", "Store-Denver", 2))
	v = s.view()
	lineWith(t, v, "Store-Austin", "clone", "running", "2.0s", "task 7: COPYING_IMAGE")
	lineWith(t, v, "Store-Boston", "clone", "retrying", "2/4", "429 Too Many Requests")
	lineWith(t, v, "Store-Denver", "publish", "running")
	lineWith(t, v, "rollout", "0/3 items done", "3 running", "1 retrying")

	s.at(time.Second,
		itemFinished("rollout.publish", "Store-Denver", 2, "succeeded", time.Second),
		engine.Event{Type: "step_finished", Step: "rollout.clone", Item: "Store-Boston", Index: ix(1), Status: "failed", Duration: 3 * time.Second, Error: "clone: 409 Conflict: sandbox is busy"})
	// Denver finished every step the group is known to have; until nothing
	// follows for a moment it is not counted as done (the next step may be
	// about to start).
	lineWith(t, s.view(), "rollout", "0/3 items done", "1 failed")
	s.at(time.Second)
	v = s.view()
	lineWith(t, v, "✗ Store-Boston", "clone", "failed", "409 Conflict: sandbox is busy")
	lineWith(t, v, "✓ Store-Denver", "done", "3.0s")
	lineWith(t, v, "rollout", "1/3 items done", "1 running", "1 failed")
	// One item done in 3s, Austin 4s into its run: about 0s of its average
	// is left, so no more than a second or two is estimated.
	lineWith(t, v, "1/3 items done", "1 failed", "4.0s elapsed", "left")

	// Failed items sort first: they are what the admin needs to see.
	if a, b := strings.Index(v, "Store-Boston"), strings.Index(v, "Store-Austin"); a > b {
		t.Errorf("failed item should be listed before running ones:\n%s", v)
	}
}

func TestLiveEstimateFromAverageItemDuration(t *testing.T) {
	// 10 items, 2 at a time, each 10s: after the first two, 8 wait.
	s := newLiveScript(t, false, 100, 30)
	s.at(0, engine.Event{Type: "run_started", Workflow: "w"},
		engine.Event{Type: "step_started", Step: "fan", Total: 10},
		itemStarted("fan", "a0", 0), itemStarted("fan", "a1", 1))
	s.at(10*time.Second, itemFinished("fan", "a0", 0, "succeeded", 10*time.Second), itemFinished("fan", "a1", 1, "succeeded", 10*time.Second),
		itemStarted("fan", "a2", 2), itemStarted("fan", "a3", 3))
	// Left: 6 waiting x 10s + 2 running x 10s, over 2 in parallel = 40s.
	lineWith(t, s.view(), "2/10 items done", "10.0s elapsed", "about 40.0s left")
	s.at(5 * time.Second)
	lineWith(t, s.view(), "about 35.0s left")
}

func TestLiveBigFanOutFitsTheScreen(t *testing.T) {
	const width, height = 80, 20
	s := newLiveScript(t, false, width, height)
	s.at(0, engine.Event{Type: "run_started", RunID: "r-big", Workflow: "qa-rollout"},
		started("source"), finished("source", "succeeded", time.Millisecond),
		engine.Event{Type: "step_started", Step: "rollout", Total: 500})
	var evs []engine.Event
	for i := 0; i < 120; i++ {
		name := fmt.Sprintf("Store-%03d-with-a-rather-long-name-for-the-screen", i)
		evs = append(evs, itemStarted("rollout.clone", name, i))
		if i < 60 {
			evs = append(evs, itemFinished("rollout.clone", name, i, "succeeded", time.Second),
				itemStarted("rollout.publish", name, i), itemFinished("rollout.publish", name, i, "succeeded", time.Second))
		}
	}
	evs = append(evs, itemFinished("rollout.clone", "Store-070-with-a-rather-long-name-for-the-screen", 70, "failed", time.Second),
		engine.Event{Type: "step_finished", Step: "rollout.clone", Item: "Store-071-with-a-rather-long-name-for-the-screen", Index: ix(71), Status: "failed", Error: strings.Repeat("a very long error ", 20)})
	s.at(time.Second, evs...)
	s.at(time.Second)
	v := s.view()
	lines := strings.Split(v, "\n")
	if len(lines) > height-1 {
		t.Errorf("view has %d lines, the screen %d:\n%s", len(lines), height, v)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("line wider than %d (%d): %q", width, w, l)
		}
	}
	lineWith(t, v, "rollout", "60/500 items done", "58 running", "2 failed", "380 waiting")
	lineWith(t, v, "✗ Store-070")
	lineWith(t, v, "✗ Store-071")
	lineWith(t, v, "…", "more running", "done", "380 waiting")
	lineWith(t, v, "60/500 items done", "2 failed")
}

func TestLiveFinalFrameListsFailuresAndKeepsItsLastLine(t *testing.T) {
	s := newLiveScript(t, false, 120, 40)
	s.at(0, engine.Event{Type: "run_started", RunID: "r-3", Workflow: "qa-rollout"},
		engine.Event{Type: "step_started", Step: "rollout", Total: 4},
		itemStarted("rollout.clone", "Store-A", 0), itemStarted("rollout.clone", "Store-B", 1))
	s.at(time.Second, itemFinished("rollout.clone", "Store-A", 0, "succeeded", time.Second),
		engine.Event{Type: "step_finished", Step: "rollout.clone", Item: "Store-B", Index: ix(1), Status: "failed", Error: "boom"},
		engine.Event{Type: "step_finished", Step: "rollout", Status: "failed", Total: 4, Error: "1 of 4 items failed"},
		engine.Event{Type: "run_finished", RunID: "r-3", Status: "failed", Duration: time.Second})
	s.m.Update(finishMsg{})
	v := s.view()
	if !strings.HasSuffix(v, "\n") {
		t.Errorf("final frame should end with a newline (the renderer erases the cursor's line): %q", v)
	}
	lineWith(t, v, "✗ qa-rollout", "failed in 1.0s", "r-3")
	lineWith(t, v, "rollout", "1/4 items done", "1 failed", "2 not run", "1 of 4 items failed")
	lineWith(t, v, "✗ Store-B", "failed", "boom")
	if strings.Contains(v, "Store-A") {
		t.Errorf("final frame lists only failures (the summary table follows):\n%s", v)
	}
	if strings.Contains(v, "left") || strings.ContainsAny(v, strings.Join(spinFrames, "")) {
		t.Errorf("final frame has no spinner and no estimate:\n%s", v)
	}
}

func TestLiveColourOnlyWhenAsked(t *testing.T) {
	feed := func(color bool) string {
		s := newLiveScript(t, color, 100, 30)
		s.at(0, engine.Event{Type: "run_started", Workflow: "w"}, started("a"), finished("a", "failed", time.Second))
		return s.view()
	}
	if v := feed(false); strings.ContainsRune(v, 0x1b) {
		t.Errorf("no colour asked, yet escape sequences: %q", v)
	}
	if v := feed(true); !strings.Contains(v, "\x1b[") {
		t.Errorf("colour asked, none rendered: %q", v)
	}
}

func TestLiveCleansMessages(t *testing.T) {
	// The CLI's redactor replaces each secret with "***".
	red := strings.NewReplacer("s3cr3t-value", "***")
	s := newLiveScript(t, false, 200, 30)
	s.m.o.redact = red.Replace
	s.at(0, engine.Event{Type: "run_started", Workflow: "w"}, started("a"),
		engine.Event{Type: "step_progress", Step: "a", Message: "stage\x1b[2J\nNEXT"},
		engine.Event{Type: "step_finished", Step: "a", Status: "failed", Error: "bad token s3cr3t-value\r\x1b]0;title\a"})
	v := s.view()
	if strings.ContainsRune(v, 0x1b) || strings.ContainsAny(v, "\r\a") {
		t.Errorf("control characters from a message reached the screen: %q", v)
	}
	if strings.Contains(v, "s3cr3t") {
		t.Errorf("secret on screen: %q", v)
	}
	lineWith(t, v, "a", "failed", "bad token ***")
}

func TestLiveSingleStepFanOutAndNestedNames(t *testing.T) {
	s := newLiveScript(t, false, 120, 40)
	s.at(0, engine.Event{Type: "run_started", Workflow: "w"},
		engine.Event{Type: "step_started", Step: "stop", Total: 2},
		itemStarted("stop", "acc-1", 0), itemStarted("stop", "acc-2", 1))
	s.at(time.Second, itemFinished("stop", "acc-1", 0, "succeeded", time.Second))
	v := s.view()
	// A single step fanned out: an item is done as soon as its step is.
	lineWith(t, v, "stop", "1/2 items done", "1 running")
	lineWith(t, v, "acc-1", "done")
	lineWith(t, v, "acc-2", "running")
}

// syncBuffer is written by the renderer's goroutine and read after Close.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLiveViewConcurrentEventsAndFinalFrame(t *testing.T) {
	var out syncBuffer
	v := startLiveView(&out, liveOptions{width: 100, size: func() (int, int, bool) { return 100, 30, true }})
	v.Event(engine.Event{Type: "run_started", RunID: "r-9", Workflow: "qa-rollout"})
	v.Event(engine.Event{Type: "step_started", Step: "rollout", Total: 40})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g * 5; i < g*5+5; i++ {
				name := fmt.Sprintf("Store-%02d", i)
				v.Event(itemStarted("rollout", name, i))
				v.Event(engine.Event{Type: "step_progress", Step: "rollout", Item: name, Message: "PUBLISHING"})
				v.Event(itemFinished("rollout", name, i, "succeeded", time.Millisecond))
			}
		}(g)
	}
	wg.Wait()
	v.Event(engine.Event{Type: "step_finished", Step: "rollout", Status: "succeeded", Total: 40})
	v.Event(engine.Event{Type: "run_finished", RunID: "r-9", Status: "succeeded", Duration: 2 * time.Second})
	done := make(chan struct{})
	go func() { v.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	v.Close() // twice is fine
	v.Event(engine.Event{Type: "step_started", Step: "late"})

	got := out.String()
	// Every event reached the model before the final frame: it says so.
	if !strings.Contains(got, "40/40 items done") || !strings.Contains(got, "qa-rollout succeeded in 2.0s") {
		t.Errorf("final frame missing from the output:\n%s", got)
	}
	if strings.Contains(got, "late") {
		t.Errorf("an event after Close was drawn:\n%s", got)
	}
}

func TestLiveViewSaysAQuestionAboveTheFrame(t *testing.T) {
	var out syncBuffer
	v := startLiveView(&out, liveOptions{width: 100, size: func() (int, int, bool) { return 100, 30, true }})
	v.Event(engine.Event{Type: "run_started", RunID: "r-7", Workflow: "canary-rollout"})
	v.Event(engine.Event{Type: "step_started", Step: "gate"})
	v.Say("Approval gate (run r-7): roll out to the other 5?")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "roll out to the other 5?") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	v.Event(engine.Event{Type: "step_finished", Step: "gate", Status: "succeeded"})
	v.Event(engine.Event{Type: "run_finished", RunID: "r-7", Status: "succeeded", Duration: time.Second})
	v.Close()
	v.Say("after close") // dropped, not a panic or a hang
	got := out.String()
	asked := strings.Index(got, "roll out to the other 5?")
	if asked < 0 {
		t.Fatalf("the question was not printed:\n%s", got)
	}
	// Printed lines sit above the frame: the final frame follows them.
	if final := strings.LastIndex(got, "canary-rollout succeeded"); final < asked {
		t.Errorf("the final frame is not below the question:\n%s", got)
	}
	if strings.Contains(got, "after close") {
		t.Errorf("text said after Close was printed:\n%s", got)
	}
}

func TestLiveViewCloseWithoutEvents(t *testing.T) {
	var out syncBuffer
	v := newLiveView(&out, false, 80)
	done := make(chan struct{})
	go func() { v.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close without events did not return")
	}
	if strings.Contains(out.String(), "items done") {
		t.Errorf("nothing ran, yet progress was drawn: %q", out.String())
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                            "0ms",
		850 * time.Millisecond:                  "850ms",
		4200 * time.Millisecond:                 "4.2s",
		3*time.Minute + 5*time.Second:           "3m05s",
		time.Hour + 2*time.Minute + time.Second: "1h02m",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("fmtDur(%s) = %q, want %q", d, got, want)
		}
	}
}

// View runs after every batch of events and every tick; with 500 items it
// must stay far below a frame's time.
func BenchmarkLiveView500Items(b *testing.B) {
	s := newLiveScript(b, true, 120, 40)
	s.at(0, engine.Event{Type: "run_started", Workflow: "qa-rollout"}, engine.Event{Type: "step_started", Step: "rollout", Total: 500})
	var evs []engine.Event
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("Store-%03d", i)
		evs = append(evs, itemStarted("rollout.clone", name, i))
		if i%3 == 0 {
			evs = append(evs, itemFinished("rollout.clone", name, i, "succeeded", time.Second))
		}
	}
	s.at(time.Second, evs...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.m.View()
	}
}

// A called playbook (uses: ./lib/x.yaml) reports its steps as the calling
// step's id, a dot and their own: per item like a group's when the call
// fans out, as rows of their own when it runs once.
func TestLiveCalledPlaybookSteps(t *testing.T) {
	s := newLiveScript(t, false, 120, 40)
	s.at(0, engine.Event{Type: "run_started", Workflow: "w"},
		engine.Event{Type: "step_started", Step: "catch_up", Total: 2},
		itemStarted("catch_up.clone", "Store-1", 0), itemStarted("catch_up.clone", "Store-2", 1),
		started("qa"), started("qa.clone"))
	s.at(time.Second, itemFinished("catch_up.clone", "Store-1", 0, "succeeded", time.Second),
		itemStarted("catch_up.publish", "Store-1", 0),
		finished("qa.clone", "succeeded", time.Second), started("qa.publish"))
	v := s.view()
	lineWith(t, v, "catch_up", "0/2 items done")
	lineWith(t, v, "Store-1", "publish")
	lineWith(t, v, "Store-2", "clone")
	lineWith(t, v, "qa.clone", "done")
	lineWith(t, v, "qa.publish", "running")
}
