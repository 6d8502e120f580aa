package plan

import (
	"fmt"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// StatusUnchanged is the engine's step status for a step that found the
// desired state in place.
const StatusUnchanged = "unchanged"

// FromResult builds a plan from a plan-mode (or offline) run.
//
// inputs should already hold "(sensitive)" for secret inputs; secretInputs
// names them again so that a caller that forgot is still safe: their values
// are replaced in the inputs and scrubbed from every mutation string (paths,
// queries, bodies, changes). destructive tells which mutation types need
// approval (nil: none). The plan's hash is computed.
func FromResult(wf WorkflowRef, inputs map[string]any, secretInputs []string, res *engine.Result, offline bool, destructive func(mutationType string) bool) *Plan {
	p := &Plan{
		FormatVersion: FormatVersion,
		Workflow:      wf,
		Inputs:        map[string]any{},
		Offline:       offline,
		Mutations:     []Mutation{},
		Unchanged:     []Unchanged{},
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
	}
	scrub := newScrubber(secretStrings(inputs, secretInputs))
	secret := map[string]bool{}
	for _, n := range secretInputs {
		secret[n] = true
	}
	for k, v := range inputs {
		if secret[k] {
			p.Inputs[k] = Sensitive
			continue
		}
		nv, err := normalize(v)
		if err != nil {
			nv = fmt.Sprint(v)
		}
		p.Inputs[k] = scrub.value(nv)
	}
	if res != nil {
		for _, pm := range res.Mutations {
			if pm.Mutation == nil {
				continue // nothing would be sent
			}
			m := convert(pm.Step, pm.Item, pm.Index, pm.Key, pm.Mutation, destructive)
			p.Mutations = append(p.Mutations, scrub.mutation(m))
		}
		for _, s := range res.Steps {
			if s.Status == StatusUnchanged {
				p.Unchanged = append(p.Unchanged, Unchanged{Step: scrub.str(s.Step), Item: scrub.str(s.Item), Index: s.Index})
			}
		}
	}
	p.Summarize()
	p.Hash = p.ComputeHash()
	return p
}
