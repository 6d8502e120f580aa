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

	if len(p.Mutations) == 0 {
		b.WriteString("\nNo changes. The desired state is already in place.\n")
	} else {
		fmt.Fprintf(&b, "\nframeflow will make these changes (%s create, %s update, %s destructive):\n",
			c.action("+"), c.action("~"), c.action("!"))
		for i := range p.Mutations {
			writeTextMutation(&b, &p.Mutations[i], c)
		}
	}

	if len(p.Unchanged) > 0 {
		b.WriteString("\nUnchanged (the desired state is already in place):\n")
		for i := range p.Unchanged {
			fmt.Fprintf(&b, "  = %s\n", p.Unchanged[i].Label())
		}
	}

	fmt.Fprintf(&b, "\n%s%s%s\n", c.bold, p.SummaryLine(), c.reset)
	if d := p.Summary.Destructive; d > 0 {
		fmt.Fprintf(&b, "%s%d destructive %s: approval required.%s\n", c.red, d, plural(d, "change", "changes"), c.reset)
	}
	fmt.Fprintf(&b, "Plan hash: %s\n", p.Hash)
	return finish(w, b.String(), opts)
}

func writeTextMutation(b *strings.Builder, m *Mutation, c palette) {
	a := action(m)
	fmt.Fprintf(b, "\n  %s# %s%s %s(%s)%s\n", c.bold, m.Label(), c.reset, c.dim, m.Type, c.reset)
	fmt.Fprintf(b, "  %s %s\n", c.action(a), m.Target())
	field := func(name, value string) {
		fmt.Fprintf(b, "      %-10s %s\n", name+":", value)
	}
	if body := m.BodyString(); body != "" {
		field("body", body)
	}
	if m.Change != nil {
		field("change", formatChange(m.Change))
	}
	if len(m.Resources) > 0 {
		field("resources", strings.Join(m.Resources, ", "))
	}
	field("result", formatValue(m.Result))
	if m.Destructive {
		field("approval", "required (destructive)")
	}
}
