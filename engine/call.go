package engine

// Calls: a step with uses: ./x.yaml runs another playbook. It is compiled
// like a group whose body is the called playbook's top graph (compileCall),
// run once, or once per item of its for_each; each run is a graph instance
// holding the playbook's own inputs, vars and env, bound here from the
// calling step's with: values. Everything here runs under r.mu.

import (
	"fmt"
	"path/filepath"
	"slices"

	xexpr "github.com/frameflow/frameflow/engine/expr"
	"github.com/frameflow/frameflow/schema"
)

// bindCall binds the called playbook's inputs for one item of a call, as
// BindInputs binds a workflow's: with: values evaluated in the caller's
// scope and given the declared types, defaults, enums; then its env and
// vars. Values computed from a secret, and inputs declared secret, join the
// redaction list before anything can show them.
func (r *run) bindCall(instance *graphInstance, f *fanout, it *fanoutItem) error {
	inputs, err := r.bindCallInputs(f, it)
	if err != nil {
		return err
	}
	u := f.node.callee
	// A playbook without env or vars shares one empty map for each: a call
	// per item of a large fan-out should cost what it binds, no more.
	pv := &playbookValues{inputs: inputs, vars: noValues, env: noValues}
	if len(u.env) > 0 {
		pv.env = make(map[string]any, len(u.env))
		for name := range u.env {
			v := ""
			if r.opts.Getenv != nil {
				v = r.opts.Getenv(name)
			}
			pv.env[name] = v
		}
	}
	if err := r.bindPlaybookVars(u, pv); err != nil {
		return err
	}
	if err := r.bindCallFilters(u, pv); err != nil {
		return err
	}
	instance.call = pv
	return nil
}

// bindCallInputs evaluates each declared input of the called playbook for
// one item: the with: value in the caller's scope, else its default.
func (r *run) bindCallInputs(f *fanout, it *fanoutItem) (map[string]any, error) {
	n, u := f.node, f.node.callee
	var item *fanoutItem
	if !f.single {
		item = it
	}
	var env map[string]any // the caller's scope, built when a value needs it
	inputs := make(map[string]any, len(u.wf.Inputs))
	for _, in := range u.wf.Inputs {
		v, given := n.with[in.Name]
		var x any
		switch {
		case given:
			if env == nil && !v.isConst {
				env = r.scope(f.instance, item, n, nil)
			}
			var err error
			if x, err = resolve(v, env); err != nil {
				return nil, fmt.Errorf("input %s: %w", in.Name, err)
			}
			if v.secret != "" || in.Secret {
				r.redact.Add(x)
			}
		case in.HasDefault:
			x = in.Default
		case in.Required:
			return nil, &CallInputError{Playbook: u.wf.File, Err: fmt.Errorf("missing required input %q", in.Name)}
		default:
			continue
		}
		x, err := checkCallValue(u, in, x)
		if err != nil {
			return nil, err
		}
		if in.Secret {
			r.redact.Add(x)
		}
		inputs[in.Name] = x
	}
	return inputs, nil
}

// checkCallValue gives a bound value its input's declared type and checks
// its enum; a value known only after apply (plan modes) is left as it is.
func checkCallValue(u *unit, in *schema.Input, x any) (any, error) {
	if containsUnknown(x) {
		return x, nil
	}
	x, err := coerceTyped(in, x)
	if err != nil {
		return nil, &CallInputError{Playbook: u.wf.File, Err: err}
	}
	if len(in.Enum) > 0 && !slices.ContainsFunc(in.Enum, func(e any) bool { return equalValue(e, x) }) {
		if in.Secret {
			return nil, &CallInputError{Playbook: u.wf.File, Err: fmt.Errorf("input %q: not one of the allowed values", in.Name)}
		}
		return nil, &CallInputError{Playbook: u.wf.File, Err: fmt.Errorf("input %q: %v is not one of the allowed values", in.Name, x)}
	}
	return x, nil
}

// bindPlaybookVars evaluates the called playbook's vars, in order, over its
// bound inputs, env and the vars before each.
func (r *run) bindPlaybookVars(u *unit, pv *playbookValues) error {
	if len(u.vars) == 0 {
		return nil
	}
	pv.vars = make(map[string]any, len(u.vars))
	scope := map[string]any{"inputs": pv.inputs, "vars": pv.vars, "env": pv.env}
	for _, v := range u.vars {
		val, err := resolve(v.val, scope)
		if err != nil {
			// Vars read only inputs, vars and env, and an evaluation that
			// touches an unknown value yields Unknown, not an error: this
			// one fails for values the caller gave, so it refuses them like
			// a wrong type, and preflight stops the run before anything is
			// sent instead of failing the call midway through a rollout.
			return &CallInputError{Playbook: u.wf.File, Pos: v.pos, Err: fmt.Errorf("var %s: %v", v.name, err)}
		}
		if v.val.secret != "" {
			r.redact.Add(val)
		}
		pv.vars[v.name] = val
	}
	return nil
}

// bindCallFilters compiles the called playbook's filters given by an
// expression, from the inputs, vars and env just bound: a filter the
// inputs make invalid refuses the call's inputs, like a value of the wrong
// type, at the filter's position in the called file.
func (r *run) bindCallFilters(u *unit, pv *playbookValues) error {
	if len(u.filters) == 0 {
		return nil
	}
	scope := map[string]any{"inputs": pv.inputs, "vars": pv.vars, "env": pv.env}
	pv.filters = make(map[*filterInput]*xexpr.Expr, len(u.filters))
	for _, f := range u.filters {
		e, err := r.filterFromSource(f.node, f.name, f.filter, scope)
		if err != nil {
			return &CallInputError{Playbook: u.wf.File, Pos: f.filter.pos, Err: err}
		}
		if e != nil {
			pv.filters[f.filter] = e
		}
	}
	return nil
}

// CallInputError is a called playbook's input the calling step's with:
// gives a value it refuses (a wrong type, not in its enum, missing): the
// run's input is invalid, so preflight and validate refuse it before
// anything is sent, like a step type's invalid request.
type CallInputError struct {
	Playbook string     // the called file
	Pos      schema.Pos // where in it, when the refusal is about one place (a filter)
	Err      error
}

func (e *CallInputError) Error() string {
	if e.Pos.Line > 0 {
		return e.Pos.String() + ": " + e.Err.Error()
	}
	return e.Err.Error() + " (declared in " + e.Playbook + ")"
}
func (e *CallInputError) Unwrap() error { return e.Err }

// noValues is the empty inputs, vars or env of a playbook that declares
// none; expressions only read it.
var noValues = map[string]any{}

// containsUnknown reports whether v is, or holds, a value known only after
// apply (plan modes): such a value is bound as it is, unchecked.
func containsUnknown(v any) bool {
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, containsUnknown)
	case map[string]any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
		return false
	}
	return IsUnknown(v)
}

// callFailed ends an item of a call whose inputs could not be bound: none
// of its steps ran.
func (r *run) callFailed(f *fanout, it *fanoutItem, err error) {
	msg := r.redact.Replace(err.Error())
	if r.opts.Classify != nil {
		r.opts.Classify(err) // validate learns which failures are invalid input (CheckOffline)
	}
	if f.single {
		f.callError, f.callErr = msg, err
	} else {
		res := StepResult{Step: f.node.full, Item: r.itemLabel(f.instance, it), ItemKey: r.itemKey(f.instance, it), Index: it.index, Status: StatusFailed, Error: msg, Err: err}
		f.setResult(it.index, res)
		r.resultCount++
		r.emit(Event{Type: "step_finished", Step: f.node.full, Item: res.Item, Index: eventIndex(res.Index), Status: StatusFailed, Error: msg})
	}
	r.itemDone(f, it, StatusFailed, nil, msg)
}

// playbookOutputs evaluates a called playbook's declared outputs among the
// steps of its finished instance.
func (r *run) playbookOutputs(instance *graphInstance, u *unit) (map[string]any, error) {
	out := make(map[string]any, len(u.outputs))
	if len(u.outputs) == 0 {
		return out, nil
	}
	env := r.outputScope(instance, u)
	for _, k := range u.wf.OutputsOrder {
		v, ok := u.outputs[k]
		if !ok {
			continue
		}
		x, err := resolve(v, env)
		if err != nil {
			return nil, fmt.Errorf("output %s of %s: %w", k, u.wf.File, err)
		}
		out[k] = x
	}
	return out, nil
}

// statusOutputs evaluates, for a run of a called playbook that did not
// succeed, the declared outputs that read only its inputs, vars, env and
// steps' statuses (unit.statusOutputs): which stage failed, which never
// ran. One that cannot be evaluated is left out; the item's error already
// says why it failed.
func (r *run) statusOutputs(instance *graphInstance, u *unit) map[string]any {
	out := make(map[string]any, len(u.statusOutputs))
	if len(u.statusOutputs) == 0 {
		return out
	}
	env := r.outputScope(instance, u)
	for _, k := range u.wf.OutputsOrder {
		if !u.statusOutputs[k] {
			continue
		}
		if x, err := resolve(u.outputs[k], env); err == nil {
			out[k] = x
		}
	}
	return out
}

// outputScope is what a playbook's outputs see: its inputs, vars, env and
// the steps of its top graph (instance).
func (r *run) outputScope(instance *graphInstance, u *unit) map[string]any {
	ps := r.playbookScope(instance)
	steps := make(map[string]any, len(u.outputRefs))
	for _, id := range u.outputRefs {
		m := u.byID[id]
		if m == nil || m.graph != instance.graph {
			continue
		}
		st := &instance.nodeStates[m.index]
		steps[id] = map[string]any{"outputs": st.out, "status": string(st.status)}
	}
	return map[string]any{"inputs": ps.inputs, "vars": ps.vars, "env": ps.env, "steps": steps}
}

// HasCalls reports whether the workflow runs other playbooks (uses:
// ./x.yaml).
func (p *Program) HasCalls() bool { return len(p.playbookOf) > 0 }

// PlaybookOf is the called playbook a step (by full id, "rollout.clone")
// is written in, relative to the workflow file's folder, with / separators;
// "" for the workflow's own steps.
func (p *Program) PlaybookOf(step string) string { return p.playbookOf[step] }

// indexPlaybooks fills Program.playbookOf once compiled.
func (p *Program) indexPlaybooks() {
	base := filepath.Dir(p.wf.File)
	for _, n := range p.nodes {
		if n.unit.call == nil {
			continue
		}
		if p.playbookOf == nil {
			p.playbookOf = map[string]string{}
		}
		rel, err := filepath.Rel(base, n.unit.wf.File)
		if err != nil {
			rel = n.unit.wf.File
		}
		p.playbookOf[n.full] = filepath.ToSlash(rel)
	}
}
