package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

type sandboxStartParams struct {
	AccountID any  `param:"account_id,id,required" doc:"Frame account ID whose Sandbox is started."`
	Wait      bool `param:"wait,wait=power-on"`
}

func (s *stepsImpl) sandboxStart() *engine.StepType {
	const name = "sandbox.start"
	return &engine.StepType{
		Name:        name,
		Description: "Starts (powers on) the account's Sandbox server.",
		Inputs:      inputsOf[sandboxStartParams](""),
		Outputs:     map[string]*engine.Shape{"task": taskShape()},
		Mutates:     true,
		Resources:   accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p sandboxStartParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			return s.sandboxPower(ctx, sc, name, "sandbox.start", p.AccountID, p.Wait, true)
		},
	}
}
