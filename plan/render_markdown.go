package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/frameflow/frameflow/internal/termtext"
)

// RenderMarkdownOpts is RenderMarkdown with options: it fits in
// opts.MaxChars (DefaultMarkdownMax when 0), cutting the target lists, then
// the details, and pointing to opts.FullPlan when it had to.
func RenderMarkdownOpts(w io.Writer, p *Plan, opts RenderOptions) error {
	p = prepare(p, opts, true)
	g := p.Grouped()
	limit := opts.MaxChars
	if limit <= 0 {
		limit = DefaultMarkdownMax
	}
	// The whole plan if it fits; else as many targets per group as fit
	// (a binary search: the length grows with the number listed).
	out := markdown(p, g, opts, -1, true)
	if len(out) <= limit {
		return finish(w, out, opts)
	}
	most := 0
	for i := range g.Groups {
		most = max(most, len(g.Groups[i].Members))
	}
	for _, u := range g.Unchanged {
		most = max(most, len(u.Items))
	}
	if fits := markdown(p, g, opts, 0, true); len(fits) <= limit {
		lo, hi := 0, most // markdown(lo) fits, markdown(hi) does not
		out = fits
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if m := markdown(p, g, opts, mid, true); len(m) <= limit {
				lo, out = mid, m
			} else {
				hi = mid
			}
		}
		return finish(w, out, opts)
	}
	// Even the summary does not fit (thousands of distinct groups): keep
	// whole lines up to the limit, then the pointer.
	out = markdown(p, g, opts, 0, false)
	tail := "\n\n" + cutNote(opts.FullPlan) + "\n"
	if len(out)+len(tail) > limit {
		cut := strings.LastIndexByte(out[:max(0, limit-len(tail))], '\n')
		out = out[:max(0, cut)]
		out += tail
	}
	return finish(w, out, opts)
}

// cutNote points from a shortened Markdown plan to the whole one.
func cutNote(fullPlan string) string {
	where := "the plan file (`frameflow plan --out FILE`)"
	if fullPlan != "" {
		where = mdCode(fullPlan)
	}
	return "> [!NOTE]\n> This comment is shortened to fit; the full plan, every target included, is in " + where + ". Apply that file, not a new plan."
}

// markdown renders the plan listing at most perGroup targets per group (-1:
// all); details=false leaves out the per-group details blocks.
func markdown(p *Plan, g *Grouped, opts RenderOptions, perGroup int, details bool) string {
	var b strings.Builder
	writeMarkdownHeader(&b, p)
	writeMarkdownTable(&b, g)
	cut := false
	if details {
		for i := range g.Groups {
			if writeMarkdownGroup(&b, &g.Groups[i], perGroup) {
				cut = true
			}
		}
	} else if len(g.Groups) > 0 {
		cut = true
	}
	if writeMarkdownUnchanged(&b, g, perGroup) {
		cut = true
	}
	if len(p.Inputs) > 0 {
		b.WriteString("\n<details><summary>Inputs</summary>\n\n| input | value |\n| --- | --- |\n")
		for _, k := range sortedKeys(p.Inputs) {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCode(k), mdCode(formatValue(p.Inputs[k])))
		}
		b.WriteString("\n</details>\n")
	}
	if cut {
		b.WriteString("\n" + cutNote(opts.FullPlan) + "\n")
	}
	return b.String()
}

// writeMarkdownHeader writes the title, the summary line, warnings about
// destructive changes and approval, and the workflow file and plan hash.
func writeMarkdownHeader(b *strings.Builder, p *Plan) {
	name := p.Workflow.Name
	if name == "" {
		name = p.Workflow.File
	}
	fmt.Fprintf(b, "### frameflow plan: %s\n\n", mdText(name))
	fmt.Fprintf(b, "**%s**", mdText(p.SummaryLine()))
	if len(p.Mutations) == 0 {
		b.WriteString(" No changes: the desired state is already in place.")
	}
	b.WriteString("\n\n")
	if d := p.Summary.Destructive; d > 0 {
		fmt.Fprintf(b, "> [!WARNING]\n> %d destructive %s (overwrite or delete data).\n\n", d, plural(d, "change", "changes"))
	}
	if n := p.NeedsApproval(); n > 0 {
		fmt.Fprintf(b, "Approval required for %d of %d changes.\n\n", n, len(p.Mutations))
	} else if len(p.Mutations) > 0 {
		b.WriteString("No change needs approval (the playbook says approval: not_required).\n\n")
	}
	if p.Offline {
		b.WriteString("> [!NOTE]\n> Offline plan: no request was made; values read from the API are (known after apply).\n\n")
	}
	fmt.Fprintf(b, "Workflow %s", mdCode(p.Workflow.File))
	if p.Workflow.FileHash != "" {
		fmt.Fprintf(b, " (%s)", mdCode(p.Workflow.FileHash))
	}
	fmt.Fprintf(b, " · plan hash %s\n", mdCode(p.Hash))
}

// writeMarkdownTable writes one table row per group of changes.
func writeMarkdownTable(b *strings.Builder, g *Grouped) {
	if len(g.Groups) == 0 {
		return
	}
	b.WriteString("\n|   | change | step | targets | request |\n| :-: | --- | --- | --: | --- |\n")
	for i := range g.Groups {
		gr := &g.Groups[i]
		what := gr.Verb
		if gr.Change != "" {
			what += ": " + gr.Change
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s |\n", mdCell(gr.Symbol), mdCell(what),
			mdCode(gr.Step+" ("+gr.Type+")"), len(gr.Members), mdCode(gr.Method+" "+gr.Path))
	}
}

// writeMarkdownUnchanged writes the steps that change nothing, listing at
// most perGroup targets each (-1: all); it reports whether a list was cut.
func writeMarkdownUnchanged(b *strings.Builder, g *Grouped, perGroup int) bool {
	if len(g.Unchanged) == 0 {
		return false
	}
	cut := false
	total := 0
	for _, u := range g.Unchanged {
		total += len(u.Items)
	}
	fmt.Fprintf(b, "\n<details><summary>Unchanged (%d)</summary>\n\n", total)
	for _, u := range g.Unchanged {
		items, more := u.Items, 0
		if perGroup >= 0 && len(items) > perGroup {
			items, more = items[:perGroup], len(items)-perGroup
			cut = true
		}
		fmt.Fprintf(b, "- %s × %d", mdCode(u.Step), len(u.Items))
		if named := nonEmpty(items); len(named) > 0 {
			b.WriteString(": " + mdText(strings.Join(named, ", ")))
		}
		if more > 0 {
			fmt.Fprintf(b, ", … +%d more", more)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n</details>\n")
	return cut
}

// writeMarkdownGroup writes a group's details block; it reports whether its
// target list was cut.
func writeMarkdownGroup(b *strings.Builder, g *Group, perGroup int) bool {
	fmt.Fprintf(b, "\n<details><summary>%s %s %s</summary>\n\n", mdText(g.Symbol), mdText(g.Verb), mdText(g.Title()))
	if g.Playbook != "" {
		fmt.Fprintf(b, "- playbook: %s\n", mdCode(g.Playbook))
	}
	fmt.Fprintf(b, "- request: %s\n", mdCode(g.Method+" "+g.Path))
	for _, d := range g.Details {
		fmt.Fprintf(b, "- %s: %s\n", mdText(d.Label), mdText(d.Value))
	}
	if g.Change != "" {
		fmt.Fprintf(b, "- change: %s\n", mdText(g.Change))
	}
	if g.Headers != "" {
		fmt.Fprintf(b, "- headers: %s\n", mdCode(g.Headers))
	}
	if g.Body != "" {
		fmt.Fprintf(b, "- body: %s\n", mdCode(g.Body))
	}
	switch {
	case g.Destructive:
		b.WriteString("- approval: **required (destructive)**\n")
	case g.NoApproval:
		b.WriteString("- approval: not required (the playbook says approval: not\\_required)\n")
	}
	members, more := g.Members, 0
	if perGroup >= 0 && len(members) > perGroup {
		members, more = members[:perGroup], len(members)-perGroup
	}
	if len(members) > 0 {
		b.WriteString("\ntargets:\n\n")
		for _, m := range members {
			fmt.Fprintf(b, "1. %s\n", mdText(m.Label()))
		}
	}
	if more > 0 {
		fmt.Fprintf(b, "\n… and %d more targets (not listed here).\n", more)
	}
	b.WriteString("\n</details>\n")
	return more > 0
}

func nonEmpty(s []string) []string {
	var out []string
	for _, e := range s {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
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
