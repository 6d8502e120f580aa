package steps

import (
	"context"
	"encoding/json"
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
		inputs = append(inputs, engine.InputSpec{Name: p.Name, Type: inputType(p.Type), Required: p.Required, Description: d, Minimum: p.Minimum, Maximum: p.Maximum,
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
			return s.runEndpoint(ctx, sc, name, ep, params, frame.Overrides{}, wait)
		},
	}
	if ep.Mutates {
		t.Resources = endpointResources
	}
	return t
}

// apiCallParams are api.call's inputs. The overrides (query, form, json)
// are for where the docs, and so the catalog, place a parameter wrongly
// for a server.
type apiCallParams struct {
	Endpoint string         `param:"endpoint,required,enum=callableEndpoints" doc:"The catalog name of the endpoint (frameflow api list), e.g. sandbox.status."`
	API      string         `param:"api,default=v1,enum=apis" doc:"Which API the endpoint belongs to: v1 (the Admin API) or v1alpha (the older web API: frameflow api list --api v1alpha), sent under its own base URL."`
	Params   map[string]any `param:"params,object" doc:"The endpoint's parameters by name (path, query, form, JSON and header parameters alike), each sent where the catalog places it."`
	Query    map[string]any `param:"query,object" doc:"Extra query-string parameters, sent as given. Use only where the docs (and so the catalog) place a parameter wrongly for your server: each key is sent exactly there, objects and lists in bracket notation (name[k]=v, name[]=v) or as nested JSON."`
	Form     map[string]any `param:"form,object" doc:"Extra form-body fields, sent as given. Use only where the docs (and so the catalog) place a parameter wrongly for your server: each key is sent exactly there, objects and lists in bracket notation (name[k]=v, name[]=v) or as nested JSON."`
	JSON     map[string]any `param:"json,object" doc:"Extra top-level JSON-body keys, sent as given. Use only where the docs (and so the catalog) place a parameter wrongly for your server: each key is sent exactly there, objects and lists in bracket notation (name[k]=v, name[]=v) or as nested JSON."`
	Wait     bool           `param:"wait,wait=endpoint's"`
}

// callableEndpointNames is every non-destructive name of any API, sorted:
// which API's endpoint it is, is checked when the step runs.
func callableEndpointNames() []any {
	var names []any
	seen := map[string]bool{}
	for _, api := range frame.APIs {
		for _, ep := range frame.CatalogFor(api) {
			if !ep.Destructive && !seen[ep.Name] {
				seen[ep.Name] = true
				names = append(names, ep.Name)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].(string) < names[j].(string) })
	return names
}

func (s *stepsImpl) apiCall() *engine.StepType {
	const name = "api.call"
	return &engine.StepType{
		Name:        name,
		Description: "Calls any non-destructive catalog endpoint by name with parameters; reads are sent directly, mutations are planned and journaled (destructive endpoints need their own api.<name> step, which asks for approval).",
		Inputs:      inputsOf[apiCallParams](""),
		Outputs: map[string]*engine.Shape{
			"response": doc(engine.AnyShape(), "the decoded JSON response (the text, for an endpoint that answers text)"),
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
			var p apiCallParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			ep, err := callableEndpoint(p)
			if err != nil {
				return nil, invalid(name, err)
			}
			if p.Params == nil {
				p.Params = map[string]any{}
			}
			ov := frame.Overrides{Query: p.Query, Form: p.Form, JSON: p.JSON}
			out, err := s.runEndpoint(ctx, sc, name, ep, p.Params, ov, p.Wait)
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

// callableEndpoint is the endpoint an api.call names: a known,
// non-destructive endpoint of a known API, with one body kind.
func callableEndpoint(p apiCallParams) (*frame.Endpoint, error) {
	if !frame.KnownAPI(p.API) {
		return nil, fmt.Errorf("input api: want v1 or v1alpha, got %q", p.API)
	}
	ep, ok := frame.LookupEndpointIn(p.API, p.Endpoint)
	if !ok {
		flag := ""
		if p.API == frame.APIv1Alpha {
			flag = " --api v1alpha"
		}
		return nil, fmt.Errorf("unknown %s endpoint %q (see frameflow api list%s)", p.API, p.Endpoint, flag)
	}
	if ep.Destructive {
		return nil, fmt.Errorf("endpoint %s is destructive: use the api.%s step, which needs approval", ep.Name, ep.Name)
	}
	if len(p.Form) > 0 && len(p.JSON) > 0 {
		return nil, errors.New("inputs form and json: a request has one body, form or JSON")
	}
	return ep, nil
}

// runEndpoint checks params against the endpoint and calls it: reads
// directly, mutations through sc.Mutate.
func (s *stepsImpl) runEndpoint(ctx context.Context, sc *engine.StepContext, step string, ep *frame.Endpoint, params map[string]any, ov frame.Overrides, wait bool) (map[string]any, error) {
	norm, err := normalizeParams(ep, params)
	if err != nil {
		return nil, invalid(step, err)
	}
	described, err := describeCall(ep, norm, ov)
	if err != nil {
		return nil, invalid(step, err)
	}
	if !ep.Mutates {
		c, err := s.reader(sc)
		if err != nil {
			return nil, err
		}
		if c == nil || described.anyUnknown {
			return unknownOutputs(ep, engine.Unknown), nil
		}
		resp, err := c.CallIn(ctx, ep.API, ep.Name, norm, ov)
		if err != nil {
			return nil, err
		}
		return endpointOutputs(ep, resp)
	}
	if sc.Mode() == engine.ModeRun && described.anyUnknown {
		return nil, invalidf(step, "a parameter is not known")
	}
	return s.mutateEndpoint(ctx, sc, step, ep, norm, ov, described, wait)
}

// shownCall is an endpoint call described parameter by parameter, where
// each travels, with secrets masked. Only a plan whose unknown values
// cannot stand in a built request uses it as the mutation; it also says
// whether any value is unknown.
type shownCall struct {
	path       string
	query      map[string]string
	body       any
	anyUnknown bool
}

func describeCall(ep *frame.Endpoint, norm map[string]any, ov frame.Overrides) (shownCall, error) {
	var sc shownCall
	pathParams := map[string]any{}
	query := map[string]string{}
	body := map[string]any{}
	for _, p := range ep.Params {
		v, ok := norm[p.Name]
		if !ok {
			continue
		}
		sc.anyUnknown = sc.anyUnknown || engine.IsUnknown(v)
		switch {
		case p.In == frame.InPath:
			pathParams[p.Name] = v
		case p.In == frame.InQuery || p.In == frame.InHeader:
			query[p.Name] = shown(p, v)
		case p.Secret:
			body[p.Name] = "(sensitive)" // the word plans use for secrets
		default:
			body[p.Name] = v
		}
	}
	if ep.JSONWrap != "" && len(body) > 0 {
		body = map[string]any{ep.JSONWrap: body} // shown as it is sent
	}
	// Overrides are shown where they travel; a key that names a secret
	// catalog parameter stays masked.
	for _, o := range []struct {
		m    map[string]any
		into func(k string, v any)
	}{
		{ov.Query, func(k string, v any) { query[k] = shownOverride(ep, k, v) }},
		{ov.Form, func(k string, v any) { body[k] = maskedOverride(ep, k, v) }},
		{ov.JSON, func(k string, v any) { body[k] = maskedOverride(ep, k, v) }},
	} {
		for k, v := range o.m {
			sc.anyUnknown = sc.anyUnknown || containsUnknown(v)
			o.into(k, v)
		}
	}
	var err error
	if sc.path, err = resolvePath(ep.Path, pathParams); err != nil {
		return sc, err
	}
	if len(query) > 0 {
		sc.query = query
	}
	if len(body) > 0 {
		sc.body = body
	}
	return sc, nil
}

// unknownOutputs are an endpoint step's outputs before its call is made.
func unknownOutputs(ep *frame.Endpoint, task any) map[string]any {
	out := map[string]any{"response": engine.Unknown}
	if ep.Response == frame.RespTask {
		out["task"] = task
	}
	return out
}

// operatorOutputs are the outputs of a call an operator marked sent: the
// decision (operator_decision, decided_by, decided_at) stands in for the
// response and, for a task endpoint, for the task, as in the other steps.
func operatorOutputs(ep *frame.Endpoint, decision any) map[string]any {
	out := map[string]any{"response": decision}
	if ep.Response == frame.RespTask {
		out["task"] = decision
	}
	return out
}

// mutateEndpoint builds the endpoint's request once and hands it to the
// run's recorder, which records it (plans) or sends it as built.
func (s *stepsImpl) mutateEndpoint(ctx context.Context, sc *engine.StepContext, step string, ep *frame.Endpoint, norm map[string]any, ov frame.Overrides, described shownCall, wait bool) (map[string]any, error) {
	var placeholder any = engine.Unknown
	if ep.Response == frame.RespTask {
		placeholder = taskPlaceholder(orUnknown(firstOf(norm, "account_id", "target_account_id", "persistent_account_id")), "", "")
	}
	// Only a plan whose unknown values cannot stand in a built request (a
	// number known after apply, one inside an object) falls back to the
	// description: such a request is never sent, run mode refused it.
	var m *engine.Mutation
	if req, err := plannedRequest(ep.API, ep.Name, norm, ov); err == nil {
		m = mutationOf(ep.Name, req)
		m.Send = s.sendDecoded(ep.Name, req)
	} else if !described.anyUnknown {
		return nil, invalid(step, err)
	} else {
		m = &engine.Mutation{Type: ep.Name, Method: ep.Method, Path: described.path, Query: described.query, Body: described.body}
	}
	m.Resources = endpointResources(norm)
	m.Placeholder = placeholder
	// Nothing generic proves that an arbitrary endpoint's request took
	// effect: resume stops and asks (no Reconcile).
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if sc.Mode() != engine.ModeRun {
		return unknownOutputs(ep, placeholder), nil
	}
	if engine.DecidedByOperator(res) {
		// The operator's mark is the proof (it took effect and finished);
		// the answer itself was lost, so there is no task to read or wait
		// on, and the outputs carry the decision instead of a response.
		return operatorOutputs(ep, res), nil
	}
	out, err := endpointOutputs(ep, res)
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

// containsUnknown reports whether v holds a value not known until run time.
func containsUnknown(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	default:
		return engine.IsUnknown(v)
	}
	return false
}

func maskedOverride(ep *frame.Endpoint, k string, v any) any {
	if p, ok := ep.Param(k); ok && p.Secret {
		return "(secret)"
	}
	return v
}

func shownOverride(ep *frame.Endpoint, k string, v any) string {
	if p, ok := ep.Param(k); ok && p.Secret {
		return "(secret)"
	}
	if s, ok := v.(string); ok {
		return s
	}
	if containsUnknown(v) {
		return fmt.Sprint(engine.Unknown)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
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

// shown renders a query value for a plan; secrets are masked, objects and
// lists shown as JSON (they travel in bracket notation).
func shown(p frame.Param, v any) string {
	if p.Secret {
		return "(sensitive)"
	}
	if engine.IsUnknown(v) {
		return fmt.Sprint(engine.Unknown)
	}
	switch v.(type) {
	case map[string]any, []any:
		return shownOverride(&frame.Endpoint{}, "", v)
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
