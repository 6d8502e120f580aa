package engine

// Plan recording: in plan modes, the mutations a run would make, kept in
// DAG and item order.

import (
	"context"
	"slices"
)

type orderedMutation struct {
	order    []int
	mutation PlannedMutation
}

// recorderFor is where the execution's mutations go: in plan modes the
// engine keeps them (in DAG order) and answers with placeholders, or with
// the caller's recorder.
func (r *run) recorderFor(t task, res StepResult) MutationRecorder {
	if r.opts.Mode == ModeRun {
		return r.opts.Recorder
	}
	key := append(slices.Clone(t.instance.planOrder), t.node.topoIndex)
	if t.item != nil {
		key = append(key, t.item.index)
	}
	return &planRecorder{run: r, planOrder: key, step: res.Step, item: res.Item, index: res.Index}
}

type planRecorder struct {
	run        *run
	planOrder  []int
	step       string
	item       string
	index      int
	seq        int
	indexByKey map[string]int // mutation key -> its index in run.mutations
}

func (p *planRecorder) Do(ctx context.Context, key string, m *Mutation) (any, error) {
	p.run.mu.Lock()
	rec := PlannedMutation{Step: p.step, Item: p.item, Index: p.index, Mutation: m, Key: key}
	if i, ok := p.indexByKey[key]; ok {
		// A retried attempt asks for the same mutation again: the plan
		// holds it once, as the latest attempt made it.
		p.run.mutations[i].mutation = rec
	} else {
		p.seq++
		if p.indexByKey == nil {
			p.indexByKey = map[string]int{}
		}
		p.indexByKey[key] = len(p.run.mutations)
		p.run.mutations = append(p.run.mutations, orderedMutation{order: append(slices.Clone(p.planOrder), p.seq), mutation: rec})
	}
	p.run.mu.Unlock()
	if p.run.opts.Recorder != nil {
		return p.run.opts.Recorder.Do(ctx, key, m)
	}
	if m.Placeholder != nil {
		return m.Placeholder, nil
	}
	return Unknown, nil
}
