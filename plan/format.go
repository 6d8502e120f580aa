package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// compactJSON encodes v as compact JSON with sorted object keys and without
// HTML escaping (it is for people).
func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// BodyString renders a mutation's body as it travels: form bodies as
// key=value pairs joined by &, keys sorted; JSON bodies as compact JSON;
// text as is. "" when there is no body.
func (m *Mutation) BodyString() string {
	if m.Body == nil {
		return ""
	}
	switch m.BodyEncoding {
	case BodyForm:
		return encodeForm(formValues(m.Body))
	case BodyText:
		if s, ok := m.Body.(string); ok {
			return s
		}
	}
	return compactJSON(m.Body)
}

// HeadersString renders a mutation's headers as "Name: value" pairs joined
// by ", ", names sorted; "" when it has none.
func (m *Mutation) HeadersString() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		parts = append(parts, k+": "+m.Headers[k])
	}
	return strings.Join(parts, ", ")
}

// encodeForm is url.Values.Encode that leaves the plan's markers readable.
func encodeForm(v map[string][]string) string {
	q := make(map[string]string, len(v))
	var multi []string
	for k, vals := range v {
		if len(vals) == 1 {
			q[k] = vals[0]
		} else {
			multi = append(multi, k)
		}
	}
	s := encodeQuery(q)
	// Repeated keys are rare in the Frame API; render them in order.
	for _, k := range sortedStrings(multi) {
		for _, val := range v[k] {
			if s != "" {
				s += "&"
			}
			s += k + "=" + queryValue(val)
		}
	}
	return s
}

// scalarString is a value as text without quotes (form values, query values).
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool, float64, int, int64:
		return fmt.Sprint(x)
	}
	return compactJSON(v)
}

// formatValue renders a change value for people: strings quoted (except
// the plan's markers), elasticity settings as min/buffer/max, other objects
// and lists as compact JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == KnownAfterApply || x == Sensitive {
			return x
		}
		return compactJSON(x)
	case map[string]any:
		if s, ok := elasticity(x); ok {
			return s
		}
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case json.Number, bool, float64, int, int64:
		return scalarString(v)
	}
	return compactJSON(v)
}

// elasticity renders {min_servers, buffer_servers, max_servers} the way the
// Frame console and the docs write it: "1/1/5".
func elasticity(obj map[string]any) (string, bool) {
	keys := []string{"min_servers", "buffer_servers", "max_servers"}
	if len(obj) != len(keys) {
		return "", false
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, ok := obj[k]
		if !ok {
			return "", false
		}
		switch v.(type) {
		case json.Number, float64, int, int64:
			parts[i] = scalarString(v)
		case string:
			if v != KnownAfterApply {
				return "", false
			}
			parts[i] = "?"
		default:
			return "", false
		}
	}
	return strings.Join(parts, "/"), true
}

// formatChange renders a change as "before → after".
func formatChange(c *Change) string {
	if c == nil {
		return ""
	}
	return formatValue(c.Before) + " → " + formatValue(c.After)
}

func sortedStrings(s []string) []string { return slices.Sorted(slices.Values(s)) }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
