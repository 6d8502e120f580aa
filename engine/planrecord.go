package engine

// Plan recording: in plan modes, the mutations a run would make, kept in
// DAG and item order.

import (
	"context"
	"slices"
)

type mutRec struct {
	key []int
	m   PlannedMutation
}

// recorderFor is where the execution's mutations go: in plan modes the
// engine keeps them (in DAG order) and answers with placeholders, or with
// the caller's recorder.
func (r *run) recorderFor(t task, res StepResult) MutationRecorder {
	if r.o.Mode == ModeRun {
		return r.o.Recorder
	}
	key := append(slices.Clone(t.in.key), t.n.ord)
	if t.item != nil {
		key = append(key, t.item.index)
	}
	return &planRecorder{r: r, key: key, step: res.Step, item: res.Item, index: res.Index}
}

type planRecorder struct {
	r     *run
	key   []int
	step  string
	item  string
	index int
	seq   int
	at    map[string]int // mutation key -> its index in r.muts
}

func (p *planRecorder) Do(ctx context.Context, key string, m *Mutation) (any, error) {
	p.r.mu.Lock()
	rec := PlannedMutation{Step: p.step, Item: p.item, Index: p.index, Mutation: m, Key: key}
	if i, ok := p.at[key]; ok {
		// A retried attempt asks for the same mutation again: the plan
		// holds it once, as the latest attempt made it.
		p.r.muts[i].m = rec
	} else {
		p.seq++
		if p.at == nil {
			p.at = map[string]int{}
		}
		p.at[key] = len(p.r.muts)
		p.r.muts = append(p.r.muts, mutRec{key: append(slices.Clone(p.key), p.seq), m: rec})
	}
	p.r.mu.Unlock()
	if p.r.o.Recorder != nil {
		return p.r.o.Recorder.Do(ctx, key, m)
	}
	if m.Placeholder != nil {
		return m.Placeholder, nil
	}
	return Unknown, nil
}
