package engine

import (
	"sort"
	"strings"
	"sync"

	xexpr "github.com/frameflow/frameflow/engine/expr"
)

// Sensitive replaces a secret, or a value computed from one, in the run's
// events, errors and results: the word plans use for secret inputs.
const Sensitive = "(sensitive)"

// minSecretLen is the shortest derived value redacted by its text: shorter
// ones ("13", "true") would blank out unrelated words. They are still
// confined by taint (compile time) to inputs the API marks secret.
const minSecretLen = 4

// secretSet is the run's redaction list: the values of secret inputs, and
// every value the run computed from one (a base64 of the token sent in a
// secret body field). It grows while the run goes, so an error that echoes
// a derived value (a server quoting the field it refused) is redacted too.
type secretSet struct {
	mu    sync.RWMutex
	seen  map[string]bool
	rep   *strings.Replacer
	onAdd func(string)
}

func newSecretSet(initial []string, onAdd func(string)) *secretSet {
	s := &secretSet{seen: map[string]bool{}, onAdd: onAdd}
	for _, v := range initial {
		s.addString(v, false)
	}
	s.rebuild()
	return s
}

// Add registers every string inside v (and its stringified form).
func (s *secretSet) Add(v any) {
	s.mu.Lock()
	added := s.collect(v, 0)
	if added {
		s.rebuild()
	}
	s.mu.Unlock()
}

func (s *secretSet) collect(v any, depth int) bool {
	if depth > 64 {
		return false
	}
	added := false
	switch x := v.(type) {
	case nil, bool:
		// A boolean is one bit, and "true" in every message would be blanked.
	case []any:
		for _, e := range x {
			added = s.collect(e, depth+1) || added
		}
		added = s.addString(xexpr.Stringify(x), true) || added
	case map[string]any:
		for _, e := range x {
			added = s.collect(e, depth+1) || added
		}
		added = s.addString(xexpr.Stringify(x), true) || added
	default:
		added = s.addString(xexpr.Stringify(x), true)
	}
	return added
}

func (s *secretSet) addString(v string, notify bool) bool {
	if len(v) < minSecretLen || s.seen[v] {
		return false
	}
	s.seen[v] = true
	if notify && s.onAdd != nil {
		s.onAdd(v)
	}
	return true
}

// rebuild makes the replacer, longest values first so a value that
// contains another is replaced whole.
func (s *secretSet) rebuild() {
	vals := make([]string, 0, len(s.seen))
	for v := range s.seen {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool {
		if len(vals[i]) != len(vals[j]) {
			return len(vals[i]) > len(vals[j])
		}
		return vals[i] < vals[j]
	})
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Sensitive)
	}
	s.rep = strings.NewReplacer(pairs...)
}

// Replace redacts every registered value in str.
func (s *secretSet) Replace(str string) string {
	s.mu.RLock()
	rep := s.rep
	s.mu.RUnlock()
	return rep.Replace(str)
}
