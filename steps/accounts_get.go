package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

type accountsGetParams struct {
	AccountID any `param:"account_id,id,required" doc:"Frame account ID."`
}

func (s *stepsImpl) accountsGet() *engine.StepType {
	const name = "accounts.get"
	return &engine.StepType{
		Name:        name,
		Description: "Reads one Frame account (GET /accounts/:account_id).",
		Inputs:      inputsOf[accountsGetParams](""),
		Outputs:     map[string]*engine.Shape{"account": accountShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p accountsGetParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			c, id, ok, err := s.readTarget(sc, p.AccountID)
			if err != nil {
				return nil, err
			}
			if !ok {
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
