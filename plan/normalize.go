package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/frameflow/frameflow/engine"
)

// normalize returns v as encoding/json decodes it with UseNumber, so that a
// plan built in memory and the same plan loaded from its file are equal and
// hash alike (numbers keep their literal text; Unknown becomes its marker).
func normalize(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeNumbers(b)
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// formBody is implemented by url.Values and look-alikes.
type formBody interface{ Encode() string }

// normalizeBody decides how a step's body travels and gives its plan form.
func normalizeBody(body any) (any, string, error) {
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case url.Values:
		return formObject(b), BodyForm, nil
	case map[string][]string:
		return formObject(b), BodyForm, nil
	case formBody:
		vals, err := url.ParseQuery(b.Encode())
		if err != nil {
			return nil, "", fmt.Errorf("form body: %w", err)
		}
		return formObject(vals), BodyForm, nil
	case json.RawMessage:
		v, err := decodeNumbers(b)
		if err != nil {
			return nil, "", fmt.Errorf("JSON body: %w", err)
		}
		return v, BodyJSON, nil
	case []byte:
		if v, err := decodeNumbers(b); err == nil {
			return v, BodyJSON, nil
		}
		return string(b), BodyText, nil
	case string:
		return b, BodyText, nil
	}
	v, err := normalize(body)
	if err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	return v, BodyJSON, nil
}

// formObject keeps single values as strings (the usual case, and readable
// in the JSON plan) and repeated keys as lists.
func formObject(v map[string][]string) map[string]any {
	out := make(map[string]any, len(v))
	for k, vals := range v {
		if len(vals) == 1 {
			out[k] = vals[0]
			continue
		}
		l := make([]any, len(vals))
		for i, s := range vals {
			l[i] = s
		}
		out[k] = l
	}
	return out
}

// formValues turns a plan's form body back into url.Values.
func formValues(body any) url.Values {
	obj, _ := body.(map[string]any)
	out := url.Values{}
	for k, v := range obj {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				out.Add(k, scalarString(e))
			}
		default:
			out.Add(k, scalarString(x))
		}
	}
	return out
}

// convert builds a plan mutation from an engine mutation. It is used both
// when a plan is made and when the guard checks what apply is about to send,
// so the two sides are compared in one form.
func convert(step, item string, index int, key string, m *engine.Mutation, destructive func(string) bool) Mutation {
	out := Mutation{Step: step, Item: item, Index: index, Key: key}
	out.Type = m.Type
	out.Method = strings.ToUpper(m.Method)
	out.Path = m.Path
	if len(m.Query) > 0 {
		out.Query = make(map[string]string, len(m.Query))
		for k, v := range m.Query {
			out.Query[k] = v
		}
	}
	if len(m.Headers) > 0 {
		out.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			out.Headers[k] = v
		}
	}
	body, enc, err := normalizeBody(m.Body)
	if err != nil {
		// A body that does not encode as JSON could not be sent either; keep
		// a readable trace of it so the plan shows it and the guard, which
		// compares in this same form, still matches it exactly.
		body, enc = fmt.Sprintf("%v", m.Body), BodyText
	}
	out.Body, out.BodyEncoding = body, enc
	if len(m.Resources) > 0 {
		out.Resources = append([]string(nil), m.Resources...)
	}
	if m.Change != nil {
		out.Change = &Change{Before: normalizeOrText(m.Change.Before), After: normalizeOrText(m.Change.After)}
	}
	out.Result = KnownAfterApply
	if m.Placeholder != nil {
		out.Result = normalizeOrText(m.Placeholder)
	}
	if destructive != nil {
		out.Destructive = destructive(m.Type)
	}
	out.Action = m.Action
	for _, d := range m.Details {
		out.Details = append(out.Details, Detail{Label: d.Label, Value: d.Value})
	}
	return out
}

func normalizeOrText(v any) any {
	n, err := normalize(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return n
}

// scrubber rewrites every string of a plan: it replaces secret values with
// Sensitive when a plan is made, and applies a caller's Redact when a plan
// is rendered.
type scrubber struct{ fn func(string) string }

func (s *scrubber) str(v string) string {
	if s == nil || s.fn == nil {
		return v
	}
	return s.fn(v)
}

// SecretScrubber returns the function that plans use to replace secret
// values (the values of inputs marked secret) with Sensitive; a Guard needs
// it as its Redact to match what apply sends against a plan made with them.
func SecretScrubber(values []string) func(string) string {
	s := newScrubber(values)
	if s == nil {
		return func(v string) string { return v }
	}
	return s.fn
}

func newScrubber(values []string) *scrubber {
	var s []string
	for _, v := range values {
		// Very short values would blank out unrelated text (and are no
		// meaningful secret); the markers themselves are not secrets.
		if len(v) < 4 || v == Sensitive || v == KnownAfterApply {
			continue
		}
		s = append(s, v)
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	if len(s) == 0 {
		return nil
	}
	return &scrubber{fn: func(v string) string {
		for _, sec := range s {
			v = strings.ReplaceAll(v, sec, Sensitive)
		}
		return v
	}}
}

// value returns v with every string (map keys included) scrubbed.
func (s *scrubber) value(v any) any {
	switch x := v.(type) {
	case string:
		return s.str(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[s.str(k)] = s.value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.value(e)
		}
		return out
	}
	return v
}

func (s *scrubber) mutation(m Mutation) Mutation {
	if s == nil || s.fn == nil {
		return m
	}
	m.Step, m.Item, m.Key = s.str(m.Step), s.str(m.Item), s.str(m.Key)
	m.Path = s.str(m.Path)
	if m.Query != nil {
		q := make(map[string]string, len(m.Query))
		for k, v := range m.Query {
			q[s.str(k)] = s.str(v)
		}
		m.Query = q
	}
	if m.Headers != nil {
		h := make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			h[s.str(k)] = s.str(v)
		}
		m.Headers = h
	}
	m.Body = s.value(m.Body)
	if len(m.Resources) > 0 {
		r := make([]string, len(m.Resources))
		for i, v := range m.Resources {
			r[i] = s.str(v)
		}
		m.Resources = r
	}
	if m.Change != nil {
		m.Change = &Change{Before: s.value(m.Change.Before), After: s.value(m.Change.After)}
	}
	m.Result = s.value(m.Result)
	if len(m.Details) > 0 {
		d := make([]Detail, len(m.Details))
		for i, e := range m.Details {
			d[i] = Detail{Label: s.str(e.Label), Value: s.str(e.Value)}
		}
		m.Details = d
	}
	return m
}

// plan returns a copy of p with every string scrubbed (hash kept: it is
// shown so a reviewer can match it, and holds no secret).
func (s *scrubber) plan(p *Plan) *Plan {
	c := *p
	c.Workflow = WorkflowRef{Name: s.str(p.Workflow.Name), File: s.str(p.Workflow.File), FileHash: p.Workflow.FileHash}
	c.Inputs = make(map[string]any, len(p.Inputs))
	for k, v := range p.Inputs {
		c.Inputs[s.str(k)] = s.value(v)
	}
	c.Mutations = make([]Mutation, len(p.Mutations))
	for i, m := range p.Mutations {
		c.Mutations[i] = s.mutation(m)
	}
	c.Unchanged = make([]Unchanged, len(p.Unchanged))
	for i, u := range p.Unchanged {
		c.Unchanged[i] = Unchanged{Step: s.str(u.Step), Item: s.str(u.Item), Index: u.Index}
	}
	if p.Names != nil {
		c.Names = make(map[string]string, len(p.Names))
		for k, v := range p.Names {
			c.Names[s.str(k)] = s.str(v)
		}
	}
	c.Summary.ByType = make(map[string]int, len(p.Summary.ByType))
	for k, v := range p.Summary.ByType {
		c.Summary.ByType[s.str(k)] = v
	}
	return &c
}

// secretStrings lists the string forms of the secret inputs' values.
func secretStrings(inputs map[string]any, names []string) []string {
	var out []string
	for _, n := range names {
		v, ok := inputs[n]
		if !ok || v == nil {
			continue
		}
		collectStrings(v, &out)
	}
	return out
}

func collectStrings(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			collectStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(e, out)
		}
	case []string:
		*out = append(*out, x...)
	case fmt.Stringer:
		*out = append(*out, x.String())
	case bool, nil:
	default:
		*out = append(*out, fmt.Sprint(x))
	}
}
