package frame

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
)

// Object and array parameters in a query string or a form body are sent in
// the bracket notation the docs' examples use
// (skip_user_idps[]=a&skip_user_idps[]=b): an object as name[key]=v, a list
// as repeated name[]=v, nested as deep as the value goes
// (name[key][]=v, name[][key]=v). Scalars are rendered as for any other
// parameter; a null inside a value is sent as an empty string.

// addBracketed adds v under name to vals.
func addBracketed(vals url.Values, name string, v any) error {
	if v == nil {
		vals.Add(name, "")
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("%s: object keys must be strings, got %s", name, rv.Type().Key())
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys) // a stable wire form: plans and journals compare it
		for _, k := range keys {
			if err := addBracketed(vals, name+"["+k+"]", rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte is a string, not a list
		}
		for i := 0; i < rv.Len(); i++ {
			if err := addBracketed(vals, name+"[]", rv.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := scalarString(v)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	vals.Add(name, s)
	return nil
}

// Overrides place parameters explicitly, for the cases where the docs (and
// so the catalog) put one in the wrong place: each key is sent exactly where
// it is listed, with its value as given (objects and lists encoded as
// above), whether or not the catalog knows it. A key may not also be given
// as an ordinary parameter.
type Overrides struct {
	Query map[string]any
	Form  map[string]any
	JSON  map[string]any
}

// Empty reports whether no override is set.
func (o Overrides) Empty() bool { return len(o.Query) == 0 && len(o.Form) == 0 && len(o.JSON) == 0 }

// apply adds the overrides to req, refusing a name given twice and a body
// that would be both form and JSON.
func (o Overrides) apply(endpoint string, req *Request, params map[string]any) error {
	if o.Empty() {
		return nil
	}
	seen := map[string]string{}
	check := func(where string, m map[string]any) error {
		for _, k := range sortedKeys(m) {
			if k == "" {
				return &InvalidRequestError{Endpoint: endpoint, Reason: fmt.Sprintf("an empty %s parameter name", where)}
			}
			if v, ok := params[k]; ok && v != nil {
				return &InvalidRequestError{Endpoint: endpoint, Param: k, Reason: fmt.Sprintf("given both as a parameter and in %s:", where)}
			}
			if other, ok := seen[k]; ok {
				return &InvalidRequestError{Endpoint: endpoint, Param: k, Reason: fmt.Sprintf("given in both %s: and %s:", other, where)}
			}
			seen[k] = where
		}
		return nil
	}
	for _, c := range []struct {
		where string
		m     map[string]any
	}{{"query", o.Query}, {"form", o.Form}, {"json", o.JSON}} {
		if err := check(c.where, c.m); err != nil {
			return err
		}
	}
	if len(o.Form) > 0 && (len(o.JSON) > 0 || req.JSON != nil) || len(o.JSON) > 0 && req.Form != nil {
		return &InvalidRequestError{Endpoint: endpoint, Reason: "a request has one body: form or JSON, not both"}
	}
	for _, k := range sortedKeys(o.Query) {
		if req.Query == nil {
			req.Query = url.Values{}
		}
		if err := addBracketed(req.Query, k, o.Query[k]); err != nil {
			return &InvalidRequestError{Endpoint: endpoint, Param: k, Reason: err.Error()}
		}
	}
	for _, k := range sortedKeys(o.Form) {
		if req.Form == nil {
			req.Form = url.Values{}
		}
		if err := addBracketed(req.Form, k, o.Form[k]); err != nil {
			return &InvalidRequestError{Endpoint: endpoint, Param: k, Reason: err.Error()}
		}
	}
	if len(o.JSON) > 0 {
		body, _ := req.JSON.(map[string]any)
		if body == nil {
			body = map[string]any{}
		}
		for k, v := range o.JSON {
			body[k] = v
		}
		req.JSON = body
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
