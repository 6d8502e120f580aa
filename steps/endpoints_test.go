package steps_test

import (
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/steps"
)

// TestEndpointsOf: every registered step type says which endpoints it
// calls (doctor checks them), and every name is in the catalog.
func TestEndpointsOf(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	for _, st := range reg.Types() {
		if steps.CallsNoFrame(st.Name) {
			if uses := steps.EndpointsOf(st.Name, ""); len(uses) != 0 {
				t.Errorf("%s calls no Frame endpoint but declares %v", st.Name, uses)
			}
			continue
		}
		endpoint := ""
		if st.Name == "api.call" {
			endpoint = "sandbox.status"
		}
		uses := steps.EndpointsOf(st.Name, endpoint)
		if len(uses) == 0 {
			t.Errorf("%s: no endpoints declared (steps/endpoints.go)", st.Name)
		}
		mutates := false
		for _, u := range uses {
			ep, ok := frame.LookupEndpoint(u.Endpoint)
			if !ok {
				t.Errorf("%s: %s is not in the catalog", st.Name, u.Endpoint)
				continue
			}
			if (u.Role == steps.RoleMutation) != ep.Mutates {
				t.Errorf("%s: %s has role %s but mutates=%t", st.Name, u.Endpoint, u.Role, ep.Mutates)
			}
			mutates = mutates || u.Role == steps.RoleMutation
		}
		if st.Name != "api.call" && mutates != st.Mutates {
			t.Errorf("%s: declares a mutation %t, step type mutates %t", st.Name, mutates, st.Mutates)
		}
	}
	if got := steps.EndpointsOf("api.call", "pools.elasticity.set"); len(got) != 2 || got[1].Endpoint != "tasks.get" {
		t.Errorf("api.call pools.elasticity.set: %v", got)
	}
}
