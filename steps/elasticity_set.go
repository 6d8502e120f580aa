package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

const (
	elasticityKind = "update_pool_elasticity_settings"
)

func (s *stepsImpl) elasticitySet() *engine.StepType {
	const name = "elasticity.set"
	return &engine.StepType{
		Name:        name,
		Description: "Sets the min, buffer and max servers of a pool (or of an account's pools of a kind or name); sends nothing when they already match.",
		Inputs:      inputsOf[elasticityParams](elasticityEndpoint),
		AnyOf:       [][]string{{"pool_id", "max_servers"}, {"account_id", "max_servers"}},
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
			return s.runElasticitySet(ctx, sc, name, in)
		},
	}
}

// desired holds the requested settings; nil fields stay as they are.
type desired struct {
	min, buffer *int
	max         int
}

// elasticityEndpoint is the catalog endpoint elasticity.set sends; its
// bounds are the one statement of the limits checked here.
const elasticityEndpoint = "pools.elasticity.set"

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

// params are the request's parameters: all three settings when the current
// ones were read (known: the merged values), else only those given.
func (d desired) params(poolID any, e frame.Elasticity, read bool) map[string]any {
	p := map[string]any{"pool_id": poolID, "max_servers": e.MaxServers}
	if read || d.min != nil {
		p["min_servers"] = e.MinServers
	}
	if read || d.buffer != nil {
		p["buffer_servers"] = e.BufferServers
	}
	return p
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

// elasticityRequest is an elasticity.set step's checked inputs.
type elasticityRequest struct {
	want      desired
	wait      bool
	accountID any // by account: its id (Unknown offline); nil by pool
	kind      string
	poolName  string
	poolID    any // by pool: its id
}

type elasticityParams struct {
	PoolID        any    `param:"pool_id,id" doc:"Pool ID (or give account_id with pool_kind or pool_name)."`
	AccountID     any    `param:"account_id,id" doc:"Frame account ID whose pools are matched by pool_kind or pool_name."`
	PoolKind      string `param:"pool_kind" doc:"With account_id: the kind of pools to set (default production); every matching pool is set."`
	PoolName      string `param:"pool_name" doc:"With account_id: the name of the pool to set (instead of pool_kind)."`
	MinServers    *int   `param:"min_servers" doc:"Minimum servers (0..max_servers); unchanged when omitted."`
	BufferServers *int   `param:"buffer_servers" doc:"Buffer servers (0..max_servers); unchanged when omitted."`
	MaxServers    int    `param:"max_servers,required" doc:"Maximum servers (at most {maximum})."`
	Wait          bool   `param:"wait,wait=elasticity"`
}

func elasticityRequestOf(in map[string]any) (elasticityRequest, error) {
	var p elasticityParams
	if err := decodeParams(in, elasticityEndpoint, &p); err != nil {
		return elasticityRequest{}, err
	}
	r := elasticityRequest{want: desired{min: p.MinServers, buffer: p.BufferServers, max: p.MaxServers},
		wait: p.Wait, kind: p.PoolKind, poolName: p.PoolName, poolID: p.PoolID, accountID: p.AccountID}
	byPool, byAccount := p.PoolID != nil, p.AccountID != nil
	switch {
	case byPool && byAccount:
		return r, errors.New("give pool_id or account_id (with pool_kind or pool_name), not both")
	case !byPool && !byAccount:
		return r, errors.New("pool_id or account_id is required")
	case byPool && (r.kind != "" || r.poolName != ""):
		return r, errors.New("pool_kind and pool_name select pools of account_id; with pool_id give neither")
	case r.kind != "" && r.poolName != "":
		return r, errors.New("give pool_kind or pool_name, not both")
	}
	if r.kind == "" && r.poolName == "" {
		r.kind = "production"
	}
	return r, nil
}

// targets lists the pools to set: the one given, or the account's pools of
// the kind or name (one Unknown pool when they cannot be read).
func (r elasticityRequest) targets(ctx context.Context, c *frame.Client, name string) ([]poolTarget, error) {
	if r.accountID == nil {
		return []poolTarget{{id: r.poolID}}, nil
	}
	id, known := r.accountID.(string)
	if c == nil || !known {
		return []poolTarget{{id: engine.Unknown, kind: r.kind, name: r.poolName}}, nil
	}
	pools, err := c.ListPools(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%s: listing the pools of account %s: %w", name, id, err)
	}
	var targets []poolTarget
	var names []string
	for _, p := range pools {
		names = append(names, fmt.Sprintf("%s (%s)", p.Name, p.Kind))
		if (r.poolName != "" && p.Name == r.poolName) || (r.poolName == "" && p.Kind == r.kind) {
			targets = append(targets, poolTarget{id: p.ID, name: p.Name, kind: p.Kind})
		}
	}
	if len(targets) == 0 {
		what := "of kind " + strconv.Quote(r.kind)
		if r.poolName != "" {
			what = "named " + strconv.Quote(r.poolName)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%s: account %s has no pool %s (its pools: %s)", name, id, what, strings.Join(names, ", "))
	}
	return targets, nil
}

func (s *stepsImpl) runElasticitySet(ctx context.Context, sc *engine.StepContext, name string, in map[string]any) (map[string]any, error) {
	r, err := elasticityRequestOf(in)
	if err != nil {
		return nil, invalid(name, err)
	}
	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	targets, err := r.targets(ctx, c, name)
	if err != nil {
		return nil, err
	}
	if sc.Mode() == engine.ModeRun {
		for _, t := range targets {
			if engine.IsUnknown(t.id) {
				return nil, invalidf(name, "pool_id is not known")
			}
		}
	}
	out := map[string]any{"task": nil, "tasks": []any{}, "before": engine.Unknown, "after": engine.Unknown}
	var pools []any
	changedCount := 0
	for i, t := range targets {
		pool, err := s.setPoolElasticity(ctx, sc, c, name, r, t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out["before"], out["after"] = pool["before"], pool["after"]
		}
		if pool["changed"] == true {
			changedCount++
			out["tasks"] = append(out["tasks"].([]any), pool["task"])
		}
		pools = append(pools, pool)
	}
	if changedCount == 0 {
		sc.SetUnchanged()
	} else {
		out["task"] = out["tasks"].([]any)[0]
	}
	out["pools"] = pools
	return out, nil
}

// setPoolElasticity reads one pool's settings (when it can), and sends the
// change when they differ. It returns the pool's entry of the "pools"
// output.
func (s *stepsImpl) setPoolElasticity(ctx context.Context, sc *engine.StepContext, c *frame.Client, name string, r elasticityRequest, t poolTarget) (map[string]any, error) {
	var before, after any = engine.Unknown, engine.Unknown
	change := &engine.Change{Before: engine.Unknown, After: r.want.String()}
	want, read := r.want.apply(frame.Elasticity{}), false
	changed := true
	if id, ok := t.id.(string); ok && c != nil {
		cur, err := c.GetPoolElasticity(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the elasticity of pool %s: %w", name, id, err)
		}
		want, read = r.want.apply(*cur), true
		before, after = elasticityMap(*cur), elasticityMap(want)
		// Maps, not "0/0/1" strings: a plan labels each setting.
		change = &engine.Change{Before: before, After: after}
		changed = *cur != want
	}
	pool := map[string]any{"pool_id": t.id, "name": t.name, "kind": t.kind,
		"before": before, "after": after, "changed": changed, "task": nil}
	if !changed {
		// One key per pool, changed or not, so that a retry or a resume
		// that finds an earlier pool done still names the later ones as
		// the journal recorded them.
		sc.SkipMutation()
		return pool, nil
	}
	req, err := plannedRequest("", elasticityEndpoint, r.want.params(t.id, want, read), frame.Overrides{})
	if err != nil {
		return nil, invalid(name, err)
	}
	m := mutationOf(name, req)
	m.Resources = poolResources(t.id, r.accountID)
	m.Change = change
	m.Action = engine.ActionUpdate
	m.Names = poolNames(t)
	m.Placeholder = map[string]any{"id": engine.Unknown, "pool_id": t.id, "kind": elasticityKind, "stage": engine.Unknown, "display_name": "Updating elasticity"}
	m.Send = s.sendTask(elasticityEndpoint, req)
	if sc.Mode() == engine.ModeRun && s.client != nil {
		// Setting elasticity is idempotent and readable: the pool showing
		// the desired values proves the change took effect; while its
		// update task may still be running (within the grace), the values
		// not showing yet prove nothing.
		poolID := t.id.(string)
		settleReconcile(m, func(ctx context.Context) (bool, error) {
			cur, err := s.client.GetPoolElasticity(ctx, poolID)
			if err != nil {
				return false, err
			}
			return *cur == want, nil
		}, map[string]any{"pool_id": t.id, "kind": elasticityKind, "stage": frame.StageDone, "display_name": "Updating elasticity"})
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if pool["task"], err = s.maybeWait(ctx, sc, r.wait, res, waitSpec{}); err != nil {
		return nil, err
	}
	return pool, nil
}

func elasticityMap(e frame.Elasticity) map[string]any {
	return map[string]any{"min_servers": e.MinServers, "buffer_servers": e.BufferServers, "max_servers": e.MaxServers}
}

// poolNames names the pool for a plan's reader.
func poolNames(t poolTarget) map[string]string {
	id, ok := t.id.(string)
	if !ok || t.name == "" {
		return nil
	}
	return map[string]string{id: t.name}
}
