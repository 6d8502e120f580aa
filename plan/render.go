package plan

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/frameflow/frameflow/internal/termtext"
)

// RenderOptions tune a rendering.
type RenderOptions struct {
	// Color adds ANSI colours (text only); the caller decides (terminal,
	// NO_COLOR).
	Color bool
	// Redact, when set, rewrites every string of the plan before it is
	// rendered, and the rendered text once more, so that secrets the caller
	// knows of (client secret, secret inputs) never reach the output.
	Redact func(string) string
	// Detail lists every target of every group, and every unchanged step
	// (text and Markdown); without it a group shows its first targets and
	// unchanged steps are counted.
	Detail bool
	// MaxChars bounds the Markdown rendering (0: DefaultMarkdownMax). When
	// the plan does not fit, target lists are cut and the rendering points
	// to FullPlan.
	MaxChars int
	// FullPlan names where the whole plan is (the plan file, a CI
	// artifact), for the pointer a cut rendering ends with.
	FullPlan string
}

// DefaultMarkdownMax keeps a Markdown plan under GitHub's 65,536-character
// comment limit with room for a CI job's own words around it.
const DefaultMarkdownMax = 60000

// Formats accepted by Render.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Render writes p in the named format ("text", "json" or "markdown").
func Render(w io.Writer, p *Plan, format string, opts RenderOptions) error {
	switch format {
	case FormatText, "":
		return RenderTextOpts(w, p, opts)
	case FormatJSON:
		return RenderJSONOpts(w, p, opts)
	case FormatMarkdown, "md":
		return RenderMarkdownOpts(w, p, opts)
	}
	return fmt.Errorf("unknown plan format %q (want text, json or markdown)", format)
}

// RenderText writes the plan for a terminal or a log, terraform-like.
func RenderText(w io.Writer, p *Plan, color bool) error {
	return RenderTextOpts(w, p, RenderOptions{Color: color})
}

// RenderJSON writes the plan in its documented JSON format (indented).
func RenderJSON(w io.Writer, p *Plan) error { return RenderJSONOpts(w, p, RenderOptions{}) }

// RenderMarkdown writes the plan for a pull-request comment or a CI job
// summary.
func RenderMarkdown(w io.Writer, p *Plan) error {
	return RenderMarkdownOpts(w, p, RenderOptions{})
}

// RenderJSONOpts is RenderJSON with options (Redact).
func RenderJSONOpts(w io.Writer, p *Plan, opts RenderOptions) error {
	p = prepare(p, opts, false)
	var buf bytes.Buffer
	if err := encodeJSON(&buf, p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// prepare returns the plan to render: summary filled, slices non-nil (the
// JSON shape is stable), strings redacted and, for text and Markdown,
// control characters made visible: names come from the API and must not
// move a terminal's cursor or forge a line of the plan.
func prepare(p *Plan, opts RenderOptions, printable bool) *Plan {
	c := *p
	if c.Inputs == nil {
		c.Inputs = map[string]any{}
	}
	if c.Mutations == nil {
		c.Mutations = []Mutation{}
	}
	if c.Unchanged == nil {
		c.Unchanged = []Unchanged{}
	}
	c.Summarize()
	fn := opts.Redact
	if printable {
		fn = func(s string) string {
			if opts.Redact != nil {
				s = opts.Redact(s)
			}
			return termtext.Line(s)
		}
	}
	if fn != nil {
		return (&scrubber{fn: fn}).plan(&c)
	}
	return &c
}

// finish writes rendered text, redacting it once more as a whole.
func finish(w io.Writer, s string, opts RenderOptions) error {
	if opts.Redact != nil {
		s = opts.Redact(s)
	}
	_, err := io.WriteString(w, s)
	return err
}

// SummaryLine is "Plan: 9 changes (3 sandbox.clone, ...), 1 unchanged."
func (p *Plan) SummaryLine() string {
	n := len(p.Mutations)
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %d %s", n, plural(n, "change", "changes"))
	if n > 0 {
		counts := map[string]int{}
		for _, m := range p.Mutations {
			counts[m.Type]++
		}
		parts := []string{}
		for _, t := range p.typeOrder() {
			parts = append(parts, fmt.Sprintf("%d %s", counts[t], t))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	fmt.Fprintf(&b, ", %d unchanged.", len(p.Unchanged))
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// action is the symbol of a mutation: ! destructive, - delete, ~ update
// of something that exists (the step said so, or read its current value),
// + everything else.
func action(m *Mutation) string {
	switch {
	case m.Destructive:
		return "!"
	case m.Action == "delete":
		return "-"
	case m.Action == "update":
		return "~"
	case m.Action == "create":
		return "+"
	case m.Change != nil && m.Change.Before != nil:
		return "~"
	}
	return "+"
}
