package expr

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/frameflow/frameflow/internal/suggest"
)

// Type describes a value for checking references into it.
type Type struct {
	Kind   string           // any, string, integer, number, boolean, list, object
	Fields map[string]*Type // object: known fields
	Open   bool             // object: other fields may exist
	Elem   *Type            // list: element type

	// For messages about unknown fields of this object.
	Noun   string            // what a field is called: "input", "step", "output"; default "field"
	Of     string            // appended after the name, e.g. ` of step "targets"`
	Hint   string            // appended to the message, e.g. "(declare it under env:)"
	Hidden map[string]string // names that exist but may not be used here -> the message

	// Secret marks a value computed from a secret (a secret input, or a var
	// that reads one). Any expression that may read it, by any path or
	// function, is secret too: see Expr.Secret.
	Secret bool
}

// AsSecret returns a copy of t marked secret.
func (t *Type) AsSecret() *Type {
	if t == nil {
		t = Any
	}
	c := *t
	c.Secret = true
	return &c
}

// holdsSecret reports whether t or anything inside it is secret: reading t
// as a whole (toJSON(inputs), inputs[key], values(vars)) may reach it.
func (t *Type) holdsSecret() bool {
	return t.holdsSecretDepth(0)
}

func (t *Type) holdsSecretDepth(depth int) bool {
	if t == nil || depth > 64 {
		return false
	}
	if t.Secret {
		return true
	}
	if t.Elem != nil && t.Elem.holdsSecretDepth(depth+1) {
		return true
	}
	for _, f := range t.Fields {
		if f.holdsSecretDepth(depth + 1) {
			return true
		}
	}
	return false
}

// Any is the type of a value nothing is known about.
var Any = &Type{Kind: "any"}

// Object makes an object type.
func Object(noun string, fields map[string]*Type) *Type {
	return &Type{Kind: "object", Noun: noun, Fields: fields}
}

// List makes a list type.
func List(elem *Type) *Type { return &Type{Kind: "list", Elem: elem} }

// Error is a problem in an expression or template at a rune offset of its
// source text.
type Error struct {
	Offset int
	Msg    string
}

func (e Error) Error() string { return e.Msg }

// Ref is a reference found in an expression: a chain rooted at an identifier
// with the constant properties that follow it (strings or ints).
type Ref struct {
	Path   []any
	Offset int
}

// Root is the identifier the reference starts with.
func (r Ref) Root() string { return r.Path[0].(string) }

// Unknowner is implemented by the engine's Unknown value: a value that exists
// only after apply. Expressions that read one evaluate to it.
type Unknowner interface{ UnknownValue() }

// Expr is one compiled expression.
type Expr struct {
	src    string
	prog   *vm.Program
	refs   []Ref
	result *Type
	secret string // what secret it may read ("inputs.api_token"); "" when none
}

// Secret reports whether the expression's value may be computed from a
// secret, and names the first secret it reads. Taint is decided from the
// syntax tree at compile time, never from values: no transformation
// (base64, split, slicing, arithmetic, len, comparison) launders it.
func (e *Expr) Secret() (string, bool) {
	if e == nil || e.secret == "" {
		return "", false
	}
	return e.secret, true
}

// Source is the expression's text.
func (e *Expr) Source() string { return e.src }

// Refs are the references the expression makes, in source order.
func (e *Expr) Refs() []Ref { return e.refs }

// Result is the type of the expression's value when it can be told from the
// declarations (a plain reference chain); Any otherwise.
func (e *Expr) Result() *Type { return e.result }

// Compile parses, checks against env (an object type whose fields are the
// top-level names) and compiles src. Errors carry offsets into src.
func Compile(src string, env *Type) (*Expr, []Error) {
	if strings.TrimSpace(src) == "" {
		return nil, []Error{{Offset: 0, Msg: "empty expression"}}
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, []Error{fromExprError(err, "syntax error")}
	}
	c := &checker{env: env, lets: map[string]bool{}}
	c.check(&tree.Node)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	prog, err := expr.Compile(src, expr.Env(toTypes(env)))
	if err != nil {
		return nil, []Error{fromExprError(err, "")}
	}
	res := Any
	if t := c.typeOf(tree.Node); t != nil {
		res = t
	}
	if c.secret != "" && res != nil {
		res = res.AsSecret()
	}
	return &Expr{src: src, prog: prog, refs: c.refs, result: res, secret: c.secret}, nil
}

func fromExprError(err error, prefix string) Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if prefix != "" {
			msg = prefix + ": " + msg
		}
		return Error{Offset: fe.From, Msg: msg}
	}
	return Error{Msg: err.Error()}
}

// Eval evaluates the expression in env. When a referenced value is unknown
// (see Unknowner) the result is that unknown value.
func (e *Expr) Eval(env map[string]any) (any, error) {
	if u := e.unknownIn(env); u != nil {
		return u, nil
	}
	out, err := vm.Run(e.prog, env)
	if err != nil && e.secret != "" {
		// expr-lang's messages quote the values they failed on
		// (strconv.Atoi: parsing "dGVzd..."): a secret's derivative
		// must not reach an error.
		if u := e.deepUnknown(env); u != nil {
			return u, nil
		}
		return nil, fmt.Errorf("evaluating %q failed; the message is withheld because the expression reads a secret (%s)", strings.TrimSpace(e.src), e.secret)
	}
	if err != nil {
		// An unknown hidden deeper than the reference paths (an element of
		// a list) makes the expression fail on the sentinel: the honest
		// answer is still "unknown".
		if u := e.deepUnknown(env); u != nil {
			return u, nil
		}
		src := strings.TrimSpace(e.src)
		hint := e.indexHint(env)
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("evaluating %q: %s%s", src, fe.Message, hint)
		}
		return nil, fmt.Errorf("evaluating %q: %w%s", src, err, hint)
	}
	return out, nil
}

// indexHint names a list a reference indexes past its end: usually a
// lookup that found nothing (a source account that does not exist), which
// "index out of range" alone does not tell.
func (e *Expr) indexHint(env map[string]any) string {
	for _, r := range e.refs {
		var v any = env
	walk:
		for i, k := range r.Path {
			switch key := k.(type) {
			case string:
				m, ok := v.(map[string]any)
				if !ok {
					break walk
				}
				v = m[key]
			case int:
				l, ok := v.([]any)
				if !ok {
					break walk
				}
				if key >= len(l) || key < -len(l) {
					name := pathString(r.Path[:i])
					if len(l) == 0 {
						return "; " + name + " is an empty list"
					}
					return fmt.Sprintf("; %s has %d element(s)", name, len(l))
				}
				if key < 0 {
					key += len(l)
				}
				v = l[key]
			default:
				break walk
			}
		}
	}
	return ""
}

func pathString(path []any) string {
	var b strings.Builder
	for i, k := range path {
		switch key := k.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", key)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, key)
		}
	}
	return b.String()
}

func (e *Expr) unknownIn(env map[string]any) any {
	for _, r := range e.refs {
		v, ok := env[r.Root()]
		if !ok {
			continue
		}
		if _, u := v.(Unknowner); u {
			return v
		}
		for _, p := range r.Path[1:] {
			switch k := p.(type) {
			case string:
				m, ok := v.(map[string]any)
				if !ok {
					goto next
				}
				v = m[k]
			case int:
				l, ok := v.([]any)
				if !ok || k < 0 || k >= len(l) {
					goto next
				}
				v = l[k]
			}
			if _, u := v.(Unknowner); u {
				return v
			}
		}
	next:
	}
	return nil
}

func (e *Expr) deepUnknown(env map[string]any) any {
	seen := map[string]bool{}
	for _, r := range e.refs {
		if seen[r.Root()] {
			continue
		}
		seen[r.Root()] = true
		if u := findUnknown(env[r.Root()], 0); u != nil {
			return u
		}
	}
	return nil
}

func findUnknown(v any, depth int) any {
	if depth > 64 {
		return nil
	}
	switch x := v.(type) {
	case Unknowner:
		return x
	case map[string]any:
		for _, e := range x {
			if u := findUnknown(e, depth+1); u != nil {
				return u
			}
		}
	case []any:
		for _, e := range x {
			if u := findUnknown(e, depth+1); u != nil {
				return u
			}
		}
	}
	return nil
}

// toTypes converts a Type into expr-lang's typed environment. Scalars are
// declared as any: step outputs arrive through JSON (numbers as float64) and
// optional inputs may be absent, so typed scalar opcodes would be wrong at
// run time; the structure (fields, lists) is what references are checked by.
func toTypes(t *Type) types.Type {
	if t == nil {
		return types.Any
	}
	switch t.Kind {
	case "object":
		m := types.Map{}
		for k, f := range t.Fields {
			m[k] = toTypes(f)
		}
		if t.Open || len(t.Hidden) > 0 {
			m[types.Extra] = types.Any
		}
		return m
	case "list":
		return types.Array(toTypes(t.Elem))
	default:
		return types.Any
	}
}

type checker struct {
	env    *Type
	errs   []Error
	refs   []Ref
	lets   map[string]bool
	secret string // the first secret read, for messages
}

func (c *checker) taint(what string) {
	if c.secret == "" {
		c.secret = what
	}
}

type collector struct {
	inner map[ast.Node]bool
	heads []ast.Node
	lets  map[string]bool
}

func (c *collector) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.MemberNode:
		c.inner[x.Node] = true
		c.heads = append(c.heads, x)
	case *ast.ChainNode:
		c.inner[x.Node] = true
		c.heads = append(c.heads, x)
	case *ast.IdentifierNode:
		c.heads = append(c.heads, x)
	case *ast.CallNode:
		c.inner[x.Callee] = true
	case *ast.VariableDeclaratorNode:
		c.lets[x.Name] = true
	}
}

func (c *checker) check(root *ast.Node) {
	col := &collector{inner: map[ast.Node]bool{}, lets: c.lets}
	ast.Walk(root, col)
	var heads []ast.Node
	for _, h := range col.heads {
		if !col.inner[h] {
			heads = append(heads, h)
		}
	}
	sort.SliceStable(heads, func(i, j int) bool { return heads[i].Location().From < heads[j].Location().From })
	for _, h := range heads {
		c.chain(h)
	}
}

type step struct {
	key  any // string or int; nil: not constant
	node ast.Node
}

// decompose splits a member chain into its root identifier and the
// properties that follow, outermost last.
func decompose(n ast.Node) (*ast.IdentifierNode, []step) {
	var props []step
	for {
		switch x := n.(type) {
		case *ast.ChainNode:
			n = x.Node
			continue
		case *ast.MemberNode:
			var k any
			switch p := x.Property.(type) {
			case *ast.StringNode:
				k = p.Value
			case *ast.IntegerNode:
				k = p.Value
			}
			props = append(props, step{key: k, node: x.Property})
			n = x.Node
			continue
		case *ast.IdentifierNode:
			for i, j := 0, len(props)-1; i < j; i, j = i+1, j-1 {
				props[i], props[j] = props[j], props[i]
			}
			return x, props
		}
		return nil, nil
	}
}

func (c *checker) chain(n ast.Node) {
	id, props := decompose(n)
	if id == nil || c.lets[id.Value] {
		return
	}
	if id.Value == "$env" {
		// The whole environment: every secret in it.
		if c.env.holdsSecret() {
			c.taint("$env")
		}
		return
	}
	ref := Ref{Path: []any{id.Value}, Offset: id.Location().From}
	t, ok := c.field(c.env, id.Value, id.Location().From)
	if !ok {
		return
	}
	// Taint: the chain reads a secret when it passes through one, or when
	// it stops (a computed key, or the end) at a value holding one.
	defer func() {
		if t.holdsSecret() {
			c.taint(pathString(ref.Path))
		}
	}()
	for _, p := range props {
		if t != nil && t.Secret {
			c.taint(pathString(ref.Path))
		}
		if p.key == nil {
			break
		}
		ref.Path = append(ref.Path, p.key)
		if t == nil {
			continue
		}
		switch k := p.key.(type) {
		case string:
			if t.Kind == "object" {
				t, ok = c.field(t, k, p.node.Location().From)
				if !ok {
					return
				}
			} else if t.Kind == "list" {
				c.errs = append(c.errs, Error{Offset: p.node.Location().From, Msg: fmt.Sprintf("cannot read field %q of a list (use an index, map() or filter())", k)})
				return
			} else {
				t = nil
			}
		case int:
			if t.Kind == "list" {
				t = t.Elem
			} else {
				t = nil
			}
		}
	}
	c.refs = append(c.refs, ref)
}

// field looks up name in the object type t, recording an error when it
// cannot be there. It returns the field's type (nil: unknown) and whether
// the lookup may go on.
func (c *checker) field(t *Type, name string, off int) (*Type, bool) {
	if t == nil || t.Kind != "object" {
		return nil, true
	}
	if f, ok := t.Fields[name]; ok {
		return f, true
	}
	if msg, ok := t.Hidden[name]; ok {
		c.errs = append(c.errs, Error{Offset: off, Msg: msg})
		return nil, false
	}
	if t.Open {
		return nil, true
	}
	noun := t.Noun
	if noun == "" {
		noun = "field"
	}
	msg := fmt.Sprintf("unknown %s %q%s", noun, name, t.Of)
	names := make([]string, 0, len(t.Fields))
	for k := range t.Fields {
		names = append(names, k)
	}
	if s := DidYouMean(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if t.Hint != "" {
		msg += " " + t.Hint
	}
	c.errs = append(c.errs, Error{Offset: off, Msg: msg})
	return nil, false
}

// typeOf is the declared type of a plain reference chain.
func (c *checker) typeOf(n ast.Node) *Type {
	id, props := decompose(n)
	if id == nil || c.lets[id.Value] {
		return nil
	}
	t := c.env
	if t == nil || t.Kind != "object" {
		return nil
	}
	t = t.Fields[id.Value]
	for _, p := range props {
		if t == nil {
			return nil
		}
		switch k := p.key.(type) {
		case string:
			if t.Kind != "object" {
				return nil
			}
			t = t.Fields[k]
		case int:
			if t.Kind != "list" {
				return nil
			}
			t = t.Elem
		default:
			return nil
		}
	}
	return t
}

// DidYouMean returns the candidate closest to name when it is close enough
// to be a likely typo, else "". One suggestion rule for the whole tool: the
// loader's (internal/suggest), so a typo reads the same wherever it is found.
func DidYouMean(name string, candidates []string) string {
	return suggest.Closest(name, candidates)
}
