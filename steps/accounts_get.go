package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

type accountsGetParams struct {
	AccountID any `param:"account_id,id,required" doc:"Frame account ID."`
}

func (s *stepsImpl) accountsGet() *engine.StepType {
	const name = "accounts.get"
	outputs := map[string]*engine.Shape{"account": accountShape()}
	return &engine.StepType{
		Name:        name,
		Description: "Reads one Frame account (GET /accounts/:account_id).",
		Inputs:      inputsOf[accountsGetParams](""),
		Outputs:     outputs,
		Run: readStep(s, name, outputs, func(p *accountsGetParams) any { return p.AccountID },
			func(ctx context.Context, c *frame.Client, id string, _ *accountsGetParams) (map[string]any, error) {
				got, err := c.GetAccount(ctx, id)
				if err != nil {
					return nil, err
				}
				out, err := engine.RoundTrip(got)
				if err != nil {
					return nil, err
				}
				return map[string]any{"account": out}, nil
			}),
	}
}
