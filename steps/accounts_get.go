package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

func (s *stepsImpl) accountsGet() *engine.StepType {
	const name = "accounts.get"
	return &engine.StepType{
		Name:        name,
		Description: "Reads one Frame account (GET /accounts/:account_id).",
		Inputs: []engine.InputSpec{
			{Name: "account_id", Type: "string", Required: true, Description: "Frame account ID."},
		},
		Outputs: map[string]*engine.Shape{"account": accountShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			a := args(in)
			acc, err := knownID(a, "account_id")
			if err != nil {
				return nil, invalid(name, err)
			}
			if _, err := resolvePath("/accounts/{account_id}", map[string]any{"account_id": acc}); err != nil {
				return nil, invalid(name, err)
			}
			c, err := s.reader(sc)
			if err != nil {
				return nil, err
			}
			id, known := acc.(string)
			if c == nil || !known {
				return map[string]any{"account": engine.Unknown}, nil
			}
			got, err := c.GetAccount(ctx, id)
			if err != nil {
				return nil, err
			}
			out, err := engine.RoundTrip(got)
			if err != nil {
				return nil, err
			}
			return map[string]any{"account": out}, nil
		},
	}
}
