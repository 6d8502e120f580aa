package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

func (s *stepsImpl) poolsList() *engine.StepType {
	const name = "pools.list"
	return &engine.StepType{
		Name:        name,
		Description: "Lists the pools of an account (GET /accounts/:account_id/pools), optionally only those of one kind.",
		Inputs: []engine.InputSpec{
			{Name: "account_id", Type: "string", Required: true, Description: "Frame account ID."},
			{Name: "kind", Type: "string", Description: "Keep only pools of this kind (sandbox, production, ...)."},
		},
		Outputs: map[string]*engine.Shape{
			"pools": doc(engine.ListShape(poolShape()), "the pools kept, in API order"),
			"count": doc(engine.IntShape(), "how many pools were kept"),
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			a := args(in)
			kind, err := a.str("kind")
			if err != nil {
				return nil, invalid(name, err)
			}
			acc, err := knownID(a, "account_id")
			if err != nil {
				return nil, invalid(name, err)
			}
			if _, err := resolvePath("/accounts/{account_id}/pools", map[string]any{"account_id": acc}); err != nil {
				return nil, invalid(name, err)
			}
			c, err := s.reader(sc)
			if err != nil {
				return nil, err
			}
			id, known := acc.(string)
			if c == nil || !known {
				return map[string]any{"pools": engine.Unknown, "count": engine.Unknown}, nil
			}
			pools, err := c.ListPools(ctx, id)
			if err != nil {
				return nil, err
			}
			kept := []any{}
			for _, p := range pools {
				if kind != "" && p.Kind != kind {
					continue
				}
				m, err := engine.RoundTrip(p)
				if err != nil {
					return nil, err
				}
				kept = append(kept, m)
			}
			return map[string]any{"pools": kept, "count": len(kept)}, nil
		},
	}
}
