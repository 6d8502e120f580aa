package expr

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Segment is a piece of a template: literal text, or an expression with the
// rune offset of its source inside the template.
type Segment struct {
	Literal string
	Expr    string
	IsExpr  bool
	Offset  int // rune offset of Expr (or Literal) within the template
}

// Split cuts s into literal text and `${{ ... }}` expressions. The closing
// `}}` is the first one outside string literals and braces, so maps inside
// an expression (`${{ {"a": {"b": 1}} }}`) work.
func Split(s string) ([]Segment, error) {
	var segs []Segment
	runeOff := func(byteOff int) int { return utf8.RuneCountInString(s[:byteOff]) }
	i := 0
	for {
		j := strings.Index(s[i:], "${{")
		if j < 0 {
			if i < len(s) {
				segs = append(segs, Segment{Literal: s[i:], Offset: runeOff(i)})
			}
			return segs, nil
		}
		j += i
		if j > i {
			segs = append(segs, Segment{Literal: s[i:j], Offset: runeOff(i)})
		}
		start := j + 3
		end := closing(s, start)
		if end < 0 {
			return nil, Error{Offset: runeOff(j), Msg: "unterminated ${{ (missing }})"}
		}
		segs = append(segs, Segment{Expr: s[start:end], IsExpr: true, Offset: runeOff(start)})
		i = end + 2
	}
}

// closing finds the byte offset of the `}}` that ends an expression starting
// at start, or -1.
func closing(s string, start int) int {
	depth := 0
	var quote byte
	for k := start; k < len(s); k++ {
		ch := s[k]
		if quote != 0 {
			if ch == '\\' && quote != '`' {
				k++
			} else if ch == quote {
				quote = 0
			}
			continue
		}
		switch ch {
		case '"', '\'', '`':
			quote = ch
		case '{', '[', '(':
			depth++
		case ']', ')':
			if depth > 0 {
				depth--
			}
		case '}':
			if depth == 0 && k+1 < len(s) && s[k+1] == '}' {
				return k
			}
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// HasExpr reports whether s contains a `${{`.
func HasExpr(s string) bool { return strings.Contains(s, "${{") }

// Bare returns the expression of an `if:` or `for_each:` value, which may be
// written bare or as one `${{ }}`, and the rune offset of the expression
// within s.
func Bare(s string) (string, int) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "${{") {
		segs, err := Split(t)
		if err == nil && len(segs) == 1 && segs[0].IsExpr {
			lead := utf8.RuneCountInString(s[:strings.Index(s, "${{")])
			return segs[0].Expr, lead + segs[0].Offset
		}
	}
	return s, 0
}

// Template is a compiled string that may hold expressions.
type Template struct {
	src    string
	parts  []part
	single *Expr // the string is exactly one expression: its value keeps its type
}

type part struct {
	lit  string
	expr *Expr
}

// CompileTemplate compiles every expression in s against env. Errors carry
// rune offsets into s.
func CompileTemplate(s string, env *Type) (*Template, []Error) {
	segs, err := Split(s)
	if err != nil {
		return nil, []Error{err.(Error)}
	}
	t := &Template{src: s}
	var errs []Error
	for _, seg := range segs {
		if !seg.IsExpr {
			t.parts = append(t.parts, part{lit: seg.Literal})
			continue
		}
		e, es := Compile(seg.Expr, env)
		for _, x := range es {
			x.Offset += seg.Offset
			errs = append(errs, x)
		}
		if e != nil {
			// Offsets of references are kept relative to the template too.
			for i := range e.refs {
				e.refs[i].Offset += seg.Offset
			}
		}
		t.parts = append(t.parts, part{expr: e})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		t.single = t.parts[0].expr
	}
	return t, nil
}

// IsLiteral reports whether the template holds no expression.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Secret reports whether any expression of the template may read a secret,
// and names the first one.
func (t *Template) Secret() (string, bool) {
	for _, p := range t.parts {
		if s, ok := p.expr.Secret(); ok {
			return s, true
		}
	}
	return "", false
}

// Single is the expression when the template is exactly one, else nil.
func (t *Template) Single() *Expr { return t.single }

// Refs are every reference made by the template's expressions.
func (t *Template) Refs() []Ref {
	var out []Ref
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr.refs...)
		}
	}
	return out
}

// Eval renders the template: a single expression keeps its value's type;
// otherwise values are stringified and concatenated. Any unknown part makes
// the whole value unknown.
func (t *Template) Eval(env map[string]any) (any, error) {
	if t.single != nil {
		return t.single.Eval(env)
	}
	if t.IsLiteral() {
		var b strings.Builder
		for _, p := range t.parts {
			b.WriteString(p.lit)
		}
		return b.String(), nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil {
			return nil, err
		}
		if _, u := v.(Unknowner); u {
			return v, nil
		}
		b.WriteString(Stringify(v))
	}
	return b.String(), nil
}

// Stringify renders a value inside a larger string: strings as they are,
// nil as empty, scalars with %v, lists and maps as JSON.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%v", x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprintf("%v", v)
}
