package steps

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

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
	zero := 0.0
	return &engine.StepType{
		Name:        name,
		Description: "Sets the Persistent Desktop capacity of a persistent account (max users, backups kept, keep unassigned desktops running); sends nothing when it already matches.",
		Inputs: []engine.InputSpec{
			{Name: "account_id", Type: "string", Required: true, Description: "Frame account ID (must be a persistent desktop account)."},
			{Name: "max_users", Type: "integer", Required: true, Minimum: &zero, Description: "Most persistent desktops to provision; lowering it below the assigned desktops leaves none for new users."},
			{Name: "keep_instances_running_for_new_users", Type: "boolean", Required: true, Description: "Keep unassigned desktops running until a new user connects."},
			{Name: "number_of_backups_to_save", Type: "integer", Minimum: &zero, Description: "Backups kept per desktop; unchanged when omitted."},
			waitInput("capacity"),
		},
		Outputs: map[string]*engine.Shape{
			"task":   doc(taskShape(), "the task (null when nothing changed)"),
			"before": capacityShape(),
			"after":  capacityShape(),
		},
		Mutates:   true,
		Resources: accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			a := args(in)
			wait, err := a.boolean("wait", false)
			if err != nil {
				return nil, invalid(name, err)
			}
			maxUsers, ok, err := a.integer("max_users")
			switch {
			case err != nil:
				return nil, invalid(name, err)
			case !ok:
				return nil, invalidf(name, "max_users is required")
			case maxUsers < 0:
				return nil, invalidf(name, "max_users must not be negative, got %d", maxUsers)
			}
			if !a.has("keep_instances_running_for_new_users") {
				return nil, invalidf(name, "keep_instances_running_for_new_users is required")
			}
			keep, err := a.boolean("keep_instances_running_for_new_users", false)
			if err != nil {
				return nil, invalid(name, err)
			}
			backups, hasBackups, err := a.integer("number_of_backups_to_save")
			if err != nil {
				return nil, invalid(name, err)
			}
			if backups < 0 {
				return nil, invalidf(name, "number_of_backups_to_save must not be negative, got %d", backups)
			}
			acc, err := knownID(a, "account_id")
			if err != nil {
				return nil, invalid(name, err)
			}
			path, err := resolvePath("/accounts/{account_id}/persistent_desktop_elasticity_settings", map[string]any{"account_id": acc})
			if err != nil {
				return nil, invalid(name, err)
			}
			c, err := s.reader(sc)
			if err != nil {
				return nil, err
			}
			want := pdCapacity{KeepRunning: keep, MaxUsers: maxUsers, Backups: backups}
			form := url.Values{"max_users": {strconv.Itoa(maxUsers)}, "keep_instances_running_for_new_users": {strconv.FormatBool(keep)}}
			if hasBackups {
				form.Set("number_of_backups_to_save", strconv.Itoa(backups))
			}
			var before, after any = engine.Unknown, engine.Unknown
			change := &engine.Change{Before: engine.Unknown, After: want.String()}
			if id, ok := acc.(string); ok && c != nil {
				var cur pdCapacity
				if _, err := c.Do(ctx, &frame.Request{Method: "GET", Path: path}, &cur); err != nil {
					return nil, fmt.Errorf("%s: reading the current capacity: %w", name, err)
				}
				if !hasBackups {
					want.Backups = cur.Backups
				}
				before, after = cur.output(), want.output()
				if cur == want {
					sc.SetUnchanged()
					return map[string]any{"task": nil, "before": before, "after": after}, nil
				}
				// Objects, so that a plan labels each setting.
				change = &engine.Change{Before: before, After: after}
				_ = id
			} else if sc.Mode() == engine.ModeRun {
				return nil, invalidf(name, "account_id is not known")
			}
			m := &engine.Mutation{
				Type:        name,
				Method:      "POST",
				Path:        path,
				Body:        form, // sent as a form: the plan says so
				Resources:   accountResources("account_id")(in),
				Change:      change,
				Action:      engine.ActionUpdate,
				Placeholder: taskPlaceholder(acc, capacityKind, "Updating capacity for persistent desktop"),
				Send: func(ctx context.Context) (any, error) {
					if s.client == nil {
						return nil, errors.New("no Frame API client configured")
					}
					p := frame.PersistentDesktopCapacity{MaxUsers: want.MaxUsers, KeepInstancesRunningForNewUsers: want.KeepRunning}
					if hasBackups {
						p.NumberOfBackupsToSave = &backups
					}
					return s.client.SetPersistentDesktopCapacity(ctx, acc.(string), p)
				},
			}
			if sc.Mode() == engine.ModeRun && s.client != nil {
				// Idempotent and readable, as elasticity.set.
				settleReconcile(m, func(ctx context.Context) (bool, error) {
					var cur pdCapacity
					if _, err := s.client.Do(ctx, &frame.Request{Method: "GET", Path: path}, &cur); err != nil {
						return false, err
					}
					return cur == want, nil
				}, map[string]any{"account_id": acc, "kind": capacityKind, "stage": frame.StageDone})
			}
			res, err := sc.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			task, err := s.maybeWait(ctx, sc, wait, res, waitSpec{})
			if err != nil {
				return nil, err
			}
			return map[string]any{"task": task, "before": before, "after": after}, nil
		},
	}
}
