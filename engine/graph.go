package engine

import (
	"fmt"
	"strings"
)

// DOT draws the DAG in Graphviz DOT: groups are clusters, edges come from
// needs and from the references between steps.
func (p *Program) DOT() string {
	var b strings.Builder
	b.WriteString("digraph workflow {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n")
	fmt.Fprintf(&b, "  label=%q;\n", p.wf.Name)
	var draw func(g *graph, indent string)
	draw = func(g *graph, indent string) {
		for _, n := range g.nodes {
			if n.body != nil {
				fmt.Fprintf(&b, "%ssubgraph %q {\n", indent, "cluster_"+n.full)
				fmt.Fprintf(&b, "%s  label=%q;\n", indent, clusterLabel(n))
				fmt.Fprintf(&b, "%s  %q [label=%q, shape=point];\n", indent, n.full, "")
				draw(n.body, indent+"  ")
				fmt.Fprintf(&b, "%s}\n", indent)
				continue
			}
			fmt.Fprintf(&b, "%s%q [label=%q];\n", indent, n.full, label(n))
		}
	}
	draw(p.root, "  ")
	var edges func(g *graph)
	edges = func(g *graph) {
		for _, n := range g.nodes {
			for _, d := range n.deps {
				m := g.nodes[d]
				attr := ""
				if m.body != nil {
					attr += fmt.Sprintf(" ltail=%q", "cluster_"+m.full)
				}
				if n.body != nil {
					attr += fmt.Sprintf(" lhead=%q", "cluster_"+n.full)
				}
				if attr != "" {
					attr = " [" + strings.TrimSpace(attr) + "]"
				}
				fmt.Fprintf(&b, "  %q -> %q%s;\n", m.full, n.full, attr)
			}
			if n.body != nil {
				edges(n.body)
			}
		}
	}
	edges(p.root)
	b.WriteString("}\n")
	return b.String()
}

// clusterLabel names a group or a called playbook: "rollout (for each
// account)", "rollout: ./lib/x.yaml (for each account)", "one: ./lib/x.yaml".
func clusterLabel(n *node) string {
	s := n.id
	if n.callee != nil {
		s += ": " + n.step.Uses
	}
	if n.fanout() {
		s += " (for each " + n.as + ")"
	}
	return s
}

func label(n *node) string {
	s := n.id + "\n" + n.step.Uses
	if n.fanout() {
		s += "\n(for each " + n.as + ")"
	}
	return s
}

// Mermaid draws the DAG as a Mermaid flowchart; groups are subgraphs.
func (p *Program) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := func(n *node) string { return strings.ReplaceAll(n.full, ".", "__") }
	var draw func(g *graph, indent string)
	draw = func(g *graph, indent string) {
		for _, n := range g.nodes {
			if n.body != nil {
				fmt.Fprintf(&b, "%ssubgraph %s[\"%s\"]\n", indent, id(n), strings.ReplaceAll(clusterLabel(n), `"`, "#quot;"))
				draw(n.body, indent+"  ")
				fmt.Fprintf(&b, "%send\n", indent)
				continue
			}
			text := n.id + "<br/>" + n.step.Uses
			if n.fanout() {
				text += "<br/>(for each " + n.as + ")"
			}
			fmt.Fprintf(&b, "%s%s[\"%s\"]\n", indent, id(n), strings.ReplaceAll(text, `"`, "#quot;"))
		}
	}
	draw(p.root, "  ")
	var edges func(g *graph)
	edges = func(g *graph) {
		for _, n := range g.nodes {
			for _, d := range n.deps {
				fmt.Fprintf(&b, "  %s --> %s\n", id(g.nodes[d]), id(n))
			}
			if n.body != nil {
				edges(n.body)
			}
		}
	}
	edges(p.root)
	return b.String()
}
