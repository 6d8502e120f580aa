package cli

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/termtext"
)

// eventLabel is "step" or "group.step [item]".
func eventLabel(ev engine.Event) string {
	if ev.Item != "" {
		return fmt.Sprintf("%s [%s]", termtext.Line(ev.Step), termtext.Line(ev.Item))
	}
	return termtext.Line(ev.Step)
}

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
		line = fmt.Sprintf("%s %-9s %s", ts, "start", eventLabel(ev))
	case "step_progress":
		line = fmt.Sprintf("%s %-9s %s: %s", ts, "progress", eventLabel(ev), ev.Message)
	case "step_retrying":
		line = fmt.Sprintf("%s %-9s %s: attempt %d/%d in %s: %s", ts, "retry", eventLabel(ev), ev.Attempt+1, ev.MaxAttempts, ev.Delay.Round(time.Millisecond), ev.Error)
	case "step_finished":
		line = fmt.Sprintf("%s %-9s %s (%s)", ts, ev.Status, eventLabel(ev), ev.Duration.Round(time.Millisecond))
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
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONRenderer(w io.Writer) *jsonRenderer {
	return &jsonRenderer{enc: json.NewEncoder(termtext.JSONWriter(w))}
}

// jsonEvent is the documented JSON Lines shape (docs/events.md): durations in
// seconds, not nanoseconds.
type jsonEvent struct {
	Type        string   `json:"type"`
	Time        string   `json:"time"`
	RunID       string   `json:"run_id,omitempty"`
	Workflow    string   `json:"workflow,omitempty"`
	Step        string   `json:"step,omitempty"`
	Item        string   `json:"item,omitempty"`
	Index       *int     `json:"index,omitempty"`
	Status      string   `json:"status,omitempty"`
	Attempt     int      `json:"attempt,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
	Delay       *float64 `json:"delay,omitempty"`
	Duration    *float64 `json:"duration,omitempty"`
	Message     string   `json:"message,omitempty"`
	Error       string   `json:"error,omitempty"`
	Method      string   `json:"method,omitempty"`
	Path        string   `json:"path,omitempty"`
	HTTPStatus  int      `json:"http_status,omitempty"`
	Total       int      `json:"total,omitempty"`
}

func secs(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

func (j *jsonRenderer) Event(ev engine.Event) {
	out := jsonEvent{Type: ev.Type, Time: ev.Time.UTC().Format(time.RFC3339Nano), RunID: ev.RunID, Workflow: ev.Workflow,
		Step: ev.Step, Item: ev.Item, Index: ev.Index, Status: ev.Status, Attempt: ev.Attempt, MaxAttempts: ev.MaxAttempts,
		Message: ev.Message, Error: ev.Error, Method: ev.Method, Path: ev.Path, HTTPStatus: ev.HTTPStatus, Total: ev.Total}
	if ev.Delay > 0 {
		out.Delay = secs(ev.Delay)
	}
	if ev.Type == "step_finished" || ev.Type == "run_finished" || ev.Type == "request" {
		out.Duration = secs(ev.Duration)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(out)
}

// writeSummary prints the final table: one row per step and item.
func writeSummary(w io.Writer, res *engine.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tITEM\tSTATUS\tATTEMPTS\tDURATION\tERROR")
	counts := map[string]int{}
	for _, s := range res.Steps {
		counts[s.Status]++
		// Sanitized before truncating so a cut never splits an escape.
		errMsg := termtext.Line(s.Error)
		if len(errMsg) > 120 {
			errMsg = strings.ToValidUTF8(errMsg[:117], "") + "..."
		}
		item := termtext.Line(s.Item)
		if n, ok := fanOutCount(s); ok && item == "" {
			// A fan-out's own row says how many items it had, so "nothing
			// to do" (0 items) is visible, not just an absence of rows.
			item = fmt.Sprintf("(%d items)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", termtext.Line(s.Step), item, s.Status, s.Attempts, s.Duration.Round(time.Millisecond), errMsg)
	}
	tw.Flush()
	var parts []string
	for _, k := range sortedKeys(counts) {
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
