package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/frameflow/frameflow/engine"
)

// registerSecretSink adds a step type with one input the API marks secret
// (a body field) and plain ones, like api.* endpoints with a secret param.
func registerSecretSink(h *harness, got *sync.Map) {
	h.reg.MustRegister(&engine.StepType{
		Name: "test.login", Description: "Sends a password in a body field.",
		Inputs: []engine.InputSpec{
			{Name: "password", Type: "any", Sensitive: true},
			{Name: "user", Type: "any"},
		},
		Outputs: map[string]*engine.Shape{"ok": engine.AnyShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			got.Store(sc.StepID(), in["password"])
			if in["user"] == "fail" {
				return nil, fmt.Errorf("server said: bad password %v", in["password"])
			}
			return map[string]any{"ok": true}, nil
		},
	})
}

const taintHead = `version: 1
name: taint
inputs:
  api_token: {type: string, secret: true}
  prefix: {type: string, default: "Store-"}
  tokens: {type: list, secret: true, default: []}
vars:
  derived: "x${{ inputs.api_token }}y"
  plain: "${{ inputs.prefix }}"
steps:
`

// launderings are expressions that compute something from the secret
// input; every one of them must be refused in a plain input.
var launderings = []string{
	`join(split(inputs.api_token, ""), "?")`,
	`toBase64(inputs.api_token)`,
	`int(toBase64(inputs.api_token))`,
	`inputs.api_token[0:13]`,
	`"a" + inputs.api_token`,
	`len(inputs.api_token) * 2 + 1`,
	`inputs.api_token == "test-secret"`,
	`inputs.api_token startsWith "t"`,
	`len(inputs.api_token)`,
	`{(inputs.api_token): 1}`,
	`toJSON(inputs)`,
	`inputs["api" + "_token"]`,
	`get(inputs, "api_token")`,
	`values(inputs)`,
	`$env.inputs.api_token`,
	`vars.derived`,
	`upper(vars.derived)`,
	`toJSON(vars)`,
	`let t = inputs.api_token; reverse(split(t, ""))`,
	`map(split(inputs.api_token, ""), # + "x")`,
	`inputs.tokens[0]`,
	`string(inputs.api_token)`,
	`hasPrefix(inputs.api_token, "t") ? "yes" : "no"`,
	`inputs.prefix + (inputs.api_token ?? "")`,
}

func TestEveryLaunderingOfASecretIsRefusedInAPlainInput(t *testing.T) {
	for _, e := range launderings {
		t.Run(e, func(t *testing.T) {
			h := newHarness(t)
			registerSecretSink(h, &sync.Map{})
			src := taintHead + "  - id: t\n    uses: test.login\n    with:\n      user: '${{ " + strings.ReplaceAll(e, "'", "''") + " }}'\n"
			wf, diags := load(t, h, src)
			if diags != nil {
				t.Fatal(diags)
			}
			_, diags = engine.Compile(wf, h.reg)
			if len(diags) != 1 || !strings.Contains(diags[0].Message, `input "user" of step "t" is computed from a secret`) || diags[0].Pos.Line != 14 {
				t.Fatalf("want one refusal at line 14, got %v", diags)
			}
			// The same value is accepted where the API expects a secret.
			src = strings.Replace(src, "user:", "password:", 1)
			wf, _ = load(t, h, src)
			if _, diags := engine.Compile(wf, h.reg); diags != nil {
				t.Fatalf("refused in a sensitive input: %v", diags)
			}
		})
	}
}

func TestReadingOnlyPlainValuesIsNotTainted(t *testing.T) {
	for _, e := range []string{`inputs.prefix`, `vars.plain + "x"`, `inputs["prefix"]`, `upper(inputs.prefix)`} {
		h := newHarness(t)
		registerSecretSink(h, &sync.Map{})
		src := taintHead + "  - id: t\n    uses: test.login\n    with:\n      user: '${{ " + e + " }}'\n"
		wf, diags := load(t, h, src)
		if diags != nil {
			t.Fatal(diags)
		}
		if _, diags := engine.Compile(wf, h.reg); diags != nil {
			t.Errorf("%s: %v", e, diags)
		}
	}
}

func TestConditionsOnASecretAreRefused(t *testing.T) {
	cases := map[string]string{
		"if":         "  - id: t\n    uses: test.ok\n    if: inputs.api_token startsWith \"a\"\n",
		"for_each":   "  - id: t\n    uses: test.ok\n    for_each: ${{ split(inputs.api_token, \"\") }}\n",
		"list":       "  - id: t\n    uses: test.ok\n    for_each: [a, \"${{ vars.derived }}\"]\n",
		"filter":     "  - id: t\n    uses: test.read\n    with:\n      filter: name == inputs.api_token\n",
		"dyn filter": "  - id: t\n    uses: test.read\n    with:\n      filter: ${{ \"name == '\" + inputs.api_token + \"'\" }}\n",
	}
	for name, step := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			wf, diags := load(t, h, taintHead+step)
			if diags != nil {
				t.Fatal(diags)
			}
			_, diags = engine.Compile(wf, h.reg)
			if len(diags) != 1 || !strings.Contains(diags[0].Message, "a condition on a secret leaks it one bit at a time") {
				t.Fatalf("got %v", diags)
			}
		})
	}
}

func TestOutputsComputedFromASecretAreRefused(t *testing.T) {
	h := newHarness(t)
	wf, diags := load(t, h, taintHead+"  - id: t\n    uses: test.ok\n    outputs:\n      leak: ${{ toBase64(inputs.api_token) }}\n")
	if diags != nil {
		t.Fatal(diags)
	}
	_, diags = engine.Compile(wf, h.reg)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, `output "leak" of step "t" is computed from a secret`) {
		t.Fatalf("got %v", diags)
	}
}

func TestFilterTextFromAPlainInputCannotReadASecret(t *testing.T) {
	// The filter's source is data (an input's value); it is compiled at run
	// start and checked for taint then.
	h := newHarness(t)
	wf, diags := load(t, h, taintHead+"  - id: t\n    uses: test.read\n    with:\n      filter: ${{ inputs.prefix }}\n")
	if diags != nil {
		t.Fatal(diags)
	}
	p := h.compile(wf)
	_, err := p.Run(t.Context(), engine.RunOptions{Inputs: map[string]any{"api_token": "test-secret-canary", "prefix": `inputs.api_token startsWith "t"`, "tokens": []any{}}})
	if err == nil || !strings.Contains(err.Error(), "leaks it one bit at a time") {
		t.Fatalf("got %v", err)
	}
	if len(h.startedList()) != 0 {
		t.Fatal("a step ran")
	}
}

func TestDerivedSecretsAreRedactedAndErrorsWithheld(t *testing.T) {
	const canary = "test-secret-canary"
	h := newHarness(t)
	got := &sync.Map{}
	registerSecretSink(h, got)
	src := taintHead + `  - id: send
    uses: test.login
    with:
      password: ${{ toBase64(vars.derived) }}
  - id: echo
    uses: test.login
    needs: [send]
    continue_on_error: true
    with:
      user: fail
      password: ${{ "p-" + inputs.api_token + "-q" }}
  - id: bad
    uses: test.login
    needs: [send]
    with:
      password: ${{ int(inputs.api_token) }}
`
	wf, diags := load(t, h, src)
	if diags != nil {
		t.Fatal(diags)
	}
	p := h.compile(wf)
	in, err := p.BindInputs(map[string]string{"api_token": canary}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	var mu sync.Mutex
	var events []engine.Event
	// One slot: echo (first in graph order) starts before bad, whose
	// failure stops the run from starting steps; with two, bad could fail
	// first and echo never run (a flake on main before this).
	res, err := p.Run(t.Context(), engine.RunOptions{Inputs: in, Parallelism: 1,
		OnSecret: func(s string) { mu.Lock(); told = append(told, s); mu.Unlock() },
		Events:   func(ev engine.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	// The step that needs the value gets it.
	if v, _ := got.Load("send"); v != "eHRlc3Qtc2VjcmV0LWNhbmFyeXk=" {
		t.Fatalf("send got %v", v)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"xtest-secret-canaryy", "eHRlc3Qtc2VjcmV0LWNhbmFyeXk=", "p-test-secret-canary-q"} {
		found := false
		for _, s := range told {
			found = found || s == want
		}
		if !found {
			t.Errorf("OnSecret was not told %q (told %q)", want, told)
		}
	}
	var all strings.Builder
	for _, s := range res.Steps {
		fmt.Fprintf(&all, "%s %s %s %v\n", s.Step, s.Status, s.Error, s.Outputs)
	}
	for _, ev := range events {
		fmt.Fprintf(&all, "%s %s %s\n", ev.Type, ev.Error, ev.Message)
	}
	out := all.String()
	for _, leak := range []string{canary, "p-test", "parsing"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q reached results or events:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "the message is withheld because the expression reads a secret (inputs.api_token)") {
		t.Errorf("the failing conversion's error is not the withheld one:\n%s", out)
	}
	if !strings.Contains(out, "bad password (sensitive)") {
		t.Errorf("the echoed derived value is not redacted:\n%s", out)
	}
}
