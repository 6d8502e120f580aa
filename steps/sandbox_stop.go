package steps

import (
	"context"
	"errors"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

type sandboxStopParams struct {
	AccountID any `param:"account_id,id,required" doc:"Frame account ID whose Sandbox is stopped."`
}

func (s *stepsImpl) sandboxStop() *engine.StepType {
	const name = "sandbox.stop"
	return &engine.StepType{
		Name:        name,
		Description: "Stops (powers off) the account's Sandbox server; users in a Sandbox session are disconnected.",
		Inputs:      inputsOf[sandboxStopParams](""),
		Outputs: map[string]*engine.Shape{
			"account_id": doc(engine.StringShape(), "the account whose Sandbox was stopped (the API answers 202 with no task)"),
		},
		Mutates:   true,
		Resources: accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p sandboxStopParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			if _, err := s.sandboxPower(ctx, sc, name, "sandbox.stop", p.AccountID, false, false); err != nil {
				return nil, err
			}
			return map[string]any{"account_id": in["account_id"]}, nil
		},
	}
}

// sandboxPower starts or stops a Sandbox. Reconcile reads the Sandbox
// status: running servers after a start (none after a stop) prove the
// request took effect; otherwise it is safe to send again, both being
// idempotent.
func (s *stepsImpl) sandboxPower(ctx context.Context, sc *engine.StepContext, name, endpoint string, acc any, wait, start bool) (map[string]any, error) {
	req, err := plannedRequest("", endpoint, map[string]any{"account_id": acc}, frame.Overrides{})
	if err != nil {
		return nil, invalid(name, err)
	}
	if sc.Mode() == engine.ModeRun && engine.IsUnknown(acc) {
		return nil, invalidf(name, "account_id is not known")
	}
	var placeholder any = map[string]any{}
	send := s.sendTask(endpoint, req)
	if start {
		placeholder = taskPlaceholder(acc, "power_on", "Powering on")
	} else {
		send = func(ctx context.Context) (any, error) {
			if s.client == nil {
				return nil, errors.New("no Frame API client configured")
			}
			_, err := s.client.Do(ctx, req, nil) // 202 with {}
			return map[string]any{}, err
		}
	}
	m := mutationOf(name, req)
	m.Resources = accountResources("account_id")(map[string]any{"account_id": acc})
	m.Placeholder = placeholder
	m.Send = send
	m.Reconcile = func(ctx context.Context) (any, bool, error) {
		st, err := s.client.SandboxStatus(ctx, acc.(string))
		if err != nil {
			return nil, false, err
		}
		if (st.RunningServers > 0) != start {
			return nil, false, nil
		}
		if !start {
			return map[string]any{}, true, nil
		}
		return map[string]any{"account_id": acc, "kind": "power_on", "stage": frame.StageDone}, true, nil
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if !start {
		return nil, nil
	}
	task, err := s.maybeWait(ctx, sc, wait, res, waitSpec{})
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": task}, nil
}
