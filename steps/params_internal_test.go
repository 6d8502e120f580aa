package steps

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// The input specs of a typed step come from its struct and the catalog:
// elasticity.set's counts take pools.elasticity.set's bounds, and the doc's
// "{maximum}" is the catalog's.
func TestInputsOfTakeBoundsFromTheCatalog(t *testing.T) {
	specs := inputsOf[elasticityParams](elasticityEndpoint)
	byName := map[string]engine.InputSpec{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	mx := byName["max_servers"]
	if !mx.Required || mx.Type != "integer" || mx.Minimum == nil || *mx.Minimum != 0 || mx.Maximum == nil || *mx.Maximum != 1000 {
		t.Errorf("max_servers spec = %+v", mx)
	}
	if mx.Description != "Maximum servers (at most 1000)." {
		t.Errorf("max_servers doc = %q", mx.Description)
	}
	if p := byName["pool_id"]; p.Type != "string" || p.Required {
		t.Errorf("pool_id spec = %+v", p)
	}
	if w := byName["wait"]; w.Type != "boolean" || w.Default != false {
		t.Errorf("wait spec = %+v", w)
	}
}

// One decoder: errors name the input; limits are the catalog's; IDs may be
// Unknown in plans and are checked as path segments.
func TestDecodeParams(t *testing.T) {
	for _, c := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"pool_id": "p1"}, "max_servers is required"},
		{map[string]any{"pool_id": "p1", "max_servers": 1001}, "max_servers 1001 is more than 1000"},
		{map[string]any{"pool_id": "p1", "max_servers": -1}, "max_servers must not be negative, got -1"},
		{map[string]any{"pool_id": "p1", "max_servers": 5, "min_servers": 9}, "min_servers 9 is more than max_servers 5"},
		{map[string]any{"pool_id": "p1", "max_servers": 5, "buffer_servers": 6}, "buffer_servers 6 is more than max_servers 5"},
		{map[string]any{"pool_id": "p1", "max_servers": "five"}, "max_servers"},
		{map[string]any{"pool_id": "a/b", "max_servers": 5}, "pool_id"},
	} {
		var p elasticityParams
		err := decodeParams(c.in, elasticityEndpoint, &p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.in, err, c.want)
		}
	}
	var p elasticityParams
	if err := decodeParams(map[string]any{"pool_id": engine.Unknown, "max_servers": 5, "min_servers": 1, "wait": true}, elasticityEndpoint, &p); err != nil {
		t.Fatal(err)
	}
	if !engine.IsUnknown(p.PoolID) || p.AccountID != nil || p.MaxServers != 5 || p.MinServers == nil || *p.MinServers != 1 || p.BufferServers != nil || !p.Wait {
		t.Errorf("decoded %+v", p)
	}
}

// mutationOf describes the built request: secrets masked, plan marks shown
// as "(known after apply)", the form as it is encoded.
func TestMutationOfDescribesTheBuiltRequest(t *testing.T) {
	req, err := plannedRequest("", "accounts.domain_join_settings.update", map[string]any{
		"account_id": engine.Unknown, "domain_name": "corp.example", "service_account_password": "hunter2",
	}, frame.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	m := mutationOf("api.accounts.domain_join_settings.update", req)
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), `"service_account_password":"(sensitive)"`) {
		t.Errorf("secret not masked: %s", b)
	}
	if m.Path != "/accounts/(known after apply)/update_domain_join_settings" || m.Method != "POST" {
		t.Errorf("path = %s %s", m.Method, m.Path)
	}

	req, err = plannedRequest("", elasticityEndpoint, map[string]any{"pool_id": "p1", "max_servers": 7, "min_servers": 0, "buffer_servers": 0}, frame.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	m = mutationOf("elasticity.set", req)
	_, sent, _ := req.Body()
	if f, ok := m.Body.(interface{ Encode() string }); !ok || f.Encode() != string(sent) {
		t.Errorf("planned body %v, sent %s", m.Body, sent)
	}
}
