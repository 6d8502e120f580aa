package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/frameflow/frameflow/engine"
)

// ErrNotPlanned is returned (wrapped) by a guarded recorder for a mutation
// that the saved plan does not contain, or contains differently. Nothing
// was sent.
var ErrNotPlanned = errors.New("not in the saved plan")

// Guard makes apply execute exactly the saved plan: each mutation goes
// through only if it matches a planned one (same key, method, path, query
// and body) that has not been executed yet. A planned value of
// "(known after apply)" matches any value in its place. A step retried
// after its mutation was executed (its task wait failed) asks again under
// the same key: it gets the first answer, and nothing is sent again, unless
// the task itself failed (MutationFailed), which proves nothing changed.
type Guard struct {
	// Redact, when set, is applied to the strings of each mutation apply is
	// about to send before it is compared, so that it matches a plan whose
	// secret values were scrubbed (see FromResult). Set it before Wrap.
	Redact func(string) string

	mu      sync.Mutex
	planned []Mutation
	byKey   map[string]int
	used    []bool // executed successfully
	results []any  // what the executed ones answered
	busy    []bool // being sent now
}

// NewGuard makes a guard for p's mutations.
func NewGuard(p *Plan) *Guard {
	g := &Guard{planned: p.Mutations, byKey: make(map[string]int, len(p.Mutations))}
	for i, m := range p.Mutations {
		g.byKey[m.Key] = i
	}
	g.used = make([]bool, len(g.planned))
	g.results = make([]any, len(g.planned))
	g.busy = make([]bool, len(g.planned))
	return g
}

// Wrap returns a recorder that checks each mutation against the plan, then
// hands it to next (nil: sends it with m.Send and returns the JSON round
// trip of its result, as StepContext.Mutate does).
func (g *Guard) Wrap(next engine.MutationRecorder) engine.MutationRecorder {
	return &guarded{g: g, next: next}
}

type guarded struct {
	g    *Guard
	next engine.MutationRecorder
}

func (r *guarded) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	i, repeat, prev, err := r.g.claim(key, m)
	if err != nil {
		return nil, err
	}
	if repeat {
		return engine.RoundTrip(prev) // a copy: the first caller may hold the original
	}
	var res any
	if r.next != nil {
		res, err = r.next.Do(ctx, key, m)
	} else if m.Send == nil {
		err = fmt.Errorf("%s %s: the step gave no way to send it", m.Method, m.Path)
	} else {
		res, err = m.Send(ctx)
		if err == nil {
			res, err = engine.RoundTrip(res)
		}
	}
	r.g.finish(i, err == nil, res)
	return res, err
}

// MutationFailed implements engine.MutationFailer: the task of an executed
// mutation failed, which proves it changed nothing, so the planned mutation
// is released and may be sent once more (a step retry, a resumed apply).
// The recorder it wraps is told first; if that fails, the slot stays used
// and the retry gets the first answer, as the journal would give it.
func (r *guarded) MutationFailed(key, reason string) error {
	if f, ok := r.next.(engine.MutationFailer); ok {
		if err := f.MutationFailed(key, reason); err != nil {
			return err
		}
	}
	r.g.release(key)
	return nil
}

// release makes an executed planned mutation executable again.
func (g *Guard) release(key string) {
	if g.Redact != nil {
		key = (&scrubber{fn: g.Redact}).str(key)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i, ok := g.byKey[key]; ok && !g.busy[i] {
		g.used[i] = false
		g.results[i] = nil
	}
}

// claim checks m against the plan and reserves its planned mutation. When
// that was already executed, repeat is true and prev is the answer it got:
// nothing is to be sent.
func (g *Guard) claim(key string, m *engine.Mutation) (i int, repeat bool, prev any, err error) {
	if m == nil {
		return -1, false, nil, fmt.Errorf("refused mutation %s: no request: %w", key, ErrNotPlanned)
	}
	var scrub *scrubber
	if g.Redact != nil {
		scrub = &scrubber{fn: g.Redact}
	}
	got := scrub.mutation(convert("", "", -1, scrub.str(key), m, nil))
	what := fmt.Sprintf("%s (key %s)", got.Target(), got.Key)

	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.byKey[got.Key]
	if !ok {
		return -1, false, nil, fmt.Errorf("refused %s: %w; nothing was sent", what, ErrNotPlanned)
	}
	want := &g.planned[i]
	if why := mismatch(want, &got); why != "" {
		return -1, false, nil, fmt.Errorf("refused %s: it differs from the saved plan (%s): %w; nothing was sent", what, why, ErrNotPlanned)
	}
	if g.busy[i] {
		return -1, false, nil, fmt.Errorf("refused %s: the same planned mutation is being sent right now: %w", what, ErrNotPlanned)
	}
	if g.used[i] {
		// The plan sends it once: a retried attempt of the same step gets
		// the answer of the first send, as the journal would give it.
		return i, true, g.results[i], nil
	}
	g.busy[i] = true
	return i, false, nil, nil
}

// finish releases a claim; a failed send can be tried again (a step retry
// under the same key) and stays in Unused until it succeeds.
func (g *Guard) finish(i int, ok bool, res any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy[i] = false
	if ok {
		g.used[i] = true
		g.results[i] = res
	}
}

// Unused lists the planned mutations that were not executed successfully,
// in plan order; apply reports them.
func (g *Guard) Unused() []Mutation {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Mutation
	for i, m := range g.planned {
		if !g.used[i] {
			out = append(out, m)
		}
	}
	return out
}

// mismatch says how got differs from want in what is sent ("" when it
// matches). Bodies are not quoted: what apply was about to send may hold
// values the plan does not.
func mismatch(want, got *Mutation) string {
	var why []string
	if want.Method != got.Method {
		why = append(why, fmt.Sprintf("method %s, planned %s", got.Method, want.Method))
	}
	if !matchPath(want.Path, got.Path) {
		why = append(why, fmt.Sprintf("path %s, planned %s", got.Path, want.Path))
	}
	if !matchQuery(want.Query, got.Query) {
		why = append(why, fmt.Sprintf("query %q, planned %q", encodeQuery(got.Query), encodeQuery(want.Query)))
	}
	if !matchQuery(want.Headers, got.Headers) {
		why = append(why, "headers differ") // not quoted: values may be credentials
	}
	if want.BodyEncoding != got.BodyEncoding {
		why = append(why, fmt.Sprintf("body sent as %s, planned %s", orNone(got.BodyEncoding), orNone(want.BodyEncoding)))
	} else if !matchValue(want.Body, got.Body) {
		why = append(why, "body differs")
	}
	return strings.Join(why, ", ")
}

// matchPath compares segment by segment, an unknown planned segment
// matching any. A path holding its query (http.request plans its URL
// whole) has the query compared parameter by parameter, in order, an
// unknown planned value matching any value of the same parameter.
func matchPath(want, got string) bool {
	if want == got {
		return true
	}
	wantPath, wantQuery, wantHas := strings.Cut(want, "?")
	gotPath, gotQuery, gotHas := strings.Cut(got, "?")
	if wantHas != gotHas || !matchSegments(wantPath, gotPath) {
		return false
	}
	return !wantHas || matchRawQuery(wantQuery, gotQuery)
}

func matchRawQuery(want, got string) bool {
	ws, gs := strings.Split(want, "&"), strings.Split(got, "&")
	if len(ws) != len(gs) {
		return false
	}
	for i := range ws {
		if ws[i] == gs[i] {
			continue
		}
		wk, wv, _ := strings.Cut(ws[i], "=")
		gk, _, _ := strings.Cut(gs[i], "=")
		if wk != gk || !isUnknownText(wv) {
			return false
		}
	}
	return true
}

func matchSegments(want, got string) bool {
	if want == got {
		return true
	}
	ws, gs := strings.Split(want, "/"), strings.Split(got, "/")
	if len(ws) != len(gs) {
		return false
	}
	for i := range ws {
		if ws[i] != gs[i] && !isUnknownText(ws[i]) {
			return false
		}
	}
	return true
}

func isUnknownText(s string) bool {
	return s == KnownAfterApply || s == "%28known%20after%20apply%29" || s == "%28known+after+apply%29"
}

func matchQuery(want, got map[string]string) bool {
	if len(want) != len(got) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || (w != g && w != KnownAfterApply) {
			return false
		}
	}
	return true
}

// matchValue compares normalized JSON values, a planned "(known after
// apply)" matching anything.
func matchValue(want, got any) bool {
	if s, ok := want.(string); ok && s == KnownAfterApply {
		return true
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !matchValue(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchValue(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return sameValue(want, got)
}
