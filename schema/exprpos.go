package schema

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Column information later stages need to point at a character inside a
// scalar: the loader keeps the YAML nodes, so the engine need not import
// the YAML library to recover them.

// Quoted reports whether a scalar was written in quotes: its text then
// starts one column after Pos.
func (v *Value) Quoted() bool {
	return v != nil && v.Node != nil && v.Node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
}

// ExprShift finds where the expression src starts inside the scalar at pos,
// in runes from pos's column: the loader hands `if:` and `for_each:` over
// with `${{ }}` and spaces stripped, so the columns of the scalar and of
// src differ. It returns off when the scalar cannot say (it spans lines,
// or src is not in it).
func (w *Workflow) ExprShift(pos Pos, src string, off int) int {
	w.scalarsOnce.Do(func() {
		w.scalars = map[[2]int]*yaml.Node{}
		var walk func(n *yaml.Node, depth int)
		walk = func(n *yaml.Node, depth int) {
			if n == nil || depth > 200 {
				return
			}
			if n.Kind == yaml.ScalarNode {
				w.scalars[[2]int{n.Line, n.Column}] = n
			}
			for _, k := range n.Content {
				walk(k, depth+1)
			}
		}
		walk(w.Root, 0)
	})
	n := w.scalars[[2]int{pos.Line, pos.Col}]
	if n == nil || strings.ContainsRune(n.Value, '\n') {
		return off
	}
	i := strings.Index(n.Value, strings.TrimSpace(src))
	if i < 0 {
		return off
	}
	lead := len(src) - len(strings.TrimLeft(src, " \t"))
	shift := utf8.RuneCountInString(n.Value[:i]) - lead
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		shift++
	}
	return shift
}
