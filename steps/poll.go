package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// The polling policy of task waits (task.wait and `wait: true`); see
// docs/polling.md for the reasoning and the figures.
//
// Cold (no task of this kind has finished yet in this run): the waits of
// one kind share one schedule of polling instants ("ticks"), each taken by
// one wait. Alone, a wait polls InitialInterval after it began and then
// each interval is Growth-1 times what has elapsed (plus InitialInterval),
// capped at MaxInterval: a 20-minute task costs 15 polls. With N waits of
// the kind (a fan-out whose tasks started together) the ticks come N times
// as often in log-time, never finer than Overshoot of the elapsed time, so
// the fan-out as a whole polls finely while each task polls no more than
// it would alone: the first task seen done teaches the others.
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
	// MaxInterval caps the interval between polls (default 5m: with a
	// shorter cap a 20-minute task costs more than 15 polls); a warm wait
	// may sleep longer once, straight to the learned finish.
	MaxInterval time.Duration
	// Timeout ends a wait (default 1h). Publishing can take half an hour.
	Timeout time.Duration
	// Growth is the cold schedule's factor (default 1.6): alone, a wait
	// polls at elapsed t, then Growth·t + InitialInterval.
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
	DefaultMaxInterval     = 5 * time.Minute
	DefaultPollTimeout     = time.Hour
	DefaultGrowth          = 1.6
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
	// low and median are the durations' 10th percentile and median, kept
	// as they arrive: every sleep of every wait plans by them (2,000 waits
	// sorted a copy of the window each time).
	low, median time.Duration
	// changed ends (and is replaced) when the waits of this kind must
	// re-plan; wake ends it. A context rather than a channel: a sleeping
	// wait hooks onto it with context.AfterFunc, not with a goroutine of
	// its own (2,000 waits of a rollout sleep at once).
	changed context.Context
	wake    context.CancelFunc

	// The shared cold schedules: waits of this kind in progress, in
	// cohorts of waits that began close together.
	waiting int
	cohorts []*cohort
	// failed: a task of this kind failed while the kind was cold. Its
	// duration teaches nothing, and the other waits may hold ticks far
	// ahead: each goes back to its own schedule so that failures surface
	// as fast as they did alone.
	failed bool
}

// cohort is the waits of one kind that began within cohortWindow initial
// intervals of each other (a fan-out): they share one cold schedule. A wait
// that begins long after its kind's other waits gets its own, so that it
// is not scheduled by their elapsed time.
type cohort struct {
	origin   time.Time // the earliest start; elapsed is measured from it
	lastTick time.Time // the latest tick claimed
	waiting  int
}

// cohortWindow is how many initial intervals apart waits may begin and
// still share a cold schedule.
const cohortWindow = 10

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
	before := k.low
	k.durations = append(k.durations, d)
	if len(k.durations) > p.cfg.Window {
		k.durations = k.durations[len(k.durations)-p.cfg.Window:]
	}
	k.low, k.median = percentiles(k.durations)
	// Wake the other waits of this kind only when what they plan by moved:
	// the kind was just learned, or its low end shifted by more than the
	// allowed overshoot. Waking every wait on every finished task made
	// 2,000 clones cost millions of wake-ups (BENCHMARKS.md).
	if before == 0 || math.Abs(float64(k.low-before)) > p.cfg.Overshoot*float64(before) {
		k.renew()
	}
}

// renew wakes the waits of the kind (under p.mu).
func (k *kindStats) renew() {
	if k.wake != nil {
		k.wake()
	}
	k.changed, k.wake = context.WithCancel(context.Background())
}

// percentiles returns the 10th percentile (the low end) and the median of
// ds (zeros when empty).
func percentiles(ds []time.Duration) (low, median time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	d := slices.Clone(ds)
	slices.Sort(d)
	return d[int(0.1*float64(len(d)-1))], d[(len(d)-1)/2]
}

func (p *Poller) statsLocked(kind string) *kindStats {
	k := p.kinds[kind]
	if k == nil {
		k = &kindStats{}
		k.renew()
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
	return k.low, k.median, len(k.durations)
}

func (p *Poller) changed(kind string) context.Context {
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

// warmNext returns when (as time elapsed since the wait began) to poll
// next on the learned schedule of kind, given the elapsed time of the last
// poll; ok is false while the kind is cold.
func (p *Poller) warmNext(kind string, pol engine.PollingPolicy, last time.Duration) (at time.Duration, ok bool) {
	low, _, n := p.Expected(kind)
	if n == 0 {
		return 0, false
	}
	if last < low {
		return low, true
	}
	step := time.Duration(p.cfg.Overshoot * float64(last))
	floor := time.Duration(p.cfg.Overshoot * float64(pol.InitialInterval))
	return last + min(max(step, floor, time.Millisecond), pol.MaxInterval), true
}

// join counts a wait of kind in progress and places it in a cohort (for
// the shared cold schedule); the returned func undoes it.
func (p *Poller) join(kind string, start time.Time, pol engine.PollingPolicy) (leave func(), c *cohort) {
	if kind == "" {
		return func() {}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.statsLocked(kind)
	if k.waiting == 0 {
		k.cohorts, k.failed = nil, false
	}
	window := time.Duration(cohortWindow) * pol.InitialInterval
	live := k.cohorts[:0]
	for _, co := range k.cohorts {
		if co.waiting > 0 {
			live = append(live, co)
			if d := start.Sub(co.origin); d <= window && d >= -window {
				c = co
			}
		}
	}
	k.cohorts = live
	if c == nil {
		c = &cohort{origin: start}
		k.cohorts = append(k.cohorts, c)
	}
	if start.Before(c.origin) {
		c.origin = start
	}
	c.waiting++
	k.waiting++
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		c.waiting--
		k.waiting--
	}, c
}

// coldFailure records that a task of kind failed. While the kind is cold
// the other waits stop sharing ticks and are woken to re-plan on their own
// schedules (see kindStats.failed).
func (p *Poller) coldFailure(kind string) {
	if kind == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.statsLocked(kind)
	if len(k.durations) > 0 || k.failed {
		return
	}
	k.failed = true
	k.renew()
}

// coldTick claims the next instant of its cohort's shared cold schedule
// for a wait of kind that began at start and last polled at lastPoll
// (zero: never).
//
// The schedule is a sequence in elapsed time e (from the cohort's origin):
// e' = e + r·(e + c), with c = InitialInterval/(Growth-1) and r =
// max(Growth^(1/N) - 1, Overshoot) for N waits: for one wait that is the
// cold schedule e' = Growth·e + InitialInterval; N waits take the ticks in
// turn, so together they sample N times as finely (in log-time) at the
// same cost per task, and no finer than Overshoot needs.
func (p *Poller) coldTick(kind string, co *cohort, pol engine.PollingPolicy, start, lastPoll, now time.Time) time.Time {
	g := p.cfg.Growth
	alone := func() time.Time {
		if lastPoll.IsZero() {
			return start.Add(pol.InitialInterval)
		}
		iv := (g-1)*float64(lastPoll.Sub(start)) + float64(pol.InitialInterval)
		return lastPoll.Add(time.Duration(min(iv, float64(pol.MaxInterval))))
	}
	if kind == "" || co == nil {
		return alone() // nothing to share
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.statsLocked(kind).failed {
		return alone()
	}
	n := max(co.waiting, 1)
	r := max(math.Pow(g, 1/float64(n))-1, p.cfg.Overshoot)
	c := float64(pol.InitialInterval) / (g - 1)
	var tick time.Time
	if co.lastTick.IsZero() {
		tick = co.origin.Add(pol.InitialInterval)
	} else {
		// A sequence left behind (its waits slept on later ticks, or
		// left) continues from now, not with a burst of instant polls.
		from := co.lastTick
		if from.Before(now) {
			from = now
		}
		e := float64(from.Sub(co.origin))
		iv := min(r*(e+c), float64(pol.MaxInterval))
		tick = from.Add(time.Duration(iv))
	}
	// A wait never polls sooner than InitialInterval after it began, and
	// never waits longer than MaxInterval between its own polls (a tick
	// far ahead is normal for most waits of a large fan-out: the first
	// task seen done wakes them).
	if earliest := start.Add(pol.InitialInterval); tick.Before(earliest) {
		tick = earliest
	}
	base := lastPoll
	if base.IsZero() {
		base = start
	}
	if latest := base.Add(pol.MaxInterval); tick.After(latest) {
		tick = latest
	}
	if tick.After(co.lastTick) {
		co.lastTick = tick
	}
	return tick
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
// Stages are compared case-insensitively; a stage the docs do not name is
// reported through Progress at every poll, never waited on silently.
func (p *Poller) Wait(ctx context.Context, o WaitOptions) (*frame.Task, error) {
	w := p.startWait(o)
	defer func() { w.leave() }()
	for {
		woken, err := w.sleepUntilNextPoll(ctx)
		if err != nil {
			return w.lastTask, err
		}
		if woken {
			continue // another task of this kind finished: re-plan
		}
		t, err := w.poll(ctx)
		if end, task, err := w.judge(ctx, t, err); end {
			return task, err
		}
		if w.last >= w.pol.Timeout {
			return w.lastTask, w.timeoutError()
		}
	}
}

// taskWait is one Wait in progress and what it has seen so far.
type taskWait struct {
	p     *Poller
	o     WaitOptions
	pol   engine.PollingPolicy
	start time.Time
	// kind is the task kind whose timings the wait shares; it may change
	// once a poll shows the task's own kind.
	kind  string
	leave func() // leaves kind's cohort
	co    *cohort

	last        time.Duration // elapsed at the last poll
	lastPoll    time.Time     // when the last poll was made (zero: none yet)
	lastPending time.Duration // elapsed at the last poll that saw the task unfinished
	lastTask    *frame.Task
	lastErr     error
}

func (p *Poller) startWait(o WaitOptions) *taskWait {
	w := &taskWait{p: p, o: o, pol: p.policy(o.Policy), start: o.Started, kind: o.Kind}
	if w.start.IsZero() {
		w.start = p.cfg.Now()
	}
	w.leave, w.co = p.join(w.kind, w.start, w.pol)
	return w
}

// sleepUntilNextPoll sleeps until the next poll is due: the kind's learned
// timing when it has one, else the cohort's shared tick; never past the
// timeout. woken: another task of the kind finished first.
func (w *taskWait) sleepUntilNextPoll(ctx context.Context) (woken bool, err error) {
	now := w.p.cfg.Now
	at, warm := w.p.warmNext(w.kind, w.pol, w.last)
	if !warm {
		at = w.p.coldTick(w.kind, w.co, w.pol, w.start, w.lastPoll, now()).Sub(w.start)
	}
	at = min(at, w.pol.Timeout)
	if wait := at - now().Sub(w.start); wait > 0 {
		return w.p.sleep(ctx, w.o.Sleep, w.kind, wait)
	}
	return false, nil
}

// poll reads the task once, and moves the wait to the task's own kind
// once it shows one.
func (w *taskWait) poll(ctx context.Context) (*frame.Task, error) {
	t, err := w.o.Get(ctx)
	if err == nil && t == nil {
		err = errors.New("empty task status")
	}
	w.lastPoll = w.p.cfg.Now()
	w.last = w.lastPoll.Sub(w.start)
	if err == nil && t.Kind != "" && t.Kind != w.kind {
		w.leave()
		w.kind = t.Kind
		w.leave, w.co = w.p.join(w.kind, w.start, w.pol)
	}
	return t, err
}

// judge decides what a poll's answer means: end says the wait is over
// with task and err; otherwise the wait goes on (a pending stage, or a
// transient read error remembered for the timeout's message).
func (w *taskWait) judge(ctx context.Context, t *frame.Task, err error) (end bool, task *frame.Task, _ error) {
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return true, w.lastTask, ctx.Err()
		}
		if !transient(err) {
			return true, w.lastTask, err
		}
		w.lastErr = err
		w.progress(fmt.Sprintf("polling failed, will retry: %v", err))
	case StageIsDone(t.Stage):
		t.Stage = frame.StageDone // one spelling for expressions and the journal
		w.p.Observe(w.kind, observed(t, w.lastPending, w.last))
		return true, t, nil
	case StageIsFailed(t.Stage):
		w.p.coldFailure(w.kind)
		return true, t, &frame.TaskFailedError{Task: t}
	default:
		w.lastTask, w.lastErr, w.lastPending = t, nil, w.last
		w.progress(progressLine(t, w.last))
	}
	return false, nil, nil
}

func (w *taskWait) progress(msg string) {
	if w.o.Progress != nil {
		w.o.Progress(msg)
	}
}

// timeoutError names the task as last seen, and the last poll's error
// when the last poll failed.
func (w *taskWait) timeoutError() error {
	te := &WaitTimeoutError{Waited: w.last, Stage: "unknown", Name: w.kind}
	if w.lastTask != nil {
		te.TaskID, te.Name, te.Stage = w.lastTask.ID, taskName(w.lastTask), SanitizeStage(w.lastTask.Stage)
	}
	if w.lastErr != nil {
		return fmt.Errorf("%w (last poll: %v)", te, w.lastErr)
	}
	return te
}

// StageIsDone reports whether a task stage means success: "done", in any
// case (the docs write both done and "DONE").
func StageIsDone(stage string) bool {
	return strings.EqualFold(strings.TrimSpace(stage), frame.StageDone)
}

// StageIsFailed reports whether a task stage means the task ended without
// its effect. Only "failed" is documented; error, cancelled and canceled
// are the other names a server may use, in any case.
func StageIsFailed(stage string) bool {
	switch strings.ToLower(strings.TrimSpace(stage)) {
	case frame.StageFailed, "error", "cancelled", "canceled":
		return true
	}
	return false
}

// StageIsPending reports whether a stage is one of the documented
// unfinished stages (not_started, in_progress), in any case.
func StageIsPending(stage string) bool {
	switch strings.ToLower(strings.TrimSpace(stage)) {
	case frame.StageNotStarted, frame.StageInProgress:
		return true
	}
	return false
}

// SanitizeStage makes a server-sent stage safe to print: printable ASCII
// only (no terminal escapes, no newlines), at most 40 characters.
func SanitizeStage(stage string) string {
	var b strings.Builder
	for _, r := range stage {
		if b.Len() >= 40 {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r > 0x7e {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "(empty)"
	}
	return b.String()
}

// progressLine is the step_progress message of an unfinished poll. A stage
// the docs do not name is said so: the wait goes on (the task may still
// finish) but an operator sees it in the events and the live view.
func progressLine(t *frame.Task, elapsed time.Duration) string {
	stage := SanitizeStage(t.Stage)
	if !StageIsPending(t.Stage) {
		return fmt.Sprintf("%s: unknown stage %q (not a documented stage; still polling) %s", taskName(t), stage, elapsed.Round(time.Second))
	}
	return fmt.Sprintf("%s: %s %s", taskName(t), stage, elapsed.Round(time.Second))
}

// sleep sleeps d unless a task of kind finishes first (woken).
func (p *Poller) sleep(ctx context.Context, sleep func(context.Context, time.Duration) error, kind string, d time.Duration) (woken bool, err error) {
	changed := p.changed(kind)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if changed != nil {
		stop := context.AfterFunc(changed, cancel)
		defer stop()
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

// observed is how long t took from its creation, which is when a wait
// begins: finished_at - inserted_at (one clock, no skew), else the
// server's duration_sec (which a server may count from the task's start
// rather than its creation, so only a fallback), else the middle of the
// window in which this wait saw it finish.
func observed(t *frame.Task, lastPending, doneAt time.Duration) time.Duration {
	if t.FinishedAt != nil && t.InsertedAt != "" {
		f, ok1 := parseTaskTime(*t.FinishedAt)
		s, ok2 := parseTaskTime(t.InsertedAt)
		if ok1 && ok2 && f.After(s) {
			return f.Sub(s)
		}
	}
	if t.DurationSec != nil && *t.DurationSec > 0 {
		return time.Duration(*t.DurationSec * float64(time.Second))
	}
	return (lastPending + doneAt) / 2
}

// parseTaskTime reads a task timestamp: RFC 3339 as documented for tasks,
// or without a zone (as publish tasks' last_change is written); both ends
// of a difference come from the same server, so a missing zone cancels out.
func parseTaskTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
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
