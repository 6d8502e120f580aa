package liveview

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/termtext"
)

// The live view redraws the run in place on a terminal with Bubble Tea: one
// line per step and per fan-out item, a progress line, and a final frame left
// in the scrollback (the CLI prints the summary table after it). It never
// reads the keyboard and never installs signal handlers: Ctrl-C belongs to
// the CLI, which interrupts the engine; the engine then reports it and the
// view draws it.

const (
	liveFPS      = 12                     // redraws per second at most
	liveTick     = 150 * time.Millisecond // spinner, elapsed time and size polling
	liveSettle   = 300 * time.Millisecond // see item.state
	liveFallback = 24                     // lines when the terminal height is unknown
)

// Options configure the live view.
type Options struct {
	Color bool
	// Width is the terminal's width (0 when unknown); the size is polled
	// while running.
	Width int
	// Redact replaces secrets in messages before they are cut to the
	// terminal's width (a cut secret would no longer match a redacting
	// writer's replacement). Nil: none.
	Redact func(string) string
}

// New starts the live view on w, the terminal's stdout. Feed it events
// with Event and stop it with Close, which leaves the final frame.
func New(w io.Writer, o Options) *View {
	return startLiveView(w, liveOptions{
		color:  o.Color,
		width:  o.Width,
		size:   stdoutSize,
		now:    time.Now,
		redact: o.Redact,
	})
}

// newLiveView is New with the options the tests use.
func newLiveView(w io.Writer, color bool, width int) *View {
	return New(w, Options{Color: color, Width: width})
}

type liveOptions struct {
	color  bool
	width  int
	size   func() (w, h int, ok bool) // polled while running; nil: fixed size
	now    func() time.Time
	redact func(string) string
}

// stdoutSize reads the terminal size of stdout: the live view is only used
// when stdout is a terminal, and resizes must be followed.
func stdoutSize() (int, int, bool) {
	w, h, err := term.GetSize(int(os.Stdout.Fd()))
	return w, h, err == nil && w > 0 && h > 0
}

// View forwards events into the Bubble Tea program without blocking the
// engine: Event appends to a queue and wakes a forwarder, which hands batches
// to the program's message loop.
type View struct {
	prog *tea.Program

	mu     sync.Mutex
	queue  []engine.Event
	closed bool

	wake      chan struct{} // capacity 1: "the queue has something"
	stop      chan struct{} // closed by Close: drain and return
	fwdDone   chan struct{}
	runDone   chan struct{}
	closeOnce sync.Once
}

type eventsMsg []engine.Event
type finishMsg struct{}
type tickMsg struct {
	w, h int
	ok   bool
}

func startLiveView(w io.Writer, o liveOptions) *View {
	m := newLiveModel(o)
	if o.size != nil {
		if cw, ch, ok := o.size(); ok {
			m.width, m.height = cw, ch
		}
	}
	v := &View{
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		fwdDone: make(chan struct{}),
		runDone: make(chan struct{}),
	}
	v.prog = tea.NewProgram(m,
		tea.WithOutput(w),
		tea.WithInput(nil),
		tea.WithoutSignalHandler(),
		tea.WithoutBracketedPaste(),
		tea.WithFPS(liveFPS),
	)
	go func() {
		defer close(v.runDone)
		// An error here means the terminal went away; the run goes on and
		// the summary still follows.
		_, _ = v.prog.Run()
	}()
	// The renderer cuts lines to its own idea of the size; give it ours.
	if m.width > 0 && m.height > 0 {
		go v.prog.Send(tea.WindowSizeMsg{Width: m.width, Height: m.height})
	}
	go v.forward()
	return v
}

// Event is the engine's sink: safe from many goroutines, never blocks on the
// terminal.
func (v *View) Event(ev engine.Event) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.queue = append(v.queue, ev)
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *View) forward() {
	defer close(v.fwdDone)
	for {
		var stopping bool
		select {
		case <-v.wake:
		case <-v.stop:
			stopping = true
		}
		v.mu.Lock()
		batch := v.queue
		v.queue = nil
		v.mu.Unlock()
		if len(batch) > 0 {
			v.prog.Send(eventsMsg(batch))
		}
		if stopping {
			return
		}
	}
}

// Say prints text above the live frame, where it stays: a question the run
// asks in this terminal (an approval gate). Written to the terminal any
// other way it would be drawn over by the next frame, unseen.
func (v *View) Say(text string) {
	v.mu.Lock()
	closed := v.closed
	v.mu.Unlock()
	if !closed {
		// Each line clears what an earlier frame left after it (a long
		// line wraps onto a row the renderer does not erase).
		v.prog.Println(strings.ReplaceAll(text, "\n", ansi.EraseLineRight+"\n") + ansi.EraseLineRight)
	}
}

// Close delivers every queued event, draws the final frame and returns once
// it is written and the terminal is restored (cursor shown).
func (v *View) Close() {
	v.closeOnce.Do(func() {
		v.mu.Lock()
		v.closed = true
		v.mu.Unlock()
		close(v.stop)
		<-v.fwdDone
		v.prog.Send(finishMsg{}) // a no-op if the program already ended
		<-v.runDone
	})
}

// ---- the model ----

type liveStyles struct {
	ok, fail, warn, run, dim, bold lipgloss.Style
}

func newLiveStyles(color bool) liveStyles {
	r := lipgloss.NewRenderer(io.Discard)
	if color {
		// Basic ANSI colours: every terminal that has colour has these.
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return liveStyles{
		ok:   r.NewStyle().Foreground(lipgloss.Color("2")),
		fail: r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		warn: r.NewStyle().Foreground(lipgloss.Color("3")),
		run:  r.NewStyle().Foreground(lipgloss.Color("6")),
		dim:  r.NewStyle().Faint(true),
		bold: r.NewStyle().Bold(true),
	}
}

// unit is one step execution: a top-level step, or one item's step.
type unit struct {
	state   string // waiting, running, retrying, or a final status
	stage   string // the task's stage (step_progress)
	started time.Time
	ended   time.Time
	dur     time.Duration
	attempt int // the attempt that comes next, when retrying
	max     int
	delay   time.Duration
	err     string
}

func (u *unit) finished() bool {
	switch u.state {
	case "waiting", "running", "retrying", "":
		return false
	}
	return true
}

// row is a line of the top level: a step, or a fan-out node with its items.
type row struct {
	name string
	u    unit
	fan  *fan
}

type fan struct {
	total    int
	parents  map[string]bool // parent items seen (a fan-out nested in a group item)
	ended    map[string]bool // parent items whose fan-out finished
	group    bool            // items run a group of steps, not one step
	children []string        // the group's steps in first-seen order
	items    map[string]*item
	finished bool
}

type item struct {
	label   string
	index   int
	steps   map[string]*unit
	current string // the step that started last
	first   time.Time
	last    time.Time // the last step's end
}

type liveModel struct {
	o      liveOptions
	st     liveStyles
	width  int
	height int
	spin   int
	final  bool

	started  bool
	runID    string
	workflow string
	t0       time.Time
	status   string
	runDur   time.Duration
	requests int

	rows   []*row
	byName map[string]*row
	fans   map[string]*fan
}

func newLiveModel(o liveOptions) *liveModel {
	if o.now == nil {
		o.now = time.Now
	}
	return &liveModel{o: o, st: newLiveStyles(o.color), width: o.width, byName: map[string]*row{}, fans: map[string]*fan{}}
}

func (m *liveModel) Init() tea.Cmd { return m.tick() }

func (m *liveModel) tick() tea.Cmd {
	size := m.o.size
	return tea.Tick(liveTick, func(time.Time) tea.Msg {
		if size == nil {
			return tickMsg{}
		}
		w, h, ok := size()
		return tickMsg{w: w, h: h, ok: ok}
	})
}

func (m *liveModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case eventsMsg:
		for _, ev := range msg {
			m.apply(ev)
		}
	case tickMsg:
		if m.final {
			return m, nil
		}
		m.spin++
		var cmds []tea.Cmd
		if msg.ok && (msg.w != m.width || msg.h != m.height) {
			m.width, m.height = msg.w, msg.h
			sz := tea.WindowSizeMsg{Width: msg.w, Height: msg.h}
			cmds = append(cmds, func() tea.Msg { return sz })
		}
		return m, tea.Batch(append(cmds, m.tick())...)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case finishMsg:
		m.final = true
		return m, tea.Quit
	}
	return m, nil
}

// clean makes a message safe for one terminal line: secrets redacted first,
// then control characters (a server message could carry escape sequences).
func (m *liveModel) clean(s string) string {
	if m.o.redact != nil {
		s = m.o.redact(s)
	}
	return strings.TrimSpace(termtext.Line(s))
}

func (m *liveModel) now() time.Time { return m.o.now() }

func evTime(ev engine.Event, now func() time.Time) time.Time {
	if ev.Time.IsZero() {
		return now()
	}
	return ev.Time
}

func (m *liveModel) apply(ev engine.Event) {
	t := evTime(ev, m.o.now)
	switch ev.Type {
	case "run_started":
		m.started, m.runID, m.workflow, m.t0 = true, ev.RunID, m.clean(ev.Workflow), t
		return
	case "run_finished":
		m.status, m.runDur = string(ev.Status), ev.Duration
		if m.t0.IsZero() {
			m.t0 = t.Add(-ev.Duration)
		}
		return
	case "request":
		m.requests++
		return
	}
	if !m.started {
		m.started, m.t0 = true, t
	}
	// A fan-out node reports its size; its items report without it.
	if ev.Total > 0 {
		r := m.row(ev.Step)
		f := r.fan
		if f == nil {
			f = &fan{parents: map[string]bool{}, ended: map[string]bool{}, items: map[string]*item{}}
			r.fan, m.fans[ev.Step] = f, f
		}
		switch ev.Type {
		case "step_started":
			if !f.parents[ev.Item] {
				f.parents[ev.Item] = true
				f.total += ev.Total
			}
			if r.u.started.IsZero() {
				r.u.started = t
			}
			r.u.state = "running"
		case "step_finished":
			f.ended[ev.Item] = true
			f.finished = len(f.ended) >= len(f.parents)
			r.u.state, r.u.dur, r.u.ended, r.u.err = string(ev.Status), ev.Duration, t, m.clean(ev.Error)
		}
		return
	}
	if ev.Item != "" {
		if f, child, ok := m.fanOf(ev.Step); ok {
			m.applyUnit(m.itemUnit(f, child, ev, t), ev, t)
			return
		}
	}
	m.applyUnit(&m.row(termtext.Line(ev.Label())).u, ev, t)
}

// fanOf finds the fan-out an item's event belongs to: the step itself (a
// single step fanned out) or the nearest enclosing group ("rollout" for
// "rollout.clone").
func (m *liveModel) fanOf(step string) (*fan, string, bool) {
	if f, ok := m.fans[step]; ok {
		return f, "", true
	}
	for p := step; ; {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return nil, "", false
		}
		p = p[:i]
		if f, ok := m.fans[p]; ok {
			return f, step[i+1:], true
		}
	}
}

func (m *liveModel) row(name string) *row {
	r, ok := m.byName[name]
	if !ok {
		r = &row{name: name, u: unit{state: "waiting"}}
		m.byName[name] = r
		m.rows = append(m.rows, r)
	}
	return r
}

func (m *liveModel) itemUnit(f *fan, child string, ev engine.Event, t time.Time) *unit {
	it, ok := f.items[ev.Item]
	if !ok {
		it = &item{label: m.clean(ev.Item), index: len(f.items), steps: map[string]*unit{}, first: t}
		if ev.Index != nil {
			it.index = *ev.Index
		}
		f.items[ev.Item] = it
	}
	if child != "" {
		f.group = true
		if !contains(f.children, child) {
			f.children = append(f.children, child)
		}
	}
	u, ok := it.steps[child]
	if !ok {
		u = &unit{state: "waiting"}
		it.steps[child] = u
	}
	if ev.Type == "step_started" {
		it.current = child
	}
	if ev.Type == "step_finished" && t.After(it.last) {
		it.last = t
	}
	return u
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (m *liveModel) applyUnit(u *unit, ev engine.Event, t time.Time) {
	switch ev.Type {
	case "step_started":
		u.state, u.started, u.stage, u.err = "running", t, "", ""
	case "step_progress":
		if !u.finished() {
			u.stage = m.clean(ev.Message)
		}
	case "step_retrying":
		// Attempt is the attempt that failed; the next one is shown.
		u.state, u.attempt, u.max, u.delay, u.err = "retrying", ev.Attempt+1, ev.MaxAttempts, ev.Delay, m.clean(ev.Error)
		if u.started.IsZero() {
			u.started = t
		}
	case "step_finished":
		u.state, u.dur, u.ended, u.err = string(ev.Status), ev.Duration, t, m.clean(ev.Error)
		if u.started.IsZero() {
			u.started = t.Add(-ev.Duration)
		}
	}
}

// state is an item's state: failed as soon as one of its steps failed,
// running while one runs, and done when all have finished. Between two steps
// of a group (a few microseconds, unless the next one waits for a lock) an
// item is not yet done: it counts as done once its fan-out finished, or when
// it finished every step the group is known to have and nothing followed for
// liveSettle.
func (it *item) state(f *fan, now time.Time, final bool) (string, *unit, string) {
	var cur *unit
	curName := it.current
	finals := map[string]int{}
	for name, u := range it.steps {
		if u.state == "failed" {
			return "failed", u, name
		}
		if !u.finished() {
			if cur == nil || name == it.current {
				cur, curName = u, name
			}
			continue
		}
		finals[u.state]++
	}
	if cur != nil {
		return cur.state, cur, curName
	}
	if f.group && !f.finished && !final {
		if len(it.steps) < len(f.children) || now.Sub(it.last) < liveSettle {
			return "running", nil, ""
		}
	}
	// One word for the whole item.
	switch {
	case finals["interrupted"] > 0:
		return "interrupted", nil, ""
	case finals["not_run"] > 0:
		return "not_run", nil, ""
	case finals["succeeded"] > 0:
		return "succeeded", nil, ""
	case finals["unchanged"] > 0:
		return "unchanged", nil, ""
	default:
		return "skipped", nil, ""
	}
}

// fanCounts sums a fan-out's items by state; avg is the mean duration of the
// items done.
type fanCounts struct {
	done, failed, running, retrying, waiting, notRun, interrupted int
	avg                                                           time.Duration
	runningAge                                                    time.Duration // summed elapsed of running items
}

type itemView struct {
	it    *item
	state string
	u     *unit
	step  string
	rank  int // display order: failed, retrying, running, the rest
}

func stateRank(s string) int {
	switch s {
	case "failed":
		return 0
	case "retrying":
		return 1
	case "running":
		return 2
	default:
		return 3
	}
}

func (m *liveModel) fanItems(f *fan) ([]itemView, fanCounts) {
	now := m.now()
	var c fanCounts
	var sum time.Duration
	views := make([]itemView, 0, len(f.items))
	for _, it := range f.items {
		st, u, step := it.state(f, now, m.final)
		views = append(views, itemView{it: it, state: st, u: u, step: step})
		switch st {
		case "failed":
			c.failed++
		case "running":
			c.running++
			c.runningAge += now.Sub(it.first)
		case "retrying":
			c.retrying++
			c.runningAge += now.Sub(it.first)
		case "not_run":
			c.notRun++
		case "interrupted":
			c.interrupted++
		default:
			c.done++
			sum += it.last.Sub(it.first)
		}
	}
	if c.done > 0 {
		c.avg = sum / time.Duration(c.done)
	}
	c.waiting = f.total - len(f.items)
	if c.waiting < 0 {
		c.waiting = 0
	}
	if f.finished || m.final {
		// Items never started once a fan-out stopped did not run.
		c.notRun += c.waiting
		c.waiting = 0
	}
	return views, c
}

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// look is how a state is drawn: an icon and a word, in one style. A step
// still running when the view is final was stopped.
func (m *liveModel) look(state string) (style lipgloss.Style, icon, word string) {
	switch state {
	case "succeeded":
		return m.st.ok, "✓", "done"
	case "unchanged":
		return m.st.ok, "=", "unchanged"
	case "failed":
		return m.st.fail, "✗", "failed"
	case "retrying":
		return m.st.warn, "↻", "retrying"
	case "interrupted":
		return m.st.warn, "■", "interrupted"
	case "running":
		if m.final {
			return m.st.warn, "■", "stopped"
		}
		return m.st.run, spinFrames[m.spin%len(spinFrames)], "running"
	case "not_run":
		return m.st.dim, "-", "not run"
	case "skipped":
		return m.st.dim, "-", "skipped"
	}
	return m.st.dim, "·", "waiting"
}

func (m *liveModel) icon(state string) string {
	style, icon, _ := m.look(state)
	return style.Render(icon)
}

func (m *liveModel) word(state string) string {
	style, _, word := m.look(state)
	return style.Render(word)
}

// FormatDuration prints durations the way people read them: 850ms, 4.2s, 3m05s, 1h02m.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// detail is what follows the state word: elapsed or duration, stage, retry,
// error.
func (m *liveModel) detail(u *unit, now time.Time) string {
	if u == nil {
		return ""
	}
	var parts []string
	switch u.state {
	case "running":
		if !u.started.IsZero() {
			parts = append(parts, FormatDuration(now.Sub(u.started)))
		}
		if u.stage != "" {
			parts = append(parts, u.stage)
		}
	case "retrying":
		parts = append(parts, m.st.warn.Render(fmt.Sprintf("%d/%d", u.attempt, u.max)))
		if u.delay > 0 {
			parts = append(parts, "in "+FormatDuration(u.delay))
		}
		if u.err != "" {
			parts = append(parts, u.err)
		}
	case "waiting":
	default:
		if u.dur > 0 {
			parts = append(parts, FormatDuration(u.dur))
		}
		if u.err != "" {
			parts = append(parts, m.st.fail.Render(u.err))
		}
	}
	return strings.Join(parts, " · ")
}

func pad(s string, n int) string {
	if w := ansi.StringWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func (m *liveModel) View() string {
	if !m.started {
		if m.final {
			return ""
		}
		return m.st.dim.Render(spinFrames[m.spin%len(spinFrames)] + " starting…")
	}
	now := m.now()
	width := m.width
	if width <= 0 {
		width = 80
	}
	height := m.height
	if height <= 0 {
		height = liveFallback
	}
	// The renderer keeps the cursor on the line after the frame.
	budget := height - 1

	lines := []string{m.header(now)}
	spare := budget - (1 + len(m.rows) + 1) // header, rows, footer
	rows, fans := m.rowLines(now, spare)
	lines = append(lines, rows...)
	lines = append(lines, m.footer(now, fans.any, fans.items, fans.total))
	if len(lines) > budget && budget > 2 {
		// Too many steps for the screen: keep the header, the newest rows
		// and the footer.
		lines = append(append([]string{lines[0]}, lines[len(lines)-(budget-1):len(lines)-1]...), lines[len(lines)-1])
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	out := strings.Join(lines, "\n")
	if m.final {
		// Bubble Tea erases the line under the cursor when it stops; give
		// it an empty one so the frame's last line stays.
		out += "\n"
	}
	return out
}

// fanTotals sums the fan-outs of a frame for its footer.
type fanTotals struct {
	any   bool // the run has a fan-out
	items int  // items of all fan-outs
	total fanCounts
}

func (t *fanTotals) add(c fanCounts, items int) {
	t.any = true
	t.total.done += c.done
	t.total.failed += c.failed
	t.total.interrupted += c.interrupted
	t.total.running += c.running + c.retrying
	t.total.waiting += c.waiting
	t.total.notRun += c.notRun
	t.total.runningAge += c.runningAge
	if c.done > 0 {
		// Weighted, so several fan-outs average per item.
		t.total.avg += c.avg * time.Duration(c.done)
	}
	t.items += items
}

// rowLines is a line per step and, under each fan-out, its items' lines
// within spare lines in all.
func (m *liveModel) rowLines(now time.Time, spare int) ([]string, fanTotals) {
	nameW := 0
	for _, r := range m.rows {
		nameW = max(nameW, ansi.StringWidth(r.name))
	}
	nameW = min(nameW, 28)
	var lines []string
	var fans fanTotals
	for _, r := range m.rows {
		name := pad(ansi.Truncate(r.name, nameW, "…"), nameW)
		if r.fan == nil {
			lines = append(lines, fmt.Sprintf("  %s %s  %s", m.icon(r.u.state), name, joinNonEmpty(m.word(r.u.state), m.detail(&r.u, now))))
			continue
		}
		views, c := m.fanItems(r.fan)
		fans.add(c, r.fan.total)
		lines = append(lines, fmt.Sprintf("  %s %s  %s", m.icon(r.u.state), name, m.fanSummary(r, c)))
		itemLines := m.itemLines(views, c, spare, now)
		spare -= len(itemLines)
		lines = append(lines, itemLines...)
	}
	if fans.total.done > 0 {
		fans.total.avg /= time.Duration(fans.total.done)
	}
	return lines, fans
}

func joinNonEmpty(a, b string) string {
	if b == "" {
		return a
	}
	return a + "  " + b
}

func (m *liveModel) header(now time.Time) string {
	name := m.workflow
	if name == "" {
		name = "run"
	}
	id := ""
	if m.runID != "" {
		id = m.st.dim.Render(" · " + m.runID)
	}
	if m.status != "" {
		icon, word := m.st.ok.Render("✓"), m.st.ok.Render(m.status)
		switch m.status {
		case "succeeded":
		case "interrupted":
			icon, word = m.st.warn.Render("■"), m.st.warn.Render(m.status)
		default:
			icon, word = m.st.fail.Render("✗"), m.st.fail.Render(m.status)
		}
		return fmt.Sprintf("%s %s %s in %s%s", icon, m.st.bold.Render(name), word, FormatDuration(m.runDur), id)
	}
	if m.final {
		return fmt.Sprintf("%s %s %s%s", m.st.warn.Render("■"), m.st.bold.Render(name), m.st.warn.Render("stopped"), id)
	}
	return fmt.Sprintf("%s %s %s%s", m.st.run.Render(spinFrames[m.spin%len(spinFrames)]), m.st.bold.Render(name), "running", id)
}

func (m *liveModel) fanSummary(r *row, c fanCounts) string {
	parts := []string{fmt.Sprintf("%d/%d items done", c.done, r.fan.total)}
	if n := c.running + c.retrying; n > 0 {
		parts = append(parts, m.st.run.Render(fmt.Sprintf("%d running", n)))
	}
	if c.retrying > 0 {
		parts = append(parts, m.st.warn.Render(fmt.Sprintf("%d retrying", c.retrying)))
	}
	if c.failed > 0 {
		parts = append(parts, m.st.fail.Render(fmt.Sprintf("%d failed", c.failed)))
	}
	if c.interrupted > 0 {
		parts = append(parts, m.st.warn.Render(fmt.Sprintf("%d interrupted", c.interrupted)))
	}
	if c.waiting > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting", c.waiting))
	}
	if c.notRun > 0 {
		parts = append(parts, m.st.dim.Render(fmt.Sprintf("%d not run", c.notRun)))
	}
	if r.u.err != "" && r.u.state != "interrupted" {
		// The fan-out's own reason (too many failures, a canary failed).
		parts = append(parts, m.st.fail.Render(r.u.err))
	}
	return strings.Join(parts, " · ")
}

// itemLines chooses which items get a line within budget: failed first, then
// retrying, then running (in item order), then the most recently done; the
// rest are counted on one line. The final frame lists only failures (the
// summary table that follows lists everything).
func (m *liveModel) itemLines(views []itemView, c fanCounts, budget int, now time.Time) []string {
	if budget <= 0 {
		return nil
	}
	sortItemViews(views)
	listed := views
	if m.final {
		n := 0
		for n < len(views) && views[n].state == "failed" {
			n++
		}
		listed = views[:n]
	}
	shown := len(listed)
	restAny := shown < len(views) || c.waiting > 0
	if shown > budget || shown == budget && restAny {
		shown = budget - 1
		restAny = true
	}
	lines := m.itemViewLines(listed[:shown], now)
	if !restAny {
		return lines
	}
	if rest := m.restLine(views[shown:], shown > 0, c.waiting); rest != "" {
		lines = append(lines, rest)
	}
	return lines
}

// sortItemViews orders items failed, retrying, running (in item order),
// then the most recently done.
func sortItemViews(views []itemView) {
	for i := range views {
		views[i].rank = stateRank(views[i].state)
	}
	slices.SortFunc(views, func(a, b itemView) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.rank != 1 && a.rank != 2 && !a.it.last.Equal(b.it.last) {
			return b.it.last.Compare(a.it.last) // newest first
		}
		return a.it.index - b.it.index
	})
}

// itemViewLines is a line for each of views, labels and steps aligned.
func (m *liveModel) itemViewLines(views []itemView, now time.Time) []string {
	labelW, stepW := 0, 0
	for _, v := range views {
		labelW = max(labelW, ansi.StringWidth(v.it.label))
		stepW = max(stepW, ansi.StringWidth(v.step))
	}
	labelW = min(labelW, 32)
	var lines []string
	for _, v := range views {
		label := pad(ansi.Truncate(v.it.label, labelW, "…"), labelW)
		step := ""
		if stepW > 0 {
			step = pad(v.step, stepW) + "  "
		}
		detail := m.detail(v.u, now)
		if v.u == nil {
			// A whole item: its time from first start to last end.
			if v.state == "running" {
				detail = FormatDuration(now.Sub(v.it.first))
			} else {
				detail = FormatDuration(v.it.last.Sub(v.it.first))
			}
		}
		lines = append(lines, fmt.Sprintf("      %s %s  %s%s", m.icon(v.state), label, step, joinNonEmpty(m.word(v.state), detail)))
	}
	return lines
}

// restLine counts what has no line of its own; "" when nothing is left.
// more says some items of the same states were listed above.
func (m *liveModel) restLine(rest []itemView, more bool, waiting int) string {
	var rc fanCounts
	for _, v := range rest {
		switch v.state {
		case "failed":
			rc.failed++
		case "running", "retrying":
			rc.running++
		case "interrupted":
			rc.interrupted++
		case "not_run":
		default:
			rc.done++
		}
	}
	var parts []string
	add := func(n int, s string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	prefix := ""
	if more {
		prefix = "more "
	}
	add(rc.running, prefix+"running")
	add(rc.failed, prefix+"failed")
	add(rc.interrupted, prefix+"interrupted")
	add(rc.done, "done")
	add(waiting, "waiting")
	if len(parts) == 0 {
		return ""
	}
	return m.st.dim.Render("      … " + strings.Join(parts, ", "))
}

// footer is the overall progress: items done of total, elapsed, and an
// estimate of the time left from the average item duration and the current
// parallelism.
func (m *liveModel) footer(now time.Time, haveFan bool, itemsTotal int, c fanCounts) string {
	elapsed := now.Sub(m.t0)
	if m.status != "" && m.runDur > 0 {
		elapsed = m.runDur
	}
	var parts []string
	if haveFan {
		parts = append(parts, fmt.Sprintf("%d/%d items done", c.done, itemsTotal))
		if c.failed > 0 {
			parts = append(parts, m.st.fail.Render(fmt.Sprintf("%d failed", c.failed)))
		}
		if c.interrupted > 0 {
			parts = append(parts, m.st.warn.Render(fmt.Sprintf("%d interrupted", c.interrupted)))
		}
	} else {
		done := 0
		for _, r := range m.rows {
			if r.u.finished() {
				done++
			}
		}
		parts = append(parts, fmt.Sprintf("%d steps done", done))
	}
	parts = append(parts, FormatDuration(elapsed)+" elapsed")
	if eta, ok := estimate(c); ok && m.status == "" && !m.final {
		parts = append(parts, "about "+FormatDuration(eta)+" left")
	}
	if m.requests > 0 {
		parts = append(parts, fmt.Sprintf("%d requests", m.requests))
	}
	return "  " + strings.Join(parts, m.st.dim.Render(" · "))
}

// estimate is the time left: the work left (waiting items at the average
// item duration, plus what running items still need) spread over the items
// running now.
func estimate(c fanCounts) (time.Duration, bool) {
	if c.done == 0 || c.avg <= 0 {
		return 0, false
	}
	running := c.running + c.retrying
	if running == 0 && c.waiting == 0 {
		return 0, false
	}
	left := time.Duration(c.waiting) * c.avg
	if running > 0 {
		if rem := time.Duration(running)*c.avg - c.runningAge; rem > 0 {
			left += rem
		}
	}
	par := running
	if par < 1 {
		par = 1
	}
	return left / time.Duration(par), true
}
