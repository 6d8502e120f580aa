package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// The polling policy of task waits (task.wait and `wait: true`); see
// docs/polling.md for the reasoning and the figures.
//
// Cold (no task of this kind has finished yet in this run): the first poll
// comes InitialInterval after the wait began, and each interval is Growth
// times the previous one, capped at MaxInterval. A T-second task costs
// O(log T) polls until the cap.
//
// Warm (tasks of this kind already finished): tasks of one kind take about
// as long as each other (200 clones of one image), so the poller sleeps
// straight to the low end of what it observed (the 10th percentile of the
// durations, robust to a single slow outlier), then polls every
// Overshoot × elapsed (capped at MaxInterval). A task that takes at least
// that long is seen done at most Overshoot (15%) after it finished, with a
// poll or two.
//
// A task finishing wakes the other waits of its kind, so concurrent waits
// switch to the learned schedule as soon as the first of them is done.

// PollConfig holds the poller's knobs. Zero values mean the defaults.
type PollConfig struct {
	// InitialInterval is the first cold poll's delay (default 1s).
	InitialInterval time.Duration
	// MaxInterval caps the interval between polls (default 30s); a warm
	// wait may sleep longer once, straight to the learned finish.
	MaxInterval time.Duration
	// Timeout ends a wait (default 1h). Publishing can take half an hour.
	Timeout time.Duration
	// Growth multiplies the cold interval after each poll (default 1.5).
	Growth float64
	// Overshoot is the warm polling interval as a fraction of the elapsed
	// time, hence the most a wait adds to a task's duration (default 0.15).
	Overshoot float64
	// Window is how many durations are kept per task kind (default 64).
	Window int
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Defaults of PollConfig.
const (
	DefaultInitialInterval = time.Second
	DefaultMaxInterval     = 30 * time.Second
	DefaultPollTimeout     = time.Hour
	DefaultGrowth          = 1.5
	DefaultOvershoot       = 0.15
)

func (c PollConfig) withDefaults() PollConfig {
	if c.InitialInterval <= 0 {
		c.InitialInterval = DefaultInitialInterval
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.MaxInterval < c.InitialInterval {
		c.MaxInterval = c.InitialInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultPollTimeout
	}
	if c.Growth <= 1 {
		c.Growth = DefaultGrowth
	}
	if c.Overshoot <= 0 || c.Overshoot > 1 {
		c.Overshoot = DefaultOvershoot
	}
	if c.Window <= 0 {
		c.Window = 64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Poller schedules task polls and learns, per task kind, how long tasks
// take. One Poller is shared by all waits of a run; it is safe for
// concurrent use.
type Poller struct {
	cfg   PollConfig
	mu    sync.Mutex
	kinds map[string]*kindStats
}

type kindStats struct {
	durations []time.Duration // the last Window observations, in arrival order
	changed   chan struct{}   // closed (and replaced) on each observation
}

// NewPoller makes a Poller.
func NewPoller(c PollConfig) *Poller {
	return &Poller{cfg: c.withDefaults(), kinds: map[string]*kindStats{}}
}

// Config returns the poller's configuration with defaults applied.
func (p *Poller) Config() PollConfig { return p.cfg }

// Observe records that a task of kind took d.
func (p *Poller) Observe(kind string, d time.Duration) {
	if kind == "" || d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.statsLocked(kind)
	before := lowEnd(k.durations)
	k.durations = append(k.durations, d)
	if len(k.durations) > p.cfg.Window {
		k.durations = k.durations[len(k.durations)-p.cfg.Window:]
	}
	// Wake the other waits of this kind only when what they plan by moved:
	// the kind was just learned, or its low end shifted by more than the
	// allowed overshoot. Waking every wait on every finished task made
	// 2,000 clones cost millions of wake-ups (BENCHMARKS.md).
	after := lowEnd(k.durations)
	if before == 0 || math.Abs(float64(after-before)) > p.cfg.Overshoot*float64(before) {
		close(k.changed)
		k.changed = make(chan struct{})
	}
}

// lowEnd is the 10th percentile of ds (0 when empty).
func lowEnd(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	d := slices.Clone(ds)
	slices.Sort(d)
	return d[int(0.1*float64(len(d)-1))]
}

func (p *Poller) statsLocked(kind string) *kindStats {
	k := p.kinds[kind]
	if k == nil {
		k = &kindStats{changed: make(chan struct{})}
		p.kinds[kind] = k
	}
	return k
}

// Expected returns what the poller learned about kind: the low end (10th
// percentile) and the median of the observed durations, and how many were
// observed (0: nothing learned).
func (p *Poller) Expected(kind string) (low, median time.Duration, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.kinds[kind]
	if k == nil || len(k.durations) == 0 {
		return 0, 0, 0
	}
	d := slices.Clone(k.durations)
	slices.Sort(d)
	return d[int(0.1*float64(len(d)-1))], d[(len(d)-1)/2], len(d)
}

func (p *Poller) changed(kind string) <-chan struct{} {
	if kind == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked(kind).changed
}

// policy merges a step's polling policy over the poller's defaults.
func (p *Poller) policy(pol engine.PollingPolicy) engine.PollingPolicy {
	if pol.InitialInterval <= 0 {
		pol.InitialInterval = p.cfg.InitialInterval
	}
	if pol.MaxInterval <= 0 {
		pol.MaxInterval = p.cfg.MaxInterval
	}
	if pol.MaxInterval < pol.InitialInterval {
		pol.MaxInterval = pol.InitialInterval
	}
	if pol.Timeout <= 0 {
		pol.Timeout = p.cfg.Timeout
	}
	return pol
}

// next returns when (as time elapsed since the wait began) to poll next,
// given the elapsed time of the last poll and the number of polls so far.
func (p *Poller) next(kind string, pol engine.PollingPolicy, last time.Duration, polls int) time.Duration {
	if low, _, n := p.Expected(kind); n > 0 {
		if last < low {
			return low
		}
		step := time.Duration(p.cfg.Overshoot * float64(last))
		floor := time.Duration(p.cfg.Overshoot * float64(pol.InitialInterval))
		return last + min(max(step, floor, time.Millisecond), pol.MaxInterval)
	}
	iv := float64(pol.InitialInterval) * math.Pow(p.cfg.Growth, float64(polls))
	return last + time.Duration(min(iv, float64(pol.MaxInterval)))
}

// WaitOptions describe one wait.
type WaitOptions struct {
	// Kind is the task kind (clone_pool, ...) when known before the first
	// poll; the polled task's kind is used once known.
	Kind string
	// Policy overrides the poller's intervals and timeout where non-zero.
	Policy engine.PollingPolicy
	// Started is when the task was created, as near as the caller knows
	// (the mutation's return); zero means now.
	Started time.Time
	// Get polls the task once.
	Get func(ctx context.Context) (*frame.Task, error)
	// Sleep waits without holding the step's slot (StepContext.Sleep);
	// it must return early when its context ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress reports the task's stage (StepContext.Progress); optional.
	Progress func(msg string)
}

// WaitTimeoutError says a task did not finish within the wait's timeout.
type WaitTimeoutError struct {
	TaskID string
	Name   string // display name or kind
	Stage  string
	Waited time.Duration
}

func (e *WaitTimeoutError) Error() string {
	label := "task"
	if e.TaskID != "" {
		label += " " + e.TaskID
	}
	if e.Name != "" {
		label += " (" + e.Name + ")"
	}
	msg := fmt.Sprintf("%s not finished after %s", label, e.Waited.Round(time.Second))
	if e.Stage != "" {
		msg += " (stage " + e.Stage + ")"
	}
	return msg
}

// Unwrap makes the error a context.DeadlineExceeded, classified as a
// timeout by frame.Classify.
func (e *WaitTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Wait polls until the task is done (returning it), failed (returning it
// with a *frame.TaskFailedError), the timeout passes (*WaitTimeoutError) or
// ctx ends. Transient read errors (throttling, 5xx, network) are tolerated
// until the timeout: a wait must not fail an hour-long task for a blip.
func (p *Poller) Wait(ctx context.Context, o WaitOptions) (*frame.Task, error) {
	pol := p.policy(o.Policy)
	now := p.cfg.Now
	start := o.Started
	if start.IsZero() {
		start = now()
	}
	kind := o.Kind
	var (
		polls       int
		last        time.Duration // elapsed at the last poll
		lastPending time.Duration // elapsed at the last poll that saw the task unfinished
		lastTask    *frame.Task
		lastErr     error
	)
	for {
		at := min(p.next(kind, pol, last, polls), pol.Timeout)
		if wait := at - now().Sub(start); wait > 0 {
			woken, err := p.sleep(ctx, o.Sleep, kind, wait)
			if err != nil {
				return lastTask, err
			}
			if woken {
				continue // another task of this kind finished: re-plan
			}
		}
		t, err := o.Get(ctx)
		if err == nil && t == nil {
			err = errors.New("empty task status")
		}
		polls++
		last = now().Sub(start)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return lastTask, ctx.Err()
			}
			if !transient(err) {
				return lastTask, err
			}
			lastErr = err
			if o.Progress != nil {
				o.Progress(fmt.Sprintf("polling failed, will retry: %v", err))
			}
		case t.Stage == frame.StageDone:
			if t.Kind != "" {
				kind = t.Kind
			}
			p.Observe(kind, observed(t, lastPending, last))
			return t, nil
		case t.Stage == frame.StageFailed:
			return t, &frame.TaskFailedError{Task: t}
		default:
			lastTask, lastErr, lastPending = t, nil, last
			if t.Kind != "" {
				kind = t.Kind
			}
			if o.Progress != nil {
				o.Progress(fmt.Sprintf("%s: %s %s", taskName(t), t.Stage, last.Round(time.Second)))
			}
		}
		if last >= pol.Timeout {
			te := &WaitTimeoutError{Waited: last, Stage: "unknown", Name: kind}
			if lastTask != nil {
				te.TaskID, te.Name, te.Stage = lastTask.ID, taskName(lastTask), lastTask.Stage
			}
			if lastErr != nil {
				return lastTask, fmt.Errorf("%w (last poll: %v)", te, lastErr)
			}
			return lastTask, te
		}
	}
}

// sleep sleeps d unless a task of kind finishes first (woken).
func (p *Poller) sleep(ctx context.Context, sleep func(context.Context, time.Duration) error, kind string, d time.Duration) (woken bool, err error) {
	ch := p.changed(kind)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ch != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-ch:
				cancel()
			case <-stop:
			}
		}()
	}
	if err := sleep(sctx, d); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if sctx.Err() != nil {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// observed is how long t took: the server's duration_sec, else its
// finished_at - inserted_at (one clock, no skew), else the middle of the
// window in which this wait saw it finish.
func observed(t *frame.Task, lastPending, doneAt time.Duration) time.Duration {
	if t.DurationSec != nil && *t.DurationSec > 0 {
		return time.Duration(*t.DurationSec * float64(time.Second))
	}
	if t.FinishedAt != nil && t.InsertedAt != "" {
		f, err1 := time.Parse(time.RFC3339Nano, *t.FinishedAt)
		s, err2 := time.Parse(time.RFC3339Nano, t.InsertedAt)
		if err1 == nil && err2 == nil && f.After(s) {
			return f.Sub(s)
		}
	}
	return (lastPending + doneAt) / 2
}

func taskName(t *frame.Task) string {
	switch {
	case t.DisplayName != "":
		return t.DisplayName
	case t.Kind != "":
		return t.Kind
	}
	return "task " + t.ID
}

// transient reports whether a failed poll may succeed later.
func transient(err error) bool {
	var inv *frame.InvalidRequestError
	if errors.As(err, &inv) {
		return false
	}
	switch c, _ := frame.Classify(err); c {
	case frame.ClassThrottled, frame.ClassServerError, frame.ClassNetwork, frame.ClassTimeout:
		return true
	}
	return false
}
