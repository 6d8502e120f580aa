package schema

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// tnode is a YAML node with aliases and merge keys expanded, duplicate keys
// dropped and scalars decoded. The loader validates and decodes this tree, so
// that the JSON Schema instance, the typed model and the positions agree.
type tnode struct {
	pos    Pos        // where the value appears (for an alias: where it is used)
	y      *yaml.Node // the resolved node (never an alias)
	kind   ValueKind
	scalar any // ScalarValue: string, int, float64, bool or nil

	list []*tnode // ListValue

	keys   []string // MapValue, in file order
	keyPos []Pos
	vals   []*tnode
}

func (t *tnode) get(key string) *tnode {
	if t == nil || t.kind != MapValue {
		return nil
	}
	for i, k := range t.keys {
		if k == key {
			return t.vals[i]
		}
	}
	return nil
}

func (t *tnode) keyPosOf(key string) (Pos, bool) {
	if t == nil || t.kind != MapValue {
		return Pos{}, false
	}
	for i, k := range t.keys {
		if k == key {
			return t.keyPos[i], true
		}
	}
	return Pos{}, false
}

// str returns the node's string value, if it is a string scalar.
func (t *tnode) str() (string, bool) {
	if t == nil || t.kind != ScalarValue {
		return "", false
	}
	s, ok := t.scalar.(string)
	return s, ok
}

// json converts the tree into the plain data a JSON Schema validator
// expects. Subtrees shared through aliases are converted once and shared.
func (t *tnode) json() any { return toJSON(t, map[*tnode]any{}) }

func toJSON(t *tnode, memo map[*tnode]any) any {
	if v, ok := memo[t]; ok {
		return v
	}
	var out any
	switch t.kind {
	case ListValue:
		l := make([]any, len(t.list))
		for i, e := range t.list {
			l[i] = toJSON(e, memo)
		}
		out = l
	case MapValue:
		m := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			m[k] = toJSON(t.vals[i], memo)
		}
		out = m
	default:
		out = t.scalar
	}
	if t.kind != ScalarValue {
		memo[t] = out
	}
	return out
}

// value converts the tree into the model's Value. Subtrees shared through
// aliases stay shared: a Value tree must be treated as read-only.
func (t *tnode) value() *Value { return toValue(t, map[*tnode]*Value{}) }

func toValue(t *tnode, memo map[*tnode]*Value) *Value {
	if v, ok := memo[t]; ok {
		return v
	}
	v := &Value{Kind: t.kind, Pos: t.pos, Node: t.y}
	switch t.kind {
	case ListValue:
		v.List = make([]*Value, len(t.list))
		for i, e := range t.list {
			v.List[i] = toValue(e, memo)
		}
	case MapValue:
		v.Map = make(map[string]*Value, len(t.keys))
		v.Keys = append([]string(nil), t.keys...)
		for i, k := range t.keys {
			v.Map[k] = toValue(t.vals[i], memo)
		}
	default:
		v.Scalar = t.scalar
	}
	memo[t] = v
	return v
}

// limits guards the loader against hostile input: alias bombs expand to
// exponentially many nodes, and self-referencing anchors never end.
type limits struct {
	file     string
	maxNodes int
	maxDepth int
	nodes    int
	alias    *yaml.Node // outermost alias being expanded, for the error position
	diag     *Diagnostic
}

// count walks n as the builder will (aliases and merges expanded) without
// allocating, and stops at the first limit exceeded. It runs before build so
// that refusing a bomb costs at most MaxNodes steps and no memory.
func (l *limits) count(n *yaml.Node, depth int) bool {
	if l.diag != nil {
		return false
	}
	if n == nil {
		return true
	}
	l.nodes++
	if l.nodes > l.maxNodes {
		at := n
		if l.alias != nil {
			at = l.alias
		}
		l.diag = &Diagnostic{Pos: PosOf(l.file, at), Message: fmt.Sprintf("the document expands to more than %d YAML nodes (aliases included); refusing to load it", l.maxNodes)}
		return false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if l.alias != nil {
			return l.count(n.Alias, depth)
		}
		l.alias = n
		ok := l.count(n.Alias, depth)
		l.alias = nil
		return ok
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		if n.Kind != yaml.DocumentNode {
			depth++
			if depth > l.maxDepth {
				l.diag = &Diagnostic{Pos: PosOf(l.file, n), Message: fmt.Sprintf("nesting deeper than %d levels; refusing to load the document", l.maxDepth)}
				return false
			}
		}
		for _, c := range n.Content {
			if !l.count(c, depth) {
				return false
			}
		}
	}
	return true
}

// builder turns checked yaml.Nodes into a tnode tree. Each YAML node is
// built once: an alias shares the subtree of its anchor, so the work and
// memory stay proportional to the file, not to its expansion.
type builder struct {
	file  string
	diags *Diagnostics
	memo  map[*yaml.Node]*tnode

	outOfRange []Pos // integers refused as out of range: the schema's type error there is noise
}

func (b *builder) errorf(pos Pos, format string, args ...any) {
	*b.diags = append(*b.diags, Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	// Bounded: limits.count has already walked every alias chain.
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (b *builder) build(n *yaml.Node, pos Pos) *tnode {
	r := resolveAlias(n)
	if r == nil {
		return &tnode{pos: pos, kind: ScalarValue}
	}
	if r.Kind == yaml.DocumentNode {
		if len(r.Content) > 0 {
			return b.build(r.Content[0], PosOf(b.file, r.Content[0]))
		}
		return &tnode{pos: pos, kind: ScalarValue}
	}
	if b.memo == nil {
		b.memo = map[*yaml.Node]*tnode{}
	}
	if t, ok := b.memo[r]; ok {
		if t.pos == pos {
			return t
		}
		at := *t // the same content, seen where the alias is used
		at.pos = pos
		return &at
	}
	t := &tnode{pos: pos, y: r}
	b.memo[r] = t
	switch r.Kind {
	case yaml.SequenceNode:
		t.kind = ListValue
		t.list = make([]*tnode, 0, len(r.Content))
		for _, c := range r.Content {
			t.list = append(t.list, b.build(c, PosOf(b.file, c)))
		}
	case yaml.MappingNode:
		t.kind = MapValue
		b.buildMap(t, r)
	default:
		t.kind = ScalarValue
		t.scalar = scalarValue(r)
		if _, isInt := t.scalar.(int); !isInt && r.Style == 0 && looksNumeric(r.Value) && intLiteral.MatchString(r.Value) {
			// yaml.v3 turns an integer too large for int into a float
			// (decimal) or a string (hex, octal): either way not the number
			// written, so it is refused here, where its position is known.
			b.outOfRange = append(b.outOfRange, pos)
			b.errorf(pos, "integer %s is out of range (integers must be between %d and %d; quote it if it is text)", r.Value, math.MinInt64, math.MaxInt64)
		}
	}
	return t
}

// looksNumeric is a cheap test before intLiteral: most scalars are words.
func looksNumeric(s string) bool {
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '+')
}

// intLiteral is a YAML 1.2 integer as yaml.v3 reads it (decimal, 0x, 0o,
// 0b, with optional sign and underscores).
var intLiteral = regexp.MustCompile(`^[-+]?(0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$`)

func (b *builder) buildMap(t *tnode, m *yaml.Node) {
	first := map[string]int{} // key -> line of its first occurrence
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], m.Content[i+1]
		rk := resolveAlias(kn)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			b.errorf(PosOf(b.file, kn), "mapping keys must be plain strings, not a %s", kindName(rk))
			continue
		}
		if rk.Tag == "!!merge" || (rk.ShortTag() == "!!merge") {
			merges = append(merges, vn)
			continue
		}
		key := rk.Value
		if line, dup := first[key]; dup {
			b.errorf(PosOf(b.file, kn), "duplicate key %q (first defined at line %d)", key, line)
			continue
		}
		first[key] = kn.Line
		t.keys = append(t.keys, key)
		t.keyPos = append(t.keyPos, PosOf(b.file, kn))
		t.vals = append(t.vals, b.build(vn, PosOf(b.file, vn)))
	}
	// Merge keys (<<: *base) add the keys the mapping does not set itself.
	for _, mv := range merges {
		sources := []*yaml.Node{mv}
		if r := resolveAlias(mv); r != nil && r.Kind == yaml.SequenceNode {
			sources = r.Content
		}
		ok := true
		for _, src := range sources {
			if rs := resolveAlias(src); rs == nil || rs.Kind != yaml.MappingNode {
				ok = false
			}
		}
		if !ok {
			b.errorf(PosOf(b.file, mv), "a merge key (<<) needs a mapping or a list of mappings")
			continue
		}
		for _, src := range sources {
			rs := resolveAlias(src)
			mt := b.build(rs, PosOf(b.file, rs))
			for i, k := range mt.keys {
				if _, ok := first[k]; ok {
					continue
				}
				first[k] = mt.keyPos[i].Line
				t.keys = append(t.keys, k)
				t.keyPos = append(t.keyPos, mt.keyPos[i])
				t.vals = append(t.vals, mt.vals[i])
			}
		}
	}
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "null"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "scalar"
	default:
		return "node"
	}
}

// scalarValue decodes a scalar the way YAML 1.2 (as yaml.v3 reads it) types
// it, keeping values JSON cannot hold (timestamps, infinities) as their text.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var v bool
		if n.Decode(&v) == nil {
			return v
		}
	case "!!int":
		var i int
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}

// lookup follows a JSON pointer (as the validator reports it) through the
// tree. It returns the deepest node reached, the position of the last key
// when the pointer ends at a map entry, and whether the whole pointer
// resolved.
func (t *tnode) lookup(ptr string) (node *tnode, keyPos Pos, hasKey bool, complete bool) {
	node = t
	toks := splitPointer(ptr)
	for _, tok := range toks {
		switch node.kind {
		case MapValue:
			found := false
			for i, k := range node.keys {
				if k == tok {
					keyPos, hasKey, found = node.keyPos[i], true, true
					node = node.vals[i]
					break
				}
			}
			if !found {
				return node, Pos{}, false, false
			}
		case ListValue:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node.list) {
				return node, Pos{}, false, false
			}
			node, hasKey = node.list[i], false
		default:
			return node, Pos{}, false, false
		}
	}
	return node, keyPos, hasKey, true
}

func splitPointer(ptr string) []string {
	ptr = strings.TrimPrefix(ptr, "/")
	if ptr == "" {
		return nil
	}
	toks := strings.Split(ptr, "/")
	for i, t := range toks {
		// The validator URL-escapes each token after the JSON pointer escapes.
		if u, err := url.PathUnescape(t); err == nil {
			t = u
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}
