package engine

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	xexpr "github.com/frameflow/frameflow/engine/expr"
	"github.com/frameflow/frameflow/schema"
)

// Program is a compiled workflow: every expression compiled once, the DAG
// built and checked. It is immutable and may run many times.
type Program struct {
	wf     *schema.Workflow
	reg    *Registry
	top    *unit // the workflow file's own scope; called playbooks have theirs
	root   *graph
	nodes  []*node // every node, depth-first in file order
	byID   map[string]*node
	vars   []*compiledVar
	env    map[string]bool
	inputs map[string]*schema.Input

	predEnvBase map[string]*xexpr.Type // inputs, vars, env: what a predicate sees besides its element
	approvals   []string               // full ids of the steps needing approval, in file order (Approvals)
	parallelism int
	playbookOf  map[string]string // full step id -> called playbook holding it (PlaybookOf)
	byFullOnce  sync.Once
	byFull      map[string]*node // full step id ("group.step", "call.step") -> node; made on first use (stepPos)
}

// unit is one playbook's scope: the workflow file itself, or a called
// playbook (uses: ./x.yaml) as bound at one call site. Step ids, inputs,
// vars and env are a unit's own: a called playbook sees nothing of its
// caller but the inputs it is given, and its caller sees only its outputs.
type unit struct {
	wf          *schema.Workflow
	call        *node // the calling step; nil for the workflow file
	byID        map[string]*node
	hide        map[string]string // ids visible only inside their group, with the reason
	inputs      map[string]*schema.Input
	env         map[string]bool
	vars        []*compiledVar
	predEnvBase map[string]*xexpr.Type // inputs, vars, env as its expressions see them
	// outputs are the playbook's declared outputs, evaluated among its
	// top-level steps (outputRefs: the step ids they read).
	outputs    map[string]*compiledValue
	outputRefs []string
	// statusOutputs are the outputs that read no step's outputs (only
	// inputs, vars, env and steps' status): a call evaluates them however
	// the playbook ended, so a caller learns which stage of a failed item
	// failed; the others only when it succeeded.
	statusOutputs map[string]bool
	// filters are the filters of its steps given by an expression (over
	// its inputs, vars and env), compiled each time a call binds them.
	filters []unitFilter
	// runWF is the workflow step types see (StepContext.Workflow): the
	// playbook's own, with its caller's http.allow when it has none.
	runWF *schema.Workflow
	// defaults are the playbook's defaults; each one it does not set is
	// its caller's (a library follows the retry, timeout and polling of
	// the playbook that runs it, unless it says otherwise).
	defaults schema.Defaults
	polling  PollingPolicy
}

func (c *compiler) newUnit(wf *schema.Workflow, call *node, size int) *unit {
	u := &unit{wf: wf, call: call, byID: make(map[string]*node, size), hide: map[string]string{}, inputs: map[string]*schema.Input{}, env: map[string]bool{}, runWF: wf, defaults: wf.Defaults}
	if call != nil {
		caller := call.unit.defaults
		if u.defaults.Retry == nil {
			u.defaults.Retry = caller.Retry
		}
		if u.defaults.Timeout == 0 {
			u.defaults.Timeout = caller.Timeout
		}
		if u.defaults.Polling == nil {
			u.defaults.Polling = caller.Polling
		}
	}
	if pp := u.defaults.Polling; pp != nil {
		u.polling = PollingPolicy{InitialInterval: pp.InitialInterval, MaxInterval: pp.MaxInterval, Timeout: pp.Timeout}
	}
	for _, name := range wf.Env {
		u.env[name] = true
	}
	for _, in := range wf.Inputs {
		if u.inputs[in.Name] != nil && !wf.Checked {
			c.errf(in.Pos, "input %q declared twice", in.Name)
		}
		u.inputs[in.Name] = in
	}
	if outer := call.outerAllow(); call != nil && wf.HTTPAllow != nil && outer != nil {
		// Both name hosts: the library's list may only narrow its
		// caller's, since step types check a computed URL against the
		// library's list alone.
		for _, h := range wf.HTTPAllow {
			if !slices.Contains(outer, h) {
				c.errf(call.step.UsesPos, "step %q: %s allows http.request to %q, which this playbook's http.allow does not; a called playbook cannot widen it", call.id, wf.File, h)
			}
		}
	}
	if call != nil && wf.HTTPAllow == nil && call.unit.runWF.HTTPAllow != nil {
		// A library that names no hosts may call only what its caller may.
		// Step types read only the playbook's settings from it (http.allow).
		u.runWF = &schema.Workflow{File: wf.File, Hash: wf.Hash, SourceHash: wf.SourceHash, Version: wf.Version, Name: wf.Name, Description: wf.Description,
			Inputs: wf.Inputs, Vars: wf.Vars, Env: wf.Env, Defaults: wf.Defaults, Concurrency: wf.Concurrency, ConcurrencyPos: wf.ConcurrencyPos, MaxTargets: wf.MaxTargets, Approval: wf.Approval,
			HTTPAllow: call.unit.runWF.HTTPAllow, Steps: wf.Steps, Outputs: wf.Outputs, OutputsOrder: wf.OutputsOrder, Pos: wf.Pos, Root: wf.Root, Checked: wf.Checked}
	}
	return u
}

type compiledVar struct {
	name string
	val  *compiledValue
}

// graph is the top-level DAG or a group's body (run once per item).
type graph struct {
	unit   *unit
	parent *node // the group or call owning it; nil at top level
	nodes  []*node
	topo   []*node
	steps  *xexpr.Type // `steps` as seen from inside this graph
}

type node struct {
	graph      *graph
	index      int // in g.nodes
	topoIndex  int // in g.topo
	step       *schema.Step
	id         string
	full       string // "group.step" inside groups
	stepType   *StepType
	deps       []int
	depSet     map[int]bool // deps as a set, made only once deps grows long
	dependants []int        // dependants
	body       *graph
	unit       *unit // the playbook the step is written in
	callee     *unit // uses: ./x.yaml: the called playbook, whose top graph is body

	ifExpr        *xexpr.Expr
	ifRefs        map[string]bool
	forEach       *xexpr.Expr
	forEachList   *compiledValue // for_each written as a YAML list
	as            string
	with          map[string]*compiledValue
	filters       map[string]*filterInput
	outputs       map[string]*compiledValue
	outType       *xexpr.Type // what steps.<id>.outputs holds
	retry         *retryPolicy
	timeout       time.Duration
	mutates       bool // the step or, for fan-outs and groups, something inside
	needsApproval bool // approval: destructive or confirm
	maxTarget     int
	refs          []string // step ids its expressions read, for building their env
}

func (n *node) fanout() bool { return n.forEach != nil || n.forEachList != nil }

// filterInput is a compiled predicate input: compiled at Compile when its source
// is a literal, or at run start when it comes from an expression.
type filterInput struct {
	spec           *PredicateSpec
	static         *xexpr.Expr
	sourceTemplate *xexpr.Template // yields the predicate's source
	pos            schema.Pos
	env            *xexpr.Type
}

// unitFilter is a filter input of a called playbook's step whose source
// is an expression.
type unitFilter struct {
	node   *node
	name   string
	filter *filterInput
}

// compiledValue is a `with` value: constants folded, templates compiled.
type compiledValue struct {
	constant any
	isConst  bool
	tmpl     *xexpr.Template
	list     []*compiledValue
	keys     []string
	m        map[string]*compiledValue
	isList   bool
	// secret names the secret the value may be computed from ("" when
	// none): it may only be sent in an input the step type marks
	// Sensitive, and its values are redacted wherever they appear.
	secret string
}

type compiler struct {
	p        *Program
	u        *unit // the playbook being compiled
	diags    schema.Diagnostics
	shape    map[*Shape]*xexpr.Type
	policies map[*schema.Retry]*retryPolicy
}

// Compile checks everything that can be checked before running and returns
// every problem at once, at the positions the loader recorded.
func Compile(wf *schema.Workflow, reg *Registry) (*Program, schema.Diagnostics) {
	if reg == nil {
		reg = NewRegistry()
	}
	size := countSteps(wf.Steps)
	// Sized once: growing a map of 100,000 ids rehashes it over and over.
	p := &Program{wf: wf, reg: reg, nodes: make([]*node, 0, size)}
	c := &compiler{p: p, shape: map[*Shape]*xexpr.Type{}}
	c.u = c.newUnit(wf, nil, size)
	p.top, p.byID, p.env, p.inputs = c.u, c.u.byID, c.u.env, c.u.inputs
	p.root = c.buildGraph(wf.Steps, nil)
	c.compileVars()
	c.compileGraph(p.root)
	c.compileWorkflowOutputs(p.root)
	p.vars, p.predEnvBase = c.u.vars, c.u.predEnvBase
	c.order(p.root)
	if len(c.diags) > 0 {
		// A called playbook compiled at two call sites reports its own
		// problems twice: once is enough.
		schema.SortDiagnostics(c.diags)
		out := c.diags[:0]
		for i, d := range c.diags {
			if i == 0 || d != c.diags[i-1] {
				out = append(out, d)
			}
		}
		return nil, out
	}
	p.indexPlaybooks()
	// RunOptions.Approve is asked about the list front ends show.
	for _, a := range p.Approvals() {
		p.approvals = append(p.approvals, a.Step)
	}
	return p, nil
}

// MaxExpandedSteps bounds the steps of a workflow once every call (uses:
// ./x.yaml) has its own copy of the playbook it runs.
var MaxExpandedSteps = 1_000_000

// callDepth counts the calls from the workflow file down to n's playbook.
func (c *compiler) callDepth(n *node) int {
	d := 0
	for u := n.unit; u.call != nil; u = u.call.unit {
		d++
	}
	return d
}

func countSteps(steps []*schema.Step) int {
	n := len(steps)
	for _, s := range steps {
		n += countSteps(s.Steps)
	}
	return n
}

// Workflow is the model the program was compiled from.
func (p *Program) Workflow() *schema.Workflow { return p.wf }

// ApprovalStep is a step that needs approval before a run sends anything:
// its type is destructive, or the workflow marks it confirm: true.
type ApprovalStep struct {
	Step string `json:"step"` // full id: "group.step" inside groups
	Uses string `json:"uses"` // its step type
}

func (a ApprovalStep) String() string { return a.Step + " (" + a.Uses + ")" }

// Approvals lists, in file order, the steps that need approval: the same
// list RunOptions.Approve is given. Empty: the workflow needs none.
func (p *Program) Approvals() []ApprovalStep {
	var out []ApprovalStep
	for _, n := range p.nodes {
		if n.stepType != nil && n.needsApproval {
			out = append(out, ApprovalStep{Step: n.full, Uses: n.stepType.Name})
		}
	}
	return out
}

// StepsUsing lists, in file order, the full ids of the steps of type typ.
func (p *Program) StepsUsing(typ string) []string {
	var out []string
	for _, n := range p.nodes {
		if n.stepType != nil && n.stepType.Name == typ {
			out = append(out, n.full)
		}
	}
	return out
}

// structf reports a structural problem (ids, step types, group shape,
// needs, with inputs) unless the loader already checked the structure; a
// model built by hand (tests, tools) still gets these checks.
func (c *compiler) structf(pos schema.Pos, format string, args ...any) {
	if c.u.wf.Checked {
		return
	}
	c.errf(pos, format, args...)
}

func (c *compiler) errf(pos schema.Pos, format string, args ...any) {
	if pos.File == "" {
		pos.File = c.u.wf.File
	}
	c.diags = append(c.diags, schema.Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// buildGraph makes nodes for steps, resolving step types; expressions come
// later, once every id (and so every output shape) is known.
func (c *compiler) buildGraph(steps []*schema.Step, parent *node) *graph {
	g := &graph{unit: c.u, parent: parent, nodes: make([]*node, 0, len(steps))}
	slab := make([]node, len(steps)) // one allocation for the graph's nodes, which live as long as the program
	for i, s := range steps {
		n := &slab[i]
		*n = node{graph: g, index: len(g.nodes), step: s, id: s.ID, full: s.ID, unit: c.u}
		if parent != nil {
			n.full = parent.full + "." + s.ID
		}
		if prev, dup := c.u.byID[s.ID]; dup {
			c.structf(s.IDPos, "duplicate step id %q (first at %s)", s.ID, prev.step.IDPos)
		} else {
			c.u.byID[s.ID] = n
		}
		g.nodes = append(g.nodes, n)
		c.p.nodes = append(c.p.nodes, n)
		switch {
		case s.IsGroup():
			n.body = c.buildGraph(s.Steps, n)
			for _, b := range n.body.nodes {
				c.u.hide[b.id] = fmt.Sprintf("step %q is inside group %q: only steps of that group can reference it (use steps.%s.outputs.items)", b.id, n.id, n.id)
			}
		case s.IsCall():
			if s.Callee == nil {
				// The loader reported why (no such file, a cycle, ...).
				c.structf(s.UsesPos, "step %q: the called playbook %s was not loaded", s.ID, s.Uses)
				break
			}
			if depth := c.callDepth(n); depth > schema.MaxCallDepth {
				c.errf(s.UsesPos, "step %q: playbooks nest more than %d deep", s.ID, schema.MaxCallDepth)
				break
			}
			// Each call compiles its own copy of the playbook: calls that
			// call several times at each level multiply. Bounded, so a
			// small file cannot expand into millions of steps.
			if len(c.p.nodes)+countSteps(s.Callee.Steps) > MaxExpandedSteps {
				c.errf(s.UsesPos, "step %q: with the playbooks it calls, the workflow would have more than %d steps; call fewer times (a call with for_each runs once per item without copying)", s.ID, MaxExpandedSteps)
				break
			}
			// The called playbook's steps become the body, in its own
			// scope; they are compiled with the rest (compileGraph).
			saved := c.u
			c.u = c.newUnit(s.Callee, n, countSteps(s.Callee.Steps))
			n.callee = c.u
			n.body = c.buildGraph(s.Callee.Steps, n)
			c.u = saved
		case s.Uses == "":
			c.structf(s.Pos, "step %q has neither uses nor steps", s.ID)
		default:
			t, ok := c.p.reg.Lookup(s.Uses)
			if !ok {
				msg := fmt.Sprintf("unknown step type %q", s.Uses)
				if sug := xexpr.DidYouMean(s.Uses, c.p.reg.names()); sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				c.structf(s.UsesPos, "%s", msg)
			}
			n.stepType = t
		}
	}
	return g
}

func (c *compiler) typeOfShape(s *Shape) *xexpr.Type {
	if s == nil {
		return xexpr.Any
	}
	if t, ok := c.shape[s]; ok {
		return t
	}
	t := &xexpr.Type{Kind: s.Kind}
	c.shape[s] = t
	switch s.Kind {
	case "object":
		t.Open = s.Open
		t.Fields = map[string]*xexpr.Type{}
		for k, f := range s.Fields {
			t.Fields[k] = c.typeOfShape(f)
		}
	case "list":
		t.Elem = c.typeOfShape(s.Elem)
	}
	return t
}

// outputsType is what steps.<id>.outputs holds for n.
func (c *compiler) outputsType(n *node) *xexpr.Type {
	if n.outType != nil {
		return n.outType
	}
	var one *xexpr.Type
	if n.callee != nil {
		fields := map[string]*xexpr.Type{}
		for _, k := range n.callee.wf.OutputsOrder {
			fields[k] = xexpr.Any
		}
		one = &xexpr.Type{Kind: "object", Noun: "output", Of: fmt.Sprintf(" of playbook %s (step %q; it declares them under outputs:)", n.step.Uses, n.id), Fields: fields}
	} else if n.body != nil {
		fields := map[string]*xexpr.Type{}
		for _, b := range n.body.nodes {
			fields[b.id] = c.outputsType(b)
		}
		for _, k := range n.step.OutputsOrder {
			fields[k] = xexpr.Any
		}
		one = &xexpr.Type{Kind: "object", Noun: "step", Of: fmt.Sprintf(" in an item of group %q", n.id), Fields: fields}
	} else {
		fields := map[string]*xexpr.Type{}
		open := n.stepType == nil || n.stepType.Outputs == nil
		typeName := n.step.Uses
		if n.stepType != nil {
			for k, s := range n.stepType.Outputs {
				fields[k] = c.typeOfShape(s)
			}
		}
		for _, k := range n.step.OutputsOrder {
			fields[k] = xexpr.Any
		}
		one = &xexpr.Type{Kind: "object", Noun: "output", Of: fmt.Sprintf(" of step %q (%s)", n.id, typeName), Fields: fields, Open: open}
	}
	if n.step.ForEach != "" || n.step.ForEachList != nil {
		one = &xexpr.Type{Kind: "object", Noun: "output", Of: fmt.Sprintf(" of fan-out step %q (it has items, errors and count)", n.id),
			Fields: map[string]*xexpr.Type{"items": xexpr.List(one), "errors": xexpr.List(&xexpr.Type{Kind: "string"}), "count": xexpr.Any}}
	}
	n.outType = one
	return one
}

func stepEntry(out *xexpr.Type, id string) *xexpr.Type {
	return &xexpr.Type{Kind: "object", Of: fmt.Sprintf(" of steps.%s (use outputs or status)", id),
		Fields: map[string]*xexpr.Type{"outputs": out, "status": xexpr.Any}}
}

// stepsType is `steps` as seen from inside g: its own nodes and those of
// every enclosing graph. Steps in other groups are named with a reason.
func (c *compiler) stepsType(g *graph) *xexpr.Type {
	if g.steps != nil {
		return g.steps
	}
	fields := map[string]*xexpr.Type{}
	if g.parent != nil && g.parent.callee == nil { // a called playbook sees none of its caller's steps
		for k, v := range c.stepsType(g.parent.graph).Fields {
			fields[k] = v
		}
	}
	for _, n := range g.nodes {
		fields[n.id] = stepEntry(c.outputsType(n), n.id)
	}
	g.steps = &xexpr.Type{Kind: "object", Noun: "step", Fields: fields, Hidden: g.unit.hide}
	return g.steps
}

func (c *compiler) inputsType() *xexpr.Type {
	f := map[string]*xexpr.Type{}
	for _, in := range c.u.wf.Inputs {
		f[in.Name] = xexpr.Any
		if in.Type == "list" {
			f[in.Name] = xexpr.List(xexpr.Any)
		}
		if in.Secret {
			f[in.Name] = f[in.Name].AsSecret()
		}
	}
	return &xexpr.Type{Kind: "object", Noun: "input", Fields: f}
}

func (c *compiler) envType() *xexpr.Type {
	f := map[string]*xexpr.Type{}
	for n := range c.u.env {
		f[n] = xexpr.Any
	}
	return &xexpr.Type{Kind: "object", Noun: "environment variable", Hint: "(only names declared under env: can be read)", Fields: f}
}

func (c *compiler) compileVars() {
	inputs, env := c.inputsType(), c.envType()
	vars := &xexpr.Type{Kind: "object", Noun: "var", Fields: map[string]*xexpr.Type{}, Hidden: map[string]string{}}
	for _, v := range c.u.wf.Vars {
		vars.Hidden[v.Name] = fmt.Sprintf("var %q is defined later; a var can only use the vars before it", v.Name)
	}
	root := xexpr.Object("name", map[string]*xexpr.Type{"inputs": inputs, "vars": vars, "env": env})
	for _, v := range c.u.wf.Vars {
		val := c.compileValue(v.Value, func() *xexpr.Type { return root }, nil)
		c.u.vars = append(c.u.vars, &compiledVar{name: v.Name, val: val})
		delete(vars.Hidden, v.Name)
		vars.Fields[v.Name] = typeOfValue(v.Value, val)
		if val != nil && val.secret != "" {
			// A var computed from a secret is a secret: whatever reads it
			// is tainted in turn.
			vars.Fields[v.Name] = vars.Fields[v.Name].AsSecret()
		}
	}
	c.u.predEnvBase = map[string]*xexpr.Type{"inputs": inputs, "vars": vars, "env": env}
}

// typeOfValue infers the type of a var from its literal structure.
func typeOfValue(v *schema.Value, t *compiledValue) *xexpr.Type {
	if t == nil || v == nil {
		return xexpr.Any
	}
	if t.tmpl != nil {
		if s := t.tmpl.Single(); s != nil {
			return s.Result()
		}
		return xexpr.Any
	}
	switch v.Kind {
	case schema.MapValue:
		f := map[string]*xexpr.Type{}
		for k, e := range v.Map {
			var et *compiledValue
			if t.m != nil {
				et = t.m[k]
			}
			f[k] = typeOfValue(e, et)
			if et == nil {
				f[k] = xexpr.Any
			}
		}
		return &xexpr.Type{Kind: "object", Fields: f}
	case schema.ListValue:
		return xexpr.List(xexpr.Any)
	}
	return xexpr.Any
}

// envFor is the expression environment of the nodes of g; item adds the
// fan-out variables (as and index) of a plain fan-out step.
func (c *compiler) envFor(g *graph, item *node, itemType *xexpr.Type) *xexpr.Type {
	f := map[string]*xexpr.Type{
		"inputs": g.unit.predEnvBase["inputs"],
		"vars":   g.unit.predEnvBase["vars"],
		"env":    g.unit.predEnvBase["env"],
		"steps":  c.stepsType(g),
	}
	var chain []*node
	// The item variables of enclosing fan-outs, up to the playbook's own
	// top level: a called playbook does not see its caller's items.
	for a := g.parent; a != nil && a.callee == nil; a = a.graph.parent {
		chain = append(chain, a)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		a := chain[i]
		f[a.as] = elemType(a.forEach)
		f["index"] = xexpr.Any
	}
	if item != nil {
		f[item.as] = itemType
		f["index"] = xexpr.Any
	}
	return xexpr.Object("name", f)
}

// lazyEnv is an expression environment built on first use: a graph whose
// steps hold no expression never needs the type of `steps`, which costs
// two types and their field maps per step of the graph.
type lazyEnv func() *xexpr.Type

func lazy(f func() *xexpr.Type) lazyEnv {
	var t *xexpr.Type
	return func() *xexpr.Type {
		if t == nil {
			t = f()
		}
		return t
	}
}

func elemType(e *xexpr.Expr) *xexpr.Type {
	if e == nil {
		return xexpr.Any
	}
	if r := e.Result(); r != nil && r.Kind == "list" && r.Elem != nil {
		return r.Elem
	}
	return xexpr.Any
}

// compileGraph compiles every step of g: its needs, condition and fan-out,
// then what it runs (a called playbook, a group's body, or a step type's
// inputs and outputs), then the flags that bubble up to fan-outs.
func (c *compiler) compileGraph(g *graph) {
	base := lazy(func() *xexpr.Type { return c.envFor(g, nil, nil) })
	for _, n := range g.nodes {
		n.as = n.step.As
		if n.as == "" {
			n.as = "item"
		}
		c.compileNeeds(n)
		c.compileIf(n, base)
		env := c.compileForEach(g, n, base)
		switch {
		case n.callee != nil:
			c.compileCall(n, env)
		case n.body != nil:
			c.compileGroup(n)
		case n.stepType != nil:
			c.compileWith(n, env)
			n.outputs = c.compileOutputs(n, c.stepOutputsEnv(n, env))
		}
		c.policy(n)
	}
	for _, n := range g.nodes {
		c.markMutations(n)
	}
}

// compileNeeds records a step's needs: a sibling, or a step of an
// enclosing graph.
func (c *compiler) compileNeeds(n *node) {
	s := n.step
	for i, need := range s.Needs {
		pos := s.Pos
		if i < len(s.NeedsPos) {
			pos = s.NeedsPos[i]
		}
		c.addDep(n, need, pos, "needs")
	}
}

// compileIf compiles a step's if: and the steps it reads, which become
// dependencies.
func (c *compiler) compileIf(n *node, base lazyEnv) {
	s := n.step
	if s.If == "" {
		return
	}
	src, off := xexpr.Bare(s.If)
	e := c.compileExpr(src, base(), s.IfPos, c.sourceShift(s.IfPos, src, off))
	if e == nil {
		return
	}
	c.refuseSecretCondition(e, s.IfPos, "if")
	n.ifExpr = e
	n.ifRefs = map[string]bool{}
	for _, r := range e.Refs() {
		if id, ok := stepRef(r); ok {
			n.ifRefs[id] = true
		}
	}
	c.refDeps(n, e.Refs(), s.IfPos)
}

// compileForEach compiles a step's for_each (an expression or a YAML list)
// and returns the environment of its with: values: base, plus the item
// variable for a plain fan-out step or a call (a group's steps see the item
// through envFor of its body).
func (c *compiler) compileForEach(g *graph, n *node, base lazyEnv) lazyEnv {
	s := n.step
	seesItem := n.body == nil || n.callee != nil
	switch {
	case s.ForEachList != nil:
		n.forEachList = c.compileValue(s.ForEachList, base, n)
		if n.forEachList != nil && n.forEachList.secret != "" {
			c.errf(s.ForEachList.Pos, "for_each reads a secret (%s): a condition on a secret leaks it one bit at a time (the number and labels of items are shown)", n.forEachList.secret)
		}
		if n.forEachList == nil {
			n.forEachList = &compiledValue{isConst: true, constant: []any{}}
		}
		if seesItem {
			return lazy(func() *xexpr.Type { return c.envFor(g, n, xexpr.Any) })
		}
	case s.ForEach != "":
		src, off := xexpr.Bare(s.ForEach)
		if e := c.compileExpr(src, base(), s.ForEachPos, c.sourceShift(s.ForEachPos, src, off)); e != nil {
			c.refuseSecretCondition(e, s.ForEachPos, "for_each")
			n.forEach = e
			c.refDeps(n, e.Refs(), s.ForEachPos)
		}
		env := base
		if seesItem {
			elem := elemType(n.forEach)
			env = lazy(func() *xexpr.Type { return c.envFor(g, n, elem) })
		}
		if n.forEach == nil {
			// It did not compile: mark the step as a fan-out anyway, so
			// its outputs are typed as such and its body is still checked.
			n.forEach, _ = xexpr.Compile("[]", xexpr.Object("name", nil))
		}
		return env
	}
	return base
}

// compileGroup checks a group's shape and compiles its body and declared
// outputs, which are evaluated per item, among its steps.
func (c *compiler) compileGroup(n *node) {
	s := n.step
	if len(s.With) > 0 {
		c.structf(s.Pos, "group %q cannot have with: (its steps have their own)", n.id)
	}
	if s.ForEach == "" && s.ForEachList == nil {
		c.structf(s.Pos, "group %q needs for_each: a group runs its steps once per item", n.id)
	}
	c.compileGraph(n.body)
	n.outputs = c.compileOutputs(n, lazy(func() *xexpr.Type { return c.envFor(n.body, nil, nil) }))
}

// stepOutputsEnv is what a step's declared outputs see: env plus the
// step's own raw answer as `outputs`.
func (c *compiler) stepOutputsEnv(n *node, env lazyEnv) lazyEnv {
	if len(n.step.Outputs) == 0 {
		return env
	}
	f := map[string]*xexpr.Type{}
	for k, v := range env().Fields {
		f[k] = v
	}
	raw := &xexpr.Type{Kind: "object", Noun: "output", Of: fmt.Sprintf(" of step %q (%s)", n.id, n.stepType.Name), Open: n.stepType.Outputs == nil, Fields: map[string]*xexpr.Type{}}
	for k, sh := range n.stepType.Outputs {
		raw.Fields[k] = c.typeOfShape(sh)
	}
	f["outputs"] = raw
	t := xexpr.Object("name", f)
	return func() *xexpr.Type { return t }
}

// markMutations sets whether n mutates and needs approval; a fan-out,
// group or call mutates when something inside it does.
func (c *compiler) markMutations(n *node) {
	if t := n.stepType; t != nil {
		n.mutates = t.Mutates
		// A type may narrow its mutations by its inputs (http.request:
		// a GET is a read); a mutating step needs approval unless the
		// playbook or step declares it not required.
		mutation := t.Mutates
		if mutation && t.NeedsApproval != nil {
			constants, dynamic := constWith(n)
			mutation = t.NeedsApproval(constants, dynamic)
		}
		n.needsApproval = t.Destructive || n.step.Confirm || (mutation && c.approvalOf(n.step) != "not_required")
		if t.Destructive && n.step.Approval == "not_required" {
			c.errf(n.step.ApprovalPos, "step %s uses %s, which overwrites or deletes data: it always needs approval (remove approval: not_required)", n.step.ID, t.Name)
		}
	}
	if n.body != nil {
		for _, b := range n.body.nodes {
			n.mutates = n.mutates || b.mutates
		}
	}
	n.maxTarget = n.step.MaxTargets
	if n.maxTarget == 0 {
		n.maxTarget = n.unit.wf.MaxTargets
	}
}

func (c *compiler) compileOutputs(n *node, env lazyEnv) map[string]*compiledValue {
	if len(n.step.Outputs) == 0 {
		return nil
	}
	out := map[string]*compiledValue{}
	for _, k := range n.step.OutputsOrder {
		v := n.step.Outputs[k]
		t := c.compileValue(v, env, n)
		if t != nil && t.secret != "" {
			c.errf(v.Pos, "output %q of step %q is computed from a secret (%s); outputs are kept in the journal and shown in reports, so a secret may only be sent in an input the API marks secret", k, n.id, t.secret)
			t = nil
		}
		if t != nil {
			out[k] = t
		}
		if n.body != nil {
			for _, b := range n.body.nodes {
				if b.id == k {
					c.errf(v.Pos, "output %q of group %q has the name of one of its steps", k, n.id)
				}
			}
		}
	}
	return out
}

// constWith splits a step's `with` inputs into those whose value is a
// constant (with the value) and those written as expressions.
func constWith(n *node) (constants map[string]any, dynamic map[string]bool) {
	constants, dynamic = map[string]any{}, map[string]bool{}
	for k, v := range n.with {
		if v.isConst {
			constants[k] = v.constant
		} else {
			dynamic[k] = true
		}
	}
	for k := range n.step.With {
		if _, ok := n.with[k]; !ok {
			if _, ok := constants[k]; !ok {
				dynamic[k] = true // a predicate, or a value that did not compile
			}
		}
	}
	return constants, dynamic
}

// compileWith compiles a step type's with: inputs (values, and filters
// for predicate inputs) and checks them against the type's input specs,
// its own offline checks and its alternatives of required inputs.
func (c *compiler) compileWith(n *node, env lazyEnv) {
	t := n.stepType
	if len(n.step.With) > 0 { // most steps of a long workflow have none
		n.with = make(map[string]*compiledValue, len(n.step.With))
	}
	specs := make(map[string]*InputSpec, len(t.Inputs))
	names := make([]string, 0, len(t.Inputs))
	for i := range t.Inputs {
		specs[t.Inputs[i].Name] = &t.Inputs[i]
		names = append(names, t.Inputs[i].Name)
	}
	for _, k := range withKeys(n.step) {
		v := n.step.With[k]
		spec := specs[k]
		switch {
		case spec == nil:
			msg := fmt.Sprintf("step type %s has no input %q", t.Name, k)
			if s := xexpr.DidYouMean(k, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			c.structf(v.Pos, "%s", msg)
		case spec.Predicate != nil:
			c.compilePredicate(n, spec, v)
		default:
			if val := c.compileValue(v, env, n); val != nil {
				if val.secret != "" && !spec.Sensitive {
					c.errf(v.Pos, "input %q of step %q is computed from a secret (%s); a secret may only be sent in an input the API marks secret (a header or body field), never in a path, a query or any other input", k, n.id, val.secret)
				}
				n.with[k] = val
			}
		}
	}
	for _, in := range t.Inputs {
		if in.Required && n.step.With[in.Name] == nil && in.Default == nil {
			c.structf(n.step.Pos, "step %q (%s): missing required input %q", n.id, t.Name, in.Name)
		}
	}
	c.runTypeChecks(n)
	c.checkAnyOf(n)
}

// withKeys are a step's with: names in file order (sorted when the model
// was built without an order).
func withKeys(s *schema.Step) []string {
	if len(s.WithOrder) == len(s.With) {
		return s.WithOrder
	}
	return sortedKeys(s.With)
}

// runTypeChecks runs the step type's own offline checks (Check) on its
// constant inputs, once per http.allow in force: in a called playbook its
// own and its caller's both apply, since a library cannot widen what the
// caller allows.
func (c *compiler) runTypeChecks(n *node) {
	t := n.stepType
	if t.Check == nil {
		return
	}
	constants, _ := constWith(n)
	checked := map[*schema.Workflow]bool{}
	for u := c.u; u != nil; u = callerUnit(u) {
		if checked[u.runWF] {
			continue
		}
		checked[u.runWF] = true
		for _, pr := range t.Check(u.runWF, constants) {
			pos := n.step.Pos
			if v := n.step.With[pr.Input]; v != nil {
				pos = v.Pos
			}
			c.errf(pos, "step %q (%s): %s", n.id, t.Name, pr.Message)
		}
	}
}

// checkAnyOf reports a step given none of its type's alternative sets of
// inputs (AnyOf: one of them must be given whole).
func (c *compiler) checkAnyOf(n *node) {
	t := n.stepType
	if len(t.AnyOf) == 0 {
		return
	}
	for _, set := range t.AnyOf {
		if !slices.ContainsFunc(set, func(name string) bool { return n.step.With[name] == nil }) {
			return
		}
	}
	alts := make([]string, 0, len(t.AnyOf))
	for _, set := range t.AnyOf {
		alts = append(alts, strings.Join(set, " + "))
	}
	c.structf(n.step.Pos, "step %q (%s) needs one of: %s", n.id, t.Name, strings.Join(alts, " | "))
}

func (c *compiler) predicateEnv(spec *PredicateSpec) *xexpr.Type {
	el := c.typeOfShape(spec.Shape)
	f := map[string]*xexpr.Type{}
	open := true
	if el.Kind == "object" {
		open = el.Open
		for k, v := range el.Fields {
			f[k] = v
		}
	}
	f[spec.Var] = el
	for k, v := range c.u.predEnvBase {
		f[k] = v
	}
	return &xexpr.Type{Kind: "object", Noun: "field", Fields: f, Open: open}
}

func (c *compiler) compilePredicate(n *node, spec *InputSpec, v *schema.Value) {
	if n.filters == nil {
		n.filters = map[string]*filterInput{}
	}
	src, ok := v.Scalar.(string)
	if v.Kind != schema.ScalarValue || !ok {
		c.errf(v.Pos, "input %q of step %q is a filter expression and must be a string", spec.Name, n.id)
		return
	}
	pt := &filterInput{spec: spec.Predicate, pos: v.Pos, env: c.predicateEnv(spec.Predicate)}
	if xexpr.HasExpr(src) {
		// The source comes from an expression: it can only use what is
		// known when the run starts, and is compiled then.
		runStart := xexpr.Object("name", c.u.predEnvBase)
		t, errs := xexpr.CompileTemplate(src, runStart)
		for _, e := range errs {
			c.errf(c.posAt(v, e.Offset), "%s (a filter given by an expression may use inputs, vars and env only)%s", e.Msg, wrappedFilterHint(src))
		}
		if t == nil {
			return
		}
		if what, ok := t.Secret(); ok {
			c.errf(v.Pos, "filter %q of step %q reads a secret (%s): a condition on a secret leaks it one bit at a time", spec.Name, n.id, what)
			return
		}
		pt.sourceTemplate = t
		if c.u.call != nil {
			// Compiled when a call binds the playbook's inputs.
			c.u.filters = append(c.u.filters, unitFilter{node: n, name: spec.Name, filter: pt})
		}
	} else {
		e := c.compileExpr(src, pt.env, v.Pos, c.quoteShift(v))
		if e == nil {
			return
		}
		if what, ok := e.Secret(); ok {
			c.errf(v.Pos, "filter %q of step %q reads a secret (%s): a condition on a secret leaks it one bit at a time", spec.Name, n.id, what)
			return
		}
		pt.static = e
	}
	n.filters[spec.Name] = pt
}

// compileValue compiles a `with`/vars/outputs value; n (may be nil) gets the
// implied dependencies. nil: a template that did not compile (reported).
func (c *compiler) compileValue(v *schema.Value, env lazyEnv, n *node) *compiledValue {
	if v == nil {
		return &compiledValue{isConst: true}
	}
	switch v.Kind {
	case schema.ListValue:
		out := &compiledValue{isList: true}
		for _, e := range v.List {
			out.list = append(out.list, c.compileElement(out, e, env, n))
		}
		return foldConstant(out, v)
	case schema.MapValue:
		out := &compiledValue{m: map[string]*compiledValue{}}
		for _, k := range mapKeys(v) {
			out.keys = append(out.keys, k)
			out.m[k] = c.compileElement(out, v.Map[k], env, n)
		}
		return foldConstant(out, v)
	}
	return c.compileScalar(v, env, n)
}

// compileElement compiles an element of a list or map value; the container
// is computed from a secret when any element is. A template that did not
// compile stands as an empty constant, so the rest is still checked.
func (c *compiler) compileElement(container *compiledValue, e *schema.Value, env lazyEnv, n *node) *compiledValue {
	t := c.compileValue(e, env, n)
	if t == nil {
		t = &compiledValue{isConst: true}
	}
	if container.secret == "" {
		container.secret = t.secret
	}
	return t
}

// foldConstant replaces a list or map whose elements are all constants by
// its plain value, computed once here rather than at every use.
func foldConstant(out *compiledValue, v *schema.Value) *compiledValue {
	for _, e := range out.list {
		if !e.isConst {
			return out
		}
	}
	for _, e := range out.m {
		if !e.isConst {
			return out
		}
	}
	return &compiledValue{isConst: true, constant: v.Plain()}
}

// mapKeys are a map value's keys in file order (sorted when the model was
// built without an order).
func mapKeys(v *schema.Value) []string {
	if len(v.Keys) == len(v.Map) {
		return v.Keys
	}
	return sortedKeys(v.Map)
}

// compileScalar compiles a scalar: a constant, or a template whose step
// references become n's dependencies.
func (c *compiler) compileScalar(v *schema.Value, env lazyEnv, n *node) *compiledValue {
	s, ok := v.Scalar.(string)
	if !ok || !xexpr.HasExpr(s) {
		return &compiledValue{isConst: true, constant: v.Scalar}
	}
	t, errs := xexpr.CompileTemplate(s, env())
	for _, e := range errs {
		c.errf(c.posAt(v, e.Offset), "%s", e.Msg)
	}
	if t == nil {
		return nil
	}
	if n != nil {
		c.refDeps(n, t.Refs(), v.Pos)
	}
	secret, _ := t.Secret()
	return &compiledValue{tmpl: t, secret: secret}
}

// refuseSecretCondition reports a condition (if, for_each) computed from a
// secret: whether a step runs, or how many items a fan-out has, is shown
// everywhere, so each run would tell one bit of the secret.
func (c *compiler) refuseSecretCondition(e *xexpr.Expr, pos schema.Pos, field string) {
	if what, ok := e.Secret(); ok {
		c.errf(pos, "%s reads a secret (%s): a condition on a secret leaks it one bit at a time", field, what)
	}
}

func (c *compiler) compileExpr(src string, env *xexpr.Type, pos schema.Pos, shift int) *xexpr.Expr {
	e, errs := xexpr.Compile(src, env)
	for _, er := range errs {
		c.errf(shiftPos(src, pos, shift+er.Offset), "%s", er.Msg)
	}
	return e
}

// posAt maps a rune offset inside a scalar's text to a file position when
// the scalar sits on one line (plain or quoted); otherwise the scalar's own
// position is the best we can say.
func (c *compiler) posAt(v *schema.Value, off int) schema.Pos {
	s, _ := v.Scalar.(string)
	return shiftPos(s, v.Pos, c.quoteShift(v)+off)
}

func (c *compiler) quoteShift(v *schema.Value) int {
	if v.Quoted() {
		return 1
	}
	return 0
}

// sourceShift: see schema.Workflow.ExprShift.
func (c *compiler) sourceShift(pos schema.Pos, src string, off int) int {
	return c.u.wf.ExprShift(pos, src, off)
}

func shiftPos(src string, pos schema.Pos, off int) schema.Pos {
	if strings.ContainsRune(src, '\n') || pos.Line == 0 {
		return pos
	}
	if off > utf8.RuneCountInString(src)+2 {
		off = utf8.RuneCountInString(src)
	}
	pos.Col += off
	return pos
}

func stepRef(r xexpr.Ref) (string, bool) {
	if r.Root() != "steps" || len(r.Path) < 2 {
		return "", false
	}
	id, ok := r.Path[1].(string)
	return id, ok
}

func (c *compiler) refDeps(n *node, refs []xexpr.Ref, pos schema.Pos) {
	for _, r := range refs {
		if id, ok := stepRef(r); ok {
			if !slices.Contains(n.refs, id) {
				n.refs = append(n.refs, id)
			}
			c.addDep(n, id, pos, "reference")
		}
	}
}

// addDep records that n depends on the step named id: a sibling directly,
// a step of an enclosing graph through n's ancestor in that graph.
func (c *compiler) addDep(n *node, id string, pos schema.Pos, how string) {
	m := n.unit.byID[id]
	if m == nil {
		if how == "needs" {
			msg := fmt.Sprintf("needs: unknown step %q", id)
			var names []string
			for k := range n.unit.byID {
				names = append(names, k)
			}
			if s := xexpr.DidYouMean(id, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			c.structf(pos, "%s", msg)
		}
		return
	}
	a := n
	for a != nil && a.graph != m.graph {
		a = a.graph.parent
	}
	if a == nil {
		if how == "needs" {
			c.structf(pos, "needs: step %q is inside another group; it is not upstream of %q", id, n.id)
		}
		return
	}
	if a == m && a != n {
		c.errf(pos, "step %q is inside group %q and cannot depend on it", n.id, m.id)
		return
	}
	if a.addDep(m.index) {
		m.dependants = append(m.dependants, a.index)
	}
}

// addDep adds dependency i unless present. Most steps have a few
// dependencies, so a scan beats a map per node; a set is made only for a
// step with many.
func (n *node) addDep(i int) bool {
	switch {
	case n.depSet != nil:
		if n.depSet[i] {
			return false
		}
		n.depSet[i] = true
	case slices.Contains(n.deps, i):
		return false
	case len(n.deps) >= 16:
		n.depSet = make(map[int]bool, 2*len(n.deps))
		for _, d := range n.deps {
			n.depSet[d] = true
		}
		n.depSet[i] = true
	}
	n.deps = append(n.deps, i)
	return true
}

// order sorts each graph topologically (file order among equals) and names
// any cycle with every step in it.
func (c *compiler) order(g *graph) {
	indeg := make([]int, len(g.nodes))
	g.topo = make([]*node, 0, len(g.nodes))
	for _, n := range g.nodes {
		indeg[n.index] = len(n.deps)
	}
	// Among the steps that are free to go, the one first in the file goes
	// first: results and plans read in the order the file was written.
	free := &intHeap{}
	for i, d := range indeg {
		if d == 0 {
			free.ints = append(free.ints, i)
		}
	}
	heap.Init(free)
	for free.Len() > 0 {
		n := g.nodes[heap.Pop(free).(int)]
		n.topoIndex = len(g.topo)
		g.topo = append(g.topo, n)
		for _, d := range n.dependants {
			indeg[d]--
			if indeg[d] == 0 {
				heap.Push(free, d)
			}
		}
	}
	if len(g.topo) < len(g.nodes) {
		c.reportCycles(g, indeg)
	}
	for _, n := range g.nodes {
		if n.body != nil {
			c.order(n.body)
		}
	}
}

// reportCycles finds the cycles among the nodes left with dependencies and
// reports each once, in dependency order, at its first step.
func (c *compiler) reportCycles(g *graph, indeg []int) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.nodes))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range g.nodes[i].deps {
			if indeg[d] == 0 {
				continue
			}
			switch color[d] {
			case white:
				visit(d)
			case grey:
				// The cycle is the stack from d to i; print it in the
				// direction work flows (dependency first).
				k := len(stack) - 1
				for stack[k] != d {
					k--
				}
				cyc := stack[k:]
				flow := make([]*node, 0, len(cyc))
				for j := len(cyc) - 1; j >= 0; j-- {
					flow = append(flow, g.nodes[cyc[j]])
				}
				// Start at the step that comes first in the file, so the
				// message does not depend on where the search began.
				start := 0
				for j, x := range flow {
					if x.index < flow[start].index {
						start = j
					}
				}
				first := flow[start]
				names := make([]string, 0, len(flow)+1)
				for j := range flow {
					names = append(names, flow[(start+j)%len(flow)].id)
				}
				names = append(names, first.id)
				c.errf(first.step.Pos, "cycle: %s", strings.Join(names, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range g.nodes {
		if indeg[i] > 0 && color[i] == white {
			visit(i)
		}
	}
}

type intHeap struct{ ints []int }

func (h *intHeap) Len() int           { return len(h.ints) }
func (h *intHeap) Less(i, j int) bool { return h.ints[i] < h.ints[j] }
func (h *intHeap) Swap(i, j int)      { h.ints[i], h.ints[j] = h.ints[j], h.ints[i] }
func (h *intHeap) Push(x any)         { h.ints = append(h.ints, x.(int)) }
func (h *intHeap) Pop() any {
	x := h.ints[len(h.ints)-1]
	h.ints = h.ints[:len(h.ints)-1]
	return x
}

// approvalOf is a step's declared approval, else its workflow's.
func (c *compiler) approvalOf(s *schema.Step) string {
	if s.Approval != "" {
		return s.Approval
	}
	return c.u.wf.Approval
}

// outerAllow is the http.allow in force where n is written (nil: any
// host, or n is nil).
func (n *node) outerAllow() []string {
	if n == nil {
		return nil
	}
	return n.unit.runWF.HTTPAllow
}

// callerUnit is the unit whose step calls u; nil for the workflow file.
func callerUnit(u *unit) *unit {
	if u.call == nil {
		return nil
	}
	return u.call.unit
}

// wrappedFilterHint is advice for a filter written as one ${{ }} template
// (a GitHub Actions habit): a filter is already an expression, evaluated
// for each item, so the braces make it a template evaluated once at the
// start, where the item's fields do not exist. "" for anything else.
func wrappedFilterHint(src string) string {
	s := strings.TrimSpace(src)
	if !strings.HasPrefix(s, "${{") || !strings.HasSuffix(s, "}}") || strings.Count(s, "${{") != 1 {
		return ""
	}
	inner := strings.TrimSpace(s[3 : len(s)-2])
	return fmt.Sprintf("; a filter is itself an expression, evaluated for each item: write it without ${{ }}, as %s", inner)
}

// compileCall compiles a step that runs another playbook (uses: ./x.yaml):
// its with: values in the caller's scope, checked against the called
// playbook's declared inputs, then the called playbook's steps, vars and
// outputs in its own scope.
func (c *compiler) compileCall(n *node, env lazyEnv) {
	c.refuseCallSettings(n)
	c.refuseCalleeConcurrency(n)
	c.compileCallWith(n, env)
	saved := c.u
	c.u = n.callee
	c.compileVars()
	c.compileGraph(n.body)
	c.compileWorkflowOutputs(n.body)
	c.u = saved
}

// refuseCallSettings reports the settings of one step execution written
// on a call (outputs, retry, timeout, confirm, approval): they mean
// nothing for a whole playbook, so they are refused rather than ignored.
func (c *compiler) refuseCallSettings(n *node) {
	s, file := n.step, n.callee.wf.File
	if len(s.OutputsOrder) > 0 {
		c.errf(s.Outputs[s.OutputsOrder[0]].Pos, "step %q runs the playbook %s: its outputs are the ones that playbook declares (outputs: at its top level); read them as steps.%s.outputs.NAME", n.id, s.Uses, n.id)
	}
	if s.Retry != nil {
		c.errf(s.Retry.Pos, "step %q runs the playbook %s: retry applies to its steps; set it there (a step's retry, or defaults.retry in %s)", n.id, s.Uses, file)
	}
	if s.Timeout != 0 {
		c.errf(s.Pos, "step %q runs the playbook %s: timeout applies to its steps; set it there (a step's timeout, or defaults.timeout in %s)", n.id, s.Uses, file)
	}
	if s.Confirm || s.Approval != "" {
		pos := s.Pos
		if !s.Confirm && s.ApprovalPos.Line > 0 {
			pos = s.ApprovalPos
		}
		c.errf(pos, "step %q runs the playbook %s: approval is decided by its steps (their types, confirm and approval, and the approval: of %s)", n.id, s.Uses, file)
	}
}

// refuseCalleeConcurrency reports a called playbook's top-level
// concurrency, at that line of the called file: it is the limit of a whole
// run, and a called playbook runs inside its caller's run, within the
// caller's limit. Obeying it would need a second limit no one asked for;
// ignoring it would let a library's author believe it holds.
func (c *compiler) refuseCalleeConcurrency(n *node) {
	wf := n.callee.wf
	if wf.Concurrency == 0 {
		return
	}
	pos := wf.ConcurrencyPos
	if pos.Line == 0 {
		pos = n.step.UsesPos
	}
	c.errf(pos, "concurrency: %d limits a run of %s on its own; called by step %q (%s), it runs within its caller's limit (--parallelism, else the calling workflow's concurrency), so it would be ignored: remove it, and limit the call's items with concurrency: on the calling step", wf.Concurrency, wf.File, n.full, n.step.UsesPos)
}

// compileCallWith compiles a call's with: values in the caller's scope and
// checks each against the input the called playbook declares; required
// inputs not given are reported at with:.
func (c *compiler) compileCallWith(n *node, env lazyEnv) {
	s, callee := n.step, n.callee
	if len(s.With) > 0 {
		n.with = make(map[string]*compiledValue, len(s.With))
	}
	for _, k := range withKeys(s) {
		v := s.With[k]
		in := callee.inputs[k]
		if in == nil {
			c.errf(v.Pos, "%s", c.unknownCallInput(n, k))
			continue
		}
		if val := c.compileValue(v, env, n); val != nil {
			c.checkCallInput(n, in, v, val)
			n.with[k] = val
		}
	}
	for _, in := range callee.wf.Inputs {
		if in.Required && !in.HasDefault && s.With[in.Name] == nil {
			c.errf(s.WithPos, "step %q: missing required input %q of the playbook %s", n.id, in.Name, callee.wf.File)
		}
	}
}

// unknownCallInput says that the called playbook has no input k, with a
// did-you-mean or the inputs it has.
func (c *compiler) unknownCallInput(n *node, k string) string {
	inputs := n.callee.wf.Inputs
	names := make([]string, 0, len(inputs))
	for _, in := range inputs {
		names = append(names, in.Name)
	}
	msg := fmt.Sprintf("step %q: the playbook %s has no input %q", n.id, n.callee.wf.File, k)
	switch sug := xexpr.DidYouMean(k, names); {
	case sug != "":
		return msg + fmt.Sprintf("; did you mean %q?", sug)
	case len(names) > 0:
		return msg + fmt.Sprintf(" (its inputs: %s)", strings.Join(names, ", "))
	}
	return msg + " (it declares no inputs)"
}

// checkCallInput checks what can be known at compile time of a value given
// to a called playbook's input: a secret only to a secret input, a shape
// the input's type can take, and a constant's type and enum.
func (c *compiler) checkCallInput(n *node, in *schema.Input, v *schema.Value, val *compiledValue) {
	file := n.callee.wf.File
	if val.secret != "" && !in.Secret {
		c.errf(v.Pos, "step %q: input %q of %s is computed from a secret (%s), but the playbook does not declare it secret: true; declare it so, and the called playbook keeps it out of logs, plans and outputs too", n.id, in.Name, file, val.secret)
	}
	if what := shapeMismatch(in, val); what != "" {
		c.errf(v.Pos, "step %q: input %q of %s is %s, but the input's type is %s", n.id, in.Name, file, what, in.Type)
	}
	if !val.isConst {
		return
	}
	if x, err := coerceTyped(in, val.constant); err != nil {
		c.errf(v.Pos, "step %q: %v (declared in %s)", n.id, err, file)
	} else if len(in.Enum) > 0 && !slices.ContainsFunc(in.Enum, func(e any) bool { return equalValue(e, x) }) {
		c.errf(v.Pos, "step %q: input %q of %s must be one of the values it declares in enum", n.id, in.Name, file)
	}
}

// compileWorkflowOutputs compiles the declared outputs of the playbook
// being compiled (outputs: at its top level), in the scope of its top
// graph g: every step is done when they are evaluated.
func (c *compiler) compileWorkflowOutputs(g *graph) {
	wf := c.u.wf
	if len(wf.OutputsOrder) == 0 {
		return
	}
	env := lazy(func() *xexpr.Type { return c.envFor(g, nil, nil) })
	c.u.outputs = make(map[string]*compiledValue, len(wf.OutputsOrder))
	for _, k := range wf.OutputsOrder {
		v := wf.Outputs[k]
		t := c.compileValue(v, env, nil)
		if t == nil {
			continue
		}
		if t.secret != "" {
			c.errf(v.Pos, "output %q of the playbook is computed from a secret (%s); outputs are kept in the journal and shown in reports", k, t.secret)
			continue
		}
		c.u.outputs[k] = t
		for _, id := range valueStepRefs(t, nil) {
			if !slices.Contains(c.u.outputRefs, id) {
				c.u.outputRefs = append(c.u.outputRefs, id)
			}
		}
		if !readsStepOutputs(t) {
			if c.u.statusOutputs == nil {
				c.u.statusOutputs = map[string]bool{}
			}
			c.u.statusOutputs[k] = true
		}
	}
}

// readsStepOutputs reports whether a compiled value may read a step's
// outputs: any reference to a step other than steps.ID.status (steps.ID
// as a whole, or steps itself, counts as reading them).
func readsStepOutputs(v *compiledValue) bool {
	if v.tmpl != nil {
		for _, r := range v.tmpl.Refs() {
			if r.Root() != "steps" {
				continue
			}
			if len(r.Path) < 3 || r.Path[2] != "status" {
				return true
			}
		}
	}
	for _, e := range v.list {
		if readsStepOutputs(e) {
			return true
		}
	}
	for _, k := range v.keys {
		if readsStepOutputs(v.m[k]) {
			return true
		}
	}
	return false
}

// valueStepRefs appends the step ids a compiled value reads to ids.
func valueStepRefs(v *compiledValue, ids []string) []string {
	if v == nil {
		return ids
	}
	if v.tmpl != nil {
		for _, r := range v.tmpl.Refs() {
			if id, ok := stepRef(r); ok {
				ids = append(ids, id)
			}
		}
	}
	for _, e := range v.list {
		ids = valueStepRefs(e, ids)
	}
	for _, k := range v.keys {
		ids = valueStepRefs(v.m[k], ids)
	}
	return ids
}

// shapeMismatch says what a computed with: value is when its shape cannot
// be the declared input type: text (a template mixing text and ${{ }}) for
// a list or an object, a list or an object for anything else. "" when it
// may fit; scalars are checked when the run binds them (a string "12" is
// a fine integer, as on the command line).
func shapeMismatch(in *schema.Input, v *compiledValue) string {
	if v == nil || v.isConst || v.tmpl == nil {
		return ""
	}
	single := v.tmpl.Single()
	if single == nil {
		if in.Type == "list" || in.Type == "object" {
			return "text (a template mixing text and ${{ }})"
		}
		return ""
	}
	r := single.Result()
	if r == nil {
		return ""
	}
	switch {
	case r.Kind == "list" && in.Type != "list":
		return "a list"
	case r.Kind == "object" && in.Type != "object":
		return "an object"
	}
	return ""
}
