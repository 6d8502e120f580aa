package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// The generic steps: api.call (any catalog endpoint by name) and one
// api.<catalog name> step type per endpoint, generated from frame.Catalog()
// so the whole documented API is reachable from a workflow without a
// hand-written step per endpoint.

func (s *stepsImpl) catalogTypes() []*engine.StepType {
	var out []*engine.StepType
	for i := range frame.Catalog() {
		out = append(out, s.endpointType(&frame.Catalog()[i]))
	}
	return out
}

func (s *stepsImpl) endpointType(ep *frame.Endpoint) *engine.StepType {
	name := "api." + ep.Name
	var inputs []engine.InputSpec
	for _, p := range ep.Params {
		d := p.Description
		if d == "" {
			d = p.Name
		}
		d = fmt.Sprintf("%s (%s parameter)", strings.TrimSuffix(d, "."), p.In)
		if p.Secret {
			d += "; secret: never shown in plans or logs"
		}
		inputs = append(inputs, engine.InputSpec{Name: p.Name, Type: inputType(p.Type), Required: p.Required, Description: d, Minimum: p.Minimum,
			Sensitive: p.Secret && p.In != frame.InPath && p.In != frame.InQuery})
	}
	outputs := map[string]*engine.Shape{"response": doc(engine.AnyShape(), "the decoded JSON response")}
	if ep.Response == frame.RespTask {
		outputs["task"] = taskShape()
		if ep.Mutates {
			inputs = append(inputs, waitInput("endpoint's"))
		}
	}
	desc := ep.Summary
	if ep.Mutates {
		desc = strings.TrimSuffix(desc, ".") + fmt.Sprintf(" (%s %s).", ep.Method, ep.Path)
	} else {
		desc = strings.TrimSuffix(desc, ".") + fmt.Sprintf(" (%s %s; read only).", ep.Method, ep.Path)
	}
	t := &engine.StepType{
		Name:        name,
		Description: desc,
		Inputs:      inputs,
		Outputs:     outputs,
		Mutates:     ep.Mutates,
		Destructive: ep.Destructive,
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			params := map[string]any{}
			for k, v := range in {
				if k != "wait" {
					params[k] = v
				}
			}
			wait, err := args(in).boolean("wait", false)
			if err != nil {
				return nil, invalid(name, err)
			}
			return s.runEndpoint(ctx, sc, name, ep, params, wait)
		},
	}
	if ep.Mutates {
		t.Resources = endpointResources
	}
	return t
}

func (s *stepsImpl) apiCall() *engine.StepType {
	const name = "api.call"
	var names []any
	for _, ep := range frame.Catalog() {
		if !ep.Destructive {
			names = append(names, ep.Name)
		}
	}
	return &engine.StepType{
		Name:        name,
		Description: "Calls any non-destructive catalog endpoint by name with parameters; reads are sent directly, mutations are planned and journaled (destructive endpoints need their own api.<name> step, which asks for approval).",
		Inputs: []engine.InputSpec{
			{Name: "endpoint", Type: "string", Required: true, Enum: names, Description: "The catalog name of the endpoint (frameflow api list), e.g. sandbox.status."},
			{Name: "params", Type: "object", Description: "The endpoint's parameters by name (path, query and form parameters alike)."},
			waitInput("endpoint's"),
		},
		Outputs: map[string]*engine.Shape{
			"response": doc(engine.AnyShape(), "the decoded JSON response"),
			"task":     doc(taskShape(), "the task, when the endpoint answers with one"),
		},
		// Conservatively a mutation: which endpoint is called is known only
		// from the inputs.
		Mutates: true,
		Resources: func(in map[string]any) []string {
			p, _ := in["params"].(map[string]any)
			return endpointResources(p)
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			a := args(in)
			epName, err := a.id("endpoint")
			if err != nil {
				return nil, invalid(name, err)
			}
			ep, ok := frame.LookupEndpoint(epName)
			if !ok {
				return nil, invalidf(name, "unknown endpoint %q (see frameflow api list)", epName)
			}
			if ep.Destructive {
				return nil, invalidf(name, "endpoint %s is destructive: use the api.%s step, which needs approval", ep.Name, ep.Name)
			}
			params := map[string]any{}
			if a.has("params") {
				p, ok := in["params"].(map[string]any)
				if !ok {
					return nil, invalidf(name, "input params: want an object, got %s", describe(in["params"]))
				}
				params = p
			}
			wait, err := a.boolean("wait", false)
			if err != nil {
				return nil, invalid(name, err)
			}
			out, err := s.runEndpoint(ctx, sc, name, ep, params, wait)
			if err != nil {
				return nil, err
			}
			if _, ok := out["task"]; !ok {
				out["task"] = nil
			}
			return out, nil
		},
	}
}

// runEndpoint checks params against the endpoint and calls it: reads
// directly, mutations through sc.Mutate.
func (s *stepsImpl) runEndpoint(ctx context.Context, sc *engine.StepContext, step string, ep *frame.Endpoint, params map[string]any, wait bool) (map[string]any, error) {
	norm, err := normalizeParams(ep, params)
	if err != nil {
		return nil, invalid(step, err)
	}
	pathParams := map[string]any{}
	query := map[string]string{}
	body := map[string]any{}
	anyUnknown := false
	for _, p := range ep.Params {
		v, ok := norm[p.Name]
		if !ok {
			continue
		}
		if engine.IsUnknown(v) {
			anyUnknown = true
		}
		switch p.In {
		case frame.InPath:
			pathParams[p.Name] = v
		case frame.InQuery:
			query[p.Name] = shown(p, v)
		default:
			if p.Secret {
				body[p.Name] = "(sensitive)" // the word plans use for secrets
			} else {
				body[p.Name] = v
			}
		}
	}
	path, err := resolvePath(ep.Path, pathParams)
	if err != nil {
		return nil, invalid(step, err)
	}
	out := map[string]any{}
	if !ep.Mutates {
		c, err := s.reader(sc)
		if err != nil {
			return nil, err
		}
		if c == nil || anyUnknown {
			out["response"] = engine.Unknown
			if ep.Response == frame.RespTask {
				out["task"] = engine.Unknown
			}
			return out, nil
		}
		resp, err := c.Call(ctx, ep.Name, norm)
		if err != nil {
			return nil, err
		}
		return endpointOutputs(ep, resp)
	}
	if sc.Mode() == engine.ModeRun && anyUnknown {
		return nil, invalidf(step, "a parameter is not known")
	}
	if len(query) == 0 {
		query = nil
	}
	var mbody any
	if len(body) > 0 {
		mbody = body
	}
	var placeholder any = engine.Unknown
	if ep.Response == frame.RespTask {
		placeholder = taskPlaceholder(orUnknown(firstOf(norm, "account_id", "target_account_id", "persistent_account_id")), "", "")
	}
	m := &engine.Mutation{
		Type:        ep.Name,
		Method:      ep.Method,
		Path:        path,
		Query:       query,
		Body:        mbody,
		Resources:   endpointResources(norm),
		Placeholder: placeholder,
		Send: func(ctx context.Context) (any, error) {
			if s.client == nil {
				return nil, errors.New("no Frame API client configured")
			}
			return s.client.Call(ctx, ep.Name, norm)
		},
		// Nothing generic proves that an arbitrary endpoint's request took
		// effect: resume stops and asks.
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if sc.Mode() != engine.ModeRun {
		out["response"] = engine.Unknown
		if ep.Response == frame.RespTask {
			out["task"] = placeholder
		}
		return out, nil
	}
	out, err = endpointOutputs(ep, res)
	if err != nil {
		return nil, err
	}
	if wait && out["task"] != nil {
		if out["task"], err = s.wait(ctx, sc, out["task"], waitSpec{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func endpointOutputs(ep *frame.Endpoint, resp any) (map[string]any, error) {
	r, err := engine.RoundTrip(resp)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"response": r}
	if ep.Response == frame.RespTask {
		t, err := extractTask(r)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the task from the response: %w", ep.Name, err)
		}
		if out["task"], err = taskOutput(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// normalizeParams checks params against the endpoint: unknown names,
// missing required ones and wrong types are refused before anything is
// sent. Unknown values (plan modes) pass through.
func normalizeParams(ep *frame.Endpoint, params map[string]any) (map[string]any, error) {
	byName := map[string]frame.Param{}
	var names []string
	for _, p := range ep.Params {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	out := map[string]any{}
	var unknown []string
	for k, v := range params {
		p, ok := byName[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if v == nil {
			continue
		}
		if engine.IsUnknown(v) {
			out[k] = v
			continue
		}
		nv, err := normalizeValue(p, v)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if len(names) == 0 {
			return nil, fmt.Errorf("endpoint %s takes no parameters, got %s", ep.Name, strings.Join(unknown, ", "))
		}
		return nil, fmt.Errorf("endpoint %s has no parameter %s (it takes: %s)", ep.Name, strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	for _, p := range ep.Params {
		if _, ok := out[p.Name]; p.Required && !ok {
			return nil, fmt.Errorf("endpoint %s: parameter %s is required", ep.Name, p.Name)
		}
	}
	return out, nil
}

func normalizeValue(p frame.Param, v any) (any, error) {
	a := args{p.Name: v}
	hide := func(err error) error {
		if err != nil && p.Secret {
			return fmt.Errorf("input %s: want a %s", p.Name, p.Type)
		}
		return err
	}
	switch p.Type {
	case "integer":
		n, _, err := a.integer(p.Name)
		return n, hide(err)
	case "number":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, nil
			}
		}
		return nil, hide(fmt.Errorf("input %s: want a number, got %s", p.Name, describe(v)))
	case "boolean":
		b, err := a.boolean(p.Name, false)
		return b, hide(err)
	case "object":
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		return nil, hide(fmt.Errorf("input %s: want an object, got %s", p.Name, describe(v)))
	case "array":
		if l, ok := v.([]any); ok {
			return l, nil
		}
		return nil, hide(fmt.Errorf("input %s: want a list, got %s", p.Name, describe(v)))
	default:
		s, err := a.str(p.Name)
		return s, hide(err)
	}
}

// shown renders a query value for a plan; secrets are masked.
func shown(p frame.Param, v any) string {
	if p.Secret {
		return "(sensitive)"
	}
	if engine.IsUnknown(v) {
		return fmt.Sprint(engine.Unknown)
	}
	return fmt.Sprint(v)
}

func inputType(t string) string {
	switch t {
	case "array":
		return "list"
	case "string", "integer", "number", "boolean", "object":
		return t
	}
	return "any"
}

// endpointResources names the account and pool an endpoint's parameters
// address.
func endpointResources(in map[string]any) []string {
	var out []string
	for _, k := range []string{"account_id", "target_account_id", "persistent_account_id"} {
		if s, ok := in[k].(string); ok && s != "" {
			out = append(out, "account:"+s)
		}
	}
	if s, ok := in["pool_id"].(string); ok && s != "" {
		out = append(out, "pool:"+s)
	}
	sort.Strings(out)
	return out
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}
