package steps

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// A mutation is built once, as the request that will be sent: plannedRequest
// builds it through the catalog (frame.BuildRequestIn), mutationOf describes
// that same value to the plan, the journal's intent and apply's guard, and
// sendTask/sendDecoded send it unchanged. Nothing rebuilds the request
// between the plan and the wire.

// unknownMark stands for a parameter known only after apply while a plan
// builds the request; it is a valid path segment and form value, so the
// catalog checks everything else, and it is shown as "(known after apply)".
const unknownMark = "UNKNOWN-VALUE-"

// plannedRequest builds the request of catalog endpoint name from params.
// Unknown string parameters (plan modes) are built with a mark that
// mutationOf shows as Unknown; such a request is never sent (run mode
// refuses unknown inputs before it gets here).
func plannedRequest(api, name string, params map[string]any, ov frame.Overrides) (*frame.Request, error) {
	built := make(map[string]any, len(params))
	for k, v := range params {
		if engine.IsUnknown(v) {
			v = unknownMark + k
		}
		built[k] = v
	}
	return frame.BuildRequestIn(api, name, built, ov)
}

// mutationOf describes req as the engine records it: method, path, query
// and body exactly as they travel (a form body as url.Values, a JSON body
// as the value encoded), with secret parameters masked and plan marks shown
// as Unknown. Send is left to the caller, which sends req itself.
func mutationOf(typ string, req *frame.Request) *engine.Mutation {
	secret := map[string]bool{}
	for _, n := range req.Secret {
		secret[n] = true
	}
	m := &engine.Mutation{Type: typ, Method: req.Method, Path: unmark(req.Path)}
	if len(req.Query) > 0 {
		m.Query = make(map[string]string, len(req.Query))
		for k, vs := range req.Query {
			m.Query[k] = shownValue(secret[k], strings.Join(vs, ","))
		}
	}
	switch {
	case req.Form != nil:
		form := url.Values{}
		for k, vs := range req.Form {
			for _, v := range vs {
				form.Add(k, shownValue(secret[k], v))
			}
		}
		m.Body = form // plans record url.Values as a form body
	case req.JSON != nil:
		m.Body = maskJSON(req.JSON, secret)
	}
	return m
}

func shownValue(secret bool, v string) string {
	if secret {
		return "(sensitive)"
	}
	return unmark(v)
}

// unmark shows the plan marks of s as Unknown.
func unmark(s string) string {
	for strings.Contains(s, unknownMark) {
		i := strings.Index(s, unknownMark)
		j := i + len(unknownMark)
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		s = s[:i] + engine.Unknown.(interface{ String() string }).String() + s[j:]
	}
	return s
}

// maskJSON copies a JSON body with the top-level secret keys (and those of
// a JSONWrap object) masked and plan marks shown as Unknown.
func maskJSON(v any, secret map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if secret[k] {
				out[k] = "(sensitive)"
				continue
			}
			out[k] = maskJSON(x[k], secret)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskJSON(e, secret)
		}
		return out
	case string:
		if strings.HasPrefix(x, unknownMark) {
			return engine.Unknown
		}
		return x
	}
	return v
}

// sendTask returns a Send that sends req, as built, and answers its task.
func (s *stepsImpl) sendTask(name string, req *frame.Request) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		if s.client == nil {
			return nil, errors.New("no Frame API client configured")
		}
		return s.client.SendBuiltTask(ctx, name, req)
	}
}

// sendDecoded returns a Send that sends req, as built, and answers the
// decoded response (as frame.Client.Call).
func (s *stepsImpl) sendDecoded(name string, req *frame.Request) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		if s.client == nil {
			return nil, errors.New("no Frame API client configured")
		}
		return s.client.SendBuilt(ctx, name, req)
	}
}
