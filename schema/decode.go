package schema

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/frameflow/frameflow/internal/suggest"
)

// decoder fills the typed model from the checked tree, best effort: a value
// of the wrong type is skipped silently because the JSON Schema already
// reported it. It adds the checks a schema cannot express (durations, ids
// unique across groups, needs that resolve, inputs whose default matches
// their type, the shape of groups), each reported once.
type decoder struct {
	file  string
	types []StepTypeInfo
	diags Diagnostics

	firstID map[string]*Step // step id -> first step using it
	lists   [][]*Step        // every steps list, for the needs check at the end
	labels  map[*Step]string // message prefix of each step
}

func (d *decoder) errorf(pos Pos, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// CredentialEnv are the environment variables the Frame API credentials
// are read from (frame.ConfigFromEnv; a --credentials file is read by the
// client only): a workflow may not declare them under env:, whatever it
// would do with them. TestCredentialEnvMatchesTheClient keeps the two lists
// together.
var CredentialEnv = []string{"FRAME_CLIENT_SECRET", "FRAME_CLIENT_ID"}

// refusedEnv tells whether a workflow may not read the variable name.
func (d *decoder) refusedEnv(name string) (string, bool) {
	for _, c := range CredentialEnv {
		if name == c {
			return "holds the API credentials", true
		}
	}
	return "", false
}

func (d *decoder) workflow(wf *Workflow, root *tnode) {
	d.firstID = map[string]*Step{}
	d.labels = map[*Step]string{}
	if v, ok := intOf(root.get("version")); ok {
		wf.Version = v
	}
	wf.Name, _ = root.get("name").str()
	wf.Description, _ = root.get("description").str()
	if n := root.get("inputs"); n != nil && n.kind == MapValue {
		for i, name := range n.keys {
			if in := d.input(name, n.keyPos[i], n.vals[i]); in != nil {
				wf.Inputs = append(wf.Inputs, in)
			}
		}
	}
	if n := root.get("vars"); n != nil && n.kind == MapValue {
		for i, name := range n.keys {
			wf.Vars = append(wf.Vars, &Var{Name: name, Value: n.vals[i].value(), Pos: n.keyPos[i]})
		}
	}
	wf.Env = d.envNames(root.get("env"))
	if n := root.get("defaults"); n != nil && n.kind == MapValue {
		wf.Defaults.Retry = d.retry(n.get("retry"), "", "defaults.retry")
		wf.Defaults.Timeout, _ = d.duration(n.get("timeout"), "", "defaults.timeout")
		wf.Defaults.Polling = d.polling(n.get("polling"), "defaults.polling")
	}
	if n := root.get("concurrency"); n != nil {
		wf.Concurrency, _ = d.integer(n)
		wf.ConcurrencyPos = n.pos
	}
	wf.MaxTargets, _ = d.integer(root.get("max_targets"))
	wf.Approval, _ = root.get("approval").str()
	if n := root.get("http"); n != nil && n.kind == MapValue {
		if a := n.get("allow"); a != nil && a.kind == ListValue {
			wf.HTTPAllow = []string{}
			for _, e := range a.list {
				if s, ok := e.str(); ok {
					wf.HTTPAllow = append(wf.HTTPAllow, s)
				}
			}
		}
	}
	if n := root.get("steps"); n != nil && n.kind == ListValue {
		wf.Steps = d.steps(n, nil, "steps")
	}
	if o := root.get("outputs"); o != nil {
		wf.Outputs, wf.OutputsOrder = mappingValues(o)
	}
	// Needs are checked once every id is known, so that naming a step of
	// another list is told apart from naming no step at all.
	for _, l := range d.lists {
		d.checkNeeds(l)
	}
}

// envNames are the environment variables a workflow declares it reads;
// the ones it may never read (frameflow's credentials) are refused.
func (d *decoder) envNames(n *tnode) []string {
	if n == nil || n.kind != ListValue {
		return nil
	}
	var names []string
	for _, e := range n.list {
		s, ok := e.str()
		if !ok {
			continue
		}
		if why, refused := d.refusedEnv(s); refused {
			d.errorf(e.pos, "env: %s %s; a workflow may never read it (frameflow signs requests itself, and the workflow file may come from a pull request)", s, why)
			continue
		}
		names = append(names, s)
	}
	return names
}

var inputTypes = map[string]bool{"string": true, "number": true, "integer": true, "boolean": true, "list": true, "object": true}

func (d *decoder) input(name string, pos Pos, n *tnode) *Input {
	in := &Input{Name: name, Type: "string", Pos: pos}
	if n.kind != MapValue {
		return in
	}
	if t, ok := n.get("type").str(); ok {
		in.Type = t
	}
	in.Description, _ = n.get("description").str()
	in.Required, _ = boolOf(n.get("required"))
	in.Secret, _ = boolOf(n.get("secret"))
	if e := n.get("enum"); e != nil && e.kind == ListValue {
		for _, v := range e.list {
			in.Enum = append(in.Enum, v.json())
		}
	}
	def := n.get("default")
	if def != nil {
		in.HasDefault, in.Default = true, def.json()
	}
	label := fmt.Sprintf("input %q", name)
	// A secret's value never appears in a message, even its default.
	show := func(v any) string {
		if in.Secret {
			return ""
		}
		return repr(v) + " "
	}
	if in.Required && in.HasDefault {
		rp, _ := n.keyPosOf("required")
		d.errorf(rp, "%s is required and has a default; an input with a default is never missing, so remove one of them", label)
	}
	if !inputTypes[in.Type] {
		return in // the schema reported the bad type
	}
	if def != nil && !typeMatches(in.Type, in.Default) {
		d.errorf(def.pos, "%s: default %sis %s, but the input's type is %s", label, show(in.Default), describeActual(jsonType(in.Default)), in.Type)
	} else if def != nil && in.Type == "integer" && roundsToWhole(def) {
		d.errorf(def.pos, "%s: default %sis not exactly the whole number it would be read as; the input's type is integer", label, show(def.y.Value))
	}
	if e := n.get("enum"); e != nil && e.kind == ListValue {
		for _, v := range e.list {
			if x := v.json(); !typeMatches(in.Type, x) {
				d.errorf(v.pos, "%s: enum value %sis %s, but the input's type is %s", label, show(x), describeActual(jsonType(x)), in.Type)
			}
		}
		if def != nil && len(in.Enum) > 0 && !containsValue(in.Enum, in.Default) {
			if in.Secret {
				d.errorf(def.pos, "%s: the default is not one of the enum values", label)
			} else {
				var opts []string
				for _, x := range in.Enum {
					opts = append(opts, repr(x))
				}
				d.errorf(def.pos, "%s: default %s is not one of the enum values %s", label, repr(in.Default), strings.Join(opts, ", "))
			}
		}
	}
	return in
}

// typeMatches reports whether a decoded value has an input type.
func typeMatches(typ string, v any) bool {
	switch jt := jsonType(v); typ {
	case "string":
		return jt == "string"
	case "number":
		return jt == "number" || jt == "integer"
	case "integer":
		return jt == "integer"
	case "boolean":
		return jt == "boolean"
	case "list":
		return jt == "array"
	case "object":
		return jt == "object"
	}
	return false
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if fmt.Sprintf("%T:%v", e, e) == fmt.Sprintf("%T:%v", v, v) {
			return true
		}
		if a, ok := num(e); ok {
			if b, ok := num(v); ok && a == b {
				return true
			}
		}
	}
	return false
}

func num(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func (d *decoder) retry(n *tnode, prefix, field string) *Retry {
	if n == nil || n.kind != MapValue {
		return nil
	}
	r := &Retry{Pos: n.pos}
	r.MaxAttempts, _ = d.integer(n.get("max_attempts"))
	r.Backoff, _ = n.get("backoff").str()
	initial, okI := d.duration(n.get("initial_delay"), prefix, field+".initial_delay")
	maxd, okM := d.duration(n.get("max_delay"), prefix, field+".max_delay")
	r.InitialDelay, r.MaxDelay = initial, maxd
	if okI && okM && initial > maxd {
		d.errorf(n.get("initial_delay").pos, "%s%s.initial_delay (%s) is longer than %s.max_delay (%s)", prefix, field, initial, field, maxd)
	}
	r.Jitter, _ = boolOf(n.get("jitter"))
	r.AttemptTimeout, _ = d.duration(n.get("attempt_timeout"), prefix, field+".attempt_timeout")
	if on := n.get("on"); on != nil && on.kind == ListValue {
		for _, e := range on.list {
			if s, ok := e.str(); ok {
				r.On = append(r.On, s)
			}
		}
	}
	return r
}

// durationSyntax is what time.ParseDuration accepts; a string that matches
// it and still fails to parse overflowed.
var durationSyntax = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$`)

func (d *decoder) polling(n *tnode, field string) *Polling {
	if n == nil || n.kind != MapValue {
		return nil
	}
	p := &Polling{Pos: n.pos}
	initial, okI := d.duration(n.get("initial_interval"), "", field+".initial_interval")
	maxi, okM := d.duration(n.get("max_interval"), "", field+".max_interval")
	p.InitialInterval, p.MaxInterval = initial, maxi
	p.Timeout, _ = d.duration(n.get("timeout"), "", field+".timeout")
	if okI && okM && initial > maxi {
		d.errorf(n.get("initial_interval").pos, "%s.initial_interval (%s) is longer than %s.max_interval (%s)", field, initial, field, maxi)
	}
	return p
}

// duration reads a Go duration string or a whole number of seconds. It
// reports bad strings and negative values; other types were reported by the
// schema.
func (d *decoder) duration(n *tnode, prefix, field string) (time.Duration, bool) {
	if n == nil || n.kind != ScalarValue {
		return 0, false
	}
	var v time.Duration
	switch x := n.scalar.(type) {
	case string:
		p, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil && durationSyntax.MatchString(strings.TrimSpace(x)) {
			d.errorf(n.pos, "%s%s: %s is too long (at most %dh)", prefix, field, repr(x), int64(time.Duration(math.MaxInt64)/time.Hour))
			return 0, false
		}
		if err != nil {
			d.errorf(n.pos, "%s%s: invalid duration %s: use Go syntax such as \"500ms\", \"30s\", \"5m\" or \"1h30m\", or a number of seconds", prefix, field, repr(x))
			return 0, false
		}
		v = p
	default:
		secs, ok := d.integer(n)
		if !ok {
			return 0, false
		}
		if secs < 0 {
			// Checked before multiplying: -1e10 seconds would wrap around.
			d.errorf(n.pos, "%s%s must not be negative", prefix, field)
			return 0, false
		}
		if secs > int(time.Duration(1<<63-1)/time.Second) {
			d.errorf(n.pos, "%s%s: %d seconds is too long", prefix, field, secs)
			return 0, false
		}
		v = time.Duration(secs) * time.Second
	}
	if v < 0 {
		d.errorf(n.pos, "%s%s must not be negative", prefix, field)
		return 0, false
	}
	return v, true
}

var fanOutOnly = []string{"as", "concurrency", "max_failures", "max_failure_percent", "batch"}

var reservedNames = map[string]bool{"inputs": true, "vars": true, "steps": true, "env": true, "index": true}

// steps decodes one steps list (the top level or a group's body), then
// checks that each step's needs name a sibling.
func (d *decoder) steps(list *tnode, parent *Step, path string) []*Step {
	var out []*Step
	for i, n := range list.list {
		if s := d.step(n, parent, fmt.Sprintf("%s[%d]", path, i)); s != nil {
			out = append(out, s)
		}
	}
	d.lists = append(d.lists, out)
	return out
}

// checkNeeds reports needs that do not name a sibling.
func (d *decoder) checkNeeds(out []*Step) {
	siblings := map[string]bool{}
	var ids []string
	for _, s := range out {
		if s.ID != "" && !siblings[s.ID] {
			siblings[s.ID] = true
			ids = append(ids, s.ID)
		}
	}
	for _, s := range out {
		for i, need := range s.Needs {
			if siblings[need] {
				continue
			}
			label := d.labels[s]
			if other, ok := d.firstID[need]; ok {
				where := "at the top level"
				if other.Parent != nil {
					where = fmt.Sprintf("inside group %q", other.Parent.ID)
				}
				d.errorf(s.NeedsPos[i], "%sneeds %q, which is %s: needs may only name steps of the same list (read other steps through expressions)", label, need, where)
				continue
			}
			d.errorf(s.NeedsPos[i], "%sneeds unknown step %q%s", label, need, suggest.DidYouMean(need, ids))
		}
	}
}

func stepLabel(s *Step, path string) string {
	if s.ID != "" {
		return fmt.Sprintf("step %q: ", s.ID)
	}
	return path + ": "
}

// step decodes one step mapping (and a group's steps within it); its
// problems are reported prefixed with its label.
func (d *decoder) step(n *tnode, parent *Step, path string) *Step {
	if n.kind != MapValue {
		return nil
	}
	s := &Step{Pos: n.pos, Parent: parent}
	d.stepID(s, n)
	label := stepLabel(s, path)
	d.labels[s] = label
	if u, ok := n.get("uses").str(); ok {
		s.Uses, s.UsesPos = u, n.get("uses").pos
	}
	s.WithPos = n.pos
	if w := n.get("with"); w != nil {
		s.WithPos = w.pos
		s.With, s.WithOrder = mappingValues(w)
	}
	decodeNeeds(s, n.get("needs"))
	if c := n.get("if"); c != nil && c.kind == ScalarValue {
		switch v := c.scalar.(type) {
		case string:
			s.If, s.IfPos = stripExpression(v), c.pos
		case bool:
			s.If, s.IfPos = fmt.Sprint(v), c.pos
		}
	}
	s.Retry = d.retry(n.get("retry"), label, "retry")
	s.Timeout, _ = d.duration(n.get("timeout"), label, "timeout")
	s.ContinueOnError, _ = boolOf(n.get("continue_on_error"))
	s.Confirm, _ = boolOf(n.get("confirm"))
	if a := n.get("approval"); a != nil {
		s.Approval, _ = a.str()
		s.ApprovalPos = a.pos
	}
	s.Description, _ = n.get("description").str()
	s.MaxTargets, _ = d.integer(n.get("max_targets"))
	if o := n.get("outputs"); o != nil {
		s.Outputs, s.OutputsOrder = mappingValues(o)
	}
	d.fanOut(s, n, label)
	d.checkStepShape(n, label)
	if g := n.get("steps"); g != nil && g.kind == ListValue {
		s.Steps = d.steps(g, s, path+".steps")
	}
	return s
}

// stepID records a step's id; a second step with the same id anywhere in
// the file is an error.
func (d *decoder) stepID(s *Step, n *tnode) {
	id, ok := n.get("id").str()
	if !ok || id == "" {
		return
	}
	s.ID, s.IDPos = id, n.get("id").pos
	if first, dup := d.firstID[id]; dup {
		d.errorf(s.IDPos, "duplicate step id %q (first used at line %d); ids must be unique in the whole file, groups included", id, first.IDPos.Line)
	} else {
		d.firstID[id] = s
	}
}

// mappingValues are a mapping's values by key and its keys in file order;
// nil for anything but a mapping.
func mappingValues(m *tnode) (map[string]*Value, []string) {
	if m.kind != MapValue {
		return nil, nil
	}
	values := make(map[string]*Value, len(m.keys))
	var order []string
	for i, k := range m.keys {
		values[k] = m.vals[i].value()
		order = append(order, k)
	}
	return values, order
}

// decodeNeeds reads needs: one step id, or a list of them.
func decodeNeeds(s *Step, nd *tnode) {
	if nd == nil {
		return
	}
	if str, ok := nd.str(); ok {
		s.Needs, s.NeedsPos = []string{str}, []Pos{nd.pos}
		return
	}
	if nd.kind != ListValue {
		return
	}
	for _, e := range nd.list {
		if str, ok := e.str(); ok {
			s.Needs = append(s.Needs, str)
			s.NeedsPos = append(s.NeedsPos, e.pos)
		}
	}
}

// fanOut reads for_each (an expression or a YAML list), the item's name
// (as) and the fan-out's limits.
func (d *decoder) fanOut(s *Step, n *tnode, label string) {
	if fe := n.get("for_each"); fe != nil {
		s.ForEachPos = fe.pos
		if str, ok := fe.str(); ok {
			s.ForEach = strings.TrimSpace(str)
		} else if fe.kind == ListValue {
			s.ForEachList = fe.value()
		}
		s.As = "item"
	}
	if as, ok := n.get("as").str(); ok {
		s.As = as
		if reservedNames[as] {
			d.errorf(n.get("as").pos, "%sas: %q is a reserved name in expressions; choose another item name", label, as)
		}
	}
	s.Concurrency, _ = d.integer(n.get("concurrency"))
	if v, ok := d.integer(n.get("max_failures")); ok {
		s.MaxFailures = &v
	}
	if v, ok := num(n.get("max_failure_percent").scalarOrNil()); ok {
		s.MaxFailurePercent = &v
	}
	s.Batch, _ = d.integer(n.get("batch"))
}

// checkStepShape reports a step that is neither one step type nor a group
// of steps, or both; with: on a group; fan-out settings without for_each.
func (d *decoder) checkStepShape(n *tnode, label string) {
	fe := n.get("for_each")
	_, hasUses := n.keyPosOf("uses")
	stepsKey, hasSteps := n.keyPosOf("steps")
	withKey, hasWith := n.keyPosOf("with")
	switch {
	case hasUses && hasSteps:
		d.errorf(stepsKey, "%sa step has either uses (one step type) or steps (a group), not both", label)
	case !hasUses && !hasSteps:
		d.errorf(n.pos, "%sthe step needs uses (the step type to run) or steps (a group run for each item of for_each)", label)
	case hasSteps && fe == nil:
		d.errorf(stepsKey, "%sa group (steps:) runs once per item and needs for_each", label)
	}
	if hasWith && !hasUses && hasSteps {
		d.errorf(withKey, "%swith belongs to a step with uses; a group's steps take their own with", label)
	}
	if fe == nil {
		for _, k := range fanOutOnly {
			if pos, ok := n.keyPosOf(k); ok {
				d.errorf(pos, "%s%s only applies to a fan-out (for_each)", label, k)
			}
		}
	}
}

func (t *tnode) scalarOrNil() any {
	if t == nil || t.kind != ScalarValue {
		return nil
	}
	return t.scalar
}

var singleExprRe = regexp.MustCompile(`^\s*\$\{\{((?:[^}]|\}[^}])*)\}\}\s*$`)

// stripExpression returns the source of a string that is exactly one ${{ }}
// expression, and the string itself otherwise.
func stripExpression(s string) string {
	if m := singleExprRe.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return strings.TrimSpace(s)
}

// integer is intOf for a field that must be an integer: a whole number
// written as a float too large to be exact (1e23) is refused with its
// position instead of being dropped in favour of the default. Fractions and
// other types are reported by the JSON Schema.
func (d *decoder) integer(t *tnode) (int, bool) {
	v, ok := intOf(t)
	if ok && roundsToWhole(t) {
		// 200.00000000000001 rounds to the float 200: not what was written.
		d.errorf(t.pos, "%s is not exactly the whole number it would be read as (%d); this field takes an integer", t.y.Value, v)
		return 0, false
	}
	if ok || t == nil || t.kind != ScalarValue {
		return v, ok
	}
	if f, isFloat := t.scalar.(float64); isFloat && f == math.Trunc(f) && !intLiteral.MatchString(t.y.Value) {
		d.errorf(t.pos, "%s is too large to be an exact integer (at most %d)", t.y.Value, 1<<53)
	}
	return 0, false
}

// roundsToWhole reports a float literal whose decoded value is a whole
// number other than the one written: 200.00000000000001 is the float 200,
// 20000000000000010.0 the float 20000000000000008.
func roundsToWhole(t *tnode) bool {
	if t == nil || t.kind != ScalarValue || t.y == nil || t.y.ShortTag() != "!!float" {
		return false
	}
	f, ok := t.scalar.(float64)
	if !ok {
		return false
	}
	exact, ok := new(big.Float).SetPrec(4096).SetString(strings.ReplaceAll(t.y.Value, "_", ""))
	return ok && exact.Cmp(new(big.Float).SetPrec(4096).SetFloat64(f)) != 0
}

// exactlyWhole reports whether a YAML float literal denotes a whole number
// exactly (1e3, 2.0), as opposed to rounding to one as a float64 does.
func exactlyWhole(lit string) bool {
	f, ok := new(big.Float).SetPrec(4096).SetString(strings.ReplaceAll(lit, "_", ""))
	if !ok {
		return true // .inf and the like: not for this check
	}
	return f.IsInt()
}

func intOf(t *tnode) (int, bool) {
	if t == nil || t.kind != ScalarValue {
		return 0, false
	}
	switch v := t.scalar.(type) {
	case int:
		return v, true
	case float64:
		if v == float64(int64(v)) && v >= -(1<<53) && v <= 1<<53 {
			return int(v), true
		}
	}
	return 0, false
}

func boolOf(t *tnode) (bool, bool) {
	if t == nil || t.kind != ScalarValue {
		return false, false
	}
	b, ok := t.scalar.(bool)
	return b, ok
}
