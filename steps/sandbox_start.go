package steps

import (
	"context"

	"github.com/frameflow/frameflow/engine"
)

func (s *stepsImpl) sandboxStart() *engine.StepType {
	const name = "sandbox.start"
	return &engine.StepType{
		Name:        name,
		Description: "Starts (powers on) the account's Sandbox server.",
		Inputs: []engine.InputSpec{
			{Name: "account_id", Type: "string", Required: true, Description: "Frame account ID whose Sandbox is started."},
			waitInput("power-on"),
		},
		Outputs:   map[string]*engine.Shape{"task": taskShape()},
		Mutates:   true,
		Resources: accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			return s.sandboxPower(ctx, sc, name, "sandbox.start", args(in), true)
		},
	}
}
