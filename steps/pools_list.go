package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

type poolsListParams struct {
	AccountID any    `param:"account_id,id,required" doc:"Frame account ID."`
	Kind      string `param:"kind" doc:"Keep only pools of this kind (sandbox, production, ...)."`
}

func (s *stepsImpl) poolsList() *engine.StepType {
	const name = "pools.list"
	outputs := map[string]*engine.Shape{
		"pools": doc(engine.ListShape(poolShape()), "the pools kept, in API order"),
		"count": doc(engine.IntShape(), "how many pools were kept"),
	}
	return &engine.StepType{
		Name:        name,
		Description: "Lists the pools of an account (GET /accounts/:account_id/pools), optionally only those of one kind.",
		Inputs:      inputsOf[poolsListParams](""),
		Outputs:     outputs,
		Run: readStep(s, name, outputs, func(p *poolsListParams) any { return p.AccountID },
			func(ctx context.Context, c *frame.Client, id string, p *poolsListParams) (map[string]any, error) {
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
			}),
	}
}
