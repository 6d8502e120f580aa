package engine

// What expressions see at run time: the scope of a node, compiled values,
// and filters (predicates) handed to step types.

import (
	"fmt"

	xexpr "github.com/frameflow/frameflow/engine/expr"
)

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	case int:
		return x != 0
	case float64:
		return x != 0
	}
	return true
}

// scope builds the values an expression of n reads: only the steps it
// references are looked up.
func (r *run) scope(instance *graphInstance, it *fanoutItem, n *node, raw map[string]any) map[string]any {
	ps := r.playbookScope(instance)
	env := map[string]any{"inputs": ps.inputs, "vars": ps.vars, "env": ps.env}
	var chain []*graphInstance
	for x := instance; x != nil; x = x.parent {
		if x.call != nil {
			break // a called playbook sees none of its caller's items
		}
		chain = append(chain, x)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		x := chain[i]
		if x.item != nil {
			env[x.fan.node.as] = x.item.value
			env["index"] = x.item.index
			if x.item.symbolic {
				env["index"] = Unknown
			}
		}
	}
	if it != nil {
		env[n.as] = it.value
		env["index"] = it.index
		if it.symbolic {
			env["index"] = Unknown
		}
	}
	if len(n.refs) > 0 {
		steps := make(map[string]any, len(n.refs))
		for _, id := range n.refs {
			m := n.unit.byID[id]
			if m == nil {
				continue
			}
			for x := instance; x != nil; x = x.parent {
				if x.graph == m.graph {
					st := &x.nodeStates[m.index]
					steps[id] = map[string]any{"outputs": st.out, "status": string(st.status)} // a plain string: expr compares values by type
					break
				}
			}
		}
		env["steps"] = steps
	}
	if raw != nil {
		env["outputs"] = raw
	}
	return env
}

// resolve evaluates a compiled value tree.
func resolve(v *compiledValue, env map[string]any) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case v.isConst:
		return v.constant, nil
	case v.tmpl != nil:
		return v.tmpl.Eval(env)
	case v.isList:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			x, err := resolve(e, env)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	default:
		out := make(map[string]any, len(v.m))
		for _, k := range v.keys {
			x, err := resolve(v.m[k], env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	}
}

// playbookScope is what inputs, vars and env hold for the steps of
// instance: its called playbook's bound values, or the run's.
func (r *run) playbookScope(instance *graphInstance) *playbookValues {
	for x := instance; x != nil; x = x.parent {
		if x.call != nil {
			return x.call
		}
	}
	return r.top
}

func (r *run) predicate(instance *graphInstance, n *node, name string) (Predicate, error) {
	ps := r.playbookScope(instance)
	pt, ok := n.filters[name]
	if !ok {
		return nil, fmt.Errorf("input %q of step %s is not a filter", name, n.full)
	}
	e := r.filterOf(instance, pt)
	if e == nil {
		return nil, fmt.Errorf("filter %q of step %s is known only after apply", name, n.full)
	}
	return func(elem any) (bool, error) {
		env := map[string]any{}
		if m, ok := elem.(map[string]any); ok {
			for k, v := range m {
				env[k] = v
			}
		}
		env[pt.spec.Var] = elem
		env["inputs"], env["vars"], env["env"] = ps.inputs, ps.vars, ps.env
		v, err := e.Eval(env)
		if err != nil {
			return false, err
		}
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("filter %q must yield true or false, got %s", e.Source(), xexpr.Stringify(v))
		}
		return b, nil
	}, nil
}
