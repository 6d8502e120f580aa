package steps_test

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

// api.call's inputs come from its parameter struct: the specs carry the
// default API and both enums, and bad inputs are refused, each with a
// message naming what is wrong, before anything is sent.
func TestAPICallParams(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	st, _ := reg.Lookup("api.call")
	specs := map[string]engine.InputSpec{}
	for _, in := range st.Inputs {
		specs[in.Name] = in
	}
	if s := specs["api"]; s.Default != frame.APIv1 || len(s.Enum) != 2 {
		t.Errorf("api spec %+v", s)
	}
	if s := specs["endpoint"]; !s.Required || len(s.Enum) < 50 {
		t.Errorf("endpoint spec: required %t, %d names", s.Required, len(s.Enum))
	}
	for _, name := range []string{"params", "query", "form", "json"} {
		if specs[name].Type != "object" {
			t.Errorf("%s is a %s input", name, specs[name].Type)
		}
	}

	e := newEnv(t, sim.Options{})
	qa := e.accountID("QA")
	before := len(e.sim.Requests())
	for in, want := range map[*map[string]any]string{
		{"params": map[string]any{"account_id": qa}}:                                          "endpoint is required",
		{"endpoint": "accounts.get", "params": "account_id=" + qa}:                            `input params: want an object, got "account_id=`,
		{"endpoint": "accounts.get", "api": "v3", "params": map[string]any{"account_id": qa}}: `input api: want v1 or v1alpha, got "v3"`,
		{"endpoint": "sandbox.clone"}:                                                         "endpoint sandbox.clone is destructive: use the api.sandbox.clone step",
		{"endpoint": "accounts.nope"}:                                                         `unknown v1 endpoint "accounts.nope" (see frameflow api list)`,
		{"endpoint": "accounts.get", "params": map[string]any{"account_id": qa}, "form": map[string]any{"a": 1}, "json": map[string]any{"b": 1}}: "a request has one body",
	} {
		_, _, err := e.run("api.call", *in, runOpts{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", *in, err, want)
		}
		if c, _ := frame.Classify(err); err != nil && c != frame.ClassInvalid {
			t.Errorf("%v: class %s, want invalid (never retried)", *in, c)
		}
	}
	if n := len(e.sim.Requests()) - before; n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
	// The default API is v1: no api input reaches the Admin API.
	out := e.ok("api.call", map[string]any{"endpoint": "accounts.get", "params": map[string]any{"account_id": qa}}, runOpts{})
	if resp, _ := out["response"].(map[string]any); resp["id"] != qa {
		t.Errorf("response %v", out["response"])
	}
}
