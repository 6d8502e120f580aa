package steps

import (
	"context"
	"fmt"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

type accountsListParams struct {
	Filter         string "param:\"filter,predicate=account\" doc:\"An expression over `account` (its fields: id, name, active, last_publish, ...) that keeps the accounts for which it is true, e.g. account.active && account.name startsWith \\\"Store-\\\".\""
	Name           string `param:"name" doc:"Name or portion of name to filter by (query parameter, matched by Frame)."`
	OrganizationID string `param:"organization_id" doc:"Frame organization ID to filter by (query parameter)."`
}

func (s *stepsImpl) accountsList() *engine.StepType {
	const name = "accounts.list"
	return &engine.StepType{
		Name:        name,
		Description: "Lists Frame accounts (GET /accounts), optionally filtered by name, organization and an expression over each account.",
		Inputs:      inputsOf[accountsListParams](""),
		Outputs: map[string]*engine.Shape{
			"accounts": doc(engine.ListShape(accountShape()), "the accounts kept, in API order"),
			"count":    doc(engine.IntShape(), "how many accounts were kept"),
		},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p accountsListParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			pred, err := predicateOf(sc, args(in), "filter")
			if err != nil {
				return nil, invalid(name, err)
			}
			c, err := s.reader(sc)
			if err != nil {
				return nil, err
			}
			if c == nil {
				return map[string]any{"accounts": engine.Unknown, "count": engine.Unknown}, nil
			}
			list, err := c.ListAccounts(ctx, p.Name, p.OrganizationID)
			if err != nil {
				return nil, err
			}
			kept, err := keepAccounts(name, list, pred)
			if err != nil {
				return nil, err
			}
			return map[string]any{"accounts": kept, "count": len(kept)}, nil
		},
	}
}

// keepAccounts returns the accounts for which pred is true (all when nil),
// as step outputs.
func keepAccounts(step string, list []frame.Account, pred engine.Predicate) ([]any, error) {
	kept := []any{}
	for i := range list {
		acc, err := engine.RoundTrip(list[i])
		if err != nil {
			return nil, err
		}
		if pred != nil {
			ok, err := pred(acc)
			if err != nil {
				return nil, fmt.Errorf("%s: filter on account %s (%s): %w", step, list[i].ID, list[i].Name, err)
			}
			if !ok {
				continue
			}
		}
		kept = append(kept, acc)
	}
	return kept, nil
}

// predicateOf returns the compiled predicate of input name, nil when the
// input was not given.
func predicateOf(sc *engine.StepContext, a args, name string) (engine.Predicate, error) {
	p, err := sc.Predicate(name)
	if err == nil && p != nil {
		return p, nil
	}
	if a.has(name) {
		if err == nil {
			err = fmt.Errorf("input %s has no compiled predicate", name)
		}
		return nil, err
	}
	return nil, nil
}
