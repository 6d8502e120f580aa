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
	ctx := m.context(ve.InstanceLocation)
	node, _, _, _ := m.root.lookup(ve.InstanceLocation)
	sets, singles, onlyRequired, satisfied := m.requiredSets(ve, base, rest)
	switch {
	case satisfied:
		return // only an always-required name is missing: reported already
	case onlyRequired:
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

// requiredSets reads alternatives that are sets of required names ({pool_id}
// or {account_id, pool_kind}): onlyRequired when every alternative failed
// only on required; sets are their names, joined, and singles says each
// has one. Names the mapping requires anyway are left out (their absence is
// reported on its own); satisfied: an alternative lacks only such names.
func (m *mapper) requiredSets(ve *jsonschema.ValidationError, base string, rest []*jsonschema.ValidationError) (sets []string, singles, onlyRequired, satisfied bool) {
	parent, _ := m.schemaPtr(strings.TrimSuffix(base, "/"+lastToken(base))).(map[string]any)
	always := map[string]bool{}
	for _, r := range stringsOf(asList(parent["required"])) {
		always[r] = true
	}
	obj, _ := instAt(m.inst, ve.InstanceLocation).(map[string]any)
	singles = true
	for _, c := range rest {
		var set []string
		complete := true
		for _, l := range leavesOf(c) {
			if lastToken(l.AbsoluteKeywordLocation) != "required" {
				return nil, false, false, false
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
		if complete {
			return nil, false, false, true
		}
		singles = singles && len(set) == 1
		sets = append(sets, strings.Join(set, ", "))
	}
	return sets, singles, len(rest) > 0, false
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

// failure is one leaf of the validator's error tree with what its message
// is worded from: the failing keyword, the schema around it, the YAML node
// and the value at the instance location.
type failure struct {
	ve     *jsonschema.ValidationError
	kw     string
	schema map[string]any
	node   *tnode
	keyPos Pos
	hasKey bool
	ctx    pathCtx
	val    any
	field  string // ctx.subject()
}

// leaf words one failed keyword and places it at the YAML node it is about.
func (m *mapper) leaf(ve *jsonschema.ValidationError) {
	sloc := fragment(ve.AbsoluteKeywordLocation)
	f := failure{ve: ve, kw: lastToken(sloc), schema: m.schemaAt(ve), ctx: m.context(ve.InstanceLocation), val: instAt(m.inst, ve.InstanceLocation)}
	f.node, f.keyPos, f.hasKey, _ = m.root.lookup(ve.InstanceLocation)
	f.field = f.ctx.subject()
	if strings.Contains(sloc, "/$defs/duration/") {
		// Duration strings and negative numbers are checked (and worded)
		// when the model is decoded, with time.ParseDuration's verdict.
		if f.kw == "type" {
			m.add(f.node.pos, "%s%s must be a duration such as \"30s\", \"5m\" or \"1h\", or a number of seconds, not %s", f.ctx.prefix, f.field, describeActual(jsonType(f.val)))
		}
		return
	}
	prefix, field, pos := f.ctx.prefix, f.field, f.node.pos
	switch f.kw {
	case "type":
		m.wrongType(f)
	case "enum":
		m.notInEnum(f)
	case "const":
		m.add(pos, "%s%s must be %s, not %s", prefix, field, repr(f.schema["const"]), repr(f.val))
	case "required":
		m.missingRequired(f)
	case "additionalProperties", "unevaluatedProperties":
		m.unknownKeys(f)
	case "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum":
		word := map[string]string{"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most", "exclusiveMaximum": "less than"}[f.kw]
		m.add(pos, "%s%s must be %s %v, not %s", prefix, field, word, f.schema[f.kw], repr(f.val))
	case "minItems", "minLength", "minProperties":
		if n, _ := f.schema[f.kw].(float64); n <= 1 {
			m.add(pos, "%s%s must not be empty", prefix, field)
		} else {
			m.add(pos, "%s%s must have at least %v %s", prefix, field, n, map[string]string{"minItems": "items", "minLength": "characters", "minProperties": "entries"}[f.kw])
		}
	case "pattern":
		m.patternMismatch(f)
	case "uniqueItems":
		m.duplicateItems(f)
	default:
		if field != "" {
			m.add(pos, "%s%s: %s", prefix, field, f.ve.Message)
		} else {
			m.add(pos, "%s%s", prefix, f.ve.Message)
		}
	}
}

// wrongType: the value's JSON type is not one the schema allows.
func (m *mapper) wrongType(f failure) {
	expected := typeList(f.schema["type"])
	want := joinOr(expected, describeType)
	if len(expected) > 1 {
		want = joinOr(expected, describeActual)
	}
	if m.orExpr {
		want += " or a ${{ }} expression"
	}
	m.add(f.node.pos, "%s%s must be %s, not %s", f.ctx.prefix, f.field, want, describeActual(jsonType(f.val)))
}

// notInEnum: a value outside its enum; for uses:, an unknown step type (or
// a playbook path written without ./).
func (m *mapper) notInEnum(f failure) {
	enum, _ := f.schema["enum"].([]any)
	prefix := f.ctx.prefix
	if f.ctx.isUses {
		name, _ := f.val.(string)
		if ext := strings.ToLower(path.Ext(name)); ext == ".yaml" || ext == ".yml" {
			m.add(f.node.pos, "%sunknown step type %s; to run another playbook, write its path starting with ./ or ../ (relative to this file): ./%s", prefix, repr(f.val), name)
			return
		}
		m.add(f.node.pos, "%sunknown step type %s%s", prefix, repr(f.val), suggest.DidYouMean(name, stringsOf(enum)))
		return
	}
	var opts []string
	for _, e := range enum {
		opts = append(opts, repr(e))
	}
	hint := ""
	if str, ok := f.val.(string); ok {
		hint = suggest.DidYouMean(str, stringsOf(enum))
	}
	or := ""
	if m.orExpr {
		or = " or a ${{ }} expression"
	}
	m.add(f.node.pos, "%s%s must be one of %s%s, not %s%s", prefix, f.field, strings.Join(opts, ", "), or, repr(f.val), hint)
}

// missingRequired: one message per required key the mapping lacks.
func (m *mapper) missingRequired(f failure) {
	for _, name := range m.missingKeys(f.ve) {
		switch {
		case f.ctx.atWith:
			m.add(f.node.pos, "%smissing required input %q for %s", f.ctx.prefix, name, f.ctx.stepType)
		case f.field != "":
			m.add(f.node.pos, "%smissing required field %q in %s", f.ctx.prefix, name, f.field)
		default:
			m.add(f.node.pos, "%smissing required field %q", f.ctx.prefix, name)
		}
	}
}

// unknownKeys: one message per key, in file order, that neither the
// schema's properties nor its patternProperties allow, with a did-you-mean.
func (m *mapper) unknownKeys(f failure) {
	obj, _ := f.val.(map[string]any)
	props, _ := f.schema["properties"].(map[string]any)
	known := make([]string, 0, len(props))
	for k := range props {
		known = append(known, k)
	}
	sort.Strings(known)
	var pats []*regexp.Regexp
	if pp, ok := f.schema["patternProperties"].(map[string]any); ok {
		for p := range pp {
			if re, err := regexp.Compile(p); err == nil {
				pats = append(pats, re)
			}
		}
	}
	for _, k := range f.node.keys {
		if _, ok := obj[k]; !ok {
			continue
		}
		if _, ok := props[k]; ok || matchesAny(pats, k) {
			continue
		}
		pos, _ := f.node.keyPosOf(k)
		hint := suggest.DidYouMean(k, known)
		switch {
		case f.ctx.atWith:
			m.add(pos, "%sunknown input %q for %s%s", f.ctx.prefix, k, f.ctx.stepType, hint)
		case f.field != "":
			m.add(pos, "%sunknown field %q in %s%s", f.ctx.prefix, k, f.field, hint)
		default:
			m.add(pos, "%sunknown field %q%s", f.ctx.prefix, k, hint)
		}
	}
}

// patternMismatch: a value, or a mapping's key (propertyNames), that does
// not match its pattern; step ids and names get the rule in words.
func (m *mapper) patternMismatch(f failure) {
	pat, _ := f.schema["pattern"].(string)
	pos, subject, val := f.node.pos, f.field, f.val
	if strings.Contains(f.ve.KeywordLocation, "/propertyNames/") {
		// The validator reports a bad key as a value at the key's path.
		if f.hasKey {
			pos = f.keyPos
		}
		subject = f.ctx.parentSubject()
		toks := splitPointer(f.ve.InstanceLocation)
		val = toks[len(toks)-1]
	}
	switch pat {
	case stepIDPattern:
		m.add(pos, "%s%s %s is not a valid step id: use lower_snake_case (a-z, 0-9 and _, starting with a letter)", f.ctx.prefix, subject, repr(val))
	case identifierPattern:
		m.add(pos, "%s%s: %s is not a valid name: use letters, digits and _, not starting with a digit", f.ctx.prefix, subject, repr(val))
	default:
		m.add(pos, "%s%s %s does not match the pattern %s", f.ctx.prefix, subject, repr(val), pat)
	}
}

// duplicateItems: a list with a repeated item, at the repeat when the
// validator says which it is.
func (m *mapper) duplicateItems(f failure) {
	node := f.node
	if sm := uniqueRe.FindStringSubmatch(f.ve.Message); sm != nil {
		j, _ := strconv.Atoi(sm[2])
		if node.kind == ListValue && j < len(node.list) {
			m.add(node.list[j].pos, "%s%s lists %s twice", f.ctx.prefix, f.field, repr(instAt(m.inst, f.ve.InstanceLocation+"/"+sm[2])))
			return
		}
	}
	m.add(node.pos, "%s%s has duplicate items", f.ctx.prefix, f.field)
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

// addSegment appends a field path segment: ".name" after the first, "[i]"
// for a list index.
func (c *pathCtx) addSegment(s string) {
	if len(c.path) == 0 || strings.HasPrefix(s, "[") {
		c.path = append(c.path, s)
	} else {
		c.path = append(c.path, "."+s)
	}
}

// context walks an instance location and describes it: the innermost step
// it is in (by id, else by index path), its type, and the path inside it.
func (m *mapper) context(ptr string) pathCtx {
	var c pathCtx
	stepPath := "" // index path of the innermost step, for steps without an id
	toks := splitPointer(ptr)
	cur := m.inst
	inStep := false // cur is a step mapping (or the top level)
	atTop := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		obj, isObj := cur.(map[string]any)
		if isObj && (inStep || atTop) && t == "steps" && i+1 < len(toks) {
			if item, ok := stepOf(obj, toks[i+1]); ok {
				step, _ := item.(map[string]any)
				if stepPath != "" {
					stepPath += "."
				}
				stepPath += "steps[" + toks[i+1] + "]"
				c = m.stepContext(step, stepPath)
				cur, inStep, atTop = item, true, false
				i++
				continue
			}
		}
		if isObj && inStep && t == "with" && c.withInput == "" {
			cur = obj[t]
			if i == len(toks)-1 {
				c.atWith = true
				c.addSegment("with")
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
			c.addSegment("[" + t + "]")
		} else {
			c.addSegment(t)
		}
		cur = child(cur, t)
		inStep, atTop = false, false
	}
	return c
}

// stepOf is item tok (an index) of obj's steps list.
func stepOf(obj map[string]any, tok string) (any, bool) {
	list, ok := obj["steps"].([]any)
	if !ok {
		return nil, false
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n < 0 || n >= len(list) {
		return nil, false
	}
	return list[n], true
}

// stepContext starts the description of a location inside step: named by
// its id, else by its index path, with its type when it is a known one.
func (m *mapper) stepContext(step map[string]any, stepPath string) pathCtx {
	var c pathCtx
	if id, _ := step["id"].(string); id != "" {
		c.prefix = fmt.Sprintf("step %q: ", id)
	} else {
		c.prefix = stepPath + ": "
	}
	c.stepType, _ = step["uses"].(string)
	if _, known := m.types[c.stepType]; !known {
		c.stepType = ""
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
