package steps

import (
	"context"
	"fmt"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

const capacityKind = "update_persistent_desktop_settings"

// pdCapacity is GET /accounts/:id/persistent_desktop_elasticity_settings.
type pdCapacity struct {
	KeepRunning bool `json:"keep_instances_running_for_new_users"`
	MaxUsers    int  `json:"max_users"`
	Backups     int  `json:"number_of_backups_to_save"`
}

func (p pdCapacity) String() string {
	return fmt.Sprintf("max_users=%d backups=%d keep_running=%t", p.MaxUsers, p.Backups, p.KeepRunning)
}

func (p pdCapacity) output() map[string]any {
	return map[string]any{"max_users": p.MaxUsers, "number_of_backups_to_save": p.Backups, "keep_instances_running_for_new_users": p.KeepRunning}
}

func (s *stepsImpl) persistentDesktopCapacitySet() *engine.StepType {
	const name = "persistent_desktop.capacity.set"
	return &engine.StepType{
		Name:        name,
		Description: "Sets the Persistent Desktop capacity of a persistent account (max users, backups kept, keep unassigned desktops running); sends nothing when it already matches.",
		Inputs:      inputsOf[capacityParams](capacityEndpoint),
		Outputs: map[string]*engine.Shape{
			"task":   doc(taskShape(), "the task (null when nothing changed)"),
			"before": capacityShape(),
			"after":  capacityShape(),
		},
		Mutates:   true,
		Resources: accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			r, err := capacityRequestOf(in)
			if err != nil {
				return nil, invalid(name, err)
			}
			return s.setCapacity(ctx, sc, name, r)
		},
	}
}

// capacityEndpoint is the catalog endpoint persistent_desktop.capacity.set
// sends; its bounds are the one statement of the limits checked here.
const capacityEndpoint = "persistent_desktop.capacity.set"

type capacityParams struct {
	AccountID   any  `param:"account_id,id,required" doc:"Frame account ID (must be a persistent desktop account)."`
	MaxUsers    int  `param:"max_users,required" doc:"Most persistent desktops to provision; lowering it below the assigned desktops leaves none for new users."`
	KeepRunning bool `param:"keep_instances_running_for_new_users,required" doc:"Keep unassigned desktops running until a new user connects."`
	Backups     *int `param:"number_of_backups_to_save" doc:"Backups kept per desktop; unchanged when omitted."`
	Wait        bool `param:"wait,wait=capacity"`
}

// capacityRequest is a persistent_desktop.capacity.set step's checked
// inputs.
type capacityRequest struct {
	accountID  any // Unknown in plans where it is not known yet
	want       pdCapacity
	hasBackups bool // number_of_backups_to_save given (else unchanged)
	wait       bool
}

func capacityRequestOf(in map[string]any) (capacityRequest, error) {
	var p capacityParams
	if err := decodeParams(in, capacityEndpoint, &p); err != nil {
		return capacityRequest{}, err
	}
	r := capacityRequest{accountID: p.AccountID, wait: p.Wait, hasBackups: p.Backups != nil,
		want: pdCapacity{KeepRunning: p.KeepRunning, MaxUsers: p.MaxUsers}}
	if p.Backups != nil {
		r.want.Backups = *p.Backups
	}
	return r, nil
}

// params are the request's parameters; backups only when given.
func (r capacityRequest) params(accountID any) map[string]any {
	p := map[string]any{"max_users": r.want.MaxUsers, "keep_instances_running_for_new_users": r.want.KeepRunning}
	if accountID != nil {
		p["account_id"] = accountID
	}
	if r.hasBackups {
		p["number_of_backups_to_save"] = r.want.Backups
	}
	return p
}

// readCapacity reads an account's current capacity.
func readCapacity(ctx context.Context, c *frame.Client, accountID string) (pdCapacity, error) {
	var cur pdCapacity
	req, err := frame.BuildRequest("persistent_desktop.capacity.get", map[string]any{"account_id": accountID})
	if err == nil {
		_, err = c.Do(ctx, req, &cur)
	}
	return cur, err
}

func (s *stepsImpl) setCapacity(ctx context.Context, sc *engine.StepContext, name string, r capacityRequest) (map[string]any, error) {
	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	want := r.want
	var before, after any = engine.Unknown, engine.Unknown
	change := &engine.Change{Before: engine.Unknown, After: want.String()}
	if id, ok := r.accountID.(string); ok && c != nil {
		cur, err := readCapacity(ctx, c, id)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the current capacity: %w", name, err)
		}
		if !r.hasBackups {
			want.Backups = cur.Backups
		}
		before, after = cur.output(), want.output()
		if cur == want {
			sc.SetUnchanged()
			return map[string]any{"task": nil, "before": before, "after": after}, nil
		}
		// Objects, so that a plan labels each setting.
		change = &engine.Change{Before: before, After: after}
	} else if sc.Mode() == engine.ModeRun {
		return nil, invalidf(name, "account_id is not known")
	}
	req, err := plannedRequest("", capacityEndpoint, r.params(r.accountID), frame.Overrides{})
	if err != nil {
		return nil, invalid(name, err)
	}
	m := mutationOf(name, req)
	m.Resources = accountResources("account_id")(map[string]any{"account_id": r.accountID})
	m.Change = change
	m.Action = engine.ActionUpdate
	m.Placeholder = taskPlaceholder(r.accountID, capacityKind, "Updating capacity for persistent desktop")
	m.Send = s.sendTask(capacityEndpoint, req)
	if sc.Mode() == engine.ModeRun && s.client != nil {
		// Idempotent and readable, as elasticity.set.
		id := r.accountID.(string)
		settleReconcile(m, func(ctx context.Context) (bool, error) {
			cur, err := readCapacity(ctx, s.client, id)
			if err != nil {
				return false, err
			}
			return cur == want, nil
		}, map[string]any{"account_id": r.accountID, "kind": capacityKind, "stage": frame.StageDone})
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	task, err := s.maybeWait(ctx, sc, r.wait, res, waitSpec{})
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": task, "before": before, "after": after}, nil
}
