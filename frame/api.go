package frame

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// BuildRequest turns a catalog endpoint and its parameters into a Request,
// without sending anything (plans use it to show a mutation). Every
// parameter is checked against the catalog: unknown names, missing required
// ones and values of the wrong type are an *InvalidRequestError. A nil value
// counts as absent. Scalars are stringified for path, query, form and header
// (bools as true/false, integers without decimals); objects and lists in a
// query or form use the bracket notation (see addBracketed); JSON parameters
// become the keys of one JSON object body (nested under the endpoint's
// JSONWrap key when it has one).
func BuildRequest(name string, params map[string]any) (*Request, error) {
	return BuildRequestIn(APIv1, name, params, Overrides{})
}

// BuildRequestIn is BuildRequest for an endpoint of the given API ("" or
// "v1", "v1alpha"), with explicit placements added (see Overrides).
func BuildRequestIn(api, name string, params map[string]any, ov Overrides) (*Request, error) {
	ep, err := endpointFor(api, name, params)
	if err != nil {
		return nil, err
	}
	req := &Request{Method: strings.ToUpper(ep.Method), API: ep.API}
	b := requestBuilder{name: name, req: req}
	pathVals := map[string]string{} // kept out of b: it need not escape
	hasJSONParams := false
	for i := range ep.Params {
		p := &ep.Params[i]
		if p.In == InJSON {
			hasJSONParams = true
		}
		if p.Secret {
			req.Secret = append(req.Secret, p.Name)
		}
		v, present := params[p.Name]
		if !present || v == nil {
			if p.Required {
				return nil, &InvalidRequestError{Endpoint: name, Param: p.Name, Reason: "required parameter missing"}
			}
			continue
		}
		if err := b.place(p, v, pathVals); err != nil {
			return nil, err
		}
	}
	if param, why := outOfOrder(name, params); why != "" {
		return nil, &InvalidRequestError{Endpoint: name, Param: param, Reason: why}
	}
	path, err := PathFor(ep.Path, pathVals)
	if err != nil {
		if ie, ok := err.(*InvalidRequestError); ok {
			ie.Endpoint = name
		}
		return nil, err
	}
	req.Path = path
	if err := b.setJSONBody(ep, hasJSONParams); err != nil {
		return nil, err
	}
	if err := ov.apply(name, req, params); err != nil {
		return nil, err
	}
	return req, nil
}

// endpointFor is the catalog entry of name in api, when every one of
// params is among its parameters.
func endpointFor(api, name string, params map[string]any) (*Endpoint, error) {
	ep, ok := LookupEndpointIn(api, name)
	if !ok {
		if !KnownAPI(api) {
			return nil, &InvalidRequestError{Endpoint: name, Reason: fmt.Sprintf("unknown API %q (want v1 or v1alpha)", api)}
		}
		return nil, &InvalidRequestError{Endpoint: name, Reason: "unknown endpoint (see frameflow api list" + apiFlag(api) + ")"}
	}
	known := make(map[string]*Param, len(ep.Params))
	for i := range ep.Params {
		known[ep.Params[i].Name] = &ep.Params[i]
	}
	var unknown []string
	for k := range params {
		if _, ok := known[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &InvalidRequestError{Endpoint: name, Param: unknown[0], Reason: fmt.Sprintf("unknown parameter (known: %s)", paramNames(ep))}
	}
	return ep, nil
}

// requestBuilder places parameter values into a request being built.
type requestBuilder struct {
	name     string // the endpoint, for errors
	req      *Request
	jsonBody map[string]any
}

// bad is the error for p's value; a secret's value is never quoted.
func (b *requestBuilder) bad(p *Param, err error) error {
	reason := err.Error()
	if p.Secret {
		reason = fmt.Sprintf("invalid %s value (not shown: secret)", p.Type)
	}
	return &InvalidRequestError{Endpoint: b.name, Param: p.Name, Reason: reason}
}

// place checks v against p's bounds and puts it where the catalog says
// (a path parameter's value in pathVals).
func (b *requestBuilder) place(p *Param, v any, pathVals map[string]string) error {
	if err := checkBounds(p, v); err != nil {
		return b.bad(p, err)
	}
	switch p.In {
	case InPath:
		s, err := paramString(p, v)
		if err != nil {
			return b.bad(p, err)
		}
		pathVals[p.Name] = s
	case InQuery, InForm:
		return b.placeValues(p, v)
	case InHeader:
		s, err := paramString(p, v)
		if err != nil {
			return b.bad(p, err)
		}
		if b.req.Header == nil {
			b.req.Header = http.Header{}
		}
		b.req.Header.Set(p.Name, s)
	case InJSON:
		jv, err := paramJSON(p, v)
		if err != nil {
			return b.bad(p, err)
		}
		if b.jsonBody == nil {
			b.jsonBody = map[string]any{}
		}
		b.jsonBody[p.Name] = jv
	default:
		return &InvalidRequestError{Endpoint: b.name, Param: p.Name, Reason: fmt.Sprintf("catalog puts it in %q", p.In)}
	}
	return nil
}

// placeValues puts v in the query or the form, objects and lists in the
// bracket notation.
func (b *requestBuilder) placeValues(p *Param, v any) error {
	if err := checkShape(p, v); err != nil {
		return b.bad(p, err)
	}
	vals := &b.req.Query
	if p.In == InForm {
		vals = &b.req.Form
	}
	if *vals == nil {
		*vals = url.Values{}
	}
	if p.Type == "object" || p.Type == "array" {
		if err := addBracketed(*vals, p.Name, v); err != nil {
			return b.bad(p, err)
		}
		return nil
	}
	s, err := paramString(p, v)
	if err != nil {
		return b.bad(p, err)
	}
	(*vals).Set(p.Name, s)
	return nil
}

// setJSONBody sets the request's JSON body from the JSON parameters (an
// empty object when the endpoint takes one and none was given), nested
// under the endpoint's JSONWrap key when it has one.
func (b *requestBuilder) setJSONBody(ep *Endpoint, hasJSONParams bool) error {
	jsonBody := b.jsonBody
	if hasJSONParams && jsonBody == nil {
		jsonBody = map[string]any{} // the endpoint takes a JSON object; send an empty one
	}
	if jsonBody == nil {
		return nil
	}
	if b.req.Form != nil {
		return &InvalidRequestError{Endpoint: b.name, Reason: "catalog mixes form and JSON parameters"}
	}
	if ep.JSONWrap != "" {
		b.req.JSON = map[string]any{ep.JSONWrap: jsonBody}
	} else {
		b.req.JSON = jsonBody
	}
	return nil
}

// checkShape refuses a scalar where the catalog wants an object or a list
// (and the reverse), before the value is encoded.
func checkShape(p *Param, v any) error {
	rv := reflect.ValueOf(v)
	isList := (rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8) || rv.Kind() == reflect.Array
	isObject := rv.Kind() == reflect.Map
	switch p.Type {
	case "object":
		if !isObject {
			return fmt.Errorf("want an object, got %T", v)
		}
	case "array":
		if !isList {
			return fmt.Errorf("want a list, got %T", v)
		}
	default:
		if isList || isObject {
			return fmt.Errorf("want a %s, got %T", p.Type, v)
		}
	}
	return nil
}

// orderedParams are pairs of parameters whose values must not decrease
// (a pool's min_servers above its max_servers makes no sense to Frame).
var orderedParams = map[string][][2]string{
	"pools.elasticity.set": {{"min_servers", "max_servers"}, {"buffer_servers", "max_servers"}},
}

// CheckLimits checks the params given (absent ones are skipped, nothing is
// required) against endpoint name's catalog bounds and ordered pairs, the
// one statement of each API limit. Steps check their inputs with it before
// reading anything; its messages name the parameter as the user wrote it
// ("max_servers must not be negative, got -1", "max_servers 1001 is more
// than 1000", "min_servers 9 is more than max_servers 5").
func CheckLimits(name string, params map[string]any) error {
	ep, ok := LookupEndpoint(name)
	if !ok {
		return fmt.Errorf("unknown endpoint %s", name)
	}
	for i := range ep.Params {
		p := &ep.Params[i]
		v, present := params[p.Name]
		if !present || v == nil {
			continue
		}
		f, err := toFloat(v)
		if err != nil {
			continue
		}
		switch {
		case p.Minimum != nil && f < *p.Minimum && *p.Minimum == 0:
			return fmt.Errorf("%s must not be negative, got %v", p.Name, v)
		case p.Minimum != nil && f < *p.Minimum:
			return fmt.Errorf("%s %v is less than %v", p.Name, v, *p.Minimum)
		case p.Maximum != nil && f > *p.Maximum:
			return fmt.Errorf("%s %v is more than %v", p.Name, v, *p.Maximum)
		}
	}
	if _, why := outOfOrder(name, params); why != "" {
		return errors.New(why)
	}
	return nil
}

// checkBounds refuses a number outside the catalog's minimum and maximum.
func checkBounds(p *Param, v any) error {
	if p.Minimum == nil && p.Maximum == nil {
		return nil
	}
	f, err := toFloat(v)
	if err != nil {
		return nil // the type check that follows says what is wrong
	}
	if p.Minimum != nil && f < *p.Minimum {
		return fmt.Errorf("%v is less than the minimum %v", v, *p.Minimum)
	}
	if p.Maximum != nil && f > *p.Maximum {
		return fmt.Errorf("%v is more than the maximum %v", v, *p.Maximum)
	}
	return nil
}

func paramNames(ep *Endpoint) string {
	if len(ep.Params) == 0 {
		return "none"
	}
	names := make([]string, len(ep.Params))
	for i, p := range ep.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// paramString renders a scalar for a path, query or form value.
func paramString(p *Param, v any) (string, error) {
	switch p.Type {
	case "integer":
		n, err := toInt(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(n, 10), nil
	case "number":
		f, err := toFloat(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case "boolean":
		b, err := toBool(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case "object", "array":
		return "", fmt.Errorf("a %s cannot be sent as a %s parameter", p.Type, p.In) // only a path or header gets here
	}
	return scalarString(v)
}

// paramJSON converts v to the JSON type the catalog declares.
func paramJSON(p *Param, v any) (any, error) {
	switch p.Type {
	case "integer":
		return toInt(v)
	case "number":
		return toFloat(v)
	case "boolean":
		return toBool(v)
	case "string":
		return scalarString(v)
	case "object":
		if rv := reflect.ValueOf(v); rv.Kind() != reflect.Map && rv.Kind() != reflect.Struct && !(rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Struct) {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
	case "array":
		if rv := reflect.ValueOf(v); rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, fmt.Errorf("want a list, got %T", v)
		}
	}
	if _, err := json.Marshal(v); err != nil {
		return nil, fmt.Errorf("not JSON-encodable: %v", err)
	}
	return v, nil
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	case float64, float32:
		f := reflect.ValueOf(x).Float()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.FormatInt(int64(f), 10), nil
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.String:
		return rv.String(), nil
	}
	return "", fmt.Errorf("want a string, number or boolean, got %T", v)
}

// outOfOrder finds the first ordered pair of endpoint name's parameters
// given out of order (min_servers more than max_servers): the first of
// the pair and why; "" when none is.
func outOfOrder(name string, params map[string]any) (param, why string) {
	for _, o := range orderedParams[name] {
		lo, hi := params[o[0]], params[o[1]]
		if lo == nil || hi == nil {
			continue
		}
		l, lerr := toFloat(lo)
		h, herr := toFloat(hi)
		if lerr == nil && herr == nil && l > h {
			return o[0], fmt.Sprintf("%s %v is more than %s %v", o[0], lo, o[1], hi)
		}
	}
	return "", ""
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want an integer, got %s", quoteShort(x))
		}
		return n, nil
	case json.Number:
		return toInt(x.String())
	case bool:
		return 0, fmt.Errorf("want an integer, got a boolean")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, fmt.Errorf("integer %d out of range", rv.Uint())
		}
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) >= 1<<63 {
			return 0, fmt.Errorf("want an integer, got %v", f)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("want a number, got %s", quoteShort(x))
		}
		return f, nil
	case json.Number:
		return toFloat(x.String())
	case bool:
		return 0, fmt.Errorf("want a number, got a boolean")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		if f := rv.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("want true or false, got %s", quoteShort(x))
	}
	return false, fmt.Errorf("want a boolean, got %T", v)
}

// Call sends the catalog endpoint name with params (see BuildRequest) and
// returns the decoded JSON answer: objects as map[string]any, lists as
// []any, integers as int, other numbers as float64; nil for an empty body.
func (c *Client) Call(ctx context.Context, name string, params map[string]any) (any, error) {
	return c.CallIn(ctx, APIv1, name, params, Overrides{})
}

// CallIn is Call for an endpoint of the given API version, with explicit
// placements (see Overrides). An endpoint documented to answer text (not
// JSON) returns the text as a string.
func (c *Client) CallIn(ctx context.Context, api, name string, params map[string]any, ov Overrides) (any, error) {
	req, err := BuildRequestIn(api, name, params, ov)
	if err != nil {
		return nil, err
	}
	return c.SendBuilt(ctx, name, req)
}

// SendBuilt sends a request built by BuildRequestIn for endpoint name, as it
// is, and decodes the answer as Call does. A step that showed req in a plan
// sends it with this: what was planned is what travels.
func (c *Client) SendBuilt(ctx context.Context, name string, req *Request) (any, error) {
	api := req.API
	resp, err := c.Do(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if ep, _ := LookupEndpointIn(api, name); ep != nil && ep.Response == RespText {
		return string(resp.Body), nil
	}
	v, err := DecodeJSON(resp.Body)
	if err != nil {
		return nil, c.unreadable(req, resp.Status, fmt.Errorf("%s: %w", name, err))
	}
	return v, nil
}

// CallRaw is Call without decoding: the Response holds the raw body.
func (c *Client) CallRaw(ctx context.Context, name string, params map[string]any) (*Response, error) {
	req, err := BuildRequest(name, params)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req, nil)
}

// DecodeJSON decodes a response body for generic use: integers become int
// (so IDs and counts print as written), other numbers float64; an empty body
// is nil.
func DecodeJSON(body []byte) (any, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding the response: %v", jsonErrShort(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("decoding the response: trailing data")
	}
	return normalizeNumbers(v), nil
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// Typed helpers. Each is one catalog call: BuildRequest is the one place
// requests are built.

func (c *Client) callInto(ctx context.Context, name string, params map[string]any, out any) error {
	req, err := BuildRequest(name, params)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, req, out)
	return err
}

func (c *Client) callTask(ctx context.Context, name string, params map[string]any) (*Task, error) {
	req, err := BuildRequest(name, params)
	if err != nil {
		return nil, err
	}
	return c.SendBuiltTask(ctx, name, req)
}

// SendBuiltTask sends a request built by BuildRequest for endpoint name, as
// it is, and returns the task it answers.
func (c *Client) SendBuiltTask(ctx context.Context, name string, req *Request) (*Task, error) {
	resp, err := c.Do(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	t, err := ExtractTask(resp.Body)
	if err != nil {
		// For a mutation: accepted, its task unknown (see unreadable).
		return nil, c.unreadable(req, resp.Status, fmt.Errorf("%s: %w", name, err))
	}
	return t, nil
}

// ListAccounts lists accounts, optionally filtered by (part of) a name and
// an organization id ("" for no filter).
func (c *Client) ListAccounts(ctx context.Context, name, orgID string) ([]Account, error) {
	params := map[string]any{}
	if name != "" {
		params["name"] = name
	}
	if orgID != "" {
		params["organization_id"] = orgID
	}
	var out []Account
	return out, c.callInto(ctx, "accounts.list", params, &out)
}

// GetAccount returns an account's details.
func (c *Client) GetAccount(ctx context.Context, accountID string) (*Account, error) {
	var out Account
	if err := c.callInto(ctx, "accounts.get", map[string]any{"account_id": accountID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPools lists an account's pools.
func (c *Client) ListPools(ctx context.Context, accountID string) ([]Pool, error) {
	var out []Pool
	return out, c.callInto(ctx, "pools.list", map[string]any{"account_id": accountID}, &out)
}

// SandboxStatus returns the status of an account's sandbox pool.
func (c *Client) SandboxStatus(ctx context.Context, accountID string) (*SandboxStatus, error) {
	var out SandboxStatus
	if err := c.callInto(ctx, "sandbox.status", map[string]any{"account_id": accountID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CloneSandbox overwrites the target account's sandbox with the image of
// the source sandbox pool. joinDomain nil leaves join_domain unset.
func (c *Client) CloneSandbox(ctx context.Context, targetAccountID, sourcePoolID string, joinDomain *bool) (*Task, error) {
	params := map[string]any{"target_account_id": targetAccountID, "source_pool_id": sourcePoolID}
	if joinDomain != nil {
		params["join_domain"] = *joinDomain
	}
	return c.callTask(ctx, "sandbox.clone", params)
}

// Publish starts publishing an account's sandbox to production.
func (c *Client) Publish(ctx context.Context, accountID string) (*Task, error) {
	return c.callTask(ctx, "sandbox.publish", map[string]any{"account_id": accountID})
}

// GetTask returns a task's current state.
func (c *Client) GetTask(ctx context.Context, accountID, taskID string) (*Task, error) {
	return c.callTask(ctx, "tasks.get", map[string]any{"account_id": accountID, "task_id": taskID})
}

// PublishTasks lists an account's publishing tasks.
func (c *Client) PublishTasks(ctx context.Context, accountID string) ([]PublishStatus, error) {
	var out []PublishStatus
	return out, c.callInto(ctx, "publish.tasks", map[string]any{"account_id": accountID}, &out)
}

// PublishStatus returns the status of one publish request.
func (c *Client) PublishStatus(ctx context.Context, accountID, taskID string) (*PublishStatus, error) {
	resp, err := c.CallRaw(ctx, "publish.status", map[string]any{"account_id": accountID, "task_id": taskID})
	if err != nil {
		return nil, err
	}
	return ExtractPublishStatus(resp.Body)
}

// GetPoolElasticity returns a pool's min, buffer and max servers.
func (c *Client) GetPoolElasticity(ctx context.Context, poolID string) (*Elasticity, error) {
	var out Elasticity
	if err := c.callInto(ctx, "pools.elasticity.get", map[string]any{"pool_id": poolID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPoolElasticity sets a pool's min, buffer and max servers (form data,
// as documented) and returns the task applying them.
func (c *Client) SetPoolElasticity(ctx context.Context, poolID string, e Elasticity) (*Task, error) {
	// The catalog's bounds and orderedParams, checked by BuildRequest, are
	// the one statement of the limits.
	return c.callTask(ctx, "pools.elasticity.set", map[string]any{
		"pool_id":        poolID,
		"min_servers":    e.MinServers,
		"buffer_servers": e.BufferServers,
		"max_servers":    e.MaxServers,
	})
}

// GetAccountElasticity returns an account's overall capacity settings.
func (c *Client) GetAccountElasticity(ctx context.Context, accountID string) (*Elasticity, error) {
	var out Elasticity
	if err := c.callInto(ctx, "accounts.elasticity.get", map[string]any{"account_id": accountID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartSandbox powers on an account's sandbox server.
func (c *Client) StartSandbox(ctx context.Context, accountID string) (*Task, error) {
	return c.callTask(ctx, "sandbox.start", map[string]any{"account_id": accountID})
}

// StopSandbox stops an account's sandbox server (documented answer: 202 {}).
func (c *Client) StopSandbox(ctx context.Context, accountID string) error {
	return c.callInto(ctx, "sandbox.stop", map[string]any{"account_id": accountID}, nil)
}

// PersistentDesktopCapacity is a persistent account's capacity settings.
type PersistentDesktopCapacity struct {
	NumberOfBackupsToSave           *int `json:"number_of_backups_to_save,omitempty"`
	MaxUsers                        int  `json:"max_users"`
	KeepInstancesRunningForNewUsers bool `json:"keep_instances_running_for_new_users"`
}

// GetPersistentDesktopCapacity returns a persistent account's capacity.
func (c *Client) GetPersistentDesktopCapacity(ctx context.Context, accountID string) (*PersistentDesktopCapacity, error) {
	var out PersistentDesktopCapacity
	if err := c.callInto(ctx, "persistent_desktop.capacity.get", map[string]any{"account_id": accountID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPersistentDesktopCapacity sets a persistent account's capacity (form
// data, as documented) and returns the task applying it.
func (c *Client) SetPersistentDesktopCapacity(ctx context.Context, accountID string, p PersistentDesktopCapacity) (*Task, error) {
	params := map[string]any{
		"account_id":                           accountID,
		"max_users":                            p.MaxUsers,
		"keep_instances_running_for_new_users": p.KeepInstancesRunningForNewUsers,
	}
	if p.NumberOfBackupsToSave != nil {
		params["number_of_backups_to_save"] = *p.NumberOfBackupsToSave
	}
	return c.callTask(ctx, "persistent_desktop.capacity.set", params)
}
