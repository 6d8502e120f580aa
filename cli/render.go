package cli

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/runner"
)

// plainRenderer writes one timestamped line per state change: the output
// for CI logs and pipes (no control characters, no spinner).
type plainRenderer struct {
	mu       sync.Mutex
	w        io.Writer
	requests bool // also print each request (debug)
}

func (p *plainRenderer) Event(ev engine.Event) {
	var line string
	ts := ev.Time.UTC().Format("15:04:05")
	switch ev.Type {
	case "run_started":
		line = fmt.Sprintf("%s run %s started (%s)", ts, ev.RunID, ev.Workflow)
	case "step_started":
		line = fmt.Sprintf("%s %-9s %s", ts, "start", ev.Label())
	case "step_progress":
		line = fmt.Sprintf("%s %-9s %s: %s", ts, "progress", ev.Label(), ev.Message)
	case "step_retrying":
		line = fmt.Sprintf("%s %-9s %s: attempt %d/%d in %s: %s", ts, "retry", ev.Label(), ev.Attempt+1, ev.MaxAttempts, ev.Delay.Round(time.Millisecond), ev.Error)
	case "step_finished":
		line = fmt.Sprintf("%s %-9s %s (%s)", ts, ev.Status, ev.Label(), ev.Duration.Round(time.Millisecond))
		if ev.Error != "" {
			line += ": " + ev.Error
		}
	case "request":
		if !p.requests {
			return
		}
		line = fmt.Sprintf("%s %-9s %s %s -> %d (%s)", ts, "request", ev.Method, ev.Path, ev.HTTPStatus, ev.Duration.Round(time.Millisecond))
	case "run_finished":
		line = fmt.Sprintf("%s run %s %s (%s)", ts, ev.RunID, ev.Status, ev.Duration.Round(time.Millisecond))
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, termtext.Line(line))
}

// jsonRenderer writes JSON Lines events.
type jsonRenderer struct {
	w io.Writer
}

func newJSONRenderer(w io.Writer) *jsonRenderer {
	return &jsonRenderer{w: termtext.JSONWriter(w)}
}

// lineBuffers are the buffers events are encoded in (one per concurrent
// event, reused: a 2,000-store rollout writes 32,000 events).
var lineBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Event writes one event as a JSON line, in the shape engine.Event's
// MarshalJSON documents (docs/events.md), encoded by the calling goroutine
// without a lock, so concurrent steps do not queue behind each other's
// encoding. The line goes out in one Write.
func (j *jsonRenderer) Event(ev engine.Event) {
	buf := lineBuffers.Get().(*[]byte)
	line := append(ev.AppendJSON((*buf)[:0]), '\n')
	_, _ = j.w.Write(line)
	*buf = line
	lineBuffers.Put(buf)
}

// summaryRowsAll is how many rows the final table lists in full; a larger
// run lists only the rows that did not succeed (the recap follows, and
// `frameflow runs show RUN` has every row).
const summaryRowsAll = 60

// writeSummary prints the final table: one row per step and item. width
// cuts rows to a terminal's width, so that each stays one line (0: never
// cut, for pipes and files: every word of every reason).
func writeSummary(w io.Writer, res *engine.Result, width int) {
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tITEM\tSTATUS\tATTEMPTS\tDURATION\tERROR")
	counts := map[engine.Status]int{}
	hidden := 0
	for _, s := range res.Steps {
		counts[s.Status]++
		if len(res.Steps) > summaryRowsAll {
			switch s.Status {
			case engine.StatusSucceeded, engine.StatusUnchanged, engine.StatusSkipped:
				hidden++
				continue
			}
		}
		errMsg := termtext.Line(s.Error)
		item := termtext.Line(s.Item)
		if n, ok := fanOutCount(s); ok && item == "" {
			// A fan-out's own row says how many items it had, so "nothing
			// to do" (0 items) is visible, not just an absence of rows.
			item = fmt.Sprintf("(%d items)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", termtext.Line(s.Step), item, s.Status, s.Attempts, s.Duration.Round(time.Millisecond), errMsg)
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		// Sanitized before cutting, so a cut never splits an escape.
		if r := []rune(strings.TrimRight(line, " \n")); width > 0 && len(r) > width {
			line = string(r[:width-1]) + "…\n"
		}
		io.WriteString(w, line)
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d succeeded, unchanged or skipped rows not listed; frameflow runs show %s lists every one)\n", hidden, res.RunID)
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	fmt.Fprintf(w, "\nRun %s %s in %s: %s.\n", res.RunID, res.Status, res.Finished.Sub(res.Started).Round(time.Millisecond), strings.Join(parts, ", "))
}

// fanOutCount reports the number of items of a fan-out step's result.
func fanOutCount(s engine.StepResult) (int, bool) {
	if s.Outputs == nil {
		return 0, false
	}
	if _, ok := s.Outputs["items"]; !ok {
		return 0, false
	}
	switch n := s.Outputs["count"].(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

// JUnit XML: one test case per step and per item.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path, workflow string, res *engine.Result, red *Redactor) error {
	suite := junitSuite{Name: workflow, Time: fmt.Sprintf("%.3f", res.Finished.Sub(res.Started).Seconds())}
	steps := append([]engine.StepResult(nil), res.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Step < steps[j].Step })
	for _, s := range steps {
		name := s.Step
		if s.Item != "" {
			name += " [" + s.Item + "]"
		}
		c := junitCase{Name: termtext.Line(name), Classname: workflow + "." + s.Step, Time: fmt.Sprintf("%.3f", s.Duration.Seconds())}
		switch s.Status {
		case "failed":
			msg := red.String(termtext.Line(s.Error))
			c.Failure = &junitFailure{Message: msg, Text: msg}
			suite.Failures++
		case "skipped", "not_run":
			c.Skipped = &struct{}{}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	b, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// multiSink fans events out to several renderers.
func multiSink(sinks ...func(engine.Event)) engine.EventSink {
	return func(ev engine.Event) {
		for _, s := range sinks {
			if s != nil {
				s(ev)
			}
		}
	}
}

// recapItems is how many item names a recap line shows before "+N".
const recapItems = 8

// writeRecap ends a run that did not succeed: failures grouped by reason,
// most frequent first, then interrupted items and unknown outcomes, and how
// to continue.
func writeRecap(w io.Writer, rc runner.Recap) {
	if rc.Failed == 0 && len(rc.Interrupted) == 0 && len(rc.Unknown) == 0 {
		return
	}
	fmt.Fprintln(w)
	if rc.Failed > 0 {
		fmt.Fprintf(w, "%d %s failed:\n", rc.Failed, pluralWord(rc.Failed, "item", "items"))
		for _, g := range rc.Reasons {
			fmt.Fprintf(w, "  %d × %s\n", len(g.Items), termtext.Line(strconv.Quote(g.Reason)))
			fmt.Fprintf(w, "      in %s: %s\n", termtext.Line(strings.Join(g.Steps, ", ")), termtext.Line(someNames(g.Items, recapItems)))
		}
	}
	if n := len(rc.Interrupted); n > 0 {
		fmt.Fprintf(w, "%d %s interrupted (not failed; resume runs them again): %s\n", n, pluralWord(n, "item", "items"), termtext.Line(someNames(rc.Interrupted, recapItems)))
	}
	if n := len(rc.Unknown); n > 0 {
		fmt.Fprintf(w, "%d %s with an unknown outcome (maybe sent; not sent again): %s\n", n, pluralWord(n, "mutation", "mutations"), termtext.Line(someNames(rc.Unknown, recapItems)))
		fmt.Fprintf(w, "  Check each in Frame, then decide with frameflow resume %s --mark KEY=sent|not-sent (the keys follow).\n", rc.RunID)
	}
	if n := len(rc.Rejected); n > 0 {
		fmt.Fprintf(w, "%d approval %s rejected (the decision stands: a resume stops there again): %s\n", n, pluralWord(n, "gate", "gates"), termtext.Line(someNames(rc.Rejected, recapItems)))
	}
	if rc.Resume != "" {
		fmt.Fprintf(w, "Continue with: %s\n", rc.Resume)
	}
}

// someNames is "a, b, c, … +N".
func someNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", … +%d", len(names)-n)
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
