package schema

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/frameflow/frameflow/internal/suggest"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// mapper turns the validator's error tree into diagnostics: each leaf is
// placed at the YAML node its instance location points to, and worded from
// the failing keyword and the schema around it rather than the validator's
// generic text.
type mapper struct {
	file  string
	root  *tnode
	doc   map[string]any // the compiled schema as data
	inst  any
	types map[string]StepTypeInfo
	out   Diagnostics

	orExpr bool // inside a `with` input that also accepts an expression
}

const (
	stepIDPattern     = `^[a-z][a-z0-9_]*$`
	identifierPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
)

func (m *mapper) add(pos Pos, format string, args ...any) {
	m.out = append(m.out, Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func (m *mapper) walk(ve *jsonschema.ValidationError) {
	kw := lastToken(ve.AbsoluteKeywordLocation)
	switch {
	case kw == "anyOf" || kw == "oneOf":
		m.alternatives(ve)
	case len(ve.Causes) > 0:
		for _, c := range ve.Causes {
			m.walk(c)
		}
	default:
		m.leaf(ve)
	}
}

func lastToken(loc string) string {
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[i+1:]
	}
	return loc
}

func fragment(loc string) string {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

// alternatives handles anyOf/oneOf. The only ones in the composed schema are
// the "value or ${{ }} expression" wrappers around `with` inputs, and those
// the registry wrote itself (e.g. alternative sets of required inputs).
func (m *mapper) alternatives(ve *jsonschema.ValidationError) {
	var rest []*jsonschema.ValidationError
	dropped := false
	base := fragment(ve.AbsoluteKeywordLocation)
	for i, c := range ve.Causes {
		// Every branch failed, so causes are in branch order.
		if m.isExpressionBranch(base + "/" + strconv.Itoa(i)) {
			dropped = true
			continue
		}
		rest = append(rest, c)
	}
	if len(rest) == 1 {
		saved := m.orExpr
		m.orExpr = m.orExpr || dropped
		m.walk(rest[0])
		m.orExpr = saved
		return
	}
	// Alternative sets of required inputs ({pool_id} or {account_id,
	// pool_kind}). Names the mapping requires anyway are left out: their
	// absence is reported on its own.
	parent, _ := m.schemaPtr(strings.TrimSuffix(base, "/"+lastToken(base))).(map[string]any)
	always := map[string]bool{}
	for _, r := range stringsOf(asList(parent["required"])) {
		always[r] = true
	}
	obj, _ := instAt(m.inst, ve.InstanceLocation).(map[string]any)
	var sets []string
	singles := true
	allRequired := len(rest) > 0
	for _, c := range rest {
		var set []string
		complete := true
		for _, l := range leavesOf(c) {
			if lastToken(l.AbsoluteKeywordLocation) != "required" {
				allRequired = false
				break
			}
			for _, r := range stringsOf(asList(m.schemaAt(l)["required"])) {
				if always[r] {
					continue
				}
				set = append(set, r)
				if _, ok := obj[r]; !ok {
					complete = false
				}
			}
		}
		if !allRequired {
			break
		}
		if complete {
			return // only an always-required name is missing: reported already
		}
		singles = singles && len(set) == 1
		sets = append(sets, strings.Join(set, ", "))
	}
	ctx := m.context(ve.InstanceLocation)
	node, _, _, _ := m.root.lookup(ve.InstanceLocation)
	if allRequired {
		what, subject := "fields", ctx.subject()
		if ctx.atWith && ctx.stepType != "" {
			what, subject = "inputs", ctx.stepType
		}
		if singles {
			m.add(node.pos, "%s%s needs one of the %s %s", ctx.prefix, subject, what, strings.Join(sets, ", "))
		} else {
			m.add(node.pos, "%s%s needs one of these sets of %s: [%s]", ctx.prefix, subject, what, strings.Join(sets, "] or ["))
		}
		return
	}
	// Anything else: say what each alternative wanted.
	var msgs []string
	for _, c := range rest {
		sub := &mapper{file: m.file, root: m.root, doc: m.doc, inst: m.inst, types: m.types}
		sub.walk(c)
		for _, d := range sub.out {
			msgs = append(msgs, d.Message)
		}
	}
	m.add(node.pos, "%s%s matches none of the allowed forms: %s", ctx.prefix, ctx.subject(), strings.Join(msgs, "; or "))
}

// isExpressionBranch reports whether the alternative at loc (a pointer into
// the schema) is the "exactly one ${{ }} expression" form, whether it refers
// to $defs/expression or spells the pattern out as the registry does.
func (m *mapper) isExpressionBranch(loc string) bool {
	s, _ := m.schemaPtr(loc).(map[string]any)
	if ref, _ := s["$ref"].(string); ref == "#/$defs/expression" {
		return true
	}
	pat, _ := s["pattern"].(string)
	return strings.Contains(pat, `\$\{\{`)
}

// schemaPtr follows a JSON pointer into the schema document.
func (m *mapper) schemaPtr(ptr string) any {
	var cur any = m.doc
	for _, t := range splitPointer(ptr) {
		cur = child(cur, t)
	}
	return cur
}

func leavesOf(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leavesOf(c)...)
	}
	return out
}

// schemaAt returns the schema object holding the failing keyword.
func (m *mapper) schemaAt(ve *jsonschema.ValidationError) map[string]any {
	toks := splitPointer(fragment(ve.AbsoluteKeywordLocation))
	if len(toks) == 0 {
		return m.doc
	}
	var cur any = m.doc
	for _, t := range toks[:len(toks)-1] {
		cur = child(cur, t)
	}
	s, _ := cur.(map[string]any)
	return s
}

func instAt(inst any, ptr string) any {
	cur := inst
	for _, t := range splitPointer(ptr) {
		cur = child(cur, t)
	}
	return cur
}

// child is one step of a JSON pointer on decoded data.
func child(cur any, tok string) any {
	switch c := cur.(type) {
	case map[string]any:
		return c[tok]
	case []any:
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(c) {
			return nil
		}
		return c[i]
	}
	return nil
}

func (m *mapper) missingKeys(ve *jsonschema.ValidationError) []string {
	s := m.schemaAt(ve)
	obj, _ := instAt(m.inst, ve.InstanceLocation).(map[string]any)
	req, _ := s["required"].([]any)
	var out []string
	for _, r := range req {
		name, _ := r.(string)
		if _, ok := obj[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}

var uniqueRe = regexp.MustCompile(`items at index (\d+) and (\d+) are equal`)

func (m *mapper) leaf(ve *jsonschema.ValidationError) {
	sloc := fragment(ve.AbsoluteKeywordLocation)
	kw := lastToken(sloc)
	isDuration := strings.Contains(sloc, "/$defs/duration/")
	if isDuration && kw != "type" {
		// Duration strings and negative numbers are checked (and worded)
		// when the model is decoded, with time.ParseDuration's verdict.
		return
	}
	s := m.schemaAt(ve)
	node, keyPos, hasKey, _ := m.root.lookup(ve.InstanceLocation)
	ctx := m.context(ve.InstanceLocation)
	val := instAt(m.inst, ve.InstanceLocation)
	field := ctx.subject()

	switch kw {
	case "type":
		expected := typeList(s["type"])
		if isDuration {
			m.add(node.pos, "%s%s must be a duration such as \"30s\", \"5m\" or \"1h\", or a number of seconds, not %s", ctx.prefix, field, describeActual(jsonType(val)))
			return
		}
		want := joinOr(expected, describeType)
		if len(expected) > 1 {
			want = joinOr(expected, describeActual)
		}
		if m.orExpr {
			want += " or a ${{ }} expression"
		}
		m.add(node.pos, "%s%s must be %s, not %s", ctx.prefix, field, want, describeActual(jsonType(val)))

	case "enum":
		enum, _ := s["enum"].([]any)
		if ctx.isUses {
			name, _ := val.(string)
			if ext := strings.ToLower(path.Ext(name)); ext == ".yaml" || ext == ".yml" {
				m.add(node.pos, "%sunknown step type %s; to run another playbook, write its path starting with ./ or ../ (relative to this file): ./%s", ctx.prefix, repr(val), name)
				return
			}
			m.add(node.pos, "%sunknown step type %s%s", ctx.prefix, repr(val), suggest.DidYouMean(name, stringsOf(enum)))
			return
		}
		var opts []string
		for _, e := range enum {
			opts = append(opts, repr(e))
		}
		hint := ""
		if str, ok := val.(string); ok {
			hint = suggest.DidYouMean(str, stringsOf(enum))
		}
		or := ""
		if m.orExpr {
			or = " or a ${{ }} expression"
		}
		m.add(node.pos, "%s%s must be one of %s%s, not %s%s", ctx.prefix, field, strings.Join(opts, ", "), or, repr(val), hint)

	case "const":
		m.add(node.pos, "%s%s must be %s, not %s", ctx.prefix, field, repr(s["const"]), repr(val))

	case "required":
		for _, name := range m.missingKeys(ve) {
			switch {
			case ctx.atWith:
				m.add(node.pos, "%smissing required input %q for %s", ctx.prefix, name, ctx.stepType)
			case field != "":
				m.add(node.pos, "%smissing required field %q in %s", ctx.prefix, name, field)
			default:
				m.add(node.pos, "%smissing required field %q", ctx.prefix, name)
			}
		}

	case "additionalProperties", "unevaluatedProperties":
		obj, _ := val.(map[string]any)
		props, _ := s["properties"].(map[string]any)
		var known []string
		for k := range props {
			known = append(known, k)
		}
		sort.Strings(known)
		var pats []*regexp.Regexp
		if pp, ok := s["patternProperties"].(map[string]any); ok {
			for p := range pp {
				if re, err := regexp.Compile(p); err == nil {
					pats = append(pats, re)
				}
			}
		}
		for _, k := range node.keys { // file order
			if _, ok := obj[k]; !ok {
				continue
			}
			if _, ok := props[k]; ok || matchesAny(pats, k) {
				continue
			}
			pos, _ := node.keyPosOf(k)
			hint := suggest.DidYouMean(k, known)
			switch {
			case ctx.atWith:
				m.add(pos, "%sunknown input %q for %s%s", ctx.prefix, k, ctx.stepType, hint)
			case field != "":
				m.add(pos, "%sunknown field %q in %s%s", ctx.prefix, k, field, hint)
			default:
				m.add(pos, "%sunknown field %q%s", ctx.prefix, k, hint)
			}
		}

	case "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum":
		bound := s[kw]
		word := map[string]string{"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most", "exclusiveMaximum": "less than"}[kw]
		m.add(node.pos, "%s%s must be %s %v, not %s", ctx.prefix, field, word, bound, repr(val))

	case "minItems", "minLength", "minProperties":
		if n, _ := s[kw].(float64); n <= 1 {
			m.add(node.pos, "%s%s must not be empty", ctx.prefix, field)
		} else {
			m.add(node.pos, "%s%s must have at least %v %s", ctx.prefix, field, n, map[string]string{"minItems": "items", "minLength": "characters", "minProperties": "entries"}[kw])
		}

	case "pattern":
		pat, _ := s["pattern"].(string)
		pos := node.pos
		subject := field
		if strings.Contains(ve.KeywordLocation, "/propertyNames/") {
			// The validator reports a bad key as a value at the key's path.
			if hasKey {
				pos = keyPos
			}
			subject = ctx.parentSubject()
			toks := splitPointer(ve.InstanceLocation)
			val = toks[len(toks)-1]
		}
		switch pat {
		case stepIDPattern:
			m.add(pos, "%s%s %s is not a valid step id: use lower_snake_case (a-z, 0-9 and _, starting with a letter)", ctx.prefix, subject, repr(val))
		case identifierPattern:
			m.add(pos, "%s%s: %s is not a valid name: use letters, digits and _, not starting with a digit", ctx.prefix, subject, repr(val))
		default:
			m.add(pos, "%s%s %s does not match the pattern %s", ctx.prefix, subject, repr(val), pat)
		}

	case "uniqueItems":
		pos := node.pos
		if sm := uniqueRe.FindStringSubmatch(ve.Message); sm != nil {
			j, _ := strconv.Atoi(sm[2])
			if node.kind == ListValue && j < len(node.list) {
				pos = node.list[j].pos
				m.add(pos, "%s%s lists %s twice", ctx.prefix, field, repr(instAt(m.inst, ve.InstanceLocation+"/"+sm[2])))
				return
			}
		}
		m.add(pos, "%s%s has duplicate items", ctx.prefix, field)

	default:
		if field != "" {
			m.add(node.pos, "%s%s: %s", ctx.prefix, field, ve.Message)
		} else {
			m.add(node.pos, "%s%s", ctx.prefix, ve.Message)
		}
	}
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// pathCtx describes an instance location in the words of the format: the
// innermost step ("step \"clone\": ") and the field path inside it.
type pathCtx struct {
	prefix    string
	path      []string // segments: "retry", ".backoff", "[2]"
	stepType  string
	atWith    bool   // the location is a step's `with` mapping
	withInput string // the location is inside this input of `with`
	isUses    bool   // the location is a step's `uses`
}

func (c pathCtx) subject() string {
	if c.withInput != "" {
		s := fmt.Sprintf("input %q", c.withInput+strings.Join(c.path, ""))
		if c.stepType != "" {
			s += " of " + c.stepType
		}
		return s
	}
	return strings.Join(c.path, "")
}

func (c pathCtx) parentSubject() string {
	if len(c.path) == 0 {
		return ""
	}
	c.path = c.path[:len(c.path)-1]
	if c.withInput != "" && len(c.path) == 0 {
		return "with"
	}
	return c.subject()
}

func (m *mapper) context(ptr string) pathCtx {
	var c pathCtx
	stepPath := "" // index path of the innermost step, for steps without an id
	toks := splitPointer(ptr)
	cur := m.inst
	inStep := false // cur is a step mapping (or the top level)
	atTop := true
	seg := func(s string) {
		if len(c.path) == 0 || strings.HasPrefix(s, "[") {
			c.path = append(c.path, s)
		} else {
			c.path = append(c.path, "."+s)
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		obj, isObj := cur.(map[string]any)
		if isObj && (inStep || atTop) && t == "steps" && i+1 < len(toks) {
			if list, ok := obj["steps"].([]any); ok {
				if n, err := strconv.Atoi(toks[i+1]); err == nil && n >= 0 && n < len(list) {
					step, _ := list[n].(map[string]any)
					id, _ := step["id"].(string)
					if stepPath != "" {
						stepPath += "."
					}
					stepPath += "steps[" + toks[i+1] + "]"
					if id != "" {
						c = pathCtx{prefix: fmt.Sprintf("step %q: ", id)}
					} else {
						c = pathCtx{prefix: stepPath + ": "}
					}
					c.stepType, _ = step["uses"].(string)
					if _, known := m.types[c.stepType]; !known {
						c.stepType = ""
					}
					cur, inStep, atTop = list[n], true, false
					i++
					continue
				}
			}
		}
		if isObj && inStep && t == "with" && c.withInput == "" {
			cur = obj[t]
			if i == len(toks)-1 {
				c.atWith = true
				seg("with")
			} else {
				i++
				c.withInput = toks[i]
				c.path = nil
				cur = child(cur, toks[i])
			}
			inStep, atTop = false, false
			continue
		}
		if isObj && inStep && t == "uses" && i == len(toks)-1 {
			c.isUses = true
		}
		if _, isList := cur.([]any); isList {
			seg("[" + t + "]")
		} else {
			seg(t)
		}
		cur = child(cur, t)
		inStep, atTop = false, false
	}
	return c
}

var stepIDRe = regexp.MustCompile(stepIDPattern)

func validStepID(s string) bool { return stepIDRe.MatchString(s) }

func typeList(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		return stringsOf(t)
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func stringsOf(vs []any) []string {
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func joinOr(items []string, f func(string) string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = f(it)
	}
	switch len(parts) {
	case 0:
		return "something else"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int:
		return "integer"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

// describeActual names the type of a value found in the file.
func describeActual(t string) string {
	if t == "boolean" {
		return "a boolean"
	}
	return describeType(t)
}

// describeType names an expected type.
func describeType(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "null":
		return "empty (null)"
	}
	return "a " + t
}

// repr shows a value in a message: scalars as YAML would, collections by kind.
func repr(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		return strconv.Quote(v)
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprint(v)
}
