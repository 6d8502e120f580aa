package expr

import (
	"strings"
	"testing"
)

func taintEnv() *Type {
	return Object("name", map[string]*Type{
		"inputs": Object("input", map[string]*Type{
			"token":  Any.AsSecret(),
			"region": Any,
			"keys":   List(Any).AsSecret(),
		}),
		"vars": Object("var", map[string]*Type{
			"plain": Any,
			"nest":  Object("field", map[string]*Type{"deep": Any.AsSecret(), "open": Any}),
		}),
	})
}

func TestTaintFollowsEveryPathToASecret(t *testing.T) {
	secret := map[string]string{
		`inputs.token`:                    "inputs.token",
		`toBase64(inputs.token)`:          "inputs.token",
		`inputs.token[0:3]`:               "inputs.token",
		`len(inputs.token) > 3`:           "inputs.token",
		`inputs["to" + "ken"]`:            "inputs",
		`toJSON(inputs)`:                  "inputs",
		`vars.nest`:                       "vars.nest",
		`vars.nest.deep + "x"`:            "vars.nest.deep",
		`toJSON(vars)`:                    "vars",
		`$env`:                            "$env",
		`inputs.keys[0]`:                  "inputs.keys",
		`let k = inputs.token; k`:         "inputs.token",
		`map([1], inputs.token)`:          "inputs.token",
		`inputs.region + inputs.token`:    "inputs.token",
		`{(inputs.token): inputs.region}`: "inputs.token",
	}
	for src, what := range secret {
		e, errs := Compile(src, taintEnv())
		if len(errs) > 0 {
			t.Fatalf("%s: %v", src, errs)
		}
		got, ok := e.Secret()
		if !ok || got != what {
			t.Errorf("%s: Secret() = %q, %v; want %q", src, got, ok, what)
		}
		if e.Result() == nil || !e.Result().Secret {
			t.Errorf("%s: result type not marked secret", src)
		}
	}
	for _, src := range []string{`inputs.region`, `vars.plain`, `vars.nest.open`, `upper(inputs.region)`, `inputs["region"]`} {
		e, errs := Compile(src, taintEnv())
		if len(errs) > 0 {
			t.Fatalf("%s: %v", src, errs)
		}
		if what, ok := e.Secret(); ok {
			t.Errorf("%s: tainted by %q", src, what)
		}
	}
	tm, errs := CompileTemplate("a ${{ inputs.region }} b ${{ inputs.token }}", taintEnv())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if what, ok := tm.Secret(); !ok || what != "inputs.token" {
		t.Errorf("template: %q %v", what, ok)
	}
}

func TestEvalErrorOfASecretExpressionNeverEchoesTheValue(t *testing.T) {
	e, errs := Compile(`int(inputs.token)`, taintEnv())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := e.Eval(map[string]any{"inputs": map[string]any{"token": "canary-9f8e7d"}})
	if err == nil || strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), "withheld") {
		t.Fatalf("got %v", err)
	}
	// The same failure on a plain value keeps its helpful message.
	e, _ = Compile(`int(inputs.region)`, taintEnv())
	_, err = e.Eval(map[string]any{"inputs": map[string]any{"region": "eu-west"}})
	if err == nil || !strings.Contains(err.Error(), "eu-west") {
		t.Fatalf("got %v", err)
	}
}
