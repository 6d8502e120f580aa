package plan

import (
	"fmt"
	"io"
	"strings"
)

type palette struct{ bold, green, yellow, red, dim, reset string }

func colors(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{bold: "\x1b[1m", green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m", dim: "\x1b[2m", reset: "\x1b[0m"}
}

func (c palette) action(a string) string {
	switch a {
	case "!":
		return c.red + a + c.reset
	case "~":
		return c.yellow + a + c.reset
	case "+":
		return c.green + a + c.reset
	}
	return a
}

// RenderTextOpts is RenderText with options.
func RenderTextOpts(w io.Writer, p *Plan, opts RenderOptions) error {
	p = prepare(p, opts, true)
	c := colors(opts.Color)
	var b strings.Builder

	fmt.Fprintf(&b, "%sWorkflow:%s %s", c.bold, c.reset, p.Workflow.Name)
	if p.Workflow.File != "" {
		fmt.Fprintf(&b, " (%s)", p.Workflow.File)
	}
	b.WriteString("\n")
	if p.Workflow.FileHash != "" {
		fmt.Fprintf(&b, "File hash: %s\n", p.Workflow.FileHash)
	}
	if len(p.Inputs) > 0 {
		b.WriteString("Inputs:\n")
		keys := sortedKeys(p.Inputs)
		width := 0
		for _, k := range keys {
			width = max(width, len(k))
		}
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-*s = %s\n", width, k, formatValue(p.Inputs[k]))
		}
	}
	if p.Offline {
		b.WriteString("\nOffline plan: no request was made, so values read from the API are (known after apply)\nand the plan shows the shape of the work, not its exact targets.\n")
	}

	g := p.Grouped()
	if len(p.Mutations) == 0 {
		b.WriteString("\nNo changes. The desired state is already in place.\n")
	} else {
		fmt.Fprintf(&b, "\nframeflow will make %d %s in %d %s (%s create, %s update, %s destructive):\n",
			len(p.Mutations), plural(len(p.Mutations), "change", "changes"), len(g.Groups), plural(len(g.Groups), "group", "groups"),
			c.action("+"), c.action("~"), c.action("!"))
		for i := range g.Groups {
			writeTextGroup(&b, &g.Groups[i], c, opts.Detail)
		}
	}
	writeTextUnchanged(&b, g.Unchanged, opts.Detail)

	fmt.Fprintf(&b, "\n%s%s%s\n", c.bold, p.SummaryLine(), c.reset)
	writeTextApproval(&b, p, c)
	if p.Hash != "" { // a part of a plan (what a resume has left) has none of its own
		fmt.Fprintf(&b, "Plan hash: %s\n", p.Hash)
	}
	return finish(w, b.String(), opts)
}

// textTargets is how many targets a group lists without --detail.
const textTargets = 5

func writeTextGroup(b *strings.Builder, g *Group, c palette, detail bool) {
	fmt.Fprintf(b, "\n%s %s%-7s %s%s\n", c.action(g.Symbol), c.bold, g.Verb, g.Title(), c.reset)
	field := func(name, value string) {
		fmt.Fprintf(b, "      %-*s %s\n", fieldWidth(g), name+":", value)
	}
	if g.Playbook != "" {
		field("playbook", g.Playbook)
	}
	field("request", g.Method+" "+g.Path)
	for _, d := range g.Details {
		field(d.Label, d.Value)
	}
	if g.Change != "" {
		field("change", g.Change)
	}
	if g.Headers != "" {
		field("headers", g.Headers)
	}
	if g.Body != "" && g.Change == "" {
		field("body", g.Body)
	}
	switch {
	case g.Destructive:
		field("approval", c.red+"required (destructive)"+c.reset)
	case g.NoApproval:
		field("approval", "not required (the playbook says approval: not_required)")
	}
	if len(g.Members) == 1 && g.Members[0].Item == "" {
		if t := g.Members[0].Target; t != "" {
			field("target", t)
		}
		return
	}
	if detail {
		field("targets", fmt.Sprint(len(g.Members)))
		for _, m := range g.Members {
			fmt.Fprintf(b, "        - %s\n", m.Label())
		}
		return
	}
	names := make([]string, 0, textTargets)
	for i, m := range g.Members {
		if i == textTargets {
			break
		}
		names = append(names, orDefault(m.Item, m.Target))
	}
	if more := len(g.Members) - len(names); more > 0 {
		names = append(names, fmt.Sprintf("… +%d more (--detail lists every target)", more))
	}
	// Wrapped to stay within 80 columns when the names are short.
	indent := 6 + fieldWidth(g) + 1
	lines := wrapList(names, 80-indent)
	field("targets", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(b, "%*s%s\n", indent, "", l)
	}
}

// wrapList joins items with ", " into lines of at most width characters
// (an item longer than width gets a line of its own).
func wrapList(items []string, width int) []string {
	var lines []string
	cur := ""
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		switch {
		case cur == "":
			cur = it
		case len([]rune(cur))+1+len([]rune(it)) <= width:
			cur += " " + it
		default:
			lines = append(lines, cur)
			cur = it
		}
	}
	return append(lines, cur)
}

func writeTextUnchanged(b *strings.Builder, u []UnchangedGroup, detail bool) {
	if len(u) == 0 {
		return
	}
	total := 0
	parts := make([]string, len(u))
	for i, g := range u {
		total += len(g.Items)
		parts[i] = fmt.Sprintf("%s × %d", g.Step, len(g.Items))
	}
	fmt.Fprintf(b, "\nUnchanged (the desired state is already in place): %d", total)
	if !detail {
		fmt.Fprintf(b, " (%s)\n", strings.Join(parts, ", "))
		return
	}
	b.WriteString("\n")
	for _, g := range u {
		for _, item := range g.Items {
			fmt.Fprintf(b, "  = %s\n", label(g.Step, item))
		}
	}
}

// fieldWidth aligns a group's field values after the longest label.
func fieldWidth(g *Group) int {
	w := len("approval:")
	for _, d := range g.Details {
		w = max(w, len(d.Label)+1)
	}
	return w
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeTextApproval says what a person approves: every change, unless the
// playbook declared some need none; destructive ones are counted apart.
func writeTextApproval(b *strings.Builder, p *Plan, c palette) {
	n := p.NeedsApproval()
	if n == 0 {
		if len(p.Mutations) > 0 {
			b.WriteString("No change needs approval (the playbook says approval: not_required).\n")
		}
		return
	}
	fmt.Fprintf(b, "Approval required for %d %s", n, plural(n, "change", "changes"))
	if d := p.Summary.Destructive; d > 0 {
		fmt.Fprintf(b, " (%s%d destructive%s)", c.red, d, c.reset)
	}
	if free := len(p.Mutations) - n; free > 0 {
		fmt.Fprintf(b, "; %d declared approval: not_required", free)
	}
	b.WriteString(".\n")
}
