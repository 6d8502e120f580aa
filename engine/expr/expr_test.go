package expr

import (
	"strings"
	"testing"
)

type unknown struct{}

func (unknown) UnknownValue() {}

func env() *Type {
	account := &Type{Kind: "object", Fields: map[string]*Type{"id": Any, "name": Any, "active": Any}}
	return Object("name", map[string]*Type{
		"inputs": {Kind: "object", Noun: "input", Fields: map[string]*Type{"region": Any, "n": Any}},
		"steps": {Kind: "object", Noun: "step", Fields: map[string]*Type{
			"targets": Object("field", map[string]*Type{
				"status":  Any,
				"outputs": {Kind: "object", Noun: "output", Of: ` of step "targets"`, Fields: map[string]*Type{"accounts": List(account), "count": Any}},
			}),
		}, Hidden: map[string]string{"clone": `step "clone" is inside group "rollout"`}},
		"env":     {Kind: "object", Noun: "environment variable", Hint: "(declare it under env:)", Fields: map[string]*Type{"HOME": Any}},
		"account": account,
	})
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src, want string
		off       int
	}{
		{"inputs.regoin", `unknown input "regoin"; did you mean "region"?`, 7},
		{"steps.targets.outputs.acounts", `unknown output "acounts" of step "targets"; did you mean "accounts"?`, 22},
		{"steps.nope.outputs", `unknown step "nope"`, 6},
		{"steps.clone.outputs.task", `step "clone" is inside group "rollout"`, 6},
		{"account.nme == 'x'", `unknown field "nme"; did you mean "name"?`, 8},
		{"steps.targets.outputs.accounts[0].nme", `unknown field "nme"`, 34},
		{"env.PATH", `unknown environment variable "PATH" (declare it under env:)`, 4},
		{"foo + 1", `unknown name "foo"`, 0},
		{"inputs.region ==", "syntax error", 15},
		{"filter(steps.targets.outputs.accounts, .nme == 'x')", "unknown field nme", 40},
	}
	for _, c := range cases {
		_, errs := Compile(c.src, env())
		if len(errs) == 0 {
			t.Errorf("%s: no error", c.src)
			continue
		}
		if !strings.Contains(errs[0].Msg, c.want) || errs[0].Offset != c.off {
			t.Errorf("%s: got %q at %d, want %q at %d", c.src, errs[0].Msg, errs[0].Offset, c.want, c.off)
		}
	}
}

func TestTemplateTypes(t *testing.T) {
	e := env()
	vals := map[string]any{
		"inputs": map[string]any{"region": "eu", "n": 3},
		"steps": map[string]any{"targets": map[string]any{"status": "succeeded", "outputs": map[string]any{
			"accounts": []any{map[string]any{"id": "a1", "name": "Store-1", "active": true}}, "count": 1}}},
	}
	tp, errs := CompileTemplate("${{ steps.targets.outputs.accounts }}", e)
	if errs != nil {
		t.Fatal(errs)
	}
	v, err := tp.Eval(vals)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := v.([]any); !ok || len(l) != 1 {
		t.Fatalf("single expression lost its type: %#v", v)
	}
	tp, errs = CompileTemplate("pool-${{ inputs.region }}-${{ inputs.n + 1 }}", e)
	if errs != nil {
		t.Fatal(errs)
	}
	if v, _ := tp.Eval(vals); v != "pool-eu-4" {
		t.Fatalf("got %#v", v)
	}
	tp, errs = CompileTemplate(`${{ {"a": {"b": inputs.region}} }}`, e)
	if errs != nil {
		t.Fatal(errs)
	}
	if v, _ := tp.Eval(vals); v.(map[string]any)["a"].(map[string]any)["b"] != "eu" {
		t.Fatalf("got %#v", v)
	}
	if tp.Single() == nil {
		t.Fatal("map literal template is a single expression")
	}
}

func TestUnknownPropagates(t *testing.T) {
	e := env()
	vals := map[string]any{"steps": map[string]any{"targets": map[string]any{"outputs": unknown{}}}}
	tp, _ := CompileTemplate("id-${{ steps.targets.outputs.accounts[0].id }}", e)
	v, err := tp.Eval(vals)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(unknown); !ok {
		t.Fatalf("want unknown, got %#v", v)
	}
	// Unknown hidden inside a list still yields unknown instead of an error.
	vals = map[string]any{"steps": map[string]any{"targets": map[string]any{"outputs": map[string]any{"accounts": []any{unknown{}}}}}}
	x, _ := Compile("steps.targets.outputs.accounts[0].name startsWith 'S'", e)
	v, err = x.Eval(vals)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(unknown); !ok {
		t.Fatalf("want unknown, got %#v", v)
	}
}

func TestSplitAndBare(t *testing.T) {
	if _, err := Split("a ${{ b "); err == nil {
		t.Fatal("unterminated accepted")
	}
	s, off := Bare("  ${{ x == 1 }}")
	if s != " x == 1 " || off != 5 {
		t.Fatalf("%q %d", s, off)
	}
	segs, _ := Split(`x${{ "}}" }}y`)
	if len(segs) != 3 || segs[1].Expr != ` "}}" ` {
		t.Fatalf("%#v", segs)
	}
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{"${{ inputs.region }}", "a${{ inputs.n * 2 }}b", "${{ steps.targets.outputs.accounts[0].name }}", "${{", "${{ }}", "${{ '}}' }}", "${{ filter(steps.targets.outputs.accounts, .active) }}"} {
		f.Add(s, "eu", int64(3))
	}
	e := env()
	f.Fuzz(func(t *testing.T, src, region string, n int64) {
		tp, errs := CompileTemplate(src, e)
		if errs != nil {
			return
		}
		vals := map[string]any{
			"inputs": map[string]any{"region": region, "n": int(n)},
			"steps":  map[string]any{"targets": map[string]any{"outputs": map[string]any{"accounts": []any{map[string]any{"name": region}, unknown{}}}}},
			"env":    map[string]any{"HOME": region},
		}
		_, _ = tp.Eval(vals)
	})
}
