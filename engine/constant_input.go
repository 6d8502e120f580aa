package engine

// ConstantInput looks up input name of step full (its full id) as written
// in the file: its value when it is a constant, given when the step sets
// it, and constant false when it is an expression known only at run time.
// For reading a step's settings outside a run (who may approve a gate
// before the run reaches it).
func (p *Program) ConstantInput(full, name string) (value any, given, constant bool) {
	for _, n := range p.nodes {
		if n.full != full {
			continue
		}
		if v, ok := n.with[name]; ok {
			return v.constant, true, v.isConst
		}
		_, given = n.step.With[name]
		return nil, given, false
	}
	return nil, false, false
}
