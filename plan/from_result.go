package plan

import (
	"fmt"
	"strings"
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
		Content: Content{
			FormatVersion: FormatVersion,
			Workflow:      wf,
			Inputs:        map[string]any{},
			Offline:       offline,
			Mutations:     []Mutation{},
			Unchanged:     []Unchanged{},
		},
		CreatedAt: time.Now().UTC().Truncate(time.Second),
	}
	scrub := newScrubber(secretStrings(inputs, secretInputs))
	names := map[string]string{}
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
			for id, name := range pm.Mutation.Names {
				addName(names, id, name)
			}
		}
		for _, s := range res.Steps {
			for _, v := range s.Outputs {
				harvestNames(v, names, 0)
			}
		}
		p.Names = usedNames(names, p.Mutations, scrub)
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

// harvestNames collects id → name from objects the plan read (step
// outputs: accounts, pools), so that renderings can name what an id is.
// Depth is bounded: outputs are small trees, never cycles, but a bound costs
// nothing.
func harvestNames(v any, into map[string]string, depth int) {
	if depth > 8 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		id, _ := x["id"].(string)
		if id == "" {
			id, _ = x["pool_id"].(string)
		}
		name, _ := x["name"].(string)
		if name == "" {
			name, _ = x["display_name"].(string)
		}
		if id != "" && name != "" {
			addName(into, id, name)
		}
		for _, e := range x {
			harvestNames(e, into, depth+1)
		}
	case []any:
		for _, e := range x {
			harvestNames(e, into, depth+1)
		}
	case []map[string]any:
		for _, e := range x {
			harvestNames(e, into, depth+1)
		}
	}
}

// addName keeps the first name seen for an id, and skips the plan's markers.
func addName(into map[string]string, id, name string) {
	if id == KnownAfterApply || name == KnownAfterApply || id == "" || name == "" {
		return
	}
	if _, ok := into[id]; !ok {
		into[id] = name
	}
}

// usedNames keeps the names of ids that appear in the mutations (paths,
// resources, details): the plan file carries what its reader needs, not
// every account of the organisation. Nil when none.
func usedNames(all map[string]string, muts []Mutation, scrub *scrubber) map[string]string {
	out := map[string]string{}
	use := func(id string) {
		if n, ok := all[id]; ok {
			out[scrub.str(id)] = scrub.str(n)
		}
	}
	for i := range muts {
		m := &muts[i]
		for _, seg := range strings.Split(m.Path, "/") {
			use(seg)
		}
		for _, r := range m.Resources {
			_, id, _ := strings.Cut(r, ":")
			use(id)
		}
		for _, d := range m.Details {
			use(d.Value)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
