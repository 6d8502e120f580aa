package steps_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

func dummy(p frame.Param) any {
	switch p.Type {
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "object":
		return map[string]any{}
	case "array":
		return []any{}
	}
	return "id-" + p.Name
}

// TestAPIEndpointTypes runs every api.<catalog name> step type offline:
// reads yield Unknown without a client; mutations are recorded with the
// catalog's method and the path filled in, never sent.
func TestAPIEndpointTypes(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	for _, ep := range frame.Catalog() {
		st, ok := reg.Lookup("api." + ep.Name)
		if !ok {
			t.Errorf("no step type api.%s", ep.Name)
			continue
		}
		if st.Mutates != ep.Mutates || st.Destructive != ep.Destructive {
			t.Errorf("api.%s: mutates/destructive %v/%v, catalog %v/%v", ep.Name, st.Mutates, st.Destructive, ep.Mutates, ep.Destructive)
		}
		in := map[string]any{}
		path := map[string]string{}
		for _, p := range ep.Params {
			if p.Required || p.Secret {
				in[p.Name] = dummy(p)
			}
			if p.In == frame.InPath {
				path[p.Name] = "id-" + p.Name
			}
		}
		rec := &recorder{}
		out, _, err := runStep(t, reg, "api."+ep.Name, in, runOpts{mode: engine.ModeOffline, recorder: rec})
		if err != nil {
			t.Errorf("api.%s: %v", ep.Name, err)
			continue
		}
		muts := rec.all()
		if !ep.Mutates {
			if len(muts) != 0 || !engine.IsUnknown(out["response"]) {
				t.Errorf("api.%s (read): mutations %d, response %v", ep.Name, len(muts), out["response"])
			}
			continue
		}
		want, err := frame.PathFor(ep.Path, path)
		if err != nil {
			t.Fatal(err)
		}
		if len(muts) != 1 || muts[0].Method != ep.Method || muts[0].Path != want || muts[0].Type != ep.Name {
			t.Errorf("api.%s: mutation %+v, want %s %s", ep.Name, muts, ep.Method, want)
			continue
		}
		if b, _ := json.Marshal(muts[0].Body); strings.Contains(string(b), "id-service_account_password") {
			t.Errorf("api.%s: a secret parameter reached the plan: %s", ep.Name, b)
		}
	}
}

func TestAPIAgainstSimulator(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa := e.accountID("QA")

	out := e.ok("api.sandbox.status", map[string]any{"account_id": qa}, runOpts{})
	if out["response"].(map[string]any)["pool_id"] != e.pool("QA", "sandbox") {
		t.Errorf("sandbox.status = %v", out["response"])
	}
	out = e.ok("api.call", map[string]any{"endpoint": "accounts.get", "params": map[string]any{"account_id": qa}}, runOpts{})
	if out["response"].(map[string]any)["name"] != "QA" {
		t.Errorf("api.call accounts.get = %v", out)
	}

	// A mutating endpoint goes through Mutate: recorded in plan mode...
	rec := &recorder{}
	out = e.ok("api.call", map[string]any{"endpoint": "sandbox.reboot", "params": map[string]any{"account_id": qa}, "wait": true},
		runOpts{mode: engine.ModePlan, recorder: rec})
	if len(rec.all()) != 1 || len(e.mutations()) != 0 || !engine.IsUnknown(out["task"].(map[string]any)["id"]) {
		t.Fatalf("plan: recorded %d, sent %v, out %v", len(rec.all()), e.mutations(), out)
	}
	// ...sent in run mode, with its task waited on.
	out = e.ok("api.sandbox.reboot", map[string]any{"account_id": qa, "wait": true}, runOpts{})
	if out["task"].(map[string]any)["stage"] != frame.StageDone {
		t.Errorf("reboot task = %v", out["task"])
	}
	if got := e.mutations(); len(got) != 1 || got[0] != "POST /accounts/"+qa+"/sandbox/reboot" {
		t.Errorf("mutations = %v", got)
	}

	// Refused before anything is sent.
	before := len(e.sim.Requests())
	for _, in := range []map[string]any{
		{"endpoint": "sandbox.clone", "params": map[string]any{"target_account_id": qa, "source_pool_id": "p"}},
		{"endpoint": "no.such.endpoint"},
		{"endpoint": "accounts.get", "params": map[string]any{"account_id": qa, "acount": 1}},
		{"endpoint": "accounts.get", "params": map[string]any{}},
		{"endpoint": "pools.elasticity.set", "params": map[string]any{"pool_id": "p", "max_servers": "lots"}},
		{"endpoint": "accounts.get", "params": "account_id=1"},
	} {
		_, _, err := e.run("api.call", in, runOpts{})
		var inv *frame.InvalidRequestError
		if !errors.As(err, &inv) {
			t.Errorf("%v: err = %v, want an InvalidRequestError", in, err)
		}
	}
	if len(e.sim.Requests()) != before {
		t.Errorf("refused calls sent %d requests", len(e.sim.Requests())-before)
	}
}
