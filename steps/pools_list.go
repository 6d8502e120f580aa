package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

type poolsListParams struct {
	AccountID any    `param:"account_id,id,required" doc:"Frame account ID."`
	Kind      string `param:"kind" doc:"Keep only pools of this kind (sandbox, production, ...)."`
}

func (s *stepsImpl) poolsList() *engine.StepType {
	const name = "pools.list"
	return &engine.StepType{
		Name:        name,
		Description: "Lists the pools of an account (GET /accounts/:account_id/pools), optionally only those of one kind.",
		Inputs:      inputsOf[poolsListParams](""),
		Outputs: map[string]*engine.Shape{
			"pools": doc(engine.ListShape(poolShape()), "the pools kept, in API order"),
			"count": doc(engine.IntShape(), "how many pools were kept"),
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p poolsListParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			c, id, ok, err := s.readTarget(sc, p.AccountID)
			if err != nil {
				return nil, err
			}
			if !ok {
				return map[string]any{"pools": engine.Unknown, "count": engine.Unknown}, nil
			}
			pools, err := c.ListPools(ctx, id)
			if err != nil {
				return nil, err
			}
			kept := []any{}
			for _, pool := range pools {
				if p.Kind != "" && pool.Kind != p.Kind {
					continue
				}
				m, err := engine.RoundTrip(pool)
				if err != nil {
					return nil, err
				}
				kept = append(kept, m)
			}
			return map[string]any{"pools": kept, "count": len(kept)}, nil
		},
	}
}
