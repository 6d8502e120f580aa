package steps_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/steps"
)

// fakeClock advances only when a wait sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1764000000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// fakeTask finishes T after start.
type fakeTask struct {
	clock  *fakeClock
	start  time.Time
	T      time.Duration
	kind   string
	polls  int
	failAt int // poll number answered 503 (0: none)
}

func (f *fakeTask) get(context.Context) (*frame.Task, error) {
	f.polls++
	if f.polls == f.failAt {
		return nil, &frame.APIError{Method: "GET", Path: "/accounts/a/task/t", Status: 503}
	}
	t := &frame.Task{ID: "t", AccountID: "a", Kind: f.kind, DisplayName: "Cloning system", Stage: frame.StageInProgress}
	if el := f.clock.Now().Sub(f.start); el >= f.T {
		t.Stage = frame.StageDone
		sec := f.T.Seconds()
		t.DurationSec = &sec
	}
	return t, nil
}

// waitFor runs one wait of a task taking T on p and returns the polls made
// and how long after the task finished the wait noticed.
func waitFor(t *testing.T, p *steps.Poller, clock *fakeClock, kind string, T time.Duration) (polls int, overshoot time.Duration) {
	t.Helper()
	ft := &fakeTask{clock: clock, start: clock.Now(), T: T, kind: kind}
	got, err := p.Wait(context.Background(), steps.WaitOptions{Kind: kind, Get: ft.get, Sleep: clock.Sleep})
	if err != nil || got.Stage != frame.StageDone {
		t.Fatalf("T=%s: %v %v", T, got, err)
	}
	return ft.polls, clock.Now().Sub(ft.start) - T
}

// TestPollColdCounts: without anything learned, a wait alone polls at
// elapsed t, then 1.6·t + 1s (capped at 5 minutes), so polls grow with
// log T: a 20-minute task costs at most 15 polls.
func TestPollColdCounts(t *testing.T) {
	for _, tc := range []struct {
		T        time.Duration
		maxPolls int
	}{
		{time.Second, 1},
		{3 * time.Second, 3},
		{10 * time.Second, 5},
		{100 * time.Second, 9},
		{1000 * time.Second, 14},
		{20 * time.Minute, 15},
	} {
		clock := newFakeClock()
		p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
		polls, over := waitFor(t, p, clock, "clone_pool", tc.T)
		t.Logf("cold T=%-6s polls=%-3d overshoot=%s (%.0f%%)", tc.T, polls, over, 100*over.Seconds()/tc.T.Seconds())
		if polls > tc.maxPolls {
			t.Errorf("T=%s: %d polls, want at most %d", tc.T, polls, tc.maxPolls)
		}
		// Cold overshoot: at most the growth factor's share (and the
		// first interval), or one max interval.
		if bound := min(time.Duration(0.6*float64(tc.T))+time.Second, steps.DefaultMaxInterval); over > bound {
			t.Errorf("T=%s: overshoot %s > %s", tc.T, over, bound)
		}
	}
}

// TestPollWarm: once tasks of a kind finished, a wait sleeps to the learned
// finish and adds at most 15% with a poll or two.
func TestPollWarm(t *testing.T) {
	for _, T := range []time.Duration{time.Second, 10 * time.Second, 100 * time.Second, 1000 * time.Second} {
		clock := newFakeClock()
		p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
		waitFor(t, p, clock, "clone_pool", T) // the first one learns
		polls, over := waitFor(t, p, clock, "clone_pool", T)
		t.Logf("warm T=%-6s polls=%d overshoot=%s", T, polls, over)
		if polls > 2 {
			t.Errorf("T=%s: %d polls, want at most 2", T, polls)
		}
		if over > time.Duration(0.15*float64(T)) {
			t.Errorf("T=%s: overshoot %s > 15%%", T, over)
		}
	}
}

// TestPollWarmSpread: tasks of one kind vary; a task at least as long as
// the fastest seen is noticed within 15% of its duration, with few polls.
func TestPollWarmSpread(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	base := 300 * time.Second
	for _, f := range []float64{0.9, 1.0, 1.1, 0.95, 1.05} {
		p.Observe("publish_sandbox_to_production", time.Duration(f*float64(base)))
	}
	worst := 0
	for f := 0.9; f <= 2.0; f += 0.01 {
		T := time.Duration(f * float64(base))
		polls, over := waitFor(t, p, clock, "publish_sandbox_to_production", T)
		if over > time.Duration(0.15*float64(T))+time.Millisecond {
			t.Errorf("T=%s: overshoot %s > 15%%", T, over)
		}
		worst = max(worst, polls)
	}
	// From 0.9·base to 2·base at 15% steps: log(2.2)/log(1.15) ≈ 6.
	if worst > 8 {
		t.Errorf("worst case %d polls, want at most 8", worst)
	}
	low, median, n := p.Expected("publish_sandbox_to_production")
	if n == 0 || low > median || low < 270*time.Second {
		t.Errorf("Expected = %s %s %d", low, median, n)
	}
}

// TestPollPolicyOverrides: a step's intervals and timeout win over the
// poller's defaults; the timeout ends the wait with a WaitTimeoutError.
func TestPollTimeout(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	ft := &fakeTask{clock: clock, start: clock.Now(), T: time.Hour}
	var msgs []string
	_, err := p.Wait(context.Background(), steps.WaitOptions{
		Get: ft.get, Sleep: clock.Sleep, Progress: func(m string) { msgs = append(msgs, m) },
		Policy: engine.PollingPolicy{InitialInterval: 2 * time.Second, MaxInterval: 5 * time.Second, Timeout: time.Minute},
	})
	var te *steps.WaitTimeoutError
	if !errors.As(err, &te) || te.Waited != time.Minute || te.TaskID != "t" {
		t.Fatalf("err = %v", err)
	}
	if ft.polls > 2+60/5+1 {
		t.Errorf("%d polls with max interval 5s over 1m", ft.polls)
	}
	if len(msgs) == 0 || msgs[0] != "Cloning system: in_progress 2s" {
		t.Errorf("progress = %q", msgs)
	}
}

// TestPollTransientErrors: a 503 while polling does not fail the wait.
func TestPollTransientErrors(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	ft := &fakeTask{clock: clock, start: clock.Now(), T: 5 * time.Second, failAt: 2}
	got, err := p.Wait(context.Background(), steps.WaitOptions{Get: ft.get, Sleep: clock.Sleep})
	if err != nil || got.Stage != frame.StageDone {
		t.Fatalf("%v %v", got, err)
	}
	// A client error is not transient.
	bad := func(context.Context) (*frame.Task, error) {
		return nil, &frame.APIError{Method: "GET", Path: "/x", Status: 404}
	}
	if _, err := p.Wait(context.Background(), steps.WaitOptions{Get: bad, Sleep: clock.Sleep}); err == nil {
		t.Error("404: no error")
	}
}

// TestPollWakesOnLearning: a wait sleeping on the cold schedule re-plans
// when a task of its kind finishes elsewhere (real time, generous bound).
func TestPollWakesOnLearning(t *testing.T) {
	p := steps.NewPoller(steps.PollConfig{InitialInterval: 10 * time.Millisecond, MaxInterval: time.Minute, Growth: 1000})
	start := time.Now()
	T := 150 * time.Millisecond
	get := func(context.Context) (*frame.Task, error) {
		t := &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress}
		if time.Since(start) >= T {
			t.Stage = frame.StageDone
		}
		return t, nil
	}
	sleep := func(ctx context.Context, d time.Duration) error {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			return nil
		}
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		p.Observe("clone_pool", T) // another clone finished
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Cold, the second poll would come 10s after the first.
	if _, err := p.Wait(ctx, steps.WaitOptions{Kind: "clone_pool", Get: get, Sleep: sleep}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the wait took %s: it did not re-plan when the kind was learned", el)
	}
}

func TestPollCancel(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ft := &fakeTask{clock: clock, start: clock.Now(), T: time.Hour}
	if _, err := p.Wait(ctx, steps.WaitOptions{Get: ft.get, Sleep: clock.Sleep}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestPollStages: stages are recognised in any case; failure has several
// names; a stage the docs do not name is reported at each poll (sanitized),
// not waited on silently.
func TestPollStages(t *testing.T) {
	for _, tc := range []struct {
		final  string
		failed bool
	}{
		{"done", false}, {"DONE", false}, {"Done", false},
		{"failed", true}, {"FAILED", true}, {"error", true}, {"Error", true},
		{"cancelled", true}, {"canceled", true}, {"CANCELED", true},
	} {
		clock := newFakeClock()
		p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
		n := 0
		get := func(context.Context) (*frame.Task, error) {
			n++
			st := "IN_PROGRESS"
			if n == 3 {
				st = tc.final
			}
			return &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: st}, nil
		}
		got, err := p.Wait(context.Background(), steps.WaitOptions{Get: get, Sleep: clock.Sleep})
		var tf *frame.TaskFailedError
		switch {
		case tc.failed && !errors.As(err, &tf):
			t.Errorf("%s: err = %v, want a TaskFailedError", tc.final, err)
		case !tc.failed && (err != nil || got.Stage != frame.StageDone):
			t.Errorf("%s: %v %v, want done", tc.final, got, err)
		}
		if n != 3 {
			t.Errorf("%s: %d polls, want 3", tc.final, n)
		}
	}

	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	n := 0
	get := func(context.Context) (*frame.Task, error) {
		n++
		st := "paused\x1b[31m\nby ops"
		if n == 3 {
			st = frame.StageDone
		}
		return &frame.Task{ID: "t", AccountID: "a", DisplayName: "Cloning system", Stage: st}, nil
	}
	var msgs []string
	if _, err := p.Wait(context.Background(), steps.WaitOptions{Get: get, Sleep: clock.Sleep, Progress: func(m string) { msgs = append(msgs, m) }}); err != nil {
		t.Fatal(err)
	}
	want := `Cloning system: unknown stage "paused?[31m?by ops" (not a documented stage; still polling) 1s`
	if len(msgs) != 2 || msgs[0] != want {
		t.Errorf("progress = %q, want first %q", msgs, want)
	}
}

// TestPollLearnsFromCreation: a wait begins when the task is created, so
// the poller learns finished_at - inserted_at, not a duration_sec that the
// server counts from the task's start (0.1 T later here). Learning the
// shorter figure made every warm wait poll twice.
func TestPollLearnsFromCreation(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	T := 100 * time.Second
	fromStart := func() steps.WaitOptions {
		start := clock.Now()
		polls := 0
		return steps.WaitOptions{Kind: "clone_pool", Sleep: clock.Sleep, Get: func(context.Context) (*frame.Task, error) {
			polls++
			task := &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress,
				InsertedAt: start.UTC().Format("2006-01-02T15:04:05.000000Z")}
			if el := clock.Now().Sub(start); el >= T {
				task.Stage = frame.StageDone
				fin := start.Add(T).UTC().Format("2006-01-02T15:04:05.000000Z")
				sec := 0.9 * T.Seconds()
				task.FinishedAt, task.DurationSec = &fin, &sec
			}
			return task, nil
		}}
	}
	if _, err := p.Wait(context.Background(), fromStart()); err != nil {
		t.Fatal(err)
	}
	if low, _, _ := p.Expected("clone_pool"); low != T {
		t.Fatalf("learned %s, want %s (finished_at - inserted_at)", low, T)
	}
	o := fromStart()
	polls := 0
	get := o.Get
	o.Get = func(ctx context.Context) (*frame.Task, error) { polls++; return get(ctx) }
	if _, err := p.Wait(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if polls != 1 {
		t.Errorf("warm wait: %d polls, want 1", polls)
	}
}

// TestPollFanOutLearnsWhileWaiting: 30 tasks of a cold kind start
// together; together the waits poll finely, each task costs at most 1.5
// polls on average, and the last is seen done soon after the tasks end.
// Real time (the waits run concurrently), scaled down: 300 ms tasks with a
// 100 ms first interval; the bounds are on counts, the time is logged.
func TestPollFanOutLearnsWhileWaiting(t *testing.T) {
	p := steps.NewPoller(steps.PollConfig{InitialInterval: 100 * time.Millisecond})
	const n = 30
	T := 300 * time.Millisecond
	sleep := func(ctx context.Context, d time.Duration) error {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			return nil
		}
	}
	var (
		mu    sync.Mutex
		polls int
		wg    sync.WaitGroup
	)
	start := time.Now()
	var slowest time.Duration
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			get := func(context.Context) (*frame.Task, error) {
				mu.Lock()
				polls++
				mu.Unlock()
				task := &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress}
				if time.Since(began) >= T {
					task.Stage = frame.StageDone
				}
				return task, nil
			}
			if _, err := p.Wait(context.Background(), steps.WaitOptions{Kind: "clone_pool", Started: began, Get: get, Sleep: sleep}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			slowest = max(slowest, time.Since(began))
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d tasks of %s: %d polls (%.2f per task), slowest wait %s, all done after %s", n, T, polls, float64(polls)/n, slowest.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if per := float64(polls) / n; per > 1.5 {
		t.Errorf("%.2f polls per task, want at most 1.5", per)
	}
}

// TestPollFanOutFailuresSurface: when the tasks of a cold fan-out fail,
// the waits holding ticks far ahead go back to their own schedules, so the
// failures surface about as fast as they would alone (not one max
// interval later).
func TestPollFanOutFailuresSurface(t *testing.T) {
	p := steps.NewPoller(steps.PollConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: time.Minute})
	const n = 60
	T := 200 * time.Millisecond
	sleep := func(ctx context.Context, d time.Duration) error {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			get := func(context.Context) (*frame.Task, error) {
				task := &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress}
				if time.Since(began) >= T {
					task.Stage = "ERROR"
				}
				return task, nil
			}
			_, err := p.Wait(ctx, steps.WaitOptions{Kind: "clone_pool", Started: began, Get: get, Sleep: sleep})
			var tf *frame.TaskFailedError
			if !errors.As(err, &tf) {
				t.Errorf("err = %v, want a TaskFailedError", err)
			}
		}()
	}
	wg.Wait()
	// Alone, each wait would see its failure by about 3.4 T; a shared tick
	// far ahead would have held some for the minute of MaxInterval.
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the failures surfaced after %s", el)
	} else {
		t.Logf("%d failed tasks of %s surfaced within %s", n, T, el.Round(time.Millisecond))
	}
}

// TestPollLateJoinerOwnSchedule: a wait that begins long after another
// wait of its kind (still cold, a long task) is scheduled by its own
// elapsed time, not by the other's: a 2 s task is seen done within its
// own cold schedule, not minutes later.
func TestPollLateJoinerOwnSchedule(t *testing.T) {
	clock := newFakeClock()
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	// A long wait of the kind that began 10 minutes ago, blocked in its
	// first sleep for the whole test.
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{})
	go func() {
		long := func(context.Context) (*frame.Task, error) {
			return &frame.Task{ID: "long", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress}, nil
		}
		first := true
		sleep := func(ctx context.Context, d time.Duration) error {
			if first {
				first = false
				close(started)
			}
			select {
			case <-block:
				return context.Canceled
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.Wait(context.Background(), steps.WaitOptions{Kind: "clone_pool", Started: clock.Now().Add(-10 * time.Minute), Get: long, Sleep: sleep})
	}()
	<-started
	polls, over := waitFor(t, p, clock, "clone_pool", 2*time.Second)
	if polls > 3 || over > 2*time.Second {
		t.Errorf("late joiner: %d polls, overshoot %s; want its own cold schedule (2 polls, 0.6 s)", polls, over)
	}
}

// eventClock is a fake clock for many concurrent waits: time advances to
// the earliest wake-up only when every running wait sleeps (checked after
// a short real-time settle, so that a wait woken by another's finish has
// re-planned first).
type eventClock struct {
	mu       sync.Mutex
	now      time.Time
	running  int
	sleepers map[chan struct{}]time.Time
}

func newEventClock(running int) *eventClock {
	return &eventClock{now: time.Unix(1764000000, 0), running: running, sleepers: map[chan struct{}]time.Time{}}
}

func (c *eventClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *eventClock) done() { c.mu.Lock(); c.running--; c.mu.Unlock() }

func (c *eventClock) Sleep(ctx context.Context, d time.Duration) error {
	ch := make(chan struct{})
	c.mu.Lock()
	c.sleepers[ch] = c.now.Add(d)
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.sleepers, ch)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// drive advances the clock until stop is closed.
func (c *eventClock) drive(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
		c.mu.Lock()
		if c.running > 0 && len(c.sleepers) == c.running {
			var next time.Time
			for _, at := range c.sleepers {
				if next.IsZero() || at.Before(next) {
					next = at
				}
			}
			if next.After(c.now) {
				c.now = next
			}
			for ch, at := range c.sleepers {
				if !at.After(c.now) {
					close(ch)
					delete(c.sleepers, ch)
				}
			}
		}
		c.mu.Unlock()
	}
}

// TestPollFanOutLongTasks: 30 clones of 20 minutes start together on a
// cold kind: no task costs more than 15 polls. Each wait still polls at
// least every max_interval (5 min), so that a task of the cohort that ends
// much sooner than the others is not held by a tick far ahead: that, not
// the shared ticks, is most of the cost here (about T / max_interval per
// task). Fake clock; the overshoot is logged.
func TestPollFanOutLongTasks(t *testing.T) {
	const n = 30
	T := 20 * time.Minute
	clock := newEventClock(n)
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	stop := make(chan struct{})
	go clock.drive(stop)
	defer close(stop)
	start := clock.Now()
	polls := make([]int, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Time
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer clock.done()
			get := func(context.Context) (*frame.Task, error) {
				polls[i]++
				task := &frame.Task{ID: "t", AccountID: "a", Kind: "clone_pool", Stage: frame.StageInProgress}
				if clock.Now().Sub(start) >= T {
					task.Stage = frame.StageDone
				}
				return task, nil
			}
			if _, err := p.Wait(context.Background(), steps.WaitOptions{Kind: "clone_pool", Started: start, Get: get, Sleep: clock.Sleep}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			if now := clock.Now(); now.After(last) {
				last = now
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	total, most := 0, 0
	for _, k := range polls {
		total += k
		most = max(most, k)
	}
	t.Logf("%d tasks of %s: %d polls (%.2f per task, at most %d for one), last seen done %s after the tasks ended",
		n, T, total, float64(total)/n, most, last.Sub(start)-T)
	if most > 15 {
		t.Errorf("a task cost %d polls, want at most 15", most)
	}
	if per, bound := float64(total)/n, T.Seconds()/steps.DefaultMaxInterval.Seconds()+2; per > bound {
		t.Errorf("%.2f polls per task, want at most %.1f", per, bound)
	}
}
