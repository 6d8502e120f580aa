package plan

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
)

// Difference kinds.
const (
	DiffFormat          = "format"
	DiffWorkflow        = "workflow"
	DiffInputs          = "inputs"
	DiffOffline         = "offline"
	DiffReads           = "reads"
	DiffMutationAdded   = "mutation_added"
	DiffMutationRemoved = "mutation_removed"
	DiffMutationChanged = "mutation_changed"
)

// Difference is one way a fresh plan differs from a saved one.
type Difference struct {
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"` // the mutation's key, for mutation differences
	Message string `json:"message"`
}

func (d Difference) String() string { return d.Message }

// Compare tells why a saved plan no longer describes what would happen now.
// apply re-plans, then refuses unless Compare(saved, fresh) is empty. It
// reports, in this order: format, workflow file, offline flag, inputs,
// reads, then mutations removed or changed (saved order) and added (fresh
// order). Mutations are matched by key (step, item and ordinal).
func Compare(saved, fresh *Plan) []Difference {
	var out []Difference
	add := func(kind, key, format string, a ...any) {
		out = append(out, Difference{Kind: kind, Key: key, Message: fmt.Sprintf(format, a...)})
	}
	if saved.FormatVersion != fresh.FormatVersion {
		add(DiffFormat, "", "plan format changed: version %d, now %d", saved.FormatVersion, fresh.FormatVersion)
	}
	if saved.Workflow.FileHash != fresh.Workflow.FileHash {
		add(DiffWorkflow, "", "workflow file changed: %s was %s when planned, now %s",
			orName(fresh.Workflow.File, saved.Workflow.File), saved.Workflow.FileHash, fresh.Workflow.FileHash)
	}
	if saved.Offline != fresh.Offline {
		if saved.Offline {
			add(DiffOffline, "", "the saved plan was made offline (nothing was read); run frameflow plan without --offline to make a plan that can be applied")
		} else {
			add(DiffOffline, "", "the fresh plan was made offline; it cannot confirm the saved one")
		}
	}
	for _, k := range sortedKeys(union(saved.Inputs, fresh.Inputs)) {
		a, inA := saved.Inputs[k]
		b, inB := fresh.Inputs[k]
		switch {
		case !inA:
			add(DiffInputs, "", "inputs changed: %s added (%s)", k, formatValue(b))
		case !inB:
			add(DiffInputs, "", "inputs changed: %s removed (was %s)", k, formatValue(a))
		case !sameValue(a, b):
			add(DiffInputs, "", "inputs changed: %s was %s, now %s", k, formatValue(a), formatValue(b))
		}
	}
	if saved.ReadsDigest != "" && fresh.ReadsDigest != "" && saved.ReadsDigest != fresh.ReadsDigest {
		add(DiffReads, "", "what the plan read changed (reads digest %s, now %s)", saved.ReadsDigest, fresh.ReadsDigest)
	}

	freshByKey := make(map[string]*Mutation, len(fresh.Mutations))
	for i := range fresh.Mutations {
		freshByKey[fresh.Mutations[i].Key] = &fresh.Mutations[i]
	}
	savedKeys := make(map[string]bool, len(saved.Mutations))
	for i := range saved.Mutations {
		s := &saved.Mutations[i]
		savedKeys[s.Key] = true
		f, ok := freshByKey[s.Key]
		if !ok {
			add(DiffMutationRemoved, s.Key, "mutation removed: %s (%s)", s.Target(), s.Label())
			continue
		}
		if why := mutationChanges(s, f); len(why) > 0 {
			add(DiffMutationChanged, s.Key, "mutation changed: %s (%s): %s", s.Target(), s.Label(), strings.Join(why, "; "))
		}
	}
	for i := range fresh.Mutations {
		f := &fresh.Mutations[i]
		if !savedKeys[f.Key] {
			add(DiffMutationAdded, f.Key, "mutation added: %s (%s)", f.Target(), f.Label())
		}
	}
	return out
}

// mutationChanges says, field by field, how f differs from s.
func mutationChanges(s, f *Mutation) []string {
	var why []string
	if s.Type != f.Type {
		why = append(why, fmt.Sprintf("type was %s, now %s", s.Type, f.Type))
	}
	if s.Method != f.Method || s.URL() != f.URL() {
		why = append(why, fmt.Sprintf("request was %s, now %s", s.Target(), f.Target()))
	}
	if !maps.Equal(s.Headers, f.Headers) {
		why = append(why, fmt.Sprintf("headers were %s, now %s", orNone(s.HeadersString()), orNone(f.HeadersString())))
	}
	if s.BodyEncoding != f.BodyEncoding || !sameValue(s.Body, f.Body) {
		why = append(why, fmt.Sprintf("body was %s, now %s", orNone(s.BodyString()), orNone(f.BodyString())))
	}
	if !reflect.DeepEqual(s.Resources, f.Resources) {
		why = append(why, fmt.Sprintf("resources were %s, now %s", orNone(strings.Join(s.Resources, ", ")), orNone(strings.Join(f.Resources, ", "))))
	}
	sb, fb := changeSide(s.Change, true), changeSide(f.Change, true)
	if !sameValue(sb, fb) {
		why = append(why, fmt.Sprintf("before was %s, now %s", formatValue(sb), formatValue(fb)))
	}
	sa, fa := changeSide(s.Change, false), changeSide(f.Change, false)
	if !sameValue(sa, fa) {
		why = append(why, fmt.Sprintf("after was %s, now %s", formatValue(sa), formatValue(fa)))
	}
	if s.Destructive != f.Destructive {
		why = append(why, fmt.Sprintf("destructive was %t, now %t", s.Destructive, f.Destructive))
	}
	return why
}

func changeSide(c *Change, before bool) any {
	if c == nil {
		return nil
	}
	if before {
		return c.Before
	}
	return c.After
}

// sameValue compares normalized JSON values; numbers compare by their
// literal text or value, so 5 read from a file equals 5 built in memory.
func sameValue(a, b any) bool {
	na, errA := normalize(a)
	nb, errB := normalize(b)
	if errA != nil || errB != nil {
		return reflect.DeepEqual(a, b)
	}
	return compactJSON(na) == compactJSON(nb)
}

func union(a, b map[string]any) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return "the workflow file"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
