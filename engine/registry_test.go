package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/frameflow/frameflow/engine"
)

func noop(context.Context, *engine.StepContext, map[string]any) (map[string]any, error) {
	return nil, nil
}

func TestRegisterRejectsBadTypes(t *testing.T) {
	r := engine.NewRegistry()
	good := &engine.StepType{Name: "pool.set", Run: noop}
	if err := r.Register(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    *engine.StepType
		want string
	}{
		{&engine.StepType{Name: "pool.set", Run: noop}, "registered twice"},
		{&engine.StepType{Name: "Pool Set", Run: noop}, "lower_snake_case"},
		{&engine.StepType{Name: "x.y"}, "no Run"},
		{&engine.StepType{Name: "x.y", Run: noop, Inputs: []engine.InputSpec{{Name: "a", Type: "strin"}}}, "unknown type"},
		{&engine.StepType{Name: "x.y", Run: noop, Inputs: []engine.InputSpec{{Name: "a", Type: "string"}, {Name: "a", Type: "string"}}}, "declared twice"},
		{&engine.StepType{Name: "x.y", Run: noop, AnyOf: [][]string{{"b"}}}, "any_of"},
		{&engine.StepType{Name: "x.y", Run: noop, Resources: func(map[string]any) []string { return nil }}, "does not mutate"},
	} {
		if err := r.Register(c.t); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s", c.t.Name, err, c.want)
		}
	}
	if got, ok := r.Lookup("pool.set"); !ok || got != good {
		t.Fatal("lookup")
	}
}

func TestTypesSorted(t *testing.T) {
	h := newHarness(t)
	var names []string
	for _, ty := range h.reg.Types() {
		names = append(names, ty.Name)
	}
	if strings.Join(names, ",") != "test.destroy,test.fail,test.flaky,test.mutate,test.ok,test.read,test.slow" {
		t.Fatal(names)
	}
}

func TestWithSchema(t *testing.T) {
	min0 := 0.0
	r := engine.NewRegistry()
	r.MustRegister(&engine.StepType{Name: "elasticity.set", Description: "Sets a pool's elasticity.", Run: noop,
		Inputs: []engine.InputSpec{
			{Name: "pool_id", Type: "string", Description: "The pool."},
			{Name: "account_id", Type: "string"},
			{Name: "pool_kind", Type: "string", Enum: []any{"production", "sandbox"}},
			{Name: "min_servers", Type: "integer", Required: true, Minimum: &min0},
			{Name: "wait", Type: "boolean", Default: true},
			{Name: "filter", Type: "string", Predicate: &engine.PredicateSpec{Var: "pool", Shape: engine.AnyShape()}},
		},
		AnyOf: [][]string{{"pool_id"}, {"account_id", "pool_kind"}},
	})
	infos := r.SchemaInfos()
	if len(infos) != 1 || infos[0].Name != "elasticity.set" || infos[0].Description == "" {
		t.Fatal(infos)
	}
	b, _ := json.Marshal(infos[0].WithSchema)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("with.json", strings.NewReader(string(b))); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("with.json")
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, c := range []struct {
		doc string
		ok  bool
	}{
		{`{"pool_id": "p1", "min_servers": 1}`, true},
		{`{"account_id": "a", "pool_kind": "production", "min_servers": 1}`, true},
		{`{"pool_id": "p1", "min_servers": "${{ inputs.min }}"}`, true},
		{`{"pool_id": "p1", "min_servers": "${{ inputs.min }} ${{ inputs.max }}"}`, false},
		{`{"pool_id": "p1", "min_servers": "one"}`, false},
		{`{"pool_id": "p1", "min_servers": -1}`, false},
		{`{"pool_id": "p1"}`, false},
		{`{"account_id": "a", "min_servers": 1}`, false},
		{`{"pool_id": "p1", "min_servers": 1, "pool_kind": "staging"}`, false},
		{`{"pool_id": "p1", "min_servers": 1, "extra": 1}`, false},
		{`{"pool_id": "p1", "min_servers": 1, "filter": "name == 'x'"}`, true},
	} {
		var v any
		_ = json.Unmarshal([]byte(c.doc), &v)
		if err := sch.Validate(v); (err == nil) != c.ok {
			t.Errorf("%s: valid=%v, want %v (%v)", c.doc, err == nil, c.ok, err)
		}
	}
}
