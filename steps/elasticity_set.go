package steps

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

const (
	elasticityKind = "update_pool_elasticity_settings"
	maxServersCap  = 1000 // refuse typos like 10000 that would cost a fortune
)

func (s *stepsImpl) elasticitySet() *engine.StepType {
	const name = "elasticity.set"
	zero := 0.0
	return &engine.StepType{
		Name:        name,
		Description: "Sets the min, buffer and max servers of a pool (or of an account's pools of a kind or name); sends nothing when they already match.",
		Inputs: []engine.InputSpec{
			{Name: "pool_id", Type: "string", Description: "Pool ID (or give account_id with pool_kind or pool_name)."},
			{Name: "account_id", Type: "string", Description: "Frame account ID whose pools are matched by pool_kind or pool_name."},
			{Name: "pool_kind", Type: "string", Description: "With account_id: the kind of pools to set (default production); every matching pool is set."},
			{Name: "pool_name", Type: "string", Description: "With account_id: the name of the pool to set (instead of pool_kind)."},
			{Name: "min_servers", Type: "integer", Minimum: &zero, Description: "Minimum servers (0..max_servers); unchanged when omitted."},
			{Name: "buffer_servers", Type: "integer", Minimum: &zero, Description: "Buffer servers (0..max_servers); unchanged when omitted."},
			{Name: "max_servers", Type: "integer", Required: true, Minimum: &zero, Description: "Maximum servers (at most 1000)."},
			waitInput("elasticity"),
		},
		AnyOf: [][]string{{"pool_id", "max_servers"}, {"account_id", "max_servers"}},
		Outputs: map[string]*engine.Shape{
			"task":   doc(taskShape(), "the task of the first pool changed (null when nothing changed)"),
			"tasks":  doc(engine.ListShape(taskShape()), "one task per pool changed"),
			"before": doc(elasticityShape(), "the first pool's settings before"),
			"after":  doc(elasticityShape(), "the first pool's settings after"),
			"pools": doc(engine.ListShape(engine.ObjectShape(map[string]*engine.Shape{
				"pool_id": engine.StringShape(),
				"name":    engine.StringShape(),
				"kind":    engine.StringShape(),
				"before":  elasticityShape(),
				"after":   elasticityShape(),
				"changed": engine.BoolShape(),
				"task":    taskShape(),
			})), "every pool matched, with its settings before and after"),
		},
		Mutates: true,
		Resources: func(in map[string]any) []string {
			var out []string
			if p, ok := in["pool_id"].(string); ok && p != "" {
				out = append(out, "pool:"+p)
			}
			return append(out, accountResources("account_id")(in)...)
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			return s.runElasticitySet(ctx, sc, name, args(in))
		},
	}
}

// desired holds the requested settings; nil fields stay as they are.
type desired struct {
	min, buffer *int
	max         int
}

func elasticityInputs(a args) (desired, error) {
	var d desired
	get := func(n string) (*int, error) {
		v, ok, err := a.integer(n)
		if err != nil || !ok {
			return nil, err
		}
		if v < 0 {
			return nil, fmt.Errorf("%s must not be negative, got %d", n, v)
		}
		return &v, nil
	}
	var err error
	if d.min, err = get("min_servers"); err != nil {
		return d, err
	}
	if d.buffer, err = get("buffer_servers"); err != nil {
		return d, err
	}
	mx, err := get("max_servers")
	if err != nil {
		return d, err
	}
	if mx == nil {
		return d, errors.New("max_servers is required")
	}
	d.max = *mx
	switch {
	case d.max > maxServersCap:
		return d, fmt.Errorf("max_servers %d is more than %d", d.max, maxServersCap)
	case d.min != nil && *d.min > d.max:
		return d, fmt.Errorf("min_servers %d is more than max_servers %d", *d.min, d.max)
	case d.buffer != nil && *d.buffer > d.max:
		return d, fmt.Errorf("buffer_servers %d is more than max_servers %d", *d.buffer, d.max)
	}
	return d, nil
}

// apply merges d over the current settings.
func (d desired) apply(cur frame.Elasticity) frame.Elasticity {
	out := cur
	out.MaxServers = d.max
	if d.min != nil {
		out.MinServers = *d.min
	}
	if d.buffer != nil {
		out.BufferServers = *d.buffer
	}
	return out
}

// form is the request body as form values.
func (d desired) form(e frame.Elasticity) map[string]string {
	f := map[string]string{"max_servers": strconv.Itoa(e.MaxServers)}
	if d.min != nil {
		f["min_servers"] = strconv.Itoa(e.MinServers)
	}
	if d.buffer != nil {
		f["buffer_servers"] = strconv.Itoa(e.BufferServers)
	}
	return f
}

// String renders the desired settings with "?" for what a plan could not
// read.
func (d desired) String() string {
	f := func(p *int) string {
		if p == nil {
			return "?"
		}
		return strconv.Itoa(*p)
	}
	return fmt.Sprintf("%s/%s/%d", f(d.min), f(d.buffer), d.max)
}

type poolTarget struct {
	id         any // string, or Unknown offline
	name, kind string
}

func (s *stepsImpl) runElasticitySet(ctx context.Context, sc *engine.StepContext, name string, a args) (map[string]any, error) {
	d, err := elasticityInputs(a)
	if err != nil {
		return nil, invalid(name, err)
	}
	wait, err := a.boolean("wait", false)
	if err != nil {
		return nil, invalid(name, err)
	}
	kind, err := a.str("pool_kind")
	if err != nil {
		return nil, invalid(name, err)
	}
	poolName, err := a.str("pool_name")
	if err != nil {
		return nil, invalid(name, err)
	}
	byPool, byAccount := a.has("pool_id"), a.has("account_id")
	switch {
	case byPool && byAccount:
		return nil, invalidf(name, "give pool_id or account_id (with pool_kind or pool_name), not both")
	case !byPool && !byAccount:
		return nil, invalidf(name, "pool_id or account_id is required")
	case byPool && (kind != "" || poolName != ""):
		return nil, invalidf(name, "pool_kind and pool_name select pools of account_id; with pool_id give neither")
	case kind != "" && poolName != "":
		return nil, invalidf(name, "give pool_kind or pool_name, not both")
	}
	if kind == "" && poolName == "" {
		kind = "production"
	}
	var acc any
	var targets []poolTarget
	if byPool {
		id, err := knownID(a, "pool_id")
		if err != nil {
			return nil, invalid(name, err)
		}
		if _, err := resolvePath("/pools/{pool_id}/elasticity_settings", map[string]any{"pool_id": id}); err != nil {
			return nil, invalid(name, err)
		}
		targets = []poolTarget{{id: id}}
	} else if acc, err = knownID(a, "account_id"); err != nil {
		return nil, invalid(name, err)
	} else if _, err := resolvePath("/accounts/{account_id}/pools", map[string]any{"account_id": acc}); err != nil {
		return nil, invalid(name, err)
	}

	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	if !byPool {
		id, known := acc.(string)
		if c == nil || !known {
			targets = []poolTarget{{id: engine.Unknown, kind: kind, name: poolName}}
		} else {
			pools, err := c.ListPools(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%s: listing the pools of account %s: %w", name, id, err)
			}
			var names []string
			for _, p := range pools {
				names = append(names, fmt.Sprintf("%s (%s)", p.Name, p.Kind))
				if (poolName != "" && p.Name == poolName) || (poolName == "" && p.Kind == kind) {
					targets = append(targets, poolTarget{id: p.ID, name: p.Name, kind: p.Kind})
				}
			}
			if len(targets) == 0 {
				what := "of kind " + strconv.Quote(kind)
				if poolName != "" {
					what = "named " + strconv.Quote(poolName)
				}
				sort.Strings(names)
				return nil, fmt.Errorf("%s: account %s has no pool %s (its pools: %s)", name, id, what, strings.Join(names, ", "))
			}
		}
	}
	if sc.Mode() == engine.ModeRun {
		for _, t := range targets {
			if engine.IsUnknown(t.id) {
				return nil, invalidf(name, "pool_id is not known")
			}
		}
	}

	var (
		tasks        []any
		poolOut      []any
		firstBefore  any = engine.Unknown
		firstAfter   any = engine.Unknown
		changedCount int
	)
	for i, t := range targets {
		path, err := resolvePath("/pools/{pool_id}/elasticity_settings", map[string]any{"pool_id": t.id})
		if err != nil {
			return nil, invalid(name, err)
		}
		var before, after any = engine.Unknown, engine.Unknown
		change := &engine.Change{Before: engine.Unknown, After: d.String()}
		body := d.form(d.apply(frame.Elasticity{}))
		var want frame.Elasticity
		changed := true
		if id, ok := t.id.(string); ok && c != nil {
			cur, err := c.GetPoolElasticity(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%s: reading the elasticity of pool %s: %w", name, id, err)
			}
			want = d.apply(*cur)
			before, after = elasticityMap(*cur), elasticityMap(want)
			// Maps, not "0/0/1" strings: a plan labels each setting.
			change = &engine.Change{Before: before, After: after}
			body = d.form(want)
			changed = *cur != want
		}
		var task any
		if changed {
			changedCount++
			poolID := t.id
			m := &engine.Mutation{
				Type:        name,
				Method:      "POST",
				Path:        path,
				Body:        formValues(body), // sent as a form (SetPoolElasticity): the plan says so
				Resources:   poolResources(poolID, acc),
				Change:      change,
				Action:      engine.ActionUpdate,
				Names:       poolNames(t),
				Placeholder: map[string]any{"id": engine.Unknown, "pool_id": poolID, "kind": elasticityKind, "stage": engine.Unknown, "display_name": "Updating elasticity"},
				Send: func(ctx context.Context) (any, error) {
					if s.client == nil {
						return nil, errors.New("no Frame API client configured")
					}
					return s.client.SetPoolElasticity(ctx, poolID.(string), want)
				},
			}
			if sc.Mode() == engine.ModeRun && s.client != nil {
				// Setting elasticity is idempotent and readable: the pool
				// showing the desired values proves the change took effect;
				// while its update task may still be running (within the
				// grace), the values not showing yet prove nothing.
				settleReconcile(m, func(ctx context.Context) (bool, error) {
					cur, err := s.client.GetPoolElasticity(ctx, poolID.(string))
					if err != nil {
						return false, err
					}
					return *cur == want, nil
				}, map[string]any{"pool_id": poolID, "kind": elasticityKind, "stage": frame.StageDone, "display_name": "Updating elasticity"})
			}
			res, err := sc.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			if task, err = s.maybeWait(ctx, sc, wait, res, waitSpec{}); err != nil {
				return nil, err
			}
			tasks = append(tasks, task)
		} else {
			// One key per pool, changed or not, so that a retry or a resume
			// that finds an earlier pool done still names the later ones
			// as the journal recorded them.
			sc.SkipMutation()
		}
		if i == 0 {
			firstBefore, firstAfter = before, after
		}
		poolOut = append(poolOut, map[string]any{
			"pool_id": t.id, "name": t.name, "kind": t.kind,
			"before": before, "after": after, "changed": changed, "task": task,
		})
	}
	if changedCount == 0 {
		sc.SetUnchanged()
	}
	var first any
	if len(tasks) > 0 {
		first = tasks[0]
	}
	if tasks == nil {
		tasks = []any{}
	}
	return map[string]any{"task": first, "tasks": tasks, "before": firstBefore, "after": firstAfter, "pools": poolOut}, nil
}

func elasticityMap(e frame.Elasticity) map[string]any {
	return map[string]any{"min_servers": e.MinServers, "buffer_servers": e.BufferServers, "max_servers": e.MaxServers}
}

func poolResources(pool, account any) []string {
	var out []string
	if p, ok := pool.(string); ok {
		out = append(out, "pool:"+p)
	}
	if a, ok := account.(string); ok {
		out = append(out, "account:"+a)
	}
	return out
}

// poolNames names the pool for a plan's reader.
func poolNames(t poolTarget) map[string]string {
	id, ok := t.id.(string)
	if !ok || t.name == "" {
		return nil
	}
	return map[string]string{id: t.name}
}

// formValues is a form body as the plan and the journal record it.
func formValues(m map[string]string) url.Values {
	v := make(url.Values, len(m))
	for k, s := range m {
		v.Set(k, s)
	}
	return v
}
