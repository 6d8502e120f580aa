package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/frameflow/frameflow/internal/termtext"
)

// RenderMarkdownOpts is RenderMarkdown with options (Redact).
func RenderMarkdownOpts(w io.Writer, p *Plan, opts RenderOptions) error {
	p = prepare(p, opts, true)
	var b strings.Builder

	name := p.Workflow.Name
	if name == "" {
		name = p.Workflow.File
	}
	fmt.Fprintf(&b, "### frameflow plan: %s\n\n", mdText(name))
	fmt.Fprintf(&b, "**%s**", mdText(p.SummaryLine()))
	if len(p.Mutations) == 0 {
		b.WriteString(" No changes: the desired state is already in place.")
	}
	b.WriteString("\n\n")
	if d := p.Summary.Destructive; d > 0 {
		fmt.Fprintf(&b, "> [!WARNING]\n> %d destructive %s: approval required.\n\n", d, plural(d, "change", "changes"))
	}
	if p.Offline {
		b.WriteString("> [!NOTE]\n> Offline plan: no request was made; values read from the API are (known after apply).\n\n")
	}
	fmt.Fprintf(&b, "Workflow %s", mdCode(p.Workflow.File))
	if p.Workflow.FileHash != "" {
		fmt.Fprintf(&b, " (%s)", mdCode(p.Workflow.FileHash))
	}
	fmt.Fprintf(&b, " · plan hash %s\n", mdCode(p.Hash))

	if len(p.Mutations) > 0 {
		b.WriteString("\n|   | step | item | method | path | change |\n| :-: | --- | --- | --- | --- | --- |\n")
		for i := range p.Mutations {
			m := &p.Mutations[i]
			change := ""
			switch {
			case m.Change != nil:
				change = formatChange(m.Change)
			case m.Destructive:
				change = "destructive"
			}
			if m.Destructive && m.Change != nil {
				change += " (destructive)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
				mdCell(action(m)), mdCode(m.Step), mdCell(m.Item), m.Method, mdCode(m.URL()), mdCell(change))
		}
	}

	var bodies []*Mutation
	for i := range p.Mutations {
		if p.Mutations[i].Body != nil {
			bodies = append(bodies, &p.Mutations[i])
		}
	}
	if len(bodies) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>Request bodies (%d)</summary>\n\n", len(bodies))
		for _, m := range bodies {
			fmt.Fprintf(&b, "%s %s\n\n", mdCode(m.Label()), mdCode(m.Target()))
			fence := mdFence(m.BodyString())
			fmt.Fprintf(&b, "%s\n%s\n%s\n\n", fence, m.BodyString(), fence)
		}
		b.WriteString("</details>\n")
	}

	if len(p.Unchanged) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>Unchanged (%d)</summary>\n\n", len(p.Unchanged))
		for i := range p.Unchanged {
			fmt.Fprintf(&b, "- %s\n", mdCode(p.Unchanged[i].Label()))
		}
		b.WriteString("\n</details>\n")
	}

	if len(p.Inputs) > 0 {
		b.WriteString("\n<details><summary>Inputs</summary>\n\n| input | value |\n| --- | --- |\n")
		for _, k := range sortedKeys(p.Inputs) {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCode(k), mdCode(formatValue(p.Inputs[k])))
		}
		b.WriteString("\n</details>\n")
	}
	return finish(w, b.String(), opts)
}

// mdText escapes characters that Markdown or HTML would interpret (one
// rule for the whole code base: termtext).
func mdText(s string) string { return termtext.Markdown(s) }

// mdCell is text for a table cell.
func mdCell(s string) string { return mdText(s) }

// mdCode is a code span that survives any backticks in s and is safe in a
// table cell (a pipe would end the cell even inside a code span).
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}

// mdFence is a code fence longer than any backtick run in s.
func mdFence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
